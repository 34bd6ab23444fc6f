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
	dir := t.TempDir()
	h := &testHub{mu: &sync.Mutex{}, firsts: map[string]int{}, cfg: hub.Config{
		DataDir: filepath.Join(dir, "hub"), NodeID: "h1", HTTPAddr: freeAddr(t), GRPCAddr: freeAddr(t), RaftAddr: freeAddr(t),
	}}
	startHub(t, h)
	defer h.stop()
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
	site := obj.ID

	var pcap bytes.Buffer
	if _, err := samples.Replay(&pcap, time.Date(2026, 11, 20, 14, 0, 0, 0, time.UTC), 5*time.Second); err != nil {
		t.Fatal(err)
	}
	pcapFile := filepath.Join(dir, "calls.pcap")
	tokenFile := filepath.Join(dir, "token")
	if err := os.WriteFile(pcapFile, pcap.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(tokenFile, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := agent.Defaults()
	cfg.SiteID = site
	cfg.DataDir = filepath.Join(dir, "agent")
	cfg.HTTPAddr = freeAddr(t)
	cfg.Hub = agent.HubConfig{Addresses: []string{h.cfg.GRPCAddr}, TokenFile: tokenFile, TLS: agent.TLSConfig{Insecure: true}}
	cfg.Capture.Pcap = []string{pcapFile}
	cfg.Calls = samples.SampleSite().CallsConfig()
	y, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cfgFile := filepath.Join(dir, "agent.yaml")
	if err := os.WriteFile(cfgFile, y, 0o600); err != nil {
		t.Fatal(err)
	}

	actx, cancel := context.WithCancel(ctx)
	var out, errb bytes.Buffer
	done := make(chan int, 1)
	go func() { done <- run(actx, []string{"agent", "--config", cfgFile}, stdio{Stdout: &out, Stderr: &errb}) }()
	want := len(samples.Calls())
	var got []state.Call
	waitUntil(t, "every sample call in the hub", 60*time.Second, func() bool {
		select {
		case code := <-done:
			t.Fatalf("agent exited %d: %s", code, errb.String())
		default:
		}
		got = got[:0]
		_ = h.srv.Node.View(ctx, false, func(tx *bbolt.Tx) error {
			page, err := state.ListCalls(tx, state.CallQuery{Tenant: tenant, Limit: 100})
			for _, c := range page.Items {
				if c.SiteID == site {
					got = append(got, c)
				}
			}
			return err
		})
		return len(got) >= want
	})
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("agent exit %d: %s", code, errb.String())
	}
	if len(got) != want {
		t.Fatalf("hub has %d calls from the site, want %d", len(got), want)
	}
	for _, c := range got {
		if c.TenantID != tenant {
			t.Fatalf("call %s in tenant %q", c.ID, c.TenantID)
		}
	}
}
