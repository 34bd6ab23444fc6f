package dialog

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
)

var (
	t0     = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	caller = netip.MustParseAddrPort("203.0.113.5:5060")
	pbx    = netip.MustParseAddrPort("10.0.0.2:5060")
	proxy  = netip.MustParseAddrPort("10.0.0.9:5060")
)

const inviteTmpl = `INVITE sip:201@pbx SIP/2.0
Via: SIP/2.0/UDP 203.0.113.5;branch=z9hG4bK1
From: <sip:5551230000@carrier>;tag=ft
To: <sip:201@pbx>
Call-ID: CID
CSeq: SEQ INVITE
Content-Type: application/sdp
Content-Length: 0

v=0
c=IN IP4 203.0.113.5
m=audio 4000 RTP/AVP 0 101
a=rtpmap:101 telephone-event/8000
`

func msg(t testing.TB, raw string, repl ...string) sip.Message {
	t.Helper()
	r := strings.NewReplacer(repl...)
	raw = r.Replace(raw)
	head, body, _ := strings.Cut(raw, "\n\n")
	head = strings.ReplaceAll(head, "\n", "\r\n")
	body = strings.ReplaceAll(body, "\n", "\r\n")
	head = strings.Replace(head, "Content-Length: 0", "Content-Length: "+itoa(len(body)), 1)
	m, err := sip.ParseMessage([]byte(head + "\r\n\r\n" + body))
	if err != nil {
		t.Fatalf("parse: %v\n%s", err, raw)
	}
	return m
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for n > 0 {
		b = append([]byte{byte('0' + n%10)}, b...)
		n /= 10
	}
	return string(b)
}

func resp(t testing.TB, code int, reason, method, seq, toTag, body string) sip.Message {
	raw := "SIP/2.0 " + itoa(code) + " " + reason + "\nVia: SIP/2.0/UDP 203.0.113.5;branch=z9hG4bK1\nFrom: <sip:5551230000@carrier>;tag=ft\nTo: <sip:201@pbx>"
	if toTag != "" {
		raw += ";tag=" + toTag
	}
	raw += "\nCall-ID: c1\nCSeq: " + seq + " " + method + "\n"
	if body != "" {
		raw += "Content-Type: application/sdp\n"
	}
	raw += "Content-Length: 0\n\n" + body
	return msg(t, raw)
}

func req(t testing.TB, method, seq, fromTag, toTag string, extra string) sip.Message {
	from, to := "<sip:5551230000@carrier>;tag="+fromTag, "<sip:201@pbx>"
	if toTag != "" {
		to += ";tag=" + toTag
	}
	if fromTag != "ft" { // request from the callee: From/To swap
		from, to = "<sip:201@pbx>;tag="+fromTag, "<sip:5551230000@carrier>;tag="+toTag
	}
	raw := method + " sip:x@y SIP/2.0\nVia: SIP/2.0/UDP a;branch=z9hG4bK" + method + "\nFrom: " + from + "\nTo: " + to +
		"\nCall-ID: c1\nCSeq: " + seq + " " + method + "\n" + extra + "Content-Length: 0\n\n"
	return msg(t, raw)
}

type recorder struct {
	started, ended []*Dialog
	media          []MediaEndpoint
}

func (r *recorder) hooks() Hooks {
	return Hooks{
		Started: func(d *Dialog) { r.started = append(r.started, d) },
		Media:   func(d *Dialog, ep MediaEndpoint) { r.media = append(r.media, ep) },
		Ended:   func(d *Dialog) { r.ended = append(r.ended, d) },
	}
}

func at(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }

func TestAnsweredCallWithRetransmissionsAndSecondHop(t *testing.T) {
	var r recorder
	tr := New(Config{}, r.hooks())
	inv := msg(t, inviteTmpl, "CID", "c1", "SEQ", "1")
	tr.Message(at(0), caller, proxy, "udp", inv)
	tr.Message(at(2), proxy, pbx, "udp", inv)      // second hop
	tr.Message(at(500), caller, proxy, "udp", inv) // retransmission
	tr.Message(at(600), pbx, proxy, "udp", resp(t, 180, "Ringing", "INVITE", "1", "tt", ""))
	ok := resp(t, 200, "OK", "INVITE", "1", "tt", "v=0\r\nc=IN IP4 10.0.0.2\r\nm=audio 5000 RTP/AVP 0\r\n")
	tr.Message(at(3000), pbx, proxy, "udp", ok)
	tr.Message(at(3001), proxy, caller, "udp", ok)
	tr.Message(at(3002), caller, pbx, "udp", req(t, "ACK", "1", "ft", "tt", ""))
	tr.Message(at(9000), pbx, caller, "udp", req(t, "BYE", "2", "tt", "ft", ""))
	if len(r.started) != 1 || len(r.ended) != 0 {
		t.Fatalf("started %d ended %d", len(r.started), len(r.ended))
	}
	tr.Advance(at(12000))
	if len(r.ended) != 1 {
		t.Fatalf("ended %d", len(r.ended))
	}
	d := r.ended[0]
	if d.Duplicates != 3 || d.EndCause != EndBye || d.Bye.Side != SideCallee || d.Final != 200 || !d.Answered.Equal(at(3000)) {
		t.Errorf("dup %d cause %v bye side %v final %d answered %v", d.Duplicates, d.EndCause, d.Bye.Side, d.Final, d.Answered)
	}
	if d.InviteSrc != caller || d.FinalEvent.Src != pbx {
		t.Errorf("first hop not kept: invite from %v, 200 from %v", d.InviteSrc, d.FinalEvent.Src)
	}
	if len(r.media) != 2 || r.media[0].Side != SideCaller || r.media[1].Side != SideCallee ||
		r.media[1].Media.Endpoint() != netip.MustParseAddrPort("10.0.0.2:5000") {
		t.Errorf("media %+v", r.media)
	}
	if len(d.Provisional) != 1 || d.Provisional[0] != 180 {
		t.Errorf("provisional %v", d.Provisional)
	}
	// A late retransmission of the BYE does not open a new dialog.
	tr.Message(at(13000), pbx, caller, "udp", req(t, "BYE", "2", "tt", "ft", ""))
	if tr.Open() != 0 || tr.Stats().LateDropped != 1 {
		t.Errorf("open %d late %d", tr.Open(), tr.Stats().LateDropped)
	}
}

func TestCancelAndAuthRetry(t *testing.T) {
	var r recorder
	tr := New(Config{}, r.hooks())
	tr.Message(at(0), caller, pbx, "udp", msg(t, inviteTmpl, "CID", "c1", "SEQ", "1"))
	tr.Message(at(10), pbx, caller, "udp", resp(t, 407, "Proxy Authentication Required", "INVITE", "1", "a1", ""))
	tr.Message(at(20), caller, pbx, "udp", req(t, "ACK", "1", "ft", "a1", ""))
	tr.Message(at(900), caller, pbx, "udp", msg(t, inviteTmpl, "CID", "c1", "SEQ", "2"))
	tr.Advance(at(3000))
	if len(r.ended) != 0 || len(r.started) != 1 {
		t.Fatalf("auth retry closed the dialog: ended %d started %d", len(r.ended), len(r.started))
	}
	tr.Message(at(4000), caller, pbx, "udp", req(t, "CANCEL", "2", "ft", "", "Reason: SIP;cause=487\n"))
	tr.Message(at(4010), pbx, caller, "udp", resp(t, 487, "Request Terminated", "INVITE", "2", "b1", ""))
	tr.Advance(at(20000))
	if len(r.ended) != 1 {
		t.Fatalf("ended %d", len(r.ended))
	}
	d := r.ended[0]
	if d.AuthRetries != 1 || d.Cancel == nil || !d.Cancel.At.Equal(at(4000)) || d.Final != 487 || d.EndCause != EndFailure {
		t.Errorf("retries %d cancel %v final %d cause %v", d.AuthRetries, d.Cancel, d.Final, d.EndCause)
	}
}

func TestTimeouts(t *testing.T) {
	var r recorder
	tr := New(Config{NoFinalResponse: time.Minute, NoBye: time.Hour}, r.hooks())
	tr.Message(at(0), caller, pbx, "udp", msg(t, inviteTmpl, "CID", "ring", "SEQ", "1"))
	ans := msg(t, inviteTmpl, "CID", "talk", "SEQ", "1")
	tr.Message(at(0), caller, pbx, "udp", ans)
	ok := resp(t, 200, "OK", "INVITE", "1", "x", "")
	ok.CallID()
	*ok.CallID() = sip.CallIDHeader("talk")
	tr.Message(at(100), pbx, caller, "udp", ok)
	tr.Advance(t0.Add(59 * time.Second))
	if len(r.ended) != 0 {
		t.Fatal("closed too early")
	}
	tr.Advance(t0.Add(61 * time.Second))
	if len(r.ended) != 1 || r.ended[0].CallID != "ring" || r.ended[0].EndCause != EndTimeoutNoFinal ||
		!strings.Contains(r.ended[0].EndNote, "no final response within 1m0s") {
		t.Fatalf("ringing dialog not closed by timeout: %+v", r.ended)
	}
	tr.Advance(t0.Add(2 * time.Hour))
	if len(r.ended) != 2 || r.ended[1].EndCause != EndTimeoutNoBye || !strings.Contains(r.ended[1].EndNote, "no BYE") {
		t.Fatalf("answered dialog not closed by timeout: %+v", r.ended)
	}
	if tr.Stats().TimedOut != 2 {
		t.Errorf("timed out %d", tr.Stats().TimedOut)
	}
}

func TestBoundedAndFlush(t *testing.T) {
	var r recorder
	tr := New(Config{MaxDialogs: 3, MaxEvents: 4}, r.hooks())
	for i := 0; i < 5; i++ {
		tr.Message(at(i), caller, pbx, "udp", msg(t, inviteTmpl, "CID", "c"+itoa(i+1), "SEQ", "1"))
	}
	if tr.Open() != 3 || len(r.ended) != 2 || r.ended[0].EndCause != EndEvicted || r.ended[0].CallID != "c1" {
		t.Fatalf("open %d ended %d", tr.Open(), len(r.ended))
	}
	// Events per dialog are bounded too.
	for i := 0; i < 10; i++ {
		tr.Message(at(10+i), caller, pbx, "udp", req(t, "INFO", itoa(i+2), "ft", "z", ""))
	}
	tr.Flush(at(100))
	if tr.Open() != 0 || len(r.ended) != 5 {
		t.Fatalf("flush left %d open, ended %d", tr.Open(), len(r.ended))
	}
	for _, d := range r.ended[2:] {
		if d.EndCause != EndCaptureEnded || d.EndNote != "capture ended with no final response" {
			t.Errorf("%s: %v %q", d.CallID, d.EndCause, d.EndNote)
		}
	}
}

func TestHoldMedia(t *testing.T) {
	var r recorder
	tr := New(Config{}, r.hooks())
	tr.Message(at(0), caller, pbx, "udp", msg(t, inviteTmpl, "CID", "c1", "SEQ", "1"))
	reinv := "INVITE sip:x@y SIP/2.0\nVia: SIP/2.0/UDP a;branch=z9hG4bKre\nFrom: <sip:5551230000@carrier>;tag=ft\nTo: <sip:201@pbx>;tag=tt\nCall-ID: c1\nCSeq: 2 INVITE\nContent-Type: application/sdp\nContent-Length: 0\n\nv=0\nc=IN IP4 203.0.113.5\nm=audio 4000 RTP/AVP 0\na=sendonly\n"
	tr.Message(at(5000), caller, pbx, "udp", msg(t, reinv))
	if len(r.media) != 2 || !r.media[1].Media.OnHold() || r.media[1].Side != SideCaller {
		t.Fatalf("hold not seen: %+v", r.media)
	}
	if d := r.started[0]; d.Invite.CSeq().SeqNo != 1 {
		t.Errorf("re-INVITE replaced the initial INVITE")
	}
}

// FuzzDialog feeds a sequence of raw SIP messages (split on a marker line)
// to a tracker: it must never panic and must close every dialog on Flush.
func FuzzDialog(f *testing.F) {
	seed := strings.Join([]string{
		strings.ReplaceAll(strings.Replace(inviteTmpl, "CID", "c1", 1), "SEQ", "1"),
		"SIP/2.0 180 Ringing\nVia: SIP/2.0/UDP a;branch=z9hG4bK1\nFrom: <sip:a@b>;tag=ft\nTo: <sip:c@d>;tag=t\nCall-ID: c1\nCSeq: 1 INVITE\nContent-Length: 0\n\n",
		"CANCEL sip:201@pbx SIP/2.0\nVia: SIP/2.0/UDP a;branch=z9hG4bK1\nFrom: <sip:a@b>;tag=ft\nTo: <sip:c@d>\nCall-ID: c1\nCSeq: 1 CANCEL\nReason: SIP;cause=200\nContent-Length: 0\n\n",
		"SIP/2.0 487 Request Terminated\nVia: SIP/2.0/UDP a;branch=z9hG4bK1\nFrom: <sip:a@b>;tag=ft\nTo: <sip:c@d>;tag=t\nCall-ID: c1\nCSeq: 1 INVITE\nContent-Length: 0\n\n",
		"BYE sip:x SIP/2.0\nVia: SIP/2.0/UDP a;branch=z9hG4bK2\nFrom: <sip:c@d>;tag=t\nTo: <sip:a@b>;tag=ft\nCall-ID: c2\nCSeq: 5 BYE\nContent-Length: 0\n\n",
		"NOTIFY sip:201@pbx SIP/2.0\nVia: SIP/2.0/UDP a;branch=z9hG4bK3\nFrom: <sip:vm@pbx>;tag=v\nTo: <sip:201@pbx>\nCall-ID: n1\nCSeq: 1 NOTIFY\nEvent: message-summary\nContent-Type: application/simple-message-summary\nContent-Length: 22\n\nMessages-Waiting: yes\n",
	}, "\n--next--\n")
	f.Add(seed, uint16(500))
	f.Fuzz(func(t *testing.T, input string, stepMs uint16) {
		var r recorder
		tr := New(Config{MaxDialogs: 8, MaxEvents: 8}, r.hooks())
		now := t0
		for _, part := range strings.Split(input, "\n--next--\n") {
			raw := strings.ReplaceAll(part, "\n", "\r\n")
			m, err := sip.ParseMessage([]byte(raw))
			if err != nil {
				continue
			}
			now = now.Add(time.Duration(stepMs) * time.Millisecond)
			tr.Message(now, caller, pbx, "udp", m)
		}
		tr.Flush(now.Add(time.Second))
		if tr.Open() != 0 {
			t.Fatalf("%d dialogs open after Flush", tr.Open())
		}
		for _, d := range r.ended {
			if d.EndCause == EndOpen {
				t.Fatalf("dialog %q ended with cause open", d.CallID)
			}
		}
	})
}

// TestSIPRECMultipart: a SIPREC INVITE carries SDP and rs-metadata in a
// multipart body; both recorded streams become media endpoints.
func TestSIPRECMultipart(t *testing.T) {
	dir, _ := os.Getwd()
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		if filepath.Dir(dir) == dir {
			t.Skip("go.mod not found")
		}
		dir = filepath.Dir(dir)
	}
	body, err := os.ReadFile(filepath.Join(dir, "..", "shared", "testdata", "siprec", "drachtio-vendor-offers", "cisco-siprec-offer.txt"))
	if err != nil {
		t.Skipf("shared test data: %v", err)
	}
	body = []byte(strings.ReplaceAll(strings.ReplaceAll(string(body), "\r\n", "\n"), "\n", "\r\n"))
	head := "INVITE sip:srs@10.0.0.5 SIP/2.0\r\nVia: SIP/2.0/UDP 172.31.93.236;branch=z9hG4bKsrc\r\nFrom: <sip:src@172.31.93.236>;tag=s1\r\n" +
		"To: <sip:srs@10.0.0.5>\r\nCall-ID: siprec-1\r\nCSeq: 1 INVITE\r\nRequire: siprec\r\n" +
		"Content-Type: multipart/mixed;boundary=uniqueBoundary\r\nContent-Length: " + itoa(len(body)) + "\r\n\r\n"
	m, err := sip.ParseMessage(append([]byte(head), body...))
	if err != nil {
		t.Fatal(err)
	}
	var r recorder
	tr := New(Config{}, r.hooks())
	tr.Message(t0, netip.MustParseAddrPort("172.31.93.236:5060"), netip.MustParseAddrPort("10.0.0.5:5060"), "udp", m)
	if len(r.media) != 2 {
		t.Fatalf("media endpoints = %d, want 2", len(r.media))
	}
	for i, want := range []string{"172.31.93.236:10292", "172.31.93.236:10294"} {
		ep := r.media[i]
		if ep.Media.Endpoint() != netip.MustParseAddrPort(want) || ep.Media.Label != itoa(i+1) || !ep.Offer {
			t.Errorf("stream %d: %v label %q", i, ep.Media.Endpoint(), ep.Media.Label)
		}
	}
}

// TestSBCTopologyHiding: an SBC that keeps the Call-ID but rewrites tags
// and CSeq numbers on its far side (as in the real ERSPAN capture): each
// message counts once, and sides and the answer are still right when a
// response is first seen on the far side.
func TestSBCTopologyHiding(t *testing.T) {
	var r recorder
	tr := New(Config{}, r.hooks())
	sbcIn := netip.MustParseAddrPort("198.51.100.1:5060")
	sbcOut := netip.MustParseAddrPort("192.168.1.222:5060")
	phone := netip.MustParseAddrPort("192.168.1.191:5060")
	mk := func(start, from, to, cseq string) sip.Message {
		return msg(t, start+"\nVia: SIP/2.0/UDP x;branch=z9hG4bKx\nFrom: "+from+"\nTo: "+to+"\nCall-ID: sbc1\nCSeq: "+cseq+"\nContent-Length: 0\n\n")
	}
	// Near side: tags a/b, CSeq 1709929694. Far side: tags A/B, CSeq 11.
	tr.Message(at(0), caller, sbcIn, "udp", mk("INVITE sip:201@sbc SIP/2.0", "<sip:555@c>;tag=a", "<sip:201@sbc>", "1709929694 INVITE"))
	tr.Message(at(2), sbcOut, phone, "udp", mk("INVITE sip:201@phone SIP/2.0", "<sip:555@sbc>;tag=A", "<sip:201@phone>", "11 INVITE"))
	tr.Message(at(900), phone, sbcOut, "udp", mk("SIP/2.0 200 OK", "<sip:555@sbc>;tag=A", "<sip:201@phone>;tag=B", "11 INVITE"))
	tr.Message(at(902), sbcIn, caller, "udp", mk("SIP/2.0 200 OK", "<sip:555@c>;tag=a", "<sip:201@sbc>;tag=b", "1709929694 INVITE"))
	tr.Message(at(5000), phone, sbcOut, "udp", mk("BYE sip:555@sbc SIP/2.0", "<sip:201@phone>;tag=B", "<sip:555@sbc>;tag=A", "12 BYE"))
	tr.Message(at(5002), sbcIn, caller, "udp", mk("BYE sip:555@c SIP/2.0", "<sip:201@sbc>;tag=b", "<sip:555@c>;tag=a", "5 BYE"))
	tr.Flush(at(9000))
	if len(r.ended) != 1 {
		t.Fatalf("dialogs %d", len(r.ended))
	}
	d := r.ended[0]
	if d.Duplicates != 3 || len(d.Events) != 3 {
		t.Errorf("duplicates %d events %d", d.Duplicates, len(d.Events))
	}
	if !d.Answered.Equal(at(900)) || d.FinalEvent.Side != SideCallee || d.Bye == nil || d.Bye.Side != SideCallee {
		t.Errorf("answered %v final side %v bye %+v", d.Answered, d.FinalEvent.Side, d.Bye)
	}
}

// TestReInviteRightAfterAnswer: a re-INVITE (direct media) a few
// milliseconds after the answer is a new message, not a second hop.
func TestReInviteRightAfterAnswer(t *testing.T) {
	var r recorder
	tr := New(Config{}, r.hooks())
	tr.Message(at(0), caller, pbx, "udp", msg(t, inviteTmpl, "CID", "c1", "SEQ", "1"))
	tr.Message(at(100), pbx, caller, "udp", resp(t, 200, "OK", "INVITE", "1", "tt", "v=0\r\nc=IN IP4 10.0.0.2\r\nm=audio 5000 RTP/AVP 0\r\n"))
	reinv := "INVITE sip:x@y SIP/2.0\nVia: SIP/2.0/UDP a;branch=z9hG4bKre\nFrom: <sip:201@pbx>;tag=tt\nTo: <sip:5551230000@carrier>;tag=ft\nCall-ID: c1\nCSeq: 7 INVITE\nContent-Type: application/sdp\nContent-Length: 0\n\nv=0\nc=IN IP4 10.0.0.77\nm=audio 7000 RTP/AVP 0\n"
	tr.Message(at(150), proxy, caller, "udp", msg(t, reinv))
	tr.Flush(at(1000))
	d := r.ended[0]
	if d.Duplicates != 0 || len(d.Events) != 3 {
		t.Fatalf("duplicates %d events %d", d.Duplicates, len(d.Events))
	}
	if ep, ok := d.LastMedia(SideCallee); !ok || ep.Media.Endpoint() != netip.MustParseAddrPort("10.0.0.77:7000") {
		t.Errorf("direct-media re-INVITE lost: %+v", ep)
	}
}
