package codec

import (
	"encoding/binary"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/reboundhq/rebound/sip/siptest"
)

// speech renders text with espeak-ng and converts it with sox to raw 16-bit
// mono at rate, returning the samples.
func speech(t *testing.T, text string, rate int) []int16 {
	t.Helper()
	espeak := siptest.Peer(t, "espeak-ng")
	sox := siptest.Peer(t, "sox")
	dir := t.TempDir()
	wav := filepath.Join(dir, "s.wav")
	if out, err := exec.Command(espeak, "-w", wav, text).CombinedOutput(); err != nil {
		t.Fatalf("espeak-ng: %v %s", err, out)
	}
	raw := filepath.Join(dir, "s.raw")
	if out, err := exec.Command(sox, wav, "-r", itoa(rate), "-e", "signed", "-b", "16", "-c", "1", "-t", "raw", raw).CombinedOutput(); err != nil {
		t.Fatalf("sox: %v %s", err, out)
	}
	return readRaw(t, raw)
}

func itoa(v int) string { return fmtInt(v) }

func fmtInt(v int) string {
	if v == 0 {
		return "0"
	}
	var b []byte
	for v > 0 {
		b = append([]byte{byte('0' + v%10)}, b...)
		v /= 10
	}
	return string(b)
}

func readRaw(t *testing.T, path string) []int16 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]int16, len(b)/2)
	for i := range out {
		out[i] = int16(binary.LittleEndian.Uint16(b[2*i:]))
	}
	return out
}

func writeRaw(t *testing.T, path string, s []int16) {
	t.Helper()
	b := make([]byte, 2*len(s))
	for i, v := range s {
		binary.LittleEndian.PutUint16(b[2*i:], uint16(v))
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func snr(ref, got []int16) float64 {
	var sig, noise float64
	for i := range ref {
		d := float64(ref[i]) - float64(got[i])
		sig += float64(ref[i]) * float64(ref[i])
		noise += d * d
	}
	if noise == 0 {
		return math.Inf(1)
	}
	return 10 * math.Log10(sig/noise)
}

// TestG711AgainstSox checks both laws against sox's independent G.711: sox's
// encoding decoded by us must equal sox's own decoding, and our encoder must
// give the bytes sox gives.
func TestG711AgainstSox(t *testing.T) {
	sox := siptest.Peer(t, "sox")
	ref := speech(t, "Thanks for calling, how can I help you today?", 8000)
	dir := t.TempDir()
	writeRaw(t, filepath.Join(dir, "ref.raw"), ref)
	for _, law := range []struct {
		name, ext string
		dec       func([]int16, []byte)
		enc       func([]byte, []int16) []byte
	}{
		{"mu-law", "ul", DecodePCMU, EncodePCMU},
		{"a-law", "al", DecodePCMA, EncodePCMA},
	} {
		t.Run(law.name, func(t *testing.T) {
			enc := filepath.Join(dir, "x."+law.ext)
			if out, err := exec.Command(sox, "-D", "-t", "raw", "-r", "8000", "-e", "signed", "-b", "16", "-c", "1", filepath.Join(dir, "ref.raw"), enc).CombinedOutput(); err != nil {
				t.Fatalf("sox encode: %v %s", err, out)
			}
			back := filepath.Join(dir, law.ext+".raw")
			if out, err := exec.Command(sox, "-t", law.ext, "-r", "8000", "-c", "1", enc, "-e", "signed", "-b", "16", "-t", "raw", back).CombinedOutput(); err != nil {
				t.Fatalf("sox decode: %v %s", err, out)
			}
			soxBytes, err := os.ReadFile(enc)
			if err != nil {
				t.Fatal(err)
			}
			soxPCM := readRaw(t, back)
			ours := make([]int16, len(soxBytes))
			law.dec(ours, soxBytes)
			for i := range ours {
				if ours[i] != soxPCM[i] {
					t.Fatalf("sample %d: byte %#02x decodes to %d, sox says %d", i, soxBytes[i], ours[i], soxPCM[i])
				}
			}
			mine := law.enc(nil, ref)
			diff := 0
			var a, b [1]int16
			for i := range mine {
				if mine[i] == soxBytes[i] {
					continue
				}
				diff++
				// sox rounds to the nearest level where the reference G.711
				// code truncates: the two may pick neighbouring levels, never more.
				law.dec(a[:], mine[i:i+1])
				law.dec(b[:], soxBytes[i:i+1])
				step := int(math.Abs(float64(a[0]))/16) + 16
				if d := int(a[0]) - int(b[0]); d > step || d < -step {
					t.Fatalf("sample %d (%d): we encode %#02x (%d), sox %#02x (%d)", i, ref[i], mine[i], a[0], soxBytes[i], b[0])
				}
			}
			if s := snr(ref, ours); s < 30 {
				t.Fatalf("G.711 SNR vs original %.1f dB, want >= 30", s)
			}
			t.Logf("%s: SNR vs original speech %.1f dB, %d/%d encoder bytes differ from sox", law.name, snr(ref, ours), diff, len(mine))
		})
	}
}

func TestG711AllCodesRoundTrip(t *testing.T) {
	for b := 0; b < 256; b++ {
		for _, c := range []struct {
			dec func([]int16, []byte)
			enc func(int16) byte
		}{{DecodePCMU, ULaw}, {DecodePCMA, ALaw}} {
			var s [1]int16
			c.dec(s[:], []byte{byte(b)})
			got := c.enc(s[0])
			// µ-law has two zeros (0x7F and 0xFF); both decode to 0.
			if got != byte(b) && !(s[0] == 0 && (b == 0x7F || b == 0xFF)) {
				var s2 [1]int16
				c.dec(s2[:], []byte{got})
				if s2[0] != s[0] {
					t.Fatalf("code %#02x -> %d -> %#02x -> %d", b, s[0], got, s2[0])
				}
			}
		}
	}
}

// TestG722SpeechRoundTrip encodes real speech and decodes it: the codec
// delay is compensated and the result must keep the speech (G.722 at 64
// kbit/s is transparent to about 20 dB SNR on speech in practice).
func TestG722SpeechRoundTrip(t *testing.T) {
	ref := speech(t, "Hi, I would like a price for a new water heater, please call me back.", 16000)
	enc := NewG722Encoder().Encode(nil, ref)
	if len(enc) != len(ref)/2 {
		t.Fatalf("encoded %d bytes from %d samples", len(enc), len(ref))
	}
	dec := NewG722Decoder()
	out := make([]int16, 2*len(enc))
	// Decode in 20 ms packets to exercise state carried across calls.
	n := 0
	for i := 0; i < len(enc); i += 160 {
		n += dec.Decode(out[n:], enc[i:min(i+160, len(enc))])
	}
	if n != len(out) {
		t.Fatalf("decoded %d samples, want %d", n, len(out))
	}
	best, lag := math.Inf(-1), 0
	for d := 0; d < 64; d++ {
		if s := snr(ref[:len(ref)-64], out[d:d+len(ref)-64]); s > best {
			best, lag = s, d
		}
	}
	t.Logf("G.722 round trip: SNR %.1f dB at codec delay %d samples", best, lag)
	if best < 15 {
		t.Fatalf("G.722 round trip SNR %.1f dB, want >= 15", best)
	}
	if lag < 20 || lag > 30 {
		t.Fatalf("codec delay %d samples; the QMF pair should delay about 22-23", lag)
	}
}

func TestG722DecoderNoPanicOnAnyInput(t *testing.T) {
	d := NewG722Decoder()
	in := make([]byte, 256)
	for i := range in {
		in[i] = byte(i)
	}
	out := make([]int16, 512)
	for r := 0; r < 100; r++ {
		d.Decode(out, in)
	}
}
