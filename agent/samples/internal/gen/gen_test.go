package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/reboundhq/rebound/agent/samples"
	"github.com/reboundhq/rebound/sip/siptest"
)

// TestCommittedSamplesAreReproducible regenerates every sample with the real
// espeak-ng and sox and requires the committed files to be byte-identical:
// the scripts and the audio cannot drift apart, and the output is
// deterministic.
func TestCommittedSamplesAreReproducible(t *testing.T) {
	if testing.Short() {
		t.Skip("regenerates all sample audio; skipped under -short")
	}
	siptest.Peer(t, "espeak-ng")
	siptest.Peer(t, "sox")
	dir := t.TempDir()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if err := run(context.Background(), log, dir, ""); err != nil {
		t.Fatal(err)
	}
	for _, c := range samples.Calls() {
		got, err := os.ReadFile(filepath.Join(dir, c.FileName()))
		if err != nil {
			t.Fatal(err)
		}
		want, err := samples.Pcap(c.Name)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s: regenerated pcap differs from the committed one; run go generate ./agent/samples", c.Name)
		}
	}
}

// TestULawMatchesSox checks the G.711 encoder against sox's on a full sweep
// of 16-bit values.
func TestULawMatchesSox(t *testing.T) {
	sox := siptest.Peer(t, "sox")
	pcm := make([]int16, 0, 65536)
	for v := -32768; v <= 32767; v++ {
		pcm = append(pcm, int16(v))
	}
	raw := make([]byte, 2*len(pcm))
	for i, v := range pcm {
		binary.LittleEndian.PutUint16(raw[2*i:], uint16(v))
	}
	cmd := exec.Command(sox, "-R", "-t", "raw", "-r", "8000", "-c", "1", "-b", "16", "-e", "signed-integer", "-L", "-",
		"-D", "-t", "raw", "-e", "u-law", "-b", "8", "-")
	cmd.Stdin = bytes.NewReader(raw)
	want, err := cmd.Output()
	if err != nil {
		t.Fatalf("sox: %v", err)
	}
	got := ulaw(pcm)
	if len(want) != len(got) {
		t.Fatalf("sox gave %d samples, we %d", len(want), len(got))
	}
	bad := 0
	for i := range got {
		if got[i] != want[i] {
			if bad < 5 {
				t.Errorf("sample %d: ulaw %#02x, sox %#02x", pcm[i], got[i], want[i])
			}
			bad++
		}
	}
	if bad > 0 {
		t.Errorf("%d of %d samples differ", bad, len(got))
	}
}
