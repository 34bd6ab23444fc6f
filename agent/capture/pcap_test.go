package capture

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/reboundhq/rebound/sip/siptest"
)

// testdataDir returns /work/shared/testdata found from the module root
// (../shared/testdata beside the repository), or skips.
func testdataDir(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Skip("go.mod not found above the package")
		}
		dir = parent
	}
	td := filepath.Join(dir, "..", "shared", "testdata")
	if _, err := os.Stat(filepath.Join(td, "pcap")); err != nil {
		t.Skipf("shared test captures missing at %s: %v", td, err)
	}
	return td
}

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
	td := testdataDir(t)
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
