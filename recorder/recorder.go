// Package recorder turns the RTP of a call into a time-aligned stereo WAV
// (caller left, agent right) with per-stream statistics, RFC 4733 DTMF events
// and capture-health flags. It owns RTP routing by SDP endpoints (with
// symmetric-RTP latching), reordering, gap filling, codecs, incremental WAV
// writing and the retention of the recordings directory.
//
// The pipeline tells the Recorder each call's media endpoints (Media), hands
// it every UDP datagram (Packet) and closes the call when signalling ends
// (Close). Packet never keeps the payload slice.
package recorder

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	reboundv1 "github.com/reboundhq/rebound/proto/rebound/v1"
)

// Codec is one rtpmap entry: encoding name and RTP clock rate.
type Codec struct {
	Name      string // "PCMU", "PCMA", "G722", "telephone-event", "CN", "opus", ...
	ClockRate uint32 // RTP clock rate from the rtpmap (G.722 says 8000)
}

// Endpoint is one party's media address as its SDP (offer, answer or
// re-INVITE) announced it. RTP sent from this address, or sent to the other
// party's address, belongs to Channel.
//
// For SIPREC (RFC 7866) there are two ways to say the same thing: register
// the recording client's sendonly m-line addresses (the offer) with each
// participant's channel, or register the recorder's own receive ports (the
// answer) with Receives set, so that RTP arriving there is that channel.
type Endpoint struct {
	Channel reboundv1.Channel
	// Addr is the c= address and m=audio port. A zero port or an unspecified
	// address (old-style hold) registers nothing new.
	Addr netip.AddrPort
	// Payloads is the rtpmap of that SDP: the payload types this party receives.
	Payloads map[uint8]Codec
	// Secure is true when the SDP asked for SRTP (RTP/SAVP, a=crypto) or ZRTP
	// (a=zrtp-hash): the payload cannot be decoded by a passive recorder.
	Secure bool
	// Receives marks Addr as a port that receives Channel's audio (a SIPREC
	// recording server's port) rather than the port of the party speaking.
	Receives bool
}

// Result is what Close returns for one call.
type Result struct {
	// Recording is nil when no RTP was seen at all (flag NO_RTP). Its Ref is
	// empty when RTP was seen but none of it could be decoded.
	Recording *reboundv1.Recording
	// Start is the capture time of the file's first frame (the call's first
	// RTP packet); DTMF at_ms and transcript times count from it.
	Start time.Time
	Flags []reboundv1.HealthFlag
	DTMF  []*reboundv1.DTMFEvent
	// Notes explain flags and dropped audio in words, for CaptureHealth.notes.
	Notes []string
	// RTCPPackets counts RTCP seen for the call (kept for statistics only).
	RTCPPackets uint64
	// MalformedPackets counts datagrams that matched the call but were not
	// valid RTP, RTCP, STUN or ZRTP.
	MalformedPackets uint64
}

// Recorder routes datagrams to calls and writes their recordings. It is safe
// for concurrent use; packets of one call are processed one at a time.
type Recorder struct {
	cfg Config
	log *slog.Logger
	now func() time.Time

	mu    sync.RWMutex
	addrs map[netip.AddrPort]route
	calls map[string]*call
	// names holds the file names in use by open calls, so two calls never
	// share a file and retention never deletes a file being written. It has
	// its own lock because calls reserve names while holding their own lock.
	namesMu sync.Mutex
	names   map[string]bool

	malformed atomic.Uint64
}

// route says which call and which side an address belongs to.
type route struct {
	c    *call
	ch   reboundv1.Channel
	rtcp bool
	recv bool // audio sent to this address is ch's (SIPREC recorder port)
}

// New returns a Recorder writing into cfg.Dir (created if missing). now is the
// clock used for retention; nil means time.Now.
func New(cfg Config, log *slog.Logger, now func() time.Time) (*Recorder, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("recorder config: %w", err)
	}
	if log == nil {
		return nil, errors.New("recorder: nil logger")
	}
	if now == nil {
		now = time.Now
	}
	if err := os.MkdirAll(cfg.Dir, 0o750); err != nil {
		return nil, fmt.Errorf("recorder: create %s: %w", cfg.Dir, err)
	}
	return &Recorder{
		cfg:   cfg.withDefaults(),
		log:   log,
		now:   now,
		addrs: make(map[netip.AddrPort]route),
		calls: make(map[string]*call),
		names: make(map[string]bool),
	}, nil
}

// Media tells the recorder a call's media endpoints from an SDP offer, answer
// or re-INVITE. It opens the call on first use. Addresses stay bound to the
// call until Close, so packets still in flight after a re-INVITE are kept.
func (r *Recorder) Media(callID string, eps ...Endpoint) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.calls[callID]
	if c == nil {
		c = newCall(r, callID)
		r.calls[callID] = c
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, ep := range eps {
		ch := ep.Channel
		if ch != reboundv1.Channel_CHANNEL_CALLER && ch != reboundv1.Channel_CHANNEL_AGENT {
			continue
		}
		if ep.Secure {
			c.secure = true
		}
		if len(ep.Payloads) > 0 {
			pm := make(map[uint8]Codec, len(ep.Payloads))
			for pt, cd := range ep.Payloads {
				pm[pt] = cd
			}
			c.payloads[ch] = pm
		}
		if !ep.Addr.IsValid() || ep.Addr.Port() == 0 || ep.Addr.Addr().IsUnspecified() {
			continue
		}
		addr := netip.AddrPortFrom(ep.Addr.Addr().Unmap(), ep.Addr.Port())
		r.addrs[addr] = route{c: c, ch: ch, recv: ep.Receives}
		c.bound = append(c.bound, addr)
		if addr.Port() < 65535 {
			rtcp := netip.AddrPortFrom(addr.Addr(), addr.Port()+1)
			if _, taken := r.addrs[rtcp]; !taken {
				r.addrs[rtcp] = route{c: c, ch: ch, rtcp: true, recv: ep.Receives}
				c.bound = append(c.bound, rtcp)
			}
		}
	}
}

// Packet offers one UDP datagram. It returns true when the datagram belonged
// to a call (RTP, RTCP, DTMF, STUN or ZRTP on a call's media address), false
// otherwise. payload is not retained.
func (r *Recorder) Packet(at time.Time, src, dst netip.AddrPort, payload []byte) bool {
	src = netip.AddrPortFrom(src.Addr().Unmap(), src.Port())
	dst = netip.AddrPortFrom(dst.Addr().Unmap(), dst.Port())
	r.mu.RLock()
	rt, ok := r.addrs[src]
	if ok && rt.recv {
		ok = false // a recorder port sending: not a participant's audio
	}
	latch := false
	if !ok {
		if d, found := r.addrs[dst]; found && d.recv {
			// A SIPREC client sends every participant to its own port on
			// the recorder; one source may carry several, so never latch.
			rt, ok = d, true
		} else if found {
			// Sent to a party's address from somewhere its peer never
			// announced (NAT, SBC): the sender is that peer. Latch it so the
			// return direction is recognised too (symmetric RTP).
			rt = route{c: d.c, ch: other(d.ch), rtcp: d.rtcp}
			ok, latch = true, true
		}
	}
	r.mu.RUnlock()
	if !ok {
		return false
	}
	if latch && src.IsValid() && src.Port() != 0 {
		r.mu.Lock()
		if _, taken := r.addrs[src]; !taken && !rt.c.closed.Load() {
			r.addrs[src] = rt
			rt.c.mu.Lock()
			rt.c.bound = append(rt.c.bound, src)
			rt.c.mu.Unlock()
		}
		r.mu.Unlock()
	}
	rt.c.packet(at, src, dst, rt.ch, rt.rtcp, payload)
	return true
}

// OpenCalls returns how many calls are open.
func (r *Recorder) OpenCalls() int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return len(r.calls)
}

// Malformed returns how many call datagrams were not valid RTP/RTCP.
func (r *Recorder) Malformed() uint64 { return r.malformed.Load() }

// Close ends a call: it flushes the jitter buffer, finalises the WAV
// atomically (write .part, fsync, rename) and returns the recording, flags
// and DTMF. Closing an unknown call returns a Result flagged NO_RTP.
func (r *Recorder) Close(callID string) (*Result, error) {
	r.mu.Lock()
	c := r.calls[callID]
	if c == nil {
		r.mu.Unlock()
		return &Result{Flags: []reboundv1.HealthFlag{reboundv1.HealthFlag_HEALTH_FLAG_NO_RTP}}, nil
	}
	delete(r.calls, callID)
	c.mu.Lock()
	for _, a := range c.bound {
		if r.addrs[a].c == c {
			delete(r.addrs, a)
		}
	}
	c.closed.Store(true)
	c.mu.Unlock()
	r.mu.Unlock()

	c.mu.Lock()
	res, err := c.finish()
	name := c.name
	c.mu.Unlock()
	if name != "" {
		r.namesMu.Lock()
		delete(r.names, name)
		r.namesMu.Unlock()
	}
	return res, err
}

// Shutdown closes every open call (agent shutdown), returning the results by
// call ID. It stops early when ctx is done.
func (r *Recorder) Shutdown(ctx context.Context) (map[string]*Result, error) {
	r.mu.RLock()
	ids := make([]string, 0, len(r.calls))
	for id := range r.calls {
		ids = append(ids, id)
	}
	r.mu.RUnlock()
	out := make(map[string]*Result, len(ids))
	var errs []error
	for _, id := range ids {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		res, err := r.Close(id)
		if err != nil {
			errs = append(errs, err)
		}
		out[id] = res
	}
	return out, errors.Join(errs...)
}

// reserveName picks a file name for a call that no open call and no file on
// disk uses.
func (r *Recorder) reserveName(callID string) string {
	base := sanitize(callID)
	r.namesMu.Lock()
	defer r.namesMu.Unlock()
	for i := 0; ; i++ {
		name := base + ".wav"
		if i > 0 {
			name = fmt.Sprintf("%s-%d.wav", base, i)
		}
		if r.names[name] {
			continue
		}
		if _, err := os.Stat(filepath.Join(r.cfg.Dir, name)); err == nil {
			continue
		}
		if _, err := os.Stat(filepath.Join(r.cfg.Dir, name+".part")); err == nil {
			continue
		}
		r.names[name] = true
		return name
	}
}

// sanitize keeps a Call-ID usable as a file name on any filesystem.
func sanitize(id string) string {
	var b strings.Builder
	for _, r := range id {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
		if b.Len() >= 120 {
			break
		}
	}
	s := strings.TrimLeft(b.String(), ".")
	if s == "" {
		s = "call"
	}
	return s
}

func other(ch reboundv1.Channel) reboundv1.Channel {
	if ch == reboundv1.Channel_CHANNEL_CALLER {
		return reboundv1.Channel_CHANNEL_AGENT
	}
	return reboundv1.Channel_CHANNEL_CALLER
}
