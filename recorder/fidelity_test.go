package recorder

import (
	"math/rand/v2"
	"net/netip"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	reboundv1 "github.com/reboundhq/rebound/proto/rebound/v1"
	"github.com/reboundhq/rebound/sip/siptest"
)

// speech8k renders text with espeak-ng and sox to 8 kHz 16-bit mono.
func speech8k(t testing.TB, text string) []int16 {
	t.Helper()
	espeak := siptest.Peer(t, "espeak-ng")
	sox := siptest.Peer(t, "sox")
	dir := t.TempDir()
	wav := filepath.Join(dir, "s.wav")
	if out, err := exec.Command(espeak, "-w", wav, text).CombinedOutput(); err != nil {
		t.Fatalf("espeak-ng: %v %s", err, out)
	}
	raw := filepath.Join(dir, "s.raw")
	if out, err := exec.Command(sox, wav, "-r", "8000", "-e", "signed", "-b", "16", "-c", "1", "-t", "raw", raw).CombinedOutput(); err != nil {
		t.Fatalf("sox: %v %s", err, out)
	}
	s := readRawFile(t, raw)
	return s[:len(s)/160*160] // whole packets, so the expected length is exact
}

const (
	callerText = "Hi, my water heater is leaking and I need someone out today. Can you give me a price?"
	agentText  = "Thanks for calling, I can book a technician this afternoon between two and four."
)

// TestImpairedStreams injects loss, reordering, duplication and jitter into
// the caller's RTP and checks the recording sample by sample: lost packets
// are silence of their exact length and nothing after a gap moves.
func TestImpairedStreams(t *testing.T) {
	caller := speech8k(t, callerText)
	agent := speech8k(t, agentText)
	callerU, agentU := ulaw(caller), ulaw(agent)
	refCaller, refAgent := decodeRef(callerU), decodeRef(agentU)
	agentStart := 500 * time.Millisecond

	lostIdx := map[int]bool{50: true, 51: true, 52: true, 53: true, 54: true, 120: true}
	cases := []struct {
		name    string
		mangle  func([]rtpPkt) []rtpPkt
		lost    map[int]bool
		dups    uint64
		reorder bool
	}{
		{name: "clean", mangle: func(p []rtpPkt) []rtpPkt { return p }},
		{name: "loss", lost: lostIdx, mangle: func(p []rtpPkt) []rtpPkt {
			var out []rtpPkt
			for i, x := range p {
				if !lostIdx[i] {
					out = append(out, x)
				}
			}
			return out
		}},
		{name: "reorder", reorder: true, mangle: func(p []rtpPkt) []rtpPkt {
			// Packet i arrives 5 ms after packet i+1.
			for i := 10; i+1 < len(p); i += 7 {
				p[i].at = p[i+1].at.Add(5 * time.Millisecond)
			}
			return p
		}},
		{name: "duplicates", dups: uint64((len(callerU)/160 - 1) / 10), mangle: func(p []rtpPkt) []rtpPkt {
			var out []rtpPkt
			for i, x := range p {
				out = append(out, x)
				if i%10 == 9 {
					d := x
					d.at = x.at.Add(3 * time.Millisecond)
					out = append(out, d)
				}
			}
			return out
		}},
		{name: "jitter", reorder: true, mangle: func(p []rtpPkt) []rtpPkt {
			rng := rand.New(rand.NewPCG(1, 2))
			for i := 1; i < len(p); i++ {
				p[i].at = p[i].at.Add(time.Duration(rng.IntN(80)) * time.Millisecond)
			}
			slices.SortStableFunc(p, func(a, b rtpPkt) int { return a.at.Compare(b.at) })
			return p
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := newTestRecorder(t, nil)
			r.Media("c", g711Endpoints()...)
			cp := tc.mangle(packetize(t, callerU, 0, 0xC0FFEE, 65500, 4294960000, testEpoch, callerAddr, agentAddr))
			ap := packetize(t, agentU, 0, 0xA6E47, 7, 1234, testEpoch.Add(agentStart), agentAddr, callerAddr)
			all := append(cp, ap...)
			slices.SortStableFunc(all, func(a, b rtpPkt) int { return a.at.Compare(b.at) })
			for _, p := range all {
				r.Packet(p.at, p.src, p.dst, p.buf)
			}
			res, err := r.Close("c")
			if err != nil {
				t.Fatal(err)
			}
			rate, left, right := readWAV(t, recPath(r, res))
			if rate != 8000 {
				t.Fatalf("rate %d", rate)
			}
			wantFrames := max(len(refCaller), int(agentStart.Seconds()*8000)+len(refAgent))
			if d := res.Recording.DurationMs - int64(wantFrames/8); d < -20 || d > 20 {
				t.Fatalf("duration %d ms, want %d +- 20", res.Recording.DurationMs, wantFrames/8)
			}
			exp := slices.Clone(refCaller)
			for i := range tc.lost {
				clear(exp[i*160 : (i+1)*160])
			}
			for i := range exp {
				if left[i] != exp[i] {
					t.Fatalf("caller sample %d (packet %d) = %d, want %d", i, i/160, left[i], exp[i])
				}
			}
			off := int(agentStart.Seconds() * 8000)
			if s := snrDB(refAgent, right[off:]); s < 40 {
				t.Fatalf("agent SNR %.1f dB", s)
			}
			for i := 0; i < off; i++ {
				if right[i] != 0 {
					t.Fatalf("agent channel has sound at %d before the agent spoke", i)
				}
			}
			var cs *reboundv1.StreamStats
			for _, s := range res.Recording.Streams {
				if s.Channel == reboundv1.Channel_CHANNEL_CALLER {
					cs = s
				}
			}
			if cs.Lost != uint64(len(tc.lost)) || cs.Duplicated != tc.dups || (cs.OutOfOrder > 0) != tc.reorder {
				t.Fatalf("caller stats %+v", cs)
			}
			if len(tc.lost) == 0 && slices.Contains(res.Flags, reboundv1.HealthFlag_HEALTH_FLAG_PACKET_LOSS) {
				t.Fatalf("loss flagged without loss")
			}
			t.Logf("caller: packets=%d lost=%d dup=%d ooo=%d jitter=%.2fms; SNR agent %.1f dB", cs.Packets, cs.Lost, cs.Duplicated, cs.OutOfOrder, cs.JitterMs, snrDB(refAgent, right[off:]))
		})
	}
}

// TestHoldResume puts the caller on hold with a re-INVITE and resumes from a
// new port; the resumed stream restarts its sequence and timestamps (new SSRC,
// or the same SSRC with a timestamp jump). The caller's speech after resume
// must sit exactly where capture time puts it, and the agent (who kept
// sending) must not move.
func TestHoldResume(t *testing.T) {
	caller := speech8k(t, callerText)
	agent := speech8k(t, agentText)
	callerU, agentU := ulaw(caller), ulaw(agent)
	first, second := callerU[:16000], callerU[16000:] // 2 s, then the rest
	resumeAt := 4 * time.Second
	newCaller := netip.MustParseAddrPort("10.0.0.1:40100")

	cases := []struct {
		name        string
		ssrc        uint32
		seq         uint16
		ts          uint32
		marker      bool
		skipPackets int // packets after resume that may be dropped while re-anchoring
	}{
		{name: "new SSRC", ssrc: 0xBEEF, seq: 9, ts: 777, marker: true},
		{name: "same SSRC, timestamps continue as if no hold", ssrc: 0xC0FFEE, seq: 100 + 100, ts: 5000 + 16000, marker: true},
		{name: "same SSRC, jump without marker", ssrc: 0xC0FFEE, seq: 100 + 100, ts: 5000 + 16000 + 123456, skipPackets: 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := newTestRecorder(t, nil)
			r.Media("c", g711Endpoints()...)
			pk := packetize(t, first, 0, 0xC0FFEE, 100, 5000, testEpoch, callerAddr, agentAddr)
			resumed := packetize(t, second, 0, tc.ssrc, tc.seq, tc.ts, testEpoch.Add(resumeAt), newCaller, agentAddr)
			resumed[0].buf[1] &^= 0x80
			if tc.marker {
				resumed[0].buf[1] |= 0x80
			}
			ag := packetize(t, agentU, 0, 0xA6E47, 1, 1, testEpoch.Add(20*time.Millisecond), agentAddr, callerAddr)
			all := append(append(pk, resumed...), ag...)
			slices.SortStableFunc(all, func(a, b rtpPkt) int { return a.at.Compare(b.at) })
			held := false
			for _, p := range all {
				if !held && !p.at.Before(testEpoch.Add(2*time.Second)) {
					// re-INVITE (hold, then resume on a new port).
					r.Media("c", Endpoint{Channel: reboundv1.Channel_CHANNEL_CALLER, Addr: newCaller})
					held = true
				}
				if !r.Packet(p.at, p.src, p.dst, p.buf) {
					t.Fatalf("packet from %s not matched", p.src)
				}
			}
			res, err := r.Close("c")
			if err != nil {
				t.Fatal(err)
			}
			_, left, right := readWAV(t, recPath(r, res))
			ref1, ref2, refA := decodeRef(first), decodeRef(second), decodeRef(agentU)
			for i := range ref1 {
				if left[i] != ref1[i] {
					t.Fatalf("before hold: sample %d", i)
				}
			}
			at := int(resumeAt.Seconds() * 8000)
			for i := len(ref1); i < at; i++ {
				if left[i] != 0 {
					t.Fatalf("sound during hold at sample %d", i)
				}
			}
			skip := tc.skipPackets * 160
			if s := snrDB(ref2[skip:], left[at+skip:]); s < 40 {
				t.Fatalf("after resume SNR %.1f dB (misaligned)", s)
			}
			if s := snrDB(refA, right[160:]); s < 40 {
				t.Fatalf("agent SNR %.1f dB", s)
			}
		})
	}
}
