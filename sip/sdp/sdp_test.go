package sdp

import (
	"github.com/reboundhq/rebound/sip/siptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/reboundhq/rebound/sip/message"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name     string
		body     string
		endpoint string
		dir      Direction
		hold     bool
		codecs   int
		pt0      string
	}{
		{
			name:     "session level c, sendrecv default",
			body:     "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0 8 101\r\na=rtpmap:101 telephone-event/8000\r\n",
			endpoint: "10.0.0.1:4000", dir: SendRecv, codecs: 1, pt0: "PCMU",
		},
		{
			name:     "media level c overrides, IPv6, LF only",
			body:     "v=0\nc=IN IP4 10.0.0.1\nm=audio 5004 RTP/AVP 9\nc=IN IP6 2001:db8::5\na=rtpmap:9 G722/8000\na=sendonly\n",
			endpoint: "[2001:db8::5]:5004", dir: SendOnly, hold: true, codecs: 1, pt0: "",
		},
		{
			name:     "old style hold",
			body:     "v=0\r\nc=IN IP4 0.0.0.0\r\nm=audio 4000 RTP/AVP 0\r\n",
			endpoint: "0.0.0.0:4000", dir: SendRecv, hold: true, pt0: "PCMU",
		},
		{
			name:     "session-level inactive",
			body:     "v=0\r\nc=IN IP4 192.0.2.1\r\na=inactive\r\nm=audio 4000 RTP/AVP 8\r\na=rtpmap:8 PCMA/8000/1\r\n",
			endpoint: "192.0.2.1:4000", dir: Inactive, hold: true, codecs: 1,
		},
		{
			name:     "opus stereo",
			body:     "v=0\r\nc=IN IP4 192.0.2.1\r\nm=audio 4000 RTP/SAVP 111\r\na=rtpmap:111 opus/48000/2\r\na=recvonly\r\n",
			endpoint: "192.0.2.1:4000", dir: RecvOnly, codecs: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Parse([]byte(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			a := s.Audio()
			if len(a) != 1 {
				t.Fatalf("audio sections = %d", len(a))
			}
			if got := a[0].Endpoint(); got != netip.MustParseAddrPort(tt.endpoint) {
				t.Errorf("endpoint = %v, want %v", got, tt.endpoint)
			}
			if a[0].EffectiveDirection() != tt.dir {
				t.Errorf("direction = %v, want %v", a[0].EffectiveDirection(), tt.dir)
			}
			if s.OnHold() != tt.hold {
				t.Errorf("hold = %v", s.OnHold())
			}
			if len(a[0].Codecs) != tt.codecs {
				t.Errorf("codecs = %+v", a[0].Codecs)
			}
			if tt.pt0 != "" {
				if c, ok := a[0].Codec(0); !ok || c.Name != tt.pt0 || c.Rate != 8000 {
					t.Errorf("pt 0 = %+v", c)
				}
			}
		})
	}
	s, _ := Parse([]byte(tests[4].body))
	if c, _ := s.Audio()[0].Codec(111); c.Name != "opus" || c.Rate != 48000 || c.Channels != 2 {
		t.Errorf("opus = %+v", c)
	}
	if !s.Audio()[0].Secure {
		t.Error("SAVP not secure")
	}
}

func TestParseErrors(t *testing.T) {
	for _, body := range []string{"", "hello", "v=0\r\nm=audio x RTP/AVP 0\r\n", "v=0\r\nc=IN IP4 2001:db8::1\r\n", "v=0\r\nc=IN\r\n"} {
		if _, err := Parse([]byte(body)); err == nil {
			t.Errorf("Parse(%q) accepted", body)
		}
	}
}

// TestVendorOffers parses the SDP of every real SIPREC offer: two labelled
// audio streams (one per participant) with PCMU and telephone-event.
func TestVendorOffers(t *testing.T) {
	td := siptest.SharedTestdata(t)
	files, _ := filepath.Glob(filepath.Join(td, "siprec", "drachtio-vendor-offers", "*.txt"))
	if len(files) == 0 {
		t.Skip("no offers")
	}
	for _, f := range files {
		name := filepath.Base(f)
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		body := data
		if parts, err := message.SplitMultipart("", data); err == nil {
			body = nil
			for _, p := range parts {
				if p.ContentType == "application/sdp" {
					body = p.Body
				}
			}
		}
		s, err := Parse(body)
		if name == "non-siprec-payload.txt" {
			// A plain SDP (one sendonly stream), not a multipart offer.
			if err != nil || len(s.Audio()) != 1 || s.Audio()[0].Endpoint() != netip.MustParseAddrPort("172.31.93.236:10292") {
				t.Errorf("%s: %v %+v", name, err, s)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		audio := s.Audio()
		if len(audio) == 0 {
			t.Errorf("%s: no audio", name)
			continue
		}
		for _, m := range audio {
			if m.Port == 0 || len(m.Payloads) == 0 {
				t.Errorf("%s: stream %+v", name, m)
			}
			for _, pt := range m.Payloads {
				if _, ok := m.Codec(pt); !ok && pt < 96 {
					t.Errorf("%s: static pt %d unknown", name, pt)
				}
			}
		}
		if strings.Contains(name, "inactive") {
			if !audio[0].OnHold() && !audio[len(audio)-1].OnHold() {
				t.Errorf("%s: inactive stream not seen", name)
			}
		}
		if strings.Contains(name, "siprec") && len(audio) == 2 && (audio[0].Label == "" || audio[0].EffectiveDirection() != SendOnly) {
			t.Errorf("%s: SIPREC stream label=%q dir=%s", name, audio[0].Label, audio[0].EffectiveDirection())
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add("v=0\r\nc=IN IP4 10.0.0.1\r\nm=audio 4000 RTP/AVP 0 8 101\r\na=rtpmap:101 telephone-event/8000\r\na=sendonly\r\n")
	f.Add("v=0\nm=audio 1/2 RTP/AVP 300\nc=IN IP6 ::\na=rtpmap:x\na=rtcp:\n")
	f.Fuzz(func(t *testing.T, body string) {
		s, err := Parse([]byte(body))
		if err != nil {
			return
		}
		for _, m := range s.Media {
			_ = m.Endpoint()
			_ = m.OnHold()
			for _, pt := range m.Payloads {
				_, _ = m.Codec(pt)
			}
		}
	})
}
