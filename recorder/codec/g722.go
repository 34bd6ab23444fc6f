package codec

// G.722 (ITU-T, 64 kbit/s mode): sub-band ADPCM with a 6-bit lower band and a
// 2-bit higher band, recombined by the receive QMF into 16 kHz linear PCM.
// Each input byte yields two output samples. No maintained pure-Go decoder was
// reachable from this build's module proxy, so this follows the ITU-T G.722
// block structure (blocks 2..6 per band, the shared block 4 predictor and the
// 24-tap QMF) with integer arithmetic as the Recommendation specifies.

var (
	g722wl   = [8]int32{-60, -30, 58, 172, 334, 538, 1198, 3042}
	g722rl42 = [16]int32{0, 7, 6, 5, 4, 3, 2, 1, 7, 6, 5, 4, 3, 2, 1, 0}
	g722ilb  = [32]int32{2048, 2093, 2139, 2186, 2233, 2282, 2332, 2383, 2435, 2489, 2543, 2599, 2656, 2714, 2774, 2834, 2896, 2960, 3025, 3091, 3158, 3228, 3298, 3371, 3444, 3520, 3597, 3676, 3756, 3838, 3922, 4008}
	g722wh   = [3]int32{0, -214, 798}
	g722rh2  = [4]int32{2, 1, 2, 1}
	g722qm2  = [4]int32{-7408, -1616, 7408, 1616}
	g722qm4  = [16]int32{0, -20456, -12896, -8968, -6288, -4240, -2584, -1200, 20456, 12896, 8968, 6288, 4240, 2584, 1200, 0}
	g722qm6  = [64]int32{-136, -136, -136, -136, -24808, -21904, -19008, -16704, -14984, -13512, -12280, -11192, -10232, -9360, -8576, -7856, -7192, -6576, -6000, -5456, -4944, -4464, -4008, -3576, -3168, -2776, -2400, -2032, -1688, -1360, -1040, -728, 24808, 21904, 19008, 16704, 14984, 13512, 12280, 11192, 10232, 9360, 8576, 7856, 7192, 6576, 6000, 5456, 4944, 4464, 4008, 3576, 3168, 2776, 2400, 2032, 1688, 1360, 1040, 728, 432, 136, -432, -136}
	g722qmf  = [12]int32{3, -11, 12, 32, -210, 951, 3876, -805, 362, -156, 53, -11}
	g722q6   = [32]int32{0, 35, 72, 110, 150, 190, 233, 276, 323, 370, 422, 473, 530, 587, 650, 714, 786, 858, 940, 1023, 1121, 1219, 1339, 1458, 1612, 1765, 1980, 2195, 2557, 2919, 0, 0}
	g722iln  = [32]int32{0, 63, 62, 31, 30, 29, 28, 27, 26, 25, 24, 23, 22, 21, 20, 19, 18, 17, 16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 0}
	g722ilp  = [32]int32{0, 61, 60, 59, 58, 57, 56, 55, 54, 53, 52, 51, 50, 49, 48, 47, 46, 45, 44, 43, 42, 41, 40, 39, 38, 37, 36, 35, 34, 33, 32, 0}
	g722ihn  = [3]int32{0, 1, 0}
	g722ihp  = [3]int32{0, 3, 2}
)

func sat16(v int32) int32 {
	if v > 32767 {
		return 32767
	}
	if v < -32768 {
		return -32768
	}
	return v
}

// g722Band is the adaptive predictor state of one sub-band.
type g722Band struct {
	s, sp, sz int32
	r         [3]int32
	a, ap     [3]int32
	p         [3]int32
	d         [7]int32
	b, bp     [7]int32
	sg        [7]int32
	nb, det   int32
}

// block4 updates the pole/zero predictor with the quantised difference dx.
func (s *g722Band) block4(dx int32) {
	// RECONS and PARREC
	s.d[0] = dx
	s.r[0] = sat16(s.s + dx)
	s.p[0] = sat16(s.sz + dx)

	// UPPOL2
	for i := 0; i < 3; i++ {
		s.sg[i] = s.p[i] >> 15
	}
	wd1 := sat16(s.a[1] << 2)
	wd2 := wd1
	if s.sg[0] == s.sg[1] {
		wd2 = -wd1
	}
	if wd2 > 32767 {
		wd2 = 32767
	}
	wd3 := int32(-128)
	if s.sg[0] == s.sg[2] {
		wd3 = 128
	}
	wd3 += wd2 >> 7
	wd3 += (s.a[2] * 32512) >> 15
	if wd3 > 12288 {
		wd3 = 12288
	} else if wd3 < -12288 {
		wd3 = -12288
	}
	s.ap[2] = wd3

	// UPPOL1
	s.sg[0] = s.p[0] >> 15
	s.sg[1] = s.p[1] >> 15
	wd1 = -192
	if s.sg[0] == s.sg[1] {
		wd1 = 192
	}
	wd2 = (s.a[1] * 32640) >> 15
	s.ap[1] = sat16(wd1 + wd2)
	wd3 = sat16(15360 - s.ap[2])
	if s.ap[1] > wd3 {
		s.ap[1] = wd3
	} else if s.ap[1] < -wd3 {
		s.ap[1] = -wd3
	}

	// UPZERO
	wd1 = 128
	if dx == 0 {
		wd1 = 0
	}
	s.sg[0] = dx >> 15
	for i := 1; i < 7; i++ {
		s.sg[i] = s.d[i] >> 15
		wd2 = -wd1
		if s.sg[i] == s.sg[0] {
			wd2 = wd1
		}
		wd3 = (s.b[i] * 32640) >> 15
		s.bp[i] = sat16(wd2 + wd3)
	}

	// DELAYA
	for i := 6; i > 0; i-- {
		s.d[i] = s.d[i-1]
		s.b[i] = s.bp[i]
	}
	for i := 2; i > 0; i-- {
		s.r[i] = s.r[i-1]
		s.p[i] = s.p[i-1]
		s.a[i] = s.ap[i]
	}

	// FILTEP
	wd1 = sat16(s.r[1] + s.r[1])
	wd1 = (s.a[1] * wd1) >> 15
	wd2 = sat16(s.r[2] + s.r[2])
	wd2 = (s.a[2] * wd2) >> 15
	s.sp = sat16(wd1 + wd2)

	// FILTEZ
	s.sz = 0
	for i := 6; i > 0; i-- {
		wd1 = sat16(s.d[i] + s.d[i])
		s.sz += (s.b[i] * wd1) >> 15
	}
	s.sz = sat16(s.sz)

	// PREDIC
	s.s = sat16(s.sp + s.sz)
}

// lowScale runs LOGSCL and SCALEL for the lower band.
func (s *g722Band) lowScale(il4 int32) {
	wd := (s.nb*127)>>7 + g722wl[g722rl42[il4]]
	if wd < 0 {
		wd = 0
	} else if wd > 18432 {
		wd = 18432
	}
	s.nb = wd
	s.det = scale(s.nb, 8)
}

// highScale runs LOGSCH and SCALEH for the higher band.
func (s *g722Band) highScale(ih int32) {
	wd := (s.nb*127)>>7 + g722wh[g722rh2[ih]]
	if wd < 0 {
		wd = 0
	} else if wd > 22528 {
		wd = 22528
	}
	s.nb = wd
	s.det = scale(s.nb, 10)
}

func scale(nb, shift int32) int32 {
	wd1 := (nb >> 6) & 31
	wd2 := shift - (nb >> 11)
	var wd3 int32
	if wd2 < 0 {
		wd3 = g722ilb[wd1] << -wd2
	} else {
		wd3 = g722ilb[wd1] >> wd2
	}
	return wd3 << 2
}

// G722Decoder decodes a G.722 64 kbit/s stream. Its state carries across
// packets of one RTP stream; use a new decoder (or Reset) on an SSRC change.
type G722Decoder struct {
	band [2]g722Band
	x    [24]int32
}

// NewG722Decoder returns a decoder in the initial state of the Recommendation.
func NewG722Decoder() *G722Decoder {
	d := &G722Decoder{}
	d.Reset()
	return d
}

// Reset returns the decoder to its initial state.
func (d *G722Decoder) Reset() {
	*d = G722Decoder{}
	d.band[0].det = 32
	d.band[1].det = 8
}

// Decode writes 2*len(src) samples at 16 kHz into dst and returns how many it
// wrote (dst must hold 2*len(src)).
func (d *G722Decoder) Decode(dst []int16, src []byte) int {
	n := 0
	lo, hi := &d.band[0], &d.band[1]
	for _, code := range src {
		ilow := int32(code & 0x3F)
		ihigh := int32(code>>6) & 0x03

		// Lower band: INVQBL, RECONS, LIMIT.
		rlow := lo.s + (lo.det*g722qm6[ilow])>>15
		if rlow > 16383 {
			rlow = 16383
		} else if rlow < -16384 {
			rlow = -16384
		}
		// INVQAL (4-bit truncated for the predictor), then adapt.
		il4 := ilow >> 2
		dlowt := (lo.det * g722qm4[il4]) >> 15
		lo.lowScale(il4)
		lo.block4(dlowt)

		// Higher band: INVQAH, RECONS, LIMIT, then adapt.
		dhigh := (hi.det * g722qm2[ihigh]) >> 15
		rhigh := dhigh + hi.s
		if rhigh > 16383 {
			rhigh = 16383
		} else if rhigh < -16384 {
			rhigh = -16384
		}
		hi.highScale(ihigh)
		hi.block4(dhigh)

		// Receive QMF.
		copy(d.x[:22], d.x[2:])
		d.x[22] = rlow + rhigh
		d.x[23] = rlow - rhigh
		var xout1, xout2 int32
		for i := 0; i < 12; i++ {
			xout2 += d.x[2*i] * g722qmf[i]
			xout1 += d.x[2*i+1] * g722qmf[11-i]
		}
		dst[n] = int16(sat16(xout1 >> 11))
		dst[n+1] = int16(sat16(xout2 >> 11))
		n += 2
	}
	return n
}

// G722Encoder encodes 16 kHz linear PCM to G.722 64 kbit/s. The recorder only
// decodes; tests use the encoder to build G.722 RTP from real speech.
type G722Encoder struct {
	band [2]g722Band
	x    [24]int32
}

// NewG722Encoder returns an encoder in the initial state.
func NewG722Encoder() *G722Encoder {
	e := &G722Encoder{}
	e.band[0].det = 32
	e.band[1].det = 8
	return e
}

// Encode appends one byte per two input samples (a trailing odd sample is
// ignored) and returns dst.
func (e *G722Encoder) Encode(dst []byte, src []int16) []byte {
	lo, hi := &e.band[0], &e.band[1]
	for j := 0; j+1 < len(src); j += 2 {
		// Transmit QMF.
		copy(e.x[:22], e.x[2:])
		e.x[22] = int32(src[j])
		e.x[23] = int32(src[j+1])
		var sumodd, sumeven int32
		for i := 0; i < 12; i++ {
			sumodd += e.x[2*i] * g722qmf[i]
			sumeven += e.x[2*i+1] * g722qmf[11-i]
		}
		xlow := (sumeven + sumodd) >> 14
		xhigh := (sumeven - sumodd) >> 14

		// Lower band: SUBTRA, QUANTL.
		el := sat16(xlow - lo.s)
		wd := el
		if el < 0 {
			wd = -(el + 1)
		}
		var i int32
		for i = 1; i < 30; i++ {
			if wd < (g722q6[i]*lo.det)>>12 {
				break
			}
		}
		ilow := g722ilp[i]
		if el < 0 {
			ilow = g722iln[i]
		}
		il4 := ilow >> 2
		dlow := (lo.det * g722qm4[il4]) >> 15
		lo.lowScale(il4)
		lo.block4(dlow)

		// Higher band: SUBTRA, QUANTH.
		eh := sat16(xhigh - hi.s)
		wd = eh
		if eh < 0 {
			wd = -(eh + 1)
		}
		mih := int32(1)
		if wd >= (564*hi.det)>>12 {
			mih = 2
		}
		ihigh := g722ihp[mih]
		if eh < 0 {
			ihigh = g722ihn[mih]
		}
		dhigh := (hi.det * g722qm2[ihigh]) >> 15
		hi.highScale(ihigh)
		hi.block4(dhigh)

		dst = append(dst, byte(ihigh<<6|ilow))
	}
	return dst
}
