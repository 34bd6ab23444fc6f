package recorder

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"time"

	reboundv1 "github.com/reboundhq/rebound/proto/rebound/v1"
)

// dtmfPacket follows one RFC 4733 telephone-event packet. An event is one
// RTP timestamp; its end packet is sent three times and counted once.
func (c *call) dtmfPacket(s *stream, at time.Time, ts, clock uint32, p []byte) {
	if len(p) < 4 {
		c.malformed++
		c.r.malformed.Add(1)
		return
	}
	if clock == 0 {
		clock = 8000
	}
	event, end, dur := p[0], p[1]&0x80 != 0, uint32(binary.BigEndian.Uint16(p[2:4]))
	ev := &s.ev
	if !ev.active || ts != ev.ts {
		if ev.active && !ev.ended {
			c.emitDTMF(s)
		}
		*ev = dtmfState{active: true, ts: ts, event: event, clock: clock,
			startMs: at.Sub(c.t0).Milliseconds() - int64(dur)*1000/int64(clock)}
		if ev.startMs < 0 {
			ev.startMs = 0
		}
	}
	if ev.ended {
		return
	}
	if dur > ev.dur {
		ev.dur = dur
	}
	if end {
		ev.ended = true
		c.emitDTMF(s)
	}
}

func (c *call) emitDTMF(s *stream) {
	ev := &s.ev
	c.dtmf = append(c.dtmf, &reboundv1.DTMFEvent{
		Channel:    s.ch,
		AtMs:       ev.startMs,
		Digit:      dtmfDigit(ev.event),
		DurationMs: int64(ev.dur) * 1000 / int64(ev.clock),
	})
}

func dtmfDigit(e uint8) string {
	switch {
	case e <= 9:
		return string(rune('0' + e))
	case e == 10:
		return "*"
	case e == 11:
		return "#"
	case e >= 12 && e <= 15:
		return string(rune('A' + e - 12))
	case e == 16:
		return "flash"
	}
	return fmt.Sprintf("event-%d", e)
}

// finish flushes everything, finalises the file and builds the result.
func (c *call) finish() (*Result, error) {
	res := &Result{RTCPPackets: c.rtcp, MalformedPackets: c.malformed, Start: c.t0}
	for _, s := range c.streams {
		if s.ev.active && !s.ev.ended {
			s.ev.ended = true
			c.emitDTMF(s)
		}
	}
	res.DTMF = c.dtmf

	flags := map[reboundv1.HealthFlag]bool{}
	rtpTotal := c.chans[0].rtp + c.chans[1].rtp
	if rtpTotal == 0 {
		flags[reboundv1.HealthFlag_HEALTH_FLAG_NO_RTP] = true
		res.Notes = append(res.Notes, "no RTP was seen for this call")
		if c.zrtp || c.secure {
			flags[reboundv1.HealthFlag_HEALTH_FLAG_ENCRYPTED_MEDIA] = true
		}
		res.Flags = sortedFlags(flags)
		return res, nil
	}

	var err error
	rec := &reboundv1.Recording{Codec: strings.Join(c.codecs, ","), Channels: 2}
	if c.ring != nil {
		c.flushTo(c.end)
	}
	full := errors.Is(c.werr, errWAVFull)
	if full {
		res.Notes = append(res.Notes, "recording stopped at the 4 GiB WAV limit; later audio is not in the file")
		c.werr = nil
	}
	if c.file != nil {
		if c.werr == nil {
			size, sum, ferr := c.file.finish()
			if ferr != nil {
				c.werr = ferr
			} else {
				rec.Ref = c.name
				rec.SizeBytes = uint64(size)
				rec.Sha256 = sum
			}
		} else {
			c.file.f.Close()
		}
	}
	if c.werr != nil {
		err = fmt.Errorf("recording %s: %w", c.id, c.werr)
		res.Notes = append(res.Notes, "recording file could not be written: "+c.werr.Error())
	}
	if c.rate > 0 {
		rec.SampleRate = uint32(c.rate)
		rec.DurationMs = c.written * 1000 / int64(c.rate)
	}

	for _, s := range c.streams {
		st := &reboundv1.StreamStats{
			Ssrc: s.ssrc, Channel: s.ch, Codec: s.codec, PayloadType: uint32(s.pt),
			Packets: s.received, Lost: s.lost(), Duplicated: s.dups, OutOfOrder: s.ooo,
			JitterMs: s.jitterLast, DurationMs: s.last.Sub(s.first).Milliseconds(),
			Src: s.src.String(), Dst: s.dst.String(),
		}
		rec.Streams = append(rec.Streams, st)
		expected := st.Packets + st.Lost
		if st.Lost > 0 && expected > 0 && float64(st.Lost)*100/float64(expected) >= c.r.cfg.LossFlagPercent {
			flags[reboundv1.HealthFlag_HEALTH_FLAG_PACKET_LOSS] = true
			res.Notes = append(res.Notes, fmt.Sprintf("%s stream ssrc=%#08x lost %d of %d packets", chanName(s.ch), s.ssrc, st.Lost, expected))
		}
		// Small one-off realignments (a delayed first packet) are routine;
		// report drift once it adds up to something a listener could notice.
		if ms := s.driftFrames * 1000 / int64(max(c.rate, 1)); ms >= 100 || ms <= -100 {
			res.Notes = append(res.Notes, fmt.Sprintf("%s stream ssrc=%#08x: RTP clock drifted %d ms from capture time; realigned in %d steps", chanName(s.ch), s.ssrc, ms, s.driftFixes))
		}
		if s.late > 0 {
			res.Notes = append(res.Notes, fmt.Sprintf("%s stream ssrc=%#08x: %d packets arrived after the %s jitter buffer and are silence", chanName(s.ch), s.ssrc, s.late, c.r.cfg.JitterBuffer))
		}
	}
	res.Recording = rec
	if c.skipped > 0 && c.rate > 0 {
		res.Notes = append(res.Notes, fmt.Sprintf("capture time jumped; %s of silence left out of the file", time.Duration(c.skipped/int64(c.rate))*time.Second))
	}

	if (c.chans[0].rtp == 0) != (c.chans[1].rtp == 0) {
		flags[reboundv1.HealthFlag_HEALTH_FLAG_ONE_WAY_AUDIO] = true
		heard := reboundv1.Channel_CHANNEL_CALLER
		if c.chans[0].rtp == 0 {
			heard = reboundv1.Channel_CHANNEL_AGENT
		}
		res.Notes = append(res.Notes, "RTP seen from the "+chanName(heard)+" side only")
	}
	for i, cs := range c.chans {
		// Half a second of decodable audio with under 100 ms above the
		// threshold: the channel carried RTP but nobody could be heard.
		if cs.audio >= 25 && cs.active < 5 {
			flags[reboundv1.HealthFlag_HEALTH_FLAG_SILENT_CHANNEL] = true
			ch := reboundv1.Channel_CHANNEL_CALLER
			if i == 1 {
				ch = reboundv1.Channel_CHANNEL_AGENT
			}
			res.Notes = append(res.Notes, fmt.Sprintf("%s channel is silent (below %g dBFS)", chanName(ch), c.r.cfg.SilenceDBFS))
		}
	}
	if len(c.unsupported) > 0 {
		flags[reboundv1.HealthFlag_HEALTH_FLAG_UNSUPPORTED_CODEC] = true
		res.Notes = append(res.Notes, "unsupported codec: "+strings.Join(c.unsupported, ","))
	}
	if c.zrtp || c.secure {
		flags[reboundv1.HealthFlag_HEALTH_FLAG_ENCRYPTED_MEDIA] = true
		res.Notes = append(res.Notes, "media is encrypted (ZRTP/SRTP): audio cannot be decoded")
	}
	res.Flags = sortedFlags(flags)
	return res, err
}

func chanName(ch reboundv1.Channel) string {
	if ch == reboundv1.Channel_CHANNEL_AGENT {
		return "agent"
	}
	return "caller"
}

func sortedFlags(m map[reboundv1.HealthFlag]bool) []reboundv1.HealthFlag {
	var out []reboundv1.HealthFlag
	for f := reboundv1.HealthFlag(0); f <= 64; f++ {
		if m[f] {
			out = append(out, f)
		}
	}
	return out
}
