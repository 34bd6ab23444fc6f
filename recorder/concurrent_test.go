package recorder

import (
	"fmt"
	"net/netip"
	"sync"
	"testing"
	"time"

	reboundv1 "github.com/reboundhq/rebound/proto/rebound/v1"
)

// TestConcurrentCalls runs calls on several goroutines while retention runs,
// as the pipeline and the agent do; under -race it checks the locking.
func TestConcurrentCalls(t *testing.T) {
	r := newTestRecorder(t, nil)
	tone := ulaw(sine(700, 8000, 2*time.Second, 6000))
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := fmt.Sprintf("call-%d", g)
			ca := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 1, 0, byte(g)}), 30000)
			aa := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 2, 0, byte(g)}), 30000)
			r.Media(id, Endpoint{Channel: reboundv1.Channel_CHANNEL_CALLER, Addr: ca}, Endpoint{Channel: reboundv1.Channel_CHANNEL_AGENT, Addr: aa})
			pc := packetize(t, tone, 0, uint32(g), 1, 1, testEpoch, ca, aa)
			pa := packetize(t, tone, 0, uint32(g+100), 1, 1, testEpoch, aa, ca)
			for i := range pc {
				r.Packet(pc[i].at, pc[i].src, pc[i].dst, pc[i].buf)
				r.Packet(pa[i].at, pa[i].src, pa[i].dst, pa[i].buf)
			}
			res, err := r.Close(id)
			if err != nil {
				t.Error(err)
				return
			}
			if res.Recording.DurationMs != 2000 || len(res.Flags) != 0 {
				t.Errorf("%s: %+v %v", id, res.Recording, res.Flags)
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < 20; i++ {
			if _, err := r.Prune(); err != nil {
				t.Error(err)
			}
		}
	}()
	wg.Wait()
	if r.OpenCalls() != 0 {
		t.Fatalf("%d calls still open", r.OpenCalls())
	}
}
