package capture

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
	"github.com/reboundhq/rebound/sip/siptest"
)

// collector records what a source hands over.
type collector struct {
	msgs      []Message
	datagrams int
	dgBytes   int
}

func (c *collector) SIP(m Message) { c.msgs = append(c.msgs, m) }
func (c *collector) Datagram(d Datagram) {
	c.datagrams++
	c.dgBytes += len(d.Payload)
}

// tsharkSIPCount counts SIP messages tshark finds (one CSeq method per
// message, several per frame on TCP).
func tsharkSIPCount(t *testing.T, tshark, file, filter string, extra ...string) int {
	t.Helper()
	args := append([]string{"-r", file}, extra...)
	args = append(args, "-Y", filter, "-T", "fields", "-e", "sip.CSeq.method", "-E", "occurrence=a", "-E", "aggregator=/s")
	out, err := exec.Command(tshark, args...).Output()
	if err != nil {
		t.Fatalf("tshark %v: %v", args, err)
	}
	return len(strings.Fields(string(out)))
}

func runPcap(t *testing.T, path string, cfg Config) (*collector, Stats) {
	t.Helper()
	c := &collector{}
	p := &Pcap{Path: path, Config: cfg}
	if err := p.Run(context.Background(), c); err != nil {
		t.Fatalf("run %s: %v", path, err)
	}
	return c, p.Counters().Snapshot()
}

// TestSharedCapturesMatchTshark decodes every public capture and checks the
// number of SIP messages against tshark's own dissector.
func TestSharedCapturesMatchTshark(t *testing.T) {
	td := siptest.SharedTestdata(t)
	tshark := siptest.Peer(t, "tshark")
	files, err := filepath.Glob(filepath.Join(td, "pcap", "*", "*"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no captures under %s: %v", td, err)
	}
	for _, f := range files {
		name := filepath.Base(filepath.Dir(f)) + "/" + filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			var decodeAs []string
			cfg := Config{}
			if strings.Contains(f, "tcp_fragmented") {
				decodeAs = append(decodeAs, "-d", "tcp.port==6060,sip")
				cfg.SIPPorts = []uint16{5060, 6060}
			}
			want := tsharkSIPCount(t, tshark, f, "sip", decodeAs...)
			got, st := runPcap(t, f, cfg)
			t.Logf("%s: sip=%d (tshark %d) datagrams=%d stats=%+v", name, len(got.msgs), want, got.datagrams, st)
			// Only the SIPREC capture is damaged: it holds the last
			// fragments of datagrams whose first ones were not captured.
			if wantBroken := strings.Contains(f, "siprec_dual_channel"); (st.Malformed > 0) != wantBroken {
				t.Errorf("%s: %d malformed, want broken=%v", name, st.Malformed, wantBroken)
			}
			if len(got.msgs) != want {
				t.Errorf("%s: %d SIP messages, tshark finds %d", name, len(got.msgs), want)
			}
			for _, m := range got.msgs {
				if !bytes.HasPrefix(m.Raw, []byte("SIP/2.0 ")) && !bytes.Contains(m.Raw[:bytes.IndexByte(m.Raw, '\n')], []byte(" SIP/2.0")) {
					t.Errorf("message does not start with a SIP start line: %q", m.Raw[:min(len(m.Raw), 60)])
				}
			}
		})
	}
}

// TestPcapErrors checks the errors for files that cannot be read and the
// handling of a damaged tail.
func TestPcapErrors(t *testing.T) {
	dir := t.TempDir()
	notPcap := filepath.Join(dir, "notes.pcap")
	if err := os.WriteFile(notPcap, []byte("this is a text file, not a capture\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty.pcap")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{filepath.Join(dir, "missing.pcap"), notPcap, empty} {
		err := (&Pcap{Path: path}).Run(t.Context(), HandlerFuncs{})
		if err == nil || !strings.HasPrefix(err.Error(), "capture: open "+path+": ") {
			t.Errorf("%s: error %v, want one starting %q", filepath.Base(path), err, "capture: open "+path+": ")
		}
	}

	// A capture cut in the middle of its last record: everything before
	// the cut is delivered, the damage is counted, and Run succeeds.
	full := filepath.Join(dir, "full.pcap")
	var frames [][]byte
	for i := range 3 {
		frames = append(frames, ether(t, layers.EthernetTypeIPv4, ipUDP(t, caller4, pbx4, sipResponse(fmt.Sprintf("cut-%d", i), 180, "Ringing"))))
	}
	writePcap(t, full, layers.LinkTypeEthernet, frames)
	data, err := os.ReadFile(full)
	if err != nil {
		t.Fatal(err)
	}
	cut := filepath.Join(dir, "cut.pcap")
	if err := os.WriteFile(cut, data[:len(data)-40], 0o600); err != nil {
		t.Fatal(err)
	}
	got, st := runPcap(t, cut, Config{})
	if len(got.msgs) != 2 || st.Truncated != 1 {
		t.Errorf("cut file: %d messages and %d truncated, want 2 and 1", len(got.msgs), st.Truncated)
	}
}

// TestPcapReplay checks the live-replay options: Rebase moves timestamps to
// the injected clock, and cancelling a paced replay ends it without error.
func TestPcapReplay(t *testing.T) {
	path := filepath.Join(t.TempDir(), "replay.pcap")
	var frames [][]byte
	for i := range 3 {
		frames = append(frames, ether(t, layers.EthernetTypeIPv4, ipUDP(t, caller4, pbx4, sipResponse(fmt.Sprintf("r-%d", i), 180, "Ringing"))))
	}
	writePcap(t, path, layers.LinkTypeEthernet, frames) // 20 ms apart
	now := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	c := &collector{}
	p := &Pcap{Path: path, Speed: 100, Rebase: func() time.Time { return now }}
	if err := p.Run(t.Context(), c); err != nil {
		t.Fatal(err)
	}
	if len(c.msgs) != 3 {
		t.Fatalf("%d messages", len(c.msgs))
	}
	for i, m := range c.msgs {
		if want := now.Add(time.Duration(i) * 20 * time.Millisecond); !m.At.Equal(want) {
			t.Errorf("message %d at %v, want %v", i, m.At, want)
		}
	}

	// Real-time replay of a capture whose packets are an hour apart:
	// cancel after the first message.
	slow := filepath.Join(t.TempDir(), "slow.pcap")
	f, err := os.Create(slow)
	if err != nil {
		t.Fatal(err)
	}
	w := pcapgo.NewWriter(f)
	if err := w.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
		t.Fatal(err)
	}
	for i, fr := range frames {
		ci := gopacket.CaptureInfo{Timestamp: now.Add(time.Duration(i) * time.Hour), CaptureLength: len(fr), Length: len(fr)}
		if err := w.WritePacket(ci, fr); err != nil {
			t.Fatal(err)
		}
	}
	f.Close()
	ctx, cancel := context.WithCancel(t.Context())
	var n int
	done := make(chan error, 1)
	go func() {
		done <- (&Pcap{Path: slow, Speed: 1}).Run(ctx, HandlerFuncs{OnSIP: func(Message) {
			n++
			cancel()
		}})
	}()
	if err := <-done; err != nil {
		t.Fatalf("cancelled replay: %v", err)
	}
	if n != 1 {
		t.Errorf("%d messages before cancel took effect, want 1", n)
	}
}
