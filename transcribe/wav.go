package transcribe

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
)

// PCM is 16-bit linear audio, one slice per channel.
type PCM struct {
	Rate     int
	Channels [][]int16
}

// ParseWAV reads a 16-bit PCM WAV (RIFF/WAVE, fmt and data chunks, other
// chunks skipped). A data chunk whose size is 0 or runs past the end, as a
// recorder that crashed mid-call leaves it, is read to the end of the file.
func ParseWAV(b []byte) (*PCM, error) {
	if len(b) < 12 || string(b[0:4]) != "RIFF" || string(b[8:12]) != "WAVE" {
		return nil, errors.New("wav: not a RIFF/WAVE file")
	}
	var (
		haveFmt  bool
		format   uint16
		channels int
		rate     int
		bits     uint16
	)
	p := 12
	for p+8 <= len(b) {
		id := string(b[p : p+4])
		size := int(binary.LittleEndian.Uint32(b[p+4 : p+8]))
		body := p + 8
		switch id {
		case "fmt ":
			if size < 16 || body+16 > len(b) {
				return nil, errors.New("wav: short fmt chunk")
			}
			format = binary.LittleEndian.Uint16(b[body:])
			channels = int(binary.LittleEndian.Uint16(b[body+2:]))
			rate = int(binary.LittleEndian.Uint32(b[body+4:]))
			bits = binary.LittleEndian.Uint16(b[body+14:])
			if format == 0xFFFE && size >= 40 && body+26 <= len(b) { // WAVE_FORMAT_EXTENSIBLE: sub-format GUID starts with the tag
				format = binary.LittleEndian.Uint16(b[body+24:])
			}
			haveFmt = true
		case "data":
			if !haveFmt {
				return nil, errors.New("wav: data chunk before fmt chunk")
			}
			if format != 1 || bits != 16 {
				return nil, fmt.Errorf("wav: format %d with %d bits: only 16-bit PCM is supported", format, bits)
			}
			if channels < 1 || channels > 8 {
				return nil, fmt.Errorf("wav: %d channels", channels)
			}
			if rate < 1000 || rate > 384000 {
				return nil, fmt.Errorf("wav: sample rate %d", rate)
			}
			end := body + size
			if size == 0 || end > len(b) || end < body {
				end = len(b)
			}
			data := b[body:end]
			frames := len(data) / (2 * channels)
			pcm := &PCM{Rate: rate, Channels: make([][]int16, channels)}
			for c := range pcm.Channels {
				pcm.Channels[c] = make([]int16, frames)
			}
			for i := range frames {
				for c := range channels {
					pcm.Channels[c][i] = int16(binary.LittleEndian.Uint16(data[(i*channels+c)*2:]))
				}
			}
			return pcm, nil
		}
		if size < 0 || body+size < body {
			break
		}
		p = body + size + size&1 // chunks are word aligned
	}
	return nil, errors.New("wav: no data chunk")
}

// EncodeWAV writes mono 16-bit PCM as a canonical 44-byte-header WAV.
func EncodeWAV(rate int, samples []int16) []byte {
	var buf bytes.Buffer
	data := len(samples) * 2
	buf.Grow(44 + data)
	buf.WriteString("RIFF")
	binary.Write(&buf, binary.LittleEndian, uint32(36+data))
	buf.WriteString("WAVEfmt ")
	binary.Write(&buf, binary.LittleEndian, uint32(16))
	binary.Write(&buf, binary.LittleEndian, uint16(1)) // PCM
	binary.Write(&buf, binary.LittleEndian, uint16(1)) // mono
	binary.Write(&buf, binary.LittleEndian, uint32(rate))
	binary.Write(&buf, binary.LittleEndian, uint32(rate*2))
	binary.Write(&buf, binary.LittleEndian, uint16(2))
	binary.Write(&buf, binary.LittleEndian, uint16(16))
	buf.WriteString("data")
	binary.Write(&buf, binary.LittleEndian, uint32(data))
	out := buf.Bytes()
	for _, s := range samples {
		out = binary.LittleEndian.AppendUint16(out, uint16(s))
	}
	return out
}
