// Command gen writes Rebound's bundled sample call pcaps. Each call's script
// (agent/samples) is spoken with espeak-ng, resampled to 8 kHz with sox,
// encoded as G.711 mu-law and laid out as RTP on every leg that carries media,
// alongside the SIP signalling a B2BUA PBX produces for that call flow.
//
// The output is deterministic: identifiers derive from the call name, times
// from the script's fixed timestamps, jitter from a fixed seed.
//
//	go generate ./agent/samples
package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"flag"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
	"github.com/pion/rtp"

	"github.com/reboundhq/rebound/agent/samples"
)

func main() {
	out := flag.String("out", "calls", "directory to write <name>.pcap.gz into")
	only := flag.String("only", "", "generate only the call with this name")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := run(context.Background(), log, *out, *only); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, log *slog.Logger, out, only string) error {
	tmp, err := os.MkdirTemp("", "rebound-samples-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	sp := &speaker{dir: tmp}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	for i, c := range samples.Calls() {
		if only != "" && c.Name != only {
			continue
		}
		b := &builder{
			call: c, index: i, site: samples.SampleSite(), seed: samples.DemoSeed(),
			g: ids{seed: "rebound-sample/" + c.Name}, sp: sp,
		}
		if err := b.build(ctx); err != nil {
			return fmt.Errorf("%s: %w", c.Name, err)
		}
		data, n, err := b.pcap()
		if err != nil {
			return fmt.Errorf("%s: %w", c.Name, err)
		}
		path := filepath.Join(out, c.FileName())
		if err := os.WriteFile(path, data, 0o644); err != nil {
			return err
		}
		log.Info("wrote sample call", "file", path, "packets", n, "bytes", len(data), "flow", c.Flow.String())
	}
	return nil
}

// event is one UDP datagram at an offset from the call's start.
type event struct {
	at       time.Duration
	src, dst netip.AddrPort
	payload  []byte
}

// dtmf is one RFC 4733 key press on a stream.
type dtmf struct {
	at    time.Duration
	digit byte
	dur   time.Duration
}

// stream is one direction of RTP on one leg.
type stream struct {
	label    string
	src, dst netip.AddrPort
	from, to time.Duration
	audio    *track
	delay    time.Duration // constant path delay added to send times
	jitter   time.Duration // maximum extra random delay per packet
	dtmf     []dtmf
}

type builder struct {
	call    samples.Call
	index   int
	site    samples.Site
	seed    samples.Seed
	g       ids
	sp      *speaker
	events  []event
	streams []stream
	caller  track // what the caller says (carrier -> PBX)
	far     track // what the caller hears (PBX -> carrier)
}

// send records a SIP message.
func (b *builder) send(at time.Duration, src, dst netip.AddrPort, m *msg) {
	b.events = append(b.events, event{at: at, src: src, dst: dst, payload: m.bytes()})
}

// rtp adds an RTP stream.
func (b *builder) rtp(s stream) { b.streams = append(b.streams, s) }

const ptime = 20 * time.Millisecond

// packetize turns the streams into RTP datagrams.
func (b *builder) packetize() {
	for _, s := range b.streams {
		seedBytes := []byte(b.g.hex("rtp/"+s.label, 16))
		var seed [32]byte
		copy(seed[:], seedBytes)
		rng := rand.New(rand.NewChaCha8(seed))
		ssrc := rng.Uint32()
		seq := uint16(rng.IntN(30000))
		ts0 := rng.Uint32() / 2
		i := 0
		var dtmfEnd int         // end packets of the last event still to send
		var endPayload []byte   // payload of that end packet
		var endTimestamp uint32 // and its RTP timestamp
		for t := s.from; t < s.to; t, i = t+ptime, i+1 {
			p := rtp.Packet{Header: rtp.Header{
				Version: 2, PayloadType: 0, SequenceNumber: seq, SSRC: ssrc,
				Timestamp: ts0 + uint32(i*160), Marker: i == 0,
			}}
			seq++
			if d, ok := activeDTMF(s.dtmf, t); ok {
				start := samplesFor(d.at - s.from)
				p.PayloadType = 101
				p.Timestamp = ts0 + uint32(start)
				p.Marker = t-d.at < ptime
				dur := samplesFor(t - d.at + ptime)
				end := t+ptime >= d.at+d.dur
				ev := []byte{dtmfEvent(d.digit), 10, byte(dur >> 8), byte(dur)}
				if end {
					ev[1] |= 0x80
					dtmfEnd, endPayload, endTimestamp = 2, ev, p.Timestamp
				}
				p.Payload = ev
			} else if dtmfEnd > 0 {
				// RFC 4733 2.5.1.4: the end packet is sent three times.
				p.PayloadType, p.Timestamp, p.Marker = 101, endTimestamp, false
				p.Payload = endPayload
				dtmfEnd--
			} else {
				off := samplesFor(t)
				pcm := make([]int16, 160)
				if off < len(s.audio.pcm) {
					copy(pcm, s.audio.pcm[off:])
				}
				p.Payload = ulaw(pcm)
			}
			raw, err := p.Marshal()
			if err != nil {
				panic(err) // a fixed-size header cannot fail to marshal
			}
			at := t + s.delay
			if s.jitter > 0 {
				at += time.Duration(rng.Int64N(int64(s.jitter)))
			}
			b.events = append(b.events, event{at: at, src: s.src, dst: s.dst, payload: raw})
		}
	}
}

func activeDTMF(ds []dtmf, t time.Duration) (dtmf, bool) {
	for _, d := range ds {
		if t >= d.at && t < d.at+d.dur {
			return d, true
		}
	}
	return dtmf{}, false
}

func dtmfEvent(d byte) byte {
	switch {
	case d >= '0' && d <= '9':
		return d - '0'
	case d == '*':
		return 10
	case d == '#':
		return 11
	}
	return 0
}

// mac gives each host a stable locally administered MAC address.
func mac(a netip.Addr) []byte {
	b := a.As4()
	return []byte{0x02, 0x52, b[0], b[1], b[2], b[3]}
}

// pcap serialises the call's events as an Ethernet/IPv4/UDP capture,
// gzip-compressed. It returns the bytes and the packet count.
func (b *builder) pcap() ([]byte, int, error) {
	sort.SliceStable(b.events, func(i, j int) bool { return b.events[i].at < b.events[j].at })
	var raw bytes.Buffer
	w := pcapgo.NewWriter(&raw)
	if err := w.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
		return nil, 0, err
	}
	ipID := map[netip.Addr]uint16{}
	for _, e := range b.events {
		ttl := uint8(64)
		if !e.src.Addr().IsPrivate() {
			ttl = 57 // the carrier is a few hops away
		}
		ipID[e.src.Addr()]++
		eth := &layers.Ethernet{SrcMAC: mac(e.src.Addr()), DstMAC: mac(e.dst.Addr()), EthernetType: layers.EthernetTypeIPv4}
		ip := &layers.IPv4{
			Version: 4, TTL: ttl, Protocol: layers.IPProtocolUDP, Id: ipID[e.src.Addr()],
			SrcIP: e.src.Addr().AsSlice(), DstIP: e.dst.Addr().AsSlice(),
		}
		if e.src.Port() == 5060 || e.dst.Port() == 5060 {
			ip.TOS = 0x68 // AF31 signalling
		} else {
			ip.TOS = 0xb8 // EF media
		}
		udp := &layers.UDP{SrcPort: layers.UDPPort(e.src.Port()), DstPort: layers.UDPPort(e.dst.Port())}
		if err := udp.SetNetworkLayerForChecksum(ip); err != nil {
			return nil, 0, err
		}
		buf := gopacket.NewSerializeBuffer()
		opts := gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}
		if err := gopacket.SerializeLayers(buf, opts, eth, ip, udp, gopacket.Payload(e.payload)); err != nil {
			return nil, 0, err
		}
		frame := buf.Bytes()
		ci := gopacket.CaptureInfo{
			Timestamp: b.call.Start.Add(e.at).Truncate(time.Microsecond), CaptureLength: len(frame), Length: len(frame),
		}
		if err := w.WritePacket(ci, frame); err != nil {
			return nil, 0, err
		}
	}
	var gz bytes.Buffer
	zw, err := gzip.NewWriterLevel(&gz, gzip.BestCompression)
	if err != nil {
		return nil, 0, err
	}
	if _, err := zw.Write(raw.Bytes()); err != nil {
		return nil, 0, err
	}
	if err := zw.Close(); err != nil {
		return nil, 0, err
	}
	return gz.Bytes(), len(b.events), nil
}
