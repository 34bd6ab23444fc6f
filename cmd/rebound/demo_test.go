package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/reboundhq/rebound/agent/samples"
	"github.com/reboundhq/rebound/hub/state"
	"github.com/reboundhq/rebound/sip/siptest"
)

// TestDemo runs `rebound demo` for real: a single-node hub, a site agent
// replaying the bundled calls through the capture pipeline, CSRs classifying
// through the API. It then checks, as a CSR through the API, that the queues
// hold what the scripts intend, that recordings play, and that Ctrl-C stops
// everything and removes the temporary data.
func TestDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole demo (about a minute and a half); skipped under -short")
	}
	port := siptest.FreeTCPPort(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	pr, pw := io.Pipe()
	var stderr strings.Builder
	res := make(chan error, 1)
	go func() {
		res <- cmdDemo(ctx, []string{"--http-addr", fmt.Sprintf("127.0.0.1:%d", port), "--speed", "8"}, stdio{Stdout: pw, Stderr: &stderr})
		pw.Close()
	}()

	var out []string
	var base, dataDir string
	logins := map[string]string{}
	loginLine := regexp.MustCompile(`^\s+(admin|csr)\s+(\S+)\s+password (\S+)$`)
	sc := bufio.NewScanner(pr)
	ready := false
	for sc.Scan() {
		line := sc.Text()
		out = append(out, line)
		if m := regexp.MustCompile(`data in (\S+)$`).FindStringSubmatch(line); m != nil {
			dataDir = m[1]
		}
		if m := regexp.MustCompile(`Ready\. Open (\S+)/ and sign in`).FindStringSubmatch(line); m != nil {
			base = m[1]
		}
		if m := loginLine.FindStringSubmatch(line); m != nil {
			logins[m[2]] = m[3]
		}
		if strings.HasPrefix(line, "Press Ctrl-C") {
			ready = true
			break
		}
	}
	if !ready {
		t.Fatalf("demo did not get ready:\n%s\nstderr:\n%s\nerr: %v", strings.Join(out, "\n"), stderr.String(), <-res)
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	t.Logf("demo output:\n%s", strings.Join(out, "\n"))
	if base != fmt.Sprintf("http://127.0.0.1:%d", port) {
		t.Errorf("demo URL %q", base)
	}
	seed := samples.DemoSeed()
	for _, u := range seed.Users {
		if logins[u.Login] == "" {
			t.Errorf("no password printed for %s", u.Login)
		}
	}

	// A CSR signs in with the printed password and looks at the queues.
	sam := newAPIClient(base)
	if err := sam.login(ctx, "sam@reboundplumbing.example", logins["sam@reboundplumbing.example"]); err != nil {
		t.Fatal(err)
	}
	var leads struct {
		Items []struct {
			ID, Phone, CallID, Type, Reason, Notes string
		} `json:"items"`
	}
	if err := sam.do(ctx, http.MethodGet, "/api/v1/leads?tab=open", nil, &leads); err != nil {
		t.Fatal(err)
	}
	var abandoned struct {
		Items []struct{ ID, Phone string } `json:"items"`
	}
	if err := sam.do(ctx, http.MethodGet, "/api/v1/abandoned?tab=open", nil, &abandoned); err != nil {
		t.Fatal(err)
	}
	leadPhones, abPhones := map[string]string{}, map[string]bool{}
	for _, l := range leads.Items {
		leadPhones[l.Phone] = l.CallID
	}
	for _, a := range abandoned.Items {
		abPhones[a.Phone] = true
	}
	for _, c := range samples.Calls() {
		p := state.NormalizePhone(c.CallerNumber)
		if _, got := leadPhones[p]; got != c.WantLead {
			t.Errorf("%s: lead in the Open tab %v, want %v", c.Name, got, c.WantLead)
		}
		if abPhones[p] != c.WantAbandoned {
			t.Errorf("%s: in Abandoned Calls %v, want %v", c.Name, abPhones[p], c.WantAbandoned)
		}
	}
	// Every lead's recording plays: the hub fetches it from the agent.
	for phone, callID := range leadPhones {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/api/v1/calls/"+url.PathEscape(callID)+"/recording", nil)
		req.Header.Set("Range", "bytes=0-11")
		resp, err := sam.hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		head, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusPartialContent || !strings.HasPrefix(string(head), "RIFF") || !strings.HasSuffix(string(head), "WAVE") {
			t.Errorf("recording of the lead from %s: %d %q", phone, resp.StatusCode, head)
		}
	}

	// Ctrl-C.
	cancel()
	if err := <-res; err != nil {
		t.Errorf("demo after Ctrl-C: %v\n%s", err, stderr.String())
	}
	if dataDir == "" {
		t.Error("demo did not say where its data is")
	} else if _, err := os.Stat(dataDir); !os.IsNotExist(err) {
		t.Errorf("temporary data %s still there after exit: %v", dataDir, err)
	}
}
