package recorder

import (
	"net/netip"
	"slices"
	"testing"
	"time"

	reboundv1 "github.com/reboundhq/rebound/proto/rebound/v1"
)

func TestTwoWayG711(t *testing.T) {
	r := newTestRecorder(t, nil)
	r.Media("call-1", g711Endpoints()...)
	caller := sine(440, 8000, 3*time.Second, 8000)
	agent := sine(1000, 8000, 2*time.Second, 8000)
	pk := packetize(t, ulaw(caller), 0, 0x1111, 100, 5000, testEpoch, callerAddr, agentAddr)
	// The agent starts talking one second in.
	pk = append(pk, packetize(t, ulaw(agent), 0, 0x2222, 65000, 0xFFFFF000, testEpoch.Add(time.Second), agentAddr, callerAddr)...)
	slices.SortStableFunc(pk, func(a, b rtpPkt) int { return a.at.Compare(b.at) })
	for _, p := range pk {
		if !r.Packet(p.at, p.src, p.dst, p.buf) {
			t.Fatal("packet not matched")
		}
	}
	if r.Packet(testEpoch, netip.MustParseAddrPort("10.9.9.9:1"), netip.MustParseAddrPort("10.9.9.8:2"), pk[0].buf) {
		t.Fatal("stranger packet matched")
	}
	res, err := r.Close("call-1")
	if err != nil {
		t.Fatal(err)
	}
	if res.Recording == nil || res.Recording.Ref == "" {
		t.Fatalf("no recording: %+v", res)
	}
	if len(res.Flags) != 0 {
		t.Fatalf("flags %v notes %v", res.Flags, res.Notes)
	}
	rate, left, right := readWAV(t, recPath(r, res))
	if rate != 8000 {
		t.Fatalf("rate %d", rate)
	}
	if len(left) != 3*8000 {
		t.Fatalf("frames %d, want %d", len(left), 3*8000)
	}
	if got := res.Recording.DurationMs; got != 3000 {
		t.Fatalf("duration %d ms", got)
	}
	for _, s := range res.Recording.Streams {
		if s.Lost != 0 || s.Duplicated != 0 || s.OutOfOrder != 0 {
			t.Fatalf("stream stats %+v", s)
		}
	}
	// Agent channel is silent for the first second, then carries the tone.
	for i := 0; i < 8000; i++ {
		if right[i] != 0 {
			t.Fatalf("agent sample %d = %d before the agent spoke", i, right[i])
		}
	}
	if snr := snrDB(decodeRef(ulaw(agent)), right[8000:]); snr < 40 {
		t.Fatalf("agent SNR %.1f dB", snr)
	}
	if snr := snrDB(decodeRef(ulaw(caller)), left); snr < 40 {
		t.Fatalf("caller SNR %.1f dB", snr)
	}
	_ = reboundv1.Channel_CHANNEL_AGENT
}
