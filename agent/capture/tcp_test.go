package capture

import (
	"bytes"
	"net/netip"
	"path/filepath"
	"testing"

	"github.com/gopacket/gopacket/layers"
)

type seg struct {
	off, end int // byte range of the stream
}

// splitEvery cuts [0,n) into pieces of size k.
func splitEvery(n, k int) []seg {
	var s []seg
	for off := 0; off < n; off += k {
		s = append(s, seg{off, min(off+k, n)})
	}
	return s
}

// TestTCPStreams checks SIP framing over TCP: several messages per segment,
// messages split across segments (even inside the start line), keep-alives,
// retransmissions, reordering, a lost segment (resync at the next start
// line) and a capture that starts mid-stream.
func TestTCPStreams(t *testing.T) {
	msgs := [][]byte{
		sipInvite("tcp-1", 3000),
		sipResponse("tcp-1", 100, "Trying"),
		sipResponse("tcp-1", 180, "Ringing"),
		sipResponse("tcp-1", 200, "OK"),
	}
	var stream []byte
	var starts []int
	for _, m := range msgs {
		starts = append(starts, len(stream))
		stream = append(stream, m...)
	}
	n := len(stream)
	inOrder := func(s []seg) []seg { return s }
	cases := []struct {
		name     string
		segs     []seg
		order    func([]seg) []seg
		want     []int // indexes of msgs expected
		resyncs  uint64
		src, dst netip.AddrPort
		syn      bool
	}{
		{"one-segment", []seg{{0, n}}, inOrder, []int{0, 1, 2, 3}, 0, caller4, pbx4, true},
		{"every-100-bytes", splitEvery(n, 100), inOrder, []int{0, 1, 2, 3}, 0, caller4, pbx4, true},
		{"every-7-bytes-ipv6", splitEvery(n, 7), inOrder, []int{0, 1, 2, 3}, 0, caller6, pbx6, true},
		{"split-in-start-line", []seg{{0, 3}, {3, starts[1] + 4}, {starts[1] + 4, n}}, inOrder, []int{0, 1, 2, 3}, 0, caller4, pbx4, true},
		{"retransmission", splitEvery(n, 500), func(s []seg) []seg {
			return append(append(append([]seg{}, s[:3]...), s[1], s[2]), s[3:]...)
		}, []int{0, 1, 2, 3}, 0, caller4, pbx4, true},
		{"overlapping-retransmission", append(splitEvery(starts[2], 600), seg{starts[2] - 50, n}), inOrder, []int{0, 1, 2, 3}, 0, caller4, pbx4, true},
		{"reordered", splitEvery(n, 800), func(s []seg) []seg {
			s = append([]seg{}, s...)
			s[1], s[2] = s[2], s[1]
			return s
		}, []int{0, 1, 2, 3}, 0, caller4, pbx4, true},
		{"lost-segment", splitEvery(n, 1000), func(s []seg) []seg {
			// drop the second segment (inside the INVITE), then keep
			// sending past the reorder bounds
			return append([]seg{s[0]}, s[2:]...)
		}, []int{1, 2, 3}, 1, caller4, pbx4, true},
		{"capture-starts-mid-stream", []seg{{starts[0] + 100, starts[1] + 10}, {starts[1] + 10, n}}, inOrder, []int{1, 2, 3}, 1, caller4, pbx4, false},
		{"non-sip-port", []seg{{0, 1200}, {1200, n}}, inOrder, []int{0, 1, 2, 3}, 0,
			netip.MustParseAddrPort("192.0.2.10:41000"), netip.MustParseAddrPort("192.0.2.20:6060"), true},
	}
	dir := t.TempDir()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			const isn = 0xfffffff0 // sequence numbers wrap inside the stream
			var frames [][]byte
			if tc.syn {
				frames = append(frames, ether(t, etherTypeOf(ipTCP(t, tc.src, tc.dst, isn, true, false, nil)), ipTCP(t, tc.src, tc.dst, isn, true, false, nil)))
			}
			for _, s := range tc.order(tc.segs) {
				p := ipTCP(t, tc.src, tc.dst, isn+1+uint32(s.off), false, false, stream[s.off:s.end])
				frames = append(frames, ether(t, etherTypeOf(p), p))
			}
			if tc.name == "lost-segment" {
				// Enough later data to overflow the out-of-order bounds.
				for i := 0; i <= maxOutOfOrderSegments; i++ {
					off := n + i*len(msgs[3])
					p := ipTCP(t, tc.src, tc.dst, isn+1+uint32(off), false, false, msgs[3])
					frames = append(frames, ether(t, etherTypeOf(p), p))
				}
			}
			path := filepath.Join(dir, tc.name+".pcap")
			writePcap(t, path, layers.LinkTypeEthernet, frames)
			got, st := runPcap(t, path, Config{})
			extra := 0
			if tc.name == "lost-segment" {
				extra = maxOutOfOrderSegments + 1
			}
			if len(got.msgs) != len(tc.want)+extra {
				t.Fatalf("got %d messages, want %d; stats %+v", len(got.msgs), len(tc.want)+extra, st)
			}
			for i, w := range tc.want {
				if !bytes.Equal(got.msgs[i].Raw, msgs[w]) {
					t.Errorf("message %d = %q..., want msgs[%d] %q...", i, got.msgs[i].Raw[:min(40, len(got.msgs[i].Raw))], w, msgs[w][:40])
				}
				if got.msgs[i].Transport != "tcp" || got.msgs[i].Src != tc.src || got.msgs[i].Dst != tc.dst {
					t.Errorf("message %d: %s %v -> %v", i, got.msgs[i].Transport, got.msgs[i].Src, got.msgs[i].Dst)
				}
			}
			if st.TCPResyncs != tc.resyncs {
				t.Errorf("%d resyncs, want %d", st.TCPResyncs, tc.resyncs)
			}
			if tc.name != "lost-segment" && tc.name != "capture-starts-mid-stream" {
				if tshark := lookTshark(); tshark != "" {
					if n := tsharkSIPCount(t, tshark, path, "sip", "-d", "tcp.port==6060,sip", "-o", "tcp.reassemble_out_of_order:TRUE"); n != len(tc.want) {
						t.Errorf("tshark finds %d SIP messages, want %d", n, len(tc.want))
					}
				}
			}
		})
	}
}

// TestTCPGarbageResync checks that a stream of garbage between messages is
// counted and skipped.
func TestTCPGarbageResync(t *testing.T) {
	c := &collector{}
	var counters Counters
	d := newDecoder(Config{}, &counters, c)
	at := mustTime(t)
	// A keep-alive ping (RFC 5626) is not garbage; the TLS-looking bytes are.
	data := append(append([]byte{}, sipResponse("g", 180, "Ringing")...), "\r\n\r\n\x16\x03\x01 this is not SIP at all\r\nnor is this\r\n"...)
	data = append(data, sipResponse("g", 200, "OK")...)
	d.packet(layers.LinkTypeRaw, ipTCP(t, caller4, pbx4, 1, false, false, data), at, 0)
	if len(c.msgs) != 2 {
		t.Fatalf("got %d messages, want 2", len(c.msgs))
	}
	if st := counters.Snapshot(); st.Malformed != 1 || st.TCPResyncs != 1 {
		t.Errorf("stats %+v, want one malformed, one resync", st)
	}
	// An oversize message is refused, and the stream still recovers.
	big := sipInvite("big", 70000)
	d.packet(layers.LinkTypeRaw, ipTCP(t, caller4, pbx4, 1+uint32(len(data)), false, false, big[:60000]), at, 0)
	d.packet(layers.LinkTypeRaw, ipTCP(t, caller4, pbx4, 1+uint32(len(data))+60000, false, false, append(big[60000:], sipResponse("g", 200, "OK")...)), at, 0)
	if len(c.msgs) != 3 || !bytes.HasPrefix(c.msgs[2].Raw, []byte("SIP/2.0 200")) {
		t.Fatalf("got %d messages after the oversize one, want the 200 OK", len(c.msgs))
	}
}

// TestTCPHeldBytesBounded opens many streams that each lose a segment and
// keep sending: out-of-order data held across streams stays bounded, and
// every stream still resyncs and delivers what follows the gap.
func TestTCPHeldBytesBounded(t *testing.T) {
	c := &collector{}
	var counters Counters
	d := newDecoder(Config{}, &counters, c)
	d.at = mustTime(t)
	msg := sipInvite("held", 8000) // about 8 KiB
	const flows, rounds = 300, 12
	src := func(f int) netip.AddrPort {
		return netip.AddrPortFrom(netip.MustParseAddr("192.0.2.1"), uint16(20000+f))
	}
	seqs := make([]uint32, flows)
	for f := range flows {
		d.streams.segment(src(f), pbx4, 1, false, false, msg[:100])
		seqs[f] = 1 + 100 + 50 // 50 bytes lost
	}
	// Round robin, so that every stream holds data at the same time:
	// 300 streams x 7 segments of 8 KiB is past the global bound.
	maxHeld := 0
	for range rounds {
		for f := range flows {
			d.streams.segment(src(f), pbx4, seqs[f], false, false, msg)
			seqs[f] += uint32(len(msg))
			maxHeld = max(maxHeld, d.streams.held)
			if d.streams.held > maxHeldBytes {
				t.Fatalf("holding %d bytes out of order, bound %d", d.streams.held, maxHeldBytes)
			}
		}
	}
	if maxHeld < maxHeldBytes*9/10 {
		t.Errorf("held at most %d bytes: the test did not reach the global bound %d", maxHeld, maxHeldBytes)
	}
	st := counters.Snapshot()
	if st.TCPResyncs < flows {
		t.Errorf("%d resyncs for %d streams with a gap", st.TCPResyncs, flows)
	}
	// Each stream gives up its gap at one bound or the other, and then
	// delivers every INVITE it held or received after the gap.
	if len(c.msgs) != flows*rounds {
		t.Errorf("%d messages delivered after the gaps, want %d", len(c.msgs), flows*rounds)
	}
	for _, m := range c.msgs {
		if !bytes.Equal(m.Raw, msg) {
			t.Fatalf("delivered a damaged message %q", m.Raw[:40])
		}
	}
}

// wsFrame builds one WebSocket frame; masked frames are what clients send.
func wsFrame(fin bool, op byte, payload []byte, mask []byte) []byte {
	b0 := op
	if fin {
		b0 |= 0x80
	}
	f := []byte{b0}
	var m byte
	if mask != nil {
		m = 0x80
	}
	switch n := len(payload); {
	case n < 126:
		f = append(f, m|byte(n))
	case n < 1<<16:
		f = append(f, m|126, byte(n>>8), byte(n))
	default:
		f = append(f, m|127, 0, 0, 0, 0, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
	if mask == nil {
		return append(f, payload...)
	}
	f = append(f, mask...)
	for i, c := range payload {
		f = append(f, c^mask[i&3])
	}
	return f
}

// TestWebSocketStreams checks RFC 7118 framing: the HTTP upgrade in both
// directions, masked client frames, a message fragmented over continuation
// frames with a ping in between, and every byte split into its own segment.
func TestWebSocketStreams(t *testing.T) {
	client := netip.MustParseAddrPort("192.0.2.50:50123")
	server := netip.MustParseAddrPort("192.0.2.20:8088")
	invite := sipInvite("ws-1", 200)
	ok := sipResponse("ws-1", 200, "OK")
	mask := []byte{1, 2, 3, 4}
	up := []byte("GET / HTTP/1.1\r\nHost: pbx\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Protocol: sip\r\nSec-WebSocket-Key: x\r\nSec-WebSocket-Version: 13\r\n\r\n")
	request := len(up)
	up = append(up, wsFrame(false, 1, invite[:100], mask)...)
	up = append(up, wsFrame(true, 9, []byte("ping"), mask)...)
	up = append(up, wsFrame(false, 0, invite[100:300], mask)...)
	up = append(up, wsFrame(true, 0, invite[300:], mask)...)
	down := []byte("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Protocol: sip\r\n\r\n")
	down = append(down, wsFrame(true, 1, ok, nil)...)
	down = append(down, wsFrame(true, 2, sipResponse("ws-1", 180, "Ringing"), nil)...)

	for _, segSize := range []int{1, 13, 100000} {
		c := &collector{}
		var counters Counters
		d := newDecoder(Config{}, &counters, c)
		d.at = mustTime(t)
		feed := func(src, dst netip.AddrPort, b []byte, upto int, seq *uint32, off *int) {
			for *off < upto {
				n := min(segSize, upto-*off)
				d.streams.segment(src, dst, *seq, false, false, b[*off:*off+n])
				*seq += uint32(n)
				*off += n
			}
		}
		var upSeq, downSeq uint32 = 1000, 5000
		var upOff, downOff int
		// The upgrade request comes in one segment (it is how streams
		// are recognised as WebSocket), then the response, then the
		// frames, cut into segments of segSize.
		d.streams.segment(client, server, upSeq, false, false, up[:request])
		upSeq += uint32(request)
		upOff = request
		feed(server, client, down, len(down), &downSeq, &downOff)
		feed(client, server, up, len(up), &upSeq, &upOff)
		if len(c.msgs) != 3 {
			t.Fatalf("segments of %d: %d messages, want 3 (stats %+v)", segSize, len(c.msgs), counters.Snapshot())
		}
		want := map[string]bool{string(ok): true, string(sipResponse("ws-1", 180, "Ringing")): true, string(invite): true}
		for _, m := range c.msgs {
			if !want[string(m.Raw)] || m.Transport != "ws" {
				t.Errorf("segments of %d: unexpected %s message %q", segSize, m.Transport, m.Raw[:min(30, len(m.Raw))])
			}
			delete(want, string(m.Raw))
		}
		if st := counters.Snapshot(); st.Malformed != 0 {
			t.Errorf("segments of %d: %+v", segSize, st)
		}
	}
}

// TestTCPTinySegments delivers a 60 KB INVITE one byte per segment (a
// slow-loris sender): it must come out whole, and the header search
// resumes where it stopped instead of rescanning the buffer each time.
func TestTCPTinySegments(t *testing.T) {
	c := &collector{}
	var counters Counters
	d := newDecoder(Config{}, &counters, c)
	d.at = mustTime(t)
	big := sipInvite("tiny", 60000)
	stream := append(append([]byte{}, big...), sipResponse("tiny", 100, "Trying")...)
	for i := range stream {
		d.streams.segment(caller4, pbx4, uint32(1+i), false, false, stream[i:i+1])
	}
	if len(c.msgs) != 2 || !bytes.Equal(c.msgs[0].Raw, big) {
		t.Fatalf("got %d messages; stats %+v", len(c.msgs), counters.Snapshot())
	}
	s := d.streams.flows[flowKey{caller4, pbx4}]
	if s == nil || s.hdrScan != 0 || s.msgTotal != 0 || len(s.buf) != 0 {
		t.Errorf("stream state not reset after the messages: %+v", s)
	}
}
