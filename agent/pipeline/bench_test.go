package pipeline

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/pion/rtp"

	"github.com/reboundhq/rebound/agent/calls"
	"github.com/reboundhq/rebound/agent/capture"
	reboundv1 "github.com/reboundhq/rebound/proto/rebound/v1"
	"github.com/reboundhq/rebound/recorder"
)

// callMessages returns the seven messages of one answered call.
func callMessages(i int) [][]byte {
	cid := fmt.Sprintf("bench-%d@10.0.0.1", i)
	caller := fmt.Sprintf("555%07d", i)
	hdr := func(start, cseq, toTag string) string {
		to := "<sip:201@10.0.0.2>"
		if toTag != "" {
			to += ";tag=" + toTag
		}
		return start + "\r\nVia: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK" + cid + cseq +
			"\r\nFrom: <sip:" + caller + "@10.0.0.1>;tag=f" + caller + "\r\nTo: " + to +
			"\r\nCall-ID: " + cid + "\r\nCSeq: " + cseq + "\r\n"
	}
	sdp := func(ip string, port int) string {
		return fmt.Sprintf("v=0\r\no=- 1 1 IN IP4 %s\r\ns=-\r\nc=IN IP4 %s\r\nt=0 0\r\nm=audio %d RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n", ip, ip, port)
	}
	withBody := func(h, body string) []byte {
		return []byte(h + "Content-Type: application/sdp\r\nContent-Length: " + fmt.Sprint(len(body)) + "\r\n\r\n" + body)
	}
	empty := func(h string) []byte { return []byte(h + "Content-Length: 0\r\n\r\n") }
	port := 10000 + 2*(i%20000)
	return [][]byte{
		withBody(hdr("INVITE sip:201@10.0.0.2 SIP/2.0", "1 INVITE", ""), sdp("10.0.0.1", port)),
		empty(hdr("SIP/2.0 100 Trying", "1 INVITE", "")),
		empty(hdr("SIP/2.0 180 Ringing", "1 INVITE", "t1")),
		withBody(hdr("SIP/2.0 200 OK", "1 INVITE", "t1"), sdp("10.0.0.2", port)),
		empty(hdr("ACK sip:201@10.0.0.2 SIP/2.0", "1 ACK", "t1")),
		empty(hdr("BYE sip:201@10.0.0.2 SIP/2.0", "2 BYE", "t1")),
		empty(hdr("SIP/2.0 200 OK", "2 BYE", "t1")),
	}
}

var (
	benchSrc = netip.MustParseAddrPort("10.0.0.1:5060")
	benchDst = netip.MustParseAddrPort("10.0.0.2:5060")
)

// BenchmarkPipelineSIP measures parse + dialog tracking + correlation +
// classification per call (seven messages), with 1,000 calls in flight.
// The baseline sub-benchmark only parses the same messages with sipgo.
func BenchmarkPipelineSIP(b *testing.B) {
	const pool = 1000
	msgs := make([][][]byte, pool)
	for i := range msgs {
		msgs[i] = callMessages(i)
	}
	b.Run("baseline-sipgo-parse", func(b *testing.B) {
		parser := sip.NewParser()
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			for _, raw := range msgs[i%pool] {
				if _, err := parser.ParseSIP(raw); err != nil {
					b.Fatal(err)
				}
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "calls/s")
	})
	b.Run("pipeline", func(b *testing.B) {
		n := 0
		p, err := New(Options{SiteID: "bench", Calls: calls.Config{}, Emit: func(*reboundv1.CallRecord) { n++ }})
		if err != nil {
			b.Fatal(err)
		}
		at := time.Unix(1700000000, 0)
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			// Each round reuses the pool's Call-IDs: 70 s of capture time
			// later, their previous dialogs and calls are long closed.
			for j, raw := range msgs[i%pool] {
				at = at.Add(10 * time.Millisecond)
				src, dst := benchSrc, benchDst
				if j == 1 || j == 2 || j == 3 || j == 6 {
					src, dst = dst, src
				}
				p.SIP(capture.Message{At: at, Src: src, Dst: dst, Transport: "udp", Raw: raw})
			}
		}
		p.Flush(at.Add(time.Minute))
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "calls/s")
		if n != b.N {
			b.Fatalf("%d records for %d calls", n, b.N)
		}
	})
}

// BenchmarkPipelineRTP measures one RTP packet routed by the pipeline into
// the recorder (SDP endpoint lookup, decode, jitter buffer, WAV write), and
// the recorder alone as a baseline. Goal: zero allocations per packet.
func BenchmarkPipelineRTP(b *testing.B) {
	payload := make([]byte, 160)
	for i := range payload {
		payload[i] = byte(0x55 + i%7)
	}
	mkPacket := func(seq uint16, ts uint32) []byte {
		pkt := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 0, SequenceNumber: seq, Timestamp: ts, SSRC: 0x1234}, Payload: payload}
		buf, _ := pkt.Marshal()
		return buf
	}
	const n = 4096
	pkts := make([][]byte, n)
	for i := range pkts {
		pkts[i] = mkPacket(uint16(i), uint32(i*160))
	}
	rtpSrc := netip.MustParseAddrPort("10.0.0.1:10000")
	rtpDst := netip.MustParseAddrPort("10.0.0.2:10000")

	run := func(b *testing.B, feed func(at time.Time, payload []byte)) {
		at := time.Unix(1700000000, 0)
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			at = at.Add(20 * time.Millisecond)
			// Rewrite sequence and timestamp in place so the stream runs on.
			p := pkts[i%n]
			seq := uint16(i)
			ts := uint32(i * 160)
			p[2], p[3] = byte(seq>>8), byte(seq)
			p[4], p[5], p[6], p[7] = byte(ts>>24), byte(ts>>16), byte(ts>>8), byte(ts)
			feed(at, p)
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "packets/s")
	}
	newRec := func(b *testing.B) *recorder.Recorder {
		rec, err := recorder.New(recorder.Config{Dir: b.TempDir()}, discard(), nil)
		if err != nil {
			b.Fatal(err)
		}
		return rec
	}
	b.Run("baseline-recorder", func(b *testing.B) {
		rec := newRec(b)
		rec.Media("c1", recorder.Endpoint{Channel: reboundv1.Channel_CHANNEL_CALLER, Addr: rtpSrc, Payloads: map[uint8]recorder.Codec{0: {Name: "PCMU", ClockRate: 8000}}})
		run(b, func(at time.Time, p []byte) { rec.Packet(at, rtpSrc, rtpDst, p) })
	})
	b.Run("pipeline", func(b *testing.B) {
		rec := newRec(b)
		p, err := New(Options{SiteID: "bench", Recorder: rec})
		if err != nil {
			b.Fatal(err)
		}
		at := time.Unix(1700000000, 0)
		msgs := callMessages(0)
		for j, raw := range msgs[:5] { // up to the ACK: call in progress
			src, dst := benchSrc, benchDst
			if j == 1 || j == 2 || j == 3 {
				src, dst = dst, src
			}
			p.SIP(capture.Message{At: at, Src: src, Dst: dst, Transport: "udp", Raw: raw})
		}
		run(b, func(at time.Time, payload []byte) {
			p.Datagram(capture.Datagram{At: at, Src: rtpSrc, Dst: rtpDst, Payload: payload})
		})
		if p.Stats().UnmatchedRTP != 0 {
			b.Fatalf("%d packets not routed to the call", p.Stats().UnmatchedRTP)
		}
	})
}
