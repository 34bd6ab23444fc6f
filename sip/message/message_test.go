package message

import (
	"github.com/reboundhq/rebound/sip/siptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/emiago/sipgo/sip"
)

func parse(t testing.TB, raw string) sip.Message {
	t.Helper()
	raw = strings.ReplaceAll(raw, "\n", "\r\n")
	m, err := sip.ParseMessage([]byte(raw))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return m
}

const invite = `INVITE sip:vm@pbx.example.com;target=sip:201%40pbx.example.com;cause=408 SIP/2.0
Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1
From: "Alice" <sip:+15551230000@trunk.example.com>;tag=a1
To: <sip:201@pbx.example.com>
Call-ID: abc@10.0.0.1
CSeq: 1 INVITE
Diversion: <sip:201@pbx.example.com>;reason=no-answer;counter=2, "Front" <sip:200@pbx.example.com>;reason="user-busy"
Diversion: <sip:7000@avaya>;reason=direct
History-Info: <sip:201@pbx.example.com>;index=1, <sip:vm@pbx.example.com;cause=408>;index=1.1;rc
History-Info: <sip:vm2@pbx.example.com?Reason=SIP%3Bcause%3D486>;index=1.1.1
P-Asserted-Identity: "Alice Smith" <sip:+15551230000@trunk.example.com>
X-CID: call-42;leg=b
Reason: SIP;cause=200;text="Call completed elsewhere", Q.850;cause=16
Content-Length: 0

`

func TestHeaders(t *testing.T) {
	m := parse(t, invite)

	ds := Diversions(m)
	if len(ds) != 3 {
		t.Fatalf("diversions = %d, want 3: %+v", len(ds), ds)
	}
	if User(ds[0].URI) != "201" || ds[0].Reason != "no-answer" || ds[0].Counter != 2 || !ds[0].IsForwarding() {
		t.Errorf("diversion 0 = %+v", ds[0])
	}
	if ds[1].Display != "Front" || ds[1].Reason != "user-busy" || ds[1].Counter != 1 {
		t.Errorf("diversion 1 = %+v", ds[1])
	}
	if ds[2].IsForwarding() {
		t.Errorf("reason=direct must not count as a forward")
	}

	hi := HistoryInfo(m)
	if len(hi) != 3 {
		t.Fatalf("history-info = %d: %+v", len(hi), hi)
	}
	if hi[1].Index != "1.1" || hi[1].Cause != 408 || hi[1].Mechanism != "rc" || hi[1].Parent() != "1" {
		t.Errorf("hi[1] = %+v", hi[1])
	}
	if hi[2].Cause != 486 {
		t.Errorf("embedded Reason cause = %d, want 486", hi[2].Cause)
	}
	rt := Retargets(hi)
	if len(rt) != 2 || User(rt[0].To.URI) != "vm" || User(rt[0].From.URI) != "201" {
		t.Errorf("retargets = %+v", rt)
	}

	rs := Reasons(m)
	if len(rs) != 2 || rs[0].Protocol != "SIP" || rs[0].Cause != 200 || rs[0].Text != "Call completed elsewhere" || rs[1].Cause != 16 {
		t.Errorf("reasons = %+v", rs)
	}
	if !CompletedElsewhere(rs) {
		t.Error("cause=200 is completed elsewhere")
	}

	req := m.(*sip.Request)
	vm, ok := VoicemailURI(req.Recipient)
	if !ok || vm.Target != "201" || vm.Cause != 408 || VoicemailCauseText(vm.Cause) != "no answer" {
		t.Errorf("voicemail = %+v %v", vm, ok)
	}
	if pai, ok := AssertedIdentity(m); !ok || pai.Display != "Alice Smith" || User(pai.URI) != "+15551230000" {
		t.Errorf("pai = %+v", pai)
	}

	c, err := NewCorrelator("x-cid", `^([^;]+)`)
	if err != nil {
		t.Fatal(err)
	}
	if k := c.Key(m); k != "call-42" {
		t.Errorf("key = %q", k)
	}
	plain, _ := NewCorrelator("X-CID", "")
	if k := plain.Key(m); k != "call-42;leg=b" {
		t.Errorf("plain key = %q", k)
	}
	if _, err := NewCorrelator("X", "("); err == nil {
		t.Error("bad regex accepted")
	}
}

// TestHistoryInfoSameURI is the trap from real Avaya traffic: index 1 and 1.1
// naming the same extension is an ordinary call, not a forward.
func TestHistoryInfoSameURI(t *testing.T) {
	m := parse(t, `INVITE sip:12054@maxus.lan SIP/2.0
Call-ID: x
History-Info: <sip:12054@maxus.lan>;index=1,"12054" <sip:12054@maxus.lan>;index=1.1
Content-Length: 0

`)
	hi := HistoryInfo(m)
	if len(hi) != 2 {
		t.Fatalf("entries = %d", len(hi))
	}
	if rt := Retargets(hi); len(rt) != 0 {
		t.Errorf("same URI reported as forward: %+v", rt)
	}
	// Same URI even with a cause is not a retarget.
	hi[1].Cause = 302
	if rt := Retargets(hi); len(rt) != 0 {
		t.Errorf("same URI with cause reported as forward: %+v", rt)
	}
}

func TestVoicemailURIWithout(t *testing.T) {
	var u sip.Uri
	if err := sip.ParseUri("sip:201@pbx", &u); err != nil {
		t.Fatal(err)
	}
	if _, ok := VoicemailURI(u); ok {
		t.Error("plain URI read as voicemail")
	}
}

func TestUserTel(t *testing.T) {
	var u sip.Uri
	if err := sip.ParseUri("tel:+1-555-123-4567;phone-context=example.com", &u); err != nil {
		t.Fatal(err)
	}
	if got := User(u); got != "+15551234567" {
		t.Errorf("tel user = %q", got)
	}
}

func TestMessageSummary(t *testing.T) {
	ms, ok := ParseMessageSummary([]byte("Messages-Waiting: yes\r\nMessage-Account: sip:201@pbx\r\nVoice-Message: 2/8 (0/2)\r\n"))
	if !ok || !ms.Waiting || ms.New != 2 || ms.Old != 8 || ms.Account != "sip:201@pbx" {
		t.Errorf("summary = %+v %v", ms, ok)
	}
	if _, ok := ParseMessageSummary([]byte("hello")); ok {
		t.Error("non-summary accepted")
	}
}

func TestSplitList(t *testing.T) {
	for in, want := range map[string]int{
		``:                            1,
		`<sip:a,b@x>, "c, d" <sip:e>`: 2,
		`a,b,c`:                       3,
		`"unterminated, x`:            1,
	} {
		if got := SplitList(in); len(got) != want {
			t.Errorf("SplitList(%q) = %q", in, got)
		}
	}
}

func TestMultipartVendorOffers(t *testing.T) {
	td := siptest.SharedTestdata(t)
	files, _ := filepath.Glob(filepath.Join(td, "siprec", "drachtio-vendor-offers", "*.txt"))
	if len(files) == 0 {
		t.Skip("no vendor offers")
	}
	for _, f := range files {
		name := filepath.Base(f)
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		parts, err := SplitMultipart("", data)
		if strings.HasPrefix(name, "sample-sdp") || name == "non-siprec-payload.txt" {
			if err == nil {
				t.Errorf("%s: plain body split into %d parts", name, len(parts))
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		var sdp, meta bool
		for _, p := range parts {
			switch p.ContentType {
			case "application/sdp":
				sdp = strings.HasPrefix(string(p.Body), "v=0")
			}
			if strings.Contains(p.ContentType, "rs-metadata") || strings.HasPrefix(p.Headers["content-disposition"], "recording-session") {
				meta = strings.Contains(string(p.Body), "recording")
			}
		}
		if !sdp || !meta {
			t.Errorf("%s: sdp=%v metadata=%v in %d parts", name, sdp, meta, len(parts))
		}
	}
}

func TestBodyMultipart(t *testing.T) {
	raw := "INVITE sip:srs@x SIP/2.0\r\nCall-ID: 1\r\nContent-Type: multipart/mixed;boundary=foo\r\n" +
		"Content-Length: 0\r\n\r\n"
	m, err := sip.ParseMessage([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	m.SetBody([]byte("--foo\r\nContent-Type: application/sdp\r\n\r\nv=0\r\nm=audio 4000 RTP/AVP 0\r\n--foo\r\nContent-Type: application/rs-metadata+xml\r\n\r\n<recording/>\r\n--foo--\r\n"))
	if b := Body(m, "application/sdp"); !strings.HasPrefix(string(b), "v=0") || strings.Contains(string(b), "--foo") {
		t.Errorf("sdp part = %q", b)
	}
	if b := Body(m, "application/rs-metadata+xml"); string(b) != "<recording/>" {
		t.Errorf("metadata part = %q", b)
	}
	if b := Body(m, "text/plain"); b != nil {
		t.Errorf("missing part = %q", b)
	}
}

func FuzzHeaders(f *testing.F) {
	f.Add(invite)
	f.Add("INVITE sip:a@b SIP/2.0\nCall-ID: 1\nHistory-Info: <sip:x?Reason=SIP%3Bcause%3D>;index=1.\nDiversion: ,,<\nReason: ;;\n\n")
	f.Fuzz(func(t *testing.T, raw string) {
		raw = strings.ReplaceAll(raw, "\n", "\r\n")
		m, err := sip.ParseMessage([]byte(raw))
		if err != nil {
			return
		}
		_ = Diversions(m)
		_ = Retargets(HistoryInfo(m))
		_ = Reasons(m)
		_, _ = AssertedIdentity(m)
		if r, ok := m.(*sip.Request); ok {
			_, _ = VoicemailURI(r.Recipient)
		}
		_, _ = SplitMultipart("", m.Body())
	})
}

func FuzzSplitMultipart(f *testing.F) {
	f.Add("multipart/mixed;boundary=x", "--x\r\nContent-Type: application/sdp\r\n\r\nv=0\r\n--x--")
	f.Add("", "--b\nno headers\n--b")
	f.Fuzz(func(t *testing.T, ct, body string) {
		parts, err := SplitMultipart(ct, []byte(body))
		if err == nil && len(parts) == 0 {
			t.Fatal("no error and no parts")
		}
	})
}
