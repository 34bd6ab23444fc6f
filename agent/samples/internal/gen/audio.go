package main

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	"github.com/reboundhq/rebound/agent/samples"
)

// rate is the G.711 sample rate.
const rate = 8000

// speaker turns text into 8 kHz mono 16-bit PCM with espeak-ng and sox,
// caching each utterance by its voice and text.
type speaker struct {
	dir string
}

// speak returns the utterance as 8 kHz samples.
func (s *speaker) speak(ctx context.Context, v samples.Voice, text string) ([]int16, error) {
	key := sha256.Sum256([]byte(fmt.Sprintf("%s|%d|%d|%s", v.Name, v.Pitch, v.Speed, text)))
	base := filepath.Join(s.dir, hex.EncodeToString(key[:8]))
	wav, raw := base+".wav", base+".raw"
	if _, err := os.Stat(raw); err != nil {
		args := []string{"-v", v.Name, "-w", wav}
		if v.Pitch > 0 {
			args = append(args, "-p", strconv.Itoa(v.Pitch))
		}
		if v.Speed > 0 {
			args = append(args, "-s", strconv.Itoa(v.Speed))
		}
		args = append(args, "--", text)
		if out, err := exec.CommandContext(ctx, "espeak-ng", args...).CombinedOutput(); err != nil {
			return nil, fmt.Errorf("espeak-ng %q: %w: %s", text, err, out)
		}
		// -R: repeatable, -D: no dither, so the output is byte-identical
		// on every run.
		sox := []string{"-R", wav, "-D", "-r", "8000", "-c", "1", "-b", "16", "-e", "signed-integer", "-L", "-t", "raw", raw}
		if out, err := exec.CommandContext(ctx, "sox", sox...).CombinedOutput(); err != nil {
			return nil, fmt.Errorf("sox %s: %w: %s", wav, err, out)
		}
	}
	b, err := os.ReadFile(raw)
	if err != nil {
		return nil, err
	}
	pcm := make([]int16, len(b)/2)
	for i := range pcm {
		pcm[i] = int16(binary.LittleEndian.Uint16(b[2*i:]))
	}
	return trimSilence(pcm), nil
}

// trimSilence drops espeak-ng's leading and trailing silence so the script
// controls the pauses.
func trimSilence(pcm []int16) []int16 {
	const floor = 200
	start, end := 0, len(pcm)
	for start < end && abs16(pcm[start]) < floor {
		start++
	}
	for end > start && abs16(pcm[end-1]) < floor {
		end--
	}
	return pcm[start:end]
}

func abs16(v int16) int {
	if v < 0 {
		return -int(v)
	}
	return int(v)
}

// samplesFor converts a duration to a sample count.
func samplesFor(d time.Duration) int { return int(d * rate / time.Second) }

// durationOf converts a sample count to a duration.
func durationOf(n int) time.Duration { return time.Duration(n) * time.Second / rate }

// track is one direction of a call's audio on the call's own timeline
// (sample 0 is the call's first packet).
type track struct {
	pcm []int16
}

func (t *track) grow(n int) {
	if n > len(t.pcm) {
		t.pcm = append(t.pcm, make([]int16, n-len(t.pcm))...)
	}
}

// put mixes pcm into the track at offset at and returns where it ends.
func (t *track) put(at time.Duration, pcm []int16) time.Duration {
	off := samplesFor(at)
	t.grow(off + len(pcm))
	for i, v := range pcm {
		s := int(t.pcm[off+i]) + int(v)
		t.pcm[off+i] = int16(max(-32768, min(32767, s)))
	}
	return at + durationOf(len(pcm))
}

// tone mixes a sum of sine waves from at for dur, switched on and off with
// the cadence (on, off); a zero cadence means continuous.
func (t *track) tone(at, dur, on, off time.Duration, amp float64, freqs ...float64) {
	n := samplesFor(dur)
	pcm := make([]int16, n)
	period := samplesFor(on + off)
	onN := samplesFor(on)
	for i := range pcm {
		if period > 0 && i%period >= onN {
			continue
		}
		var v float64
		for _, f := range freqs {
			v += math.Sin(2 * math.Pi * f * float64(i) / rate)
		}
		pcm[i] = int16(amp * 32767 * v / float64(len(freqs)))
	}
	t.put(at, pcm)
}

// music mixes a simple, deterministic hold-music arpeggio from at for dur.
func (t *track) music(at, dur time.Duration) {
	notes := []float64{523.25, 659.25, 783.99, 659.25, 587.33, 698.46, 880, 698.46}
	const note = 250 * time.Millisecond
	for off, i := time.Duration(0), 0; off < dur; off, i = off+note, i+1 {
		l := min(note-20*time.Millisecond, dur-off)
		t.tone(at+off, l, 0, 0, 0.18, notes[i%len(notes)], notes[i%len(notes)]*2)
	}
}

// ulaw encodes linear 16-bit PCM as G.711 mu-law.
func ulaw(pcm []int16) []byte {
	out := make([]byte, len(pcm))
	for i, s := range pcm {
		out[i] = ulawSample(s)
	}
	return out
}

// ulawSample follows the reference G.711 code (Sun's g711.c, which sox
// uses): the sample is rounded to 14 bits first, so it agrees with sox bit
// for bit.
func ulawSample(s int16) byte {
	const bias, clip = 0x21, 8159
	v := min((int(s)+2)>>2, 8191)
	mask := byte(0xff)
	if v < 0 {
		v = -v
		mask = 0x7f
	}
	v = min(v, clip) + bias
	seg := 0
	for end := 0x3f; seg < 8 && v > end; end = end<<1 | 1 {
		seg++
	}
	if seg >= 8 {
		return 0x7f ^ mask
	}
	return (byte(seg<<4) | byte(v>>(seg+1))&0x0f) ^ mask
}
