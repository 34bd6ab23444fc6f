package capture

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"slices"
	"time"
)

// Per-stream bounds on data held out of order before we give up on the
// missing bytes and resync at the next SIP start line.
const (
	maxOutOfOrderSegments = 16
	maxOutOfOrderBytes    = 64 << 10
	// maxHeldBytes bounds out-of-order data across all streams, so many
	// lossy streams at once cannot exhaust memory.
	maxHeldBytes = 16 << 20
)

type flowKey struct {
	src, dst netip.AddrPort
}

type pendingSegment struct {
	seq  uint32
	data []byte
}

// tcpStream is one direction of a TCP connection carrying SIP.
type tcpStream struct {
	key      flowKey
	mode     streamMode
	synced   bool   // next is known
	wsMsg    []byte // WebSocket message being reassembled from frames
	next     uint32 // next expected sequence number
	buf      []byte // unframed bytes, starting at a message boundary unless resync
	resync   bool   // discard bytes up to the next SIP start line
	midLine  bool   // while resyncing, the data starts inside a dropped line
	hdrScan  int    // header end not found before this offset of the message
	msgTotal int    // length of the message at buf[0], once its headers are in
	pending  []pendingSegment
	held     int
	lastSeen time.Time
}

// streamMode says how a stream's bytes are framed.
type streamMode uint8

const (
	modeSIP         streamMode = iota // SIP messages framed by Content-Length
	modeWSHandshake                   // HTTP upgrade to WebSocket, then modeWS
	modeWS                            // RFC 7118 SIP over WebSocket frames
)

// tcpStreams reassembles the byte streams of TCP connections that carry
// SIP and frames them into messages by Content-Length. It is a bounded,
// per-direction buffer rather than a general reassembler: SIP signalling is
// small, in order almost always, and a lost segment costs only the messages
// it touched.
type tcpStreams struct {
	d     *decoder
	flows map[flowKey]*tcpStream
	held  int // out-of-order bytes held by all streams
}

func newTCPStreams(d *decoder) *tcpStreams {
	return &tcpStreams{d: d, flows: make(map[flowKey]*tcpStream)}
}

// segment handles one TCP segment. fin is FIN or RST: the stream ends after
// its payload.
func (t *tcpStreams) segment(src, dst netip.AddrPort, seq uint32, syn, fin bool, payload []byte) {
	key := flowKey{src, dst}
	s := t.flows[key]
	if s == nil {
		if len(payload) == 0 {
			return
		}
		if isWebSocketUpgrade(payload) {
			// SIP over WebSocket (RFC 7118): follow both directions
			// through the HTTP upgrade.
			s = t.add(key, &tcpStream{key: key, mode: modeWSHandshake, synced: true, next: seq})
			rev := flowKey{dst, src}
			if t.flows[rev] == nil {
				t.add(rev, &tcpStream{key: rev, mode: modeWSHandshake})
			}
		}
	}
	if s == nil {
		sipPort := t.d.isSIPPort(src.Port()) || t.d.isSIPPort(dst.Port())
		start := startLine(payload)
		if !sipPort && start != isSIP {
			return // not a SIP stream as far as we can tell
		}
		s = t.add(key, &tcpStream{key: key, synced: true, next: seq, resync: start == notSIP})
		if s.resync {
			// Joined mid-stream (capture started late): the first bytes
			// finish a message we never saw the start of.
			t.d.c.tcpResyncs.Add(1)
		}
	}
	if !s.synced {
		s.next, s.synced = seq, true
	}
	s.lastSeen = t.d.at
	if syn {
		s.next = seq + 1
		t.held -= s.held
		s.buf, s.pending, s.held = s.buf[:0], nil, 0
		s.hdrScan, s.msgTotal, s.resync, s.midLine = 0, 0, false, false
		seq++
	}
	if len(payload) > 0 {
		t.data(s, seq, payload)
	}
	if fin {
		t.remove(key, s)
	}
}

func (t *tcpStreams) data(s *tcpStream, seq uint32, payload []byte) {
	diff := int32(seq - s.next)
	if diff < 0 {
		// Retransmission or overlap: keep only bytes we have not had.
		if int(-diff) >= len(payload) {
			return
		}
		payload = payload[-diff:]
		seq = s.next
	}
	if diff > 0 {
		// A gap: hold the segment until the missing bytes arrive, within
		// bounds; then give them up and resync.
		if len(s.pending) < maxOutOfOrderSegments && s.held+len(payload) <= maxOutOfOrderBytes && t.held+len(payload) <= maxHeldBytes {
			s.pending = append(s.pending, pendingSegment{seq: seq, data: append([]byte(nil), payload...)})
			s.held += len(payload)
			t.held += len(payload)
			return
		}
		t.skipGap(s, seq)
		t.data(s, seq, payload)
		return
	}
	t.append(s, payload)
	t.drainPending(s)
}

// append adds in-order bytes and frames what is complete. When nothing is
// buffered, messages are framed straight from the packet and only an
// unfinished tail is copied.
func (t *tcpStreams) append(s *tcpStream, payload []byte) {
	s.next += uint32(len(payload))
	if len(s.buf) == 0 {
		n := t.frame(s, payload)
		s.buf = append(s.buf, payload[n:]...)
		return
	}
	s.buf = append(s.buf, payload...)
	n := t.frame(s, s.buf)
	s.buf = s.buf[:copy(s.buf, s.buf[n:])]
	if cap(s.buf) > 4*t.d.cfg.MaxMessageSize && len(s.buf) < t.d.cfg.MaxMessageSize {
		s.buf = append([]byte(nil), s.buf...) // let a huge buffer go
	}
}

// drainPending moves held segments that are now in order into the stream.
func (t *tcpStreams) drainPending(s *tcpStream) {
	for len(s.pending) > 0 {
		progressed := false
		for i := 0; i < len(s.pending); i++ {
			p := s.pending[i]
			diff := int32(p.seq - s.next)
			if diff > 0 {
				continue
			}
			s.pending = slices.Delete(s.pending, i, i+1)
			s.held -= len(p.data)
			t.held -= len(p.data)
			i--
			if int(-diff) < len(p.data) {
				t.append(s, p.data[-diff:])
				progressed = true
			}
		}
		if !progressed {
			return
		}
	}
}

// skipGap gives up on missing bytes: the stream continues at the earliest
// data we hold (a held segment, or the one at seq that could not be held)
// and looks for the next SIP start line.
func (t *tcpStreams) skipGap(s *tcpStream, seq uint32) {
	s.buf = s.buf[:0]
	s.resync, s.midLine = true, false
	s.hdrScan, s.msgTotal = 0, 0
	t.d.c.tcpResyncs.Add(1)
	earliest := seq
	for _, p := range s.pending {
		if int32(p.seq-earliest) < 0 {
			earliest = p.seq
		}
	}
	s.next = earliest
	t.drainPending(s)
}

func (t *tcpStreams) add(key flowKey, s *tcpStream) *tcpStream {
	if len(t.flows) >= t.d.cfg.MaxTCPFlows {
		t.evictOldest()
	}
	s.lastSeen = t.d.at
	t.flows[key] = s
	return s
}

// frame emits the complete messages at the start of b and returns how many
// bytes it consumed.
func (t *tcpStreams) frame(s *tcpStream, b []byte) int {
	switch s.mode {
	case modeWSHandshake:
		end, sep := headerEnd(b)
		if end < 0 {
			if len(b) > t.d.cfg.MaxMessageSize {
				t.d.c.malformed.Add(1)
				s.mode, s.resync = modeSIP, true
				return len(b)
			}
			return 0
		}
		if bytes.HasPrefix(b, []byte("HTTP/")) && !bytes.HasPrefix(b[min(len(b), 8):], []byte(" 101")) {
			// The server refused the upgrade: nothing more to follow.
			s.mode, s.resync = modeSIP, true
			return end + sep
		}
		s.mode = modeWS
		return end + sep + t.frame(s, b[end+sep:])
	case modeWS:
		return t.frameWS(s, b)
	}
	d := t.d
	consumed := 0
	for {
		rest := b[consumed:]
		if s.resync && s.midLine {
			// First finish the line being dropped (before skipping
			// blank lines, which would eat its end).
			nl := bytes.IndexByte(rest, '\n')
			if nl < 0 {
				return len(b)
			}
			consumed += nl + 1
			s.midLine = false
			continue
		}
		consumed += skipCRLF(rest)
		rest = b[consumed:]
		if len(rest) == 0 {
			return consumed
		}
		if s.resync {
			i := findStartLine(rest)
			if i < 0 {
				// Keep the last partial line: it may be the start of
				// the next message. A line too long to start one is
				// dropped, and so is the rest of it when it comes.
				last := lastLineStart(rest)
				if len(rest)-last > maxStartLine {
					s.midLine = true
					return len(b)
				}
				return consumed + last
			}
			consumed += i
			rest = rest[i:]
			s.resync = false
		}
		switch startLine(rest) {
		case needMore:
			if len(rest) > d.cfg.MaxMessageSize {
				d.c.malformed.Add(1)
				s.resync, s.midLine = true, true
				d.c.tcpResyncs.Add(1)
				continue
			}
			return consumed
		case notSIP:
			d.c.malformed.Add(1)
			d.c.tcpResyncs.Add(1)
			s.resync, s.midLine = true, true // skip the rest of this line
			continue
		}
		if s.msgTotal > 0 && len(rest) < s.msgTotal {
			return consumed // still waiting for the body
		}
		n, res := frameMessage(rest, d.cfg.MaxMessageSize, s.hdrScan)
		switch res {
		case frameNeedMore:
			// rest starts at the message and the caller keeps it at
			// buf[0]: remember how far we got.
			if n > 0 {
				s.msgTotal = n
			} else {
				s.hdrScan = max(0, len(rest)-3)
			}
			return consumed
		case frameMalformed:
			d.c.malformed.Add(1)
			d.c.tcpResyncs.Add(1)
			s.resync, s.midLine = true, true
			s.hdrScan, s.msgTotal = 0, 0
			continue
		}
		d.emitSIP(s.key.src, s.key.dst, "tcp", rest[:n])
		consumed += n
		s.hdrScan, s.msgTotal = 0, 0
	}
}

// frameWS reads WebSocket frames (RFC 6455) and emits each complete text or
// binary message as one SIP message (RFC 7118: one message per WebSocket
// message).
func (t *tcpStreams) frameWS(s *tcpStream, b []byte) int {
	d := t.d
	consumed := 0
	for {
		rest := b[consumed:]
		if len(rest) < 2 {
			return consumed
		}
		fin, op := rest[0]&0x80 != 0, rest[0]&0x0f
		masked := rest[1]&0x80 != 0
		n, hdr := uint64(rest[1]&0x7f), 2
		switch n {
		case 126:
			if len(rest) < 4 {
				return consumed
			}
			n, hdr = uint64(binary.BigEndian.Uint16(rest[2:4])), 4
		case 127:
			if len(rest) < 10 {
				return consumed
			}
			n, hdr = binary.BigEndian.Uint64(rest[2:10]), 10
		}
		if masked {
			hdr += 4
		}
		if n > uint64(d.cfg.MaxMessageSize) {
			// No way to find the next frame boundary: give the stream up.
			d.c.malformed.Add(1)
			s.mode, s.resync = modeSIP, true
			d.c.tcpResyncs.Add(1)
			return len(b)
		}
		if len(rest) < hdr+int(n) {
			return consumed
		}
		payload := rest[hdr : hdr+int(n)]
		consumed += hdr + int(n)
		switch op {
		case 0, 1, 2: // continuation, text, binary
			if op != 0 {
				s.wsMsg = s.wsMsg[:0]
			}
			start := len(s.wsMsg)
			s.wsMsg = append(s.wsMsg, payload...)
			if masked {
				key := rest[hdr-4 : hdr]
				for i := range s.wsMsg[start:] {
					s.wsMsg[start+i] ^= key[i&3]
				}
			}
			if len(s.wsMsg) > d.cfg.MaxMessageSize {
				d.c.malformed.Add(1)
				s.wsMsg = s.wsMsg[:0]
				continue
			}
			if !fin {
				continue
			}
			if startLine(s.wsMsg) == isSIP {
				d.emitSIP(s.key.src, s.key.dst, "ws", s.wsMsg)
			} else if !isKeepAlive(s.wsMsg) {
				d.c.malformed.Add(1)
			}
			s.wsMsg = s.wsMsg[:0]
		default:
			// Close, ping, pong: control frames carry no SIP.
		}
	}
}

// isWebSocketUpgrade reports whether a stream starts with an HTTP request
// asking to upgrade to WebSocket. The request has to be whole in the first
// data segment seen, which it is in practice (a few hundred bytes); a
// capture that starts after the upgrade misses that WebSocket connection.
func isWebSocketUpgrade(b []byte) bool {
	if !bytes.HasPrefix(b, []byte("GET ")) {
		return false
	}
	end, _ := headerEnd(b)
	if end < 0 {
		return false
	}
	hdr := b[:end]
	for len(hdr) > 0 {
		nl := bytes.IndexByte(hdr, '\n')
		var line []byte
		if nl < 0 {
			line, hdr = hdr, nil
		} else {
			line, hdr = hdr[:nl], hdr[nl+1:]
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if ok && bytes.EqualFold(bytes.TrimSpace(name), []byte("Upgrade")) &&
			bytes.EqualFold(bytes.TrimSpace(value), []byte("websocket")) {
			return true
		}
	}
	return false
}

// lastLineStart returns the offset just after the last LF in b, or 0.
func lastLineStart(b []byte) int {
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] == '\n' {
			return i + 1
		}
	}
	return 0
}

// expire forgets streams idle since before cutoff.
func (t *tcpStreams) expire(cutoff time.Time) {
	for k, s := range t.flows {
		if s.lastSeen.Before(cutoff) {
			t.remove(k, s)
		}
	}
}

func (t *tcpStreams) evictOldest() {
	var oldest flowKey
	var at time.Time
	first := true
	for k, s := range t.flows {
		if first || s.lastSeen.Before(at) {
			oldest, at, first = k, s.lastSeen, false
		}
	}
	if s := t.flows[oldest]; s != nil {
		t.remove(oldest, s)
	}
}

func (t *tcpStreams) remove(key flowKey, s *tcpStream) {
	t.held -= s.held
	delete(t.flows, key)
}
