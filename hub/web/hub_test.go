package web_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/reboundhq/rebound/hub"
	"github.com/reboundhq/rebound/hub/api"
	"github.com/reboundhq/rebound/sip/siptest"
)

// TestHubServesUIAndLiveEvents starts the real single-node hub (raft, state,
// API, UI) and checks the UI's wiring: pages with CSP at /, assets, and a
// settings change committed through raft reaching a signed-in browser
// stream via the node's OnApplied hook.
func TestHubServesUIAndLiveEvents(t *testing.T) {
	cfg := hub.Defaults()
	cfg.DataDir = t.TempDir()
	cfg.NodeID = "n1"
	cfg.HTTPAddr = "127.0.0.1:0"
	cfg.GRPCAddr = "127.0.0.1:0"
	cfg.RaftAddr = fmt.Sprintf("127.0.0.1:%d", siptest.FreeTCPPort(t))
	srv, err := hub.New(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	base := "http://" + srv.HTTPAddr()

	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("hub never became healthy")
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, p := range []string{"/login", "/scl", "/static/js/main.js", "/static/app.css"} {
		resp, err := http.Get(base + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s: %d", p, resp.StatusCode)
		}
		if !strings.HasPrefix(p, "/static/") {
			if !strings.Contains(resp.Header.Get("Content-Security-Policy"), "script-src 'self'") {
				t.Fatalf("%s without CSP", p)
			}
		}
	}
	anon, err := http.Get(base + "/events")
	if err != nil {
		t.Fatal(err)
	}
	anon.Body.Close()
	if anon.StatusCode != http.StatusUnauthorized {
		t.Fatalf("anonymous /events: %d", anon.StatusCode)
	}

	bctx, bcancel := context.WithTimeout(ctx, 30*time.Second)
	defer bcancel()
	br, err := api.Bootstrap(bctx, srv.Node, "Acme Plumbing", "root", "correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(base+"/api/v1/auth/login", "application/json", strings.NewReader(`{"username":"root","password":"correct horse battery"}`))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("login: %v %v", err, resp)
	}
	var me struct {
		CSRFToken string `json:"csrfToken"`
	}
	json.NewDecoder(resp.Body).Decode(&me)
	resp.Body.Close()
	var cookie string
	for _, c := range resp.Cookies() {
		if c.Name == api.CookieName {
			cookie = c.Name + "=" + c.Value
		}
	}
	req, _ := http.NewRequestWithContext(bctx, http.MethodGet, base+"/events", nil)
	req.Header.Set("Cookie", cookie)
	stream, err := http.DefaultClient.Do(req)
	if err != nil || stream.StatusCode != 200 {
		t.Fatalf("/events: %v %v", err, stream)
	}
	defer stream.Body.Close()
	// The stream is registered once its first bytes arrive.
	rd := bufio.NewReader(stream.Body)
	if _, err := rd.ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	put, _ := http.NewRequest(http.MethodPut, base+"/api/v1/tenants/"+br.TenantID+"/settings", strings.NewReader(`{"scl_enabled":true}`))
	put.Header.Set("Cookie", cookie)
	put.Header.Set("X-CSRF-Token", me.CSRFToken)
	put.Header.Set("Content-Type", "application/json")
	pr, err := http.DefaultClient.Do(put)
	if err != nil || pr.StatusCode != 200 {
		t.Fatalf("settings: %v %v", err, pr)
	}
	pr.Body.Close()
	for {
		line, err := rd.ReadString('\n')
		if err != nil {
			t.Fatalf("stream ended before the settings event: %v", err)
		}
		if strings.HasPrefix(line, "data: ") && strings.Contains(line, `"kind":"settings.update"`) {
			return
		}
	}
}
