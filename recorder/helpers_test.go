package recorder

import (
	"encoding/binary"
	"io"
	"log/slog"
	"math"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pion/rtp"

	reboundv1 "github.com/reboundhq/rebound/proto/rebound/v1"
	"github.com/reboundhq/rebound/recorder/codec"
)

var (
	callerAddr = netip.MustParseAddrPort("10.0.0.1:40000")
	agentAddr  = netip.MustParseAddrPort("10.0.0.2:50000")
	testEpoch  = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
)

func newTestRecorder(t testing.TB, mod func(*Config)) *Recorder {
	t.Helper()
	cfg := Config{Dir: t.TempDir()}
	if mod != nil {
		mod(&cfg)
	}
	r, err := New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), func() time.Time { return testEpoch })
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func g711Endpoints() []Endpoint {
	pm := map[uint8]Codec{0: {"PCMU", 8000}, 8: {"PCMA", 8000}, 101: {"telephone-event", 8000}}
	return []Endpoint{
		{Channel: reboundv1.Channel_CHANNEL_CALLER, Addr: callerAddr, Payloads: pm},
		{Channel: reboundv1.Channel_CHANNEL_AGENT, Addr: agentAddr, Payloads: pm},
	}
}

// rtpPkt is one packet to send, with its capture time.
type rtpPkt struct {
	at       time.Time
	src, dst netip.AddrPort
	buf      []byte
}

// packetize cuts µ-law or A-law bytes into 20 ms RTP packets sent every 20 ms
// from start.
func packetize(t testing.TB, enc []byte, pt uint8, ssrc uint32, seq0 uint16, ts0 uint32, start time.Time, src, dst netip.AddrPort) []rtpPkt {
	t.Helper()
	var out []rtpPkt
	for i := 0; i*160 < len(enc); i++ {
		end := min((i+1)*160, len(enc))
		p := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: pt, SequenceNumber: seq0 + uint16(i),
			Timestamp: ts0 + uint32(i*160), SSRC: ssrc, Marker: i == 0}, Payload: enc[i*160 : end]}
		b, err := p.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, rtpPkt{at: start.Add(time.Duration(i) * 20 * time.Millisecond), src: src, dst: dst, buf: b})
	}
	return out
}

func sine(freq float64, rate int, dur time.Duration, amp float64) []int16 {
	n := int(dur.Seconds() * float64(rate))
	out := make([]int16, n)
	for i := range out {
		out[i] = int16(amp * math.Sin(2*math.Pi*freq*float64(i)/float64(rate)))
	}
	return out
}

// wavData reads a WAV written by the recorder: rate, channels, samples
// de-interleaved (left, right).
func readWAV(t testing.TB, path string) (rate int, left, right []int16) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) < 44 || string(b[0:4]) != "RIFF" || string(b[8:12]) != "WAVE" || string(b[36:40]) != "data" {
		t.Fatalf("%s: not a canonical WAV", path)
	}
	if ch := binary.LittleEndian.Uint16(b[22:]); ch != 2 {
		t.Fatalf("channels = %d, want 2", ch)
	}
	if bits := binary.LittleEndian.Uint16(b[34:]); bits != 16 {
		t.Fatalf("bits = %d", bits)
	}
	rate = int(binary.LittleEndian.Uint32(b[24:]))
	size := int(binary.LittleEndian.Uint32(b[40:]))
	if size > len(b)-44 {
		t.Fatalf("data size %d beyond file (%d)", size, len(b)-44)
	}
	if riff := int(binary.LittleEndian.Uint32(b[4:])); riff != 36+size {
		t.Fatalf("RIFF size %d, want %d", riff, 36+size)
	}
	d := b[44 : 44+size]
	for i := 0; i+3 < len(d); i += 4 {
		left = append(left, int16(binary.LittleEndian.Uint16(d[i:])))
		right = append(right, int16(binary.LittleEndian.Uint16(d[i+2:])))
	}
	return rate, left, right
}

func recPath(r *Recorder, res *Result) string { return filepath.Join(r.cfg.Dir, res.Recording.Ref) }

func ulaw(pcm []int16) []byte { return codec.EncodePCMU(nil, pcm) }

func decodeRef(enc []byte) []int16 {
	out := make([]int16, len(enc))
	codec.DecodePCMU(out, enc)
	return out
}

// snrDB is the signal-to-noise ratio of got against the reference ref over
// the reference's length (missing samples count as noise).
func snrDB(ref, got []int16) float64 {
	var sig, noise float64
	for i, v := range ref {
		var g float64
		if i < len(got) {
			g = float64(got[i])
		}
		d := float64(v) - g
		sig += float64(v) * float64(v)
		noise += d * d
	}
	if noise == 0 {
		return math.Inf(1)
	}
	return 10 * math.Log10(sig/noise)
}

func readRawFile(t testing.TB, path string) []int16 {
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

func netipMust(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }
