package recorder

import (
	"bytes"
	"io"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	reboundv1 "github.com/reboundhq/rebound/proto/rebound/v1"
)

// udpDatagram is one UDP payload read from a capture.
type udpDatagram struct {
	at       time.Time
	src, dst netip.AddrPort
	payload  []byte
}

// readUDP decodes every UDP datagram of a pcap or pcapng file.
func readUDP(t testing.TB, path string) []udpDatagram {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var magic [4]byte
	if _, err := io.ReadFull(f, magic[:]); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Seek(0, 0); err != nil {
		t.Fatal(err)
	}
	type source interface {
		ReadPacketData() ([]byte, gopacket.CaptureInfo, error)
	}
	var src source
	var link layers.LinkType
	if bytes.Equal(magic[:], []byte{0x0a, 0x0d, 0x0d, 0x0a}) {
		r, err := pcapgo.NewNgReader(f, pcapgo.DefaultNgReaderOptions)
		if err != nil {
			t.Fatal(err)
		}
		src, link = r, r.LinkType()
	} else {
		r, err := pcapgo.NewReader(f)
		if err != nil {
			t.Fatal(err)
		}
		src, link = r, r.LinkType()
	}
	var out []udpDatagram
	for {
		data, ci, err := src.ReadPacketData()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		var p gopacket.Packet
		if link == layers.LinkTypeLinuxSLL && len(data) > 16 {
			// Decode past the 16-byte cooked header by its protocol field:
			// some real captures carry a bogus address length there.
			first := gopacket.LayerType(layers.LayerTypeIPv4)
			if data[14] == 0x86 && data[15] == 0xdd {
				first = layers.LayerTypeIPv6
			}
			p = gopacket.NewPacket(data[16:], first, gopacket.Default)
		} else {
			p = gopacket.NewPacket(data, link, gopacket.Default)
		}
		udp, _ := p.Layer(layers.LayerTypeUDP).(*layers.UDP)
		if udp == nil {
			continue
		}
		var sa, da netip.Addr
		switch ip := p.NetworkLayer().(type) {
		case *layers.IPv4:
			sa, _ = netip.AddrFromSlice(ip.SrcIP.To4())
			da, _ = netip.AddrFromSlice(ip.DstIP.To4())
		case *layers.IPv6:
			sa, _ = netip.AddrFromSlice(ip.SrcIP)
			da, _ = netip.AddrFromSlice(ip.DstIP)
		default:
			continue
		}
		out = append(out, udpDatagram{at: ci.Timestamp, src: netip.AddrPortFrom(sa, uint16(udp.SrcPort)),
			dst: netip.AddrPortFrom(da, uint16(udp.DstPort)), payload: append([]byte(nil), udp.Payload...)})
	}
	return out
}

// sdpEndpoint reads the first audio endpoint of a SIP message carrying SDP.
// The party is the message's sender: the first INVITE's sender is the caller.
func sdpEndpoint(msg []byte, ch reboundv1.Channel) (Endpoint, bool) {
	s := string(msg)
	i := strings.Index(s, "\r\n\r\n")
	if i < 0 || !strings.Contains(s[i:], "v=0") {
		return Endpoint{}, false
	}
	ep := Endpoint{Channel: ch, Payloads: map[uint8]Codec{}}
	var addr netip.Addr
	var port int
	for _, line := range strings.Split(s[i+4:], "\n") {
		line = strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(line, "c=IN IP4 "), strings.HasPrefix(line, "c=IN IP6 "):
			if a, err := netip.ParseAddr(strings.Fields(line[9:])[0]); err == nil && (!addr.IsValid() || port == 0) {
				addr = a
			}
		case strings.HasPrefix(line, "m=audio "):
			port, _ = strconv.Atoi(strings.Fields(line)[1])
		case strings.HasPrefix(line, "a=rtpmap:"):
			f := strings.Fields(line[len("a=rtpmap:"):])
			if len(f) == 2 {
				pt, _ := strconv.Atoi(f[0])
				enc := strings.Split(f[1], "/")
				rate := 8000
				if len(enc) > 1 {
					rate, _ = strconv.Atoi(enc[1])
				}
				ep.Payloads[uint8(pt)] = Codec{Name: enc[0], ClockRate: uint32(rate)}
			}
		case strings.HasPrefix(line, "a=zrtp-hash"), strings.HasPrefix(line, "a=crypto"):
			ep.Secure = true
		}
	}
	if !addr.IsValid() || port == 0 {
		return Endpoint{}, false
	}
	ep.Addr = netip.AddrPortFrom(addr, uint16(port))
	return ep, true
}

// replay feeds a capture to the recorder as one call: SIP messages with SDP
// become Media calls, everything else goes to Packet. It returns how many
// datagrams the recorder claimed.
func replay(t testing.TB, r *Recorder, callID string, dgs []udpDatagram) int {
	t.Helper()
	var callerSIP netip.AddrPort
	claimed := 0
	for _, d := range dgs {
		if bytes.HasPrefix(d.payload, []byte("SIP/2.0 ")) || bytes.Contains(d.payload[:min(len(d.payload), 64)], []byte(" SIP/2.0\r\n")) {
			if !callerSIP.IsValid() && bytes.HasPrefix(d.payload, []byte("INVITE ")) {
				callerSIP = d.src
			}
			ch := reboundv1.Channel_CHANNEL_AGENT
			if d.src == callerSIP {
				ch = reboundv1.Channel_CHANNEL_CALLER
			}
			if ep, ok := sdpEndpoint(d.payload, ch); ok {
				r.Media(callID, ep)
			}
			continue
		}
		if r.Packet(d.at, d.src, d.dst, d.payload) {
			claimed++
		}
	}
	return claimed
}
