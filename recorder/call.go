package recorder

import (
	"encoding/binary"
	"fmt"
	"math"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"

	reboundv1 "github.com/reboundhq/rebound/proto/rebound/v1"
	"github.com/reboundhq/rebound/recorder/codec"
)

// staticPayloads are the RFC 3551 static payload types, used when no SDP
// rtpmap names a payload type.
var staticPayloads = map[uint8]Codec{
	0: {"PCMU", 8000}, 3: {"GSM", 8000}, 4: {"G723", 8000}, 8: {"PCMA", 8000},
	9: {"G722", 8000}, 13: {"CN", 8000}, 15: {"G728", 8000}, 18: {"G729", 8000},
}

// call is the recording state of one call. Everything below mu is guarded by it.
type call struct {
	r      *Recorder
	id     string
	closed atomic.Bool

	mu       sync.Mutex
	bound    []netip.AddrPort
	payloads [3]map[uint8]Codec // by channel: what that party receives
	secure   bool
	zrtp     bool

	started bool
	t0      time.Time // capture time of the first RTP packet: position 0
	streams []*stream

	rate      int    // WAV sample rate; 0 until the first decodable audio
	ring      []byte // jitter buffer: interleaved stereo int16 LE, capFrames frames
	capFrames int64
	written   int64 // frames already in the file
	end       int64 // one past the last frame that holds audio
	file      *wavFile
	name      string
	werr      error // first write error; stats continue, the file is abandoned
	lastPatch time.Time
	pcm       []int16 // decode scratch
	rs        []int16 // resample scratch

	leapHits int   // consecutive packets far beyond the placed audio
	skipped  int64 // frames of capture time left out after such leaps

	rtcp, malformed uint64
	codecs          []string // audio codec names in order of first use
	unsupported     []string
	dtmf            []*reboundv1.DTMFEvent
	chans           [2]chanStats
}

type chanStats struct {
	rtp    uint64 // RTP packets of any payload type
	audio  uint64 // decodable audio packets
	active uint64 // audio packets above the silence threshold
}

// stream is one SSRC in one direction.
type stream struct {
	ssrc     uint32
	ch       reboundv1.Channel
	src, dst netip.AddrPort
	pt       uint8
	codec    string
	first    time.Time
	last     time.Time

	// RFC 3550 sequence accounting.
	probe          bool   // a large sequence jump awaits confirmation
	badSeq         uint16 // the sequence number that would confirm it
	seqInit        bool
	baseExt        int64
	maxExt         int64
	expectedPrior  uint64
	received       uint64
	dups, ooo      uint64
	window         [8]uint64 // bit (ext & 511): seen
	late, resynced uint64

	// RFC 3550 interarrival jitter, in RTP clock units.
	jitInit    bool
	jitClock   uint32
	transit    float64
	jitter     float64
	jitterLast float64 // in ms, for reporting

	// Placement: a segment maps extended RTP timestamps to WAV frames.
	tsInit  bool
	lastTS  int64
	segOK   bool
	segTS   int64
	segPos  int64
	segClk  uint32
	pending bool
	pendOff int64

	// Drift tracking (see trackDrift).
	winStart    time.Time
	winMin      int64
	driftFixes  uint64
	driftFrames int64

	g722    *codec.G722Decoder
	decName string

	ev dtmfState
}

type dtmfState struct {
	active, ended bool
	ts            uint32
	event         uint8
	startMs       int64
	dur           uint32
	clock         uint32
}

func newCall(r *Recorder, id string) *call { return &call{r: r, id: id} }

func chIndex(ch reboundv1.Channel) int {
	if ch == reboundv1.Channel_CHANNEL_AGENT {
		return 1
	}
	return 0
}

// packet handles one datagram of this call, sent by channel ch.
func (c *call) packet(at time.Time, src, dst netip.AddrPort, ch reboundv1.Channel, rtcpPort bool, p []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed.Load() {
		return
	}
	switch {
	case len(p) >= 12 && p[0]&0xF0 == 0x10 && string(p[4:8]) == "ZRTP":
		// ZRTP key agreement (RFC 6189): the media that follows is SRTP.
		c.zrtp = true
		return
	case len(p) >= 20 && p[0] < 2 && binary.BigEndian.Uint32(p[4:8]) == 0x2112A442:
		return // STUN consent / ICE check on the media port
	case len(p) >= 2 && p[0]>>6 == 2 && p[1] >= 192 && p[1] <= 223:
		// RTCP, multiplexed (RFC 5761) or on port+1: statistics only.
		c.rtcp++
		return
	case rtcpPort:
		c.rtcp++
		return
	}
	var h rtp.Header
	n, err := h.Unmarshal(p)
	if err != nil || h.Version != 2 {
		c.malformed++
		c.r.malformed.Add(1)
		return
	}
	payload := p[n:]
	if h.Padding {
		if len(payload) == 0 || int(payload[len(payload)-1]) > len(payload) {
			c.malformed++
			c.r.malformed.Add(1)
			return
		}
		payload = payload[:len(payload)-int(payload[len(payload)-1])]
	}
	if !c.started {
		c.started = true
		c.t0 = at
	}
	s := c.stream(h.SSRC, ch, src, dst, at)
	s.last = at
	ci := chIndex(ch)
	c.chans[ci].rtp++

	inOrder, dup := s.sequence(h.SequenceNumber)
	if dup {
		return
	}
	cd, ok := c.codecFor(ch, h.PayloadType)
	name := strings.ToUpper(cd.Name)
	if !ok {
		name = fmt.Sprintf("PT%d", h.PayloadType)
	}
	s.pt = h.PayloadType
	switch name {
	case "TELEPHONE-EVENT":
		c.dtmfPacket(s, at, h.Timestamp, cd.ClockRate, payload)
		return
	case "CN":
		return // comfort noise: the gap is written as silence
	}
	if cd.ClockRate == 0 {
		cd.ClockRate = 8000
	}
	s.codec = canonical(name, cd.Name)
	s.jitterUpdate(at, c.t0, h.Timestamp, cd.ClockRate, inOrder)
	audioRate := 0
	switch name {
	case "PCMU", "PCMA":
		audioRate = 8000
	case "G722":
		audioRate = 16000
	}
	c.noteCodec(s.codec, audioRate != 0)
	if audioRate == 0 || len(payload) == 0 {
		return
	}
	if c.rate == 0 {
		c.startTimeline(audioRate)
	}
	pcm := c.decode(s, name, payload)
	c.chans[ci].audio++
	if c.loud(pcm) {
		c.chans[ci].active++
	}
	pcm = c.resample(pcm, audioRate)
	c.place(s, ci, at, h.Timestamp, h.Marker, inOrder, cd.ClockRate, pcm)
}

// canonical keeps the SDP spelling for unknown codecs and upper case for ours.
func canonical(upper, sdp string) string {
	switch upper {
	case "PCMU", "PCMA", "G722":
		return upper
	}
	if sdp == "" {
		return upper
	}
	return sdp
}

func (c *call) noteCodec(name string, supported bool) {
	for _, n := range c.codecs {
		if n == name {
			return
		}
	}
	c.codecs = append(c.codecs, name)
	if !supported {
		c.unsupported = append(c.unsupported, name)
	}
}

// codecFor resolves a payload type: the receiver's rtpmap first (RFC 3264:
// the sender uses the numbers the receiver offered), then the sender's, then
// the static table.
func (c *call) codecFor(from reboundv1.Channel, pt uint8) (Codec, bool) {
	if cd, ok := c.payloads[other(from)][pt]; ok {
		return cd, true
	}
	if cd, ok := c.payloads[from][pt]; ok {
		return cd, true
	}
	cd, ok := staticPayloads[pt]
	return cd, ok
}

func (c *call) stream(ssrc uint32, ch reboundv1.Channel, src, dst netip.AddrPort, at time.Time) *stream {
	for _, s := range c.streams {
		if s.ssrc == ssrc && s.ch == ch {
			return s
		}
	}
	s := &stream{ssrc: ssrc, ch: ch, src: src, dst: dst, first: at}
	c.streams = append(c.streams, s)
	return s
}

// sequence does the RFC 3550 extended sequence bookkeeping. It reports
// whether the packet advanced the sequence and whether it is a duplicate.
func (s *stream) sequence(seq uint16) (inOrder, dup bool) {
	if !s.seqInit {
		s.seqInit = true
		s.baseExt = int64(seq)
		s.maxExt = int64(seq)
		s.received = 1
		s.setSeen(s.maxExt)
		return true, false
	}
	d := int64(int16(seq - uint16(s.maxExt)))
	ext := s.maxExt + d
	switch {
	case d > 3000 || d < -3000:
		// A jump this large is either a stray packet or a sender that
		// restarted its sequence (RFC 3550 A.1). Only a second packet that
		// follows on confirms a restart; then the old run's expectation is
		// banked and counting starts again from the first packet of the new run.
		s.received++
		if s.probe && seq == s.badSeq {
			s.probe = false
			s.expectedPrior += uint64(s.maxExt - s.baseExt + 1)
			next := (s.maxExt | 0xFFFF) + 1 + int64(seq) // a fresh cycle above the old run
			s.baseExt, s.maxExt = next-1, next
			s.window = [8]uint64{}
			s.setSeen(next - 1)
			s.setSeen(next)
			return true, false
		}
		s.probe, s.badSeq = true, seq+1
		return false, false
	case d > 0:
		steps := d
		if steps > 512 {
			steps = 512
		}
		for k := int64(1); k <= steps; k++ {
			s.clearSeen(s.maxExt + k)
		}
		s.maxExt = ext
		s.received++
		s.setSeen(ext)
		return true, false
	case d == 0:
		s.dups++
		return false, true
	default:
		if -d < 512 && s.seen(ext) {
			s.dups++
			return false, true
		}
		if -d < 512 {
			s.setSeen(ext)
		}
		if ext < s.baseExt {
			s.baseExt = ext
		}
		s.received++
		s.ooo++
		return false, false
	}
}

func (s *stream) seen(ext int64) bool { return s.window[(ext&511)>>6]&(1<<(ext&63)) != 0 }
func (s *stream) setSeen(ext int64)   { s.window[(ext&511)>>6] |= 1 << (ext & 63) }
func (s *stream) clearSeen(ext int64) { s.window[(ext&511)>>6] &^= 1 << (ext & 63) }

func (s *stream) lost() uint64 {
	if !s.seqInit {
		return 0
	}
	expected := s.expectedPrior + uint64(s.maxExt-s.baseExt+1)
	if expected <= s.received {
		return 0
	}
	return expected - s.received
}

// jitterUpdate is the RFC 3550 6.4.1 interarrival jitter estimator.
func (s *stream) jitterUpdate(at, t0 time.Time, ts uint32, clock uint32, inOrder bool) {
	if s.jitClock != clock {
		s.jitInit = false
		s.jitClock = clock
	}
	arrival := float64(at.Sub(t0).Nanoseconds()) * float64(clock) / 1e9
	ext := s.extTS(ts, inOrder)
	transit := arrival - float64(ext)
	if s.jitInit {
		d := math.Abs(transit - s.transit)
		s.jitter += (d - s.jitter) / 16
	}
	s.jitInit = true
	s.transit = transit
	s.jitterLast = s.jitter / float64(clock) * 1000
}

// extTS unwraps a 32-bit RTP timestamp around the stream's latest one.
func (s *stream) extTS(ts uint32, advance bool) int64 {
	if !s.tsInit {
		s.tsInit = true
		s.lastTS = int64(ts)
		return s.lastTS
	}
	ext := s.lastTS + int64(int32(ts-uint32(s.lastTS)))
	if advance && ext > s.lastTS {
		s.lastTS = ext
	}
	return ext
}

// startTimeline fixes the WAV rate and allocates the bounded jitter buffer.
func (c *call) startTimeline(rate int) {
	c.rate = rate
	cfg := c.r.cfg
	c.capFrames = int64(float64(rate)*(cfg.JitterBuffer.Seconds()+0.25)) + int64(rate/5)
	c.ring = make([]byte, c.capFrames*4)
}

// framesAt converts capture time to a frame position, without overflow even
// for a capture clock that jumps by years.
func (c *call) framesAt(at time.Time) int64 {
	d := at.Sub(c.t0)
	return int64(d/time.Second)*int64(c.rate) + int64(d%time.Second)*int64(c.rate)/1e9
}

func (c *call) decode(s *stream, name string, payload []byte) []int16 {
	need := len(payload)
	if name == "G722" {
		need *= 2
	}
	if cap(c.pcm) < need {
		c.pcm = make([]int16, need)
	}
	pcm := c.pcm[:need]
	if s.decName != name {
		s.decName = name
		if s.g722 != nil {
			s.g722.Reset()
		}
	}
	switch name {
	case "PCMU":
		codec.DecodePCMU(pcm, payload)
	case "PCMA":
		codec.DecodePCMA(pcm, payload)
	case "G722":
		if s.g722 == nil {
			s.g722 = codec.NewG722Decoder()
		}
		s.g722.Decode(pcm, payload)
	}
	return pcm
}

// loud reports whether one packet's RMS level is above the silence threshold.
func (c *call) loud(pcm []int16) bool {
	if len(pcm) == 0 {
		return false
	}
	var sum float64
	for _, v := range pcm {
		f := float64(v)
		sum += f * f
	}
	lin := 32768 * math.Pow(10, c.r.cfg.SilenceDBFS/20)
	return sum/float64(len(pcm)) >= lin*lin
}

// resample converts between the codec's audio rate and the WAV rate, which
// differ only when a call changes codec mid-way (G.722 <-> G.711).
func (c *call) resample(pcm []int16, from int) []int16 {
	if from == c.rate {
		return pcm
	}
	switch {
	case c.rate == 2*from:
		if cap(c.rs) < 2*len(pcm) {
			c.rs = make([]int16, 2*len(pcm))
		}
		out := c.rs[:2*len(pcm)]
		for i, v := range pcm {
			next := v
			if i+1 < len(pcm) {
				next = pcm[i+1]
			}
			out[2*i] = v
			out[2*i+1] = int16((int32(v) + int32(next)) / 2)
		}
		return out
	case from == 2*c.rate:
		if cap(c.rs) < len(pcm)/2 {
			c.rs = make([]int16, len(pcm)/2)
		}
		out := c.rs[:len(pcm)/2]
		for i := range out {
			out[i] = int16((int32(pcm[2*i]) + int32(pcm[2*i+1])) / 2)
		}
		return out
	}
	return nil
}

// place writes decoded samples into the jitter buffer at the position the
// RTP timestamp gives, re-anchoring the stream on capture time when the
// timestamps jump, then flushes what the jitter buffer no longer holds back.
func (c *call) place(s *stream, ci int, at time.Time, ts uint32, marker, inOrder bool, clock uint32, pcm []int16) {
	arrival := c.framesAt(at)
	ext := s.extTS(ts, inOrder)
	rate := int64(c.rate)
	if !s.segOK || s.segClk != clock {
		s.anchor(ext, arrival, clock)
	}
	pos := s.segPos + (ext-s.segTS)*rate/int64(clock)
	resync := int64(c.r.cfg.ResyncAfter.Seconds() * float64(rate))
	if inOrder {
		if diff := pos - arrival; diff > resync || diff < -resync {
			// Timestamps disagree with capture time by more than any jitter
			// we tolerate. A marker bit announces the jump; otherwise wait
			// for a second packet with the same offset so one delayed
			// packet cannot shift the stream.
			off := arrival - (ext-s.segTS)*rate/int64(clock)
			tol := rate / 25 // 40 ms
			if marker || (s.pending && abs64(off-s.pendOff) <= tol) {
				s.anchor(ext, arrival, clock)
				s.resynced++
				pos = arrival
				s.pending = false
			} else {
				s.pending = true
				s.pendOff = off
				c.flush(at, arrival)
				return
			}
		} else {
			s.pending = false
			s.trackDrift(at, arrival-pos, rate)
		}
	} else if diff := pos - arrival; diff > resync || diff < -resync {
		// A reordered or duplicated-late packet whose timestamp is nowhere
		// near its arrival: placing it would write far outside the jitter
		// buffer (or fill hours of silence), so it is dropped.
		s.late++
		c.flush(at, arrival)
		return
	}
	if arrival-c.end > maxSilenceFrames*rate {
		// Capture time leapt forward by hours. One such packet is a bogus
		// timestamp and is dropped; a second of them in a row means time
		// really moved on (a call parked for hours, a capture clock step):
		// the gap then becomes one second of silence, for both channels,
		// instead of hours of it.
		c.leapHits++
		if c.leapHits < 50 {
			s.late++
			return
		}
		skip := arrival - c.end - rate
		c.t0 = c.t0.Add(time.Duration(skip/rate)*time.Second + time.Duration(skip%rate)*time.Second/time.Duration(rate))
		c.skipped += skip
		for _, o := range c.streams {
			o.segOK, o.pending, o.jitInit = false, false, false
			o.winStart = time.Time{}
		}
		c.leapHits = 0
		arrival = c.framesAt(at)
		s.anchor(ext, arrival, clock)
		pos = arrival
	} else {
		c.leapHits = 0
	}
	c.write(s, ci, pos, pcm)
	c.flush(at, arrival)
}

// maxSilenceFrames (in seconds of audio) bounds the silence one packet can
// cause to be written: a capture clock that jumps by more is broken.
const maxSilenceFrames = 2 * 3600

func abs64(v int64) int64 {
	if v < 0 {
		return -v
	}
	return v
}

func (s *stream) anchor(ext, pos int64, clock uint32) {
	s.segOK = true
	s.segTS = ext
	s.segPos = pos
	s.segClk = clock
	s.winStart = time.Time{}
}

// driftWindow is how much capture time one drift estimate covers, and
// driftTolerance how far the stream may sit from capture time before it is
// nudged back.
const (
	driftWindow    = time.Second
	driftTolerance = 8 * time.Millisecond
)

// trackDrift keeps a stream on capture time when the sender's clock runs
// fast or slow, or when the packet that anchored it was itself delayed. Over
// each window it takes the smallest lateness (arrival minus position) of the
// in-order packets: jitter only ever adds delay, so that minimum is the
// stream's true offset. Beyond the tolerance the anchor moves by it, leaving
// a gap or a small overlap of that size instead of a growing skew between
// the two channels.
func (s *stream) trackDrift(at time.Time, late, rate int64) {
	if s.winStart.IsZero() {
		s.winStart, s.winMin = at, late
		return
	}
	s.winMin = min(s.winMin, late)
	if at.Sub(s.winStart) < driftWindow {
		return
	}
	if tol := int64(driftTolerance.Seconds() * float64(rate)); s.winMin > tol || s.winMin < -tol {
		s.segPos += s.winMin
		s.driftFixes++
		s.driftFrames += s.winMin
		s.winStart = time.Time{} // this packet's lateness predates the fix
		return
	}
	s.winStart, s.winMin = at, late
}

// write puts samples of channel ci at frame pos.
func (c *call) write(s *stream, ci int, pos int64, pcm []int16) {
	n := int64(len(pcm))
	if n == 0 {
		return
	}
	if pos+n <= c.written {
		s.late++
		return
	}
	if pos+n > c.written+c.capFrames {
		// Beyond what the buffer holds: the oldest frames are final now.
		c.flushTo(pos + n - c.capFrames)
	}
	for i := int64(0); i < n; i++ {
		p := pos + i
		if p < c.written {
			continue
		}
		off := ((p%c.capFrames)*2 + int64(ci)) * 2
		binary.LittleEndian.PutUint16(c.ring[off:], uint16(pcm[i]))
	}
	if pos < c.written {
		s.late++
	}
	if pos+n > c.end {
		c.end = pos + n
	}
}

// flush writes out frames older than the jitter buffer, in chunks of at least
// a quarter second, and patches the header every FlushEvery of capture time.
func (c *call) flush(at time.Time, arrival int64) {
	target := arrival - int64(c.r.cfg.JitterBuffer.Seconds()*float64(c.rate))
	// Past the last placed audio there is nothing to release yet: later
	// audio (or Close) writes the silence, so a wild capture time cannot.
	target = min(target, c.end)
	if target-c.written >= int64(c.rate/4) {
		c.flushTo(target)
	}
	if c.file != nil && at.Sub(c.lastPatch) >= c.r.cfg.FlushEvery {
		c.lastPatch = at
		if err := c.file.patch(); err != nil && c.werr == nil {
			c.werr = err
		}
	}
}

// flushTo moves frames [written, target) from the ring to the file.
func (c *call) flushTo(target int64) {
	if target <= c.written || c.ring == nil {
		return
	}
	if c.file == nil && c.werr == nil {
		c.name = c.r.reserveName(c.id)
		f, err := createWAV(c.r.cfg.Dir, c.name, c.rate, 2)
		if err != nil {
			c.werr = err
		} else {
			c.file = f
		}
	}
	for c.written < target {
		start := c.written % c.capFrames
		k := min(target-c.written, c.capFrames-start)
		chunk := c.ring[start*4 : (start+k)*4]
		if c.file != nil && c.werr == nil {
			if err := c.file.write(chunk); err != nil {
				c.werr = err
			}
		}
		clear(chunk)
		c.written += k
	}
}
