package dialer

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	reboundv1 "github.com/reboundhq/rebound/proto/rebound/v1"
	"github.com/reboundhq/rebound/sip/siptest"
)

// TestCallAgainstSipp plays the CSR's phone with sipp (as the PBX too: the
// dialer's outbound proxy is sipp's address) and checks each outcome, and
// that sipp's scenario passed (exit status 0).
func TestCallAgainstSipp(t *testing.T) {
	sippPath := siptest.Peer(t, "sipp")
	tests := []struct {
		scenario string
		want     Outcome
		ring     time.Duration
	}{
		{"uas_answer_refer.xml", OutcomeAnswered, 5 * time.Second},
		{"uas_busy.xml", OutcomeBusy, 5 * time.Second},
		{"uas_ring_cancel.xml", OutcomeNoAnswer, 1 * time.Second},
		{"uas_proxyauth_customer_busy.xml", OutcomeBusy, 5 * time.Second},
		{"uas_refer_then_bye.xml", OutcomeAnswered, 5 * time.Second},
		{"uas_answer_crosses_cancel.xml", OutcomeNoAnswer, 1 * time.Second},
		{"uas_refer_auth_then_bye.xml", OutcomeAnswered, 5 * time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.scenario, func(t *testing.T) {
			sippPort := siptest.FreeUDPPort(t)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			var out bytes.Buffer
			errFile := filepath.Join(t.TempDir(), "sipp_errors.log")
			cmd := exec.CommandContext(ctx, sippPath,
				"-sf", filepath.Join("testdata", tc.scenario),
				"-i", "127.0.0.1", "-p", strconv.Itoa(sippPort), "-mi", "127.0.0.1",
				"-m", "1", "-timeout", "15s", "-timeout_error", "-nostdin",
				"-trace_err", "-error_file", errFile)
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := cmd.Start(); err != nil {
				t.Fatalf("start sipp: %v", err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()

			d, err := New(Config{
				Proxy:    fmt.Sprintf("127.0.0.1:%d", sippPort),
				Domain:   "rebound.test",
				Username: "csr-dialer", Password: "s3cret",
				Listen:          fmt.Sprintf("127.0.0.1:%d", siptest.FreeUDPPort(t)),
				TransferTimeout: 5 * time.Second,
			}, slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug})))
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			defer d.Close()

			got, callErr := d.Call(ctx, DialRequest{CSRExtension: "201", CustomerNumber: "+15557654321",
				CallerID: "5550100", CallerName: "Ac\"me\r\n", RingTimeout: tc.ring})
			if got != tc.want {
				t.Errorf("outcome = %v (err %v), want %v", got, callErr, tc.want)
			}
			if tc.want == OutcomeAnswered && callErr != nil {
				t.Errorf("answered with error: %v", callErr)
			}
			if tc.want != OutcomeAnswered && callErr == nil {
				t.Errorf("%v without an error explaining it", got)
			}
			if err := <-done; err != nil {
				t.Errorf("sipp scenario failed: %v\n%s", err, out.String())
			}
		})
	}
}

func TestParseSipfrag(t *testing.T) {
	for _, tc := range []struct {
		body string
		code int
		ok   bool
	}{
		{"SIP/2.0 200 OK\r\n", 200, true},
		{"SIP/2.0 486 Busy Here", 486, true},
		{"SIP/2.0 100 Trying\r\nContent-Length: 0\r\n", 100, true},
		{"", 0, false},
		{"HTTP/1.1 200 OK", 0, false},
		{"SIP/2.0 abc", 0, false},
		{"SIP/2.0 999 Nope", 0, false},
	} {
		code, ok := ParseSipfrag([]byte(tc.body))
		if code != tc.code || ok != tc.ok {
			t.Errorf("ParseSipfrag(%q) = %d, %v; want %d, %v", tc.body, code, ok, tc.code, tc.ok)
		}
	}
}

func TestSipfragOutcome(t *testing.T) {
	for code, want := range map[int]Outcome{200: OutcomeAnswered, 486: OutcomeBusy, 603: OutcomeBusy,
		480: OutcomeNoAnswer, 408: OutcomeNoAnswer, 404: OutcomeFailed, 503: OutcomeFailed} {
		if got, _ := sipfragOutcome(code, "x"); got != want {
			t.Errorf("sipfragOutcome(%d) = %v, want %v", code, got, want)
		}
	}
}

func TestValidate(t *testing.T) {
	ok := Config{Proxy: "10.0.0.5:5060", Listen: "10.0.0.9:5070", Username: "u", Password: "p"}
	if err := ok.Validate(); err != nil {
		t.Fatalf("valid config: %v", err)
	}
	for name, mut := range map[string]func(*Config){
		"proxy":         func(c *Config) { c.Proxy = "pbx" },
		"listen any":    func(c *Config) { c.Listen = "0.0.0.0:5070" },
		"listen port":   func(c *Config) { c.Listen = "10.0.0.9:0" },
		"two passwords": func(c *Config) { c.PasswordFile = "/x" },
		"no username":   func(c *Config) { c.Username = "" },
		"negative":      func(c *Config) { c.RingTimeout = -1 },
	} {
		c := ok
		mut(&c)
		if err := c.Validate(); err == nil {
			t.Errorf("%s: invalid config accepted", name)
		}
	}
}

func TestCallRejectsBadNumbers(t *testing.T) {
	d, err := New(Config{Proxy: "127.0.0.1:9", Listen: fmt.Sprintf("127.0.0.1:%d", siptest.FreeUDPPort(t))}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	for _, r := range []DialRequest{
		{CSRExtension: "201>", CustomerNumber: "1", CallerID: "1"},
		{CSRExtension: "201", CustomerNumber: "1@evil.example", CallerID: "1"},
		{CSRExtension: "201", CustomerNumber: "1", CallerID: "1\r\nX: y"},
		{CSRExtension: "", CustomerNumber: "1"},
	} {
		if o, err := d.Call(context.Background(), r); o != OutcomeFailed || err == nil {
			t.Errorf("Call(%+v) = %v, %v; want failed with error", r, o, err)
		}
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(bytes.TrimRight(p, "\n")))
	return len(p), nil
}

// The agent converts Outcome to the proto enum by number.
func TestOutcomeMatchesProto(t *testing.T) {
	for o, want := range map[Outcome]reboundv1.CommandResult_DialOutcome{
		OutcomeUnspecified: reboundv1.CommandResult_DIAL_OUTCOME_UNSPECIFIED,
		OutcomeAnswered:    reboundv1.CommandResult_DIAL_OUTCOME_ANSWERED,
		OutcomeBusy:        reboundv1.CommandResult_DIAL_OUTCOME_BUSY,
		OutcomeNoAnswer:    reboundv1.CommandResult_DIAL_OUTCOME_NO_ANSWER,
		OutcomeFailed:      reboundv1.CommandResult_DIAL_OUTCOME_FAILED,
	} {
		if reboundv1.CommandResult_DialOutcome(o) != want {
			t.Errorf("%v = %d, proto %v = %d", o, o, want, want)
		}
	}
}
