package cluster

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"go.etcd.io/bbolt"
	"google.golang.org/grpc"

	reboundv1 "github.com/reboundhq/rebound/proto/rebound/v1"
)

// recordSM is a small real state machine for these tests: "call.ingest"
// stores a record by id (idempotent, like hub/state), "reg.set" writes a
// register, and every applied command bumps a per-node counter so a double
// application during replay would make nodes disagree.
type recordSM struct{}

var (
	bRecords = []byte("records")
	bReg     = []byte("register")
	bCount   = []byte("counters")
)

func (recordSM) Apply(tx *bbolt.Tx, index uint64, cmds []*reboundv1.Command) []*reboundv1.CommandOutcome {
	outs := make([]*reboundv1.CommandOutcome, len(cmds))
	recs, _ := tx.CreateBucketIfNotExists(bRecords)
	reg, _ := tx.CreateBucketIfNotExists(bReg)
	cnt, _ := tx.CreateBucketIfNotExists(bCount)
	bump := func(k string) {
		var n uint64
		if v := cnt.Get([]byte(k)); len(v) == 8 {
			n = binary.BigEndian.Uint64(v)
		}
		var b [8]byte
		binary.BigEndian.PutUint64(b[:], n+1)
		_ = cnt.Put([]byte(k), b[:])
	}
	for i, c := range cmds {
		bump("applied")
		switch c.GetType() {
		case "call.ingest":
			id := c.GetRequestId()
			if id == "" {
				outs[i] = &reboundv1.CommandOutcome{Error: "no record id", ErrorCode: "invalid"}
				continue
			}
			if recs.Get([]byte(id)) != nil {
				outs[i] = &reboundv1.CommandOutcome{Result: []byte(`{"duplicate":true}`)}
				continue
			}
			_ = recs.Put([]byte(id), c.GetBody())
			outs[i] = &reboundv1.CommandOutcome{Result: []byte(`{"duplicate":false}`)}
		case "reg.set":
			_ = reg.Put([]byte(c.GetTenantId()), c.GetBody())
			outs[i] = &reboundv1.CommandOutcome{}
		default:
			outs[i] = &reboundv1.CommandOutcome{Error: "unknown command " + c.GetType(), ErrorCode: "unknown"}
		}
	}
	return outs
}

func ingestCmd(id string) *reboundv1.Command {
	return &reboundv1.Command{Version: 1, Type: "call.ingest", RequestId: id, Body: []byte("rec-" + id)}
}

// faultStream isolates a node's raft traffic on demand: while isolated,
// dials fail, accepted connections are dropped and open ones fail.
type faultStream struct {
	StreamLayer
	isolated atomic.Bool
}

func (f *faultStream) Accept() (net.Conn, error) {
	for {
		c, err := f.StreamLayer.Accept()
		if err != nil {
			return nil, err
		}
		if f.isolated.Load() {
			c.Close()
			continue
		}
		return &faultConn{Conn: c, f: f}, nil
	}
}

func (f *faultStream) Dial(a raft.ServerAddress, d time.Duration) (net.Conn, error) {
	if f.isolated.Load() {
		return nil, errors.New("isolated")
	}
	c, err := f.StreamLayer.Dial(a, d)
	if err != nil {
		return nil, err
	}
	return &faultConn{Conn: c, f: f}, nil
}

type faultConn struct {
	net.Conn
	f *faultStream
}

func (c *faultConn) Read(p []byte) (int, error) {
	if c.f.isolated.Load() {
		c.Conn.Close()
		return 0, io.ErrClosedPipe
	}
	return c.Conn.Read(p)
}

func (c *faultConn) Write(p []byte) (int, error) {
	if c.f.isolated.Load() {
		c.Conn.Close()
		return 0, io.ErrClosedPipe
	}
	return c.Conn.Write(p)
}

type testNode struct {
	mu                 *sync.RWMutex // the cluster's; guards n against concurrent readers
	id, dir            string
	raftAddr, grpcAddr string
	n                  *Node
	gs                 *grpc.Server
	fault              *faultStream
}

type testCluster struct {
	t     testing.TB
	nodes map[string]*testNode
	tune  func(*Config)
	used  map[string]bool
	mu    sync.RWMutex
}

func freePort(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func testLogger(t testing.TB) *slog.Logger {
	if os.Getenv("CLUSTER_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func newTestCluster(t *testing.T, tune func(*Config)) *testCluster {
	c := &testCluster{t: t, nodes: map[string]*testNode{}, tune: tune}
	t.Cleanup(func() {
		for _, n := range c.nodes {
			n.stop()
		}
	})
	return c
}

// add creates a node (not started) with fixed ports so it can be restarted.
func (c *testCluster) add(id string) *testNode {
	tn := &testNode{mu: &c.mu, id: id, dir: c.t.TempDir(), raftAddr: c.port(), grpcAddr: c.port()}
	c.nodes[id] = tn
	return tn
}

// port returns a free loopback port not yet handed to this cluster.
func (c *testCluster) port() string {
	for {
		p := freePort(c.t)
		if !c.used[p] {
			if c.used == nil {
				c.used = map[string]bool{}
			}
			c.used[p] = true
			return p
		}
	}
}

func (c *testCluster) start(tn *testNode, join ...string) {
	c.t.Helper()
	cfg := Config{
		NodeID: tn.id, DataDir: tn.dir, RaftAddr: tn.raftAddr, GRPCAdvertise: tn.grpcAddr,
		Join: join, StateMachine: recordSM{}, Logger: testLogger(c.t),
		PeerSecret: "s3cret",
	}
	tn.fault = nil
	cfg.wrapStream = func(s StreamLayer) StreamLayer {
		tn.fault = &faultStream{StreamLayer: s}
		return tn.fault
	}
	if c.tune != nil {
		c.tune(&cfg)
	}
	var lis net.Listener
	var err error
	deadline := time.Now().Add(10 * time.Second)
	for {
		lis, err = net.Listen("tcp", tn.grpcAddr)
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond) // port still held by the previous incarnation
	}
	if err != nil {
		c.t.Fatalf("listen %s: %v", tn.grpcAddr, err)
	}
	var n *Node
	for {
		n, err = New(cfg)
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		lis.Close()
		c.t.Fatalf("start %s: %v", tn.id, err)
	}
	tn.gs = grpc.NewServer()
	n.Register(tn.gs)
	go tn.gs.Serve(lis)
	c.mu.Lock()
	tn.n = n
	c.mu.Unlock()
}

func (tn *testNode) stop() {
	tn.mu.Lock()
	n := tn.n
	tn.n = nil
	tn.mu.Unlock()
	if n == nil {
		return
	}
	tn.gs.Stop()
	n.Close()
}

// boot3 starts a 3-node cluster: a bootstraps, b and c join via a.
func boot3(t *testing.T, tune func(*Config)) *testCluster {
	c := newTestCluster(t, tune)
	a, b, cc := c.add("a"), c.add("b"), c.add("c")
	c.start(a)
	c.waitLeader(10 * time.Second)
	c.start(b, a.grpcAddr)
	c.start(cc, a.grpcAddr)
	c.waitVoters(3, 20*time.Second)
	return c
}

func (c *testCluster) running() []*testNode {
	c.mu.RLock()
	defer c.mu.RUnlock()
	var out []*testNode
	for _, n := range c.nodes {
		if n.n != nil {
			out = append(out, n)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].id < out[j].id })
	return out
}

// waitFor polls cond until it holds or the deadline passes.
func (c *testCluster) waitFor(what string, d time.Duration, cond func() bool) {
	c.t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			c.t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (c *testCluster) leader() *testNode {
	for _, n := range c.running() {
		if n.n.IsLeader() && (n.fault == nil || !n.fault.isolated.Load()) {
			return n
		}
	}
	return nil
}

func (c *testCluster) waitLeader(d time.Duration) *testNode {
	c.t.Helper()
	var l *testNode
	c.waitFor("a leader with its address recorded", d, func() bool {
		l = c.leader()
		return l != nil && l.n.fsm.member(l.id) == l.grpcAddr
	})
	return l
}

func (c *testCluster) waitVoters(k int, d time.Duration) {
	c.t.Helper()
	c.waitFor(fmt.Sprintf("%d voters known to the leader with addresses", k), d, func() bool {
		l := c.leader()
		if l == nil {
			return false
		}
		st := l.n.Status()
		got := 0
		for _, p := range st.Peers {
			if p.Voter && p.GRPCAddr != "" {
				got++
			}
		}
		return got == k
	})
}

// digest hashes a node's user state (records, register, counters).
func digest(n *Node) (string, map[string]string) {
	h := sha256.New()
	recs := map[string]string{}
	_ = n.View(context.Background(), false, func(tx *bbolt.Tx) error {
		for _, name := range [][]byte{bRecords, bReg, bCount} {
			b := tx.Bucket(name)
			if b == nil {
				continue
			}
			_ = b.ForEach(func(k, v []byte) error {
				fmt.Fprintf(h, "%s/%s=%x;", name, k, v)
				if string(name) == string(bRecords) {
					recs[string(k)] = string(v)
				}
				return nil
			})
		}
		return nil
	})
	return fmt.Sprintf("%x", h.Sum(nil)), recs
}

// converge waits until every running node has applied the leader's index,
// then checks all nodes hold identical state and every acked record once.
func (c *testCluster) converge(acked []string) {
	c.t.Helper()
	l := c.waitLeader(20 * time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	// A barrier write makes every earlier entry committed in this term.
	if _, err := l.n.Apply(ctx, &reboundv1.Command{Type: "reg.set", TenantId: "barrier", Body: []byte("x")}); err != nil {
		c.t.Fatalf("barrier write: %v", err)
	}
	target := l.n.AppliedIndex()
	for _, n := range c.running() {
		if err := n.n.WaitApplied(ctx, target); err != nil {
			c.t.Fatalf("node %s did not catch up to %d: %v (at %d)", n.id, target, err, n.n.AppliedIndex())
		}
	}
	var first string
	for _, n := range c.running() {
		d, recs := digest(n.n)
		for _, id := range acked {
			if recs[id] != "rec-"+id {
				c.t.Fatalf("node %s: acked record %s missing", n.id, id)
			}
		}
		if first == "" {
			first = d
		} else if d != first {
			c.t.Fatalf("node %s state differs from the others", n.id)
		}
	}
}

// ingester applies records from several goroutines through all running
// nodes and remembers which ones were acked.
type ingester struct {
	mu    sync.Mutex
	acked []string
	seq   atomic.Int64
	stop  chan struct{}
	wg    sync.WaitGroup
}

func (c *testCluster) startIngest(workers int, nodes func() []*testNode) *ingester {
	in := &ingester{stop: make(chan struct{})}
	for w := 0; w < workers; w++ {
		in.wg.Add(1)
		go func(w int) {
			defer in.wg.Done()
			for i := 0; ; i++ {
				select {
				case <-in.stop:
					return
				default:
				}
				ns := nodes()
				if len(ns) == 0 {
					time.Sleep(10 * time.Millisecond)
					continue
				}
				tn := ns[(w+i)%len(ns)]
				c.mu.RLock()
				node := tn.n
				c.mu.RUnlock()
				if node == nil {
					continue
				}
				id := fmt.Sprintf("r%06d", in.seq.Add(1))
				ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
				outs, err := node.Apply(ctx, ingestCmd(id))
				cancel()
				if err == nil && len(outs) == 1 && outs[0].GetError() == "" {
					in.mu.Lock()
					in.acked = append(in.acked, id)
					in.mu.Unlock()
				}
			}
		}(w)
	}
	return in
}

func (in *ingester) count() int {
	in.mu.Lock()
	defer in.mu.Unlock()
	return len(in.acked)
}

func (in *ingester) finish() []string {
	close(in.stop)
	in.wg.Wait()
	return append([]string(nil), in.acked...)
}
