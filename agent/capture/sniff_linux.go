//go:build linux

package capture

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/gopacket/gopacket/afpacket"
	"github.com/gopacket/gopacket/layers"
	"golang.org/x/net/bpf"
)

// Run implements Source. It returns an error when the interface cannot be
// opened (missing, or no CAP_NET_RAW), and nil when ctx is cancelled.
func (s *Sniff) Run(ctx context.Context, h Handler) error {
	ifc, err := net.InterfaceByName(s.Interface)
	if err != nil {
		return fmt.Errorf("capture: sniff %s: %w", s.Interface, err)
	}
	block, blocks := s.BlockSize, s.NumBlocks
	if block <= 0 {
		block = defaultBlockSize
	}
	if blocks <= 0 {
		blocks = defaultNumBlocks
	}
	tp, err := afpacket.NewTPacket(
		afpacket.OptInterface(s.Interface),
		afpacket.OptTPacketVersion(afpacket.TPacketVersion3),
		afpacket.OptFrameSize(sniffFrameSize),
		afpacket.OptBlockSize(block),
		afpacket.OptNumBlocks(blocks),
		afpacket.OptPollTimeout(sniffPollInterval),
		afpacket.OptBlockTimeout(10*time.Millisecond),
	)
	if err != nil {
		return fmt.Errorf("capture: sniff %s: open AF_PACKET socket: %w", s.Interface, err)
	}
	defer tp.Close()
	cfg := s.Config.withDefaults()
	// On loopback every packet passes twice (outgoing, then incoming):
	// the filter keeps only the incoming copy.
	loopback := ifc.Flags&net.FlagLoopback != 0
	var prog []bpf.RawInstruction
	switch {
	case !s.NoFilter:
		prog, err = BuildFilter(FilterSpec{SIPPorts: cfg.SIPPorts, RTPPorts: cfg.RTPPorts, DropOutgoing: loopback})
	case loopback:
		prog, err = bpf.Assemble([]bpf.Instruction{
			bpf.LoadExtension{Num: bpf.ExtType},
			bpf.JumpIf{Cond: bpf.JumpEqual, Val: packetOutgoing, SkipFalse: 1},
			bpf.RetConstant{Val: bpfReject},
			bpf.RetConstant{Val: bpfAccept},
		})
	}
	if err != nil {
		return fmt.Errorf("capture: sniff %s: %w", s.Interface, err)
	}
	if prog != nil {
		if err := tp.SetBPF(prog); err != nil {
			return fmt.Errorf("capture: sniff %s: set bpf filter: %w", s.Interface, err)
		}
	}
	// The ring may hold packets that arrived before the filter was set.
	if err := tp.InitSocketStats(); err != nil {
		return fmt.Errorf("capture: sniff %s: socket stats: %w", s.Interface, err)
	}
	clock := s.Clock
	if clock == nil {
		clock = time.Now
	}
	d := newDecoder(s.Config, &s.counters, h)
	lastStats := clock()
	for {
		if ctx.Err() != nil {
			s.readDrops(tp)
			return nil
		}
		data, ci, err := tp.ZeroCopyReadPacketData()
		switch {
		case err == nil:
			at := ci.Timestamp
			if at.IsZero() {
				at = clock()
			}
			d.packet(layers.LinkTypeEthernet, data, at, ci.Length)
		case errors.Is(err, afpacket.ErrTimeout):
		default:
			return fmt.Errorf("capture: sniff %s: read: %w", s.Interface, err)
		}
		if now := clock(); now.Sub(lastStats) >= time.Second {
			lastStats = now
			s.readDrops(tp)
		}
	}
}

func (s *Sniff) readDrops(tp *afpacket.TPacket) {
	if _, v3, err := tp.SocketStats(); err == nil {
		s.counters.kernelDrops.Store(uint64(v3.Drops()))
	}
}
