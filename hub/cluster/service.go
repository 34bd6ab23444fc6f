package cluster

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"sync"

	"github.com/hashicorp/raft"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	reboundv1 "github.com/reboundhq/rebound/proto/rebound/v1"
)

// secretKey is the metadata key carrying Config.PeerSecret between members.
const secretKey = "x-rebound-cluster"

// service is the Cluster gRPC service of one node.
type service struct {
	reboundv1.UnimplementedClusterServer
	n *Node
}

func (s *service) check(ctx context.Context) error {
	if s.n.cfg.PeerSecret == "" {
		return nil
	}
	md, _ := metadata.FromIncomingContext(ctx)
	for _, v := range md.Get(secretKey) {
		if subtle.ConstantTimeCompare([]byte(v), []byte(s.n.cfg.PeerSecret)) == 1 {
			return nil
		}
	}
	return status.Error(codes.PermissionDenied, "cluster: peer secret missing or wrong")
}

// notLeader is the status a follower returns for leader-only calls; the
// caller may retry elsewhere because nothing was done.
func notLeader() error { return status.Error(codes.FailedPrecondition, "cluster: not the leader") }

func toStatus(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, raft.ErrNotLeader):
		return notLeader()
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, err.Error())
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, err.Error())
	default:
		// Leadership lost mid-flight, shutdown...: the outcome is unknown.
		return status.Error(codes.Aborted, err.Error())
	}
}

func (s *service) Apply(ctx context.Context, req *reboundv1.ApplyRequest) (*reboundv1.ApplyResponse, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	if !s.n.IsLeader() {
		return nil, notLeader()
	}
	cmds := req.GetBatch().GetCommands()
	if len(cmds) == 0 {
		return &reboundv1.ApplyResponse{}, nil
	}
	outs, idx, err := s.n.applyLocal(ctx, cmds)
	if err != nil {
		return nil, toStatus(err)
	}
	return &reboundv1.ApplyResponse{Index: idx, Outcomes: outs}, nil
}

func (s *service) ReadIndex(ctx context.Context, _ *reboundv1.ReadIndexRequest) (*reboundv1.ReadIndexResponse, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	if !s.n.IsLeader() {
		return nil, notLeader()
	}
	idx, err := s.n.reads.do(ctx, s.n.leaderReadIndex)
	if err != nil {
		if errors.Is(err, raft.ErrLeadershipLost) {
			return nil, notLeader()
		}
		return nil, toStatus(err)
	}
	return &reboundv1.ReadIndexResponse{Index: idx}, nil
}

func (s *service) Join(ctx context.Context, req *reboundv1.JoinRequest) (*reboundv1.JoinResponse, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	if err := s.n.Join(ctx, req.GetNodeId(), req.GetRaftAddr(), req.GetGrpcAddr()); err != nil {
		return nil, toStatus(err)
	}
	return &reboundv1.JoinResponse{LeaderId: s.n.LeaderID()}, nil
}

func (s *service) Remove(ctx context.Context, req *reboundv1.RemoveRequest) (*reboundv1.RemoveResponse, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	if err := s.n.Remove(ctx, req.GetNodeId()); err != nil {
		return nil, toStatus(err)
	}
	return &reboundv1.RemoveResponse{}, nil
}

func (s *service) Status(ctx context.Context, _ *reboundv1.StatusRequest) (*reboundv1.StatusResponse, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	st := s.n.Status()
	resp := &reboundv1.StatusResponse{
		NodeId: st.NodeID, State: st.State, LeaderId: st.LeaderID, LeaderRaftAddr: st.LeaderAddr,
		AppliedIndex: st.AppliedIndex, CommitIndex: st.CommitIndex,
	}
	for _, p := range st.Peers {
		resp.Peers = append(resp.Peers, &reboundv1.Peer{NodeId: p.NodeID, RaftAddr: p.RaftAddr, Voter: p.Voter})
	}
	return resp, nil
}

// retryable reports whether a forwarded call surely did nothing, or failed
// in a way a retry at the (new) leader should cover.
func retryable(err error) bool {
	if errors.Is(err, ErrNoLeader) {
		return true
	}
	switch status.Code(err) {
	case codes.FailedPrecondition, codes.Unavailable:
		return true
	}
	return false
}

// forward runs call against the current leader's Cluster service.
func (n *Node) forward(ctx context.Context, call func(context.Context, reboundv1.ClusterClient) error) error {
	_, id := n.raft.LeaderWithID()
	if id == "" {
		return ErrNoLeader
	}
	addr := n.fsm.member(string(id))
	if addr == "" {
		// The new leader has not recorded its address yet.
		return ErrNoLeader
	}
	if string(id) == n.cfg.NodeID {
		return notLeader() // raced with a leadership change
	}
	return call(n.peers.out(ctx), n.peers.client(addr))
}

func (n *Node) forwardApply(ctx context.Context, cmds []*reboundv1.Command) ([]*reboundv1.CommandOutcome, error) {
	var outs []*reboundv1.CommandOutcome
	err := n.forward(ctx, func(ctx context.Context, c reboundv1.ClusterClient) error {
		resp, err := c.Apply(ctx, &reboundv1.ApplyRequest{Batch: &reboundv1.CommandBatch{Commands: cmds}})
		if err != nil {
			return err
		}
		outs = resp.GetOutcomes()
		// Read-your-writes: do not return before this node has the entry.
		return n.WaitApplied(ctx, resp.GetIndex())
	})
	if err != nil {
		return nil, err
	}
	return outs, nil
}

func (n *Node) forwardReadIndex(ctx context.Context) (uint64, error) {
	var idx uint64
	err := n.forward(ctx, func(ctx context.Context, c reboundv1.ClusterClient) error {
		resp, err := c.ReadIndex(ctx, &reboundv1.ReadIndexRequest{})
		if err != nil {
			return err
		}
		idx = resp.GetIndex()
		return nil
	})
	return idx, err
}

// peerPool keeps one gRPC client connection per member address.
type peerPool struct {
	opts   []grpc.DialOption
	secret string
	mu     sync.Mutex
	conns  map[string]*grpc.ClientConn
}

func newPeerPool(opts []grpc.DialOption, secret string) *peerPool {
	if len(opts) == 0 {
		opts = []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}
	}
	return &peerPool{opts: opts, secret: secret, conns: map[string]*grpc.ClientConn{}}
}

func (p *peerPool) out(ctx context.Context) context.Context {
	if p.secret == "" {
		return ctx
	}
	return metadata.AppendToOutgoingContext(ctx, secretKey, p.secret)
}

func (p *peerPool) client(addr string) reboundv1.ClusterClient {
	p.mu.Lock()
	defer p.mu.Unlock()
	cc, ok := p.conns[addr]
	if !ok {
		var err error
		cc, err = grpc.NewClient(addr, p.opts...)
		if err != nil {
			return errClient{fmt.Errorf("cluster: dial %s: %w", addr, err)}
		}
		p.conns[addr] = cc
	}
	return reboundv1.NewClusterClient(cc)
}

func (p *peerPool) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for a, c := range p.conns {
		c.Close()
		delete(p.conns, a)
	}
}

// errClient is a ClusterClient whose every call fails (bad address).
type errClient struct{ err error }

func (e errClient) Apply(context.Context, *reboundv1.ApplyRequest, ...grpc.CallOption) (*reboundv1.ApplyResponse, error) {
	return nil, e.err
}
func (e errClient) ReadIndex(context.Context, *reboundv1.ReadIndexRequest, ...grpc.CallOption) (*reboundv1.ReadIndexResponse, error) {
	return nil, e.err
}
func (e errClient) Join(context.Context, *reboundv1.JoinRequest, ...grpc.CallOption) (*reboundv1.JoinResponse, error) {
	return nil, e.err
}
func (e errClient) Remove(context.Context, *reboundv1.RemoveRequest, ...grpc.CallOption) (*reboundv1.RemoveResponse, error) {
	return nil, e.err
}
func (e errClient) Status(context.Context, *reboundv1.StatusRequest, ...grpc.CallOption) (*reboundv1.StatusResponse, error) {
	return nil, e.err
}
