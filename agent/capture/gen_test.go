package capture

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// Packet builders for tests and benchmarks: real gopacket serialisation, so
// the frames are what a NIC would see (and tshark agrees with them).

var serializeOpts = gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}

func serialize(t testing.TB, ls ...gopacket.SerializableLayer) []byte {
	t.Helper()
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, serializeOpts, ls...); err != nil {
		t.Fatalf("serialize: %v", err)
	}
	return append([]byte(nil), buf.Bytes()...)
}

// ipLayer returns the IPv4 or IPv6 header for a packet from src to dst.
func ipLayer(src, dst netip.Addr, proto layers.IPProtocol) gopacket.NetworkLayer {
	if src.Is4() {
		return &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: proto, SrcIP: net.IP(src.AsSlice()), DstIP: net.IP(dst.AsSlice())}
	}
	return &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: proto, SrcIP: net.IP(src.AsSlice()), DstIP: net.IP(dst.AsSlice())}
}

// ipUDP builds an IP packet carrying one UDP datagram.
func ipUDP(t testing.TB, src, dst netip.AddrPort, payload []byte) []byte {
	ip := ipLayer(src.Addr(), dst.Addr(), layers.IPProtocolUDP)
	udp := &layers.UDP{SrcPort: layers.UDPPort(src.Port()), DstPort: layers.UDPPort(dst.Port())}
	_ = udp.SetNetworkLayerForChecksum(ip)
	return serialize(t, ip.(gopacket.SerializableLayer), udp, gopacket.Payload(payload))
}

// ipTCP builds an IP packet carrying one TCP segment.
func ipTCP(t testing.TB, src, dst netip.AddrPort, seq uint32, syn, fin bool, payload []byte) []byte {
	ip := ipLayer(src.Addr(), dst.Addr(), layers.IPProtocolTCP)
	tcp := &layers.TCP{SrcPort: layers.TCPPort(src.Port()), DstPort: layers.TCPPort(dst.Port()), Seq: seq, SYN: syn, FIN: fin, ACK: !syn, Window: 65535}
	_ = tcp.SetNetworkLayerForChecksum(ip)
	return serialize(t, ip.(gopacket.SerializableLayer), tcp, gopacket.Payload(payload))
}

// ether wraps an IP packet (or any payload of type et) in Ethernet, with
// VLAN tags given as TPID/VID pairs outermost first.
func ether(t testing.TB, et layers.EthernetType, inner []byte, tags ...[2]uint16) []byte {
	eth := &layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}, EthernetType: et}
	ls := []gopacket.SerializableLayer{eth}
	if len(tags) > 0 {
		eth.EthernetType = layers.EthernetType(tags[0][0])
		for i, tag := range tags {
			next := et
			if i+1 < len(tags) {
				next = layers.EthernetType(tags[i+1][0])
			}
			ls = append(ls, &layers.Dot1Q{VLANIdentifier: tag[1], Type: next})
		}
	}
	return serialize(t, append(ls, gopacket.Payload(inner))...)
}

func etherTypeOf(ipPacket []byte) layers.EthernetType {
	if ipPacket[0]>>4 == 6 {
		return layers.EthernetTypeIPv6
	}
	return layers.EthernetTypeIPv4
}

// fragmentUDP builds the IP fragments of one UDP datagram, each carrying at
// most chunk bytes of the UDP header+payload (chunk a multiple of 8).
func fragmentUDP(t testing.TB, src, dst netip.AddrPort, payload []byte, chunk int, id uint32) [][]byte {
	ip := ipLayer(src.Addr(), dst.Addr(), layers.IPProtocolUDP)
	udp := &layers.UDP{SrcPort: layers.UDPPort(src.Port()), DstPort: layers.UDPPort(dst.Port())}
	_ = udp.SetNetworkLayerForChecksum(ip)
	upper := serialize(t, udp, gopacket.Payload(payload))
	var out [][]byte
	for off := 0; off < len(upper); off += chunk {
		end := min(off+chunk, len(upper))
		more := end < len(upper)
		if src.Addr().Is4() {
			h := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocolUDP, Id: uint16(id),
				SrcIP: net.IP(src.Addr().AsSlice()), DstIP: net.IP(dst.Addr().AsSlice()), FragOffset: uint16(off / 8)}
			if more {
				h.Flags = layers.IPv4MoreFragments
			}
			out = append(out, serialize(t, h, gopacket.Payload(upper[off:end])))
			continue
		}
		h := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolIPv6Fragment,
			SrcIP: net.IP(src.Addr().AsSlice()), DstIP: net.IP(dst.Addr().AsSlice())}
		f := &layers.IPv6Fragment{NextHeader: layers.IPProtocolUDP, FragmentOffset: uint16(off / 8), MoreFragments: more, Identification: id}
		out = append(out, serialize(t, h, f, gopacket.Payload(upper[off:end])))
	}
	return out
}

// writePcap writes frames of one link type, 20 ms apart.
func writePcap(t testing.TB, path string, lt layers.LinkType, frames [][]byte) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := pcapgo.NewWriter(f)
	if err := w.WriteFileHeader(65535, lt); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for i, fr := range frames {
		ci := gopacket.CaptureInfo{Timestamp: at.Add(time.Duration(i) * 20 * time.Millisecond), CaptureLength: len(fr), Length: len(fr)}
		if err := w.WritePacket(ci, fr); err != nil {
			t.Fatal(err)
		}
	}
}

// sipInvite returns an INVITE with an SDP body; pad adds headers to make
// it as large as wanted (large INVITEs are what get fragmented).
func sipInvite(callID string, pad int) []byte {
	body := "v=0\r\no=- 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n"
	var b strings.Builder
	fmt.Fprintf(&b, "INVITE sip:100@192.0.2.20 SIP/2.0\r\n")
	fmt.Fprintf(&b, "Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-%s\r\n", callID)
	fmt.Fprintf(&b, "From: <sip:+15551230000@192.0.2.10>;tag=a1\r\nTo: <sip:100@192.0.2.20>\r\n")
	fmt.Fprintf(&b, "Call-ID: %s\r\nCSeq: 1 INVITE\r\nContact: <sip:caller@192.0.2.10>\r\nMax-Forwards: 70\r\n", callID)
	for i := 0; b.Len() < pad; i++ {
		fmt.Fprintf(&b, "X-Padding-%d: %s\r\n", i, strings.Repeat("p", 60))
	}
	fmt.Fprintf(&b, "Content-Type: application/sdp\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
	return []byte(b.String())
}

func sipResponse(callID string, code int, reason string) []byte {
	return []byte(fmt.Sprintf("SIP/2.0 %d %s\r\nVia: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-%s\r\nFrom: <sip:+15551230000@192.0.2.10>;tag=a1\r\nTo: <sip:100@192.0.2.20>;tag=b2\r\nCall-ID: %s\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n", code, reason, callID, callID))
}

// sllFrame prepends a Linux cooked (v1) header.
func sllFrame(et layers.EthernetType, inner []byte) []byte {
	h := make([]byte, 16, 16+len(inner))
	binary.BigEndian.PutUint16(h[0:2], 0) // to us
	binary.BigEndian.PutUint16(h[2:4], 1) // ARPHRD_ETHER
	binary.BigEndian.PutUint16(h[4:6], 6)
	copy(h[6:], []byte{2, 0, 0, 0, 0, 1})
	binary.BigEndian.PutUint16(h[14:16], uint16(et))
	return append(h, inner...)
}

// sll2Frame prepends a Linux cooked v2 header.
func sll2Frame(et layers.EthernetType, inner []byte) []byte {
	h := make([]byte, 20, 20+len(inner))
	binary.BigEndian.PutUint16(h[0:2], uint16(et))
	binary.BigEndian.PutUint32(h[4:8], 1) // ifindex
	binary.BigEndian.PutUint16(h[8:10], 1)
	h[10] = 0 // to us
	h[11] = 6
	copy(h[12:], []byte{2, 0, 0, 0, 0, 1})
	return append(h, inner...)
}

// nullFrame prepends a BSD loopback family word (host order for DLT_NULL,
// network order for DLT_LOOP).
func nullFrame(family uint32, bigEndian bool, inner []byte) []byte {
	h := make([]byte, 4, 4+len(inner))
	if bigEndian {
		binary.BigEndian.PutUint32(h, family)
	} else {
		binary.LittleEndian.PutUint32(h, family)
	}
	return append(h, inner...)
}

// erspan3Header is an ERSPAN type III header (version 2) for an Ethernet
// frame, with the optional 8-byte platform sub-header when sub is set.
func erspan3Header(sub bool) []byte {
	h := make([]byte, 12, 20)
	h[0], h[1] = 0x20, 10 // version 2, VLAN 10
	h[3] = 5              // session 5
	if sub {
		h[11] |= 1
		h = append(h, make([]byte, 8)...)
	}
	return h
}

// greFrame wraps a frame in outer Ethernet/IPv4/GRE.
func greFrame(t testing.TB, proto layers.EthernetType, erspan bool, inner []byte) []byte {
	outer := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocolGRE, SrcIP: net.IP{198, 51, 100, 1}, DstIP: net.IP{198, 51, 100, 2}}
	gre := &layers.GRE{Protocol: proto}
	ls := []gopacket.SerializableLayer{
		&layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 3}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 4}, EthernetType: layers.EthernetTypeIPv4},
		outer, gre,
	}
	if erspan {
		gre.SeqPresent, gre.Seq = true, 7
		ls = append(ls, &layers.ERSPANII{Version: 1, VLANIdentifier: 10, SessionID: 3})
	}
	return serialize(t, append(ls, gopacket.Payload(inner))...)
}

func mustTime(t testing.TB) time.Time {
	t.Helper()
	return time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
}

// lookTshark returns tshark's path or "" (for optional cross-checks of
// generated captures inside tests whose main assertions need no peer). The
// cross-checks cost a tshark start each, so -short leaves them out.
func lookTshark() string {
	if testing.Short() {
		return ""
	}
	p, err := exec.LookPath("tshark")
	if err != nil {
		return ""
	}
	return p
}
