package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	"go.etcd.io/bbolt"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	reboundv1 "github.com/reboundhq/rebound/proto/rebound/v1"
)

// maxBatchBytes caps one raft entry's payload; a lone larger command still
// goes out alone.
const maxBatchBytes = 4 << 20

// Node is one hub cluster member.
type Node struct {
	cfg       Config
	log       *slog.Logger
	raft      *raft.Raft
	fsm       *fsm
	store     *raftboltdb.BoltStore
	transport *raft.NetworkTransport
	stream    StreamLayer

	reqs   chan *applyReq
	sem    chan struct{}
	closed chan struct{}
	once   sync.Once
	wg     sync.WaitGroup

	peers *peerPool
	reads readGroup
}

type applyReq struct {
	cmds []*reboundv1.Command
	done chan applyRes
}

type applyRes struct {
	index uint64
	outs  []*reboundv1.CommandOutcome
	err   error
}

// New opens (or creates) the node's stores under cfg.DataDir, starts raft,
// bootstraps a single-node cluster when there is no state and no join
// address, and otherwise starts joining in the background. Register the
// node's gRPC service on a server peers can reach (Register).
func New(cfg Config) (*Node, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("cluster: data dir: %w", err)
	}
	log := cfg.Logger.With("node", cfg.NodeID)
	n := &Node{
		cfg:    cfg,
		log:    log,
		reqs:   make(chan *applyReq, 4096),
		sem:    make(chan struct{}, cfg.MaxInflight),
		closed: make(chan struct{}),
		peers:  newPeerPool(cfg.PeerDialOptions, cfg.PeerSecret),
	}
	ok := false
	defer func() {
		if !ok {
			n.closeStores()
		}
	}()

	var err error
	n.fsm, err = newFSM(filepath.Join(cfg.DataDir, "fsm.db"), cfg.StateMachine, log)
	if err != nil {
		return nil, err
	}
	n.store, err = raftboltdb.New(raftboltdb.Options{Path: filepath.Join(cfg.DataDir, "raft.db")})
	if err != nil {
		return nil, fmt.Errorf("cluster: raft store: %w", err)
	}
	snaps, err := raft.NewFileSnapshotStoreWithLogger(cfg.DataDir, 2, newHclog(log))
	if err != nil {
		return nil, fmt.Errorf("cluster: snapshot store: %w", err)
	}
	if err := n.catchUpFromSnapshot(snaps); err != nil {
		return nil, err
	}
	ts, err := newTCPStream(cfg.RaftAddr, cfg.RaftAdvertise, cfg.RaftTLS)
	if err != nil {
		return nil, err
	}
	n.stream = ts
	if cfg.wrapStream != nil {
		n.stream = cfg.wrapStream(ts)
	}
	n.transport = raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
		Stream:  n.stream,
		MaxPool: 3,
		Timeout: 10 * time.Second,
		Logger:  newHclog(log),
	})

	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(cfg.NodeID)
	rc.HeartbeatTimeout = cfg.HeartbeatTimeout
	rc.ElectionTimeout = cfg.ElectionTimeout
	rc.LeaderLeaseTimeout = cfg.HeartbeatTimeout / 2
	rc.CommitTimeout = 10 * time.Millisecond
	rc.SnapshotThreshold = cfg.SnapshotThreshold
	rc.TrailingLogs = cfg.TrailingLogs
	rc.SnapshotInterval = cfg.SnapshotInterval
	rc.MaxAppendEntries = 256
	rc.BatchApplyCh = true
	// fsm.db is durable on its own: raft must not overwrite it with an older
	// snapshot at start (catchUpFromSnapshot restores only when it is behind).
	rc.NoSnapshotRestoreOnStart = true
	rc.Logger = newHclog(log)

	has, err := raft.HasExistingState(n.store, n.store, snaps)
	if err != nil {
		return nil, fmt.Errorf("cluster: inspect state: %w", err)
	}
	n.raft, err = raft.NewRaft(rc, n.fsm, n.store, n.store, snaps, n.transport)
	if err != nil {
		return nil, fmt.Errorf("cluster: start raft: %w", err)
	}
	if !has && len(cfg.Join) == 0 {
		f := n.raft.BootstrapCluster(raft.Configuration{Servers: []raft.Server{{
			ID: rc.LocalID, Address: n.transport.LocalAddr(), Suffrage: raft.Voter,
		}}})
		if err := f.Error(); err != nil && !errors.Is(err, raft.ErrCantBootstrap) {
			return nil, fmt.Errorf("cluster: bootstrap: %w", err)
		}
		log.Info("bootstrapped single-node cluster", "raft_addr", n.transport.LocalAddr())
	}
	ok = true
	n.wg.Add(2)
	go n.batchLoop()
	go n.leaderLoop()
	if len(cfg.Join) > 0 {
		n.wg.Add(1)
		go n.joinLoop()
	}
	return n, nil
}

// catchUpFromSnapshot restores fsm.db from the newest local snapshot when
// the snapshot holds later state (fsm.db lost or behind). Otherwise raft
// replays the log after the snapshot and the FSM skips what it already has.
func (n *Node) catchUpFromSnapshot(snaps *raft.FileSnapshotStore) error {
	list, err := snaps.List()
	if err != nil || len(list) == 0 {
		return nil
	}
	_, rc, err := snaps.Open(list[0].ID)
	if err != nil {
		return fmt.Errorf("cluster: open snapshot: %w", err)
	}
	applied, err := readSnapshotHeader(rc)
	rc.Close()
	if err != nil {
		return fmt.Errorf("cluster: snapshot %s: %w", list[0].ID, err)
	}
	if applied <= n.fsm.appliedIndex() {
		return nil
	}
	n.log.Warn("fsm.db is behind the newest snapshot; restoring", "fsm_index", n.fsm.appliedIndex(), "snapshot_index", applied)
	_, rc, err = snaps.Open(list[0].ID)
	if err != nil {
		return fmt.Errorf("cluster: open snapshot: %w", err)
	}
	return n.fsm.Restore(rc)
}

// Register adds the Cluster gRPC service to s.
func (n *Node) Register(s grpc.ServiceRegistrar) {
	reboundv1.RegisterClusterServer(s, &service{n: n})
}

// NodeID returns this node's ID.
func (n *Node) NodeID() string { return n.cfg.NodeID }

// IsLeader reports whether this node is the raft leader right now.
func (n *Node) IsLeader() bool { return n.raft.State() == raft.Leader }

// LeaderID returns the current leader's ID, or "" when unknown.
func (n *Node) LeaderID() string {
	_, id := n.raft.LeaderWithID()
	return string(id)
}

// OnApplied registers a hook called after every committed entry (see AppliedFunc).
func (n *Node) OnApplied(fn AppliedFunc) { n.fsm.addHook(fn) }

// AppliedIndex is the last raft index applied to this node's state.
func (n *Node) AppliedIndex() uint64 { return n.fsm.appliedIndex() }

// Apply commits cmds through raft and returns one outcome per command. On a
// follower it forwards to the leader. The leader stamps AtUnixMs when zero.
// An error means the outcome is unknown (the commands may or may not have
// been committed): retry with the same record or request ids.
func (n *Node) Apply(ctx context.Context, cmds ...*reboundv1.Command) ([]*reboundv1.CommandOutcome, error) {
	if len(cmds) == 0 {
		return nil, nil
	}
	ctx, cancel := n.deadline(ctx)
	defer cancel()
	backoff := 10 * time.Millisecond
	for {
		var outs []*reboundv1.CommandOutcome
		var err error
		if n.IsLeader() {
			outs, _, err = n.applyLocal(ctx, cmds)
			if err == nil || !errors.Is(err, raft.ErrNotLeader) {
				return outs, err
			}
		} else {
			outs, err = n.forwardApply(ctx, cmds)
			if err == nil || !retryable(err) {
				return outs, err
			}
		}
		if err := n.pause(ctx, &backoff); err != nil {
			return nil, fmt.Errorf("cluster apply: %w (last: %v)", err, errOr(err, ErrNoLeader))
		}
	}
}

func errOr(err, fallback error) error {
	if err != nil {
		return err
	}
	return fallback
}

// pause waits for the backoff (doubling, capped) or the context.
func (n *Node) pause(ctx context.Context, backoff *time.Duration) error {
	t := time.NewTimer(*backoff)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-n.closed:
		return ErrClosed
	case <-t.C:
	}
	if *backoff < 200*time.Millisecond {
		*backoff *= 2
	}
	return nil
}

// applyLocal queues cmds for the group-commit loop on the leader.
func (n *Node) applyLocal(ctx context.Context, cmds []*reboundv1.Command) ([]*reboundv1.CommandOutcome, uint64, error) {
	now := n.cfg.Clock().UnixMilli()
	stamped := make([]*reboundv1.Command, len(cmds))
	for i, c := range cmds {
		if c.GetAtUnixMs() == 0 {
			c = proto.Clone(c).(*reboundv1.Command)
			c.AtUnixMs = now
		}
		stamped[i] = c
	}
	req := &applyReq{cmds: stamped, done: make(chan applyRes, 1)}
	select {
	case n.reqs <- req:
	case <-ctx.Done():
		return nil, 0, ctx.Err()
	case <-n.closed:
		return nil, 0, ErrClosed
	}
	select {
	case r := <-req.done:
		return r.outs, r.index, r.err
	case <-ctx.Done():
		return nil, 0, fmt.Errorf("cluster apply (outcome unknown): %w", ctx.Err())
	}
}

// batchLoop is the group commit: while MaxInflight entries are in flight,
// new requests queue up; the next entry takes all of them (up to MaxBatch
// commands). Under light load every request goes out at once, alone.
func (n *Node) batchLoop() {
	defer n.wg.Done()
	for {
		var first *applyReq
		select {
		case first = <-n.reqs:
		case <-n.closed:
			return
		}
		select {
		case n.sem <- struct{}{}:
		case <-n.closed:
			first.done <- applyRes{err: ErrClosed}
			return
		}
		batch := []*applyReq{first}
		count, size := len(first.cmds), cmdsSize(first.cmds)
		var timer *time.Timer
		if n.cfg.MaxWait > 0 && len(n.sem) > 1 {
			timer = time.NewTimer(n.cfg.MaxWait)
		}
	gather:
		for count < n.cfg.MaxBatch && size < maxBatchBytes {
			var r *applyReq
			if timer != nil {
				select {
				case r = <-n.reqs:
				case <-timer.C:
					timer = nil
					break gather
				}
			} else {
				select {
				case r = <-n.reqs:
				default:
					break gather
				}
			}
			batch = append(batch, r)
			count += len(r.cmds)
			size += cmdsSize(r.cmds)
		}
		if timer != nil {
			timer.Stop()
		}
		n.wg.Add(1)
		go n.commit(batch, count)
	}
}

func cmdsSize(cmds []*reboundv1.Command) int {
	s := 0
	for _, c := range cmds {
		s += proto.Size(c)
	}
	return s
}

// commit sends one batch as one raft entry and splits the outcomes back.
func (n *Node) commit(batch []*applyReq, count int) {
	defer n.wg.Done()
	all := make([]*reboundv1.Command, 0, count)
	for _, r := range batch {
		all = append(all, r.cmds...)
	}
	fail := func(err error) {
		<-n.sem
		for _, r := range batch {
			r.done <- applyRes{err: err}
		}
	}
	data, err := proto.Marshal(&reboundv1.CommandBatch{Commands: all})
	if err != nil {
		fail(fmt.Errorf("cluster: encode batch: %w", err))
		return
	}
	f := n.raft.Apply(data, n.cfg.ApplyTimeout)
	// raft never resolves futures still queued when it shuts down, so
	// waiting on one must also watch for Close.
	errc := make(chan error, 1)
	go func() { errc <- f.Error() }()
	select {
	case err := <-errc:
		if err != nil {
			fail(err)
			return
		}
	case <-n.closed:
		fail(ErrClosed)
		return
	}
	<-n.sem
	res, _ := f.Response().(*applyResult)
	if res == nil || res.outcomes == nil && !res.skipped {
		for _, r := range batch {
			r.done <- applyRes{err: errors.New("cluster: entry was not applied")}
		}
		return
	}
	off := 0
	for _, r := range batch {
		var outs []*reboundv1.CommandOutcome
		if off+len(r.cmds) <= len(res.outcomes) {
			outs = res.outcomes[off : off+len(r.cmds)]
		}
		off += len(r.cmds)
		r.done <- applyRes{index: res.index, outs: outs}
	}
}

// View runs fn in a read transaction. With consistent=true it first waits
// until this node has applied everything committed before the call started
// (the leader's read index), so the read is linearizable; otherwise it reads
// local state, which may be slightly stale on a follower.
func (n *Node) View(ctx context.Context, consistent bool, fn func(tx *bbolt.Tx) error) error {
	if consistent {
		ctx, cancel := n.deadline(ctx)
		defer cancel()
		idx, err := n.ReadIndex(ctx)
		if err != nil {
			return err
		}
		if err := n.WaitApplied(ctx, idx); err != nil {
			return err
		}
	}
	return n.fsm.view(fn)
}

// WaitApplied blocks until this node has applied idx.
func (n *Node) WaitApplied(ctx context.Context, idx uint64) error {
	for {
		ch, ok := n.fsm.waitChan(idx)
		if ok {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("cluster: wait for index %d: %w", idx, ctx.Err())
		case <-n.closed:
			return ErrClosed
		}
	}
}

// ReadIndex returns an applied index that reflects every write committed
// before the call, confirmed by the leader.
func (n *Node) ReadIndex(ctx context.Context) (uint64, error) {
	backoff := 10 * time.Millisecond
	for {
		var idx uint64
		var err error
		if n.IsLeader() {
			idx, err = n.reads.do(ctx, n.leaderReadIndex)
			if err == nil || !errors.Is(err, raft.ErrNotLeader) && !errors.Is(err, raft.ErrLeadershipLost) {
				return idx, err
			}
		} else {
			idx, err = n.forwardReadIndex(ctx)
			if err == nil || !retryable(err) {
				return idx, err
			}
		}
		if err := n.pause(ctx, &backoff); err != nil {
			return 0, fmt.Errorf("cluster read index: %w", err)
		}
	}
}

// leaderReadIndex commits a barrier in the current term (which proves
// leadership and waits until the FSM applied everything before it) and
// returns the FSM's applied index.
func (n *Node) leaderReadIndex() (uint64, error) {
	if err := n.raft.Barrier(n.cfg.ApplyTimeout).Error(); err != nil {
		return 0, err
	}
	return n.fsm.appliedIndex(), nil
}

// readGroup coalesces concurrent read-index requests: every caller waits
// for a barrier that started after it arrived, and one barrier serves all
// callers that arrived while the previous one was running.
type readGroup struct {
	mu      sync.Mutex
	pending *readRound
	running bool
}

type readRound struct {
	done chan struct{}
	idx  uint64
	err  error
}

func (g *readGroup) do(ctx context.Context, fn func() (uint64, error)) (uint64, error) {
	g.mu.Lock()
	if g.pending == nil {
		g.pending = &readRound{done: make(chan struct{})}
	}
	r := g.pending
	if !g.running {
		g.running = true
		go g.run(fn)
	}
	g.mu.Unlock()
	select {
	case <-r.done:
		return r.idx, r.err
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

func (g *readGroup) run(fn func() (uint64, error)) {
	for {
		g.mu.Lock()
		r := g.pending
		g.pending = nil
		if r == nil {
			g.running = false
			g.mu.Unlock()
			return
		}
		g.mu.Unlock()
		r.idx, r.err = fn()
		close(r.done)
	}
}

// leaderLoop records this node's gRPC address in the replicated member table
// whenever it becomes leader, so followers can forward to it.
func (n *Node) leaderLoop() {
	defer n.wg.Done()
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-n.closed:
			return
		case <-t.C:
		}
		if !n.IsLeader() || n.cfg.GRPCAdvertise == "" || n.fsm.member(n.cfg.NodeID) == n.cfg.GRPCAdvertise {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, _, err := n.applyLocal(ctx, []*reboundv1.Command{memberSet(n.cfg.NodeID, n.cfg.GRPCAdvertise)})
		cancel()
		if err != nil {
			n.log.Debug("record own address", "err", err)
		}
	}
}

func memberSet(id, grpcAddr string) *reboundv1.Command {
	return &reboundv1.Command{Version: 1, Type: cmdMemberSet, Actor: id, Body: []byte(grpcAddr)}
}

func memberDelete(id string) *reboundv1.Command {
	return &reboundv1.Command{Version: 1, Type: cmdMemberDelete, Actor: id}
}

// joinLoop asks the configured members to add this node until one succeeds.
func (n *Node) joinLoop() {
	defer n.wg.Done()
	backoff := 100 * time.Millisecond
	for attempt := 0; ; attempt++ {
		for _, addr := range n.cfg.Join {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			_, err := n.peers.client(addr).Join(n.peers.out(ctx), &reboundv1.JoinRequest{
				NodeId: n.cfg.NodeID, RaftAddr: string(n.transport.LocalAddr()), GrpcAddr: n.cfg.GRPCAdvertise,
			})
			cancel()
			if err == nil {
				n.log.Info("joined cluster", "via", addr)
				return
			}
			n.log.Debug("join attempt failed", "via", addr, "err", err)
		}
		jitter := time.Duration(rand.Int64N(int64(backoff)/2 + 1))
		select {
		case <-n.closed:
			return
		case <-time.After(backoff + jitter):
		}
		if backoff < 5*time.Second {
			backoff *= 2
		}
	}
}

// Join adds a voter (on the leader; forwarded otherwise).
func (n *Node) Join(ctx context.Context, id, raftAddr, grpcAddr string) error {
	ctx, cancel := n.deadline(ctx)
	defer cancel()
	backoff := 10 * time.Millisecond
	for {
		var err error
		if n.IsLeader() {
			err = n.joinLocal(ctx, id, raftAddr, grpcAddr)
			if err == nil || !errors.Is(err, raft.ErrNotLeader) {
				return err
			}
		} else {
			err = n.forward(ctx, func(ctx context.Context, c reboundv1.ClusterClient) error {
				_, err := c.Join(ctx, &reboundv1.JoinRequest{NodeId: id, RaftAddr: raftAddr, GrpcAddr: grpcAddr})
				return err
			})
			if err == nil || !retryable(err) {
				return err
			}
		}
		if err := n.pause(ctx, &backoff); err != nil {
			return fmt.Errorf("cluster join: %w", err)
		}
	}
}

func (n *Node) joinLocal(ctx context.Context, id, raftAddr, grpcAddr string) error {
	if id == "" || raftAddr == "" {
		return errors.New("cluster join: node id and raft address are required")
	}
	cf := n.raft.GetConfiguration()
	if err := cf.Error(); err != nil {
		return err
	}
	present := false
	for _, s := range cf.Configuration().Servers {
		switch {
		case string(s.ID) == id && string(s.Address) == raftAddr && s.Suffrage == raft.Voter:
			present = true
		case string(s.ID) == id || string(s.Address) == raftAddr:
			// Same id at a new address, or a new id at an old address:
			// the old entry goes first.
			if err := n.raft.RemoveServer(s.ID, 0, timeoutOf(ctx)).Error(); err != nil {
				return fmt.Errorf("cluster join: remove stale %s: %w", s.ID, err)
			}
		}
	}
	if !present {
		if err := n.raft.AddVoter(raft.ServerID(id), raft.ServerAddress(raftAddr), 0, timeoutOf(ctx)).Error(); err != nil {
			return fmt.Errorf("cluster join: add voter %s: %w", id, err)
		}
		n.log.Info("added voter", "id", id, "raft_addr", raftAddr)
	}
	if grpcAddr != "" && n.fsm.member(id) != grpcAddr {
		if _, _, err := n.applyLocal(ctx, []*reboundv1.Command{memberSet(id, grpcAddr)}); err != nil {
			return fmt.Errorf("cluster join: record address: %w", err)
		}
	}
	return nil
}

// Remove takes a node out of the cluster (on the leader; forwarded otherwise).
func (n *Node) Remove(ctx context.Context, id string) error {
	ctx, cancel := n.deadline(ctx)
	defer cancel()
	backoff := 10 * time.Millisecond
	for {
		var err error
		if n.IsLeader() {
			err = n.removeLocal(ctx, id)
			if err == nil || !errors.Is(err, raft.ErrNotLeader) {
				return err
			}
		} else {
			err = n.forward(ctx, func(ctx context.Context, c reboundv1.ClusterClient) error {
				_, err := c.Remove(ctx, &reboundv1.RemoveRequest{NodeId: id})
				return err
			})
			if err == nil || !retryable(err) {
				return err
			}
		}
		if err := n.pause(ctx, &backoff); err != nil {
			return fmt.Errorf("cluster remove: %w", err)
		}
	}
}

func (n *Node) removeLocal(ctx context.Context, id string) error {
	if _, _, err := n.applyLocal(ctx, []*reboundv1.Command{memberDelete(id)}); err != nil {
		return fmt.Errorf("cluster remove: %w", err)
	}
	if err := n.raft.RemoveServer(raft.ServerID(id), 0, timeoutOf(ctx)).Error(); err != nil {
		return fmt.Errorf("cluster remove %s: %w", id, err)
	}
	n.log.Info("removed server", "id", id)
	return nil
}

// Status reports the node's raft state for /healthz.
func (n *Node) Status() Status {
	addr, id := n.raft.LeaderWithID()
	st := Status{
		NodeID:       n.cfg.NodeID,
		State:        n.raft.State().String(),
		LeaderID:     string(id),
		LeaderAddr:   string(addr),
		AppliedIndex: n.fsm.appliedIndex(),
		CommitIndex:  n.raft.CommitIndex(),
		LastIndex:    n.raft.LastIndex(),
		Term:         n.raft.CurrentTerm(),
	}
	if lc := n.raft.LastContact(); !lc.IsZero() && !n.IsLeader() {
		st.LastContactMs = time.Since(lc).Milliseconds()
	}
	members := n.fsm.members()
	if cf := n.raft.GetConfiguration(); cf.Error() == nil {
		for _, s := range cf.Configuration().Servers {
			st.Peers = append(st.Peers, PeerStatus{
				NodeID: string(s.ID), RaftAddr: string(s.Address),
				GRPCAddr: members[string(s.ID)], Voter: s.Suffrage == raft.Voter,
			})
		}
	}
	return st
}

// Snapshot forces a snapshot now (used by backups and tests).
func (n *Node) Snapshot() error {
	return n.raft.Snapshot().Error()
}

// Close shuts the node down. Pending writes fail with ErrClosed or a raft
// shutdown error (outcome unknown).
func (n *Node) Close() error {
	var err error
	n.once.Do(func() {
		err = n.raft.Shutdown().Error()
		close(n.closed)
		n.wg.Wait()
		// Fail requests that were queued but never sent.
		for {
			select {
			case r := <-n.reqs:
				r.done <- applyRes{err: ErrClosed}
				continue
			default:
			}
			break
		}
		n.peers.close()
		n.closeStores()
	})
	return err
}

func (n *Node) closeStores() {
	if n.transport != nil {
		n.transport.Close()
	} else if n.stream != nil {
		n.stream.Close()
	}
	if n.store != nil {
		n.store.Close()
	}
	if n.fsm != nil {
		n.fsm.close()
	}
}
