package main

import (
	"bytes"
	"context"
	"github.com/reboundhq/rebound/sip/siptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"

	reboundv1 "github.com/reboundhq/rebound/proto/rebound/v1"
)

func runCapture(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), append([]string{"capture"}, args...), stdio{Stdout: &out, Stderr: &errb})
	return code, out.String(), errb.String()
}

func TestCaptureUnreadable(t *testing.T) {
	dir := t.TempDir()
	text := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(text, []byte("this is not a capture\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ path, want string }{
		{filepath.Join(dir, "missing.pcap"), "cannot read"},
		{text, "notes.txt"},
		{dir, "capture"},
	} {
		code, out, errs := runCapture(t, "--pcap", tc.path)
		if code == 0 || out != "" {
			t.Errorf("%s: exit %d, stdout %q", tc.path, code, out)
		}
		if strings.Count(strings.TrimSpace(errs), "\n") != 0 || !strings.Contains(errs, tc.want) {
			t.Errorf("%s: stderr %q, want one line with %q", tc.path, errs, tc.want)
		}
	}
	if code, _, _ := runCapture(t); code == 0 {
		t.Error("missing --pcap accepted")
	}
}

func sharedPcap(t *testing.T, name string) string {
	t.Helper()
	return filepath.Join(siptest.SharedTestdata(t), "pcap", name)
}

func TestCapturePrintsRecords(t *testing.T) {
	pcap := sharedPcap(t, "sngrep/aaa.pcap")
	dir := t.TempDir()
	cfg := filepath.Join(dir, "agent.yaml")
	if err := os.WriteFile(cfg, []byte("site_id: plant-3\nuplink:\n  hub: hub.example.com:7443\ncalls:\n  outcomes:\n    short_abandon_seconds: 0\n  direction:\n    trunk_peers: [212.242.33.35, 200.68.120.81]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errs := runCapture(t, "--pcap", pcap, "--config", cfg)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 7 {
		t.Fatalf("%d lines, want 7:\n%s", len(lines), out)
	}
	abandons := 0
	for _, l := range lines {
		var r reboundv1.CallRecord
		if err := protojson.Unmarshal([]byte(l), &r); err != nil {
			t.Fatalf("line is not a CallRecord: %v\n%s", err, l)
		}
		if r.SiteId != "plant-3" || r.Direction != reboundv1.Direction_DIRECTION_OUTBOUND {
			t.Errorf("site %q direction %v", r.SiteId, r.Direction)
		}
		for _, d := range r.DefaultsUsed {
			if d == "outcomes" || d == "direction" {
				t.Errorf("configured section %s reported as default", d)
			}
		}
		if r.Outcome == reboundv1.Outcome_OUTCOME_ABANDONED {
			abandons++
		}
	}
	// Calls to the trunk are outbound: the business placing calls is never
	// an abandoned inbound call.
	if abandons != 0 {
		t.Errorf("abandons = %d for outbound calls", abandons)
	}

	// A second run gives the same ids.
	_, out2, _ := runCapture(t, "--pcap", pcap, "--config", cfg)
	var a, b reboundv1.CallRecord
	_ = protojson.Unmarshal([]byte(lines[0]), &a)
	_ = protojson.Unmarshal([]byte(strings.SplitN(out2, "\n", 2)[0]), &b)
	if a.RecordId != b.RecordId || a.CallId == "" {
		t.Errorf("ids differ between runs: %s vs %s", a.RecordId, b.RecordId)
	}

	bad := filepath.Join(dir, "bad.yaml")
	_ = os.WriteFile(bad, []byte("calls:\n  direction:\n    trunk_peers: [nope]\n"), 0o644)
	if code, _, errs := runCapture(t, "--pcap", pcap, "--config", bad); code == 0 || !strings.Contains(errs, "trunk_peers") {
		t.Errorf("bad config: exit %d %q", code, errs)
	}
	typo := filepath.Join(dir, "typo.yaml")
	_ = os.WriteFile(typo, []byte("calls:\n  outcome:\n    short_abandon_seconds: 3\n"), 0o644)
	if code, _, errs := runCapture(t, "--pcap", pcap, "--config", typo); code == 0 || !strings.Contains(errs, `unknown key "outcome"`) {
		t.Errorf("typo in calls: exit %d %q", code, errs)
	}
}

func TestCaptureRecordings(t *testing.T) {
	pcap := sharedPcap(t, "heplify/rtp_rtcp_sip_ipv4_udp.pcap")
	dir := t.TempDir()
	code, out, errs := runCapture(t, "--pcap", pcap, "--recordings", dir, "--site-id", "s9")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	found := false
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var r reboundv1.CallRecord
		if err := protojson.Unmarshal([]byte(l), &r); err != nil {
			t.Fatal(err)
		}
		if ref := r.GetRecording().GetRef(); ref != "" {
			if _, err := os.Stat(filepath.Join(dir, ref)); err != nil {
				t.Errorf("recording %s not written: %v", ref, err)
			}
			found = true
		}
	}
	if !found {
		t.Errorf("no record carries a recording:\n%s", out)
	}
}
