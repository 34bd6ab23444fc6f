package recorder

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"net/netip"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pion/rtp"
)

// benchCall is one synthetic G.711 call: two addresses and two packet buffers
// whose sequence number and timestamp are rewritten in place per packet.
type benchCall struct {
	id   string
	addr [2]netip.AddrPort
	pkt  [2][]byte
	seq  [2]uint16
	ts   [2]uint32
}

func benchCalls(n int) []*benchCall {
	tone := ulaw(sine(440, 8000, 20*time.Millisecond, 8000))
	calls := make([]*benchCall, n)
	for i := range calls {
		c := &benchCall{id: fmt.Sprintf("bench-%d", i)}
		for d := 0; d < 2; d++ {
			ip := netip.AddrFrom4([4]byte{10, byte(d + 1), byte(i >> 8), byte(i)})
			c.addr[d] = netip.AddrPortFrom(ip, uint16(20000+2*(i%20000)))
			p := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 0, SSRC: uint32(i*2 + d + 1)}, Payload: tone}
			c.pkt[d], _ = p.Marshal()
			c.seq[d] = uint16(i)
			c.ts[d] = uint32(i * 1000)
		}
		calls[i] = c
	}
	return calls
}

// next rewrites the call's packet for direction d and returns it.
func (c *benchCall) next(d int) []byte {
	c.seq[d]++
	c.ts[d] += 160
	binary.BigEndian.PutUint16(c.pkt[d][2:], c.seq[d])
	binary.BigEndian.PutUint32(c.pkt[d][4:], c.ts[d])
	return c.pkt[d]
}

// cpuTime is the process's user plus system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func rssMB() float64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if rest, ok := strings.CutPrefix(s.Text(), "VmRSS:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			return kb / 1024
		}
	}
	return 0
}

// BenchmarkRecordConcurrent drives N concurrent two-way G.711 calls at 100
// packets/s each (20 ms packets both ways) through one Recorder on one
// goroutine, with capture time advancing 10 ms per round of N packets. One op
// is one packet. calls/core is how many such calls one core sustains. The
// parse-only baseline does the RTP header parse alone on the same packets.
func BenchmarkRecordConcurrent(b *testing.B) {
	for _, n := range []int{1000, 2000, 5000} {
		b.Run(fmt.Sprintf("calls=%d/parse-only", n), func(b *testing.B) {
			calls := benchCalls(n)
			var h rtp.Header
			b.ReportAllocs()
			cpu0 := cpuTime()
			b.ResetTimer()
			for k := 0; k < b.N; k++ {
				c := calls[k%n]
				if _, err := h.Unmarshal(c.next((k / n) % 2)); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			cpuPerPkt := float64((cpuTime() - cpu0).Nanoseconds()) / float64(b.N)
			b.ReportMetric(cpuPerPkt, "cpu-ns/pkt")
			b.ReportMetric(1e9/cpuPerPkt/100, "calls/core")
		})
		b.Run(fmt.Sprintf("calls=%d", n), func(b *testing.B) {
			runtime.GC()
			debug.FreeOSMemory()
			r := newTestRecorder(b, nil)
			calls := benchCalls(n)
			for _, c := range calls {
				r.Media(c.id, g711Endpoints()...)
				r.Media(c.id, Endpoint{Channel: 1, Addr: c.addr[0]}, Endpoint{Channel: 2, Addr: c.addr[1]})
			}
			base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			// Warm up: one second of every call so files and buffers exist.
			round := 0
			for ; round < 100; round++ {
				at := base.Add(time.Duration(round) * 10 * time.Millisecond)
				for _, c := range calls {
					d := round % 2
					r.Packet(at, c.addr[d], c.addr[1-d], c.next(d))
				}
			}
			b.ReportAllocs()
			cpu0 := cpuTime()
			b.ResetTimer()
			var at time.Time
			for k := 0; k < b.N; k++ {
				i := k % n
				rd := round + k/n
				if i == 0 {
					at = base.Add(time.Duration(rd) * 10 * time.Millisecond)
				}
				c := calls[i]
				d := rd % 2
				if !r.Packet(at, c.addr[d], c.addr[1-d], c.next(d)) {
					b.Fatal("packet not matched")
				}
			}
			b.StopTimer()
			cpuPerPkt := float64((cpuTime() - cpu0).Nanoseconds()) / float64(b.N)
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			b.ReportMetric(rssMB(), "RSS-MB")
			b.ReportMetric(float64(ms.HeapInuse)/1e6, "heap-MB")
			// Per core: CPU time (user+system, all threads) per packet, so a
			// shared machine's waits do not count; 100 packets/s per call.
			b.ReportMetric(cpuPerPkt, "cpu-ns/pkt")
			b.ReportMetric(1e9/cpuPerPkt/100, "calls/core")
			for _, c := range calls {
				if res, err := r.Close(c.id); err != nil || res.Recording == nil {
					b.Fatalf("close: %v", err)
				}
			}
		})
	}
}
