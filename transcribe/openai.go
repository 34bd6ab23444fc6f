package transcribe

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	reboundv1 "github.com/reboundhq/rebound/proto/rebound/v1"
)

// OpenAIConfig configures the "openai" backend: any server speaking the
// OpenAI audio transcription API (whisper.cpp server, speaches, LocalAI,
// hosted APIs).
type OpenAIConfig struct {
	// URL is the server base ("http://127.0.0.1:8080") or the full endpoint
	// ending in /audio/transcriptions.
	URL string `yaml:"url"`
	// APIKey is sent as a bearer token when set. Never logged.
	APIKey string `yaml:"api_key"`
	// Model, default "whisper-1".
	Model string `yaml:"model"`
	// Language is an ISO-639-1 hint ("en"); empty lets the server detect it.
	Language string `yaml:"language"`
	// Concurrency bounds requests in flight across all calls. Default 2.
	Concurrency int `yaml:"concurrency"`
	// RequestTimeout bounds one HTTP attempt. Default 2m.
	RequestTimeout time.Duration `yaml:"request_timeout"`
	// Retries after the first attempt on 408, 429, 5xx and network errors. Default 3.
	Retries *int `yaml:"retries"`
	// Backoff is the first retry delay, doubled each time up to MaxBackoff.
	// Defaults 1s and 30s. A Retry-After header overrides it (capped at MaxBackoff).
	Backoff    time.Duration `yaml:"backoff"`
	MaxBackoff time.Duration `yaml:"max_backoff"`
	// SilenceRMS: a channel quieter than this (16-bit RMS) is not sent. Default 30.
	SilenceRMS float64 `yaml:"silence_rms"`

	// HTTPClient and Now are injected by tests and the agent; defaults are
	// http.DefaultClient and time.Now.
	HTTPClient *http.Client     `yaml:"-"`
	Now        func() time.Time `yaml:"-"`
}

// OpenAI is the OpenAI-compatible backend.
type OpenAI struct {
	cfg      OpenAIConfig
	endpoint string
	retries  int
	sem      chan struct{}
	log      *slog.Logger
}

// TargetRate is the sample rate sent to the server: Whisper-family models
// are trained on 16 kHz audio.
const TargetRate = 16000

// NewOpenAI validates cfg and returns the backend.
func NewOpenAI(cfg OpenAIConfig, log *slog.Logger) (*OpenAI, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("transcribe openai: url %q: want http(s)://host[:port][/path]", cfg.URL)
	}
	if !strings.HasSuffix(strings.TrimRight(u.Path, "/"), "/audio/transcriptions") {
		p := strings.TrimRight(u.Path, "/")
		if !strings.HasSuffix(p, "/v1") {
			p += "/v1"
		}
		u.Path = p + "/audio/transcriptions"
	}
	if cfg.Model == "" {
		cfg.Model = "whisper-1"
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 2
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = 2 * time.Minute
	}
	retries := 3
	if cfg.Retries != nil {
		retries = max(0, *cfg.Retries)
	}
	if cfg.Backoff <= 0 {
		cfg.Backoff = time.Second
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = 30 * time.Second
	}
	if cfg.SilenceRMS <= 0 {
		cfg.SilenceRMS = 30
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = http.DefaultClient
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &OpenAI{cfg: cfg, endpoint: u.String(), retries: retries, sem: make(chan struct{}, cfg.Concurrency), log: log}, nil
}

// Backend implements Transcriber.
func (o *OpenAI) Backend() string { return "openai" }

// Transcribe splits the WAV into caller and agent, resamples each to 16 kHz
// mono, transcribes both (concurrently, within the limit) and merges the
// segments in time order.
func (o *OpenAI) Transcribe(ctx context.Context, wav []byte) (*reboundv1.Transcript, error) {
	pcm, err := ParseWAV(wav)
	if err != nil {
		return nil, fmt.Errorf("transcribe: %w", err)
	}
	chans := []reboundv1.Channel{reboundv1.Channel_CHANNEL_CALLER, reboundv1.Channel_CHANNEL_AGENT}
	type result struct {
		segs []*reboundv1.TranscriptSegment
		err  error
	}
	results := make([]result, min(len(pcm.Channels), 2))
	done := make(chan struct{})
	pending := 0
	for i := range results {
		x := pcm.Channels[i]
		if rms(x) < o.cfg.SilenceRMS {
			o.log.Debug("channel silent, not sent", "channel", chans[i])
			continue
		}
		pending++
		go func() {
			defer func() { done <- struct{}{} }()
			y, err := Resample(x, pcm.Rate, TargetRate)
			if err != nil {
				results[i] = result{nil, err}
				return
			}
			segs, err := o.request(ctx, EncodeWAV(TargetRate, y), chans[i])
			results[i] = result{segs, err}
		}()
	}
	for range pending {
		<-done
	}
	tr := &reboundv1.Transcript{Status: reboundv1.Transcript_STATUS_DONE, Backend: "openai"}
	var errs []error
	for i, r := range results {
		if r.err != nil {
			errs = append(errs, fmt.Errorf("%s channel: %w", strings.ToLower(strings.TrimPrefix(chans[i].String(), "CHANNEL_")), r.err))
		}
		tr.Segments = append(tr.Segments, r.segs...)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	sort.SliceStable(tr.Segments, func(a, b int) bool { return tr.Segments[a].StartMs < tr.Segments[b].StartMs })
	return tr, nil
}

// verboseJSON is the response_format=verbose_json body.
type verboseJSON struct {
	Text     string  `json:"text"`
	Duration float64 `json:"duration"`
	Segments []struct {
		Start        float64 `json:"start"`
		End          float64 `json:"end"`
		Text         string  `json:"text"`
		AvgLogprob   float64 `json:"avg_logprob"`
		NoSpeechProb float64 `json:"no_speech_prob"`
	} `json:"segments"`
}

// httpError is a non-2xx answer.
type httpError struct {
	status     int
	body       string
	retryAfter time.Duration
}

func (e *httpError) Error() string {
	return fmt.Sprintf("server answered %d: %s", e.status, e.body)
}

func (e *httpError) retryable() bool {
	return e.status == http.StatusTooManyRequests || e.status == http.StatusRequestTimeout || e.status >= 500
}

// request sends one channel, retrying what may succeed later.
func (o *OpenAI) request(ctx context.Context, wav []byte, ch reboundv1.Channel) ([]*reboundv1.TranscriptSegment, error) {
	body, ctype, err := o.multipart(wav)
	if err != nil {
		return nil, err
	}
	delay := o.cfg.Backoff
	for attempt := 0; ; attempt++ {
		v, err := o.attempt(ctx, body, ctype)
		if err == nil {
			return segments(v, ch), nil
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("transcription request: %w", ctx.Err())
		}
		var he *httpError
		retry := !errors.As(err, &he) || he.retryable()
		if !retry || attempt >= o.retries {
			return nil, fmt.Errorf("transcription request (attempt %d): %w", attempt+1, err)
		}
		wait := delay
		if he != nil && he.retryAfter > 0 {
			wait = min(he.retryAfter, o.cfg.MaxBackoff)
		}
		o.log.Info("transcription request failed, retrying", "attempt", attempt+1, "wait", wait, "err", err)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("transcription request: %w", ctx.Err())
		case <-t.C:
		}
		delay = min(2*delay, o.cfg.MaxBackoff)
	}
}

func (o *OpenAI) multipart(wav []byte) ([]byte, string, error) {
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	h := make(textproto.MIMEHeader)
	h.Set("Content-Disposition", `form-data; name="file"; filename="audio.wav"`)
	h.Set("Content-Type", "audio/wav")
	fw, err := w.CreatePart(h)
	if err != nil {
		return nil, "", err
	}
	fw.Write(wav)
	fields := [][2]string{{"model", o.cfg.Model}, {"response_format", "verbose_json"}, {"timestamp_granularities[]", "segment"}, {"temperature", "0"}}
	if o.cfg.Language != "" {
		fields = append(fields, [2]string{"language", o.cfg.Language})
	}
	for _, f := range fields {
		if err := w.WriteField(f[0], f[1]); err != nil {
			return nil, "", err
		}
	}
	if err := w.Close(); err != nil {
		return nil, "", err
	}
	return buf.Bytes(), w.FormDataContentType(), nil
}

func (o *OpenAI) attempt(ctx context.Context, body []byte, ctype string) (*verboseJSON, error) {
	select {
	case o.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-o.sem }()
	ctx, cancel := context.WithTimeout(ctx, o.cfg.RequestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, o.endpoint, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", ctype)
	req.Header.Set("Accept", "application/json")
	if o.cfg.APIKey != "" {
		req.Header.Set("Authorization", "Bearer "+o.cfg.APIKey)
	}
	resp, err := o.cfg.HTTPClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
	if err != nil {
		return nil, fmt.Errorf("read response: %w", err)
	}
	if resp.StatusCode/100 != 2 {
		return nil, &httpError{status: resp.StatusCode, body: errorText(b), retryAfter: retryAfter(resp.Header.Get("Retry-After"), o.cfg.Now())}
	}
	return parseVerboseJSON(b)
}

// errorText extracts {"error":{"message":...}} or a short body.
func errorText(b []byte) string {
	var e struct {
		Error struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal(b, &e) == nil && e.Error.Message != "" {
		return e.Error.Message
	}
	s := strings.TrimSpace(string(b))
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

// retryAfter parses delta-seconds or an HTTP date (RFC 9110 10.2.3).
func retryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(0, t.Sub(now))
	}
	return 0
}

// segments converts the response, dropping what Whisper itself marks as no
// speech (its own no_speech/logprob rule), which on telephone silence is
// where hallucinated text comes from.
func segments(v *verboseJSON, ch reboundv1.Channel) []*reboundv1.TranscriptSegment {
	var out []*reboundv1.TranscriptSegment
	for _, s := range v.Segments {
		text := strings.TrimSpace(s.Text)
		if text == "" || (s.NoSpeechProb > 0.6 && s.AvgLogprob < -1) {
			continue
		}
		start, end := msOf(s.Start), msOf(s.End)
		end = max(end, start) // some servers round a short segment's end below its start
		out = append(out, &reboundv1.TranscriptSegment{Channel: ch, StartMs: start, EndMs: end, Text: text})
	}
	if len(v.Segments) == 0 && strings.TrimSpace(v.Text) != "" {
		out = append(out, &reboundv1.TranscriptSegment{Channel: ch, StartMs: 0, EndMs: msOf(v.Duration), Text: strings.TrimSpace(v.Text)})
	}
	return out
}

// msOf converts a server's seconds to milliseconds, treating what no audio
// can have (negative, NaN, beyond a day) as 0.
func msOf(sec float64) int64 {
	if !(sec > 0) || sec > 86400 {
		return 0
	}
	return int64(sec * 1000)
}

// parseVerboseJSON reads a transcription response body.
func parseVerboseJSON(b []byte) (*verboseJSON, error) {
	var v verboseJSON
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, fmt.Errorf("parse verbose_json response: %w", err)
	}
	return &v, nil
}
