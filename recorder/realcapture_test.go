package recorder

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pion/rtp"

	reboundv1 "github.com/reboundhq/rebound/proto/rebound/v1"
	"github.com/reboundhq/rebound/sip/siptest"
)

func hasFlag(res *Result, f reboundv1.HealthFlag) bool { return slices.Contains(res.Flags, f) }

// TestRealCaptureSpeechULaw decodes the clean 16.7 s G.711U speech capture
// and compares the recording with sox's own decoding of the same payloads.
func TestRealCaptureSpeechULaw(t *testing.T) {
	dgs := readUDP(t, filepath.Join(filepath.Join(siptest.SharedTestdata(t), "pcap"), "sipnab", "speech_8k_ulaw.pcap"))
	r := newTestRecorder(t, nil)
	// RTP only, no SIP: announce the sender as the caller.
	r.Media("speech", Endpoint{Channel: reboundv1.Channel_CHANNEL_CALLER, Addr: dgs[0].src, Payloads: map[uint8]Codec{0: {"PCMU", 8000}}})
	var ulawBytes []byte
	for _, d := range dgs {
		var p rtp.Packet
		if p.Unmarshal(d.payload) == nil {
			ulawBytes = append(ulawBytes, p.Payload...)
		}
	}
	if n := replay(t, r, "speech", dgs); n != len(dgs) {
		t.Fatalf("claimed %d of %d datagrams", n, len(dgs))
	}
	res, err := r.Close("speech")
	if err != nil {
		t.Fatal(err)
	}
	st := res.Recording.Streams
	if len(st) != 1 || st[0].Packets != 835 || st[0].Lost != 0 || st[0].Codec != "PCMU" || st[0].Channel != reboundv1.Channel_CHANNEL_CALLER {
		t.Fatalf("streams %+v", st)
	}
	if !hasFlag(res, reboundv1.HealthFlag_HEALTH_FLAG_ONE_WAY_AUDIO) || hasFlag(res, reboundv1.HealthFlag_HEALTH_FLAG_SILENT_CHANNEL) {
		t.Fatalf("flags %v", res.Flags)
	}
	// 835 packets of 20 ms = 16.70 s.
	if d := res.Recording.DurationMs - 16700; d < -20 || d > 20 {
		t.Fatalf("duration %d ms, want 16700 +- 20", res.Recording.DurationMs)
	}
	sox := siptest.Peer(t, "sox")
	dir := t.TempDir()
	ul := filepath.Join(dir, "p.ul")
	if err := os.WriteFile(ul, ulawBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	raw := filepath.Join(dir, "p.raw")
	if out, err := exec.Command(sox, "-t", "ul", "-r", "8000", "-c", "1", ul, "-e", "signed", "-b", "16", "-t", "raw", raw).CombinedOutput(); err != nil {
		t.Fatalf("sox: %v %s", err, out)
	}
	ref := readRawFile(t, raw)
	_, left, right := readWAV(t, recPath(r, res))
	if s := snrDB(ref, left); s < 40 {
		t.Fatalf("SNR vs sox decoding %.1f dB, want >= 40", s)
	}
	for i, v := range right {
		if v != 0 {
			t.Fatalf("agent channel sample %d = %d in a one-way capture", i, v)
		}
	}
}

func TestRealCaptures(t *testing.T) {
	dir := filepath.Join(siptest.SharedTestdata(t), "pcap")
	opus := map[uint8]Codec{107: {"opus", 48000}}
	cases := []struct {
		file  string
		media []Endpoint // for RTP-only captures: who sends
		check func(t *testing.T, r *Recorder, res *Result)
	}{
		{file: "sipnab/SIP_DTMF2.cap", check: func(t *testing.T, r *Recorder, res *Result) {
			var lost uint64
			for _, s := range res.Recording.Streams {
				lost += s.Lost
			}
			if lost != 2 {
				t.Fatalf("lost %d, want the 2 real losses; streams %+v", lost, res.Recording.Streams)
			}
			var digits strings.Builder
			for _, e := range res.DTMF {
				digits.WriteString(e.Digit)
				if e.DurationMs != 120 {
					t.Errorf("digit %s lasts %d ms, want 120", e.Digit, e.DurationMs)
				}
			}
			if digits.String() != "6789123" {
				t.Fatalf("DTMF %q, want 6789123", digits.String())
			}
			if hasFlag(res, reboundv1.HealthFlag_HEALTH_FLAG_PACKET_LOSS) {
				t.Fatalf("0.3%% loss flagged at the 1%% threshold")
			}
			if res.Recording.Ref == "" || res.Recording.Codec != "PCMA" {
				t.Fatalf("recording %+v", res.Recording)
			}
		}},
		{file: "heplify/rtp_rtcp_sip_ipv4_udp.pcap", check: func(t *testing.T, r *Recorder, res *Result) {
			// Two-way G.711A with RTCP on port+1; the capture ends mid-call.
			if res.RTCPPackets == 0 || res.Recording.Codec != "PCMA" || len(res.Flags) != 0 {
				t.Fatalf("rtcp %d codec %q flags %v notes %v", res.RTCPPackets, res.Recording.Codec, res.Flags, res.Notes)
			}
			for _, s := range res.Recording.Streams {
				if s.Lost != 0 || s.Duplicated != 0 {
					t.Fatalf("stream %+v", s)
				}
			}
			if d := res.Recording.DurationMs; d < 26000 || d > 26600 {
				t.Fatalf("duration %d ms, want about 26.4 s", d)
			}
		}},
		{file: "sipnab/rtp-protocol.pcap", check: func(t *testing.T, r *Recorder, res *Result) {
			// G.711A with comfort noise (PT 13): CN is silence, not an unsupported codec.
			if res.Recording.Codec != "PCMA" || len(res.Flags) != 0 || res.Recording.Ref == "" {
				t.Fatalf("recording %+v flags %v notes %v", res.Recording, res.Flags, res.Notes)
			}
		}},
		{file: "sipnab/codec-negotiation.pcap", check: func(t *testing.T, r *Recorder, res *Result) {
			// The capture starts in PCMU and the re-INVITE moves to G.722.
			if res.Recording.Codec != "PCMU,G722" || res.Recording.SampleRate != 8000 {
				t.Fatalf("recording %+v", res.Recording)
			}
			if len(res.Flags) != 0 {
				t.Fatalf("flags %v notes %v", res.Flags, res.Notes)
			}
			if d := res.Recording.DurationMs; d < 5980 || d > 6040 {
				t.Fatalf("duration %d ms, want about 6000", d)
			}
		}},
		{file: "sipnab/Asterisk_ZFONE_XLITE.pcap", check: func(t *testing.T, r *Recorder, res *Result) {
			if !hasFlag(res, reboundv1.HealthFlag_HEALTH_FLAG_ENCRYPTED_MEDIA) {
				t.Fatalf("ZRTP call not flagged: %v", res.Flags)
			}
		}},
		{file: "asterisk-testsuite/16_bit_48khz_60_fec_dropped.pcapng", media: []Endpoint{{Channel: reboundv1.Channel_CHANNEL_CALLER, Payloads: opus}}, check: func(t *testing.T, r *Recorder, res *Result) {
			if !hasFlag(res, reboundv1.HealthFlag_HEALTH_FLAG_UNSUPPORTED_CODEC) || res.Recording.Codec != "opus" || res.Recording.Ref != "" {
				t.Fatalf("flags %v recording %+v", res.Flags, res.Recording)
			}
			if s := res.Recording.Streams[0]; s.Lost != 29 || s.Packets != 2971 {
				t.Fatalf("stream %+v, want 2971 packets and 29 lost", s)
			}
		}},
		{file: "asterisk-testsuite/16_bit_48khz_60_fec_rtp.pcapng", media: []Endpoint{{Channel: reboundv1.Channel_CHANNEL_CALLER, Payloads: opus}}, check: func(t *testing.T, r *Recorder, res *Result) {
			if s := res.Recording.Streams[0]; s.Lost != 0 || s.Packets != 3000 {
				t.Fatalf("stream %+v", s)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(filepath.Base(tc.file), func(t *testing.T) {
			dgs := readUDP(t, filepath.Join(dir, tc.file))
			r := newTestRecorder(t, nil)
			for _, ep := range tc.media {
				ep.Addr = dgs[0].src
				r.Media("c", ep)
			}
			if replay(t, r, "c", dgs) == 0 {
				t.Fatal("no datagram matched the call")
			}
			res, err := r.Close("c")
			if err != nil {
				t.Fatal(err)
			}
			if res.Recording == nil {
				t.Fatalf("no recording: %+v", res)
			}
			t.Logf("codec=%s rate=%d dur=%dms flags=%v notes=%v dtmf=%d", res.Recording.Codec, res.Recording.SampleRate, res.Recording.DurationMs, res.Flags, res.Notes, len(res.DTMF))
			for _, s := range res.Recording.Streams {
				t.Logf("  stream %+v", s)
			}
			tc.check(t, r, res)
		})
	}
}

// TestRealCaptureG722 decodes the 53 s dual-channel G.722 SIPREC capture. No
// independent G.722 decoder runs here, so the check is what a broken decoder
// cannot fake: 16 kHz output that is speech-like (strong sample-to-sample
// correlation, as real speech has and decoding garbage has not), unclipped,
// on both channels, for the whole length of the streams.
func TestRealCaptureG722(t *testing.T) {
	dgs := readUDP(t, filepath.Join(filepath.Join(siptest.SharedTestdata(t), "pcap"), "miarec-sipp-siprec", "siprec_dual_channel_udp.pcap"))
	g722 := map[uint8]Codec{9: {"G722", 8000}}
	caller, agent := reboundv1.Channel_CHANNEL_CALLER, reboundv1.Channel_CHANNEL_AGENT
	// The SIPREC offer was lost to IP fragmentation in this capture. Its
	// sendonly m-lines named the client's two ports; the recorder's answer
	// named the two receive ports. Either registration must give the same file.
	var sums []string
	var res *Result
	var r *Recorder
	for _, eps := range [][]Endpoint{
		{{Channel: caller, Addr: netipMust("192.168.86.48:58596"), Payloads: g722}, {Channel: agent, Addr: netipMust("192.168.86.48:58594"), Payloads: g722}},
		{{Channel: caller, Addr: netipMust("18.220.121.163:22716"), Payloads: g722, Receives: true}, {Channel: agent, Addr: netipMust("18.220.121.163:23832"), Payloads: g722, Receives: true}},
	} {
		r = newTestRecorder(t, nil)
		r.Media("srs", eps...)
		replay(t, r, "srs", dgs)
		var err error
		if res, err = r.Close("srs"); err != nil {
			t.Fatal(err)
		}
		sums = append(sums, res.Recording.Sha256)
	}
	if sums[0] != sums[1] {
		t.Fatalf("client-port and recorder-port registrations differ: %v", sums)
	}
	if res.Recording.SampleRate != 16000 || res.Recording.Codec != "G722" || len(res.Flags) != 0 {
		t.Fatalf("recording %+v flags %v notes %v", res.Recording, res.Flags, res.Notes)
	}
	if d := res.Recording.DurationMs; d < 53200 || d > 53600 {
		t.Fatalf("duration %d ms, want about 53400", d)
	}
	_, left, right := readWAV(t, recPath(r, res))
	for name, ch := range map[string][]int16{"caller": left, "agent": right} {
		var e, r1 float64
		clipped, active := 0, 0
		for i := 1; i < len(ch); i++ {
			x, p := float64(ch[i]), float64(ch[i-1])
			e += x * x
			r1 += x * p
			if ch[i] == 32767 || ch[i] == -32768 {
				clipped++
			}
			if ch[i] > 300 || ch[i] < -300 {
				active++
			}
		}
		corr := r1 / e
		t.Logf("%s: lag-1 correlation %.3f, clipped %d, active %.1f%%", name, corr, clipped, 100*float64(active)/float64(len(ch)))
		if corr < 0.6 || clipped > len(ch)/1000 || active < len(ch)/1000 {
			t.Fatalf("%s channel does not look like decoded speech: corr %.3f clipped %d active %d", name, corr, clipped, active)
		}
	}
}
