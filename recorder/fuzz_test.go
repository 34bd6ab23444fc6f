package recorder

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pion/rtp"
)

// FuzzRecorderPacket feeds arbitrary datagrams, split by a one-byte length
// prefix, to a call from both sides. It must never panic, and whatever it
// writes must be a well-formed WAV that Close accounts for.
func FuzzRecorderPacket(f *testing.F) {
	seed := func(pkts ...[]byte) []byte {
		var out []byte
		for _, p := range pkts {
			out = append(out, byte(min(len(p), 255)))
			out = append(out, p[:min(len(p), 255)]...)
		}
		return out
	}
	mk := func(pt uint8, seq uint16, ts uint32, ssrc uint32, payload []byte) []byte {
		b, _ := (&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: pt, SequenceNumber: seq, Timestamp: ts, SSRC: ssrc}, Payload: payload}).Marshal()
		return b
	}
	tone := ulaw(sine(440, 8000, 20*time.Millisecond, 8000))
	f.Add(seed(mk(0, 1, 0, 1, tone), mk(0, 2, 160, 1, tone), mk(0, 2, 160, 1, tone), mk(0, 4, 480, 1, tone)))
	f.Add(seed(mk(9, 1, 0, 1, tone), mk(0, 3, 160, 1, tone), mk(8, 65535, 1<<31, 2, tone)))
	f.Add(seed(mk(101, 1, 0, 1, []byte{5, 0x8a, 3, 0x20}), []byte{0x81, 200, 0, 6}, []byte{0x10, 0, 0, 1, 'Z', 'R', 'T', 'P', 0, 0, 0, 0}))
	f.Add(seed([]byte{0xa0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 9}, []byte{0x8f, 0, 0, 1}))
	// Real packets from the shared speech capture, when present.
	if out, err := os.Stat(filepath.Join("..", "..", "shared", "testdata", "pcap", "sipnab", "speech_8k_ulaw.pcap")); err == nil && !out.IsDir() {
		dgs := readUDP(f, filepath.Join("..", "..", "shared", "testdata", "pcap", "sipnab", "speech_8k_ulaw.pcap"))
		var pk [][]byte
		for _, d := range dgs[:min(len(dgs), 6)] {
			pk = append(pk, d.payload)
		}
		f.Add(seed(pk...))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r := newTestRecorder(t, nil)
		r.Media("fz", g711Endpoints()...)
		at := testEpoch
		for i := 0; len(data) > 0; i++ {
			n := int(data[0])
			data = data[1:]
			n = min(n, len(data))
			p := data[:n]
			data = data[n:]
			src, dst := callerAddr, agentAddr
			if i%3 == 2 {
				src, dst = agentAddr, callerAddr
			}
			r.Packet(at, src, dst, p)
			at = at.Add(time.Duration(7+n%30) * time.Millisecond)
		}
		res, err := r.Close("fz")
		if err != nil {
			t.Fatal(err)
		}
		if res.Recording != nil && res.Recording.Ref != "" {
			b, err := os.ReadFile(filepath.Join(r.cfg.Dir, res.Recording.Ref))
			if err != nil {
				t.Fatal(err)
			}
			if uint64(len(b)) != res.Recording.SizeBytes || int(binary.LittleEndian.Uint32(b[40:])) != len(b)-44 {
				t.Fatalf("WAV size mismatch: file %d, record %d, header %d", len(b), res.Recording.SizeBytes, binary.LittleEndian.Uint32(b[40:]))
			}
		}
	})
}
