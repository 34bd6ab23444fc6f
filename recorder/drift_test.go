package recorder

import (
	"testing"
	"time"
)

// TestDriftFollowsCaptureTime sends one beep per second of RTP time from a
// sender whose clock is off, or whose first packet was delayed. Every beep
// must land where capture time puts it (within 20 ms), not where the
// drifting RTP clock would.
func TestDriftFollowsCaptureTime(t *testing.T) {
	const seconds = 30
	pcm := make([]int16, seconds*8000)
	for s := 0; s < seconds; s++ {
		copy(pcm[s*8000:], sine(1000, 8000, 60*time.Millisecond, 10000))
	}
	enc := ulaw(pcm)
	cases := []struct {
		name     string
		interval time.Duration // real time between packets (20 ms of RTP time each)
		delay0   time.Duration // extra delay of the first packet only
		from     int           // first beep checked
	}{
		{name: "sender clock 0.5% slow", interval: 20100 * time.Microsecond},
		{name: "sender clock 0.5% fast", interval: 19900 * time.Microsecond},
		{name: "first packet 60ms late", interval: 20 * time.Millisecond, delay0: 60 * time.Millisecond, from: 3},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := newTestRecorder(t, nil)
			r.Media("d", g711Endpoints()...)
			pk := packetize(t, enc, 0, 9, 1, 1, testEpoch, callerAddr, agentAddr)
			for i := range pk {
				pk[i].at = testEpoch.Add(time.Duration(i) * tc.interval)
				if i == 0 {
					pk[i].at = pk[i].at.Add(tc.delay0)
				}
			}
			for _, p := range pk {
				r.Packet(p.at, p.src, p.dst, p.buf)
			}
			res, err := r.Close("d")
			if err != nil {
				t.Fatal(err)
			}
			_, left, _ := readWAV(t, recPath(r, res))
			t0 := pk[0].at
			worst := time.Duration(0)
			for s := tc.from; s < seconds; s++ {
				// The beep starts in packet 50*s; capture time says when.
				want := int(pk[50*s].at.Sub(t0).Nanoseconds() * 8000 / 1e9)
				got := -1
				for i := max(0, want-2000); i < min(len(left), want+2000); i++ {
					if left[i] > 3000 || left[i] < -3000 {
						got = i
						break
					}
				}
				if got < 0 {
					t.Fatalf("beep %d not found near %d", s, want)
				}
				if d := time.Duration(got-want) * time.Second / 8000; d.Abs() > worst {
					worst = d.Abs()
				}
			}
			t.Logf("worst beep misplacement %s; notes %v", worst, res.Notes)
			if worst > 20*time.Millisecond {
				t.Fatalf("beeps off capture time by up to %s", worst)
			}
		})
	}
}
