package pipeline

import (
	"context"
	"github.com/reboundhq/rebound/sip/siptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/reboundhq/rebound/agent/calls"
	"github.com/reboundhq/rebound/agent/capture"
	reboundv1 "github.com/reboundhq/rebound/proto/rebound/v1"
	"github.com/reboundhq/rebound/recorder"
)

// runPcap replays a capture file through a pipeline and returns the records.
func runPcap(t testing.TB, path string, cfg calls.Config, rec *recorder.Recorder) ([]*reboundv1.CallRecord, *Pipeline) {
	t.Helper()
	var out []*reboundv1.CallRecord
	p, err := New(Options{SiteID: "site-test", Calls: cfg, Recorder: rec, Emit: func(r *reboundv1.CallRecord) { out = append(out, r) }})
	if err != nil {
		t.Fatal(err)
	}
	src := &capture.Pcap{Path: path, Config: capture.Config{SIPPorts: []uint16{5060, 6060}}}
	if err := src.Run(context.Background(), p); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	p.Flush(timeZero)
	return out, p
}

func count(recs []*reboundv1.CallRecord, o reboundv1.Outcome) int {
	n := 0
	for _, r := range recs {
		if r.Outcome == o {
			n++
		}
	}
	return n
}

func hasEvidence(r *reboundv1.CallRecord, substr string) bool {
	for _, e := range r.Evidence {
		if strings.Contains(e.Text, substr) {
			return true
		}
	}
	return false
}

func hasFlag(r *reboundv1.CallRecord, f reboundv1.HealthFlag) bool {
	for _, x := range r.GetHealth().GetFlags() {
		if x == f {
			return true
		}
	}
	return false
}

// TestRealCaptures checks the pipeline against the facts documented for the
// public captures in ../shared/testdata/README.md.
func TestRealCaptures(t *testing.T) {
	td := filepath.Join(siptest.SharedTestdata(t), "pcap")
	tests := []struct {
		file  string
		check func(t *testing.T, recs []*reboundv1.CallRecord, p *Pipeline)
	}{
		{"sipnab/sip-488-codec-reject.pcapng", func(t *testing.T, recs []*reboundv1.CallRecord, p *Pipeline) {
			if len(recs) != 1 {
				t.Fatalf("records = %d", len(recs))
			}
			r := recs[0]
			if r.Outcome == reboundv1.Outcome_OUTCOME_ABANDONED || r.Legs[0].FinalStatus != 488 {
				t.Errorf("488 reject: outcome %v final %d", r.Outcome, r.Legs[0].FinalStatus)
			}
			if r.HungUpBy != reboundv1.Party_PARTY_CALLEE {
				t.Errorf("hung up by %v", r.HungUpBy)
			}
		}},
		{"sngrep/aaa.pcap", func(t *testing.T, recs []*reboundv1.CallRecord, p *Pipeline) {
			// One caller gave up (INVITE x3, CANCEL storm, 408): an abandon.
			// 407/403/480 are refusals, never abandons.
			if n := count(recs, reboundv1.Outcome_OUTCOME_ABANDONED); n != 1 {
				t.Errorf("abandons = %d, want 1", n)
			}
			for _, r := range recs {
				switch r.Outcome {
				case reboundv1.Outcome_OUTCOME_ABANDONED:
					if !hasEvidence(r, "CANCEL from caller 192.168.1.2 before any agent 2xx") || r.HungUpBy != reboundv1.Party_PARTY_CALLER {
						t.Errorf("abandon evidence %v", r.Evidence)
					}
				case reboundv1.Outcome_OUTCOME_FAILED:
					if st := r.Legs[0].FinalStatus; st != 407 && st != 403 && st != 480 {
						t.Errorf("failed with final %d", st)
					}
				default:
					t.Errorf("unexpected outcome %v", r.Outcome)
				}
			}
			ids := map[string]bool{}
			for _, r := range recs {
				if ids[r.RecordId] {
					t.Errorf("duplicate record id %s", r.RecordId)
				}
				ids[r.RecordId] = true
			}
		}},
		{"heplify/sip_ipv4_tcp_fragmented.pcap", func(t *testing.T, recs []*reboundv1.CallRecord, p *Pipeline) {
			cancels := 0
			for _, r := range recs {
				if r.Outcome == reboundv1.Outcome_OUTCOME_ABANDONED && hasEvidence(r, "CANCEL from caller") {
					cancels++
				}
				if r.Outcome == reboundv1.Outcome_OUTCOME_FORWARDED {
					t.Errorf("History-Info with the same URI at index 1 and 1.1 read as a forward: %v", r.Evidence)
				}
			}
			if cancels < 2 {
				t.Errorf("CANCEL abandons = %d, want >= 2", cancels)
			}
			if n := count(recs, reboundv1.Outcome_OUTCOME_ANSWERED); n < 20 {
				t.Errorf("answered = %d", n)
			}
		}},
		{"heplify/rtp_rtcp_sip_ipv4_udp.pcap", func(t *testing.T, recs []*reboundv1.CallRecord, p *Pipeline) {
			if len(recs) != 2 {
				t.Fatalf("records = %d", len(recs))
			}
			var answered *reboundv1.CallRecord
			for _, r := range recs {
				if r.Outcome == reboundv1.Outcome_OUTCOME_ANSWERED {
					answered = r
				}
			}
			if answered == nil {
				t.Fatal("answered call not found")
			}
			if !hasFlag(answered, reboundv1.HealthFlag_HEALTH_FLAG_INCOMPLETE_SIGNALLING) || !hasEvidence(answered, "no BYE") {
				t.Errorf("call with no BYE not closed with evidence: %v %v", answered.Health, answered.Evidence)
			}
			if answered.HungUpBy != reboundv1.Party_PARTY_SYSTEM || answered.TalkMs < 20000 {
				t.Errorf("hung up by %v talk %d ms", answered.HungUpBy, answered.TalkMs)
			}
		}},
		{"heplify/erspan_sip_ipv4_udp.pcapng", func(t *testing.T, recs []*reboundv1.CallRecord, p *Pipeline) {
			// Each message is seen on both sides of the SBC with the same
			// Call-ID: three calls, not six.
			if len(recs) != 3 {
				t.Errorf("records = %d, want 3", len(recs))
			}
			if p.Stats().Dialog.Duplicates == 0 {
				t.Error("no second-hop duplicates counted")
			}
			// The transfer: REFER, 407, REFER again, 488. The SBC rewrites
			// tags and CSeq on its far side; each REFER still counts once.
			refers := 0
			for _, r := range recs {
				for _, e := range r.Evidence {
					if e.Rule == "transfer" {
						refers++
					}
				}
			}
			if refers != 2 {
				t.Errorf("REFER evidence lines = %d, want 2", refers)
			}
		}},
		{"sipnab/sip-proxy.pcap", func(t *testing.T, recs []*reboundv1.CallRecord, p *Pipeline) {
			if len(recs) != 1 || recs[0].Outcome != reboundv1.Outcome_OUTCOME_INTERNAL || recs[0].TalkMs <= 0 {
				t.Errorf("proxy call: %v", recs)
			}
		}},
		{"sipnab/b2bua-asterisk.pcapng", func(t *testing.T, recs []*reboundv1.CallRecord, p *Pipeline) {
			if len(recs) != 1 {
				t.Fatalf("records = %d, want 1 (two legs of one call)", len(recs))
			}
			r := recs[0]
			if len(r.Legs) != 2 || r.Legs[1].CorrelatedBy != "caller-window" || r.Outcome != reboundv1.Outcome_OUTCOME_ANSWERED {
				t.Errorf("b2bua: outcome %v legs %v", r.Outcome, r.Legs)
			}
		}},
		{"sipnab/SIP_DTMF2.cap", func(t *testing.T, recs []*reboundv1.CallRecord, p *Pipeline) {
			declined := false
			for _, r := range recs {
				if r.Legs[0].FinalStatus == 603 {
					declined = true
				}
				if r.Outcome == reboundv1.Outcome_OUTCOME_ABANDONED {
					t.Errorf("abandon in DTMF capture: %v", r.Evidence)
				}
			}
			if !declined || len(recs) != 2 {
				t.Errorf("records %d, 603 seen %v", len(recs), declined)
			}
		}},
		{"heplify/sip_ipv6_udp.pcap", func(t *testing.T, recs []*reboundv1.CallRecord, p *Pipeline) {
			// Its Request-URI carries an IPv6 address without brackets,
			// which RFC 3261 does not allow: counted malformed, never fatal.
			if p.Stats().MalformedSIP == 0 {
				t.Error("malformed IPv6 URIs not counted")
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			path := filepath.Join(td, tt.file)
			if _, err := os.Stat(path); err != nil {
				t.Skipf("missing %s", path)
			}
			recs, p := runPcap(t, path, calls.Config{}, nil)
			for _, r := range recs {
				if r.CallId == "" || r.RecordId == "" || r.StartedAt == nil || len(r.Evidence) == 0 || len(r.DefaultsUsed) == 0 {
					t.Errorf("incomplete record %v", r)
				}
			}
			tt.check(t, recs, p)
		})
	}
}

// TestDeterministic: reading the same capture twice gives the same ids and
// the same records.
func TestDeterministic(t *testing.T) {
	path := filepath.Join(siptest.SharedTestdata(t), "pcap", "heplify", "sip_ipv4_tcp_fragmented.pcap")
	a, _ := runPcap(t, path, calls.Config{}, nil)
	b, _ := runPcap(t, path, calls.Config{}, nil)
	if len(a) != len(b) || len(a) == 0 {
		t.Fatalf("%d vs %d records", len(a), len(b))
	}
	for i := range a {
		if a[i].RecordId != b[i].RecordId || a[i].CallId != b[i].CallId || a[i].Outcome != b[i].Outcome {
			t.Errorf("record %d differs: %s/%v vs %s/%v", i, a[i].RecordId, a[i].Outcome, b[i].RecordId, b[i].Outcome)
		}
	}
}

// TestRecording wires the recorder: the answered G.711 call gets a stereo
// recording with both channels' streams.
func TestRecording(t *testing.T) {
	path := filepath.Join(siptest.SharedTestdata(t), "pcap", "heplify", "rtp_rtcp_sip_ipv4_udp.pcap")
	rec, err := recorder.New(recorder.Config{Dir: t.TempDir()}, discard(), nil)
	if err != nil {
		t.Fatal(err)
	}
	recs, p := runPcap(t, path, calls.Config{}, rec)
	var got *reboundv1.CallRecord
	for _, r := range recs {
		if r.Outcome == reboundv1.Outcome_OUTCOME_ANSWERED {
			got = r
		}
	}
	if got == nil || got.Recording == nil {
		t.Fatalf("no recording: %v", got)
	}
	chans := map[reboundv1.Channel]bool{}
	for _, s := range got.Recording.Streams {
		chans[s.Channel] = true
	}
	if !chans[reboundv1.Channel_CHANNEL_CALLER] || !chans[reboundv1.Channel_CHANNEL_AGENT] || got.Recording.DurationMs < 20000 {
		t.Errorf("recording %v", got.Recording)
	}
	if p.Stats().Datagrams == 0 {
		t.Error("no datagrams")
	}
}

// TestMetricsAndKernelDrops: the counters reach Prometheus, and a call
// during which the kernel dropped packets is flagged.
func TestMetricsAndKernelDrops(t *testing.T) {
	path := filepath.Join(siptest.SharedTestdata(t), "pcap", "sngrep", "aaa.pcap")
	var drops uint64
	var out []*reboundv1.CallRecord
	p, err := New(Options{SiteID: "m", KernelDrops: func() uint64 { return drops }, Emit: func(r *reboundv1.CallRecord) { out = append(out, r) }})
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	if err := p.Register(reg, prometheus.Labels{"site": "m"}); err != nil {
		t.Fatal(err)
	}
	// The source reports drops as soon as the first call has started.
	h := capture.HandlerFuncs{
		OnSIP: func(m capture.Message) {
			p.SIP(m)
			if p.engine.Open() > 0 && drops == 0 {
				drops = 7
			}
		},
		OnDatagram: p.Datagram,
	}
	if err := (&capture.Pcap{Path: path}).Run(context.Background(), h); err != nil {
		t.Fatal(err)
	}
	p.Flush(timeZero)
	if len(out) == 0 || !hasFlag(out[0], reboundv1.HealthFlag_HEALTH_FLAG_KERNEL_DROPS) || out[0].Health.KernelDrops == 0 {
		t.Errorf("first call not flagged: %v", out[0].GetHealth())
	}
	if hasFlag(out[len(out)-1], reboundv1.HealthFlag_HEALTH_FLAG_KERNEL_DROPS) {
		t.Errorf("a call after the drops was flagged")
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			if m.Counter != nil {
				got[mf.GetName()] = m.Counter.GetValue()
			}
		}
	}
	if got["rebound_pipeline_calls_total"] != float64(len(out)) || got["rebound_pipeline_sip_messages_total"] == 0 || got["rebound_pipeline_abandoned_calls_total"] != 1 {
		t.Errorf("metrics %v", got)
	}
}

// TestShortAbandonReleasesRecording: a dropped short abandon is not shipped,
// and the recorder does not keep its call open.
func TestShortAbandonReleasesRecording(t *testing.T) {
	path := filepath.Join(siptest.SharedTestdata(t), "pcap", "sngrep", "aaa.pcap")
	rec, err := recorder.New(recorder.Config{Dir: t.TempDir()}, discard(), nil)
	if err != nil {
		t.Fatal(err)
	}
	recs, p := runPcap(t, path, calls.Config{Outcomes: &calls.Outcomes{ShortAbandonSeconds: 3600}}, rec)
	if n := count(recs, reboundv1.Outcome_OUTCOME_ABANDONED); n != 0 {
		t.Errorf("%d abandons shipped under a one-hour threshold", n)
	}
	if len(recs) != 6 || p.Stats().Calls.ShortAbandonsDropped != 1 {
		t.Errorf("records %d, dropped %d", len(recs), p.Stats().Calls.ShortAbandonsDropped)
	}
	if n := rec.OpenCalls(); n != 0 {
		t.Errorf("recorder still holds %d calls", n)
	}
}
