package pipeline

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/reboundhq/rebound/agent/calls"
	"github.com/reboundhq/rebound/agent/capture"
	reboundv1 "github.com/reboundhq/rebound/proto/rebound/v1"
	"github.com/reboundhq/rebound/sip/siptest"
)

// sippLeg is one UAC/UAS pair of sipp processes: one SIP dialog.
type sippLeg struct {
	uac, uas string
	// after delays the UAC start, so the PBX's legs follow the caller's.
	after time.Duration
	keys  map[string]string
	// viaProxy sends this leg through the Kamailio stateful proxy.
	viaProxy bool
}

type sippScenario struct {
	name      string
	transport string // sipp -t: "u1" or "t1"
	legs      []sippLeg
	cfg       calls.Config
	check     func(t *testing.T, recs []*reboundv1.CallRecord)
}

// defaultKeys are filled in for every leg so each XML can use them.
func defaultKeys(k map[string]string) []string {
	all := map[string]string{
		"from_user": "5551230001", "to_user": "5550100", "cid": "none",
		"ruri_params": "", "divert": "X-Test: 1", "fwd": "5559876543", "service": "201",
	}
	for n, v := range k {
		all[n] = v
	}
	var args []string
	for n, v := range all {
		args = append(args, "-key", n, v)
	}
	return args
}

// runSipp plays the scenario on loopback while tshark writes the traffic to
// a pcap, then replays that pcap through the pipeline.
func runSipp(t *testing.T, sc sippScenario) (fromPcap, live []*reboundv1.CallRecord) {
	t.Helper()
	sipp := siptest.Peer(t, "sipp")
	tshark := siptest.Peer(t, "tshark")
	dir := t.TempDir()
	testdata, err := filepath.Abs("testdata/sipp")
	if err != nil {
		t.Fatal(err)
	}
	free := siptest.FreeUDPPort
	if sc.transport == "t1" {
		free = siptest.FreeTCPPort
	}
	type ports struct{ uas, uac int }
	ps := make([]ports, len(sc.legs))
	var filter []string
	for i := range sc.legs {
		ps[i] = ports{uas: free(t), uac: free(t)}
		filter = append(filter, fmt.Sprintf("port %d or port %d", ps[i].uas, ps[i].uac))
	}
	proxyPort := 0
	for i, l := range sc.legs {
		if l.viaProxy && proxyPort == 0 {
			kam := siptest.Peer(t, "kamailio")
			proxyPort = siptest.FreeUDPPort(t)
			filter = append(filter, fmt.Sprintf("port %d", proxyPort))
			startKamailio(t, kam, dir, proxyPort, ps[i].uas)
		}
	}

	pcap := filepath.Join(dir, "capture.pcap")
	stopCapture := startTshark(t, tshark, pcap, strings.Join(filter, " or "))
	var sipPorts []uint16
	for _, p := range ps {
		sipPorts = append(sipPorts, uint16(p.uas), uint16(p.uac))
	}
	if proxyPort != 0 {
		sipPorts = append(sipPorts, uint16(proxyPort))
	}
	sniffer := startLive(t, sipPorts, sc.cfg)

	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	common := []string{"-i", "127.0.0.1", "-t", sc.transport, "-m", "1", "-nostdin",
		"-timeout", "20s", "-timeout_error", "-max_socket", "10"}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []string
	)
	run := func(name string, args ...string) {
		defer wg.Done()
		cmd := exec.CommandContext(ctx, sipp, args...)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			mu.Lock()
			errs = append(errs, fmt.Sprintf("%s: %v\n%s", name, err, tail(out)))
			mu.Unlock()
		}
	}
	for i, l := range sc.legs {
		wg.Add(1)
		go run("uas "+l.uas, append([]string{"-sf", filepath.Join(testdata, l.uas), "-p", strconv.Itoa(ps[i].uas)},
			append(common, defaultKeys(l.keys)...)...)...)
	}
	time.Sleep(300 * time.Millisecond) // let the UAS bind
	for i, l := range sc.legs {
		wg.Add(1)
		remote := fmt.Sprintf("127.0.0.1:%d", ps[i].uas)
		if l.viaProxy {
			remote = fmt.Sprintf("127.0.0.1:%d", proxyPort)
		}
		args := append([]string{remote, "-sf", filepath.Join(testdata, l.uac), "-p", strconv.Itoa(ps[i].uac)},
			append(common, defaultKeys(l.keys)...)...)
		go func(after time.Duration) {
			time.Sleep(after)
			run("uac "+l.uac, args...)
		}(l.after)
	}
	wg.Wait()
	stopCapture()
	if sniffer != nil {
		live = sniffer.stop(t)
	}
	if len(errs) > 0 {
		t.Fatalf("sipp failed:\n%s", strings.Join(errs, "\n"))
	}
	if keep := os.Getenv("REBOUND_KEEP_PCAP"); keep != "" {
		// Debugging aid: keep each scenario's capture for tshark or
		// `rebound capture`.
		data, err := os.ReadFile(pcap)
		if err == nil {
			name := strings.NewReplacer(" ", "_", ",", "", "/", "_").Replace(sc.name) + ".pcap"
			_ = os.WriteFile(filepath.Join(keep, name), data, 0o644)
		}
	}
	recs, _ := runPcap(t, pcap, sc.cfg, nil)
	return recs, live
}

// liveCapture runs a pipeline on a live AF_PACKET sniff of lo, filtered in
// the kernel to the scenario's ports.
type liveCapture struct {
	p      *Pipeline
	mu     sync.Mutex
	recs   []*reboundv1.CallRecord
	cancel context.CancelFunc
	done   chan error
}

// startLive starts sniffing, or returns nil (and logs why) when this
// process may not open AF_PACKET sockets.
func startLive(t *testing.T, sipPorts []uint16, cfg calls.Config) *liveCapture {
	t.Helper()
	probePort := siptest.FreeUDPPort(t)
	l := &liveCapture{done: make(chan error, 1)}
	p, err := New(Options{SiteID: "site-test", Calls: cfg, Emit: func(r *reboundv1.CallRecord) {
		l.mu.Lock()
		l.recs = append(l.recs, r)
		l.mu.Unlock()
	}})
	if err != nil {
		t.Fatal(err)
	}
	l.p = p
	src := &capture.Sniff{Interface: "lo", Config: capture.Config{
		SIPPorts: sipPorts,
		RTPPorts: capture.PortRange{Min: uint16(probePort), Max: uint16(probePort)},
	}}
	ctx, cancel := context.WithCancel(context.Background())
	l.cancel = cancel
	go func() { l.done <- src.Run(ctx, p) }()
	// Readiness: probe datagrams into the RTP range until one arrives.
	conn, err := net.Dial("udp4", "127.0.0.1:"+strconv.Itoa(probePort))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	deadline := time.Now().Add(10 * time.Second)
	for p.Stats().Datagrams == 0 {
		select {
		case err := <-l.done:
			cancel()
			t.Logf("live sniff unavailable, pcap only: %v", err)
			return nil
		default:
		}
		if time.Now().After(deadline) {
			cancel()
			<-l.done
			t.Fatal("live sniffer never saw its probe")
		}
		_, _ = conn.Write([]byte{0x80, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1})
		time.Sleep(20 * time.Millisecond)
	}
	return l
}

// stop ends the sniff and flushes the pipeline.
func (l *liveCapture) stop(t *testing.T) []*reboundv1.CallRecord {
	t.Helper()
	l.cancel()
	if err := <-l.done; err != nil {
		t.Errorf("sniff: %v", err)
	}
	l.p.Flush(time.Time{})
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.recs
}

func tail(b []byte) string {
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}

// startTshark captures loopback traffic matching filter into path and
// returns a function that stops it and waits for the file to be complete.
func startTshark(t *testing.T, tshark, path, filter string) func() {
	t.Helper()
	cmd := exec.Command(tshark, "-i", "lo", "-w", path, "-f", filter, "-q")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("tshark: %v", err)
	}
	ready := make(chan struct{})
	var log syncBuffer
	go func() {
		sc := bufio.NewScanner(stderr)
		once := false
		for sc.Scan() {
			_, _ = log.Write([]byte(sc.Text() + "\n"))
			if !once && strings.Contains(sc.Text(), "Capturing on") {
				once = true
				close(ready)
			}
		}
		if !once {
			close(ready)
		}
	}()
	select {
	case <-ready:
	case <-time.After(15 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatal("tshark did not start capturing")
	}
	time.Sleep(200 * time.Millisecond)
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		time.Sleep(time.Second) // let the last packets land
		_ = cmd.Process.Signal(os.Interrupt)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		if _, err := os.Stat(path); err != nil {
			t.Fatalf("tshark wrote no capture: %v\n%s", err, log.Bytes())
		}
	}
	t.Cleanup(stop)
	return stop
}

// startKamailio runs a stateful Kamailio proxy on 127.0.0.1:port relaying
// to the UAS on uasPort.
func startKamailio(t *testing.T, kamailio, dir string, port, uasPort int) {
	t.Helper()
	cfg, err := filepath.Abs("testdata/kamailio.cfg")
	if err != nil {
		t.Fatal(err)
	}
	run := filepath.Join(dir, "kamailio")
	if err := os.MkdirAll(run, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(kamailio, "-f", cfg, "-l", fmt.Sprintf("udp:127.0.0.1:%d", port),
		"-A", fmt.Sprintf(`UAS_DST="sip:127.0.0.1:%d"`, uasPort),
		"-DD", "-E", "-n", "1", "-Y", run, "-w", run)
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("kamailio: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("kamailio output:\n%s", tail(out.Bytes()))
		}
	})
	// Wait until it answers on its port.
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if listening(port) {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("kamailio did not start:\n%s", tail(out.Bytes()))
}

// syncBuffer is a bytes.Buffer a child process may write while the test reads.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]byte(nil), b.buf.Bytes()...)
}

// listening reports whether a UDP port on 127.0.0.1 is bound.
func listening(port int) bool {
	data, err := os.ReadFile("/proc/net/udp")
	if err != nil {
		return false
	}
	needle := fmt.Sprintf("0100007F:%04X", port)
	return bytes.Contains(data, []byte(needle))
}

func only(t *testing.T, recs []*reboundv1.CallRecord) *reboundv1.CallRecord {
	t.Helper()
	if len(recs) != 1 {
		for _, r := range recs {
			t.Logf("record: %v %v", r.Outcome, r.Evidence)
		}
		t.Fatalf("records = %d, want 1", len(recs))
	}
	return recs[0]
}

func wantOutcome(t *testing.T, r *reboundv1.CallRecord, o reboundv1.Outcome, evidence string) {
	t.Helper()
	if r.Outcome != o {
		t.Errorf("outcome = %v, want %v; evidence: %v", r.Outcome, o, texts(r))
	}
	if evidence != "" && !hasEvidence(r, evidence) {
		t.Errorf("no evidence containing %q: %v", evidence, texts(r))
	}
}

func texts(r *reboundv1.CallRecord) []string {
	var out []string
	for _, e := range r.Evidence {
		out = append(out, e.Text)
	}
	return out
}

func TestSippScenarios(t *testing.T) {
	zero := time.Duration(0)
	scenarios := []sippScenario{
		{
			name: "caller cancels while ringing", transport: "u1",
			legs: []sippLeg{{uac: "uac_cancel.xml", uas: "uas_ring_cancel.xml"}},
			check: func(t *testing.T, recs []*reboundv1.CallRecord) {
				r := only(t, recs)
				wantOutcome(t, r, reboundv1.Outcome_OUTCOME_ABANDONED, "CANCEL from caller 127.0.0.1 before any agent 2xx")
				if r.HungUpBy != reboundv1.Party_PARTY_CALLER || r.WaitMs < 1000 || r.TalkMs != 0 || r.Direction != reboundv1.Direction_DIRECTION_INBOUND {
					t.Errorf("hung up by %v wait %d talk %d dir %v", r.HungUpBy, r.WaitMs, r.TalkMs, r.Direction)
				}
				if r.Legs[0].FinalStatus != 487 || r.CallerNumber != "5551230001" || r.DialledNumber != "5550100" {
					t.Errorf("leg %v caller %s dialled %s", r.Legs[0], r.CallerNumber, r.DialledNumber)
				}
			},
		},
		{
			name: "caller cancels while the PBX rings an agent", transport: "u1",
			legs: []sippLeg{
				{uac: "uac_cancel.xml", uas: "uas_ring_cancel.xml", keys: map[string]string{"cid": "c-1"}},
				{uac: "uac_cancel.xml", uas: "uas_ring_cancel.xml", after: 300 * time.Millisecond, keys: map[string]string{"cid": "c-1", "to_user": "204"}},
			},
			check: func(t *testing.T, recs []*reboundv1.CallRecord) {
				r := only(t, recs)
				wantOutcome(t, r, reboundv1.Outcome_OUTCOME_ABANDONED, "CANCEL from caller 127.0.0.1 before any agent 2xx")
				if len(r.Legs) != 2 || r.Legs[1].AgentExtension != "204" || r.AgentExtension != "" {
					t.Errorf("legs %v agent %q", r.Legs, r.AgentExtension)
				}
			},
		},
		{
			name: "short abandon dropped", transport: "u1",
			legs: []sippLeg{{uac: "uac_cancel.xml", uas: "uas_ring_cancel.xml"}},
			cfg:  calls.Config{Outcomes: &calls.Outcomes{ShortAbandonSeconds: 30}},
			check: func(t *testing.T, recs []*reboundv1.CallRecord) {
				if len(recs) != 0 {
					t.Errorf("a 1.5 s abandon with short_abandon_seconds=30 was kept: %v", texts(recs[0]))
				}
			},
		},
		{
			name: "queue answers on hold, caller hangs up before any agent", transport: "u1",
			legs: []sippLeg{
				{uac: "uac_answer_bye.xml", uas: "uas_answer_hold.xml", keys: map[string]string{"cid": "q-1", "to_user": "600"}},
				{uac: "uac_cancel.xml", uas: "uas_ring_cancel.xml", after: 700 * time.Millisecond, keys: map[string]string{"cid": "q-1", "to_user": "201"}},
			},
			cfg: calls.Config{Direction: &calls.Direction{Queues: []string{`^6\d\d$`}, InboundNumbers: []string{`^600$`}}},
			check: func(t *testing.T, recs []*reboundv1.CallRecord) {
				r := only(t, recs)
				wantOutcome(t, r, reboundv1.Outcome_OUTCOME_ABANDONED, "after queue/IVR 600 answered; no agent leg answered")
				if !hasEvidence(r, "answered with its media on hold (sendonly)") {
					t.Errorf("queue hold not in evidence: %v", texts(r))
				}
				if len(r.Legs) != 2 || r.Legs[1].CorrelatedBy != "header:X-CID" || r.Queue != "600" || r.HungUpBy != reboundv1.Party_PARTY_CALLER {
					t.Errorf("legs %v queue %q hung up by %v", r.Legs, r.Queue, r.HungUpBy)
				}
				if r.FirstAnsweredAt == nil || r.AgentAnsweredAt != nil || r.WaitMs < 2500 {
					t.Errorf("first answered %v agent answered %v wait %d", r.FirstAnsweredAt, r.AgentAnsweredAt, r.WaitMs)
				}
				if !strings.Contains(strings.Join(r.DefaultsUsed, ","), "correlation") || strings.Contains(strings.Join(r.DefaultsUsed, ","), "direction") {
					t.Errorf("defaults used %v", r.DefaultsUsed)
				}
			},
		},
		{
			name: "agent answers after queue", transport: "u1",
			legs: []sippLeg{
				{uac: "uac_answer_bye.xml", uas: "uas_answer.xml", keys: map[string]string{"cid": "q-2", "to_user": "600"}},
				{uac: "uac_answer_bye.xml", uas: "uas_answer.xml", after: 700 * time.Millisecond, keys: map[string]string{"cid": "q-2", "to_user": "201"}},
			},
			cfg: calls.Config{Direction: &calls.Direction{Queues: []string{`^6\d\d$`}, InboundNumbers: []string{`^600$`}}},
			check: func(t *testing.T, recs []*reboundv1.CallRecord) {
				r := only(t, recs)
				wantOutcome(t, r, reboundv1.Outcome_OUTCOME_ANSWERED, "from agent 201")
				if r.AgentExtension != "201" || r.Queue != "600" || r.TalkMs < 1000 || r.AgentAnsweredAt == nil ||
					!r.AgentAnsweredAt.AsTime().After(r.FirstAnsweredAt.AsTime()) {
					t.Errorf("agent %q queue %q talk %d answered %v/%v", r.AgentExtension, r.Queue, r.TalkMs, r.FirstAnsweredAt, r.AgentAnsweredAt)
				}
			},
		},
		{
			name: "ring no answer to voicemail with Diversion, confirmed by NOTIFY", transport: "u1",
			legs: []sippLeg{
				{uac: "uac_answer_bye.xml", uas: "uas_answer.xml", keys: map[string]string{"cid": "vm-1"}},
				{uac: "uac_cancel.xml", uas: "uas_ring_cancel.xml", after: 200 * time.Millisecond, keys: map[string]string{"cid": "vm-1", "to_user": "201"}},
				{uac: "uac_answer_bye.xml", uas: "uas_answer.xml", after: 1900 * time.Millisecond, keys: map[string]string{"cid": "vm-1", "to_user": "vm201", "divert": "Diversion: <sip:201@pbx.example.com>;reason=no-answer;counter=1"}},
				{uac: "uac_notify_mwi.xml", uas: "uas_notify.xml", after: 5500 * time.Millisecond, keys: map[string]string{"to_user": "201"}},
			},
			check: func(t *testing.T, recs []*reboundv1.CallRecord) {
				r := only(t, recs)
				wantOutcome(t, r, reboundv1.Outcome_OUTCOME_VOICEMAIL, "voicemail vm201 answered for mailbox 201")
				if !hasEvidence(r, "NOTIFY message-summary") || r.VoicemailBox != "201" || len(r.Legs) != 3 {
					t.Errorf("box %q legs %d evidence %v", r.VoicemailBox, len(r.Legs), texts(r))
				}
			},
		},
		{
			name: "voicemail taken by the PBX on the caller's leg, confirmed by NOTIFY", transport: "u1",
			legs: []sippLeg{
				{uac: "uac_answer_bye.xml", uas: "uas_answer.xml", keys: map[string]string{"cid": "vm-3"}},
				{uac: "uac_cancel.xml", uas: "uas_ring_cancel.xml", after: 200 * time.Millisecond, keys: map[string]string{"cid": "vm-3", "to_user": "203"}},
				{uac: "uac_notify_mwi.xml", uas: "uas_notify.xml", after: 4500 * time.Millisecond, keys: map[string]string{"to_user": "203"}},
			},
			check: func(t *testing.T, recs []*reboundv1.CallRecord) {
				// The agent leg rang out and the PBX's own voicemail answered
				// the caller's leg: without the NOTIFY this is a queue abandon.
				r := only(t, recs)
				wantOutcome(t, r, reboundv1.Outcome_OUTCOME_VOICEMAIL, "new message for 203 after the PBX answered; the caller left a voicemail")
				if r.VoicemailBox != "203" {
					t.Errorf("box %q", r.VoicemailBox)
				}
			},
		},
		{
			name: "voicemail by RFC 4458 URI", transport: "u1",
			legs: []sippLeg{
				{uac: "uac_answer_bye.xml", uas: "uas_answer.xml", keys: map[string]string{"cid": "vm-2"}},
				{uac: "uac_answer_bye.xml", uas: "uas_answer.xml", after: 500 * time.Millisecond, keys: map[string]string{"cid": "vm-2", "to_user": "mailbox",
					"ruri_params": ";target=sip:202%40pbx.example.com;cause=486"}},
			},
			cfg: calls.Config{Voicemail: &calls.Voicemail{ConfirmWindow: &zero}},
			check: func(t *testing.T, recs []*reboundv1.CallRecord) {
				r := only(t, recs)
				wantOutcome(t, r, reboundv1.Outcome_OUTCOME_VOICEMAIL, "RFC 4458 target=202 cause=486 busy")
				if r.VoicemailBox != "202" {
					t.Errorf("box %q", r.VoicemailBox)
				}
			},
		},
		{
			name: "302 redirect", transport: "u1",
			legs: []sippLeg{{uac: "uac_redirected.xml", uas: "uas_redirect.xml", keys: map[string]string{"to_user": "201"}}},
			check: func(t *testing.T, recs []*reboundv1.CallRecord) {
				r := only(t, recs)
				wantOutcome(t, r, reboundv1.Outcome_OUTCOME_FORWARDED, "302 Moved Temporarily from 127.0.0.1 redirects the call to 5559876543")
				if r.ForwardedTo != "5559876543" {
					t.Errorf("forwarded to %q", r.ForwardedTo)
				}
			},
		},
		{
			name: "181 and Diversion to an external number", transport: "u1",
			legs: []sippLeg{{uac: "uac_answer_bye.xml", uas: "uas_forward_181.xml", keys: map[string]string{"to_user": "201", "service": "201"}}},
			check: func(t *testing.T, recs []*reboundv1.CallRecord) {
				r := only(t, recs)
				wantOutcome(t, r, reboundv1.Outcome_OUTCOME_FORWARDED, "181 Call Is Being Forwarded")
			},
		},
		{
			name: "B-leg CANCEL with Reason cause=200 is answered elsewhere", transport: "u1",
			legs: []sippLeg{{uac: "uac_cancel_elsewhere.xml", uas: "uas_ring_cancel.xml", keys: map[string]string{"to_user": "202"}}},
			check: func(t *testing.T, recs []*reboundv1.CallRecord) {
				r := only(t, recs)
				wantOutcome(t, r, reboundv1.Outcome_OUTCOME_ANSWERED, "answered elsewhere")
				if r.HungUpBy != reboundv1.Party_PARTY_SYSTEM {
					t.Errorf("hung up by %v", r.HungUpBy)
				}
				if !strings.Contains(r.Legs[0].EndReason, "cause=200") {
					t.Errorf("end reason %q", r.Legs[0].EndReason)
				}
			},
		},
		{
			name: "outbound call", transport: "u1",
			legs: []sippLeg{{uac: "uac_answer_bye.xml", uas: "uas_answer.xml", keys: map[string]string{"from_user": "201", "to_user": "5557654321"}}},
			check: func(t *testing.T, recs []*reboundv1.CallRecord) {
				r := only(t, recs)
				wantOutcome(t, r, reboundv1.Outcome_OUTCOME_OUTBOUND, "extension 201 called 5557654321: outbound")
				if r.Direction != reboundv1.Direction_DIRECTION_OUTBOUND || r.AgentExtension != "201" || r.TalkMs < 2000 || r.HungUpBy != reboundv1.Party_PARTY_CALLER {
					t.Errorf("dir %v agent %q talk %d hung up by %v", r.Direction, r.AgentExtension, r.TalkMs, r.HungUpBy)
				}
			},
		},
		{
			name: "SIP over TCP, caller cancels", transport: "t1",
			legs: []sippLeg{{uac: "uac_cancel.xml", uas: "uas_ring_cancel.xml"}},
			check: func(t *testing.T, recs []*reboundv1.CallRecord) {
				r := only(t, recs)
				wantOutcome(t, r, reboundv1.Outcome_OUTCOME_ABANDONED, "CANCEL from caller 127.0.0.1 before any agent 2xx")
			},
		},
		{
			name: "Kamailio stateful proxy in the path, caller cancels", transport: "u1",
			legs: []sippLeg{{uac: "uac_cancel.xml", uas: "uas_ring_cancel.xml", viaProxy: true}},
			check: func(t *testing.T, recs []*reboundv1.CallRecord) {
				// Every message crosses two hops with the same Call-ID:
				// still one call, one abandon, evidence from the first hop.
				r := only(t, recs)
				wantOutcome(t, r, reboundv1.Outcome_OUTCOME_ABANDONED, "CANCEL from caller 127.0.0.1 before any agent 2xx")
				if r.Legs[0].FinalStatus != 487 {
					t.Errorf("final %d", r.Legs[0].FinalStatus)
				}
			},
		},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			// Each scenario has its own ports and capture filter, and sipp
			// mostly waits: two at a time (go test -parallel) halves the
			// suite's wall time.
			t.Parallel()
			recs, live := runSipp(t, sc)
			if t.Failed() {
				return
			}
			t.Run("pcap", func(t *testing.T) { sc.check(t, recs) })
			if live != nil || len(recs) == 0 {
				t.Run("live", func(t *testing.T) { sc.check(t, live) })
			}
		})
	}
}
