package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.etcd.io/bbolt"
	"gopkg.in/yaml.v3"

	"github.com/reboundhq/rebound/agent"
	"github.com/reboundhq/rebound/agent/samples"
	"github.com/reboundhq/rebound/hub"
	"github.com/reboundhq/rebound/hub/state"
	reboundv1 "github.com/reboundhq/rebound/proto/rebound/v1"
)

// TestAgentDeliversPcapCallsToHub runs `rebound agent` on a pcap of the
// bundled sample calls against a real single-node hub and checks that every
// sample call arrives in the hub's state under the agent's site.
func TestAgentDeliversPcapCallsToHub(t *testing.T) {
	s := newSiteHub(t)
	cfg := s.agentConfig(t)
	want := len(samples.Calls())
	got := s.runAgent(t, cfg, func(got []state.Call) bool { return len(got) >= want })
	if len(got) != want {
		t.Fatalf("hub has %d calls from the site, want %d", len(got), want)
	}
	for _, c := range got {
		if c.TenantID != s.tenant {
			t.Fatalf("call %s in tenant %q", c.ID, c.TenantID)
		}
	}
}

// siteHub is a real single-node hub with one tenant and one site, and a pcap
// of the bundled sample calls for an agent of that site to read.
type siteHub struct {
	h                   *testHub
	dir, tenant, site   string
	tokenFile, pcapFile string
}

func newSiteHub(t *testing.T) *siteHub {
	t.Helper()
	dir := t.TempDir()
	h := &testHub{mu: &sync.Mutex{}, firsts: map[string]int{}, cfg: hub.Config{
		DataDir: filepath.Join(dir, "hub"), NodeID: "h1", HTTPAddr: freeAddr(t), GRPCAddr: freeAddr(t), RaftAddr: freeAddr(t),
	}}
	startHub(t, h)
	t.Cleanup(h.stop)
	ctx := context.Background()
	outs, err := h.srv.Node.Apply(ctx, &reboundv1.Command{Version: 1, Type: state.CmdTenantCreate, Actor: "system", Body: []byte(`{"name":"Rebound Plumbing"}`)})
	if err != nil || outs[0].GetError() != "" {
		t.Fatalf("tenant: %v %v", err, outs)
	}
	var obj struct {
		ID string `json:"id"`
	}
	_ = json.Unmarshal(outs[0].GetResult(), &obj)
	tenant := obj.ID
	token := "pcap-site-token-0123456789abcdef0123"
	body, _ := json.Marshal(state.SiteBody{Name: "Shop", TokenHash: state.HashToken(token)})
	outs, err = h.srv.Node.Apply(ctx, &reboundv1.Command{Version: 1, Type: state.CmdSiteCreate, TenantId: tenant, Actor: "system", Body: body})
	if err != nil || outs[0].GetError() != "" {
		t.Fatalf("site: %v %v", err, outs)
	}
	_ = json.Unmarshal(outs[0].GetResult(), &obj)

	var pcap bytes.Buffer
	if _, err := samples.Replay(&pcap, time.Date(2026, 11, 20, 14, 0, 0, 0, time.UTC), 5*time.Second); err != nil {
		t.Fatal(err)
	}
	s := &siteHub{h: h, dir: dir, tenant: tenant, site: obj.ID,
		pcapFile: filepath.Join(dir, "calls.pcap"), tokenFile: filepath.Join(dir, "token")}
	if err := os.WriteFile(s.pcapFile, pcap.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(s.tokenFile, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return s
}

// agentConfig is an agent of the site reading the sample pcap.
func (s *siteHub) agentConfig(t *testing.T) agent.Config {
	cfg := agent.Defaults()
	cfg.SiteID = s.site
	cfg.DataDir = filepath.Join(s.dir, "agent")
	cfg.HTTPAddr = freeAddr(t)
	cfg.Hub = agent.HubConfig{Addresses: []string{s.h.cfg.GRPCAddr}, TokenFile: s.tokenFile, TLS: agent.TLSConfig{Insecure: true}}
	cfg.Capture.Pcap = []string{s.pcapFile}
	cfg.Calls = samples.SampleSite().CallsConfig()
	return cfg
}

// startAgent runs `rebound agent` with cfg until the returned stop is
// called; stop fails the test if the agent did not exit cleanly.
func (s *siteHub) startAgent(t *testing.T, cfg agent.Config) (stop func()) {
	t.Helper()
	y, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cfgFile := filepath.Join(s.dir, "agent.yaml")
	if err := os.WriteFile(cfgFile, y, 0o600); err != nil {
		t.Fatal(err)
	}
	actx, cancel := context.WithCancel(context.Background())
	var out, errb bytes.Buffer
	exited := make(chan int, 1)
	go func() {
		exited <- run(actx, []string{"agent", "--config", cfgFile}, stdio{Stdout: &out, Stderr: &errb})
	}()
	return func() {
		cancel()
		if code := <-exited; code != 0 {
			t.Fatalf("agent exit %d: %s", code, errb.String())
		}
	}
}

// runAgent runs `rebound agent` with cfg until done holds for the site's
// calls in the hub, then stops it and returns those calls.
func (s *siteHub) runAgent(t *testing.T, cfg agent.Config, done func([]state.Call) bool) []state.Call {
	t.Helper()
	stop := s.startAgent(t, cfg)
	defer stop()
	ctx := context.Background()
	var got []state.Call
	waitUntil(t, "the site's calls in the hub", 60*time.Second, func() bool {
		got = got[:0]
		_ = s.h.srv.Node.View(ctx, false, func(tx *bbolt.Tx) error {
			page, err := state.ListCalls(tx, state.CallQuery{Tenant: s.tenant, Limit: 100})
			for _, c := range page.Items {
				if c.SiteID == s.site {
					got = append(got, c)
				}
			}
			return err
		})
		return done(got)
	})
	return got
}
