// Package codec owns the audio decoders the recorder supports: G.711 µ-law
// (PCMU) and A-law (PCMA), and ITU-T G.722 at 64 kbit/s. It also has the G.711
// encoders, which tests use to build reference RTP.
package codec

// The lookup tables below are computed once and only ever read: decoding a
// G.711 byte is a single index on the hot path.
var (
	ulawToLinear = func() (t [256]int16) {
		for i := range t {
			t[i] = decodeULaw(byte(i))
		}
		return t
	}()
	alawToLinear = func() (t [256]int16) {
		for i := range t {
			t[i] = decodeALaw(byte(i))
		}
		return t
	}()
)

// decodeULaw is the ITU-T G.711 µ-law expansion (bias 0x84).
func decodeULaw(u byte) int16 {
	u = ^u
	t := (int32(u&0x0f) << 3) + 0x84
	t <<= (u & 0x70) >> 4
	if u&0x80 != 0 {
		return int16(0x84 - t)
	}
	return int16(t - 0x84)
}

// decodeALaw is the ITU-T G.711 A-law expansion (even bits inverted).
func decodeALaw(a byte) int16 {
	a ^= 0x55
	t := int32(a&0x0f) << 4
	seg := (a & 0x70) >> 4
	switch seg {
	case 0:
		t += 8
	case 1:
		t += 0x108
	default:
		t += 0x108
		t <<= seg - 1
	}
	if a&0x80 != 0 {
		return int16(t)
	}
	return int16(-t)
}

// DecodePCMU expands µ-law bytes into dst, which must hold len(src) samples.
func DecodePCMU(dst []int16, src []byte) {
	dst = dst[:len(src)]
	for i, b := range src {
		dst[i] = ulawToLinear[b]
	}
}

// DecodePCMA expands A-law bytes into dst, which must hold len(src) samples.
func DecodePCMA(dst []int16, src []byte) {
	dst = dst[:len(src)]
	for i, b := range src {
		dst[i] = alawToLinear[b]
	}
}

// ULaw returns the µ-law value of one linear sample.
func ULaw(s int16) byte { return linearToULaw(s) }

// ALaw returns the A-law value of one linear sample.
func ALaw(s int16) byte { return linearToALaw(s) }

// EncodePCMU compresses linear samples to µ-law (one byte per sample).
func EncodePCMU(dst []byte, src []int16) []byte {
	for _, s := range src {
		dst = append(dst, linearToULaw(s))
	}
	return dst
}

// EncodePCMA compresses linear samples to A-law (one byte per sample).
func EncodePCMA(dst []byte, src []int16) []byte {
	for _, s := range src {
		dst = append(dst, linearToALaw(s))
	}
	return dst
}

// segment returns the G.711 segment (exponent) of a biased magnitude.
func segment(v int32, ends [8]int32) int {
	for i, e := range ends {
		if v <= e {
			return i
		}
	}
	return 8
}

var (
	ulawSegEnds = [8]int32{0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF, 0x3FFF, 0x7FFF}
	alawSegEnds = [8]int32{0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF}
)

func linearToULaw(s int16) byte {
	const bias, clip = 0x84, 32635
	v := int32(s)
	mask := byte(0xFF)
	if v < 0 {
		v = -v
		mask = 0x7F
	}
	if v > clip {
		v = clip
	}
	v += bias
	seg := segment(v, ulawSegEnds)
	if seg >= 8 {
		return 0x7F ^ mask
	}
	u := byte(seg<<4) | byte((v>>(seg+3))&0x0F)
	return u ^ mask
}

func linearToALaw(s int16) byte {
	v := int32(s) >> 3 // A-law works on 13-bit magnitudes
	mask := byte(0xD5)
	if v < 0 {
		mask = 0x55
		v = -v - 1
	}
	seg := segment(v, alawSegEnds)
	if seg >= 8 {
		return 0x7F ^ mask
	}
	a := byte(seg << 4)
	if seg < 2 {
		a |= byte((v >> 1) & 0x0F)
	} else {
		a |= byte((v >> seg) & 0x0F)
	}
	return a ^ mask
}
