package samples

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/emiago/sipgo/sip"

	"github.com/reboundhq/rebound/sip/message"
	"github.com/reboundhq/rebound/sip/sdp"
)

// TestSamplesReadBySignallingPackages checks that the project's own SIP
// helpers read in the samples what the scripts put there: the correlation
// header, the forward, the RFC 4458 voicemail URI, the message summary, the
// cancel reasons and every SDP media endpoint.
func TestSamplesReadBySignallingPackages(t *testing.T) {
	site := SampleSite()
	corr, err := message.NewCorrelator(site.CorrelationHeader, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range Calls() {
		t.Run(c.Name, func(t *testing.T) {
			d := decode(t, c)
			invites := d.requests("INVITE")
			aID := invites[0].CallID().Value()
			if k := corr.Key(invites[0]); k != "" {
				t.Errorf("the A-leg carries correlation key %q", k)
			}
			for _, inv := range invites[1:] {
				if k := corr.Key(inv); k != aID {
					t.Errorf("leg %s correlates to %q, want the A-leg %q", inv.CallID().Value(), k, aID)
				}
			}
			media := map[netip.AddrPort]bool{}
			var sawDiversion, sawVoicemail, sawSummary bool
			for _, m := range d.sip {
				if body := m.Body(); len(body) > 0 && strings.Contains(message.Header(m, "Content-Type"), "application/sdp") {
					s, err := sdp.Parse(body)
					if err != nil {
						t.Fatalf("sdp.Parse: %v\n%s", err, body)
					}
					for _, a := range s.Audio() {
						media[netip.AddrPortFrom(a.Addr, a.Port)] = true
						if len(a.Codecs) == 0 {
							t.Errorf("no codecs read from %s", body)
						}
					}
				}
				for _, dv := range message.Diversions(m) {
					sawDiversion = true
					if !dv.IsForwarding() || dv.Reason != "time-of-day" || message.User(dv.URI) != c.Dialled {
						t.Errorf("diversion %+v", dv)
					}
				}
				req, ok := m.(*sip.Request)
				if !ok {
					continue
				}
				if req.Method == sip.CANCEL || req.Method == sip.BYE {
					if message.CompletedElsewhere(message.Reasons(m)) {
						t.Errorf("%s carries 'answered elsewhere' (cause=200): no sample call was answered elsewhere", req.Method)
					}
				}
				if vm, ok := message.VoicemailURI(req.Recipient); ok && req.Method == sip.INVITE {
					sawVoicemail = true
					if !strings.Contains(vm.Target, c.Extension) || vm.Cause != 408 {
						t.Errorf("voicemail URI read as %+v", vm)
					}
				}
				if req.Method == sip.NOTIFY {
					ms, ok := message.ParseMessageSummary(req.Body())
					sawSummary = ok && ms.Waiting && ms.New == 1
				}
			}
			for f := range d.rtp {
				if !media[f.src] {
					t.Errorf("RTP from %s is in no SDP sip/sdp parsed", f.src)
				}
			}
			if want := c.Flow == FlowForwarded; sawDiversion != want {
				t.Errorf("Diversion seen %v, want %v", sawDiversion, want)
			}
			if want := c.Flow == FlowVoicemail; sawVoicemail != want || sawSummary != want {
				t.Errorf("voicemail URI %v, message summary %v, want %v", sawVoicemail, sawSummary, want)
			}
		})
	}
}
