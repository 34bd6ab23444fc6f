//go:build linux

package capture

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gopacket/gopacket/afpacket"
	"github.com/reboundhq/rebound/sip/siptest"
)

// liveCollector is a Handler safe to read while Run is running.
type liveCollector struct {
	mu   sync.Mutex
	msgs []Message
	dgs  []Datagram
}

func (c *liveCollector) SIP(m Message) {
	c.mu.Lock()
	c.msgs = append(c.msgs, m)
	c.mu.Unlock()
}

func (c *liveCollector) Datagram(d Datagram) {
	c.mu.Lock()
	d.Payload = bytes.Clone(d.Payload)
	c.dgs = append(c.dgs, d)
	c.mu.Unlock()
}

func (c *liveCollector) snapshot() ([]Message, []Datagram) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Message(nil), c.msgs...), append([]Datagram(nil), c.dgs...)
}

// requireAFPacket skips when this process may not open AF_PACKET sockets.
func requireAFPacket(t *testing.T) {
	t.Helper()
	tp, err := afpacket.NewTPacket(afpacket.OptInterface("lo"), afpacket.OptTPacketVersion(afpacket.TPacketVersion3))
	if err != nil {
		t.Skipf("AF_PACKET capture on lo unavailable (needs CAP_NET_RAW): %v", err)
	}
	tp.Close()
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestSniffLoopbackSipp sniffs lo while two real sipp instances place three
// calls over UDP, three over TCP and three over UDP on IPv6, and checks that every message is
// seen exactly once and RTP-range datagrams pass the BPF filter while other
// UDP does not.
func TestSniffLoopbackSipp(t *testing.T) {
	requireAFPacket(t)
	sipp := siptest.Peer(t, "sipp")
	uasUDP, uacUDP := siptest.FreeUDPPort(t), siptest.FreeUDPPort(t)
	uasTCP, uacTCP := siptest.FreeTCPPort(t), siptest.FreeTCPPort(t)
	uasUDP6, uacUDP6 := siptest.FreeUDPPort(t), siptest.FreeUDPPort(t)
	rtpPort := siptest.FreeUDPPort(t)
	otherPort := siptest.FreeUDPPort(t)
	if otherPort >= rtpPort-5 && otherPort <= rtpPort+5 {
		t.Skip("free ports too close together for the range test")
	}
	c := &liveCollector{}
	s := &Sniff{Interface: "lo", Config: Config{
		SIPPorts: []uint16{uint16(uasUDP), uint16(uacUDP), uint16(uasTCP), uint16(uacTCP), uint16(uasUDP6), uint16(uacUDP6)},
		RTPPorts: PortRange{Min: uint16(rtpPort - 5), Max: uint16(rtpPort + 5)},
	}}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, c) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("sniff: %v", err)
		}
	}()

	// Readiness: send probes into the RTP range until one is seen.
	conn, err := net.Dial("udp4", "127.0.0.1:"+strconv.Itoa(rtpPort))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	waitFor(t, "the sniffer to see a probe", 30*time.Second, func() bool {
		_, _ = conn.Write(rtpPacket(1))
		_, dgs := c.snapshot()
		return len(dgs) > 0
	})
	// Out-of-range UDP must be filtered in the kernel.
	other, err := net.Dial("udp4", "127.0.0.1:"+strconv.Itoa(otherPort))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	_, _ = other.Write([]byte("not for us"))

	for _, tc := range []struct {
		transport, flag, host string
		uas, uac              int
	}{
		{"udp", "u1", "127.0.0.1", uasUDP, uacUDP},
		{"tcp", "t1", "127.0.0.1", uasTCP, uacTCP},
		{"udp", "u1", "::1", uasUDP6, uacUDP6},
	} {
		before, _ := c.snapshot()
		if portBound(tc.transport, tc.uas) {
			t.Fatalf("%s port %d bound before sipp started", tc.transport, tc.uas)
		}
		uas := exec.CommandContext(ctx, sipp, "-sn", "uas", "-i", tc.host, "-p", strconv.Itoa(tc.uas), "-t", tc.flag, "-m", "3", "-nostdin", "-timeout", "30s", "-timeout_error")
		var uasOut bytes.Buffer
		uas.Stdout, uas.Stderr = &uasOut, &uasOut
		if err := uas.Start(); err != nil {
			t.Fatal(err)
		}
		// Start the UAC only once the UAS holds its port.
		waitFor(t, "sipp uas to bind its port", 30*time.Second, func() bool {
			return portBound(tc.transport, tc.uas)
		})
		uac := exec.CommandContext(ctx, sipp, "-sn", "uac", net.JoinHostPort(tc.host, strconv.Itoa(tc.uas)), "-i", tc.host, "-p", strconv.Itoa(tc.uac), "-t", tc.flag, "-m", "3", "-r", "10", "-d", "100", "-nostdin", "-timeout", "30s", "-timeout_error")
		if out, err := uac.CombinedOutput(); err != nil {
			t.Fatalf("sipp uac over %s: %v\n%s", tc.transport, err, out)
		}
		// The UAC succeeded, so every call completed. The UAS may still
		// report failure over TCP: the UAC closing the connection aborts
		// the UAS's final pause.
		if err := uas.Wait(); err != nil {
			t.Logf("sipp uas over %s: %v", tc.transport, err)
		}
		// 3 calls x (INVITE 180 200 ACK BYE 200): sipp's built-in
		// UAS sends no 100 Trying.
		const want = 3 * 6
		waitFor(t, fmt.Sprintf("%d %s messages", want, tc.transport), 30*time.Second, func() bool {
			msgs, _ := c.snapshot()
			return len(msgs)-len(before) >= want
		})
		msgs, _ := c.snapshot()
		msgs = msgs[len(before):]
		// Every message exactly once: loopback shows each packet twice
		// unless the filter drops the outgoing copy. A loaded machine
		// may make sipp retransmit, so identical repeats are tolerated,
		// but not a copy of everything.
		distinct := map[string]int{}
		for _, m := range msgs {
			distinct[string(m.Raw)]++
		}
		if len(distinct) != want || len(msgs) >= 2*want-want/2 {
			t.Errorf("%s: %d messages, %d distinct, want %d distinct each seen once", tc.transport, len(msgs), len(distinct), want)
		}
		invites := 0
		uasAddr := netip.AddrPortFrom(netip.MustParseAddr(tc.host), uint16(tc.uas))
		for raw := range distinct {
			if strings.HasPrefix(raw, "INVITE ") {
				invites++
			}
		}
		for _, m := range msgs {
			if m.Transport != tc.transport {
				t.Errorf("transport %q, want %q", m.Transport, tc.transport)
			}
			if m.Src != uasAddr && m.Dst != uasAddr {
				t.Errorf("message %v -> %v does not involve the UAS %v", m.Src, m.Dst, uasAddr)
			}
		}
		if invites != 3 {
			t.Errorf("%s: %d INVITEs, want 3", tc.transport, invites)
		}
	}
	_, dgs := c.snapshot()
	for _, d := range dgs {
		if int(d.Dst.Port()) == otherPort {
			t.Errorf("datagram to port %d passed the filter", otherPort)
		}
	}
	msgs, _ := c.snapshot()
	// The counter moves just before the handler call, and the sniffer is
	// still running: it can only be ahead.
	if st := s.Counters().Snapshot(); st.Malformed != 0 || st.SIPMessages < uint64(len(msgs)) {
		t.Errorf("stats %+v, want at least %d SIP messages and nothing malformed", st, len(msgs))
	}
}

// TestSniffMissingInterface checks the error for an interface that does not
// exist.
func TestSniffMissingInterface(t *testing.T) {
	s := &Sniff{Interface: "rebound-no-such-if0"}
	err := s.Run(t.Context(), HandlerFuncs{})
	if err == nil || !bytes.Contains([]byte(err.Error()), []byte("capture: sniff rebound-no-such-if0")) {
		t.Fatalf("error %v, want one naming the interface", err)
	}
}

// TestSniffKernelDrops stalls the handler while a burst overflows a small
// ring, and checks that the kernel's drop count reaches the counters.
func TestSniffKernelDrops(t *testing.T) {
	requireAFPacket(t)
	port := siptest.FreeUDPPort(t)
	release := make(chan struct{})
	var once sync.Once
	seen := make(chan struct{})
	h := HandlerFuncs{OnDatagram: func(Datagram) {
		once.Do(func() { close(seen) })
		<-release
	}}
	s := &Sniff{Interface: "lo", BlockSize: 1 << 16, NumBlocks: 2, Config: Config{RTPPorts: PortRange{Min: uint16(port), Max: uint16(port)}}}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, h) }()
	conn, err := net.Dial("udp4", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	waitFor(t, "the first datagram", 30*time.Second, func() bool {
		_, _ = conn.Write(rtpPacket(0))
		select {
		case <-seen:
			return true
		default:
			return false
		}
	})
	// The handler is now stuck: 4,000 packets of 200 bytes cannot fit in
	// a 128 KiB ring.
	for i := range 4000 {
		_, _ = conn.Write(rtpPacket(uint16(i)))
	}
	close(release)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	st := s.Counters().Snapshot()
	if st.KernelDrops == 0 {
		t.Fatalf("no kernel drops counted after overflowing the ring: %+v", st)
	}
	t.Logf("stats after the burst: %+v", st)
}

// portBound reports whether some socket is bound to the UDP port, or
// listening on the TCP port, per /proc/net (reading, unlike trying to bind
// it, cannot race with the program starting up).
func portBound(transport string, port int) bool {
	suffix := fmt.Sprintf(":%04X ", port)
	for _, file := range []string{"/proc/net/" + transport, "/proc/net/" + transport + "6"} {
		data, err := os.ReadFile(file)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(data), "\n") {
			f := strings.Fields(line)
			if len(f) < 4 || !strings.HasSuffix(f[1]+" ", suffix) {
				continue
			}
			if transport == "udp" || f[3] == "0A" { // 0A: TCP_LISTEN
				return true
			}
		}
	}
	return false
}

// TestSniffNoFilterLoopback captures lo without a port filter: everything
// comes through, but still once (the outgoing loopback copy is dropped).
func TestSniffNoFilterLoopback(t *testing.T) {
	requireAFPacket(t)
	port := siptest.FreeUDPPort(t)
	c := &liveCollector{}
	s := &Sniff{Interface: "lo", NoFilter: true}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, c) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	// A receiver on the port, so that no ICMP error eats a later send.
	sink, err := net.ListenPacket("udp4", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	conn, err := net.Dial("udp4", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	mine := func() []Datagram {
		_, dgs := c.snapshot()
		var out []Datagram
		for _, d := range dgs {
			if int(d.Dst.Port()) == port {
				out = append(out, d)
			}
		}
		return out
	}
	waitFor(t, "a probe", 30*time.Second, func() bool {
		_, _ = conn.Write([]byte("probe"))
		return len(mine()) > 0
	})
	start := len(mine())
	for i := range 5 {
		_, _ = conn.Write([]byte(fmt.Sprintf("payload-%d", i)))
	}
	// Packets are captured in order, so once the marker is in, any
	// duplicate of the five would be too.
	_, _ = conn.Write([]byte("marker"))
	waitFor(t, "the marker", 30*time.Second, func() bool {
		for _, d := range mine() {
			if string(d.Payload) == "marker" {
				return true
			}
		}
		return false
	})
	seen := map[string]int{}
	for _, d := range mine()[start:] {
		seen[string(d.Payload)]++
	}
	for i := range 5 {
		if n := seen[fmt.Sprintf("payload-%d", i)]; n != 1 {
			t.Errorf("payload-%d seen %d times, want once", i, n)
		}
	}
}
