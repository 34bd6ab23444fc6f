package capture

import (
	"bytes"
	"errors"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// sampleFrames returns up to n frames (with their link type) from each
// shared capture, for fuzz seeds. Missing test data means no such seeds.
func sampleFrames(t testing.TB, n int) (frames [][]byte, lts []layers.LinkType) {
	root := os.Getenv("REBOUND_TESTDATA")
	if root == "" {
		dir, _ := os.Getwd()
		for dir != "/" {
			if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
				break
			}
			dir = filepath.Dir(dir)
		}
		root = filepath.Join(dir, "..", "shared", "testdata")
	}
	files, _ := filepath.Glob(filepath.Join(root, "pcap", "*", "*"))
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			continue
		}
		var (
			read func() ([]byte, gopacket.CaptureInfo, error)
			lt   layers.LinkType
		)
		if r, err := pcapgo.NewReader(fh); err == nil {
			read, lt = r.ReadPacketData, r.LinkType()
		} else if _, err := fh.Seek(0, io.SeekStart); err == nil {
			if r, err := pcapgo.NewNgReader(fh, pcapgo.DefaultNgReaderOptions); err == nil {
				read, lt = r.ReadPacketData, r.LinkType()
			}
		}
		for i := 0; read != nil && i < n; i++ {
			data, _, err := read()
			if err != nil {
				break
			}
			frames, lts = append(frames, data), append(lts, lt)
		}
		fh.Close()
	}
	return frames, lts
}

// FuzzDecodePacket feeds arbitrary frames of any link type through the
// decoder, twice (retransmissions, duplicate fragments) and checks that it
// never panics, that every delivered message starts with a SIP start line
// and that the counters agree with what the handler saw.
func FuzzDecodePacket(f *testing.F) {
	frames, lts := sampleFrames(f, 12)
	for i, fr := range frames {
		f.Add(uint16(lts[i]), fr)
	}
	sip4 := ipUDP(f, caller4, pbx4, sipInvite("fz", 0))
	f.Add(uint16(layers.LinkTypeEthernet), ether(f, layers.EthernetTypeIPv4, sip4, [2]uint16{0x8100, 3}))
	f.Add(uint16(layers.LinkTypeLinuxSLL2), sll2Frame(layers.EthernetTypeIPv4, sip4))
	f.Add(uint16(layers.LinkTypeNull), nullFrame(2, false, sip4))
	f.Add(uint16(layers.LinkTypeEthernet), greFrame(f, layers.EthernetTypeERSPAN, true, ether(f, layers.EthernetTypeIPv4, sip4)))
	for _, fr := range fragmentUDP(f, caller6, pbx6, sipInvite("fz6", 2000), 1232, 5) {
		f.Add(uint16(layers.LinkTypeRaw), fr)
	}
	for _, fr := range fragmentUDP(f, caller4, pbx4, sipInvite("fz4", 2000), 1480, 5) {
		f.Add(uint16(layers.LinkTypeRaw), fr)
	}
	f.Add(uint16(layers.LinkTypeRaw), ipTCP(f, caller4, pbx4, 1, false, false, append(sipResponse("fz", 180, "Ringing"), sipResponse("fz", 200, "OK")[:50]...)))
	f.Fuzz(func(t *testing.T, lt uint16, frame []byte) {
		var counters Counters
		c := &collector{}
		d := newDecoder(Config{}, &counters, c)
		at := mustTime(t)
		d.packet(layers.LinkType(lt), frame, at, len(frame))
		d.packet(layers.LinkType(lt), frame, at.Add(1), len(frame))
		st := counters.Snapshot()
		if st.SIPMessages != uint64(len(c.msgs)) || st.Datagrams != uint64(c.datagrams) || st.Packets != 2 {
			t.Fatalf("counters %+v disagree with %d messages, %d datagrams", st, len(c.msgs), c.datagrams)
		}
		for _, m := range c.msgs {
			if startLine(m.Raw) != isSIP {
				t.Fatalf("delivered a message without a SIP start line: %q", m.Raw[:min(len(m.Raw), 40)])
			}
			if !m.Src.IsValid() || !m.Dst.IsValid() {
				t.Fatalf("invalid addresses %v -> %v", m.Src, m.Dst)
			}
		}
		if c.dgBytes > 2*len(frame) {
			t.Fatalf("datagrams carry %d bytes from a %d-byte frame", c.dgBytes, len(frame))
		}
	})
}

// FuzzTCPStream cuts a byte stream into segments at fuzzer-chosen places and
// checks that the messages framed do not depend on the segmentation: the
// same as when the whole stream arrives in one segment.
func FuzzTCPStream(f *testing.F) {
	f.Add(append(append(sipInvite("s1", 0), "\r\n\r\n"...), sipResponse("s1", 200, "OK")...), []byte{3, 50, 200})
	f.Add(append([]byte("garbage\r\nmore garbage"), sipResponse("s2", 180, "Ringing")...), []byte{1, 1, 1})
	f.Add([]byte("SIP/2.0 200 OK\r\nl: 5\r\n\r\nhelloINVITE sip:a SIP/2.0\r\nContent-Length: 2\r\n\r\nhi"), []byte{17, 4})
	f.Add([]byte("SIP/2.0 200 OK\r\nContent-Length: x\r\n\r\nSIP/2.0 180 Ringing\n\n"), []byte{9})
	// Real SIP over TCP from the shared captures.
	frames, lts := sampleFrames(f, 40)
	var counters Counters
	var realStream []byte
	d := newDecoder(Config{SIPPorts: []uint16{5060, 6060}}, &counters, HandlerFuncs{})
	for i, fr := range frames {
		d.tcp.Payload = nil
		d.link(lts[i], fr, 0)
		if len(d.tcp.Payload) > 0 && (d.tcp.SrcPort == 6060 || d.tcp.DstPort == 6060 || d.tcp.SrcPort == 5060 || d.tcp.DstPort == 5060) {
			realStream = append(realStream, d.tcp.Payload...)
			if len(realStream) > 8000 {
				break
			}
		}
	}
	if len(realStream) > 0 {
		f.Add(realStream, []byte{200, 7, 255, 31})
	}
	f.Fuzz(func(t *testing.T, stream, cuts []byte) {
		if len(stream) > 1<<16 {
			return
		}
		if isWebSocketUpgrade(stream) {
			// A WebSocket upgrade is only recognised whole in the first
			// segment (documented), so segmentation may change it.
			return
		}
		whole := tcpFrameAll(t, stream, nil)
		split := tcpFrameAll(t, stream, cuts)
		if len(whole) != len(split) {
			t.Fatalf("%d messages in one segment, %d when split at %v", len(whole), len(split), cuts)
		}
		for i := range whole {
			if !bytes.Equal(whole[i], split[i]) {
				t.Fatalf("message %d differs when split", i)
			}
			if startLine(whole[i]) != isSIP {
				t.Fatalf("message without a start line: %q", whole[i][:min(len(whole[i]), 40)])
			}
		}
	})
}

// tcpFrameAll runs stream through one TCP direction on port 5060, cut after
// each segment length in cuts (0 = 1 byte), and returns the messages.
func tcpFrameAll(t *testing.T, stream, cuts []byte) [][]byte {
	var counters Counters
	c := &collector{}
	d := newDecoder(Config{MaxMessageSize: 4096}, &counters, c)
	d.at = mustTime(t)
	src := netip.MustParseAddrPort("192.0.2.1:40000")
	dst := netip.MustParseAddrPort("192.0.2.2:5060")
	seq := uint32(1000)
	for off, i := 0, 0; off < len(stream); i++ {
		n := len(stream) - off
		if len(cuts) > 0 {
			n = min(n, int(cuts[i%len(cuts)])+1)
		}
		d.streams.segment(src, dst, seq, false, false, stream[off:off+n])
		seq += uint32(n)
		off += n
	}
	out := make([][]byte, len(c.msgs))
	for i, m := range c.msgs {
		out[i] = m.Raw
	}
	if uint64(len(out)) != counters.Snapshot().SIPMessages {
		t.Fatal(errors.New("message counter disagrees"))
	}
	return out
}

// FuzzDecodeHEP checks that any input decodes or fails cleanly, and that a
// decoded packet's payload lies inside the input.
func FuzzDecodeHEP(f *testing.F) {
	at := mustTime(f)
	f.Add(encodeHEP(caller4, pbx4, at, 1, sipInvite("h", 0)))
	f.Add(encodeHEP(caller6, pbx6, at, 1, sipResponse("h", 200, "OK"), hepChunk(nil, hepChunkAuthKey, []byte("k"))))
	f.Add(encodeHEP(caller4, pbx4, at, 5, []byte{0x81, 0xc8, 0, 6}))
	f.Add([]byte("HEP3\x00\x06"))
	f.Add(encodeHEPv2(caller4, pbx4, at, sipInvite("h2", 0)))
	f.Add(encodeHEPv2(caller6, pbx6, at, sipInvite("h2", 0)))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := DecodeHEP(b)
		if err != nil {
			return
		}
		if !p.Src.IsValid() || !p.Dst.IsValid() || len(p.Payload) > len(b) {
			t.Fatalf("decoded %+v from %d bytes", p, len(b))
		}
		var h HEP
		c := &collector{}
		h.packet(Config{}.withDefaults(), c, b)
		if len(c.msgs) == 1 && startLine(c.msgs[0].Raw) != isSIP {
			t.Fatalf("delivered a non-SIP payload")
		}
	})
}
