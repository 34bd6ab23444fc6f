package recorder

import (
	"bytes"
	"context"
	"encoding/binary"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	reboundv1 "github.com/reboundhq/rebound/proto/rebound/v1"
)

// TestCrashLeavesPlayableFile checks the .part file mid-call: its header
// covers the audio flushed so far, so a crash leaves a playable WAV.
func TestCrashLeavesPlayableFile(t *testing.T) {
	r := newTestRecorder(t, nil)
	r.Media("crash", g711Endpoints()...)
	tone := ulaw(sine(440, 8000, 10*time.Second, 6000))
	pk := packetize(t, tone, 0, 1, 1, 1, testEpoch, callerAddr, agentAddr)
	for _, p := range pk[:300] { // 6 s of a 10 s call
		r.Packet(p.at, p.src, p.dst, p.buf)
	}
	parts, _ := filepath.Glob(filepath.Join(r.cfg.Dir, "*.wav.part"))
	if len(parts) != 1 {
		t.Fatalf("part files %v", parts)
	}
	b, err := os.ReadFile(parts[0])
	if err != nil {
		t.Fatal(err)
	}
	size := int(binary.LittleEndian.Uint32(b[40:]))
	// Header patched at least once (every 2 s of capture time), and never
	// claiming more than is on disk.
	if size < 4*8000*4 || size > len(b)-44 {
		t.Fatalf("header data size %d, file holds %d", size, len(b)-44)
	}
	// The memory held per call is the bounded jitter buffer, not the call.
	r.mu.RLock()
	c := r.calls["crash"]
	r.mu.RUnlock()
	if len(c.ring) > 8000*4 {
		t.Fatalf("jitter buffer %d bytes for an 8 kHz call", len(c.ring))
	}
	for _, p := range pk[300:] {
		r.Packet(p.at, p.src, p.dst, p.buf)
	}
	res, err := r.Close("crash")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(parts[0]); !os.IsNotExist(err) {
		t.Fatalf(".part still present after close: %v", err)
	}
	st, err := os.Stat(recPath(r, res))
	if err != nil || uint64(st.Size()) != res.Recording.SizeBytes || len(res.Recording.Sha256) != 64 {
		t.Fatalf("final file %v %v, record %+v", st, err, res.Recording)
	}
	if res.Recording.DurationMs != 10000 {
		t.Fatalf("duration %d", res.Recording.DurationMs)
	}
}

func TestFlags(t *testing.T) {
	quiet := ulaw(make([]int16, 8000*2))
	loud := ulaw(sine(300, 8000, 2*time.Second, 8000))
	cases := []struct {
		name    string
		caller  []byte
		agent   []byte
		pt      uint8
		want    []reboundv1.HealthFlag
		wantRef bool
	}{
		{name: "no rtp", want: []reboundv1.HealthFlag{reboundv1.HealthFlag_HEALTH_FLAG_NO_RTP}},
		{name: "two-way", caller: loud, agent: loud, wantRef: true},
		{name: "one-way", caller: loud, want: []reboundv1.HealthFlag{reboundv1.HealthFlag_HEALTH_FLAG_ONE_WAY_AUDIO}, wantRef: true},
		{name: "silent agent", caller: loud, agent: quiet, want: []reboundv1.HealthFlag{reboundv1.HealthFlag_HEALTH_FLAG_SILENT_CHANNEL}, wantRef: true},
		{name: "unsupported", caller: loud, agent: loud, pt: 18, want: []reboundv1.HealthFlag{reboundv1.HealthFlag_HEALTH_FLAG_UNSUPPORTED_CODEC}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := newTestRecorder(t, nil)
			r.Media("f", g711Endpoints()...)
			var pk []rtpPkt
			if tc.caller != nil {
				pk = append(pk, packetize(t, tc.caller, tc.pt, 1, 1, 1, testEpoch, callerAddr, agentAddr)...)
			}
			if tc.agent != nil {
				pk = append(pk, packetize(t, tc.agent, tc.pt, 2, 1, 1, testEpoch, agentAddr, callerAddr)...)
			}
			for _, p := range pk {
				r.Packet(p.at, p.src, p.dst, p.buf)
			}
			res, err := r.Close("f")
			if err != nil {
				t.Fatal(err)
			}
			if !equalFlags(res.Flags, tc.want) {
				t.Fatalf("flags %v, want %v (notes %v)", res.Flags, tc.want, res.Notes)
			}
			if got := res.Recording != nil && res.Recording.Ref != ""; got != tc.wantRef {
				t.Fatalf("recording written = %v, want %v", got, tc.wantRef)
			}
			if tc.pt == 18 && res.Recording.Codec != "G729" {
				t.Fatalf("codec %q, want G729 named on the record", res.Recording.Codec)
			}
		})
	}
}

func equalFlags(a, b []reboundv1.HealthFlag) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestLatchingSymmetricRTP(t *testing.T) {
	r := newTestRecorder(t, nil)
	r.Media("nat", g711Endpoints()...)
	nat := netip.MustParseAddrPort("203.0.113.9:61000")
	tone := ulaw(sine(500, 8000, time.Second, 6000))
	// The caller is behind NAT: it sends from an address its SDP never named.
	for _, p := range packetize(t, tone, 0, 1, 1, 1, testEpoch, nat, agentAddr) {
		if !r.Packet(p.at, p.src, p.dst, p.buf) {
			t.Fatal("NATed caller packet not matched")
		}
	}
	// The agent answers to the latched public address.
	for _, p := range packetize(t, tone, 0, 2, 1, 1, testEpoch, agentAddr, nat) {
		if !r.Packet(p.at, p.src, p.dst, p.buf) {
			t.Fatal("packet to latched address not matched")
		}
	}
	res, err := r.Close("nat")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range res.Recording.Streams {
		want := reboundv1.Channel_CHANNEL_CALLER
		if s.Ssrc == 2 {
			want = reboundv1.Channel_CHANNEL_AGENT
		}
		if s.Channel != want {
			t.Fatalf("stream %d on %v", s.Ssrc, s.Channel)
		}
	}
	if len(res.Flags) != 0 {
		t.Fatalf("flags %v", res.Flags)
	}
	if r.Packet(testEpoch, nat, agentAddr, []byte{0x80, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1}) {
		t.Fatal("closed call still claims packets")
	}
}

func TestRTCPAndDTMFNotRecorded(t *testing.T) {
	r := newTestRecorder(t, nil)
	r.Media("d", g711Endpoints()...)
	rtcp := []byte{0x81, 201, 0, 7, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	if !r.Packet(testEpoch, callerAddr, agentAddr, rtcp) {
		t.Fatal("muxed RTCP not claimed")
	}
	rtcpPort := netip.MustParseAddrPort("10.0.0.1:40001")
	if !r.Packet(testEpoch, rtcpPort, netip.MustParseAddrPort("10.0.0.2:50001"), rtcp) {
		t.Fatal("RTCP on port+1 not claimed")
	}
	// One '5' of 100 ms: start, updates, three end packets.
	var pk []rtpPkt
	for i, d := range []uint16{0, 320, 640, 800, 800, 800} {
		end := byte(0)
		if i >= 3 {
			end = 0x80
		}
		payload := []byte{5, end | 10, byte(d >> 8), byte(d)}
		pk = append(pk, packetize(t, payload, 101, 7, uint16(10+i), 16000, testEpoch.Add(time.Second+time.Duration(i)*20*time.Millisecond), callerAddr, agentAddr)...)
	}
	for _, p := range pk {
		r.Packet(p.at, p.src, p.dst, p.buf)
	}
	res, err := r.Close("d")
	if err != nil {
		t.Fatal(err)
	}
	if !res.Start.Equal(testEpoch.Add(time.Second)) { // RTCP does not start the recording
		t.Fatalf("start %v, want the first RTP packet's capture time", res.Start)
	}
	if res.RTCPPackets != 2 {
		t.Fatalf("rtcp %d", res.RTCPPackets)
	}
	if len(res.DTMF) != 1 || res.DTMF[0].Digit != "5" || res.DTMF[0].DurationMs != 100 || res.DTMF[0].AtMs != 0 || res.DTMF[0].Channel != reboundv1.Channel_CHANNEL_CALLER {
		t.Fatalf("dtmf %+v", res.DTMF)
	}
	if res.Recording.Ref != "" {
		t.Fatalf("DTMF-only call wrote audio %q", res.Recording.Ref)
	}
}

func TestRetention(t *testing.T) {
	now := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	var logs bytes.Buffer
	dir := t.TempDir()
	r, err := New(Config{Dir: dir, RetentionDays: 30, MaxTotalMB: 1}, slog.New(slog.NewTextHandler(&logs, nil)), func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	mk := func(name string, age time.Duration, size int) {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, make([]byte, size), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, now.Add(-age), now.Add(-age)); err != nil {
			t.Fatal(err)
		}
	}
	mk("old.wav", 31*24*time.Hour, 10)
	mk("a.wav", 3*24*time.Hour, 600_000)
	mk("b.wav", 2*24*time.Hour, 300_000)
	mk("c.wav", 1*24*time.Hour, 300_000)
	mk("notes.txt", 90*24*time.Hour, 10)
	deleted, err := r.Prune()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(deleted, ",") != "old.wav,a.wav" {
		t.Fatalf("deleted %v", deleted)
	}
	for _, keep := range []string{"b.wav", "c.wav", "notes.txt"} {
		if _, err := os.Stat(filepath.Join(dir, keep)); err != nil {
			t.Fatalf("%s deleted: %v", keep, err)
		}
	}
	if !strings.Contains(logs.String(), "file=old.wav reason=retention_days") || !strings.Contains(logs.String(), "file=a.wav reason=max_total_mb") {
		t.Fatalf("deletions not logged: %s", logs.String())
	}
}

func TestConfig(t *testing.T) {
	var c struct {
		Recordings Config `yaml:"recordings"`
	}
	src := "recordings:\n  dir: /var/lib/rebound/rec\n  retention_days: 90\n  max_total_mb: 5000\n  jitter_buffer: 300ms\n  silence_dbfs: -55\n"
	dec := yaml.NewDecoder(strings.NewReader(src))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		t.Fatal(err)
	}
	if err := c.Recordings.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.Recordings.JitterBuffer != 300*time.Millisecond || c.Recordings.RetentionDays != 90 {
		t.Fatalf("%+v", c.Recordings)
	}
	bad := Config{RetentionDays: -1, JitterBuffer: time.Millisecond, SilenceDBFS: 3, LossFlagPercent: 200}
	err := bad.Validate()
	for _, want := range []string{"dir is required", "retention_days", "jitter_buffer", "silence_dbfs", "loss_flag_percent"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("Validate() = %v, want mention of %q", err, want)
		}
	}
}

// TestSequenceRestart: a sender that restarts its sequence numbers mid-stream
// (same SSRC, timestamps continuing) loses nothing, and one stray packet with
// a wild sequence number does not reset the accounting.
func TestSequenceRestart(t *testing.T) {
	tone := ulaw(sine(600, 8000, 4*time.Second, 6000))
	pk := packetize(t, tone, 0, 5, 100, 1000, testEpoch, callerAddr, agentAddr)
	for i := 100; i < len(pk); i++ { // from packet 100 on, sequence restarts at 40000
		binary.BigEndian.PutUint16(pk[i].buf[2:], uint16(40000+i-100))
	}
	stray := append([]byte(nil), pk[50].buf...)
	binary.BigEndian.PutUint16(stray[2:], 9999)
	r := newTestRecorder(t, nil)
	r.Media("s", g711Endpoints()...)
	for i, p := range pk {
		r.Packet(p.at, p.src, p.dst, p.buf)
		if i == 60 {
			r.Packet(p.at, p.src, p.dst, stray)
		}
	}
	res, err := r.Close("s")
	if err != nil {
		t.Fatal(err)
	}
	st := res.Recording.Streams[0]
	if st.Lost != 0 || st.Packets != uint64(len(pk))+1 {
		t.Fatalf("stats %+v", st)
	}
	_, left, _ := readWAV(t, recPath(r, res))
	if s := snrDB(decodeRef(tone), left); s < 40 {
		t.Fatalf("SNR %.1f dB across the restart", s)
	}
}

func TestShutdownFinalisesOpenCalls(t *testing.T) {
	r := newTestRecorder(t, nil)
	tone := ulaw(sine(300, 8000, time.Second, 6000))
	for i, cid := range []string{"a/b", "a?b", "../x"} {
		// The first two sanitise to the same name: both must get a file.
		ca := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 3, 0, byte(i)}), 4000)
		r.Media(cid, Endpoint{Channel: reboundv1.Channel_CHANNEL_CALLER, Addr: ca})
		for _, p := range packetize(t, tone, 0, 1, 1, 1, testEpoch, ca, agentAddr) {
			r.Packet(p.at, p.src, p.dst, p.buf)
		}
	}
	out, err := r.Shutdown(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for id, res := range out {
		ref := res.Recording.GetRef()
		if ref == "" || strings.ContainsAny(ref, "/\\") || strings.HasPrefix(ref, ".") || seen[ref] {
			t.Fatalf("%s: bad or duplicate ref %q", id, ref)
		}
		seen[ref] = true
	}
	if len(seen) != 3 || r.OpenCalls() != 0 {
		t.Fatalf("refs %v open %d", seen, r.OpenCalls())
	}
}

// TestCaptureClockJump: a capture timestamp years ahead must neither
// overflow nor fill the file with silence.
func TestCaptureClockJump(t *testing.T) {
	r := newTestRecorder(t, nil)
	r.Media("j", g711Endpoints()...)
	pk := packetize(t, ulaw(sine(400, 8000, time.Second, 6000)), 0, 1, 1, 1, testEpoch, callerAddr, agentAddr)
	for i, p := range pk {
		if i == 25 {
			p.at = p.at.Add(20 * 365 * 24 * time.Hour)
		}
		r.Packet(p.at, p.src, p.dst, p.buf)
	}
	res, err := r.Close("j")
	if err != nil {
		t.Fatal(err)
	}
	if res.Recording.DurationMs > 1100 || res.Recording.SizeBytes > 44+8000*4*2 {
		t.Fatalf("recording %+v", res.Recording)
	}
}

// TestParkedForHours: both sides silent for three hours (no RTP), then they
// talk again. The file leaves the hours out (one second of silence) instead
// of writing them, both channels stay aligned, and the record says so.
func TestParkedForHours(t *testing.T) {
	r := newTestRecorder(t, nil)
	r.Media("p", g711Endpoints()...)
	tone := ulaw(sine(400, 8000, 2*time.Second, 6000))
	later := testEpoch.Add(3 * time.Hour)
	var pk []rtpPkt
	pk = append(pk, packetize(t, tone, 0, 1, 1, 1, testEpoch, callerAddr, agentAddr)...)
	pk = append(pk, packetize(t, tone, 0, 2, 1, 1, testEpoch, agentAddr, callerAddr)...)
	pk = append(pk, packetize(t, tone, 0, 1, 101, 1+16000, later, callerAddr, agentAddr)...)
	pk = append(pk, packetize(t, tone, 0, 2, 101, 1+16000, later, agentAddr, callerAddr)...)
	slices.SortStableFunc(pk, func(a, b rtpPkt) int { return a.at.Compare(b.at) })
	for _, p := range pk {
		r.Packet(p.at, p.src, p.dst, p.buf)
	}
	res, err := r.Close("p")
	if err != nil {
		t.Fatal(err)
	}
	_, left, right := readWAV(t, recPath(r, res))
	if len(left) > 10*8000 {
		t.Fatalf("%d s of audio written for 4 s of speech", len(left)/8000)
	}
	// Before the park, and from half a second after the leap (the packets
	// that confirm it are dropped), the two identical tones line up exactly.
	for i := range left {
		if (i < 16000 || i >= 24000+4000) && left[i] != right[i] {
			t.Fatalf("channels diverge at %d", i)
		}
	}
	if len(left) < 24000+8000 || left[24000+6000] == 0 && left[24000+6001] == 0 {
		t.Fatalf("no audio after the leap (%d frames)", len(left))
	}
	if !strings.Contains(strings.Join(res.Notes, ";"), "left out of the file") {
		t.Fatalf("notes %v", res.Notes)
	}
}
