package samples

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/reboundhq/rebound/agent/capture"
)

// TestAgentCaptureReadsSamples feeds every sample through the agent's real
// pcap source, rebased and replayed the way the demo does, and checks it
// delivers every SIP message and every RTP datagram with their timing.
func TestAgentCaptureReadsSamples(t *testing.T) {
	dir := t.TempDir()
	for _, c := range Calls() {
		t.Run(c.Name, func(t *testing.T) {
			d := decode(t, c)
			path := filepath.Join(dir, c.Name+".pcap")
			f, err := os.Create(path)
			if err != nil {
				t.Fatal(err)
			}
			start := time.Date(2031, 5, 6, 7, 8, 9, 0, time.UTC)
			if _, err := Replay(f, start, 0, c.Name); err != nil {
				t.Fatal(err)
			}
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
			var sipN, rtpN int
			var firstSIP, lastAt time.Time
			h := capture.HandlerFuncs{
				OnSIP: func(m capture.Message) {
					if sipN == 0 {
						firstSIP = m.At
					}
					sipN++
					lastAt = m.At
				},
				OnDatagram: func(dg capture.Datagram) {
					rtpN++
					lastAt = dg.At
				},
			}
			src := &capture.Pcap{Path: path}
			if err := src.Run(context.Background(), h); err != nil {
				t.Fatal(err)
			}
			var wantRTP int
			for _, n := range d.rtp {
				wantRTP += n
			}
			for _, n := range d.rtpEvents {
				wantRTP += n
			}
			if sipN != len(d.sip) || rtpN != wantRTP {
				t.Errorf("capture delivered %d SIP and %d datagrams, the file has %d and %d", sipN, rtpN, len(d.sip), wantRTP)
			}
			if !firstSIP.Equal(start) {
				t.Errorf("first SIP at %v, want the replay start %v", firstSIP, start)
			}
			if got, want := lastAt.Sub(firstSIP), d.end.Sub(d.first); got != want {
				t.Errorf("capture spans %v, the call %v", got, want)
			}
		})
	}
}
