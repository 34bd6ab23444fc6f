package capture

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/reboundhq/rebound/sip/siptest"
)

// hepChunk appends one generic-vendor chunk.
func hepChunk(b []byte, typ uint16, v []byte) []byte {
	b = binary.BigEndian.AppendUint16(b, 0)
	b = binary.BigEndian.AppendUint16(b, typ)
	b = binary.BigEndian.AppendUint16(b, uint16(6+len(v)))
	return append(b, v...)
}

// encodeHEP builds a HEP v3 packet the way capture agents do.
func encodeHEP(src, dst netip.AddrPort, at time.Time, protoType byte, payload []byte, extra ...[]byte) []byte {
	b := []byte("HEP3\x00\x00")
	fam, sa, da := byte(2), uint16(hepChunkIPv4Src), uint16(hepChunkIPv4Dst)
	if src.Addr().Is6() {
		fam, sa, da = 10, hepChunkIPv6Src, hepChunkIPv6Dst
	}
	b = hepChunk(b, hepChunkFamily, []byte{fam})
	b = hepChunk(b, hepChunkProto, []byte{17})
	b = hepChunk(b, sa, src.Addr().AsSlice())
	b = hepChunk(b, da, dst.Addr().AsSlice())
	b = hepChunk(b, hepChunkSrcPort, binary.BigEndian.AppendUint16(nil, src.Port()))
	b = hepChunk(b, hepChunkDstPort, binary.BigEndian.AppendUint16(nil, dst.Port()))
	b = hepChunk(b, hepChunkTimeSec, binary.BigEndian.AppendUint32(nil, uint32(at.Unix())))
	b = hepChunk(b, hepChunkTimeUsec, binary.BigEndian.AppendUint32(nil, uint32(at.Nanosecond()/1000)))
	b = hepChunk(b, hepChunkProtoType, []byte{protoType})
	b = hepChunk(b, 12, binary.BigEndian.AppendUint32(nil, 2001)) // capture agent id
	for _, e := range extra {
		b = append(b, e...)
	}
	b = hepChunk(b, hepChunkPayload, payload)
	binary.BigEndian.PutUint16(b[4:6], uint16(len(b)))
	return b
}

// encodeHEPv2 builds a version 2 packet as Kamailio's siptrace sends it
// (time header little-endian, as on the x86 hosts that run it).
func encodeHEPv2(src, dst netip.AddrPort, at time.Time, payload []byte) []byte {
	fam, hl := byte(2), byte(16)
	if src.Addr().Is6() {
		fam, hl = 10, 40
	}
	b := []byte{2, hl, fam, 17}
	b = binary.BigEndian.AppendUint16(b, src.Port())
	b = binary.BigEndian.AppendUint16(b, dst.Port())
	b = append(b, src.Addr().AsSlice()...)
	b = append(b, dst.Addr().AsSlice()...)
	b = binary.LittleEndian.AppendUint32(b, uint32(at.Unix()))
	b = binary.LittleEndian.AppendUint32(b, uint32(at.Nanosecond()/1000))
	b = append(b, 1, 0, 0, 0) // capture id, padding
	return append(b, payload...)
}

func TestDecodeHEP(t *testing.T) {
	at := time.Date(2026, 5, 6, 7, 8, 9, 123456000, time.UTC)
	sip := sipResponse("hep", 200, "OK")
	vendorChunk := []byte{0, 0x30, 0, 99, 0, 8, 1, 2} // vendor 0x30, unknown type
	good4 := encodeHEP(caller4, pbx4, at, 1, sip, vendorChunk)
	good6 := encodeHEP(caller6, pbx6, at, 1, sip)
	cases := []struct {
		name    string
		in      []byte
		wantErr bool
		src     netip.AddrPort
	}{
		{"ipv4", good4, false, caller4},
		{"ipv6", good6, false, caller6},
		{"v2-ipv4", encodeHEPv2(caller4, pbx4, at, sip), false, caller4},
		{"v2-ipv6", encodeHEPv2(caller6, pbx6, at, sip), false, caller6},
		{"v2-short", encodeHEPv2(caller4, pbx4, at, sip)[:20], true, netip.AddrPort{}},
		{"v2-no-payload", encodeHEPv2(caller4, pbx4, at, nil), true, netip.AddrPort{}},
		{"trailing-bytes-ignored", append(append([]byte{}, good4...), 0, 0, 0), false, caller4},
		{"bad-magic", append([]byte("HEP2"), good4[4:]...), true, netip.AddrPort{}},
		{"short", good4[:5], true, netip.AddrPort{}},
		{"length-beyond-data", good4[:len(good4)-1], true, netip.AddrPort{}},
		{"chunk-length-zero", func() []byte {
			b := append([]byte{}, good4...)
			binary.BigEndian.PutUint16(b[10:12], 0)
			return b
		}(), true, netip.AddrPort{}},
		{"no-addresses", func() []byte {
			b := hepChunk([]byte("HEP3\x00\x00"), hepChunkPayload, sip)
			binary.BigEndian.PutUint16(b[4:6], uint16(len(b)))
			return b
		}(), true, netip.AddrPort{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := DecodeHEP(tc.in)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			if err != nil {
				return
			}
			if p.Src != tc.src || !p.At.Equal(at) || p.ProtoType != 1 || p.Proto != 17 || !bytes.Equal(p.Payload, sip) {
				t.Errorf("decoded %+v", p)
			}
		})
	}
}

// hepPair starts a HEP source on loopback UDP and TCP ports.
func hepPair(t *testing.T, authKey string) (*HEP, *liveCollector, int, int, func()) {
	t.Helper()
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h := &HEP{PacketConn: pc, Listener: ln, AuthKey: authKey}
	c := &liveCollector{}
	done := make(chan error, 1)
	ctx, cancel := context.WithCancel(t.Context())
	go func() { done <- h.Run(ctx, c) }()
	stop := func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("hep run: %v", err)
		}
	}
	return h, c, pc.LocalAddr().(*net.UDPAddr).Port, ln.Addr().(*net.TCPAddr).Port, stop
}

// TestHEPListeners sends HEP over UDP and over one TCP stream (several
// packets per write, one split across writes) and checks delivery.
func TestHEPListeners(t *testing.T) {
	h, c, udpPort, tcpPort, stop := hepPair(t, "")
	defer stop()
	at := time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC)
	u, err := net.Dial("udp4", fmt.Sprintf("127.0.0.1:%d", udpPort))
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	if _, err := u.Write(encodeHEP(caller4, pbx4, at, 1, sipInvite("hep-u", 0))); err != nil {
		t.Fatal(err)
	}
	_, _ = u.Write(encodeHEP(caller4, pbx4, at, 5, []byte{0x81, 0xc8})) // RTCP: ignored
	_, _ = u.Write([]byte("garbage"))
	tc, err := net.Dial("tcp4", fmt.Sprintf("127.0.0.1:%d", tcpPort))
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	var stream []byte
	for i := range 3 {
		stream = append(stream, encodeHEP(caller6, pbx6, at, 1, sipResponse(fmt.Sprintf("hep-t%d", i), 180, "Ringing"))...)
	}
	cut := len(stream) - 50
	if _, err := tc.Write(stream[:cut]); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "first two TCP messages", 20*time.Second, func() bool { m, _ := c.snapshot(); return len(m) >= 3 })
	if _, err := tc.Write(stream[cut:]); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "all messages", 20*time.Second, func() bool { m, _ := c.snapshot(); return len(m) >= 4 })
	msgs, _ := c.snapshot()
	if len(msgs) != 4 {
		t.Fatalf("%d messages, want 4", len(msgs))
	}
	tcpMsgs := 0
	for _, m := range msgs {
		if m.Transport != "hep" || !m.At.Equal(at) {
			t.Errorf("message %s at %v", m.Transport, m.At)
		}
		if m.Src == caller6 && m.Dst == pbx6 && bytes.HasPrefix(m.Raw, []byte("SIP/2.0 180")) {
			tcpMsgs++
		}
	}
	if tcpMsgs != 3 {
		t.Errorf("%d messages from the TCP stream, want 3", tcpMsgs)
	}
	// Counters move before the handler runs, and the UDP and TCP readers
	// race: wait for the final state rather than a packet count.
	waitFor(t, "4 SIP, 1 malformed, 1 unsupported out of 6 packets", 20*time.Second, func() bool {
		st := h.Counters().Snapshot()
		return st.Packets == 6 && st.SIPMessages == 4 && st.Malformed == 1 && st.Unsupported == 1
	})
}

func TestHEPAuthKey(t *testing.T) {
	h, c, udpPort, _, stop := hepPair(t, "s3cret")
	defer stop()
	u, err := net.Dial("udp4", fmt.Sprintf("127.0.0.1:%d", udpPort))
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	at := time.Now()
	key := func(k string) []byte { return hepChunk(nil, hepChunkAuthKey, []byte(k)) }
	_, _ = u.Write(encodeHEP(caller4, pbx4, at, 1, sipInvite("wrong", 0), key("nope")))
	_, _ = u.Write(encodeHEP(caller4, pbx4, at, 1, sipInvite("none", 0)))
	_, _ = u.Write(encodeHEP(caller4, pbx4, at, 1, sipInvite("right", 0), key("s3cret")))
	// The right key comes last, so once it is delivered the others have
	// been handled.
	waitFor(t, "the packet with the right key", 20*time.Second, func() bool {
		msgs, _ := c.snapshot()
		return len(msgs) > 0
	})
	msgs, _ := c.snapshot()
	if len(msgs) != 1 || !bytes.Contains(msgs[0].Raw, []byte("Call-ID: right")) {
		t.Fatalf("got %d messages, want only the one with the right key", len(msgs))
	}
	if st := h.Counters().Snapshot(); st.Packets != 3 || st.Malformed != 2 {
		t.Errorf("stats %+v, want 3 packets, 2 refused", st)
	}
}

// TestHEPFromKamailio runs a real Kamailio whose siptrace module mirrors
// every SIP message it receives and sends as HEP v3, over UDP and over TCP,
// to our listeners.
func TestHEPFromKamailio(t *testing.T) {
	kamailio := siptest.Peer(t, "kamailio")
	modules := "/usr/lib/x86_64-linux-gnu/kamailio/modules"
	if _, err := os.Stat(filepath.Join(modules, "siptrace.so")); err != nil {
		t.Skipf("kamailio siptrace module not found in %s (Debian package kamailio): %v", modules, err)
	}
	for _, tc := range []struct{ transport, version string }{{"udp", "3"}, {"tcp", "3"}, {"udp", "2"}} {
		transport := tc.transport
		t.Run(transport+"-v"+tc.version, func(t *testing.T) {
			h, c, udpPort, tcpPort, stop := hepPair(t, "")
			defer stop()
			hepURI := fmt.Sprintf("sip:127.0.0.1:%d", udpPort)
			if transport == "tcp" {
				hepURI = fmt.Sprintf("sip:127.0.0.1:%d;transport=tcp", tcpPort)
			}
			u, err := net.ListenPacket("udp4", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer u.Close()
			me := u.LocalAddr().(*net.UDPAddr)
			// Start Kamailio and wait until it answers. On this shared
			// machine it has been seen to hang in start-up once in a
			// while: then kill it and start a fresh one.
			var sipPort int
			var kam *net.UDPAddr
			options := func(callID string, i int) []byte {
				return []byte(fmt.Sprintf("OPTIONS sip:probe@127.0.0.1:%d SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK-%d\r\nFrom: <sip:rebound@127.0.0.1>;tag=%d\r\nTo: <sip:probe@127.0.0.1>\r\nCall-ID: %s\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n", sipPort, me.Port, i, i, callID))
			}
			buf := make([]byte, 4096)
			for attempt := 1; ; attempt++ {
				sipPort = siptest.FreeUDPPort(t)
				kam = &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: sipPort}
				stop, log := startKamailio(t, kamailio, modules, sipPort, hepURI, tc.version)
				defer stop()
				answered := false
				for i := 0; i < 75 && !answered; i++ {
					_, _ = u.WriteTo(options(fmt.Sprintf("probe-%d-%d", attempt, i), i), kam)
					_ = u.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
					if n, _, err := u.ReadFrom(buf); err == nil && bytes.HasPrefix(buf[:n], []byte("SIP/2.0 404")) {
						answered = true
					}
				}
				if answered {
					break
				}
				stop()
				if attempt == 3 {
					t.Fatalf("kamailio does not answer after %d starts; last log:\n%s", attempt, log())
				}
				t.Logf("kamailio start %d did not answer; starting another", attempt)
			}
			for i := 100; i < 103; i++ {
				_, _ = u.WriteTo(options("traced-call", i), kam)
				_ = u.SetReadDeadline(time.Now().Add(5 * time.Second))
				if _, _, err := u.ReadFrom(buf); err != nil {
					t.Fatalf("no reply from kamailio: %v", err)
				}
			}
			waitFor(t, "6 traced messages for the three calls", 30*time.Second, func() bool {
				msgs, _ := c.snapshot()
				n := 0
				for _, m := range msgs {
					if bytes.Contains(m.Raw, []byte("Call-ID: traced-call\r")) {
						n++
					}
				}
				return n == 6
			})
			msgs, _ := c.snapshot()
			var reqs, resps int
			uacAddr := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(me.Port))
			kamAddr := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(sipPort))
			for _, m := range msgs {
				if !bytes.Contains(m.Raw, []byte("Call-ID: traced-call\r")) {
					continue
				}
				if m.Transport != "hep" || m.At.IsZero() {
					t.Errorf("message %q at %v", m.Transport, m.At)
				}
				switch {
				case strings.HasPrefix(string(m.Raw), "OPTIONS ") && m.Src == uacAddr && m.Dst == kamAddr:
					reqs++
				case strings.HasPrefix(string(m.Raw), "SIP/2.0 404") && m.Src == kamAddr && m.Dst == uacAddr:
					resps++
				default:
					t.Errorf("unexpected %v -> %v %q", m.Src, m.Dst, m.Raw[:min(len(m.Raw), 30)])
				}
			}
			if reqs != 3 || resps != 3 {
				t.Errorf("%d requests and %d responses traced, want 3 and 3", reqs, resps)
			}
			if st := h.Counters().Snapshot(); st.Malformed != 0 {
				t.Errorf("stats %+v", st)
			}
		})
	}
}

// startKamailio runs Kamailio with siptrace mirroring every message as HEP
// to hepURI. stop kills its whole process group (it forks workers) and is
// safe to call twice; log returns what it printed.
func startKamailio(t *testing.T, kamailio, modules string, sipPort int, hepURI, version string) (stop func(), log func() string) {
	t.Helper()
	dir := t.TempDir()
	cfg := fmt.Sprintf(`#!KAMAILIO
debug=2
log_stderror=yes
children=1
tcp_children=1
listen=udp:127.0.0.1:%d
listen=tcp:127.0.0.1:%d
mpath="%s/"
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "siptrace.so"
modparam("siptrace", "duplicate_uri", "%s")
modparam("siptrace", "hep_mode_on", 1)
modparam("siptrace", "hep_version", %s)
modparam("siptrace", "trace_to_database", 0)
modparam("siptrace", "trace_on", 1)
modparam("siptrace", "trace_mode", 1)
request_route {
	sl_send_reply("404", "Not here");
	exit;
}
`, sipPort, sipPort, modules, hepURI, version)
	cfgPath := filepath.Join(dir, "kamailio.cfg")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(kamailio, "-f", cfgPath, "-DD", "-E", "-Y", dir, "-w", dir, "-P", filepath.Join(dir, "kamailio.pid"), "-m", "32", "-M", "4")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var mu sync.Mutex
	var out bytes.Buffer
	w := lockedWriter{mu: &mu, w: &out}
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	stop = func() {
		once.Do(func() {
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
			done := make(chan struct{})
			go func() { _ = cmd.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
				<-done
			}
		})
	}
	log = func() string {
		mu.Lock()
		defer mu.Unlock()
		return out.String()
	}
	return stop, log
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
