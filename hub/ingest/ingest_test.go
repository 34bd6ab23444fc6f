package ingest

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"testing"
	"time"

	"go.etcd.io/bbolt"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/reboundhq/rebound/hub/state"
	reboundv1 "github.com/reboundhq/rebound/proto/rebound/v1"
)

const testToken = "0123456789abcdef0123456789abcdef-site"

// localAuth checks tokens against the real state (hash only), like hub.go.
type localAuth struct{ l *state.Local }

func (a localAuth) Authenticate(ctx context.Context, token string) (Site, error) {
	var s Site
	var ok bool
	_ = a.l.View(ctx, false, func(tx *bbolt.Tx) error {
		s.ID, s.TenantID, ok = state.VerifySiteToken(tx, token)
		return nil
	})
	if !ok {
		return s, ErrUnauthenticated
	}
	return s, nil
}

// gate wraps a store so a test can hold Apply and see it entered.
type gate struct {
	Applier
	entered chan struct{}
	release chan struct{}
	fail    error
}

func (g *gate) Apply(ctx context.Context, cmds ...*reboundv1.Command) ([]*reboundv1.CommandOutcome, error) {
	if g.entered != nil {
		g.entered <- struct{}{}
		<-g.release
	}
	if g.fail != nil {
		return nil, g.fail
	}
	return g.Applier.Apply(ctx, cmds...)
}

type fixture struct {
	local  *state.Local
	srv    *Server
	addr   string
	tls    *tls.Config
	siteID string
	tenant string
	store  *gate
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	dir := t.TempDir()
	local, err := state.OpenLocal(filepath.Join(dir, "state.db"), state.New(nil), time.Now)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { local.Close() })
	ctx := context.Background()
	outs, err := local.Apply(ctx, &reboundv1.Command{Version: 1, Type: state.CmdTenantCreate, Actor: "system", Body: []byte(`{"name":"Acme"}`)})
	if err != nil || outs[0].GetError() != "" {
		t.Fatalf("tenant: %v %v", err, outs)
	}
	var obj struct {
		ID string `json:"id"`
	}
	_ = json.Unmarshal(outs[0].GetResult(), &obj)
	tenant := obj.ID
	body, _ := json.Marshal(state.SiteBody{Name: "Main", TokenHash: state.HashToken(testToken)})
	outs, err = local.Apply(ctx, &reboundv1.Command{Version: 1, Type: state.CmdSiteCreate, TenantId: tenant, Actor: "system", Body: body})
	if err != nil || outs[0].GetError() != "" {
		t.Fatalf("site: %v %v", err, outs)
	}
	_ = json.Unmarshal(outs[0].GetResult(), &obj)

	certs := filepath.Join(dir, "tls")
	if err := GenerateCerts(certs, []string{"localhost", "127.0.0.1"}, time.Now()); err != nil {
		t.Fatal(err)
	}
	stls, err := ServerTLS(filepath.Join(certs, CertFile), filepath.Join(certs, KeyFile), "")
	if err != nil {
		t.Fatal(err)
	}
	ctls, err := ClientTLS(filepath.Join(certs, CAFile), "", "", "localhost")
	if err != nil {
		t.Fatal(err)
	}
	g := &gate{Applier: local}
	srv, err := New(Config{Auth: localAuth{local}, Store: g, NodeID: "n1", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer(grpc.Creds(credentials.NewTLS(stls)))
	srv.Register(gs)
	go gs.Serve(lis)
	t.Cleanup(gs.Stop)
	return &fixture{local: local, srv: srv, addr: lis.Addr().String(), tls: ctls, siteID: obj.ID, tenant: tenant, store: g}
}

func (f *fixture) connect(t *testing.T, token string) grpc.BidiStreamingClient[reboundv1.AgentMessage, reboundv1.HubMessage] {
	t.Helper()
	cc, err := grpc.NewClient(f.addr, grpc.WithTransportCredentials(credentials.NewTLS(f.tls)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	if token != "" {
		ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+token)
	}
	st, err := reboundv1.NewAgentHubClient(cc).Connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func hello(site string) *reboundv1.AgentMessage {
	return &reboundv1.AgentMessage{Msg: &reboundv1.AgentMessage_Hello{Hello: &reboundv1.Hello{SiteId: site, AgentVersion: "test"}}}
}

func record(id, call, site string) *reboundv1.AgentMessage {
	return &reboundv1.AgentMessage{Msg: &reboundv1.AgentMessage_Record{Record: &reboundv1.CallRecord{
		RecordId: id, CallId: call, SiteId: site, Revision: 1, Outcome: reboundv1.Outcome_OUTCOME_ABANDONED,
		Direction: reboundv1.Direction_DIRECTION_INBOUND}}}
}

func TestConnectRejectsBadCredentials(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name, token, site string
		want              codes.Code
	}{
		{"no token", "", "", codes.Unauthenticated},
		{"wrong token", "not-a-token", "", codes.Unauthenticated},
		{"token of another site", testToken, "s_other", codes.PermissionDenied},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := f.connect(t, tt.token)
			_ = st.Send(hello(tt.site))
			_, err := st.Recv()
			if status.Code(err) != tt.want {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
		})
	}
}

func TestConnectAcksOnlyAfterCommit(t *testing.T) {
	f := newFixture(t)
	f.store.entered = make(chan struct{}, 1)
	f.store.release = make(chan struct{})
	st := f.connect(t, testToken)
	if err := st.Send(hello(f.siteID)); err != nil {
		t.Fatal(err)
	}
	m, err := st.Recv()
	if err != nil || m.GetWelcome().GetTenantId() != f.tenant {
		t.Fatalf("welcome: %v %v", m, err)
	}
	// A record claiming another site is stored under the token's site.
	if err := st.Send(record("r1", "c1", "spoofed")); err != nil {
		t.Fatal(err)
	}
	<-f.store.entered
	acks := make(chan *reboundv1.HubMessage, 4)
	go func() {
		for {
			m, err := st.Recv()
			if err != nil {
				close(acks)
				return
			}
			acks <- m
		}
	}()
	select {
	case m := <-acks:
		t.Fatalf("ack %v before the commit returned", m)
	default:
	}
	close(f.store.release)
	m = <-acks
	if got := m.GetAck().GetRecordIds(); len(got) != 1 || got[0] != "r1" {
		t.Fatalf("ack = %v", m)
	}
	// Resending the same record is acked again and stored once.
	if err := st.Send(record("r1", "c1", f.siteID)); err != nil {
		t.Fatal(err)
	}
	<-f.store.entered
	m = <-acks
	if got := m.GetAck().GetRecordIds(); len(got) != 1 || got[0] != "r1" {
		t.Fatalf("second ack = %v", m)
	}
	_ = f.local.View(context.Background(), false, func(tx *bbolt.Tx) error {
		c, ok, err := state.GetCall(tx, "c1")
		if err != nil || !ok {
			t.Fatalf("call missing: %v", err)
		}
		if c.SiteID != f.siteID || c.TenantID != f.tenant {
			t.Fatalf("call stored as site %q tenant %q", c.SiteID, c.TenantID)
		}
		return nil
	})
}

func TestConnectCommitFailureSendsNoAck(t *testing.T) {
	f := newFixture(t)
	f.store.fail = errors.New("no quorum")
	st := f.connect(t, testToken)
	_ = st.Send(hello(f.siteID))
	if _, err := st.Recv(); err != nil {
		t.Fatal(err)
	}
	_ = st.Send(record("r9", "c9", f.siteID))
	for {
		m, err := st.Recv()
		if err != nil {
			if status.Code(err) != codes.Unavailable {
				t.Fatalf("stream ended with %v, want Unavailable", err)
			}
			return
		}
		if m.GetAck() != nil {
			t.Fatalf("ack %v although the commit failed", m)
		}
	}
}

func TestFetchRecordingFromAgent(t *testing.T) {
	f := newFixture(t)
	st := f.connect(t, testToken)
	_ = st.Send(hello(f.siteID))
	if _, err := st.Recv(); err != nil {
		t.Fatal(err)
	}
	// The fake agent side answers a fetch with two chunks, over the real stream.
	go func() {
		m, err := st.Recv()
		if err != nil {
			return
		}
		cmd := m.GetCommand()
		if cmd.GetFetchRecording().GetRef() != "2026/call.wav" {
			_ = st.Send(&reboundv1.AgentMessage{Msg: &reboundv1.AgentMessage_Result{Result: &reboundv1.CommandResult{CommandId: cmd.GetId(), Error: "wrong ref"}}})
			return
		}
		_ = st.Send(&reboundv1.AgentMessage{Msg: &reboundv1.AgentMessage_Result{Result: &reboundv1.CommandResult{CommandId: cmd.GetId(), Ok: true, Chunk: []byte("RIFF"), TotalSize: 8}}})
		_ = st.Send(&reboundv1.AgentMessage{Msg: &reboundv1.AgentMessage_Result{Result: &reboundv1.CommandResult{CommandId: cmd.GetId(), Ok: true, Chunk: []byte("WAVE"), Offset: 4, Last: true, TotalSize: 8}}})
	}()
	var data []byte
	var err error
	deadline := time.Now().Add(10 * time.Second)
	for {
		data, err = f.srv.FetchRecording(context.Background(), f.siteID, "2026/call.wav", 1<<20)
		if !errors.Is(err, ErrNotConnected) || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond) // the session registers right after the welcome
	}
	if err != nil {
		t.Fatal(err)
	}
	if string(data) != "RIFFWAVE" {
		t.Fatalf("fetched %q", data)
	}
	// Without a connected agent, Open reports it rather than inventing data.
	if _, _, err := f.srv.Open(context.Background(), "s_absent", "x.wav"); !errors.Is(err, ErrNotConnected) {
		t.Fatalf("open from an absent site: %v", err)
	}
	if _, err := f.srv.SendCommand(context.Background(), "s_absent", &reboundv1.AgentCommand{}); !errors.Is(err, ErrNotConnected) {
		t.Fatalf("command to an absent site: %v", err)
	}
}
