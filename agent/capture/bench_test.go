package capture

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// benchRTPPerLeg is how many RTP packets each direction of a synthetic call
// carries: enough to make RTP the bulk of the packets, small enough that
// the 10,000-call file stays a few tens of MB on a shared machine.
const benchRTPPerLeg = 10

// writeSyntheticCalls writes calls answered-and-hung-up calls (INVITE, 100,
// 180, 200, ACK, BYE, 200) over UDP, with RTP in both directions when rtp
// is set, and returns the packet count.
func writeSyntheticCalls(tb testing.TB, path string, calls int, rtp bool) int {
	tb.Helper()
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	w := pcapgo.NewWriter(f)
	if err := w.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
		tb.Fatal(err)
	}
	at := time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)
	n := 0
	write := func(frame []byte) {
		at = at.Add(100 * time.Microsecond)
		if err := w.WritePacket(gopacket.CaptureInfo{Timestamp: at, CaptureLength: len(frame), Length: len(frame)}, frame); err != nil {
			tb.Fatal(err)
		}
		n++
	}
	udp := func(src, dst netip.AddrPort, payload []byte) {
		write(ether(tb, layers.EthernetTypeIPv4, ipUDP(tb, src, dst, payload)))
	}
	trunk := netip.MustParseAddrPort("203.0.113.5:5060")
	pbx := netip.MustParseAddrPort("192.0.2.20:5060")
	for i := range calls {
		id := fmt.Sprintf("bench-%d", i)
		udp(trunk, pbx, sipInvite(id, 0))
		udp(pbx, trunk, sipResponse(id, 100, "Trying"))
		udp(pbx, trunk, sipResponse(id, 180, "Ringing"))
		udp(pbx, trunk, sipResponse(id, 200, "OK"))
		udp(trunk, pbx, []byte(fmt.Sprintf("ACK sip:100@192.0.2.20 SIP/2.0\r\nCall-ID: %s\r\nCSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n", id)))
		if rtp {
			a := netip.AddrPortFrom(trunk.Addr(), uint16(10000+2*(i%20000)))
			b := netip.AddrPortFrom(pbx.Addr(), uint16(30000+2*(i%15000)))
			for s := range benchRTPPerLeg {
				udp(a, b, rtpPacket(uint16(s)))
				udp(b, a, rtpPacket(uint16(s)))
			}
		}
		udp(trunk, pbx, []byte(fmt.Sprintf("BYE sip:100@192.0.2.20 SIP/2.0\r\nCall-ID: %s\r\nCSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n", id)))
		udp(pbx, trunk, sipResponse(id, 200, "OK"))
	}
	return n
}

// countingHandler routes without keeping anything, like a pipeline that
// drops what matches no call.
type countingHandler struct{ sip, dgs, bytes int }

func (h *countingHandler) SIP(m Message) { h.sip++ }
func (h *countingHandler) Datagram(d Datagram) {
	h.dgs++
	h.bytes += len(d.Payload)
}

// BenchmarkCapturePcap measures the pcap source end to end (read, decode,
// route to the handler) on synthetic captures, next to a baseline that only
// reads the file with pcapgo, and the decode path alone on frames in memory.
func BenchmarkCapturePcap(b *testing.B) {
	for _, calls := range []int{1000, 10000} {
		for _, withRTP := range []bool{false, true} {
			kind := "sip"
			if withRTP {
				kind = "sip+rtp"
			}
			path := filepath.Join(b.TempDir(), "calls.pcap")
			packets := writeSyntheticCalls(b, path, calls, withRTP)
			name := fmt.Sprintf("%s/calls=%d", kind, calls)

			b.Run(name+"/pcapgo-read-baseline", func(b *testing.B) {
				measure(b, packets, calls, func() {
					f, err := os.Open(path)
					if err != nil {
						b.Fatal(err)
					}
					defer f.Close()
					r, err := pcapgo.NewReader(f)
					if err != nil {
						b.Fatal(err)
					}
					for {
						if _, _, err := r.ZeroCopyReadPacketData(); err == io.EOF {
							return
						} else if err != nil {
							b.Fatal(err)
						}
					}
				})
			})
			b.Run(name+"/pcap-source", func(b *testing.B) {
				h := &countingHandler{}
				measure(b, packets, calls, func() {
					p := &Pcap{Path: path}
					if err := p.Run(context.Background(), h); err != nil {
						b.Fatal(err)
					}
				})
				if want := 7 * calls * b.N; h.sip != want {
					b.Fatalf("%d SIP messages, want %d", h.sip, want)
				}
			})
			b.Run(name+"/decode-in-memory", func(b *testing.B) {
				frames := readFrames(b, path)
				h := &countingHandler{}
				var counters Counters
				d := newDecoder(Config{}, &counters, h)
				at := time.Now()
				measure(b, packets, calls, func() {
					for _, fr := range frames {
						d.packet(layers.LinkTypeEthernet, fr, at, len(fr))
					}
				})
			})
			if !withRTP {
				continue
			}
			b.Run(name+"/rtp-only-in-memory", func(b *testing.B) {
				// The RTP frames alone: the steady state of a busy
				// mirror port, where 0 allocations per packet is the goal.
				var rtpFrames [][]byte
				for _, fr := range readFrames(b, path) {
					if len(fr) > 42 && fr[42] == 0x80 { // Ethernet+IPv4+UDP, RTP v2
						rtpFrames = append(rtpFrames, fr)
					}
				}
				h := &countingHandler{}
				var counters Counters
				d := newDecoder(Config{}, &counters, h)
				at := time.Now()
				measure(b, len(rtpFrames), calls, func() {
					for _, fr := range rtpFrames {
						d.packet(layers.LinkTypeEthernet, fr, at, len(fr))
					}
				})
				if h.dgs != len(rtpFrames)*b.N {
					b.Fatalf("%d datagrams, want %d", h.dgs, len(rtpFrames)*b.N)
				}
			})
		}
	}
}

// measure runs pass b.N times and reports packets/s, calls/s and
// allocations per packet.
func measure(b *testing.B, packets, calls int, pass func()) {
	b.Helper()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		pass()
	}
	elapsed := time.Since(start)
	b.StopTimer()
	runtime.ReadMemStats(&after)
	total := float64(packets) * float64(b.N)
	b.ReportMetric(total/elapsed.Seconds(), "packets/s")
	b.ReportMetric(float64(calls)*float64(b.N)/elapsed.Seconds(), "calls/s")
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/total, "allocs/packet")
}

func readFrames(b *testing.B, path string) [][]byte {
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	r, err := pcapgo.NewReader(f)
	if err != nil {
		b.Fatal(err)
	}
	var frames [][]byte
	for {
		data, _, err := r.ReadPacketData()
		if err == io.EOF {
			return frames
		}
		if err != nil {
			b.Fatal(err)
		}
		frames = append(frames, data)
	}
}
