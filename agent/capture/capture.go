// Package capture owns the packet sources of the site agent: pcap and pcapng
// files (Pcap), live AF_PACKET sniffing with a kernel BPF filter (Sniff), and
// HEP v3 listeners over UDP and TCP (HEP). It decodes what they carry into
// complete SIP messages and other UDP datagrams, and hands them to a Handler
// that the consumer supplies.
//
// Decoded on the way:
//   - link types Ethernet, Linux cooked SLL and SLL2, raw IPv4/IPv6,
//     BSD loopback (null and loop), and PPPoE sessions;
//   - 802.1Q VLAN tags, stacked (QinQ, 0x88a8 and 0x9100);
//   - GRE with IP inside, transparent Ethernet bridging (0x6558) and
//     ERSPAN types I, II and III (remote mirror ports), IP-in-IP;
//   - IPv4 fragments (gopacket's ip4defrag) and IPv6 fragments (our own
//     bounded reassembly, RFC 8200 and RFC 5722 rules), with timeouts;
//   - SIP over UDP, found by the configured ports and by its start line on
//     any port; SIP over TCP, reassembled per direction, framed by
//     Content-Length, several messages per segment or one message over
//     many, resynchronised at the next start line after a gap; SIP over
//     WebSocket (RFC 7118) after an HTTP upgrade seen in the capture.
//
// Every source exposes Counters (a Stats snapshot, or Prometheus collectors
// on a caller's registry). The RTP path allocates nothing: a Datagram's
// payload aliases the capture buffer and is valid only during the call.
//
// SIP over TLS cannot be sniffed: use SIPREC or HEP for encrypted trunks.
package capture

import (
	"context"
	"log/slog"
	"net/netip"
	"time"
)

// Handler consumes what a source decodes. Calls are made from the source's
// Run goroutine, one at a time, in capture order.
type Handler interface {
	// SIP receives one complete SIP message.
	SIP(m Message)
	// Datagram receives a UDP payload that is not SIP (RTP, RTCP, ...).
	Datagram(d Datagram)
}

// Message is one complete SIP message as seen on the wire.
type Message struct {
	// At is the capture time of the packet that completed the message
	// (its last IP fragment or TCP segment), or the HEP timestamp.
	At       time.Time
	Src, Dst netip.AddrPort
	// Transport is "udp", "tcp", "ws" (SIP over WebSocket, RFC 7118) or
	// "hep".
	Transport string
	// Raw is the whole message (start line, headers, body). It is a copy the
	// handler owns and may keep.
	Raw []byte
}

// Datagram is one UDP payload that is not SIP.
type Datagram struct {
	At       time.Time
	Src, Dst netip.AddrPort
	// Payload aliases the capture buffer: it is valid only during the
	// Handler.Datagram call. Copy it to keep it. This keeps the RTP path free
	// of allocations.
	Payload []byte
}

// Source is a packet source. Run blocks until the input ends, ctx is
// cancelled or a fatal error occurs; a cancelled ctx returns nil.
type Source interface {
	Run(ctx context.Context, h Handler) error
	// Counters returns the live counters of the source.
	Counters() *Counters
}

// HandlerFuncs adapts two functions to a Handler; a nil function drops what
// it would have received.
type HandlerFuncs struct {
	OnSIP      func(Message)
	OnDatagram func(Datagram)
}

// SIP implements Handler.
func (f HandlerFuncs) SIP(m Message) {
	if f.OnSIP != nil {
		f.OnSIP(m)
	}
}

// Datagram implements Handler.
func (f HandlerFuncs) Datagram(d Datagram) {
	if f.OnDatagram != nil {
		f.OnDatagram(d)
	}
}

// decodeError is a constant error: the package keeps no mutable state,
// sentinel error variables included.
type decodeError string

func (e decodeError) Error() string { return string(e) }

// PortRange is an inclusive UDP port range. The zero value means "no range".
type PortRange struct {
	Min, Max uint16
}

// Contains reports whether p is inside the range.
func (r PortRange) Contains(p uint16) bool {
	return r.Max != 0 && p >= r.Min && p <= r.Max
}

// Config tunes decoding. The zero value is usable: defaults are filled in.
type Config struct {
	// SIPPorts are the ports on which UDP and TCP traffic is treated as SIP
	// even when a packet does not start with a SIP start line (TCP
	// continuation segments, keep-alives). SIP on other ports is still found
	// by its start line. Default: 5060.
	SIPPorts []uint16
	// RTPPorts limits which non-SIP UDP datagrams reach Handler.Datagram:
	// zero means every one (the pipeline decides what is RTP). The sniff
	// source also builds its BPF filter from it.
	RTPPorts PortRange
	// MaxTCPFlows bounds the number of TCP streams reassembled at once
	// (default 4096); the least recently active is dropped beyond it.
	MaxTCPFlows int
	// MaxMessageSize bounds one SIP message on TCP (default 65535 bytes);
	// a longer one is counted malformed and the stream resyncs.
	MaxMessageSize int
	// TCPIdleTimeout forgets a TCP stream idle for this long in capture
	// time (default 5 minutes).
	TCPIdleTimeout time.Duration
	// FragmentTimeout drops incomplete IP fragment sets older than this in
	// capture time (default 30 s).
	FragmentTimeout time.Duration
	// Logger receives warnings about malformed input (rate limited by the
	// caller's handler if needed). Default: discard.
	Logger *slog.Logger
}

const (
	defaultMaxTCPFlows     = 4096
	defaultMaxMessageSize  = 65535
	defaultTCPIdleTimeout  = 5 * time.Minute
	defaultFragmentTimeout = 30 * time.Second
)

func (c Config) withDefaults() Config {
	if len(c.SIPPorts) == 0 {
		c.SIPPorts = []uint16{5060}
	}
	if c.MaxTCPFlows <= 0 {
		c.MaxTCPFlows = defaultMaxTCPFlows
	}
	if c.MaxMessageSize <= 0 {
		c.MaxMessageSize = defaultMaxMessageSize
	}
	if c.TCPIdleTimeout <= 0 {
		c.TCPIdleTimeout = defaultTCPIdleTimeout
	}
	if c.FragmentTimeout <= 0 {
		c.FragmentTimeout = defaultFragmentTimeout
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}
