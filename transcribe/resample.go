package transcribe

import (
	"fmt"
	"math"
)

// Resample converts x from rate in to rate out with a Kaiser-windowed sinc
// low-pass (a rational L/M polyphase interpolator). Upsampling 8 kHz to
// 16 kHz this interpolates the missing samples and removes the spectral image
// between 4 and 8 kHz that naive sample doubling leaves, which speech models
// trained on clean 16 kHz audio otherwise hear as hiss; downsampling it
// removes what would alias.
//
// Rates whose ratio reduces to terms above maxRatioTerm (none of the rates
// telephony or audio files use) are refused: their filter would not fit in
// memory.
func Resample(x []int16, in, out int) ([]int16, error) {
	if in <= 0 || out <= 0 {
		return nil, fmt.Errorf("resample %d Hz to %d Hz: bad rate", in, out)
	}
	if in == out || len(x) == 0 {
		return append([]int16(nil), x...), nil
	}
	g := gcd(in, out)
	L, M := out/g, in/g
	if max(L, M) > maxRatioTerm {
		return nil, fmt.Errorf("resample %d Hz to %d Hz: ratio %d/%d is not supported", in, out, L, M)
	}
	h, c := lowpass(L, M)
	n := int((int64(len(x))*int64(L) + int64(M) - 1) / int64(M))
	y := make([]int16, n)
	N := len(h)
	for m := range n {
		// Zero-stuffed index of the filter centre for output m.
		t := m*M + c
		kLo := max(0, (t-N+1+L-1)/L)
		kHi := min(len(x)-1, t/L)
		acc := 0.0
		for k := kLo; k <= kHi; k++ {
			acc += float64(x[k]) * h[t-k*L]
		}
		y[m] = clamp16(acc)
	}
	return y, nil
}

// maxRatioTerm bounds L and M (44.1 kHz to 16 kHz is 160/441).
const maxRatioTerm = 2048

// zeroCrossings is the filter half-length in zero crossings of the lower
// rate: 16 gives about 70 dB stop-band with the Kaiser beta below.
const (
	zeroCrossings = 16
	kaiserBeta    = 7.0
)

// lowpass returns the prototype filter at rate in*L with its centre index.
func lowpass(L, M int) ([]float64, int) {
	r := max(L, M)
	N := 2*zeroCrossings*r + 1
	c := N / 2
	fc := 0.5 / float64(r) * 0.94 // cut a little below Nyquist for the transition band
	h := make([]float64, N)
	i0b := besselI0(kaiserBeta)
	for j := range N {
		t := float64(j - c)
		s := 2 * fc
		if t != 0 {
			s = math.Sin(2*math.Pi*fc*t) / (math.Pi * t)
		}
		ratio := t / float64(c)
		w := besselI0(kaiserBeta*math.Sqrt(max(0, 1-ratio*ratio))) / i0b
		h[j] = s * w * float64(L) // gain L restores the level lost to zero stuffing
	}
	return h, c
}

func besselI0(x float64) float64 {
	sum, term := 1.0, 1.0
	for k := 1; k < 50; k++ {
		term *= (x / (2 * float64(k))) * (x / (2 * float64(k)))
		sum += term
		if term < 1e-12*sum {
			break
		}
	}
	return sum
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

func clamp16(v float64) int16 {
	v = math.Round(v)
	switch {
	case v > math.MaxInt16:
		return math.MaxInt16
	case v < math.MinInt16:
		return math.MinInt16
	}
	return int16(v)
}

// rms is the root mean square level of x.
func rms(x []int16) float64 {
	if len(x) == 0 {
		return 0
	}
	s := 0.0
	for _, v := range x {
		s += float64(v) * float64(v)
	}
	return math.Sqrt(s / float64(len(x)))
}
