package samples

import (
	"fmt"
	"net/netip"

	"github.com/reboundhq/rebound/agent/calls"
)

// Site is the network the sample calls were captured on, as a mirror port
// beside the PBX would see it: a B2BUA PBX between the SIP trunk carrier and
// the desk phones, with a separate voicemail server. Every leg the PBX
// originates carries the A-leg Call-ID in the correlation header.
type Site struct {
	// PBX is the B2BUA (SIP on port 5060, media on 10000-10999).
	PBX netip.Addr
	// CarrierSignalling is the trunk carrier's SBC (SIP on port 5060).
	CarrierSignalling netip.Addr
	// CarrierMedia is where the carrier's RTP comes from. It differs from the
	// signalling address on purpose: media must be matched through SDP.
	CarrierMedia netip.Addr
	// Voicemail is the voicemail server; its mailboxes are extensions 9xx.
	Voicemail netip.Addr
	// Phones is the desk-phone subnet; extension 2xx sits at host .2xx.
	Phones netip.Prefix
	// Domain is the PBX's SIP domain.
	Domain string
	// CorrelationHeader carries the A-leg Call-ID on every B-leg.
	CorrelationHeader string
	// AgentExtensions, QueueExtensions and VoicemailExtensions are regular
	// expressions for the user part of a Request-URI.
	AgentExtensions     string
	QueueExtensions     string
	VoicemailExtensions string
	// SIPPort is the SIP port of every host.
	SIPPort uint16
}

// SampleSite returns the network plan of the sample calls.
func SampleSite() Site {
	return Site{
		PBX:                 netip.MustParseAddr("10.20.0.5"),
		CarrierSignalling:   netip.MustParseAddr("198.51.100.20"),
		CarrierMedia:        netip.MustParseAddr("198.51.100.30"),
		Voicemail:           netip.MustParseAddr("10.20.0.9"),
		Phones:              netip.MustParsePrefix("10.20.30.0/24"),
		Domain:              "pbx.reboundplumbing.example",
		CorrelationHeader:   "X-CID",
		AgentExtensions:     `^2\d\d$`,
		QueueExtensions:     `^8\d\d$`,
		VoicemailExtensions: `^9\d\d$`,
		SIPPort:             5060,
	}
}

// Phone returns the address of the desk phone of a 2xx extension.
func (s Site) Phone(ext string) (netip.Addr, error) {
	var n int
	if _, err := fmt.Sscanf(ext, "%d", &n); err != nil || n < 200 || n > 254 {
		return netip.Addr{}, fmt.Errorf("extension %q has no desk phone on the sample site", ext)
	}
	b := s.Phones.Addr().As4()
	b[3] = byte(n)
	return netip.AddrFrom4(b), nil
}

// CallsConfig returns the agent's call rules for the sample site: the trunk
// carrier's signalling and media addresses, the extension patterns, and the
// correlation header. The demo runs the agent with it.
func (s Site) CallsConfig() calls.Config {
	return calls.Config{
		Correlation: &calls.Correlation{Header: s.CorrelationHeader},
		Direction: &calls.Direction{
			TrunkPeers:      []string{s.CarrierSignalling.String() + "/32", s.CarrierMedia.String() + "/32"},
			AgentExtensions: []string{s.AgentExtensions},
			Queues:          []string{s.QueueExtensions},
		},
		Voicemail: &calls.Voicemail{Extensions: []string{s.VoicemailExtensions}},
	}
}
