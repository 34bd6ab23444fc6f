package capture

import (
	"bytes"
	"net/netip"
	"path/filepath"
	"testing"

	"github.com/gopacket/gopacket/layers"
	"github.com/reboundhq/rebound/sip/siptest"
)

var (
	caller4 = netip.MustParseAddrPort("192.0.2.10:5060")
	pbx4    = netip.MustParseAddrPort("192.0.2.20:5060")
	caller6 = netip.MustParseAddrPort("[2001:db8::10]:5060")
	pbx6    = netip.MustParseAddrPort("[2001:db8::20]:5060")
	rtpA    = netip.MustParseAddrPort("192.0.2.10:40000")
	rtpB    = netip.MustParseAddrPort("192.0.2.20:50000")
)

// rtpPacket is a minimal RTP header plus 160 bytes of PCMU silence.
func rtpPacket(seq uint16) []byte {
	p := make([]byte, 12+160)
	p[0], p[1] = 0x80, 0
	p[2], p[3] = byte(seq>>8), byte(seq)
	for i := 12; i < len(p); i++ {
		p[i] = 0xff
	}
	return p
}

// TestLinkLayers writes one INVITE and one RTP packet under every supported
// link type and encapsulation and checks what comes out.
func TestLinkLayers(t *testing.T) {
	invite := sipInvite("link-1", 0)
	rtp := rtpPacket(1)
	sip4 := ipUDP(t, caller4, pbx4, invite)
	sip6 := ipUDP(t, caller6, pbx6, invite)
	rtp4 := ipUDP(t, rtpA, rtpB, rtp)
	cases := []struct {
		name     string
		lt       layers.LinkType
		frames   [][]byte
		src, dst netip.AddrPort
	}{
		{"ethernet-ipv4", layers.LinkTypeEthernet, [][]byte{ether(t, layers.EthernetTypeIPv4, sip4), ether(t, layers.EthernetTypeIPv4, rtp4)}, caller4, pbx4},
		{"ethernet-ipv6", layers.LinkTypeEthernet, [][]byte{ether(t, layers.EthernetTypeIPv6, sip6), ether(t, layers.EthernetTypeIPv4, rtp4)}, caller6, pbx6},
		{"vlan", layers.LinkTypeEthernet, [][]byte{ether(t, layers.EthernetTypeIPv4, sip4, [2]uint16{0x8100, 42}), ether(t, layers.EthernetTypeIPv4, rtp4, [2]uint16{0x8100, 42})}, caller4, pbx4},
		{"qinq", layers.LinkTypeEthernet, [][]byte{ether(t, layers.EthernetTypeIPv6, sip6, [2]uint16{0x88a8, 100}, [2]uint16{0x8100, 42}), ether(t, layers.EthernetTypeIPv4, rtp4, [2]uint16{0x88a8, 100}, [2]uint16{0x8100, 42})}, caller6, pbx6},
		{"sll", layers.LinkTypeLinuxSLL, [][]byte{sllFrame(layers.EthernetTypeIPv4, sip4), sllFrame(layers.EthernetTypeIPv4, rtp4)}, caller4, pbx4},
		{"sll2", layers.LinkTypeLinuxSLL2, [][]byte{sll2Frame(layers.EthernetTypeIPv6, sip6), sll2Frame(layers.EthernetTypeIPv4, rtp4)}, caller6, pbx6},
		{"raw", layers.LinkTypeRaw, [][]byte{sip4, rtp4}, caller4, pbx4},
		{"raw-ipv6", layers.LinkTypeIPv6, [][]byte{sip6, rtp4}, caller6, pbx6},
		{"null", layers.LinkTypeNull, [][]byte{nullFrame(2, false, sip4), nullFrame(2, false, rtp4)}, caller4, pbx4},
		{"loop", layers.LinkTypeLoop, [][]byte{nullFrame(30, true, sip6), nullFrame(2, true, rtp4)}, caller6, pbx6},
		{"gre-teb", layers.LinkTypeEthernet, [][]byte{
			greFrame(t, layers.EthernetTypeTransparentEthernetBridging, false, ether(t, layers.EthernetTypeIPv4, sip4)),
			greFrame(t, layers.EthernetTypeTransparentEthernetBridging, false, ether(t, layers.EthernetTypeIPv4, rtp4)),
		}, caller4, pbx4},
		{"erspan2", layers.LinkTypeEthernet, [][]byte{
			greFrame(t, layers.EthernetTypeERSPAN, true, ether(t, layers.EthernetTypeIPv4, sip4, [2]uint16{0x8100, 7})),
			greFrame(t, layers.EthernetTypeERSPAN, true, ether(t, layers.EthernetTypeIPv4, rtp4)),
		}, caller4, pbx4},
		{"erspan3", layers.LinkTypeEthernet, [][]byte{
			greFrame(t, ethernetTypeERSPAN3, false, append(erspan3Header(true), ether(t, layers.EthernetTypeIPv4, sip4)...)),
			greFrame(t, ethernetTypeERSPAN3, false, append(erspan3Header(false), ether(t, layers.EthernetTypeIPv4, rtp4)...)),
		}, caller4, pbx4},
		{"gre-ip", layers.LinkTypeEthernet, [][]byte{
			greFrame(t, layers.EthernetTypeIPv4, false, sip4),
			greFrame(t, layers.EthernetTypeIPv4, false, rtp4),
		}, caller4, pbx4},
	}
	dir := t.TempDir()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, tc.name+".pcap")
			writePcap(t, path, tc.lt, tc.frames)
			var dgs []Datagram
			var msgs []Message
			p := &Pcap{Path: path}
			err := p.Run(t.Context(), HandlerFuncs{
				OnSIP: func(m Message) { msgs = append(msgs, m) },
				OnDatagram: func(d Datagram) {
					d.Payload = bytes.Clone(d.Payload)
					dgs = append(dgs, d)
				},
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(msgs) != 1 || !bytes.Equal(msgs[0].Raw, invite) {
				t.Fatalf("got %d messages, want the INVITE once: %+v", len(msgs), p.Counters().Snapshot())
			}
			if m := msgs[0]; m.Src != tc.src || m.Dst != tc.dst || m.Transport != "udp" || m.At.IsZero() {
				t.Errorf("message %v -> %v %s at %v, want %v -> %v udp", m.Src, m.Dst, m.Transport, m.At, tc.src, tc.dst)
			}
			if len(dgs) != 1 || !bytes.Equal(dgs[0].Payload, rtp) || dgs[0].Src != rtpA || dgs[0].Dst != rtpB {
				t.Errorf("datagrams %+v, want the RTP packet %v -> %v", dgs, rtpA, rtpB)
			}
			if st := p.Counters().Snapshot(); st.Malformed != 0 || st.Unsupported != 0 || st.Packets != 2 {
				t.Errorf("stats %+v", st)
			}
		})
	}
	t.Run("tshark-agrees", func(t *testing.T) {
		if testing.Short() {
			t.Skip("tshark cross-check of generated captures runs without -short")
		}
		tshark := siptest.Peer(t, "tshark")
		for _, tc := range cases {
			if n := tsharkSIPCount(t, tshark, filepath.Join(dir, tc.name+".pcap"), "sip"); n != 1 {
				t.Errorf("%s: tshark finds %d SIP messages in the generated capture, want 1", tc.name, n)
			}
		}
	})
}

// TestFragmentedInvite checks IPv4 and IPv6 reassembly of a large INVITE,
// in order, reversed and with a duplicate fragment.
func TestFragmentedInvite(t *testing.T) {
	invite := sipInvite("frag-1", 4000)
	dir := t.TempDir()
	cases := []struct {
		name     string
		src, dst netip.AddrPort
		chunk    int
		order    func([][]byte) [][]byte
	}{
		{"ipv4", caller4, pbx4, 1480, func(f [][]byte) [][]byte { return f }},
		{"ipv4-reversed", caller4, pbx4, 1480, reverse},
		{"ipv4-duplicate", caller4, pbx4, 1000, func(f [][]byte) [][]byte { return append([][]byte{f[1]}, f...) }},
		{"ipv6", caller6, pbx6, 1232, func(f [][]byte) [][]byte { return f }},
		{"ipv6-reversed", caller6, pbx6, 1232, reverse},
		{"ipv6-duplicate", caller6, pbx6, 1000, func(f [][]byte) [][]byte { return append([][]byte{f[2]}, f...) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			frags := fragmentUDP(t, tc.src, tc.dst, invite, tc.chunk, 0x1234)
			if len(frags) < 3 {
				t.Fatalf("only %d fragments", len(frags))
			}
			var frames [][]byte
			for _, f := range tc.order(frags) {
				frames = append(frames, ether(t, etherTypeOf(f), f))
			}
			path := filepath.Join(dir, tc.name+".pcap")
			writePcap(t, path, layers.LinkTypeEthernet, frames)
			got, st := runPcap(t, path, Config{})
			if len(got.msgs) != 1 || !bytes.Equal(got.msgs[0].Raw, invite) {
				t.Fatalf("got %d messages, want the %d-byte INVITE; stats %+v", len(got.msgs), len(invite), st)
			}
			if got.msgs[0].Src != tc.src || got.msgs[0].Dst != tc.dst {
				t.Errorf("addresses %v -> %v", got.msgs[0].Src, got.msgs[0].Dst)
			}
			if st.Fragments != uint64(len(frames)) || st.Reassembled != 1 || st.Malformed != 0 {
				t.Errorf("stats %+v, want %d fragments, 1 reassembled, 0 malformed", st, len(frames))
			}
			if tshark := lookTshark(); tshark != "" {
				if n := tsharkSIPCount(t, tshark, path, "sip"); n != 1 {
					t.Errorf("tshark finds %d SIP messages, want 1", n)
				}
			}
		})
	}
	t.Run("missing-fragment-times-out", func(t *testing.T) {
		for _, src := range []netip.AddrPort{caller4, caller6} {
			dst := pbx4
			if src.Addr().Is6() {
				dst = pbx6
			}
			frags := fragmentUDP(t, src, dst, invite, 1000, 7)
			later := ipUDP(t, src, dst, sipResponse("frag-2", 100, "Trying"))
			c := &collector{}
			var counters Counters
			d := newDecoder(Config{}, &counters, c)
			at := mustTime(t)
			d.packet(layers.LinkTypeRaw, frags[0], at, 0)
			d.packet(layers.LinkTypeRaw, frags[2], at, 0)
			d.packet(layers.LinkTypeRaw, later, at.Add(defaultFragmentTimeout+2e9), 0)
			if len(c.msgs) != 1 || !bytes.HasPrefix(c.msgs[0].Raw, []byte("SIP/2.0 100")) {
				t.Fatalf("%v: got %d messages, want only the 100 Trying", src, len(c.msgs))
			}
			if st := counters.Snapshot(); st.Malformed != 1 || st.Reassembled != 0 {
				t.Errorf("%v: stats %+v, want the incomplete datagram counted malformed once", src, st)
			}
		}
	})
}

func reverse(f [][]byte) [][]byte {
	out := make([][]byte, len(f))
	for i := range f {
		out[len(f)-1-i] = f[i]
	}
	return out
}

// TestRTPPathAllocatesNothing pins the hot path: decoding and routing an RTP
// datagram must not allocate, over Ethernet, VLAN, IPv6 and SLL.
func TestRTPPathAllocatesNothing(t *testing.T) {
	rtp := rtpPacket(9)
	a6 := netip.MustParseAddrPort("[2001:db8::10]:40000")
	b6 := netip.MustParseAddrPort("[2001:db8::20]:50000")
	frames := []struct {
		lt    layers.LinkType
		frame []byte
	}{
		{layers.LinkTypeEthernet, ether(t, layers.EthernetTypeIPv4, ipUDP(t, rtpA, rtpB, rtp))},
		{layers.LinkTypeEthernet, ether(t, layers.EthernetTypeIPv4, ipUDP(t, rtpA, rtpB, rtp), [2]uint16{0x8100, 4})},
		{layers.LinkTypeEthernet, ether(t, layers.EthernetTypeIPv6, ipUDP(t, a6, b6, rtp))},
		{layers.LinkTypeLinuxSLL, sllFrame(layers.EthernetTypeIPv4, ipUDP(t, rtpA, rtpB, rtp))},
	}
	h := &countingHandler{}
	var counters Counters
	d := newDecoder(Config{}, &counters, h)
	at := mustTime(t)
	for _, f := range frames {
		d.packet(f.lt, f.frame, at, len(f.frame)) // warm up
		if n := testing.AllocsPerRun(200, func() { d.packet(f.lt, f.frame, at, len(f.frame)) }); n != 0 {
			t.Errorf("link type %v: %.1f allocations per RTP packet, want 0", f.lt, n)
		}
	}
	if h.dgs == 0 || h.sip != 0 {
		t.Fatalf("handler saw %d datagrams, %d SIP", h.dgs, h.sip)
	}
}
