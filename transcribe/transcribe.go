// Package transcribe owns speech-to-text at the site: the Transcriber
// interface, its backends ("none", the default, and "openai" for any
// OpenAI-compatible /v1/audio/transcriptions server), the per-channel audio
// preparation (stereo split, 8 kHz to 16 kHz resampling), redaction of card
// numbers and SSNs before a transcript leaves the site, and the Runner that
// lets a call record ship at once and its transcript follow as an update.
package transcribe

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	reboundv1 "github.com/reboundhq/rebound/proto/rebound/v1"
	"google.golang.org/protobuf/proto"
)

// Transcriber turns a recording into a transcript.
type Transcriber interface {
	// Backend names the backend ("none", "openai").
	Backend() string
	// Transcribe transcribes a WAV: stereo is caller left and agent right; mono
	// is attributed to the caller. The returned transcript's status is DONE,
	// or NONE when the backend does not transcribe; errors are returned, not
	// encoded, so callers decide what FAILED means.
	Transcribe(ctx context.Context, wav []byte) (*reboundv1.Transcript, error)
}

// None is the default backend: it never transcribes and says why.
type None struct{}

// NoneReason is what the UI shows when no backend is configured.
const NoneReason = "no transcription backend is configured (transcribe.backend: none)"

// Backend implements Transcriber.
func (None) Backend() string { return "none" }

// Transcribe implements Transcriber.
func (None) Transcribe(context.Context, []byte) (*reboundv1.Transcript, error) {
	return &reboundv1.Transcript{Status: reboundv1.Transcript_STATUS_NONE, Backend: "none", Reason: NoneReason}, nil
}

// Config selects and tunes the agent's transcription (YAML under "transcribe").
type Config struct {
	// Backend is "none" (default) or "openai".
	Backend string       `yaml:"backend"`
	OpenAI  OpenAIConfig `yaml:"openai"`
	// Redact card numbers and SSNs on site. Default true; set false only
	// where nothing leaves a trusted network.
	Redact *bool `yaml:"redact"`
	// Wait is how long Start may hold a record for its transcript before
	// shipping it PENDING. Default 0: ship at once.
	Wait time.Duration `yaml:"wait"`
	// Timeout bounds one call's whole transcription, retries included. Default 10m.
	Timeout time.Duration `yaml:"timeout"`
	// Outcomes are the call outcomes worth transcribing, by enum name without
	// the prefix. Default ANSWERED and VOICEMAIL: an abandoned call's audio is
	// the queue's music, and sending it costs money for nothing.
	Outcomes []string `yaml:"outcomes"`
}

// New builds the configured Transcriber.
func New(cfg Config, log *slog.Logger) (Transcriber, error) {
	if err := cfg.ValidateOutcomes(); err != nil {
		return nil, err
	}
	switch cfg.Backend {
	case "", "none":
		return None{}, nil
	case "openai":
		return NewOpenAI(cfg.OpenAI, log)
	}
	return nil, fmt.Errorf("transcribe: unknown backend %q (want none or openai)", cfg.Backend)
}

// Runner transcribes calls in the background for the agent pipeline.
type Runner struct {
	t       Transcriber
	redact  bool
	wait    time.Duration
	timeout time.Duration
	log     *slog.Logger
	wg      sync.WaitGroup
	want    map[reboundv1.Outcome]bool
}

// NewRunner returns a Runner over t.
func NewRunner(t Transcriber, cfg Config, log *slog.Logger) *Runner {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := &Runner{t: t, redact: cfg.Redact == nil || *cfg.Redact, wait: cfg.Wait, timeout: cfg.Timeout, log: log}
	if r.timeout <= 0 {
		r.timeout = 10 * time.Minute
	}
	outcomes := cfg.Outcomes
	if len(outcomes) == 0 {
		outcomes = []string{"ANSWERED", "VOICEMAIL"}
	}
	r.want = map[reboundv1.Outcome]bool{}
	for _, o := range outcomes {
		r.want[reboundv1.Outcome(reboundv1.Outcome_value["OUTCOME_"+strings.ToUpper(o)])] = true
	}
	return r
}

// ValidateOutcomes reports an outcome name the Runner would not recognise.
func (c Config) ValidateOutcomes() error {
	for _, o := range c.Outcomes {
		if _, ok := reboundv1.Outcome_value["OUTCOME_"+strings.ToUpper(o)]; !ok || strings.EqualFold(o, "UNSPECIFIED") {
			return fmt.Errorf("transcribe.outcomes: unknown outcome %q", o)
		}
	}
	return nil
}

// Start returns the record to ship now and, when a transcript will follow,
// calls update later (from another goroutine, exactly once) with the same
// call_id, revision+1 and a new record_id carrying the transcript (DONE or
// FAILED). A record is never held longer than the configured Wait: with the
// "none" backend or no recording it comes back at once with STATUS_NONE and
// update is never called. rec itself is not modified.
//
// Start blocks for at most Wait (0: not at all), so with a non-zero Wait
// call it off the capture path. A nil update makes Start wait for the
// transcript however long it takes (offline tools).
//
// wavPath is the recording on local disk (rec.recording.ref as the recorder
// wrote it). ctx cancels the background work (agent shutdown); the update
// then carries STATUS_FAILED.
func (r *Runner) Start(ctx context.Context, rec *reboundv1.CallRecord, wavPath string, update func(*reboundv1.CallRecord)) *reboundv1.CallRecord {
	out := proto.Clone(rec).(*reboundv1.CallRecord)
	if _, none := r.t.(None); none {
		out.Transcript, _ = None{}.Transcribe(ctx, nil)
		return out
	}
	if !r.want[rec.GetOutcome()] {
		out.Transcript = &reboundv1.Transcript{Status: reboundv1.Transcript_STATUS_NONE, Backend: r.t.Backend(),
			Reason: "not transcribed: outcome " + strings.TrimPrefix(rec.GetOutcome().String(), "OUTCOME_") + " is not in transcribe.outcomes"}
		return out
	}
	if wavPath == "" {
		out.Transcript = &reboundv1.Transcript{Status: reboundv1.Transcript_STATUS_NONE, Backend: r.t.Backend(), Reason: "the call has no recording to transcribe"}
		return out
	}
	done := make(chan *reboundv1.Transcript, 1)
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		done <- r.transcribe(ctx, wavPath)
	}()
	if update == nil {
		// No one to send an update to (offline tools): wait for the transcript.
		out.Transcript = <-done
		return out
	}
	if r.wait > 0 {
		t := time.NewTimer(r.wait)
		defer t.Stop()
		select {
		case tr := <-done:
			out.Transcript = tr
			return out
		case <-t.C:
		}
	}
	out.Transcript = &reboundv1.Transcript{Status: reboundv1.Transcript_STATUS_PENDING, Backend: r.t.Backend(), Reason: "transcription in progress; it follows as an update"}
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		tr := <-done
		upd := proto.Clone(out).(*reboundv1.CallRecord)
		upd.Revision = out.GetRevision() + 1
		upd.RecordId = fmt.Sprintf("%s+transcript.%d", out.GetRecordId(), upd.Revision)
		upd.Transcript = tr
		update(upd)
	}()
	return out
}

// Wait blocks until every started transcription has delivered its update.
func (r *Runner) Wait() { r.wg.Wait() }

func (r *Runner) transcribe(ctx context.Context, wavPath string) *reboundv1.Transcript {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	fail := func(err error) *reboundv1.Transcript {
		r.log.Warn("transcription failed", "backend", r.t.Backend(), "recording", wavPath, "err", err)
		return &reboundv1.Transcript{Status: reboundv1.Transcript_STATUS_FAILED, Backend: r.t.Backend(), Reason: err.Error()}
	}
	b, err := os.ReadFile(wavPath)
	if err != nil {
		return fail(fmt.Errorf("read recording: %w", err))
	}
	tr, err := r.t.Transcribe(ctx, b)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			err = fmt.Errorf("timed out after %s: %w", r.timeout, err)
		}
		return fail(err)
	}
	if r.redact && Redact(tr.Segments) {
		tr.Redacted = true
	}
	return tr
}
