package pipeline

import (
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/reboundhq/rebound/agent/calls"
	"github.com/reboundhq/rebound/agent/capture"
	reboundv1 "github.com/reboundhq/rebound/proto/rebound/v1"
)

// TestTickClosesQuietCalls: with no traffic at all, Tick still fires the
// no-final-response timeout, from another goroutine than the feeder.
func TestTickClosesQuietCalls(t *testing.T) {
	var (
		mu  sync.Mutex
		out []*reboundv1.CallRecord
	)
	p, err := New(Options{SiteID: "tick", Calls: calls.Config{Timeouts: &calls.Timeouts{NoFinalResponse: time.Minute}},
		Emit: func(r *reboundv1.CallRecord) { mu.Lock(); out = append(out, r); mu.Unlock() }})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	raw := "INVITE sip:5550100@pbx SIP/2.0\r\nVia: SIP/2.0/UDP a;branch=z9hG4bK1\r\nFrom: <sip:5551230000@c>;tag=f\r\nTo: <sip:5550100@pbx>\r\nCall-ID: quiet\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"
	p.SIP(capture.Message{At: at, Src: netip.MustParseAddrPort("192.0.2.1:5060"), Dst: netip.MustParseAddrPort("192.0.2.2:5060"), Transport: "udp", Raw: []byte(raw)})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for s := 1; s <= 70; s++ {
			p.Tick(at.Add(time.Duration(s) * time.Second))
		}
	}()
	<-done
	mu.Lock()
	defer mu.Unlock()
	if len(out) != 1 {
		t.Fatalf("records %d, want 1 after the timeout", len(out))
	}
	r := out[0]
	if r.Outcome != reboundv1.Outcome_OUTCOME_ABANDONED || !hasEvidence(r, "no final response within 1m0s") ||
		!hasFlag(r, reboundv1.HealthFlag_HEALTH_FLAG_INCOMPLETE_SIGNALLING) || r.HungUpBy != reboundv1.Party_PARTY_SYSTEM {
		t.Errorf("record %v", r)
	}
}
