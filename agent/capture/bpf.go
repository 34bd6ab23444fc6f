package capture

import (
	"fmt"

	"golang.org/x/net/bpf"
)

// FilterSpec says which packets a live capture keeps. Building the filter
// in the kernel keeps a busy mirror port from flooding the ring.
type FilterSpec struct {
	// SIPPorts: UDP and TCP traffic to or from these ports is kept.
	SIPPorts []uint16
	// RTPPorts: UDP traffic to or from this range is kept. The zero range
	// keeps every UDP datagram (SIP on odd ports, media anywhere).
	RTPPorts PortRange
	// DropOutgoing drops packets the host sends. On loopback every packet
	// is seen twice, once outgoing and once incoming; elsewhere keep it
	// false, or a PBX on the same host loses its half of the traffic.
	DropOutgoing bool
}

// Verdicts: keep the whole packet or nothing.
const (
	bpfAccept = 0x40000
	bpfReject = 0
)

// packet type of outgoing packets (linux/if_packet.h PACKET_OUTGOING).
const packetOutgoing = 4

// BuildFilter compiles the spec into a classic BPF program for Ethernet
// frames (what AF_PACKET delivers on Ethernet and loopback interfaces). It
// keeps: IPv4/IPv6 (optionally under one or two VLAN tags) carrying UDP or
// TCP on the SIP ports, UDP in the RTP range, every IP fragment but the
// first (it has no ports to match; reassembly needs it), IPv6 packets with
// extension headers, and GRE and IP-in-IP tunnels (mirrored traffic).
func BuildFilter(spec FilterSpec) ([]bpf.RawInstruction, error) {
	a := &bpfAsm{labels: map[string]int{}}
	if spec.DropOutgoing {
		a.emit(bpf.LoadExtension{Num: bpf.ExtType})
		a.jeq(packetOutgoing, "", "eth0")
		a.emit(bpf.RetConstant{Val: bpfReject})
	}
	bases := []uint32{14, 18, 22} // no tag, one VLAN tag, QinQ
	// Ethernet type, then up to two VLAN tags. Sections can be far away,
	// so the dispatch jumps through unconditional "ja" trampolines.
	for i, base := range bases {
		a.label(fmt.Sprintf("eth%d", i))
		a.emit(bpf.LoadAbsolute{Off: base - 2, Size: 2})
		a.jeq(0x0800, fmt.Sprintf("t_ip4_%d", base), "")
		a.jeq(0x86dd, fmt.Sprintf("t_ip6_%d", base), "")
		if i+1 < len(bases) {
			a.jeq(0x8100, fmt.Sprintf("eth%d", i+1), "")
			a.jeq(0x88a8, fmt.Sprintf("eth%d", i+1), "")
		}
		a.emit(bpf.RetConstant{Val: bpfReject})
		a.label(fmt.Sprintf("t_ip4_%d", base))
		a.ja(fmt.Sprintf("ip4_%d", base))
		a.label(fmt.Sprintf("t_ip6_%d", base))
		a.ja(fmt.Sprintf("ip6_%d", base))
	}
	for _, base := range bases {
		// IPv4 at base. Each section has its own accept/reject so that
		// conditional jumps stay short.
		sec := fmt.Sprintf("ip4_%d", base)
		acc, rej := "acc_"+sec, "rej_"+sec
		a.label(sec)
		a.emit(bpf.LoadAbsolute{Off: base + 9, Size: 1})
		a.jeq(47, acc, "") // GRE
		a.jeq(4, acc, "")  // IPv4 in IPv4
		a.jeq(41, acc, "") // IPv6 in IPv4
		a.jeq(17, sec+"udp", "")
		a.jeq(6, sec+"tcp", rej)
		for _, proto := range []string{"udp", "tcp"} {
			a.label(sec + proto)
			a.emit(bpf.LoadAbsolute{Off: base + 6, Size: 2})
			a.jset(0x1fff, acc, "") // a later fragment: no ports
			a.emit(bpf.LoadMemShift{Off: base})
			a.emit(bpf.LoadIndirect{Off: base, Size: 2})
			a.ports(spec, proto == "udp", sec+proto+"dst", acc)
			a.label(sec + proto + "dst")
			a.emit(bpf.LoadIndirect{Off: base + 2, Size: 2})
			a.ports(spec, proto == "udp", rej, acc)
		}
		a.label(acc)
		a.emit(bpf.RetConstant{Val: bpfAccept})
		a.label(rej)
		a.emit(bpf.RetConstant{Val: bpfReject})

		// IPv6 at base.
		sec = fmt.Sprintf("ip6_%d", base)
		acc, rej = "acc_"+sec, "rej_"+sec
		a.label(sec)
		a.emit(bpf.LoadAbsolute{Off: base + 6, Size: 1})
		a.jeq(17, sec+"udp", "")
		a.jeq(6, sec+"tcp", "")
		// Fragments, tunnels and extension headers (hop-by-hop,
		// routing, destination options): decoded in user space.
		for _, nh := range []uint32{44, 47, 4, 41, 0, 43, 60} {
			a.jeq(nh, acc, "")
		}
		a.ja(rej)
		for _, proto := range []string{"udp", "tcp"} {
			a.label(sec + proto)
			a.emit(bpf.LoadAbsolute{Off: base + 40, Size: 2})
			a.ports(spec, proto == "udp", sec+proto+"dst", acc)
			a.label(sec + proto + "dst")
			a.emit(bpf.LoadAbsolute{Off: base + 42, Size: 2})
			a.ports(spec, proto == "udp", rej, acc)
		}
		a.label(acc)
		a.emit(bpf.RetConstant{Val: bpfAccept})
		a.label(rej)
		a.emit(bpf.RetConstant{Val: bpfReject})
	}
	prog, err := a.assemble()
	if err != nil {
		return nil, fmt.Errorf("capture: build bpf filter: %w", err)
	}
	return prog, nil
}

// bpfAsm is a tiny assembler with symbolic jump targets: conditional jumps
// in classic BPF are relative and at most 255 instructions forward.
type bpfAsm struct {
	ins    []bpf.Instruction
	fixups []bpfFixup
	labels map[string]int
}

type bpfFixup struct {
	at        int
	yes, no   string // "" means the next instruction
	condition bpf.JumpTest
	val       uint32
	jset      bool
	always    bool
}

func (a *bpfAsm) emit(i bpf.Instruction) { a.ins = append(a.ins, i) }

func (a *bpfAsm) label(name string) { a.labels[name] = len(a.ins) }

func (a *bpfAsm) jeq(v uint32, yes, no string) {
	a.fixups = append(a.fixups, bpfFixup{at: len(a.ins), yes: yes, no: no, condition: bpf.JumpEqual, val: v})
	a.ins = append(a.ins, nil)
}

func (a *bpfAsm) jset(v uint32, yes, no string) {
	a.fixups = append(a.fixups, bpfFixup{at: len(a.ins), yes: yes, no: no, val: v, jset: true})
	a.ins = append(a.ins, nil)
}

func (a *bpfAsm) jcond(c bpf.JumpTest, v uint32, yes, no string) {
	a.fixups = append(a.fixups, bpfFixup{at: len(a.ins), yes: yes, no: no, condition: c, val: v})
	a.ins = append(a.ins, nil)
}

// ja jumps unconditionally (32-bit offset: any distance).
func (a *bpfAsm) ja(to string) {
	a.fixups = append(a.fixups, bpfFixup{at: len(a.ins), yes: to, always: true})
	a.ins = append(a.ins, nil)
}

// ports tests the port in A: accept on a SIP port (or, for UDP, in the RTP
// range; every UDP port when there is no range), otherwise jump to miss.
func (a *bpfAsm) ports(spec FilterSpec, udp bool, miss, accept string) {
	for _, p := range spec.SIPPorts {
		a.jeq(uint32(p), accept, "")
	}
	switch {
	case !udp:
		a.ja(miss)
	case spec.RTPPorts.Max == 0:
		a.ja(accept)
	default:
		a.jcond(bpf.JumpLessThan, uint32(spec.RTPPorts.Min), miss, "")
		a.jcond(bpf.JumpGreaterThan, uint32(spec.RTPPorts.Max), miss, accept)
	}
}

func (a *bpfAsm) assemble() ([]bpf.RawInstruction, error) {
	for _, f := range a.fixups {
		if f.always {
			to, ok := a.labels[f.yes]
			if !ok || to <= f.at {
				return nil, fmt.Errorf("bad jump target %q", f.yes)
			}
			a.ins[f.at] = bpf.Jump{Skip: uint32(to - f.at - 1)}
			continue
		}
		skip := func(label string) (uint8, error) {
			if label == "" {
				return 0, nil
			}
			to, ok := a.labels[label]
			if !ok {
				return 0, fmt.Errorf("undefined label %q", label)
			}
			d := to - f.at - 1
			if d < 0 || d > 255 {
				return 0, fmt.Errorf("jump to %q out of range (%d)", label, d)
			}
			return uint8(d), nil
		}
		yes, err := skip(f.yes)
		if err != nil {
			return nil, err
		}
		no, err := skip(f.no)
		if err != nil {
			return nil, err
		}
		if f.jset {
			a.ins[f.at] = bpf.JumpIf{Cond: bpf.JumpBitsSet, Val: f.val, SkipTrue: yes, SkipFalse: no}
		} else {
			a.ins[f.at] = bpf.JumpIf{Cond: f.condition, Val: f.val, SkipTrue: yes, SkipFalse: no}
		}
	}
	return bpf.Assemble(a.ins)
}
