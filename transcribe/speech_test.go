package transcribe

import (
	"context"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	reboundv1 "github.com/reboundhq/rebound/proto/rebound/v1"
	"github.com/reboundhq/rebound/sip/siptest"
)

// speak renders text with espeak-ng and brings it to 8 kHz with sox, as a
// G.711 call recording would be.
func speak(t *testing.T, dir, name, text string) []int16 {
	t.Helper()
	espeak := siptest.Peer(t, "espeak-ng")
	sox := siptest.Peer(t, "sox")
	raw := filepath.Join(dir, name+".wav")
	if out, err := exec.Command(espeak, "-v", "en-us", "-w", raw, text).CombinedOutput(); err != nil {
		t.Fatalf("espeak-ng: %v: %s", err, out)
	}
	nb := filepath.Join(dir, name+"-8k.wav")
	if out, err := exec.Command(sox, raw, "-r", "8000", "-b", "16", "-c", "1", nb).CombinedOutput(); err != nil {
		t.Fatalf("sox: %v: %s", err, out)
	}
	return readMono(t, nb)
}

func readMono(t *testing.T, path string) []int16 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	p, err := ParseWAV(b)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return p.Channels[0]
}

// firstVoiced is the first 20 ms frame above the fake server's energy floor, in ms.
func firstVoiced(x []int16, rate int) int64 {
	frame := rate / 50
	for i := 0; i+frame <= len(x); i += frame {
		if rms(x[i:i+frame]) > 300 {
			return int64(i) * 1000 / int64(rate)
		}
	}
	return -1
}

func TestSpeechThroughOpenAIBackend(t *testing.T) {
	dir := t.TempDir()
	caller := speak(t, dir, "caller", "Hi, how much would it cost to replace my water heater? My card is four one one one, one one one one, one one one one, one one one one.")
	agent := speak(t, dir, "agent", "Thanks for calling Blue Wave Plumbing. A new water heater runs about eighteen hundred dollars.")

	// Stereo call: caller speaks from 0.3 s, the agent after the caller stops.
	pad := func(x []int16, atMs int) []int16 { return append(make([]int16, atMs*8), x...) }
	left := pad(caller, 300)
	agentAt := 300 + len(caller)/8 + 500
	right := pad(agent, agentAt)
	left = append(left, make([]int16, len(right)-len(left))...)

	// The fake cannot recognise speech; it names the caller's first region
	// (the one starting near 0.3 s) with what espeak said, so the redaction
	// runs on the caller's words.
	f := &fakeSTT{t: t, textFor: func(firstMs int64, i int) string {
		if firstMs < 1000 && i == 0 {
			return "hi how much would it cost to replace my water heater my card is four one one one one one one one one one one one one one one one"
		}
		return "..."
	}}
	o := newClient(t, f.start().URL, nil)
	r := NewRunner(o, Config{}, nil)
	updates := make(chan *reboundv1.CallRecord, 1)
	r.Start(context.Background(), testRecord(), writeWAV(t, stereoWAV(8000, left, right)), func(u *reboundv1.CallRecord) { updates <- u })
	r.Wait()
	u := <-updates
	tr := u.Transcript
	if tr.Status != reboundv1.Transcript_STATUS_DONE {
		t.Fatalf("transcript %v", tr)
	}
	var c, a *reboundv1.TranscriptSegment
	for _, s := range tr.Segments {
		switch {
		case s.Channel == reboundv1.Channel_CHANNEL_CALLER && c == nil:
			c = s
		case s.Channel == reboundv1.Channel_CHANNEL_AGENT && a == nil:
			a = s
		}
	}
	if c == nil || a == nil {
		t.Fatalf("segments %v", tr.Segments)
	}
	wantC, wantA := firstVoiced(left, 8000), firstVoiced(right, 8000)
	if d := c.StartMs - wantC; d < -40 || d > 40 {
		t.Errorf("caller speech starts at %d ms in the transcript, %d ms in the recording", c.StartMs, wantC)
	}
	if d := a.StartMs - wantA; d < -40 || d > 40 {
		t.Errorf("agent speech starts at %d ms in the transcript, %d ms in the recording", a.StartMs, wantA)
	}
	if c.Text != "hi how much would it cost to replace my water heater my card is [card number]" || !tr.Redacted {
		t.Errorf("caller text %q (redacted %v)", c.Text, tr.Redacted)
	}
}

// TestResampleMatchesSox compares our 8 -> 16 kHz interpolation of real
// speech with sox's high-quality rate effect.
func TestResampleMatchesSox(t *testing.T) {
	dir := t.TempDir()
	x := speak(t, dir, "s", "Let me check with my wife and call you back about the furnace.")
	sox := siptest.Peer(t, "sox")
	up := filepath.Join(dir, "s-16k.wav")
	if out, err := exec.Command(sox, filepath.Join(dir, "s-8k.wav"), "-r", "16000", up).CombinedOutput(); err != nil {
		t.Fatalf("sox: %v: %s", err, out)
	}
	ref := readMono(t, up)
	ours, err := Resample(x, 8000, 16000)
	if err != nil {
		t.Fatal(err)
	}
	n := min(len(ref), len(ours))
	if d := len(ref) - len(ours); d < -2 || d > 2 {
		t.Errorf("lengths: sox %d, ours %d", len(ref), len(ours))
	}
	var xy, xx, yy float64
	for i := range n {
		a, b := float64(ours[i]), float64(ref[i])
		xy += a * b
		xx += a * a
		yy += b * b
	}
	corr := xy / math.Sqrt(xx*yy)
	t.Logf("correlation with sox: %.5f", corr)
	if corr < 0.99 {
		t.Errorf("our 16 kHz speech correlates %.4f with sox's, want >= 0.99", corr)
	}
}
