package recorder

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	reboundv1 "github.com/reboundhq/rebound/proto/rebound/v1"
	"github.com/reboundhq/rebound/sip/siptest"
)

// writeRTPPcap writes µ-law audio as 20 ms RTP packets into an Ethernet pcap
// that sipp's play_pcap_audio replays (sipp rewrites the addresses).
func writeRTPPcap(t *testing.T, path string, enc []byte, ssrc uint32) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := pcapgo.NewWriter(f)
	if err := w.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
		t.Fatal(err)
	}
	src, dst := callerAddr, agentAddr
	for _, p := range packetize(t, enc, 0, ssrc, 1000, 160000, testEpoch, src, dst) {
		eth := &layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}, EthernetType: layers.EthernetTypeIPv4}
		ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: src.Addr().AsSlice(), DstIP: dst.Addr().AsSlice()}
		udp := &layers.UDP{SrcPort: layers.UDPPort(src.Port()), DstPort: layers.UDPPort(dst.Port())}
		if err := udp.SetNetworkLayerForChecksum(ip); err != nil {
			t.Fatal(err)
		}
		buf := gopacket.NewSerializeBuffer()
		if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, eth, ip, udp, gopacket.Payload(p.buf)); err != nil {
			t.Fatal(err)
		}
		ci := gopacket.CaptureInfo{Timestamp: p.at, CaptureLength: len(buf.Bytes()), Length: len(buf.Bytes())}
		if err := w.WritePacket(ci, buf.Bytes()); err != nil {
			t.Fatal(err)
		}
	}
}

const sippSDP = `v=0
      o=user1 53655765 2353687637 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 0
      a=rtpmap:0 PCMU/8000`

func sippUAC(pcap string, talk time.Duration) string {
	return `<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="rebound caller">
  <send retrans="500"><![CDATA[
      INVITE sip:agent@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:caller@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:agent@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: 1 INVITE
      Contact: <sip:caller@[local_ip]:[local_port]>
      Max-Forwards: 70
      Content-Type: application/sdp
      Content-Length: [len]

      ` + sippSDP + `
    ]]></send>
  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="200"/>
  <send><![CDATA[
      ACK sip:agent@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:caller@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:agent@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 1 ACK
      Contact: <sip:caller@[local_ip]:[local_port]>
      Max-Forwards: 70
      Content-Length: 0
    ]]></send>
  <nop><action><exec play_pcap_audio="` + pcap + `"/></action></nop>
  <pause milliseconds="` + fmt.Sprint(talk.Milliseconds()) + `"/>
  <send retrans="500"><![CDATA[
      BYE sip:agent@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:caller@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:agent@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 2 BYE
      Contact: <sip:caller@[local_ip]:[local_port]>
      Max-Forwards: 70
      Content-Length: 0
    ]]></send>
  <recv response="200" crlf="true"/>
</scenario>`
}

func sippUAS(pcap string, delay time.Duration) string {
	return `<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="rebound agent">
  <recv request="INVITE" crlf="true"/>
  <send><![CDATA[
      SIP/2.0 180 Ringing
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:agent@[local_ip]:[local_port]>
      Content-Length: 0
    ]]></send>
  <send retrans="500"><![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:agent@[local_ip]:[local_port]>
      Content-Type: application/sdp
      Content-Length: [len]

      ` + sippSDP + `
    ]]></send>
  <recv request="ACK" crlf="true"/>
  <pause milliseconds="` + fmt.Sprint(delay.Milliseconds()) + `"/>
  <nop><action><exec play_pcap_audio="` + pcap + `"/></action></nop>
  <recv request="BYE"/>
  <send><![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0
    ]]></send>
</scenario>`
}

// TestSippCall places a real SIP call between two sipp instances on loopback;
// each side plays espeak-ng speech as RTP with play_pcap_audio. tshark
// captures the loopback traffic and the capture is fed to the recorder with
// the endpoints from the SDP the two sipps exchanged. The recording must hold
// the caller's speech on the left and the agent's on the right, each at the
// offset capture time says, with an SNR of at least 40 dB against the G.711
// reference and a duration within 20 ms.
func TestSippCall(t *testing.T) {
	sipp := siptest.Peer(t, "sipp")
	tshark := siptest.Peer(t, "tshark")
	caller := speech8k(t, callerText)
	agent := speech8k(t, agentText)
	callerU, agentU := ulaw(caller), ulaw(agent)
	dir := t.TempDir()
	callerPcap, agentPcap := filepath.Join(dir, "caller.pcap"), filepath.Join(dir, "agent.pcap")
	writeRTPPcap(t, callerPcap, callerU, 0x11223344)
	writeRTPPcap(t, agentPcap, agentU, 0x55667788)
	// The caller hangs up once both sides have finished talking (the agent
	// starts 700 ms after the ACK).
	agentDelay := 700 * time.Millisecond
	talk := max(time.Duration(len(callerU)/8)*time.Millisecond, agentDelay+time.Duration(len(agentU)/8)*time.Millisecond) + 500*time.Millisecond
	uac, uas := filepath.Join(dir, "uac.xml"), filepath.Join(dir, "uas.xml")
	if err := os.WriteFile(uac, []byte(sippUAC(callerPcap, talk)), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(uas, []byte(sippUAS(agentPcap, agentDelay)), 0o600); err != nil {
		t.Fatal(err)
	}
	uasPort, uacPort := siptest.FreeUDPPort(t), siptest.FreeUDPPort(t)
	uasMedia, uacMedia := siptest.FreeUDPPort(t), siptest.FreeUDPPort(t)

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	capFile := filepath.Join(dir, "lo.pcap")
	filter := fmt.Sprintf("udp and (port %d or port %d or port %d or port %d)", uasPort, uacPort, uasMedia, uacMedia)
	ts := exec.CommandContext(ctx, tshark, "-i", "lo", "-w", capFile, "-f", filter)
	stderr, err := ts.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := ts.Start(); err != nil {
		t.Fatal(err)
	}
	// tshark says "Capturing on" once the capture is live; keep draining
	// its stderr afterwards so it never blocks.
	live := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		said := false
		for sc.Scan() {
			if !said && strings.Contains(sc.Text(), "Capturing on") {
				said = true
				close(live)
			}
		}
		if !said {
			close(live)
		}
	}()
	select {
	case <-live:
	case <-time.After(10 * time.Second):
		_ = ts.Process.Kill()
		t.Fatal("tshark did not start capturing on lo")
	}

	uasCmd := exec.CommandContext(ctx, sipp, "-sf", uas, "-i", "127.0.0.1", "-p", fmt.Sprint(uasPort),
		"-mi", "127.0.0.1", "-mp", fmt.Sprint(uasMedia), "-m", "1", "-nostdin", "-timeout", "50s")
	uasOut := &strings.Builder{}
	uasCmd.Stdout, uasCmd.Stderr = uasOut, uasOut
	if err := uasCmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	uacCmd := exec.CommandContext(ctx, sipp, "-sf", uac, "-i", "127.0.0.1", "-p", fmt.Sprint(uacPort),
		"-mi", "127.0.0.1", "-mp", fmt.Sprint(uacMedia), "-m", "1", "-nostdin", "-timeout", "50s",
		fmt.Sprintf("127.0.0.1:%d", uasPort))
	if out, err := uacCmd.CombinedOutput(); err != nil {
		t.Fatalf("sipp uac: %v\n%s", err, lastLines(string(out), 20))
	}
	if err := uasCmd.Wait(); err != nil {
		t.Fatalf("sipp uas: %v\n%s", err, lastLines(uasOut.String(), 20))
	}
	time.Sleep(300 * time.Millisecond)
	_ = ts.Process.Signal(syscall.SIGINT)
	_ = ts.Wait()

	dgs := readUDP(t, capFile)
	r := newTestRecorder(t, nil)
	if replay(t, r, "sipp", dgs) == 0 {
		t.Fatalf("no RTP matched the call (%d datagrams captured)", len(dgs))
	}
	res, err := r.Close("sipp")
	if err != nil {
		t.Fatal(err)
	}
	if res.Recording == nil || res.Recording.Ref == "" || len(res.Flags) != 0 {
		t.Fatalf("result %+v flags %v notes %v", res.Recording, res.Flags, res.Notes)
	}
	_, left, right := readWAV(t, recPath(r, res))
	// Where each side starts, by capture time of its first RTP packet.
	var first [2]time.Time
	var t0 time.Time
	for _, d := range dgs {
		if len(d.payload) < 12 || d.payload[0]>>6 != 2 || d.payload[1] >= 192 {
			continue
		}
		if t0.IsZero() {
			t0 = d.at
		}
		i := 0
		if int(d.src.Port()) == uasMedia {
			i = 1
		}
		if first[i].IsZero() {
			first[i] = d.at
		}
	}
	off := [2]int{int(first[0].Sub(t0).Nanoseconds() * 8000 / 1e9), int(first[1].Sub(t0).Nanoseconds() * 8000 / 1e9)}
	refC, refA := decodeRef(callerU), decodeRef(agentU)
	snrC, snrA := snrDB(refC, left[off[0]:]), snrDB(refA, right[off[1]:])
	wantMs := max(int64(off[0]+len(refC)), int64(off[1]+len(refA))) / 8
	t.Logf("sipp call: %d datagrams, offsets %v frames, SNR caller %.1f dB agent %.1f dB, duration %d ms (want %d), streams %v",
		len(dgs), off, snrC, snrA, res.Recording.DurationMs, wantMs, res.Recording.Streams)
	if snrC < 40 || snrA < 40 {
		t.Fatalf("SNR caller %.1f dB, agent %.1f dB, want >= 40", snrC, snrA)
	}
	if d := res.Recording.DurationMs - wantMs; d < -20 || d > 20 {
		t.Fatalf("duration %d ms, want %d +- 20", res.Recording.DurationMs, wantMs)
	}
	for _, s := range res.Recording.Streams {
		want := reboundv1.Channel_CHANNEL_CALLER
		if s.Ssrc == 0x55667788 {
			want = reboundv1.Channel_CHANNEL_AGENT
		}
		if s.Channel != want || s.Lost != 0 {
			t.Fatalf("stream %+v", s)
		}
	}
}

func lastLines(s string, n int) string {
	l := strings.Split(s, "\n")
	return strings.Join(l[max(0, len(l)-n):], "\n")
}
