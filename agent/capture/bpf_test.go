package capture

import (
	"net/netip"
	"testing"

	"github.com/gopacket/gopacket/layers"
	"golang.org/x/net/bpf"
)

// TestBuildFilter runs the compiled program in x/net/bpf's VM (the same
// semantics as the kernel's classic BPF) over real frames.
func TestBuildFilter(t *testing.T) {
	spec := FilterSpec{SIPPorts: []uint16{5060, 5080}, RTPPorts: PortRange{Min: 10000, Max: 20000}}
	sip := sipResponse("bpf", 180, "Ringing")
	rtp := rtpPacket(1)
	in := netip.MustParseAddrPort("192.0.2.10:12000")
	out := netip.MustParseAddrPort("192.0.2.10:30000")
	in6 := netip.MustParseAddrPort("[2001:db8::10]:19999")
	out6 := netip.MustParseAddrPort("[2001:db8::10]:20001")
	odd := netip.MustParseAddrPort("192.0.2.20:5080")
	frags := fragmentUDP(t, netip.MustParseAddrPort("192.0.2.10:30000"), netip.MustParseAddrPort("192.0.2.20:30002"), sipInvite("f", 3000), 1480, 9)
	frags6 := fragmentUDP(t, netip.MustParseAddrPort("[2001:db8::10]:30000"), netip.MustParseAddrPort("[2001:db8::20]:30002"), sipInvite("f", 3000), 1232, 9)
	v4 := layers.EthernetTypeIPv4
	v6 := layers.EthernetTypeIPv6
	cases := []struct {
		name  string
		frame []byte
		keep  bool
	}{
		{"sip-udp-dst", ether(t, v4, ipUDP(t, caller4, pbx4, sip)), true},
		{"sip-udp-src-5080", ether(t, v4, ipUDP(t, odd, out, sip)), true},
		{"sip-tcp", ether(t, v4, ipTCP(t, out, pbx4, 1, false, false, sip)), true},
		{"tcp-other", ether(t, v4, ipTCP(t, out, netip.MustParseAddrPort("192.0.2.20:443"), 1, false, false, sip)), false},
		{"tcp-in-rtp-range", ether(t, v4, ipTCP(t, in, netip.MustParseAddrPort("192.0.2.20:443"), 1, false, false, sip)), false},
		{"rtp-in-range-src", ether(t, v4, ipUDP(t, in, out, rtp)), true},
		{"rtp-in-range-dst", ether(t, v4, ipUDP(t, out, in, rtp)), true},
		{"udp-out-of-range", ether(t, v4, ipUDP(t, out, netip.MustParseAddrPort("192.0.2.20:9999"), rtp)), false},
		{"rtp-ipv6-in-range", ether(t, v6, ipUDP(t, in6, out6, rtp)), true},
		{"udp-ipv6-out-of-range", ether(t, v6, ipUDP(t, out6, out6, rtp)), false},
		{"sip-ipv6-tcp", ether(t, v6, ipTCP(t, caller6, pbx6, 1, false, false, sip)), true},
		{"ipv4-first-fragment-other-ports", ether(t, v4, frags[0]), false},
		{"ipv4-later-fragment", ether(t, v4, frags[1]), true},
		{"ipv6-fragment", ether(t, v6, frags6[1]), true},
		{"vlan-sip", ether(t, v4, ipUDP(t, caller4, pbx4, sip), [2]uint16{0x8100, 5}), true},
		{"qinq-rtp", ether(t, v6, ipUDP(t, in6, out6, rtp), [2]uint16{0x88a8, 5}, [2]uint16{0x8100, 6}), true},
		{"qinq-other", ether(t, v4, ipUDP(t, out, out, rtp), [2]uint16{0x88a8, 5}, [2]uint16{0x8100, 6}), false},
		{"gre", greFrame(t, layers.EthernetTypeTransparentEthernetBridging, false, ether(t, v4, ipUDP(t, caller4, pbx4, sip))), true},
		{"arp", ether(t, layers.EthernetTypeARP, make([]byte, 28)), false},
	}
	prog, err := BuildFilter(spec)
	if err != nil {
		t.Fatal(err)
	}
	vm, err := bpf.NewVM(disassemble(t, prog))
	if err != nil {
		t.Fatalf("vm: %v", err)
	}
	for _, tc := range cases {
		n, err := vm.Run(tc.frame)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if (n > 0) != tc.keep {
			t.Errorf("%s: filter returned %d, want keep=%v", tc.name, n, tc.keep)
		}
	}
	// No RTP range: every UDP datagram passes, TCP still needs a SIP port.
	prog, err = BuildFilter(FilterSpec{SIPPorts: []uint16{5060}})
	if err != nil {
		t.Fatal(err)
	}
	vm, err = bpf.NewVM(disassemble(t, prog))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		frame []byte
		keep  bool
	}{
		{ether(t, v4, ipUDP(t, out, netip.MustParseAddrPort("192.0.2.20:9999"), rtp)), true},
		{ether(t, v4, ipTCP(t, out, netip.MustParseAddrPort("192.0.2.20:443"), 1, false, false, sip)), false},
		{ether(t, v4, ipTCP(t, out, pbx4, 1, false, false, sip)), true},
	} {
		if n, _ := vm.Run(tc.frame); (n > 0) != tc.keep {
			t.Errorf("no range: got %d, want keep=%v", n, tc.keep)
		}
	}
	// Many SIP ports must still assemble (jumps stay in range).
	var many []uint16
	for p := uint16(5060); p < 5100; p++ {
		many = append(many, p)
	}
	if _, err := BuildFilter(FilterSpec{SIPPorts: many, RTPPorts: spec.RTPPorts, DropOutgoing: true}); err != nil {
		t.Errorf("40 SIP ports: %v", err)
	}
}

func disassemble(t *testing.T, raw []bpf.RawInstruction) []bpf.Instruction {
	t.Helper()
	ins, ok := bpf.Disassemble(raw)
	if !ok {
		t.Fatalf("program does not disassemble")
	}
	return ins
}
