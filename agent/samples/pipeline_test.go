package samples_test

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/reboundhq/rebound/agent/capture"
	"github.com/reboundhq/rebound/agent/pipeline"
	"github.com/reboundhq/rebound/agent/samples"
	reboundv1 "github.com/reboundhq/rebound/proto/rebound/v1"
	"github.com/reboundhq/rebound/recorder"
)

// TestAgentPipelineClassifiesSamples runs all sample calls, overlapping as
// the demo replays them, through the agent's real capture, pipeline and
// recorder with the sample site's rules, and checks every call gets the
// outcome, agent and recording its script intends.
func TestAgentPipelineClassifiesSamples(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "mix.pcap")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := samples.Mix(f, time.Date(2030, 3, 4, 15, 0, 0, 0, time.UTC), 3*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	rec, err := recorder.New(recorder.Config{Dir: filepath.Join(dir, "rec")}, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]*reboundv1.CallRecord{}
	p, err := pipeline.New(pipeline.Options{
		SiteID: "sample", Calls: samples.SampleSite().CallsConfig(), Recorder: rec,
		Emit: func(r *reboundv1.CallRecord) {
			if got[r.GetCallerNumber()] != nil {
				t.Errorf("two records for %s", r.GetCallerNumber())
			}
			got[r.GetCallerNumber()] = r
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := (&capture.Pcap{Path: path}).Run(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	p.Flush(time.Time{})
	for _, c := range samples.Calls() {
		r := got[c.CallerNumber]
		if r == nil {
			t.Errorf("%s: no record", c.Name)
			continue
		}
		if r.GetOutcome() != c.Outcome || r.GetDirection() != reboundv1.Direction_DIRECTION_INBOUND {
			t.Errorf("%s: %v %v, want %v inbound; evidence %v", c.Name, r.GetOutcome(), r.GetDirection(), c.Outcome, r.GetEvidence())
		}
		if r.GetDialledNumber() != c.Dialled {
			t.Errorf("%s: dialled %q, want %q", c.Name, r.GetDialledNumber(), c.Dialled)
		}
		if c.Outcome == reboundv1.Outcome_OUTCOME_ANSWERED && r.GetAgentExtension() != c.Extension {
			t.Errorf("%s: agent %q, want %q", c.Name, r.GetAgentExtension(), c.Extension)
		}
		rc := r.GetRecording()
		if rc == nil || rc.GetDurationMs() < 5000 || len(rc.GetStreams()) < 2 {
			t.Errorf("%s: recording %v, want both channels of several seconds", c.Name, rc)
			continue
		}
		if _, err := os.Stat(filepath.Join(dir, "rec", rc.GetRef())); err != nil {
			t.Errorf("%s: recording file: %v", c.Name, err)
		}
		for _, fl := range r.GetHealth().GetFlags() {
			t.Errorf("%s: health flag %v on a clean sample", c.Name, fl)
		}
		// The voicemail sample's PBX sends a message-summary NOTIFY, as
		// Asterisk does (Message-Account: the access number, To: the box).
		if c.Outcome == reboundv1.Outcome_OUTCOME_VOICEMAIL {
			confirmed := false
			for _, ev := range r.GetEvidence() {
				confirmed = confirmed || ev.GetRule() == "voicemail.notify"
			}
			if !confirmed {
				t.Errorf("%s: no NOTIFY confirmation in the evidence %v; notes %v", c.Name, r.GetEvidence(), r.GetHealth().GetNotes())
			}
		}
	}
	if len(got) != len(samples.Calls()) {
		t.Errorf("%d records for %d calls", len(got), len(samples.Calls()))
	}
}
