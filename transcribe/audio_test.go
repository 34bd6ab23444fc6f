package transcribe

import (
	"bytes"
	"encoding/binary"
	"math"
	"testing"
)

func sine(rate int, freq, amp float64, n int) []int16 {
	x := make([]int16, n)
	for i := range x {
		x[i] = int16(amp * math.Sin(2*math.Pi*freq*float64(i)/float64(rate)))
	}
	return x
}

// goertzel returns the amplitude of freq in x.
func goertzel(x []int16, rate int, freq float64) float64 {
	w := 2 * math.Pi * freq / float64(rate)
	c := 2 * math.Cos(w)
	var s1, s2 float64
	for _, v := range x {
		s := float64(v) + c*s1 - s2
		s2, s1 = s1, s
	}
	p := s1*s1 + s2*s2 - c*s1*s2
	return 2 * math.Sqrt(math.Max(p, 0)) / float64(len(x))
}

func TestResampleRemovesImage(t *testing.T) {
	const amp = 10000
	in := sine(8000, 1000, amp, 8000)
	out, err := Resample(in, 8000, 16000)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 16000 {
		t.Fatalf("16 kHz output has %d samples, want 16000", len(out))
	}
	mid := out[1000:15000] // away from the edges the filter sees zeros
	if a := goertzel(mid, 16000, 1000); math.Abs(a-amp)/amp > 0.02 {
		t.Errorf("1 kHz passband amplitude %.0f, want %d within 2%%", a, amp)
	}
	// 8000-1000 = 7 kHz is the image sample doubling would leave.
	if a := goertzel(mid, 16000, 7000); a > amp*0.001 {
		t.Errorf("7 kHz image at %.1f (%.1f dB): the low-pass does not work", a, 20*math.Log10(a/amp))
	}
	// Baseline: naive sample doubling keeps the image, so the check above can fail.
	naive := make([]int16, 0, 2*len(in))
	for _, v := range in {
		naive = append(naive, v, v)
	}
	if a := goertzel(naive[1000:15000], 16000, 7000); a < amp*0.05 {
		t.Errorf("baseline: naive doubling image only %.1f; the measurement is broken", a)
	}
}

func TestResampleDown(t *testing.T) {
	// 48 kHz -> 16 kHz: a 10 kHz tone would alias to 6 kHz; it must be filtered out.
	out, _ := Resample(sine(48000, 10000, 10000, 48000), 48000, 16000)
	if len(out) != 16000 {
		t.Fatalf("len %d", len(out))
	}
	if a := goertzel(out[1000:15000], 16000, 6000); a > 10 {
		t.Errorf("10 kHz aliased to 6 kHz at amplitude %.1f", a)
	}
	out, _ = Resample(sine(48000, 1000, 10000, 48000), 48000, 16000)
	if a := goertzel(out[1000:15000], 16000, 1000); math.Abs(a-10000) > 200 {
		t.Errorf("1 kHz passband amplitude %.0f", a)
	}
}

func stereoWAV(rate int, l, r []int16) []byte {
	n := max(len(l), len(r))
	var buf bytes.Buffer
	buf.WriteString("RIFF")
	binary.Write(&buf, binary.LittleEndian, uint32(36+n*4))
	buf.WriteString("WAVEfmt ")
	for _, v := range []any{uint32(16), uint16(1), uint16(2), uint32(rate), uint32(rate * 4), uint16(4), uint16(16)} {
		binary.Write(&buf, binary.LittleEndian, v)
	}
	buf.WriteString("LIST")
	binary.Write(&buf, binary.LittleEndian, uint32(3))
	buf.WriteString("abc\x00") // odd-sized chunk with its pad byte
	buf.WriteString("data")
	binary.Write(&buf, binary.LittleEndian, uint32(n*4))
	for i := range n {
		var a, b int16
		if i < len(l) {
			a = l[i]
		}
		if i < len(r) {
			b = r[i]
		}
		binary.Write(&buf, binary.LittleEndian, a)
		binary.Write(&buf, binary.LittleEndian, b)
	}
	return buf.Bytes()
}

func TestParseWAV(t *testing.T) {
	l, r := sine(8000, 300, 1000, 800), sine(8000, 500, 2000, 800)
	p, err := ParseWAV(stereoWAV(8000, l, r))
	if err != nil {
		t.Fatal(err)
	}
	if p.Rate != 8000 || len(p.Channels) != 2 || len(p.Channels[0]) != 800 || p.Channels[0][7] != l[7] || p.Channels[1][9] != r[9] {
		t.Fatalf("parsed rate %d, %d channels", p.Rate, len(p.Channels))
	}
	mono, err := ParseWAV(EncodeWAV(16000, l))
	if err != nil || mono.Rate != 16000 || len(mono.Channels) != 1 || mono.Channels[0][5] != l[5] {
		t.Fatalf("mono round trip: %v", err)
	}
	// A recorder that crashed leaves the data size at 0: read to the end.
	b := stereoWAV(8000, l, r)
	binary.LittleEndian.PutUint32(b[len(b)-800*4-4:], 0)
	if p, err := ParseWAV(b); err != nil || len(p.Channels[0]) != 800 {
		t.Fatalf("zero data size: %v", err)
	}
	for name, bad := range map[string][]byte{
		"empty":   nil,
		"not wav": []byte("RIFF\x00\x00\x00\x00AVI LIST"),
		"no data": EncodeWAV(8000, nil)[:36],
		"8-bit":   func() []byte { b := EncodeWAV(8000, l); b[34] = 8; return b }(),
		"alaw":    func() []byte { b := EncodeWAV(8000, l); b[20] = 6; return b }(),
	} {
		if _, err := ParseWAV(bad); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func FuzzParseWAV(f *testing.F) {
	f.Add(stereoWAV(8000, sine(8000, 300, 1000, 80), sine(8000, 500, 1000, 80)))
	f.Add(EncodeWAV(16000, sine(16000, 300, 1000, 160)))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParseWAV(b)
		if err != nil {
			return
		}
		for _, c := range p.Channels {
			if len(c) != len(p.Channels[0]) {
				t.Fatal("channels of different lengths")
			}
		}
		if len(p.Channels[0]) < 4096 {
			if y, err := Resample(p.Channels[0], p.Rate, TargetRate); err == nil && len(p.Channels[0]) > 0 && len(y) == 0 {
				t.Fatal("resampling lost every sample")
			}
		}
	})
}

// BenchmarkResample upsamples five minutes of 8 kHz audio to 16 kHz; the
// baseline is naive sample doubling, which is what the filter costs over.
func BenchmarkResample(b *testing.B) {
	x := sine(8000, 440, 8000, 5*60*8000)
	b.Run("sinc", func(b *testing.B) {
		for b.Loop() {
			if _, err := Resample(x, 8000, 16000); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(x))/8000*float64(b.N)/b.Elapsed().Seconds(), "audio-s/s")
	})
	b.Run("naive-doubling", func(b *testing.B) {
		for b.Loop() {
			y := make([]int16, 0, 2*len(x))
			for _, v := range x {
				y = append(y, v, v)
			}
			if len(y) != 2*len(x) {
				b.Fatal("short")
			}
		}
		b.ReportMetric(float64(len(x))/8000*float64(b.N)/b.Elapsed().Seconds(), "audio-s/s")
	})
}
