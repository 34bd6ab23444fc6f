// Package ingest owns the hub's side of the agent uplink: the AgentHub.Connect
// gRPC stream. It authenticates a site by its token, commits the records it
// receives as "call.ingest" commands (batched), acks them only after the
// commit, and sends commands (click-to-call, recording fetch) to connected
// agents.
package ingest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	reboundv1 "github.com/reboundhq/rebound/proto/rebound/v1"
)

// CmdIngest is the state-machine command for one call record.
const CmdIngest = "call.ingest"

// Site is an authenticated agent's identity.
type Site struct {
	ID       string
	TenantID string
}

// SiteAuthenticator checks a site token. Only a hash of it is stored.
type SiteAuthenticator interface {
	Authenticate(ctx context.Context, token string) (Site, error)
}

// Applier commits commands (a cluster.Node satisfies it).
type Applier interface {
	Apply(ctx context.Context, cmds ...*reboundv1.Command) ([]*reboundv1.CommandOutcome, error)
}

// ErrUnauthenticated is returned by authenticators for an unknown token.
var ErrUnauthenticated = errors.New("ingest: unknown site token")

// ErrNotConnected means the site has no agent connected to this node.
var ErrNotConnected = errors.New("ingest: site not connected to this hub node")

// Config configures a Server.
type Config struct {
	Auth   SiteAuthenticator
	Store  Applier
	NodeID string
	// LeaderID reports the cluster leader for the Welcome message (optional).
	LeaderID func() string
	Logger   *slog.Logger
	// MaxBatch is the most records per Apply call (default 256).
	MaxBatch int
	// OnResult receives command results from agents (for example dial
	// results, which hub.go turns into state commands), each on its own
	// goroutine; recording chunks go only to the fetcher. Optional.
	OnResult func(site Site, res *reboundv1.CommandResult)
	// Registerer receives the ingest metrics (optional).
	Registerer prometheus.Registerer
}

// Server implements reboundv1.AgentHubServer.
type Server struct {
	reboundv1.UnimplementedAgentHubServer
	cfg Config
	log *slog.Logger

	mu       sync.Mutex
	sessions map[string]*session

	records  prometheus.Counter
	batches  prometheus.Counter
	rejected prometheus.Counter
	connects *prometheus.CounterVec
	conns    prometheus.Gauge
}

// New returns a Server.
func New(cfg Config) (*Server, error) {
	if cfg.Auth == nil || cfg.Store == nil {
		return nil, errors.New("ingest: Auth and Store are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = 256
	}
	s := &Server{
		cfg: cfg, log: cfg.Logger.With("component", "ingest"), sessions: map[string]*session{},
		records:  prometheus.NewCounter(prometheus.CounterOpts{Name: "rebound_ingest_records_total", Help: "Call records committed and acked."}),
		batches:  prometheus.NewCounter(prometheus.CounterOpts{Name: "rebound_ingest_batches_total", Help: "Apply calls made by ingest."}),
		rejected: prometheus.NewCounter(prometheus.CounterOpts{Name: "rebound_ingest_rejected_total", Help: "Records the state machine rejected (acked, logged)."}),
		connects: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "rebound_ingest_connects_total", Help: "Agent stream attempts by result."}, []string{"result"}),
		conns:    prometheus.NewGauge(prometheus.GaugeOpts{Name: "rebound_ingest_connected_agents", Help: "Agents connected to this node."}),
	}
	if cfg.Registerer != nil {
		for _, c := range []prometheus.Collector{s.records, s.batches, s.rejected, s.connects, s.conns} {
			if err := cfg.Registerer.Register(c); err != nil {
				return nil, fmt.Errorf("ingest metrics: %w", err)
			}
		}
	}
	return s, nil
}

// Register adds the AgentHub service to gs.
func (s *Server) Register(gs grpc.ServiceRegistrar) { reboundv1.RegisterAgentHubServer(gs, s) }

// session is one connected agent stream.
type session struct {
	site   Site
	stream grpc.BidiStreamingServer[reboundv1.AgentMessage, reboundv1.HubMessage]
	sendMu sync.Mutex
	done   chan struct{}

	mu        sync.Mutex
	pending   map[string]chan *reboundv1.CommandResult
	heartbeat *reboundv1.Heartbeat
	hello     *reboundv1.Hello
	since     time.Time
}

func (ss *session) send(m *reboundv1.HubMessage) error {
	ss.sendMu.Lock()
	defer ss.sendMu.Unlock()
	return ss.stream.Send(m)
}

// SessionInfo describes a connected agent.
type SessionInfo struct {
	SiteID      string            `json:"site_id"`
	TenantID    string            `json:"tenant_id"`
	Hostname    string            `json:"hostname"`
	Version     string            `json:"agent_version"`
	Since       time.Time         `json:"since"`
	OutboxDepth uint64            `json:"outbox_depth"`
	Counters    map[string]uint64 `json:"counters,omitempty"`
}

// Sessions lists the agents connected to this node.
func (s *Server) Sessions() []SessionInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []SessionInfo
	for _, ss := range s.sessions {
		ss.mu.Lock()
		si := SessionInfo{SiteID: ss.site.ID, TenantID: ss.site.TenantID, Since: ss.since,
			Hostname: ss.hello.GetHostname(), Version: ss.hello.GetAgentVersion(), OutboxDepth: ss.hello.GetOutboxDepth()}
		if hb := ss.heartbeat; hb != nil {
			si.OutboxDepth, si.Counters = hb.GetOutboxDepth(), hb.GetCounters()
		}
		ss.mu.Unlock()
		out = append(out, si)
	}
	return out
}

func bearer(ctx context.Context) string {
	md, _ := metadata.FromIncomingContext(ctx)
	for _, v := range md.Get("authorization") {
		if t, ok := strings.CutPrefix(v, "Bearer "); ok {
			return strings.TrimSpace(t)
		}
	}
	return ""
}

// Connect serves one agent stream.
func (s *Server) Connect(stream grpc.BidiStreamingServer[reboundv1.AgentMessage, reboundv1.HubMessage]) error {
	ctx := stream.Context()
	site, err := s.cfg.Auth.Authenticate(ctx, bearer(ctx))
	if err != nil {
		s.connects.WithLabelValues("unauthenticated").Inc()
		if errors.Is(err, ErrUnauthenticated) {
			return status.Error(codes.Unauthenticated, "unknown site token")
		}
		return status.Errorf(codes.Unavailable, "site token check: %v", err)
	}
	first, err := stream.Recv()
	if err != nil {
		return err
	}
	hello := first.GetHello()
	if hello == nil {
		s.connects.WithLabelValues("protocol").Inc()
		return status.Error(codes.InvalidArgument, "first message must be hello")
	}
	if hello.GetSiteId() != "" && hello.GetSiteId() != site.ID {
		s.connects.WithLabelValues("denied").Inc()
		return status.Errorf(codes.PermissionDenied, "token belongs to another site than %q", hello.GetSiteId())
	}
	ss := &session{site: site, stream: stream, done: make(chan struct{}), pending: map[string]chan *reboundv1.CommandResult{},
		hello: hello, since: time.Now()}
	leader := ""
	if s.cfg.LeaderID != nil {
		leader = s.cfg.LeaderID()
	}
	if err := ss.send(&reboundv1.HubMessage{Msg: &reboundv1.HubMessage_Welcome{Welcome: &reboundv1.Welcome{
		NodeId: s.cfg.NodeID, LeaderId: leader, TenantId: site.TenantID}}}); err != nil {
		return err
	}
	s.connects.WithLabelValues("ok").Inc()
	s.attach(ss)
	defer s.detach(ss)
	log := s.log.With("site", site.ID, "tenant", site.TenantID)
	log.Info("agent connected", "hostname", hello.GetHostname(), "version", hello.GetAgentVersion(), "outbox", hello.GetOutboxDepth())

	recs := make(chan *reboundv1.CallRecord, 4*s.cfg.MaxBatch)
	applyErr := make(chan error, 1)
	go func() { applyErr <- s.applyLoop(ctx, ss, recs, log) }()

	go func() {
		recvErr := s.recvLoop(ss, recs, log)
		close(recs) // the apply loop commits what arrived, then returns nil
		if recvErr != nil && !errors.Is(recvErr, io.EOF) && status.Code(recvErr) != codes.Canceled {
			log.Info("agent disconnected", "err", recvErr)
		}
	}()
	// Returning ends the stream (and unblocks the receiver): on a commit
	// failure the agent reconnects and resends what it has not seen acked.
	if aerr := <-applyErr; aerr != nil {
		log.Warn("agent stream ended: commit failed", "err", aerr)
		return status.Errorf(codes.Unavailable, "commit: %v", aerr)
	}
	return nil
}

func (s *Server) recvLoop(ss *session, recs chan<- *reboundv1.CallRecord, log *slog.Logger) error {
	for {
		m, err := ss.stream.Recv()
		if err != nil {
			return err
		}
		switch v := m.GetMsg().(type) {
		case *reboundv1.AgentMessage_Record:
			if v.Record.GetRecordId() == "" {
				log.Warn("record without record_id dropped", "call_id", v.Record.GetCallId())
				continue
			}
			select {
			case recs <- v.Record:
			case <-ss.stream.Context().Done():
				return ss.stream.Context().Err()
			}
		case *reboundv1.AgentMessage_Heartbeat:
			ss.mu.Lock()
			ss.heartbeat = v.Heartbeat
			ss.mu.Unlock()
		case *reboundv1.AgentMessage_Result:
			s.deliver(ss, v.Result)
		case *reboundv1.AgentMessage_Hello:
			log.Warn("repeated hello ignored")
		}
	}
}

// applyLoop commits records in batches of whatever has arrived and acks
// each batch after the commit. An Apply error ends the stream: the agent
// reconnects and resends everything it has not seen acked.
func (s *Server) applyLoop(ctx context.Context, ss *session, recs <-chan *reboundv1.CallRecord, log *slog.Logger) error {
	for {
		r, ok := <-recs
		if !ok {
			return nil
		}
		batch := []*reboundv1.CallRecord{r}
	gather:
		for len(batch) < s.cfg.MaxBatch {
			select {
			case r, ok := <-recs:
				if !ok {
					break gather
				}
				batch = append(batch, r)
			default:
				break gather
			}
		}
		cmds := make([]*reboundv1.Command, 0, len(batch))
		ids := make([]string, 0, len(batch))
		for _, r := range batch {
			cmd, err := IngestCommand(ss.site, r)
			if err != nil {
				log.Error("record not encodable; dropped", "record_id", r.GetRecordId(), "err", err)
				continue
			}
			cmds = append(cmds, cmd)
			ids = append(ids, r.GetRecordId())
		}
		outs, err := s.cfg.Store.Apply(ctx, cmds...)
		if err != nil {
			return err
		}
		s.batches.Inc()
		for i, o := range outs {
			if o.GetError() != "" {
				// Committed as rejected: resending cannot change that.
				s.rejected.Inc()
				log.Warn("record rejected by state", "record_id", ids[i], "code", o.GetErrorCode(), "err", o.GetError())
			}
		}
		if err := ss.send(&reboundv1.HubMessage{Msg: &reboundv1.HubMessage_Ack{Ack: &reboundv1.Ack{RecordIds: ids}}}); err != nil {
			return nil // the stream is gone; the agent resends, ingest is idempotent
		}
		s.records.Add(float64(len(ids)))
	}
}

// IngestCommand builds the "call.ingest" command for a record from site.
// The site id always comes from the authenticated token, never the record.
func IngestCommand(site Site, r *reboundv1.CallRecord) (*reboundv1.Command, error) {
	if r.GetSiteId() != site.ID {
		r = proto.Clone(r).(*reboundv1.CallRecord)
		r.SiteId = site.ID
	}
	body, err := proto.Marshal(r)
	if err != nil {
		return nil, err
	}
	// No request id: call.ingest is idempotent by record id in the state
	// itself, and a resend should report "duplicate", not replay the first
	// outcome.
	return &reboundv1.Command{Version: 1, Type: CmdIngest, Actor: "agent:" + site.ID, TenantId: site.TenantID,
		Body: body}, nil
}

func (s *Server) attach(ss *session) {
	s.mu.Lock()
	old := s.sessions[ss.site.ID]
	s.sessions[ss.site.ID] = ss
	s.mu.Unlock()
	if old == nil {
		s.conns.Inc()
	}
}

func (s *Server) detach(ss *session) {
	s.mu.Lock()
	if s.sessions[ss.site.ID] == ss {
		delete(s.sessions, ss.site.ID)
		s.conns.Dec()
	}
	s.mu.Unlock()
	close(ss.done)
	ss.mu.Lock()
	for id, ch := range ss.pending {
		close(ch)
		delete(ss.pending, id)
	}
	ss.mu.Unlock()
}

func (s *Server) deliver(ss *session, res *reboundv1.CommandResult) {
	if s.cfg.OnResult != nil && len(res.GetChunk()) == 0 {
		// Off the receive goroutine: recording a result is a raft write and
		// must not stall the records behind it.
		go s.cfg.OnResult(ss.site, res)
	}
	ss.mu.Lock()
	ch, ok := ss.pending[res.GetCommandId()]
	final := res.GetLast() || len(res.GetChunk()) == 0
	if ok && final {
		delete(ss.pending, res.GetCommandId())
	}
	ss.mu.Unlock()
	if !ok {
		return
	}
	select {
	case ch <- res:
	case <-ss.done:
	}
	if final {
		close(ch)
	}
}

// SendCommand sends cmd to the site's agent and returns a channel of its
// results: one for most commands, a sequence of chunks for FetchRecording.
// The channel is closed after the final result or when the agent goes away
// (a closed channel without a final result means "unknown").
func (s *Server) SendCommand(ctx context.Context, siteID string, cmd *reboundv1.AgentCommand) (<-chan *reboundv1.CommandResult, error) {
	s.mu.Lock()
	ss := s.sessions[siteID]
	s.mu.Unlock()
	if ss == nil {
		return nil, ErrNotConnected
	}
	if cmd.GetId() == "" {
		cmd = proto.Clone(cmd).(*reboundv1.AgentCommand)
		var b [12]byte
		_, _ = rand.Read(b[:])
		cmd.Id = "c_" + hex.EncodeToString(b[:])
	}
	ch := make(chan *reboundv1.CommandResult, 16)
	ss.mu.Lock()
	ss.pending[cmd.GetId()] = ch
	ss.mu.Unlock()
	if err := ss.send(&reboundv1.HubMessage{Msg: &reboundv1.HubMessage_Command{Command: cmd}}); err != nil {
		ss.mu.Lock()
		delete(ss.pending, cmd.GetId())
		ss.mu.Unlock()
		return nil, fmt.Errorf("ingest: send command: %w", err)
	}
	return ch, nil
}

// Dial sends a click-to-call command and returns once the agent has it;
// the result arrives through Config.OnResult.
func (s *Server) Dial(ctx context.Context, siteID string, cmd *reboundv1.AgentCommand) error {
	_, err := s.SendCommand(ctx, siteID, cmd)
	return err
}

// FetchRecording pulls a recording from the site's agent into memory
// (bounded by max bytes).
func (s *Server) FetchRecording(ctx context.Context, siteID, ref string, max int64) ([]byte, error) {
	ch, err := s.SendCommand(ctx, siteID, &reboundv1.AgentCommand{Cmd: &reboundv1.AgentCommand_FetchRecording{
		FetchRecording: &reboundv1.FetchRecording{Ref: ref}}})
	if err != nil {
		return nil, err
	}
	var buf []byte
	for {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case r, ok := <-ch:
			if !ok {
				return nil, errors.New("ingest: agent went away during fetch")
			}
			if !r.GetOk() {
				return nil, fmt.Errorf("ingest: agent: %s", r.GetError())
			}
			if int64(len(buf))+int64(len(r.GetChunk())) > max {
				return nil, fmt.Errorf("ingest: recording larger than %d bytes", max)
			}
			buf = append(buf, r.GetChunk()...)
			if r.GetLast() {
				return buf, nil
			}
		}
	}
}

// maxRecording bounds a recording fetched into memory (a one-hour stereo
// 8 kHz 16-bit WAV is about 115 MB; CSR calls are far shorter).
const maxRecording = 256 << 20

// Open fetches a recording from the site's agent for playback, with Range
// support through the returned ReadSeeker (it satisfies hub/api's
// Recordings). The modification time is unknown, so it is zero.
func (s *Server) Open(ctx context.Context, siteID, ref string) (io.ReadSeekCloser, time.Time, error) {
	b, err := s.FetchRecording(ctx, siteID, ref, maxRecording)
	if err != nil {
		return nil, time.Time{}, err
	}
	return nopCloser{bytes.NewReader(b)}, time.Time{}, nil
}

type nopCloser struct{ *bytes.Reader }

func (nopCloser) Close() error { return nil }
