package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"text/template"
	"time"

	"github.com/gopacket/gopacket/pcapgo"

	"github.com/reboundhq/rebound/agent/samples"
	"github.com/reboundhq/rebound/sip/siptest"
)

// pbxLab is a small PBX on loopback made of real programs: kamailio as the
// PBX's proxy, a sipp phone per answering party (the CSR's extension, the
// queue and the voicemail box) and a sipp caller on the trunk side. Every
// party plays real espeak-ng speech from the bundled samples with
// play_pcap_audio.
//
// kamailio record-routes and hides topology (topoh with Call-ID masking), so
// the trunk side and the phone side of a call carry different Call-IDs, and
// it stamps the trunk side's Call-ID on the phone side in X-CID: the
// correlation header Rebound asks PBX admins to add. (A plain record-routing
// proxy that keeps one Call-ID on both hops is not handled yet: the agent
// takes the first hop's Request-URI as the target, so it misses the
// extension the proxy retargeted to. See the demo helper's report.)
type pbxLab struct {
	t      *testing.T
	dir    string
	sipp   string
	proxy  int // kamailio UDP port on labProxyIP (5060: topoh's masked URIs carry no port)
	csr    int // extension 201 on labCSRIP
	queue  int // queue 801 on labQueueIP
	vm     int // voicemail box 901 on labVMIP
	domain string
}

// Each party has its own loopback address, so the agent can tell the trunk
// (the caller's side) from the PBX and the phones by address, as on a real
// mirror port.
const (
	labProxyIP  = "127.0.9.1"
	labTrunkIP  = "127.0.9.2"
	labCSRIP    = "127.0.9.3"
	labQueueIP  = "127.0.9.4"
	labVMIP     = "127.0.9.5"
	labTrunkNet = labTrunkIP + "/32"
)

// Tracking numbers the lab routes: they match the demo seed.
const (
	labAnswered  = "+15125550188" // to the CSR at 201
	labQueue     = "+15125550177" // to queue 801, which never finds an agent
	labVoicemail = "+15125550166" // to voicemail box 901 (RFC 4458 URI)
)

const kamailioCfg = `#!KAMAILIO
debug=1
log_stderror=yes
children=2
auto_aliases=no
listen=udp:{{.ProxyIP}}:{{.Proxy}}
mpath="{{.Modules}}"
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "rr.so"
loadmodule "maxfwd.so"
loadmodule "textops.so"
loadmodule "pv.so"
loadmodule "siputils.so"
loadmodule "topoh.so"
modparam("rr", "enable_full_lr", 1)
modparam("topoh", "mask_callid", 1)
modparam("topoh", "mask_ip", "{{.ProxyIP}}")
request_route {
	if (!mf_process_maxfwd_header("10")) { sl_send_reply("483", "Too Many Hops"); exit; }
	if (has_totag()) {
		if (loose_route()) { t_relay(); exit; }
		if (is_method("ACK")) { if (t_check_trans()) { t_relay(); } exit; }
		sl_send_reply("404", "Not here"); exit;
	}
	if (is_method("CANCEL")) { if (t_check_trans()) { t_relay(); } exit; }
	t_check_trans();
	record_route();
	append_hf("X-CID: $ci\r\n");
	if ($rU == "{{.Answered}}") { $ru = "sip:201@{{.CSRIP}}:{{.CSR}}"; }
	else if ($rU == "{{.Queue}}") { $ru = "sip:801@{{.QueueIP}}:{{.QueuePort}}"; }
	else if ($rU == "{{.Voicemail}}") { $ru = "sip:901@{{.VMIP}}:{{.VM}};target=sip:201%40{{.Domain}};cause=408"; }
	else { sl_send_reply("404", "No route"); exit; }
	t_relay();
}
`

// callerXML is a trunk-side caller: INVITE through the proxy, ACK, play the
// caller's audio for the -d pause, then BYE.
const callerXML = `<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="rebound caller">
  <send retrans="500"><![CDATA[
INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: "{{.Name}}" <sip:{{.Number}}@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
To: <sip:[service]@[remote_ip]:[remote_port]>
Call-ID: [call_id]
CSeq: 1 INVITE
Contact: <sip:{{.Number}}@[local_ip]:[local_port]>
Max-Forwards: 70
User-Agent: sipp trunk caller
Content-Type: application/sdp
Content-Length: [len]

v=0
o=caller 53655765 2353687637 IN IP[local_ip_type] [local_ip]
s=-
c=IN IP[media_ip_type] [media_ip]
t=0 0
m=audio [media_port] RTP/AVP 0 101
a=rtpmap:0 PCMU/8000
a=rtpmap:101 telephone-event/8000
a=ptime:20
]]></send>
  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="183" optional="true"/>
  <recv response="200" rtd="true" rrs="true"/>
  <send><![CDATA[
ACK [next_url] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: "{{.Name}}" <sip:{{.Number}}@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
[routes]
Call-ID: [call_id]
CSeq: 1 ACK
Max-Forwards: 70
Content-Length: 0
]]></send>
  <nop><action><exec play_pcap_audio="{{.Audio}}"/></action></nop>
  <pause/>
  <send retrans="500"><![CDATA[
BYE [next_url] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: "{{.Name}}" <sip:{{.Number}}@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
[routes]
Call-ID: [call_id]
CSeq: 2 BYE
Max-Forwards: 70
Content-Length: 0
]]></send>
  <recv response="200" crlf="true"/>
</scenario>
`

// answerXML is an answering party (CSR phone, queue, voicemail): 180, ring
// for the -d pause, 200 with SDP, play its audio, wait for the BYE.
const answerXML = `<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="rebound answering party">
  <recv request="INVITE" crlf="true"/>
  <send><![CDATA[
SIP/2.0 180 Ringing
[last_Via:]
[last_From:]
[last_To:];tag=[pid]SIPpTag01[call_number]
[last_Record-Route:]
[last_Call-ID:]
[last_CSeq:]
Contact: <sip:{{.User}}@[local_ip]:[local_port]>
Content-Length: 0
]]></send>
  <pause/>
  <send retrans="500"><![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:];tag=[pid]SIPpTag01[call_number]
[last_Record-Route:]
[last_Call-ID:]
[last_CSeq:]
Contact: <sip:{{.User}}@[local_ip]:[local_port]>
Server: sipp {{.User}}
Content-Type: application/sdp
Content-Length: [len]

v=0
o=phone 53655765 2353687637 IN IP[local_ip_type] [local_ip]
s=-
c=IN IP[media_ip_type] [media_ip]
t=0 0
m=audio [media_port] RTP/AVP 0 101
a=rtpmap:0 PCMU/8000
a=rtpmap:101 telephone-event/8000
a=ptime:20
]]></send>
  <recv request="ACK" rtd="true" crlf="true"/>
  <nop><action><exec play_pcap_audio="{{.Audio}}"/></action></nop>
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
</scenario>
`

func writeTemplate(t *testing.T, path, text string, data any) {
	t.Helper()
	var buf bytes.Buffer
	if err := template.Must(template.New(filepath.Base(path)).Parse(text)).Execute(&buf, data); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// kamailioModules finds the module directory of the installed kamailio.
func kamailioModules(t *testing.T) string {
	for _, d := range []string{"/usr/lib/x86_64-linux-gnu/kamailio/modules", "/usr/lib/aarch64-linux-gnu/kamailio/modules", "/usr/lib/kamailio/modules", "/usr/local/lib64/kamailio/modules"} {
		if _, err := os.Stat(filepath.Join(d, "tm.so")); err == nil {
			return d
		}
	}
	t.Fatal("kamailio is installed but its modules (tm.so) were not found")
	return ""
}

// startPBXLab starts kamailio on a free loopback port; it stops with the test.
func startPBXLab(t *testing.T) *pbxLab {
	t.Helper()
	kam := siptest.Peer(t, "kamailio")
	l := &pbxLab{
		t: t, dir: t.TempDir(), sipp: siptest.Peer(t, "sipp"),
		proxy: 5060, csr: siptest.FreeUDPPort(t), queue: siptest.FreeUDPPort(t),
		vm: siptest.FreeUDPPort(t), domain: "pbx.rebound.test",
	}
	cfg := filepath.Join(l.dir, "kamailio.cfg")
	writeTemplate(t, cfg, kamailioCfg, map[string]any{
		"ProxyIP": labProxyIP, "CSRIP": labCSRIP, "QueueIP": labQueueIP, "VMIP": labVMIP,
		"Proxy": l.proxy, "CSR": l.csr, "QueuePort": l.queue, "VM": l.vm, "Domain": l.domain,
		"Modules": kamailioModules(t), "Answered": labAnswered, "Queue": labQueue, "Voicemail": labVoicemail,
	})
	var out bytes.Buffer
	cmd := exec.Command(kam, "-f", cfg, "-DD", "-E", "-w", l.dir, "-P", filepath.Join(l.dir, "kamailio.pid"), "-m", "32", "-M", "4")
	cmd.Stdout, cmd.Stderr = &out, &out
	// kamailio forks worker processes: run it in its own process group and
	// stop the whole group, or the workers outlive the test holding the port.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.WaitDelay = 10 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatalf("kamailio: %v", err)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
		if t.Failed() {
			t.Logf("kamailio output:\n%s", out.String())
		}
	})
	// No readiness probe: sipp retransmits the INVITE until kamailio listens.
	return l
}

// labCall is one call placed through the lab.
type labCall struct {
	Sample    string // sample call whose audio the parties play
	Dialled   string // lab tracking number
	Name      string // caller display name
	Number    string // caller number
	Answerer  string // "201", "801" or "901"
	Ring      time.Duration
	Caller    samples.Side
	Answering samples.Side
}

// labResult says when the call ended (the caller's BYE was answered).
type labResult struct {
	Ended time.Time
}

// streamFile writes one side's RTP of a sample for play_pcap_audio and
// returns its path and how long it plays.
func (l *pbxLab) streamFile(name string, side samples.Side) (string, time.Duration) {
	path := filepath.Join(l.dir, fmt.Sprintf("%s-%d.pcap", name, side))
	var buf bytes.Buffer
	if _, err := samples.WriteStream(&buf, name, side); err != nil {
		l.t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		l.t.Fatal(err)
	}
	r, err := pcapgo.NewReader(&buf)
	if err != nil {
		l.t.Fatal(err)
	}
	var first, last time.Time
	for {
		_, ci, err := r.ReadPacketData()
		if err != nil {
			break
		}
		if first.IsZero() {
			first = ci.Timestamp
		}
		last = ci.Timestamp
	}
	return path, last.Sub(first)
}

func (l *pbxLab) answerer(user string) (string, int) {
	switch user {
	case "201":
		return labCSRIP, l.csr
	case "801":
		return labQueueIP, l.queue
	}
	return labVMIP, l.vm
}

// place runs the answering party and the caller to completion.
func (l *pbxLab) place(ctx context.Context, c labCall) (labResult, error) {
	tag := strings.TrimPrefix(c.Number, "+") + "-" + c.Answerer
	ans := filepath.Join(l.dir, "answer-"+tag+".xml")
	ansAudio, _ := l.streamFile(c.Sample, c.Answering)
	writeTemplate(l.t, ans, answerXML, map[string]any{"User": c.Answerer, "Audio": ansAudio})
	call := filepath.Join(l.dir, "caller-"+tag+".xml")
	callAudio, talk := l.streamFile(c.Sample, c.Caller)
	talk += 500 * time.Millisecond // the caller hangs up after its last word
	writeTemplate(l.t, call, callerXML, map[string]any{"Name": c.Name, "Number": c.Number, "Audio": callAudio})

	ip, port := l.answerer(c.Answerer)
	mediaA, mediaB, callerPt := siptest.FreeUDPPort(l.t), siptest.FreeUDPPort(l.t), siptest.FreeUDPPort(l.t)
	actx, cancel := context.WithTimeout(ctx, c.Ring+talk+60*time.Second)
	defer cancel()
	answer := exec.CommandContext(actx, l.sipp, "-sf", ans, "-i", ip, "-p", strconv.Itoa(port),
		"-mi", ip, "-mp", strconv.Itoa(mediaA), "-m", "1", "-d", strconv.Itoa(int(c.Ring/time.Millisecond)),
		"-nostdin", "-trace_err", "-error_file", filepath.Join(l.dir, "answer-"+tag+".err"))
	var aOut bytes.Buffer
	answer.Stdout, answer.Stderr = &aOut, &aOut
	if err := answer.Start(); err != nil {
		return labResult{}, fmt.Errorf("sipp %s: %w", c.Answerer, err)
	}
	// Give the answering sipp a moment to bind before the INVITE arrives.
	time.Sleep(300 * time.Millisecond)
	caller := exec.CommandContext(actx, l.sipp, fmt.Sprintf("%s:%d", labProxyIP, l.proxy), "-sf", call, "-s", c.Dialled,
		"-i", labTrunkIP, "-p", strconv.Itoa(callerPt), "-mi", labTrunkIP, "-mp", strconv.Itoa(mediaB),
		"-m", "1", "-d", strconv.Itoa(int(talk/time.Millisecond)), "-nostdin", "-trace_err",
		"-error_file", filepath.Join(l.dir, "caller-"+tag+".err"), "-recv_timeout", "60000")
	out, err := caller.CombinedOutput()
	ended := time.Now()
	if err != nil {
		_ = answer.Process.Kill()
		_ = answer.Wait()
		errs, _ := os.ReadFile(filepath.Join(l.dir, "caller-"+tag+".err"))
		return labResult{}, fmt.Errorf("sipp caller to %s: %w\n%s\n%s", c.Dialled, err, tail(out), errs)
	}
	if err := answer.Wait(); err != nil {
		return labResult{}, fmt.Errorf("sipp %s: %w\n%s", c.Answerer, err, tail(aOut.Bytes()))
	}
	return labResult{Ended: ended}, nil
}

func tail(b []byte) string {
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}
