// Package samples owns Rebound's bundled sample calls: small pcap files with
// real SIP signalling and real G.711 RTP audio spoken by espeak-ng, embedded in
// the binary, plus the demo account they belong to (tenant, users, tracking
// numbers, campaigns, reasons and the classification a CSR gives each answered
// call).
//
// The pcaps are produced by the generator in internal/gen (go generate) from
// the scripts in this package, so the script, the expected outcome and the
// audio can never drift apart. The files are deterministic: regenerating them
// on another machine with the same espeak-ng and sox gives the same bytes.
package samples

//go:generate go run ./internal/gen -out calls

import (
	"bytes"
	"embed"
	"fmt"
	"io"
	"io/fs"
	"sort"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

//go:embed calls
var files embed.FS

// FileName is the name of the embedded gzip-compressed pcap of call c.
func (c Call) FileName() string { return c.Name + ".pcap.gz" }

// Pcap returns the gzip-compressed pcap bytes of the sample call named name.
// pcapgo.NewReader and tshark read the gzip form directly.
func Pcap(name string) ([]byte, error) {
	b, err := fs.ReadFile(files, "calls/"+name+".pcap.gz")
	if err != nil {
		return nil, fmt.Errorf("sample call %q: %w", name, err)
	}
	return b, nil
}

// Packet is one captured frame of a sample call.
type Packet struct {
	Info gopacket.CaptureInfo
	Data []byte
}

// Packets decodes the embedded pcap of the call named name.
func Packets(name string) ([]Packet, error) {
	b, err := Pcap(name)
	if err != nil {
		return nil, err
	}
	r, err := pcapgo.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("sample call %q: %w", name, err)
	}
	var out []Packet
	for {
		data, ci, err := r.ReadPacketData()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("sample call %q: %w", name, err)
		}
		out = append(out, Packet{Info: ci, Data: data})
	}
}

// Replay writes one uncompressed Ethernet pcap to w holding the given calls
// (all of them when names is empty) one after another: the first packet is
// stamped start, and each call begins gap after the previous one ended. The
// relative timing inside a call is kept exactly, so ring, talk and RTP timing
// are unchanged; only the wall-clock placement moves. The demo uses it to make
// the bundled calls look as if they just happened.
//
// It returns the timestamp of the last packet written.
func Replay(w io.Writer, start time.Time, gap time.Duration, names ...string) (time.Time, error) {
	if len(names) == 0 {
		for _, c := range Calls() {
			names = append(names, c.Name)
		}
	}
	pw := pcapgo.NewWriterNanos(w)
	if err := pw.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
		return time.Time{}, fmt.Errorf("replay: %w", err)
	}
	at := start
	last := start
	for _, n := range names {
		pkts, err := Packets(n)
		if err != nil {
			return time.Time{}, err
		}
		if len(pkts) == 0 {
			continue
		}
		// Files are written in time order; sort anyway so a hand-edited file
		// cannot make the replay go backwards.
		sort.SliceStable(pkts, func(i, j int) bool { return pkts[i].Info.Timestamp.Before(pkts[j].Info.Timestamp) })
		shift := at.Sub(pkts[0].Info.Timestamp)
		for _, p := range pkts {
			ci := p.Info
			ci.Timestamp = ci.Timestamp.Add(shift)
			if err := pw.WritePacket(ci, p.Data); err != nil {
				return time.Time{}, fmt.Errorf("replay %s: %w", n, err)
			}
			last = ci.Timestamp
		}
		at = last.Add(gap)
	}
	return last, nil
}

// Mix writes one uncompressed Ethernet pcap to w in which the given calls
// (all of them when names is empty) start every apart, from start on, and
// overlap as on a busy line: their packets are interleaved in time order.
// Each call keeps its own timing exactly. It returns the timestamp of the last
// packet written.
func Mix(w io.Writer, start time.Time, every time.Duration, names ...string) (time.Time, error) {
	if len(names) == 0 {
		for _, c := range Calls() {
			names = append(names, c.Name)
		}
	}
	var all []Packet
	for i, n := range names {
		pkts, err := Packets(n)
		if err != nil {
			return time.Time{}, err
		}
		if len(pkts) == 0 {
			continue
		}
		shift := start.Add(time.Duration(i) * every).Sub(pkts[0].Info.Timestamp)
		for _, p := range pkts {
			p.Info.Timestamp = p.Info.Timestamp.Add(shift)
			all = append(all, p)
		}
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].Info.Timestamp.Before(all[j].Info.Timestamp) })
	pw := pcapgo.NewWriterNanos(w)
	if err := pw.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
		return time.Time{}, fmt.Errorf("mix: %w", err)
	}
	last := start
	for _, p := range all {
		if err := pw.WritePacket(p.Info, p.Data); err != nil {
			return time.Time{}, fmt.Errorf("mix: %w", err)
		}
		last = p.Info.Timestamp
	}
	return last, nil
}

// Duration is the time from the first to the last packet of the named call.
func Duration(name string) (time.Duration, error) {
	pkts, err := Packets(name)
	if err != nil {
		return 0, err
	}
	if len(pkts) == 0 {
		return 0, nil
	}
	return pkts[len(pkts)-1].Info.Timestamp.Sub(pkts[0].Info.Timestamp), nil
}
