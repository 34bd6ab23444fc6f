// Package sdp owns the parts of the Session Description Protocol (RFC 8866)
// that passive call capture needs: where each party wants its media (the
// connection address and m= port, IPv4 or IPv6, session or media level),
// which payload types map to which codecs (rtpmap), the direction
// attributes, and whether the description puts the call on hold.
package sdp

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// Direction is an SDP media direction attribute.
type Direction string

// Directions (RFC 8866 section 6.7). The empty value means none was given,
// which RFC 3264 reads as sendrecv.
const (
	SendRecv Direction = "sendrecv"
	SendOnly Direction = "sendonly"
	RecvOnly Direction = "recvonly"
	Inactive Direction = "inactive"
)

// Codec is one rtpmap entry.
type Codec struct {
	Payload  uint8
	Name     string
	Rate     uint32
	Channels int
}

// Media is one m= section.
type Media struct {
	// Type is "audio", "video", "application", ...
	Type  string
	Port  uint16
	Proto string // "RTP/AVP", "RTP/SAVP", ...
	// Addr is the media-level c= address, or the session-level one.
	// It is invalid when neither was given or parsable.
	Addr      netip.Addr
	Payloads  []uint8
	Codecs    []Codec
	Direction Direction
	// Label is the a=label value (SIPREC streams are labelled).
	Label string
	// Secure is set for SAVP profiles, a=crypto or a=zrtp-hash: the
	// payload is encrypted.
	Secure bool
	// RTCPPort is the a=rtcp port when given.
	RTCPPort uint16
}

// Endpoint returns the address and port where this party receives media.
func (m Media) Endpoint() netip.AddrPort {
	if !m.Addr.IsValid() {
		return netip.AddrPort{}
	}
	return netip.AddrPortFrom(m.Addr, m.Port)
}

// EffectiveDirection returns the direction, sendrecv when unset.
func (m Media) EffectiveDirection() Direction {
	if m.Direction == "" {
		return SendRecv
	}
	return m.Direction
}

// OnHold reports whether this stream is on hold: an old-style 0.0.0.0
// connection address (RFC 2543) or a sendonly/inactive direction.
func (m Media) OnHold() bool {
	if m.Addr.IsValid() && m.Addr.IsUnspecified() {
		return true
	}
	d := m.EffectiveDirection()
	return d == SendOnly || d == Inactive
}

// Codec returns the codec of payload type pt: the rtpmap entry, or the
// RFC 3551 static assignment.
func (m Media) Codec(pt uint8) (Codec, bool) {
	for _, c := range m.Codecs {
		if c.Payload == pt {
			return c, true
		}
	}
	if c, ok := staticPayloads[pt]; ok {
		c.Payload = pt
		return c, true
	}
	return Codec{}, false
}

// staticPayloads are the RFC 3551 static audio payload types.
var staticPayloads = map[uint8]Codec{
	0: {Name: "PCMU", Rate: 8000, Channels: 1}, 3: {Name: "GSM", Rate: 8000, Channels: 1},
	4: {Name: "G723", Rate: 8000, Channels: 1}, 8: {Name: "PCMA", Rate: 8000, Channels: 1},
	9: {Name: "G722", Rate: 8000, Channels: 1}, 13: {Name: "CN", Rate: 8000, Channels: 1},
	18: {Name: "G729", Rate: 8000, Channels: 1},
}

// Session is a parsed session description.
type Session struct {
	Origin string
	// Addr is the session-level c= address.
	Addr      netip.Addr
	Direction Direction
	Media     []Media
}

// Audio returns the audio m= sections.
func (s *Session) Audio() []Media {
	var out []Media
	for _, m := range s.Media {
		if m.Type == "audio" {
			out = append(out, m)
		}
	}
	return out
}

// OnHold reports whether every audio stream is on hold.
func (s *Session) OnHold() bool {
	audio := s.Audio()
	if len(audio) == 0 {
		return false
	}
	for _, m := range audio {
		if !m.OnHold() {
			return false
		}
	}
	return true
}

// ErrNoSDP is returned for a body that is not a session description.
var ErrNoSDP = errors.New("sdp: not a session description (no v= line)")

// Parse reads a session description. It accepts LF or CRLF line ends and
// skips lines it does not understand; an unparsable c= or m= line is an
// error naming the line.
func Parse(body []byte) (*Session, error) {
	s := &Session{}
	var cur *Media
	sawVersion := false
	for n, line := range strings.Split(string(body), "\n") {
		line = strings.TrimRight(line, "\r ")
		if len(line) < 2 || line[1] != '=' {
			continue
		}
		key, val := line[0], line[2:]
		switch key {
		case 'v':
			sawVersion = true
		case 'o':
			if cur == nil {
				s.Origin = val
			}
		case 'c':
			addr, err := parseConnection(val)
			if err != nil {
				return nil, fmt.Errorf("sdp: line %d: %w", n+1, err)
			}
			if cur != nil {
				cur.Addr = addr
			} else {
				s.Addr = addr
			}
		case 'm':
			m, err := parseMedia(val)
			if err != nil {
				return nil, fmt.Errorf("sdp: line %d: %w", n+1, err)
			}
			m.Addr = s.Addr
			s.Media = append(s.Media, m)
			cur = &s.Media[len(s.Media)-1]
		case 'a':
			parseAttribute(s, cur, val)
		}
	}
	if !sawVersion {
		return nil, ErrNoSDP
	}
	// Session-level c= may follow media in malformed SDP; a media section
	// without its own c= inherits the session address and direction.
	for i := range s.Media {
		if !s.Media[i].Addr.IsValid() {
			s.Media[i].Addr = s.Addr
		}
		if s.Media[i].Direction == "" {
			s.Media[i].Direction = s.Direction
		}
	}
	return s, nil
}

func parseConnection(val string) (netip.Addr, error) {
	f := strings.Fields(val)
	if len(f) < 3 || f[0] != "IN" {
		return netip.Addr{}, fmt.Errorf("bad c= line %q", val)
	}
	host := f[2]
	if i := strings.IndexByte(host, '/'); i >= 0 { // multicast TTL / count
		host = host[:i]
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		// A host name is legal but cannot route RTP by address.
		return netip.Addr{}, nil
	}
	if f[1] == "IP4" && !addr.Is4() && !addr.Is4In6() {
		return netip.Addr{}, fmt.Errorf("c= says IP4 but address is %s", host)
	}
	return addr.Unmap(), nil
}

func parseMedia(val string) (Media, error) {
	f := strings.Fields(val)
	if len(f) < 3 {
		return Media{}, fmt.Errorf("bad m= line %q", val)
	}
	portStr := f[1]
	if i := strings.IndexByte(portStr, '/'); i >= 0 {
		portStr = portStr[:i]
	}
	port, err := strconv.ParseUint(portStr, 10, 16)
	if err != nil {
		return Media{}, fmt.Errorf("bad m= port %q", f[1])
	}
	m := Media{Type: f[0], Port: uint16(port), Proto: f[2]}
	m.Secure = strings.Contains(m.Proto, "SAVP")
	for _, p := range f[3:] {
		if pt, err := strconv.ParseUint(p, 10, 8); err == nil && pt < 128 {
			m.Payloads = append(m.Payloads, uint8(pt))
		}
	}
	return m, nil
}

func parseAttribute(s *Session, cur *Media, val string) {
	name, arg, _ := strings.Cut(val, ":")
	switch name {
	case "sendrecv", "sendonly", "recvonly", "inactive":
		if cur != nil {
			cur.Direction = Direction(name)
		} else {
			s.Direction = Direction(name)
		}
		return
	}
	if cur == nil {
		return
	}
	switch name {
	case "rtpmap":
		ptStr, enc, ok := strings.Cut(strings.TrimSpace(arg), " ")
		if !ok {
			return
		}
		pt, err := strconv.ParseUint(ptStr, 10, 8)
		if err != nil || pt > 127 {
			return
		}
		parts := strings.Split(strings.TrimSpace(enc), "/")
		c := Codec{Payload: uint8(pt), Name: parts[0], Channels: 1}
		if len(parts) > 1 {
			if r, err := strconv.ParseUint(parts[1], 10, 32); err == nil {
				c.Rate = uint32(r)
			}
		}
		if len(parts) > 2 {
			if ch, err := strconv.Atoi(parts[2]); err == nil && ch > 0 {
				c.Channels = ch
			}
		}
		cur.Codecs = append(cur.Codecs, c)
	case "label":
		cur.Label = strings.TrimSpace(arg)
	case "crypto", "zrtp-hash":
		cur.Secure = true
	case "rtcp":
		f := strings.Fields(arg)
		if len(f) > 0 {
			if p, err := strconv.ParseUint(f[0], 10, 16); err == nil {
				cur.RTCPPort = uint16(p)
			}
		}
	}
}
