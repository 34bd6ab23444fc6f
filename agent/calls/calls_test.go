package calls

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"gopkg.in/yaml.v3"

	reboundv1 "github.com/reboundhq/rebound/proto/rebound/v1"
	"github.com/reboundhq/rebound/sip/dialog"
)

func TestConfigYAMLAndValidate(t *testing.T) {
	src := `
correlation:
  header: X-Leg-Key
  header_regex: '^key-(\w+)'
  caller_window: 5s
direction:
  trunk_peers: [203.0.113.0/24, 198.51.100.7]
  agent_extensions: ['^2\d\d$']
outcomes:
  short_abandon_seconds: 4.5
voicemail:
  extensions: ['^8500$']
  confirm_window: 0s
timeouts:
  no_final_response: 2m
`
	var c Config
	dec := yaml.NewDecoder(strings.NewReader(src))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	r, err := compile(c)
	if err != nil {
		t.Fatal(err)
	}
	if r.headerName != "X-Leg-Key" || r.callerWindow != 5*time.Second || r.shortAbandon != 4500*time.Millisecond || r.confirm != 0 {
		t.Errorf("compiled %+v", r)
	}
	if !r.isTrunk(netip.MustParseAddr("203.0.113.77")) || !r.isTrunk(netip.MustParseAddr("198.51.100.7")) || r.isTrunk(netip.MustParseAddr("10.0.0.1")) {
		t.Error("trunk peers")
	}
	if got := strings.Join(r.defaultsUsed, ","); got != "" {
		t.Errorf("defaults used %q with every section set", got)
	}
	if c.Dialog().NoFinalResponse != 2*time.Minute {
		t.Error("timeouts not passed to the tracker")
	}

	var empty Config
	r, _ = compile(empty)
	if got := strings.Join(r.defaultsUsed, ","); got != "correlation,direction,outcomes,voicemail,timeouts" {
		t.Errorf("defaults used %q", got)
	}

	bad := Config{
		Correlation: &Correlation{HeaderRegex: "(", CallerWindow: -time.Second},
		Direction:   &Direction{TrunkPeers: []string{"not-an-ip"}, Queues: []string{"["}},
		Outcomes:    &Outcomes{ShortAbandonSeconds: -1},
	}
	err = bad.Validate()
	if err == nil {
		t.Fatal("bad config accepted")
	}
	for _, want := range []string{"header_regex", "caller_window", "trunk_peers", "direction.queues", "short_abandon_seconds"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not name %s: %v", want, err)
		}
	}
}

func TestIDs(t *testing.T) {
	a, ra := IDs("site-1", "abc@host", 1, 1)
	b, rb := IDs("site-1", "abc@host", 1, 1)
	c, _ := IDs("site-2", "abc@host", 1, 1)
	d, _ := IDs("site-1", "abc@host", 2, 1)
	_, r2 := IDs("site-1", "abc@host", 1, 2)
	if a != b || ra != rb {
		t.Error("not deterministic")
	}
	if a == c || a == d || ra == r2 || a == ra {
		t.Error("ids collide")
	}
}

// harness feeds synthetic SIP through a real tracker into an engine.
type harness struct {
	t   *testing.T
	tr  *dialog.Tracker
	eng *Engine
	out []*reboundv1.CallRecord
	t0  time.Time
}

func newHarness(t *testing.T, cfg Config) *harness {
	h := &harness{t: t, t0: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}
	eng, err := New(cfg, "s1", nil, func(r Result) { h.out = append(h.out, r.Record) })
	if err != nil {
		t.Fatal(err)
	}
	h.eng = eng
	h.tr = dialog.New(cfg.Dialog(), dialog.Hooks{Started: eng.LegStarted, Ended: eng.LegEnded})
	return h
}

func (h *harness) send(ms int, src, dst, raw string) {
	h.t.Helper()
	raw = strings.ReplaceAll(strings.TrimLeft(raw, "\n"), "\n", "\r\n")
	if !strings.Contains(raw, "\r\n\r\n") {
		raw += "\r\n"
	}
	m, err := sip.ParseMessage([]byte(raw))
	if err != nil {
		h.t.Fatalf("parse: %v\n%s", err, raw)
	}
	at := h.t0.Add(time.Duration(ms) * time.Millisecond)
	h.tr.Message(at, netip.MustParseAddrPort(src), netip.MustParseAddrPort(dst), "udp", m)
	h.eng.Advance(h.tr.Now())
}

func (h *harness) flush(ms int) []*reboundv1.CallRecord {
	at := h.t0.Add(time.Duration(ms) * time.Millisecond)
	h.tr.Flush(at)
	h.eng.Flush(at)
	return h.out
}

func invite(callID, from, to, fromTag, extra string) string {
	return "INVITE sip:" + to + "@pbx SIP/2.0\nVia: SIP/2.0/UDP x;branch=z9hG4bK" + callID + "\nFrom: <sip:" + from + "@x>;tag=" + fromTag +
		"\nTo: <sip:" + to + "@pbx>\nCall-ID: " + callID + "\nCSeq: 1 INVITE\n" + extra + "Content-Length: 0\n\n"
}

func response(code int, callID, from, to, fromTag, toTag, method string) string {
	return "SIP/2.0 " + itoa(code) + " X\nVia: SIP/2.0/UDP x;branch=z9hG4bK" + callID + "\nFrom: <sip:" + from + "@x>;tag=" + fromTag +
		"\nTo: <sip:" + to + "@pbx>;tag=" + toTag + "\nCall-ID: " + callID + "\nCSeq: 1 " + method + "\nContent-Length: 0\n\n"
}

func bye(callID, from, to, fromTag, toTag string) string {
	return "BYE sip:x@pbx SIP/2.0\nVia: SIP/2.0/UDP x;branch=z9hG4bKbye" + callID + "\nFrom: <sip:" + from + "@x>;tag=" + fromTag +
		"\nTo: <sip:" + to + "@pbx>;tag=" + toTag + "\nCall-ID: " + callID + "\nCSeq: 2 BYE\nContent-Length: 0\n\n"
}

func itoa(n int) string {
	s := ""
	for n > 0 {
		s = string(rune('0'+n%10)) + s
		n /= 10
	}
	return s
}

const (
	trunk = "203.0.113.5:5060"
	pbx   = "10.0.0.2:5060"
	phone = "10.0.0.31:5060"
	other = "10.0.0.40:5060"
)

// TestParentCallIDAndTrunkDirection: the PBX names the A-leg's Call-ID in a
// header on the B-leg; direction comes from the configured trunk peer.
func TestParentCallIDAndTrunkDirection(t *testing.T) {
	h := newHarness(t, Config{Direction: &Direction{TrunkPeers: []string{"203.0.113.0/24"}}})
	h.send(0, trunk, pbx, invite("A1", "5551230000", "5550100", "a", ""))
	h.send(100, pbx, trunk, response(200, "A1", "5551230000", "5550100", "a", "pa", "INVITE"))
	// Different caller number on the B-leg: only the parent header ties it.
	h.send(500, pbx, phone, invite("B1", "ivr", "201", "b", "X-Parent-Call-ID: A1\n"))
	h.send(2500, phone, pbx, response(200, "B1", "ivr", "201", "b", "pb", "INVITE"))
	h.send(9000, phone, pbx, bye("B1", "201", "ivr", "pb", "b"))
	h.send(9100, pbx, trunk, bye("A1", "5550100", "5551230000", "pa", "a"))
	recs := h.flush(20000)
	if len(recs) != 1 {
		t.Fatalf("records %d", len(recs))
	}
	r := recs[0]
	if r.Direction != reboundv1.Direction_DIRECTION_INBOUND || r.Outcome != reboundv1.Outcome_OUTCOME_ANSWERED ||
		r.Legs[1].CorrelatedBy != "parent-call-id" || r.AgentExtension != "201" {
		t.Fatalf("record %v", r)
	}
	if r.WaitMs != 2500 || r.TalkMs != 6600 || r.RingMs != 100 || r.HungUpBy != reboundv1.Party_PARTY_CALLEE {
		t.Errorf("wait %d talk %d ring %d hung up by %v", r.WaitMs, r.TalkMs, r.RingMs, r.HungUpBy)
	}
	if !strings.HasPrefix(r.Evidence[0].Text, "0.00s INVITE from trunk peer 203.0.113.5: inbound") {
		t.Errorf("direction evidence %q", r.Evidence[0].Text)
	}
	if strings.Contains(strings.Join(r.DefaultsUsed, ","), "direction") {
		t.Errorf("defaults used %v", r.DefaultsUsed)
	}
}

// TestCallerWindowNeedsTheSameHost: a leg joins the call from the same
// number that the placing host received, not another call from that number
// handled elsewhere.
func TestCallerWindowNeedsTheSameHost(t *testing.T) {
	h := newHarness(t, Config{})
	h.send(0, trunk, pbx, invite("A1", "5551230000", "5550100", "a", ""))
	h.send(200, other, "10.0.0.3:5060", invite("A2", "5551230000", "5550100", "c", ""))
	h.send(400, pbx, phone, invite("B1", "5551230000", "201", "b", ""))
	recs := h.flush(5000)
	if len(recs) != 2 {
		t.Fatalf("records %d, want 2", len(recs))
	}
	if len(recs[0].Legs) != 2 || recs[0].Legs[1].CorrelatedBy != "caller-window" || len(recs[1].Legs) != 1 {
		t.Errorf("legs %v / %v", recs[0].Legs, recs[1].Legs)
	}
}

// TestForwardedByExternalLeg: the PBX continues the call to an external
// number (call continuity): forwarded, never abandoned, even though the
// caller hangs up before anyone answers.
func TestForwardedByExternalLeg(t *testing.T) {
	h := newHarness(t, Config{Correlation: &Correlation{Header: "X-CID"}})
	h.send(0, trunk, pbx, invite("A1", "5551230000", "5550100", "a", ""))
	h.send(300, pbx, trunk, invite("B1", "5551230000", "15557778888", "b", "X-CID: A1\n"))
	h.send(4000, trunk, pbx, "CANCEL sip:5550100@pbx SIP/2.0\nVia: SIP/2.0/UDP x;branch=z9hG4bKA1\nFrom: <sip:5551230000@x>;tag=a\nTo: <sip:5550100@pbx>\nCall-ID: A1\nCSeq: 1 CANCEL\nContent-Length: 0\n\n")
	h.send(4010, pbx, trunk, response(487, "A1", "5551230000", "5550100", "a", "pa", "INVITE"))
	recs := h.flush(10000)
	if len(recs) != 1 {
		t.Fatalf("records %d", len(recs))
	}
	r := recs[0]
	if r.Outcome != reboundv1.Outcome_OUTCOME_FORWARDED || r.ForwardedTo != "15557778888" || r.Legs[1].CorrelatedBy != "header:X-CID" {
		t.Errorf("outcome %v to %q legs %v evidence %v", r.Outcome, r.ForwardedTo, r.Legs, r.Evidence)
	}
}

// TestRejectedIsFailed: 404/488/603 are refusals, not abandons.
func TestRejectedIsFailed(t *testing.T) {
	for _, code := range []int{404, 486, 488, 603} {
		h := newHarness(t, Config{})
		h.send(0, trunk, pbx, invite("A1", "5551230000", "5550100", "a", ""))
		h.send(50, pbx, trunk, response(code, "A1", "5551230000", "5550100", "a", "x", "INVITE"))
		recs := h.flush(10000)
		if len(recs) != 1 || recs[0].Outcome != reboundv1.Outcome_OUTCOME_FAILED || recs[0].HungUpBy != reboundv1.Party_PARTY_CALLEE {
			t.Errorf("%d: %v", code, recs)
		}
	}
}

// TestOutboundThroughB2BUA: the agent's phone calls out through the PBX,
// which places the trunk leg with the company number as caller. The legs
// are one outbound call, never an inbound abandon.
func TestOutboundThroughB2BUA(t *testing.T) {
	h := newHarness(t, Config{})
	h.send(0, phone, pbx, invite("A1", "201", "15557778888", "a", ""))
	h.send(100, pbx, trunk, invite("B1", "5550100", "15557778888", "b", ""))
	h.send(4000, phone, pbx, "CANCEL sip:15557778888@pbx SIP/2.0\nVia: SIP/2.0/UDP x;branch=z9hG4bKA1\nFrom: <sip:201@x>;tag=a\nTo: <sip:15557778888@pbx>\nCall-ID: A1\nCSeq: 1 CANCEL\nContent-Length: 0\n\n")
	h.send(4010, pbx, phone, response(487, "A1", "201", "15557778888", "a", "pa", "INVITE"))
	h.send(4020, pbx, trunk, "CANCEL sip:15557778888@pbx SIP/2.0\nVia: SIP/2.0/UDP x;branch=z9hG4bKB1\nFrom: <sip:5550100@x>;tag=b\nTo: <sip:15557778888@pbx>\nCall-ID: B1\nCSeq: 1 CANCEL\nContent-Length: 0\n\n")
	h.send(4030, trunk, pbx, response(487, "B1", "5550100", "15557778888", "b", "pb", "INVITE"))
	recs := h.flush(10000)
	if len(recs) != 1 {
		t.Fatalf("records %d, want 1", len(recs))
	}
	r := recs[0]
	if r.Outcome != reboundv1.Outcome_OUTCOME_OUTBOUND || len(r.Legs) != 2 || r.Legs[1].CorrelatedBy != "caller-window" || r.AgentExtension != "201" {
		t.Errorf("outcome %v legs %d agent %q evidence %v", r.Outcome, len(r.Legs), r.AgentExtension, r.Evidence)
	}
}

// TestCorrelationFailedIsFlagged: a leg the PBX places while handling a
// call, that nothing ties to it, is its own call flagged CORRELATION_FAILED.
func TestCorrelationFailedIsFlagged(t *testing.T) {
	h := newHarness(t, Config{Correlation: &Correlation{DisableCallerWindow: true}})
	h.send(0, trunk, pbx, invite("A1", "5551230000", "5550100", "a", ""))
	h.send(300, pbx, phone, invite("B1", "5551230000", "201", "b", ""))
	recs := h.flush(5000)
	if len(recs) != 2 {
		t.Fatalf("records %d", len(recs))
	}
	if hasFlag(recs[0], reboundv1.HealthFlag_HEALTH_FLAG_CORRELATION_FAILED) || !hasFlag(recs[1], reboundv1.HealthFlag_HEALTH_FLAG_CORRELATION_FAILED) {
		t.Errorf("flags %v / %v", recs[0].Health.Flags, recs[1].Health.Flags)
	}
	if h.eng.Stats().CorrelationFailed != 1 {
		t.Errorf("stats %+v", h.eng.Stats())
	}
}

func hasFlag(r *reboundv1.CallRecord, f reboundv1.HealthFlag) bool {
	for _, x := range r.GetHealth().GetFlags() {
		if x == f {
			return true
		}
	}
	return false
}

func notify(callID, mailbox string) string {
	body := "Messages-Waiting: yes\r\nMessage-Account: sip:" + mailbox + "@pbx\r\nVoice-Message: 1/0\r\n"
	return "NOTIFY sip:" + mailbox + "@10.0.0.31 SIP/2.0\nVia: SIP/2.0/UDP x;branch=z9hG4bKn" + callID + "\nFrom: <sip:vm@pbx>;tag=v" + callID +
		"\nTo: <sip:" + mailbox + "@pbx>\nCall-ID: " + callID + "\nCSeq: 1 NOTIFY\nEvent: message-summary\nContent-Type: application/simple-message-summary\nContent-Length: " +
		itoa(len(body)) + "\n\n" + strings.ReplaceAll(body, "\r\n", "\n")
}

// TestVoicemailOnTheCallersLeg: a queue abandon becomes a voicemail only
// with a message-summary NOTIFY for the extension that rang, after the
// PBX answered; a NOTIFY for someone else changes nothing.
func TestVoicemailOnTheCallersLeg(t *testing.T) {
	for _, tc := range []struct {
		name, mailbox string
		at            int
		want          reboundv1.Outcome
	}{
		{"notify for the extension that rang", "201", 9000, reboundv1.Outcome_OUTCOME_VOICEMAIL},
		{"notify for another mailbox", "305", 9000, reboundv1.Outcome_OUTCOME_ABANDONED},
		{"notify before the PBX answered", "201", 1000, reboundv1.Outcome_OUTCOME_ABANDONED},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, Config{})
			h.send(0, trunk, pbx, invite("A1", "5551230000", "5550100", "a", ""))
			h.send(100, pbx, phone, invite("B1", "5551230000", "201", "b", "X-CID: A1\n"))
			if tc.at < 2000 {
				h.send(tc.at, "10.0.0.9:5060", phone, notify("N1", tc.mailbox))
			}
			h.send(2000, "10.0.0.31:5060", pbx, response(486, "B1", "5551230000", "201", "b", "pb", "INVITE"))
			h.send(2100, pbx, trunk, response(200, "A1", "5551230000", "5550100", "a", "pa", "INVITE"))
			h.send(8000, trunk, pbx, bye("A1", "5551230000", "5550100", "a", "pa"))
			if tc.at >= 2000 {
				h.send(tc.at, "10.0.0.9:5060", phone, notify("N1", tc.mailbox))
			}
			recs := h.flush(60000)
			if len(recs) != 1 {
				t.Fatalf("records %d", len(recs))
			}
			if r := recs[0]; r.Outcome != tc.want {
				t.Errorf("outcome %v, want %v: %v", r.Outcome, tc.want, r.Evidence)
			} else if tc.want == reboundv1.Outcome_OUTCOME_VOICEMAIL && r.VoicemailBox != "201" {
				t.Errorf("box %q", r.VoicemailBox)
			}
		})
	}
}

// TestQueueLegAnsweredNoAgent: the PBX bridges the caller to a queue leg
// (answered, music) and no agent ever answers: the caller's BYE is an
// abandon, not an answered call.
func TestQueueLegAnsweredNoAgent(t *testing.T) {
	h := newHarness(t, Config{Direction: &Direction{Queues: []string{`^8\d\d$`}}})
	h.send(0, trunk, pbx, invite("A1", "5551230000", "5550177", "a", ""))
	h.send(50, pbx, "10.0.9.4:5060", invite("B1", "5551230000", "801", "b", "X-CID: A1\n"))
	h.send(300, "10.0.9.4:5060", pbx, response(200, "B1", "5551230000", "801", "b", "qb", "INVITE"))
	h.send(310, pbx, trunk, response(200, "A1", "5551230000", "5550177", "a", "pa", "INVITE"))
	h.send(9000, trunk, pbx, bye("A1", "5551230000", "5550177", "a", "pa"))
	h.send(9010, pbx, "10.0.9.4:5060", bye("B1", "5551230000", "801", "b", "qb"))
	recs := h.flush(60000)
	if len(recs) != 1 {
		t.Fatalf("records %d", len(recs))
	}
	r := recs[0]
	if r.Outcome != reboundv1.Outcome_OUTCOME_ABANDONED || r.Queue != "801" || r.HungUpBy != reboundv1.Party_PARTY_CALLER || r.AgentAnsweredAt != nil {
		t.Errorf("outcome %v queue %q hung up by %v evidence %v", r.Outcome, r.Queue, r.HungUpBy, r.Evidence)
	}
}
