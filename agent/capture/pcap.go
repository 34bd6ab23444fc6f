package capture

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// Pcap reads a pcap or pcapng file. The zero value plus Path is usable.
type Pcap struct {
	// Path of the capture file.
	Path string
	// Config tunes decoding.
	Config Config
	// Speed replays in capture time: 0 reads as fast as possible, 1 keeps
	// the original pacing, 2 twice as fast, and so on.
	Speed float64
	// Rebase, when set, shifts every timestamp so that the first packet is
	// at Rebase() when Run starts: a replayed capture then looks live.
	Rebase func() time.Time

	counters Counters
}

// Counters implements Source.
func (p *Pcap) Counters() *Counters { return &p.counters }

// packetReader is what pcapgo's two readers have in common.
type packetReader interface {
	ZeroCopyReadPacketData() ([]byte, gopacket.CaptureInfo, error)
}

// Run implements Source. An unreadable or unrecognised file is an error
// naming the path; a damaged tail is counted in Stats.Truncated and ends
// the run without an error.
func (p *Pcap) Run(ctx context.Context, h Handler) error {
	f, err := os.Open(p.Path)
	if err != nil {
		return fmt.Errorf("capture: open %s: %w", p.Path, err)
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 1<<20)
	magic, err := br.Peek(4)
	if err != nil {
		return fmt.Errorf("capture: open %s: not a pcap or pcapng file: %w", p.Path, err)
	}
	var (
		r         packetReader
		linkTypes func(ci gopacket.CaptureInfo) layers.LinkType
	)
	if magic[0] == 0x0a && magic[1] == 0x0d && magic[2] == 0x0d && magic[3] == 0x0a {
		ng, err := pcapgo.NewNgReader(br, pcapgo.DefaultNgReaderOptions)
		if err != nil {
			return fmt.Errorf("capture: open %s: %w", p.Path, err)
		}
		r = ng
		cache := map[int]layers.LinkType{}
		linkTypes = func(ci gopacket.CaptureInfo) layers.LinkType {
			lt, ok := cache[ci.InterfaceIndex]
			if !ok {
				lt = layers.LinkType(0xffff) // unknown interface: unsupported
				if ifc, err := ng.Interface(ci.InterfaceIndex); err == nil {
					lt = ifc.LinkType
				}
				cache[ci.InterfaceIndex] = lt
			}
			return lt
		}
	} else {
		pr, err := pcapgo.NewReader(br)
		if err != nil {
			return fmt.Errorf("capture: open %s: %w", p.Path, err)
		}
		r = pr
		lt := pr.LinkType()
		linkTypes = func(gopacket.CaptureInfo) layers.LinkType { return lt }
	}
	d := newDecoder(p.Config, &p.counters, h)
	var (
		first, wallStart time.Time
		shift            time.Duration
		timer            *time.Timer
	)
	for n := 0; ; n++ {
		if n&1023 == 0 && ctx.Err() != nil {
			return nil
		}
		data, ci, err := r.ZeroCopyReadPacketData()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			// pcapgo reports a cut record as io.ErrUnexpectedEOF and a
			// damaged block as a format error: either way the file ends
			// here, and what came before was delivered.
			p.counters.truncated.Add(1)
			d.cfg.Logger.Warn("capture: damaged tail", "path", p.Path, "packets", n, "err", err)
			return nil
		}
		if n == 0 {
			first, wallStart = ci.Timestamp, time.Now()
			if p.Rebase != nil {
				shift = p.Rebase().Sub(first)
			}
		}
		if p.Speed > 0 {
			due := wallStart.Add(time.Duration(float64(ci.Timestamp.Sub(first)) / p.Speed))
			if wait := time.Until(due); wait > time.Millisecond {
				if timer == nil {
					timer = time.NewTimer(wait)
					defer timer.Stop()
				} else {
					timer.Reset(wait)
				}
				select {
				case <-ctx.Done():
					return nil
				case <-timer.C:
				}
			}
		}
		d.packet(linkTypes(ci), data, ci.Timestamp.Add(shift), ci.Length)
	}
}
