package api_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/reboundhq/rebound/hub"
	"github.com/reboundhq/rebound/hub/api"
	"github.com/reboundhq/rebound/hub/state"
	reboundv1 "github.com/reboundhq/rebound/proto/rebound/v1"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

type node struct {
	srv    *hub.Server
	cancel context.CancelFunc
	done   chan struct{}
}

func startNode(t *testing.T, id string, join ...string) *node {
	t.Helper()
	cfg := hub.Defaults()
	cfg.NodeID, cfg.DataDir = id, filepath.Join(t.TempDir(), id)
	cfg.HTTPAddr, cfg.GRPCAddr, cfg.RaftAddr = freeAddr(t), freeAddr(t), freeAddr(t)
	cfg.Join = join
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	s, err := hub.New(cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	n := &node{srv: s, cancel: cancel, done: make(chan struct{})}
	go func() { _ = s.Run(ctx); close(n.done) }()
	t.Cleanup(n.stop)
	return n
}

func (n *node) stop() {
	n.cancel()
	<-n.done
}

func eventually(t *testing.T, what string, f func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !f() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

type httpClient struct {
	t    *testing.T
	hc   *http.Client
	csrf string
}

func (c *httpClient) do(base, method, path string, body any, out any) int {
	c.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = strings.NewReader(string(b))
	}
	req, _ := http.NewRequest(method, "http://"+base+path, rd)
	req.Header.Set("Content-Type", "application/json")
	if c.csrf != "" {
		req.Header.Set("X-CSRF-Token", c.csrf)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil {
		_ = json.Unmarshal(b, out)
	}
	return resp.StatusCode
}

func ingest(t *testing.T, n *node, tenant, id string, end time.Time) {
	t.Helper()
	r := &reboundv1.CallRecord{RecordId: id, CallId: id, Direction: reboundv1.Direction_DIRECTION_INBOUND, Outcome: reboundv1.Outcome_OUTCOME_ANSWERED,
		CallerNumber: "5125550199", AgentExtension: "201", TalkMs: 120_000, StartedAt: timestamppb.New(end.Add(-2 * time.Minute)), EndedAt: timestamppb.New(end),
		// A price shopper: the scoring model flags this kind of call.
		Transcript: &reboundv1.Transcript{Status: reboundv1.Transcript_STATUS_DONE, Segments: []*reboundv1.TranscriptSegment{
			{Channel: reboundv1.Channel_CHANNEL_CALLER, StartMs: 0, EndMs: 6000, Text: "hi, how much would it cost to replace my water heater? I'm getting a few quotes"},
			{Channel: reboundv1.Channel_CHANNEL_AGENT, StartMs: 6000, EndMs: 12000, Text: "a fifty gallon tank installed is about eighteen hundred, I can book a technician for tomorrow"},
			{Channel: reboundv1.Channel_CHANNEL_CALLER, StartMs: 12000, EndMs: 18000, Text: "let me think about it and talk to my wife, I'll call you back"},
		}}}
	b, _ := proto.Marshal(r)
	outs, err := n.srv.Node.Apply(context.Background(), &reboundv1.Command{Type: state.CmdCallIngest, TenantId: tenant, Actor: "site:test", Body: b})
	if err != nil || state.OutcomeError(outs[0]) != nil {
		t.Fatalf("ingest %s: %v %v", id, err, outs)
	}
}

// TestThreeNodeHub runs the API and the scheduler on a real three-node raft cluster:
// sign in through a follower and use the session on another follower at once, leads
// reviewed by the leader's scheduler become listable on followers, and after the leader
// dies the new leader's scheduler takes over.
func TestThreeNodeHub(t *testing.T) {
	n1 := startNode(t, "n1")
	eventually(t, "n1 to lead", n1.srv.Node.IsLeader)
	res, err := api.Bootstrap(context.Background(), n1.srv.Node, "Acme", "root", "rootpassword")
	if err != nil {
		t.Fatal(err)
	}
	clusterTenant := res.TenantID
	n2 := startNode(t, "n2", n1.srv.GRPCAddr())
	n3 := startNode(t, "n3", n1.srv.GRPCAddr())
	nodes := []*node{n1, n2, n3}
	eventually(t, "followers to catch up", func() bool {
		return n2.srv.Node.AppliedIndex() >= n1.srv.Node.AppliedIndex() && n3.srv.Node.AppliedIndex() >= n1.srv.Node.AppliedIndex()
	})

	jar, _ := cookiejar.New(nil)
	c := &httpClient{t: t, hc: &http.Client{Jar: jar}}
	var me struct {
		CSRFToken string `json:"csrfToken"`
	}
	if code := c.do(n2.srv.HTTPAddr(), "POST", "/api/v1/auth/login", map[string]string{"username": "root", "password": "rootpassword"}, &me); code != 200 {
		t.Fatalf("login via follower: %d", code)
	}
	c.csrf = me.CSRFToken
	// Cookies are per host:port in the jar; copy the session to n3's address.
	u2, _ := http.NewRequest("GET", "http://"+n2.srv.HTTPAddr()+"/", nil)
	for _, n := range nodes {
		u, _ := http.NewRequest("GET", "http://"+n.srv.HTTPAddr()+"/", nil)
		jar.SetCookies(u.URL, jar.Cookies(u2.URL))
	}
	if code := c.do(n3.srv.HTTPAddr(), "GET", "/api/v1/me", nil, nil); code != 200 {
		t.Fatalf("fresh session on another follower: %d", code)
	}
	if code := c.do(n3.srv.HTTPAddr(), "PUT", "/api/v1/tenants/"+clusterTenant+"/settings", map[string]any{"scl_enabled": true, "acw_minutes": 0}, nil); code != 200 {
		t.Fatalf("settings via follower: %d", code)
	}
	leadsOn := func(n *node) int {
		var p struct {
			Items []json.RawMessage `json:"items"`
		}
		if code := c.do(n.srv.HTTPAddr(), "GET", "/api/v1/leads?account="+clusterTenant, nil, &p); code != 200 {
			return -1
		}
		return len(p.Items)
	}
	ingest(t, n3, clusterTenant, "call-1", time.Now())
	eventually(t, "the leader's scheduler to flag call-1, listable on both followers", func() bool { return leadsOn(n2) == 1 && leadsOn(n3) == 1 })

	n1.stop()
	var leader *node
	eventually(t, "a new leader", func() bool {
		for _, n := range []*node{n2, n3} {
			if n.srv.Node.IsLeader() {
				leader = n
				return true
			}
		}
		return false
	})
	ingest(t, leader, clusterTenant, "call-2", time.Now())
	eventually(t, "the new leader's scheduler to flag call-2", func() bool { return leadsOn(n2) == 2 && leadsOn(n3) == 2 })
}
