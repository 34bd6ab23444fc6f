package pipeline

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/reboundhq/rebound/agent/calls"
	"github.com/reboundhq/rebound/agent/capture"
	reboundv1 "github.com/reboundhq/rebound/proto/rebound/v1"
)

// FuzzPipelineSIP drives raw SIP messages (split on a marker line) through
// parse -> dialog -> calls. Malformed input is counted, never fatal, and every
// record that comes out is complete.
func FuzzPipelineSIP(f *testing.F) {
	f.Add(strings.Join([]string{
		"INVITE sip:600@pbx SIP/2.0\r\nVia: SIP/2.0/UDP a;branch=z9hG4bK1\r\nFrom: <sip:5551230000@c>;tag=f\r\nTo: <sip:600@pbx>\r\nCall-ID: a\r\nCSeq: 1 INVITE\r\nX-CID: k\r\nContent-Length: 0\r\n\r\n",
		"INVITE sip:201@pbx SIP/2.0\r\nVia: SIP/2.0/UDP a;branch=z9hG4bK2\r\nFrom: <sip:5551230000@c>;tag=g\r\nTo: <sip:201@pbx>\r\nCall-ID: b\r\nCSeq: 1 INVITE\r\nX-CID: k\r\nDiversion: <sip:200@pbx>;reason=no-answer\r\nContent-Length: 0\r\n\r\n",
		"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP a;branch=z9hG4bK1\r\nFrom: <sip:5551230000@c>;tag=f\r\nTo: <sip:600@pbx>;tag=t\r\nCall-ID: a\r\nCSeq: 1 INVITE\r\nContent-Type: application/sdp\r\nContent-Length: 36\r\n\r\nv=0\r\nc=IN IP4 1.2.3.4\r\nm=audio 9 RTP/AVP 0\r\n",
		"CANCEL sip:201@pbx SIP/2.0\r\nVia: SIP/2.0/UDP a;branch=z9hG4bK2\r\nFrom: <sip:5551230000@c>;tag=g\r\nTo: <sip:201@pbx>\r\nCall-ID: b\r\nCSeq: 1 CANCEL\r\nReason: SIP;cause=200\r\nContent-Length: 0\r\n\r\n",
		"BYE sip:x SIP/2.0\r\nVia: SIP/2.0/UDP a;branch=z9hG4bK3\r\nFrom: <sip:5551230000@c>;tag=f\r\nTo: <sip:600@pbx>;tag=t\r\nCall-ID: a\r\nCSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n",
	}, "\n--next--\n"))
	f.Add("garbage\n--next--\nSIP/2.0 200\r\n\r\n")
	for _, seed := range realSIPSeeds() {
		f.Add(seed)
	}
	src := netip.MustParseAddrPort("192.0.2.1:5060")
	dst := netip.MustParseAddrPort("192.0.2.2:5060")
	f.Fuzz(func(t *testing.T, input string) {
		var out []*reboundv1.CallRecord
		p, err := New(Options{SiteID: "fuzz", Calls: calls.Config{}, Emit: func(r *reboundv1.CallRecord) { out = append(out, r) }})
		if err != nil {
			t.Fatal(err)
		}
		at := time.Unix(1700000000, 0)
		for _, part := range strings.Split(input, "\n--next--\n") {
			at = at.Add(300 * time.Millisecond)
			p.SIP(capture.Message{At: at, Src: src, Dst: dst, Transport: "udp", Raw: []byte(part)})
			p.Datagram(capture.Datagram{At: at, Src: src, Dst: dst, Payload: []byte(part)})
		}
		p.Flush(time.Time{})
		for _, r := range out {
			if r.CallId == "" || r.Outcome == reboundv1.Outcome_OUTCOME_UNSPECIFIED || r.StartedAt == nil || r.EndedAt == nil || len(r.Legs) == 0 {
				t.Fatalf("incomplete record: %v", r)
			}
		}
	})
}

// realSIPSeeds returns the SIP messages of a few public captures (when the
// shared test data is present), each capture as one seed.
func realSIPSeeds() []string {
	dir, err := os.Getwd()
	if err != nil {
		return nil
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		if filepath.Dir(dir) == dir {
			return nil
		}
		dir = filepath.Dir(dir)
	}
	var seeds []string
	for _, name := range []string{"sngrep/aaa.pcap", "sipnab/sip-488-codec-reject.pcapng", "sipnab/b2bua-asterisk.pcapng",
		"heplify/erspan_sip_ipv4_udp.pcapng", "heplify/sip_ipv4_tcp_fragmented.pcap"} {
		var msgs []string
		src := &capture.Pcap{Path: filepath.Join(dir, "..", "shared", "testdata", "pcap", name), Config: capture.Config{SIPPorts: []uint16{5060, 6060}}}
		h := capture.HandlerFuncs{OnSIP: func(m capture.Message) {
			if len(msgs) < 40 {
				msgs = append(msgs, string(m.Raw))
			}
		}}
		if err := src.Run(context.Background(), h); err != nil || len(msgs) == 0 {
			continue
		}
		seeds = append(seeds, strings.Join(msgs, "\n--next--\n"))
	}
	return seeds
}
