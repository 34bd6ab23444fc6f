package capture

import "time"

// Sniff captures live from a network interface with AF_PACKET (TPACKET_V3,
// memory-mapped ring, no cgo) and a kernel BPF filter built from the
// configured SIP ports and RTP range (see BuildFilter). Running it needs
// CAP_NET_RAW. Kernel drops are read into Counters once a second.
type Sniff struct {
	// Interface to capture on, such as "eth1" (a mirror port) or "lo".
	Interface string
	// Config tunes decoding; Config.SIPPorts and Config.RTPPorts also
	// build the BPF filter.
	Config Config
	// BlockSize and NumBlocks size the capture ring (defaults 1 MiB x 32).
	BlockSize, NumBlocks int
	// NoFilter captures everything (SIP on unexpected TCP ports, for
	// example) at the cost of more user-space work.
	NoFilter bool
	// Clock stamps packets when the kernel gives no timestamp; default
	// time.Now.
	Clock func() time.Time

	counters Counters
}

// Counters implements Source.
func (s *Sniff) Counters() *Counters { return &s.counters }

const (
	defaultBlockSize  = 1 << 20
	defaultNumBlocks  = 32
	sniffFrameSize    = 1 << 16
	sniffPollInterval = 100 * time.Millisecond
)
