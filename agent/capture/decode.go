package capture

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/ip4defrag"
	"github.com/gopacket/gopacket/layers"
)

// Link types pcap files use for raw IP besides LinkTypeRaw (101): DLT_RAW is
// 12 or 14 on some BSDs.
const (
	linkTypeRawBSD1 layers.LinkType = 12
	linkTypeRawBSD2 layers.LinkType = 14
)

// maxTunnelDepth bounds nested tunnels (GRE in GRE in ...).
const maxTunnelDepth = 4

// fragmentHoldLimit bounds the bytes held in IPv4 fragment lists between
// timeout sweeps: beyond it every pending list is dropped.
const fragmentHoldLimit = 16 << 20

// decoder turns link-layer frames into Handler calls. It reuses its gopacket
// DecodingLayers for every frame, so the UDP path allocates nothing. It is
// not safe for concurrent use: each source runs one.
type decoder struct {
	cfg      Config
	c        *Counters
	h        Handler
	sipPorts [1024]uint64 // bitset over 65536 ports

	eth    layers.Ethernet
	dot1q  layers.Dot1Q
	ip4    layers.IPv4
	ip6    layers.IPv6
	udp    layers.UDP
	tcp    layers.TCP
	gre    layers.GRE
	erspan layers.ERSPANII

	at time.Time

	defrag4      *ip4defrag.IPv4Defragmenter
	frag4Held    int
	frag4Swept   time.Time
	defrag6      *ipv6Defragmenter
	streams      *tcpStreams
	streamsSwept time.Time
}

func newDecoder(cfg Config, c *Counters, h Handler) *decoder {
	cfg = cfg.withDefaults()
	d := &decoder{
		cfg:     cfg,
		c:       c,
		h:       h,
		defrag4: ip4defrag.NewIPv4Defragmenter(),
		defrag6: newIPv6Defragmenter(cfg.FragmentTimeout),
	}
	for _, p := range cfg.SIPPorts {
		d.sipPorts[p>>6] |= 1 << (p & 63)
	}
	d.streams = newTCPStreams(d)
	return d
}

func (d *decoder) isSIPPort(p uint16) bool {
	return d.sipPorts[p>>6]&(1<<(p&63)) != 0
}

// packet decodes one frame of the given link type. wireLen is the original
// length on the wire (0 if unknown), used to count snap-length truncation.
func (d *decoder) packet(lt layers.LinkType, data []byte, at time.Time, wireLen int) {
	d.c.packets.Add(1)
	d.c.bytes.Add(uint64(len(data)))
	if wireLen > len(data) {
		d.c.truncated.Add(1)
	}
	d.at = at
	d.link(lt, data, 0)
	d.sweep()
}

func (d *decoder) link(lt layers.LinkType, data []byte, depth int) {
	switch lt {
	case layers.LinkTypeEthernet:
		d.ethernet(data, depth)
	case layers.LinkTypeLinuxSLL:
		// Parsed by hand rather than with layers.LinuxSLL: some writers
		// store the address length little-endian, which gopacket rejects,
		// while the protocol field at offset 14 is always right.
		if len(data) < 16 {
			d.c.malformed.Add(1)
			return
		}
		d.etherType(layers.EthernetType(binary.BigEndian.Uint16(data[14:16])), data[16:], depth)
	case layers.LinkTypeLinuxSLL2:
		// SLL2: the protocol comes first, the header is 20 bytes.
		if len(data) < 20 {
			d.c.malformed.Add(1)
			return
		}
		d.etherType(layers.EthernetType(binary.BigEndian.Uint16(data[0:2])), data[20:], depth)
	case layers.LinkTypeRaw, layers.LinkTypeIPv4, layers.LinkTypeIPv6, linkTypeRawBSD1, linkTypeRawBSD2:
		d.rawIP(data, depth)
	case layers.LinkTypeNull, layers.LinkTypeLoop:
		// A 4-byte address family (host or network order); the IP version
		// nibble that follows says the same thing more reliably.
		if len(data) < 4 {
			d.c.malformed.Add(1)
			return
		}
		d.rawIP(data[4:], depth)
	default:
		d.c.unsupported.Add(1)
	}
}

func (d *decoder) rawIP(data []byte, depth int) {
	if len(data) == 0 {
		d.c.malformed.Add(1)
		return
	}
	switch data[0] >> 4 {
	case 4:
		d.ipv4(data, depth)
	case 6:
		d.ipv6(data, depth)
	default:
		d.c.malformed.Add(1)
	}
}

func (d *decoder) ethernet(data []byte, depth int) {
	if err := d.eth.DecodeFromBytes(data, gopacket.NilDecodeFeedback); err != nil {
		d.c.malformed.Add(1)
		return
	}
	d.etherType(d.eth.EthernetType, d.eth.Payload, depth)
}

func (d *decoder) etherType(et layers.EthernetType, data []byte, depth int) {
	// VLAN tags: 802.1Q, 802.1ad (QinQ) and the old 0x9100 QinQ, stacked.
	for i := 0; i < 4 && (et == layers.EthernetTypeDot1Q || et == layers.EthernetTypeQinQ || et == 0x9100); i++ {
		if err := d.dot1q.DecodeFromBytes(data, gopacket.NilDecodeFeedback); err != nil {
			d.c.malformed.Add(1)
			return
		}
		et, data = d.dot1q.Type, d.dot1q.Payload
	}
	switch et {
	case layers.EthernetTypeIPv4:
		d.ipv4(data, depth)
	case layers.EthernetTypeIPv6:
		d.ipv6(data, depth)
	case layers.EthernetTypePPPoESession:
		// PPPoE header (6 bytes) then the 2-byte PPP protocol.
		if len(data) < 8 {
			d.c.malformed.Add(1)
			return
		}
		switch binary.BigEndian.Uint16(data[6:8]) {
		case 0x0021:
			d.ipv4(data[8:], depth)
		case 0x0057:
			d.ipv6(data[8:], depth)
		}
	case layers.EthernetTypeTransparentEthernetBridging:
		if depth >= maxTunnelDepth {
			d.c.unsupported.Add(1)
			return
		}
		d.ethernet(data, depth+1)
	default:
		// ARP, LLDP, MPLS, ...: not ours, and not an error.
	}
}

func (d *decoder) ipv4(data []byte, depth int) {
	ip := &d.ip4
	if err := ip.DecodeFromBytes(data, gopacket.NilDecodeFeedback); err != nil {
		d.c.malformed.Add(1)
		return
	}
	if ip.Flags&layers.IPv4MoreFragments != 0 || ip.FragOffset != 0 {
		d.fragment4(depth)
		return
	}
	src := netip.AddrFrom4([4]byte(ip.SrcIP))
	dst := netip.AddrFrom4([4]byte(ip.DstIP))
	d.transport(ip.Protocol, src, dst, ip.Payload, depth)
}

// fragment4 feeds gopacket's ip4defrag. It keeps a pointer to each fragment
// it is given, so the fragment is copied out of the reused layer and the
// capture buffer first. Fragments are rare enough for that allocation.
func (d *decoder) fragment4(depth int) {
	d.c.fragments.Add(1)
	in := d.ip4
	cp := &layers.IPv4{
		Version: in.Version, IHL: in.IHL, TOS: in.TOS, Length: in.Length, Id: in.Id,
		Flags: in.Flags, FragOffset: in.FragOffset, TTL: in.TTL, Protocol: in.Protocol,
		SrcIP: bytes.Clone(in.SrcIP), DstIP: bytes.Clone(in.DstIP),
	}
	cp.Payload = bytes.Clone(in.Payload)
	d.frag4Held += len(cp.Payload)
	out, err := d.defrag4.DefragIPv4WithTimestamp(cp, d.at)
	if err != nil {
		d.c.malformed.Add(1)
		d.cfg.Logger.Debug("capture: ipv4 fragment dropped", "err", err)
		return
	}
	if out == nil {
		return
	}
	d.c.reassembled.Add(1)
	d.frag4Held = max(0, d.frag4Held-len(out.Payload))
	src := netip.AddrFrom4([4]byte(out.SrcIP))
	dst := netip.AddrFrom4([4]byte(out.DstIP))
	d.transport(out.Protocol, src, dst, out.Payload, depth)
}

func (d *decoder) ipv6(data []byte, depth int) {
	ip := &d.ip6
	if err := ip.DecodeFromBytes(data, gopacket.NilDecodeFeedback); err != nil {
		d.c.malformed.Add(1)
		return
	}
	src := netip.AddrFrom16([16]byte(ip.SrcIP))
	dst := netip.AddrFrom16([16]byte(ip.DstIP))
	nh := ip.NextHeader
	if ip.HopByHop != nil {
		nh = ip.HopByHop.NextHeader
	}
	p := ip.Payload
	// Walk the extension headers gopacket leaves to us (it only folds
	// Hop-by-Hop into the IPv6 layer).
	for range 8 {
		switch nh {
		case layers.IPProtocolIPv6HopByHop, layers.IPProtocolIPv6Routing, layers.IPProtocolIPv6Destination, 135 /* mobility */ :
			if len(p) < 8 {
				d.c.malformed.Add(1)
				return
			}
			l := (int(p[1]) + 1) * 8
			if l > len(p) {
				d.c.malformed.Add(1)
				return
			}
			nh, p = layers.IPProtocol(p[0]), p[l:]
		case layers.IPProtocolAH:
			if len(p) < 8 {
				d.c.malformed.Add(1)
				return
			}
			l := (int(p[1]) + 2) * 4
			if l > len(p) {
				d.c.malformed.Add(1)
				return
			}
			nh, p = layers.IPProtocol(p[0]), p[l:]
		case layers.IPProtocolIPv6Fragment:
			if len(p) < 8 {
				d.c.malformed.Add(1)
				return
			}
			d.c.fragments.Add(1)
			next := layers.IPProtocol(p[0])
			off := int(binary.BigEndian.Uint16(p[2:4]) &^ 7)
			more := p[3]&1 != 0
			id := binary.BigEndian.Uint32(p[4:8])
			whole, proto, err := d.defrag6.add(src, dst, id, next, off, more, p[8:], d.at)
			if err != nil {
				d.c.malformed.Add(1)
				d.cfg.Logger.Debug("capture: ipv6 fragment dropped", "err", err)
				return
			}
			if whole == nil {
				return
			}
			d.c.reassembled.Add(1)
			d.transport(proto, src, dst, whole, depth)
			return
		case layers.IPProtocolNoNextHeader:
			return
		default:
			d.transport(nh, src, dst, p, depth)
			return
		}
	}
	d.c.unsupported.Add(1)
}

func (d *decoder) transport(proto layers.IPProtocol, src, dst netip.Addr, payload []byte, depth int) {
	switch proto {
	case layers.IPProtocolUDP:
		if err := d.udp.DecodeFromBytes(payload, gopacket.NilDecodeFeedback); err != nil {
			d.c.malformed.Add(1)
			return
		}
		d.udpPayload(netip.AddrPortFrom(src, uint16(d.udp.SrcPort)), netip.AddrPortFrom(dst, uint16(d.udp.DstPort)), d.udp.Payload)
	case layers.IPProtocolTCP:
		t := &d.tcp
		if err := t.DecodeFromBytes(payload, gopacket.NilDecodeFeedback); err != nil {
			d.c.malformed.Add(1)
			return
		}
		d.streams.segment(netip.AddrPortFrom(src, uint16(t.SrcPort)), netip.AddrPortFrom(dst, uint16(t.DstPort)), t.Seq, t.SYN, t.FIN || t.RST, t.Payload)
	case layers.IPProtocolGRE:
		d.greTunnel(payload, depth)
	case layers.IPProtocolIPv4:
		if depth < maxTunnelDepth {
			d.ipv4(payload, depth+1)
		}
	case layers.IPProtocolIPv6:
		if depth < maxTunnelDepth {
			d.ipv6(payload, depth+1)
		}
	}
}

// greTunnel decapsulates GRE: IP inside, transparent Ethernet bridging
// (0x6558) and ERSPAN type I/II (0x88be) carry mirrored Ethernet frames.
func (d *decoder) greTunnel(data []byte, depth int) {
	if depth >= maxTunnelDepth {
		d.c.unsupported.Add(1)
		return
	}
	if err := d.gre.DecodeFromBytes(data, gopacket.NilDecodeFeedback); err != nil {
		d.c.malformed.Add(1)
		return
	}
	if d.gre.Protocol == ethernetTypeERSPAN3 {
		d.erspan3(d.gre.Payload, depth)
		return
	}
	switch d.gre.NextLayerType() {
	case layers.LayerTypeEthernet:
		d.ethernet(d.gre.Payload, depth+1)
	case layers.LayerTypeERSPANII:
		if err := d.erspan.DecodeFromBytes(d.gre.Payload, gopacket.NilDecodeFeedback); err != nil {
			d.c.malformed.Add(1)
			return
		}
		d.ethernet(d.erspan.Payload, depth+1)
	case layers.LayerTypeIPv4:
		d.ipv4(d.gre.Payload, depth+1)
	case layers.LayerTypeIPv6:
		d.ipv6(d.gre.Payload, depth+1)
	default:
		d.c.unsupported.Add(1)
	}
}

// ethernetTypeERSPAN3 is the GRE protocol type of ERSPAN type III.
const ethernetTypeERSPAN3 layers.EthernetType = 0x22eb

// erspan3 strips an ERSPAN type III header: 12 bytes, plus an 8-byte
// platform sub-header when the O flag is set. The frame type says whether
// an Ethernet frame or a bare IP packet follows.
func (d *decoder) erspan3(data []byte, depth int) {
	if len(data) < 12 || data[0]>>4 != 2 {
		d.c.malformed.Add(1)
		return
	}
	frameType := (data[10] >> 2) & 0x1f
	hdr := 12
	if data[11]&1 != 0 {
		hdr += 8
	}
	if len(data) < hdr {
		d.c.malformed.Add(1)
		return
	}
	switch frameType {
	case 0:
		d.ethernet(data[hdr:], depth+1)
	case 2:
		d.rawIP(data[hdr:], depth+1)
	default:
		d.c.unsupported.Add(1)
	}
}

// udpPayload routes one UDP payload: SIP when it starts with a SIP start
// line (any port), otherwise a datagram, except on SIP ports where non-SIP
// payloads are keep-alives or garbage.
func (d *decoder) udpPayload(src, dst netip.AddrPort, payload []byte) {
	switch startLine(payload) {
	case isSIP:
		d.emitSIP(src, dst, "udp", payload)
		return
	case needMore:
		if len(payload) > 0 {
			// A datagram is all there is: an unfinished start line is
			// a cut message.
			d.c.malformed.Add(1)
			return
		}
	}
	if d.isSIPPort(src.Port()) || d.isSIPPort(dst.Port()) {
		switch {
		case isKeepAlive(payload):
			// RFC 5626 CRLF, or the blanks and NULs phones send.
		case payload[0] < 4:
			// STUN keep-alive (RFC 5626).
		default:
			d.c.malformed.Add(1)
		}
		return
	}
	if r := d.cfg.RTPPorts; r.Max != 0 && !r.Contains(src.Port()) && !r.Contains(dst.Port()) {
		return
	}
	d.c.datagrams.Add(1)
	d.h.Datagram(Datagram{At: d.at, Src: src, Dst: dst, Payload: payload})
}

func isKeepAlive(b []byte) bool {
	for _, c := range b {
		switch c {
		case '\r', '\n', ' ', '\t', 0:
		default:
			return false
		}
	}
	return true
}

// emitSIP hands a copy of one complete message to the handler.
func (d *decoder) emitSIP(src, dst netip.AddrPort, transport string, raw []byte) {
	d.c.sip.Add(1)
	d.h.SIP(Message{At: d.at, Src: src, Dst: dst, Transport: transport, Raw: bytes.Clone(raw)})
}

// sweep drops state that has outlived its timeout, once per capture second.
func (d *decoder) sweep() {
	if d.frag4Held > fragmentHoldLimit {
		d.defrag4.DiscardOlderThan(d.at.Add(time.Hour))
		d.frag4Held = 0
	}
	if d.at.Sub(d.frag4Swept) >= time.Second || d.at.Before(d.frag4Swept) {
		d.frag4Swept = d.at
		if d.frag4Held > 0 {
			// Incomplete datagrams that timed out count as malformed.
			if n := d.defrag4.DiscardOlderThan(d.at.Add(-d.cfg.FragmentTimeout)); n > 0 {
				d.c.malformed.Add(uint64(n))
			}
		}
		if n := d.defrag6.expire(d.at); n > 0 {
			d.c.malformed.Add(uint64(n))
		}
	}
	if d.at.Sub(d.streamsSwept) >= 10*time.Second || d.at.Before(d.streamsSwept) {
		d.streamsSwept = d.at
		d.streams.expire(d.at.Add(-d.cfg.TCPIdleTimeout))
	}
}
