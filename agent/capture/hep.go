package capture

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sync"
	"time"
)

// HEP v3 (EEP) chunk types of the generic vendor (0) that we read.
const (
	hepChunkFamily      = 1
	hepChunkProto       = 2
	hepChunkIPv4Src     = 3
	hepChunkIPv4Dst     = 4
	hepChunkIPv6Src     = 5
	hepChunkIPv6Dst     = 6
	hepChunkSrcPort     = 7
	hepChunkDstPort     = 8
	hepChunkTimeSec     = 9
	hepChunkTimeUsec    = 10
	hepChunkProtoType   = 11
	hepChunkAuthKey     = 14
	hepChunkPayload     = 15
	hepChunkCompressed  = 16
	hepProtoTypeSIP     = 1
	hepHeaderLen        = 6
	hepChunkHeaderLen   = 6
	hepMaxPacket        = 65535
	hepReadBufferUDP    = 65535
	hepTCPAcceptBackoff = 100 * time.Millisecond
)

// HEPPacket is a decoded HEP v3 packet.
type HEPPacket struct {
	At        time.Time
	Src, Dst  netip.AddrPort
	Proto     uint8 // IP protocol of the original packet (17 UDP, 6 TCP)
	ProtoType uint8 // what the payload is: 1 SIP, 5 RTCP, ...
	AuthKey   []byte
	Payload   []byte // aliases the input
}

const (
	errHEPMagic      decodeError = "not a HEP v3 packet"
	errHEPLength     decodeError = "HEP length out of range"
	errHEPChunk      decodeError = "HEP chunk length out of range"
	errHEPAddress    decodeError = "HEP packet without addresses"
	errHEPCompressed decodeError = "compressed HEP payloads are not supported"
	errHEPNoPayload  decodeError = "HEP packet without payload"
)

// DecodeHEP decodes one HEP packet: version 3 (EEP, chunked), or the older
// fixed-header versions 1 and 2 that some agents still send over UDP.
// Payload and AuthKey alias b.
func DecodeHEP(b []byte) (HEPPacket, error) {
	var p HEPPacket
	if len(b) >= 2 && (b[0] == 1 || b[0] == 2) && (b[1] == 16 || b[1] == 40) {
		return decodeHEPv2(b)
	}
	if len(b) < hepHeaderLen || string(b[:4]) != "HEP3" {
		return p, errHEPMagic
	}
	total := int(binary.BigEndian.Uint16(b[4:6]))
	if total < hepHeaderLen || total > len(b) {
		return p, errHEPLength
	}
	var (
		src4, dst4       [4]byte
		src6, dst6       [16]byte
		have4, have6     int
		sport, dport     uint16
		sec, usec        uint32
		haveSec, payload bool
	)
	for c := b[hepHeaderLen:total]; len(c) > 0; {
		if len(c) < hepChunkHeaderLen {
			return p, errHEPChunk
		}
		vendor := binary.BigEndian.Uint16(c[0:2])
		typ := binary.BigEndian.Uint16(c[2:4])
		n := int(binary.BigEndian.Uint16(c[4:6]))
		if n < hepChunkHeaderLen || n > len(c) {
			return p, errHEPChunk
		}
		v := c[hepChunkHeaderLen:n]
		c = c[n:]
		if vendor != 0 {
			continue // vendor extensions carry nothing we need
		}
		switch typ {
		case hepChunkProto:
			if len(v) == 1 {
				p.Proto = v[0]
			}
		case hepChunkIPv4Src:
			if len(v) == 4 {
				src4, have4 = [4]byte(v), have4|1
			}
		case hepChunkIPv4Dst:
			if len(v) == 4 {
				dst4, have4 = [4]byte(v), have4|2
			}
		case hepChunkIPv6Src:
			if len(v) == 16 {
				src6, have6 = [16]byte(v), have6|1
			}
		case hepChunkIPv6Dst:
			if len(v) == 16 {
				dst6, have6 = [16]byte(v), have6|2
			}
		case hepChunkSrcPort:
			if len(v) == 2 {
				sport = binary.BigEndian.Uint16(v)
			}
		case hepChunkDstPort:
			if len(v) == 2 {
				dport = binary.BigEndian.Uint16(v)
			}
		case hepChunkTimeSec:
			if len(v) == 4 {
				sec, haveSec = binary.BigEndian.Uint32(v), true
			}
		case hepChunkTimeUsec:
			if len(v) == 4 {
				usec = binary.BigEndian.Uint32(v)
			}
		case hepChunkProtoType:
			if len(v) == 1 {
				p.ProtoType = v[0]
			}
		case hepChunkAuthKey:
			p.AuthKey = v
		case hepChunkPayload:
			p.Payload, payload = v, true
		case hepChunkCompressed:
			return p, errHEPCompressed
		}
	}
	switch {
	case have4 == 3:
		p.Src = netip.AddrPortFrom(netip.AddrFrom4(src4), sport)
		p.Dst = netip.AddrPortFrom(netip.AddrFrom4(dst4), dport)
	case have6 == 3:
		p.Src = netip.AddrPortFrom(netip.AddrFrom16(src6).Unmap(), sport)
		p.Dst = netip.AddrPortFrom(netip.AddrFrom16(dst6).Unmap(), dport)
	default:
		return p, errHEPAddress
	}
	if !payload {
		return p, errHEPNoPayload
	}
	if haveSec {
		p.At = time.Unix(int64(sec), int64(usec)*1000).UTC()
	}
	return p, nil
}

// decodeHEPv2 reads HEP versions 1 and 2: an 8-byte header (version,
// header length, family, protocol, ports), the two addresses, and in
// version 2 a 12-byte time header whose fields are in the sender's byte
// order (little-endian on every agent that still sends it).
func decodeHEPv2(b []byte) (HEPPacket, error) {
	var p HEPPacket
	hl := int(b[1])
	if len(b) < hl || len(b) < 8 {
		return p, errHEPLength
	}
	p.Proto = b[3]
	p.ProtoType = hepProtoTypeSIP // versions 1 and 2 carry SIP only
	sport, dport := binary.BigEndian.Uint16(b[4:6]), binary.BigEndian.Uint16(b[6:8])
	switch {
	case b[2] == 2 && hl == 16:
		p.Src = netip.AddrPortFrom(netip.AddrFrom4([4]byte(b[8:12])), sport)
		p.Dst = netip.AddrPortFrom(netip.AddrFrom4([4]byte(b[12:16])), dport)
	case b[2] == 10 && hl == 40:
		p.Src = netip.AddrPortFrom(netip.AddrFrom16([16]byte(b[8:24])).Unmap(), sport)
		p.Dst = netip.AddrPortFrom(netip.AddrFrom16([16]byte(b[24:40])).Unmap(), dport)
	default:
		return p, errHEPAddress
	}
	rest := b[hl:]
	if b[0] == 2 {
		if len(rest) < 12 {
			return p, errHEPLength
		}
		sec, usec := binary.LittleEndian.Uint32(rest[0:4]), binary.LittleEndian.Uint32(rest[4:8])
		p.At = time.Unix(int64(sec), int64(usec)*1000).UTC()
		rest = rest[12:]
	}
	if len(rest) == 0 {
		return p, errHEPNoPayload
	}
	p.Payload = rest
	return p, nil
}

// HEP receives HEP v3 from Kamailio, OpenSIPS, FreeSWITCH, Asterisk or
// heplify, over UDP and TCP (and the older versions 1 and 2 over UDP). It carries signalling only: SIP payloads reach
// Handler.SIP with Transport "hep"; other payload types are ignored.
type HEP struct {
	// Addr to listen on for both UDP and TCP, such as ":9060". Ignored for
	// a transport whose PacketConn or Listener is given.
	Addr string
	// PacketConn and Listener, when set, are used instead of listening on
	// Addr (tests, socket activation). Run closes them when it ends.
	PacketConn net.PacketConn
	Listener   net.Listener
	// AuthKey, when set, drops packets whose auth key chunk differs.
	AuthKey string
	// Config: Logger and MaxMessageSize apply.
	Config Config
	// Clock stamps packets that carry no timestamp; default time.Now.
	Clock func() time.Time

	counters Counters
}

// Counters implements Source.
func (h *HEP) Counters() *Counters { return &h.counters }

// Run implements Source: it serves until ctx is cancelled (then returns nil)
// or a listener fails.
func (h *HEP) Run(ctx context.Context, hd Handler) error {
	cfg := h.Config.withDefaults()
	pc, ln := h.PacketConn, h.Listener
	var err error
	if pc == nil && h.Addr != "" {
		if pc, err = net.ListenPacket("udp", h.Addr); err != nil {
			return fmt.Errorf("capture: hep: listen udp %s: %w", h.Addr, err)
		}
	}
	if ln == nil && h.Addr != "" {
		if ln, err = net.Listen("tcp", h.Addr); err != nil {
			if pc != nil {
				pc.Close()
			}
			return fmt.Errorf("capture: hep: listen tcp %s: %w", h.Addr, err)
		}
	}
	if pc == nil && ln == nil {
		return errors.New("capture: hep: no address to listen on")
	}
	// One lock serialises Handler calls from the UDP reader and every TCP
	// connection: Handler calls are one at a time.
	var mu sync.Mutex
	deliver := func(b []byte) {
		mu.Lock()
		defer mu.Unlock()
		h.packet(cfg, hd, b)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	conns := map[net.Conn]struct{}{}
	var connsMu sync.Mutex
	if pc != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, hepReadBufferUDP)
			for {
				n, _, err := pc.ReadFrom(buf)
				if err != nil {
					if ctx.Err() == nil {
						errs <- fmt.Errorf("capture: hep: read udp: %w", err)
					}
					return
				}
				deliver(buf[:n])
			}
		}()
	}
	if ln != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				c, err := ln.Accept()
				if err != nil {
					if ctx.Err() != nil {
						return
					}
					var ne net.Error
					if errors.As(err, &ne) && ne.Timeout() {
						time.Sleep(hepTCPAcceptBackoff)
						continue
					}
					errs <- fmt.Errorf("capture: hep: accept: %w", err)
					return
				}
				connsMu.Lock()
				conns[c] = struct{}{}
				connsMu.Unlock()
				wg.Add(1)
				go func() {
					defer wg.Done()
					h.serveTCP(c, deliver, cfg)
					connsMu.Lock()
					delete(conns, c)
					connsMu.Unlock()
				}()
			}
		}()
	}
	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-errs:
	}
	cancel()
	if pc != nil {
		pc.Close()
	}
	if ln != nil {
		ln.Close()
	}
	connsMu.Lock()
	for c := range conns {
		c.Close()
	}
	connsMu.Unlock()
	wg.Wait()
	return runErr
}

// serveTCP reads a stream of HEP packets, each framed by its own length.
// A stream that stops making sense is closed: there is no way to resync.
func (h *HEP) serveTCP(c net.Conn, deliver func([]byte), cfg Config) {
	defer c.Close()
	r := bufio.NewReaderSize(c, 64<<10)
	buf := make([]byte, hepMaxPacket)
	for {
		if _, err := io.ReadFull(r, buf[:hepHeaderLen]); err != nil {
			return
		}
		total := int(binary.BigEndian.Uint16(buf[4:6]))
		if string(buf[:4]) != "HEP3" || total < hepHeaderLen {
			h.counters.malformed.Add(1)
			cfg.Logger.Warn("capture: hep: bad stream, closing", "remote", c.RemoteAddr().String())
			return
		}
		if _, err := io.ReadFull(r, buf[hepHeaderLen:total]); err != nil {
			h.counters.truncated.Add(1)
			return
		}
		deliver(buf[:total])
	}
}

// packet handles one HEP packet.
func (h *HEP) packet(cfg Config, hd Handler, b []byte) {
	h.counters.packets.Add(1)
	h.counters.bytes.Add(uint64(len(b)))
	p, err := DecodeHEP(b)
	if err != nil {
		h.counters.malformed.Add(1)
		cfg.Logger.Debug("capture: hep: dropped packet", "err", err)
		return
	}
	if h.AuthKey != "" && string(p.AuthKey) != h.AuthKey {
		h.counters.malformed.Add(1)
		return
	}
	if p.ProtoType != hepProtoTypeSIP {
		h.counters.unsupported.Add(1)
		return
	}
	raw := p.Payload[skipCRLF(p.Payload):]
	if startLine(raw) != isSIP || len(raw) > cfg.MaxMessageSize {
		h.counters.malformed.Add(1)
		return
	}
	at := p.At
	if at.IsZero() {
		if h.Clock != nil {
			at = h.Clock()
		} else {
			at = time.Now()
		}
	}
	h.counters.sip.Add(1)
	hd.SIP(Message{At: at, Src: p.Src, Dst: p.Dst, Transport: "hep", Raw: append([]byte(nil), raw...)})
}
