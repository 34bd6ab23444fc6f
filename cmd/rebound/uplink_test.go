package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/reboundhq/rebound/agent/outbox"
	"github.com/reboundhq/rebound/hub"
	"github.com/reboundhq/rebound/hub/state"
	reboundv1 "github.com/reboundhq/rebound/proto/rebound/v1"
)

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// testHub is a real single-node hub whose records are tallied by hook.
type testHub struct {
	cfg    hub.Config
	srv    *hub.Server
	cancel context.CancelFunc
	done   chan error
	mu     *sync.Mutex
	firsts map[string]int // record id -> non-duplicate applications
}

func startHub(t *testing.T, h *testHub) {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	var srv *hub.Server
	var err error
	deadline := time.Now().Add(10 * time.Second)
	for {
		srv, err = hub.New(h.cfg, log)
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond) // ports of the previous incarnation
	}
	if err != nil {
		t.Fatal(err)
	}
	srv.Node.OnApplied(func(idx uint64, cmds []*reboundv1.Command, outs []*reboundv1.CommandOutcome) {
		for i, c := range cmds {
			if c.GetType() != state.CmdCallIngest || outs[i].GetError() != "" {
				continue
			}
			var r struct {
				Duplicate bool `json:"duplicate"`
			}
			_ = json.Unmarshal(outs[i].GetResult(), &r)
			if !r.Duplicate {
				var rec reboundv1.CallRecord
				_ = protoUnmarshal(c.GetBody(), &rec)
				h.mu.Lock()
				h.firsts[rec.GetRecordId()]++
				if os.Getenv("UPLINK_DEBUG") != "" {
					fmt.Fprintf(os.Stderr, "node %s index %d cmd %d first %s\n", h.cfg.NodeID, idx, i, rec.GetRecordId())
				}
				h.mu.Unlock()
			}
		}
	})
	if os.Getenv("UPLINK_DEBUG") != "" {
		fmt.Fprintf(os.Stderr, "hub started, applied %d\n", srv.Node.AppliedIndex())
	}
	ctx, cancel := context.WithCancel(context.Background())
	h.srv, h.cancel, h.done = srv, cancel, make(chan error, 1)
	go func() { h.done <- srv.Run(ctx) }()
	waitUntil(t, "hub leader", 15*time.Second, func() bool { return srv.Node.IsLeader() })
}

func (h *testHub) stop() {
	if h.cancel != nil {
		h.cancel()
		<-h.done
		h.cancel = nil
	}
}

func waitUntil(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func testRecord(i int) *reboundv1.CallRecord {
	return &reboundv1.CallRecord{
		RecordId: fmt.Sprintf("rec-%04d", i), CallId: fmt.Sprintf("call-%04d", i), Revision: 1,
		Direction: reboundv1.Direction_DIRECTION_INBOUND, Outcome: reboundv1.Outcome_OUTCOME_ABANDONED,
		CallerNumber: fmt.Sprintf("+1555%07d", i), StartedAt: timestamppb.New(time.Unix(1760000000+int64(i), 0)),
		EndedAt: timestamppb.New(time.Unix(1760000010+int64(i), 0)),
	}
}

// TestUplinkExactlyOnceAcrossAgentKillAndHubOutage drives a real hub and a
// real outbox uplink over gRPC: the agent is killed mid-stream (outbox
// closed and reopened), the hub goes down and comes back on the same data,
// and every record must end up committed exactly once.
func TestUplinkExactlyOnceAcrossAgentKillAndHubOutage(t *testing.T) {
	n := 200
	if testing.Short() {
		n = 60
	}
	dir := t.TempDir()
	h := &testHub{mu: &sync.Mutex{}, firsts: map[string]int{}, cfg: hub.Config{
		DataDir: filepath.Join(dir, "hub"), NodeID: "h1", HTTPAddr: freeAddr(t), GRPCAddr: freeAddr(t), RaftAddr: freeAddr(t),
		Log: hub.LogConfig{Format: "text"},
	}}
	startHub(t, h)
	defer h.stop()

	// A tenant and a site with a token, created the way an admin would.
	ctx := context.Background()
	outs, err := h.srv.Node.Apply(ctx, &reboundv1.Command{Version: 1, Type: state.CmdTenantCreate, Actor: "system", Body: []byte(`{"name":"Acme"}`)})
	if err != nil || outs[0].GetError() != "" {
		t.Fatalf("tenant: %v %v", err, outs)
	}
	var tenant struct {
		ID string `json:"id"`
	}
	_ = json.Unmarshal(outs[0].GetResult(), &tenant)
	token := "site-token-for-tests-0123456789abcdef"
	body, _ := json.Marshal(state.SiteBody{Name: "Main office", TokenHash: state.HashToken(token)})
	outs, err = h.srv.Node.Apply(ctx, &reboundv1.Command{Version: 1, Type: state.CmdSiteCreate, TenantId: tenant.ID, Actor: "system", Body: body})
	if err != nil || outs[0].GetError() != "" {
		t.Fatalf("site: %v %v", err, outs)
	}
	var site struct {
		ID string `json:"id"`
	}
	_ = json.Unmarshal(outs[0].GetResult(), &site)

	obPath := filepath.Join(dir, "outbox.db")
	runAgent := func() (*outbox.Outbox, *outbox.Uplink, context.CancelFunc, chan struct{}) {
		ob, err := outbox.Open(obPath)
		if err != nil {
			t.Fatal(err)
		}
		up, err := outbox.NewUplink(ob, outbox.UplinkConfig{Hubs: []string{h.cfg.GRPCAddr}, SiteID: site.ID, Token: token,
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Window: 16, MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		actx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { _ = up.Run(actx); close(done) }()
		return ob, up, cancel, done
	}

	ob, up, cancel, done := runAgent()
	for i := 0; i < n/3; i++ {
		if err := ob.Put(testRecord(i)); err != nil {
			t.Fatal(err)
		}
	}
	waitUntil(t, "first acks", 20*time.Second, func() bool { return up.Stats().Acked > 0 })
	// Kill the agent mid-stream: whatever was sent but not acked stays queued.
	cancel()
	<-done
	ob.Close()

	// Hub outage while the agent keeps producing.
	h.stop()
	ob, up, cancel, done = runAgent()
	for i := n / 3; i < 2*n/3; i++ {
		if err := ob.Put(testRecord(i)); err != nil {
			t.Fatal(err)
		}
	}
	waitUntil(t, "the uplink noticing the outage", 20*time.Second, func() bool { return up.Stats().Failures > 0 })
	startHub(t, h)
	for i := 2 * n / 3; i < n; i++ {
		if err := ob.Put(testRecord(i)); err != nil {
			t.Fatal(err)
		}
	}
	waitUntil(t, "the outbox to drain", 60*time.Second, func() bool { return ob.Depth() == 0 })
	cancel()
	<-done
	ob.Close()

	// Every record is in the hub's state once, and was applied as new once.
	err = h.srv.Node.View(ctx, true, func(tx *bbolt.Tx) error {
		for i := 0; i < n; i++ {
			r := testRecord(i)
			c, ok, err := state.GetCall(tx, r.GetCallId())
			if err != nil || !ok {
				return fmt.Errorf("call %s missing (%v)", r.GetCallId(), err)
			}
			if c.RecordID != r.GetRecordId() || c.SiteID != site.ID || c.TenantID != tenant.ID {
				return fmt.Errorf("call %s = %+v", r.GetCallId(), c)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for i := 0; i < n; i++ {
		if id := testRecord(i).GetRecordId(); h.firsts[id] != 1 {
			t.Fatalf("record %s applied as new %d times", id, h.firsts[id])
		}
	}
}

func protoUnmarshal(b []byte, m *reboundv1.CallRecord) error { return proto.Unmarshal(b, m) }

// TestHubBackupRestoreStatus backs up a running hub through the CLI,
// restores it into a new data dir, and checks the restored node has the data.
func TestHubBackupRestoreStatus(t *testing.T) {
	dir := t.TempDir()
	h := &testHub{mu: &sync.Mutex{}, firsts: map[string]int{}, cfg: hub.Config{
		DataDir: filepath.Join(dir, "hub"), NodeID: "h1", HTTPAddr: freeAddr(t), GRPCAddr: freeAddr(t), RaftAddr: freeAddr(t),
	}}
	startHub(t, h)
	defer h.stop()
	ctx := context.Background()
	outs, err := h.srv.Node.Apply(ctx, &reboundv1.Command{Version: 1, Type: state.CmdTenantCreate, Actor: "system", Body: []byte(`{"name":"Backup Co"}`)})
	if err != nil || outs[0].GetError() != "" {
		t.Fatalf("tenant: %v %v", err, outs)
	}
	var stdout, stderr bytes.Buffer
	io := stdio{Stdout: &stdout, Stderr: &stderr}
	if code := run(ctx, []string{"hub", "status", "--via", h.cfg.GRPCAddr}, io); code != 0 || !strings.Contains(stdout.String(), "Leader") {
		t.Fatalf("status exit %d: %s %s", code, stdout.String(), stderr.String())
	}
	file := filepath.Join(dir, "backup.db")
	if code := run(ctx, []string{"hub", "backup", "--http-addr", h.cfg.HTTPAddr, "--out", file}, io); code != 0 {
		t.Fatalf("backup exit %d: %s", code, stderr.String())
	}
	h.stop()
	restored := filepath.Join(dir, "restored")
	if code := run(ctx, []string{"hub", "restore", "--from", file, "--data-dir", restored}, io); code != 0 {
		t.Fatalf("restore exit %d: %s", code, stderr.String())
	}
	h2 := &testHub{mu: &sync.Mutex{}, firsts: map[string]int{}, cfg: hub.Config{
		DataDir: restored, NodeID: "r1", HTTPAddr: freeAddr(t), GRPCAddr: freeAddr(t), RaftAddr: freeAddr(t),
	}}
	startHub(t, h2)
	defer h2.stop()
	found := false
	_ = h2.srv.Node.View(ctx, true, func(tx *bbolt.Tx) error {
		tenants, _ := state.ListTenants(tx)
		for _, tn := range tenants {
			found = found || tn.Name == "Backup Co"
		}
		return nil
	})
	if !found {
		t.Fatal("restored hub lacks the tenant")
	}
}
