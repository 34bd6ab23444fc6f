package capture

import (
	"fmt"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// Counters are the live, concurrency-safe counters of one source. The zero
// value is ready to use.
type Counters struct {
	packets     atomic.Uint64
	bytes       atomic.Uint64
	sip         atomic.Uint64
	datagrams   atomic.Uint64
	malformed   atomic.Uint64
	fragments   atomic.Uint64
	reassembled atomic.Uint64
	tcpResyncs  atomic.Uint64
	kernelDrops atomic.Uint64
	truncated   atomic.Uint64
	unsupported atomic.Uint64
}

// Stats is a point-in-time copy of Counters.
type Stats struct {
	// Packets and Bytes count every frame read from the source.
	Packets, Bytes uint64
	// SIPMessages counts messages handed to Handler.SIP.
	SIPMessages uint64
	// Datagrams counts payloads handed to Handler.Datagram.
	Datagrams uint64
	// Malformed counts frames, fragments, HEP packets and TCP stream data
	// that could not be decoded.
	Malformed uint64
	// Fragments counts IP fragments seen; Reassembled the datagrams rebuilt
	// from them.
	Fragments, Reassembled uint64
	// TCPResyncs counts the times a TCP stream skipped data to find the next
	// SIP start line (after a gap, a capture start mid-stream, or garbage).
	TCPResyncs uint64
	// KernelDrops counts packets the kernel dropped before we read them
	// (sniff only).
	KernelDrops uint64
	// Truncated counts damaged file tails and frames cut short by the
	// snap length.
	Truncated uint64
	// Unsupported counts frames of a link type or tunnel we do not decode.
	Unsupported uint64
}

// Snapshot returns the current values.
func (c *Counters) Snapshot() Stats {
	return Stats{
		Packets:     c.packets.Load(),
		Bytes:       c.bytes.Load(),
		SIPMessages: c.sip.Load(),
		Datagrams:   c.datagrams.Load(),
		Malformed:   c.malformed.Load(),
		Fragments:   c.fragments.Load(),
		Reassembled: c.reassembled.Load(),
		TCPResyncs:  c.tcpResyncs.Load(),
		KernelDrops: c.kernelDrops.Load(),
		Truncated:   c.truncated.Load(),
		Unsupported: c.unsupported.Load(),
	}
}

// Register adds one Prometheus counter per field to reg, named
// rebound_capture_<name>_total, with constLabels (for example
// {"source": "sniff:eth1"}) so several sources can share a registry.
func (c *Counters) Register(reg prometheus.Registerer, constLabels prometheus.Labels) error {
	metrics := []struct {
		name, help string
		v          *atomic.Uint64
	}{
		{"packets", "Frames read from the source.", &c.packets},
		{"bytes", "Bytes of frames read from the source.", &c.bytes},
		{"sip_messages", "Complete SIP messages decoded.", &c.sip},
		{"datagrams", "Non-SIP UDP datagrams handed on (RTP/RTCP candidates).", &c.datagrams},
		{"malformed", "Frames, fragments, HEP packets or stream data that could not be decoded.", &c.malformed},
		{"fragments", "IP fragments seen.", &c.fragments},
		{"reassembled", "IP datagrams rebuilt from fragments.", &c.reassembled},
		{"tcp_resyncs", "TCP streams that skipped data to the next SIP start line.", &c.tcpResyncs},
		{"kernel_drops", "Packets dropped by the kernel before capture.", &c.kernelDrops},
		{"truncated", "Damaged file tails and frames cut by the snap length.", &c.truncated},
		{"unsupported", "Frames of an unsupported link type or tunnel.", &c.unsupported},
	}
	for _, m := range metrics {
		v := m.v
		col := prometheus.NewCounterFunc(prometheus.CounterOpts{
			Namespace:   "rebound",
			Subsystem:   "capture",
			Name:        m.name + "_total",
			Help:        m.help,
			ConstLabels: constLabels,
		}, func() float64 { return float64(v.Load()) })
		if err := reg.Register(col); err != nil {
			return fmt.Errorf("capture: register metric %s: %w", m.name, err)
		}
	}
	return nil
}
