package samples

import (
	"fmt"
	"io"
	"net/netip"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// Side picks one party's outgoing audio in a sample call.
type Side int

const (
	// CallerSide is the RTP the trunk sends on the A-leg: the caller's voice.
	CallerSide Side = iota + 1
	// AgentSide is the RTP the agent's desk phone sends on the B-leg.
	AgentSide
	// PBXSide is what the PBX plays to the trunk on the A-leg: greetings,
	// queue prompts, hold music and the relayed agent.
	PBXSide
	// VoicemailSide is what the voicemail server plays: greeting and tone.
	VoicemailSide
)

// WriteStream writes a pcap holding only one side's RTP of the named call,
// with its original timing. It is what sipp's play_pcap_audio needs to
// replay a sample's real espeak-ng audio into a live call (end-to-end tests
// play the caller and the CSR this way).
func WriteStream(w io.Writer, name string, side Side) (int, error) {
	pkts, err := Packets(name)
	if err != nil {
		return 0, err
	}
	site := SampleSite()
	pw := pcapgo.NewWriter(w)
	if err := pw.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
		return 0, err
	}
	var want netip.AddrPort // the first matching flow's source: the A-leg's
	n := 0
	for _, p := range pkts {
		gp := gopacket.NewPacket(p.Data, layers.LayerTypeEthernet, gopacket.NoCopy)
		ip, _ := gp.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
		udp, _ := gp.Layer(layers.LayerTypeUDP).(*layers.UDP)
		if ip == nil || udp == nil || udp.SrcPort == layers.UDPPort(site.SIPPort) || udp.DstPort == layers.UDPPort(site.SIPPort) {
			continue
		}
		src, ok := netip.AddrFromSlice(ip.SrcIP.To4())
		if !ok {
			continue
		}
		dst, _ := netip.AddrFromSlice(ip.DstIP.To4())
		switch side {
		case CallerSide:
			ok = src == site.CarrierMedia && dst == site.PBX
		case AgentSide:
			ok = site.Phones.Contains(src) && dst == site.PBX
		case PBXSide:
			ok = src == site.PBX && dst == site.CarrierMedia
		case VoicemailSide:
			ok = src == site.Voicemail && dst == site.PBX
		default:
			return 0, fmt.Errorf("unknown side %d", side)
		}
		if !ok {
			continue
		}
		from := netip.AddrPortFrom(src, uint16(udp.SrcPort))
		if !want.IsValid() {
			want = from
		}
		if from != want {
			continue
		}
		if err := pw.WritePacket(p.Info, p.Data); err != nil {
			return n, err
		}
		n++
	}
	if n == 0 {
		return 0, fmt.Errorf("sample call %q has no RTP from that side", name)
	}
	return n, nil
}
