// Package cluster owns the hub's replicated log: a hashicorp/raft node whose
// state machine is persisted in its own bbolt file, leader forwarding of
// writes over gRPC, consistent reads through the leader's read index, group
// commit of concurrent writes, snapshots, and membership (join/remove).
//
// What the state means is not this package's business: it drives a
// StateMachine (implemented by hub/state) and owns only the bookkeeping that
// makes replay safe (the last applied index, written in the same bbolt
// transaction as the data).
package cluster

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"time"

	"go.etcd.io/bbolt"
	"google.golang.org/grpc"

	reboundv1 "github.com/reboundhq/rebound/proto/rebound/v1"
)

// StateMachine is the replicated state. Apply is called with one bbolt write
// transaction per batch of raft entries; it must be deterministic: no clock
// (use Command.AtUnixMs, stamped by the leader), no randomness, no map-order
// dependence. It returns one outcome per command, in order. A rejected command
// is an outcome with Error set, never a panic. The state machine owns its own
// buckets; buckets whose names start with "_cluster" are reserved.
type StateMachine interface {
	Apply(tx *bbolt.Tx, index uint64, cmds []*reboundv1.Command) []*reboundv1.CommandOutcome
}

// AppliedFunc observes every committed entry after its transaction commits,
// on every node. It runs on the FSM goroutine: it must not block (hand off to
// a channel). After a snapshot restore it is called once with nil cmds, which
// means "the whole state was replaced; reload".
type AppliedFunc func(index uint64, cmds []*reboundv1.Command, outcomes []*reboundv1.CommandOutcome)

// Config configures a Node. Zero values get LAN-friendly defaults.
type Config struct {
	// NodeID is this node's stable raft server ID.
	NodeID string
	// DataDir holds raft.db (log + stable store), fsm.db and snapshots/.
	DataDir string
	// RaftAddr is the TCP address the raft transport listens on.
	RaftAddr string
	// RaftAdvertise is the address peers dial; defaults to the bound RaftAddr.
	RaftAdvertise string
	// GRPCAdvertise is the address peers dial to reach this node's Cluster
	// gRPC service (leader forwarding, read index, join).
	GRPCAdvertise string
	// Join lists gRPC addresses of existing members. Empty and no existing
	// state: the node bootstraps a single-node cluster.
	Join []string

	// RaftTLS, when set, wraps the raft transport in TLS (used for both
	// accepting and dialing; set RootCAs/ClientCAs for verification).
	RaftTLS *tls.Config
	// PeerDialOptions are used to dial other members' gRPC services
	// (transport credentials). Default: insecure.
	PeerDialOptions []grpc.DialOption
	// PeerSecret, when set, must accompany every Cluster RPC in the
	// "x-rebound-cluster" metadata key, so that agents talking to the same
	// gRPC port cannot call the cluster service.
	PeerSecret string

	// StateMachine is the replicated state (required).
	StateMachine StateMachine
	// Clock stamps commands on the leader. Default time.Now.
	Clock func() time.Time
	// Logger receives the node's and raft's logs. Default slog.Default().
	Logger *slog.Logger

	// MaxBatch is the most commands in one raft entry (group commit).
	// 1 disables batching. Default 512.
	MaxBatch int
	// MaxWait is how long the batcher may wait to fill a batch once one
	// entry is already in flight. Default 0: batches form only from load.
	MaxWait time.Duration
	// MaxInflight is how many raft entries the batcher keeps in flight; while
	// they are, new commands queue up and go out together. Default 4.
	MaxInflight int

	// HeartbeatTimeout and ElectionTimeout default to 500 ms (LAN).
	HeartbeatTimeout time.Duration
	ElectionTimeout  time.Duration
	// SnapshotThreshold is the number of entries between snapshots (default
	// 8192); TrailingLogs how many entries stay after a snapshot (default 10240).
	SnapshotThreshold uint64
	TrailingLogs      uint64
	SnapshotInterval  time.Duration
	// ApplyTimeout bounds one write end to end when ctx has no deadline.
	ApplyTimeout time.Duration

	// wrapStream lets fault tests interpose on the raft transport.
	wrapStream func(StreamLayer) StreamLayer
}

// Errors callers may test for.
var (
	// ErrNoLeader means no leader was known before the context expired.
	ErrNoLeader = errors.New("cluster: no leader")
	// ErrClosed means the node was shut down.
	ErrClosed = errors.New("cluster: node closed")
)

// Status is a point-in-time view of the node, served on /healthz.
type Status struct {
	NodeID        string       `json:"node_id"`
	State         string       `json:"state"`
	LeaderID      string       `json:"leader_id"`
	LeaderAddr    string       `json:"leader_raft_addr"`
	Peers         []PeerStatus `json:"peers"`
	AppliedIndex  uint64       `json:"applied_index"`
	CommitIndex   uint64       `json:"commit_index"`
	LastIndex     uint64       `json:"last_index"`
	Term          uint64       `json:"term"`
	LastContactMs int64        `json:"last_contact_ms,omitempty"`
}

// PeerStatus is one member of the raft configuration.
type PeerStatus struct {
	NodeID   string `json:"node_id"`
	RaftAddr string `json:"raft_addr"`
	GRPCAddr string `json:"grpc_addr,omitempty"`
	Voter    bool   `json:"voter"`
}

func (c *Config) defaults() error {
	if c.NodeID == "" {
		return errors.New("cluster: node id is required")
	}
	if c.DataDir == "" {
		return errors.New("cluster: data dir is required")
	}
	if c.RaftAddr == "" {
		return errors.New("cluster: raft address is required")
	}
	if c.StateMachine == nil {
		return errors.New("cluster: state machine is required")
	}
	if c.Clock == nil {
		c.Clock = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.MaxBatch <= 0 {
		c.MaxBatch = 512
	}
	if c.MaxInflight <= 0 {
		c.MaxInflight = 4
	}
	if c.HeartbeatTimeout <= 0 {
		c.HeartbeatTimeout = 500 * time.Millisecond
	}
	if c.ElectionTimeout <= 0 {
		c.ElectionTimeout = 500 * time.Millisecond
	}
	if c.SnapshotThreshold == 0 {
		c.SnapshotThreshold = 8192
	}
	if c.TrailingLogs == 0 {
		c.TrailingLogs = 10240
	}
	if c.SnapshotInterval <= 0 {
		c.SnapshotInterval = 2 * time.Minute
	}
	if c.ApplyTimeout <= 0 {
		c.ApplyTimeout = 10 * time.Second
	}
	return nil
}

// deadline returns ctx bounded by the configured apply timeout when it has none.
func (n *Node) deadline(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, n.cfg.ApplyTimeout)
}

// timeoutOf turns a context deadline into a raft timeout (0 = none).
func timeoutOf(ctx context.Context) time.Duration {
	if d, ok := ctx.Deadline(); ok {
		t := time.Until(d)
		if t <= 0 {
			return time.Millisecond
		}
		return t
	}
	return 0
}
