// Package hub composes one hub node: the raft cluster node and its replicated
// state, the agent ingest gRPC service, and the HTTP server (/healthz,
// /metrics, and the API and web UI mounted by their owners).
package hub

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.etcd.io/bbolt"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/reboundhq/rebound/hub/api"
	"github.com/reboundhq/rebound/hub/cluster"
	"github.com/reboundhq/rebound/hub/ingest"
	"github.com/reboundhq/rebound/hub/scheduler"
	"github.com/reboundhq/rebound/hub/scoring"
	"github.com/reboundhq/rebound/hub/state"
	"github.com/reboundhq/rebound/hub/web"
	reboundv1 "github.com/reboundhq/rebound/proto/rebound/v1"
)

// Config is the hub's YAML config (docs/examples/hub.yaml); flags override it.
type Config struct {
	DataDir  string   `yaml:"data_dir"`
	NodeID   string   `yaml:"node_id"`
	HTTPAddr string   `yaml:"http_addr"`
	GRPCAddr string   `yaml:"grpc_addr"`
	RaftAddr string   `yaml:"raft_addr"`
	Join     []string `yaml:"join"`
	// Advertised addresses, when the bind addresses are not reachable as-is
	// (":9090" binds everywhere; peers need a host).
	AdvertiseGRPC string `yaml:"advertise_grpc"`
	AdvertiseRaft string `yaml:"advertise_raft"`
	// ClusterSecretFile holds a shared secret every member sends on cluster
	// RPCs, so agents on the same gRPC port cannot call them.
	ClusterSecretFile string        `yaml:"cluster_secret_file"`
	TLS               TLSConfig     `yaml:"tls"`
	Log               LogConfig     `yaml:"log"`
	Batch             BatchConfig   `yaml:"batch"`
	Raft              RaftTimeouts  `yaml:"raft"`
	Snapshot          SnapshotTunes `yaml:"snapshot"`
}

// TLSConfig secures gRPC (agents and peers) and optionally raft.
type TLSConfig struct {
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// CAFile verifies peers' certificates (cluster traffic).
	CAFile string `yaml:"ca_file"`
	// ClientCAFile, when set, requires agents and peers to present a
	// certificate signed by it (mTLS).
	ClientCAFile string `yaml:"client_ca_file"`
	// Raft also wraps the raft transport in TLS (mutual, with CAFile).
	Raft bool `yaml:"raft"`
	// SelfSigned creates a CA and node certificate under data_dir/tls on
	// first start, for a quick start.
	SelfSigned bool `yaml:"self_signed"`
}

// LogConfig selects the log format and level.
type LogConfig struct {
	Format string `yaml:"format"` // json or text
	Level  string `yaml:"level"`  // debug, info, warn, error
}

// BatchConfig tunes group commit.
type BatchConfig struct {
	MaxCommands int           `yaml:"max_commands"`
	MaxWait     time.Duration `yaml:"max_wait"`
}

// RaftTimeouts tunes failure detection (defaults suit a LAN).
type RaftTimeouts struct {
	HeartbeatTimeout time.Duration `yaml:"heartbeat_timeout"`
	ElectionTimeout  time.Duration `yaml:"election_timeout"`
}

// SnapshotTunes controls snapshot frequency.
type SnapshotTunes struct {
	Threshold    uint64        `yaml:"threshold"`
	TrailingLogs uint64        `yaml:"trailing_logs"`
	Interval     time.Duration `yaml:"interval"`
}

// Defaults returns the built-in configuration.
func Defaults() Config {
	host, _ := os.Hostname()
	return Config{
		DataDir: "rebound-hub", NodeID: host,
		HTTPAddr: ":8080", GRPCAddr: ":9090", RaftAddr: ":9190",
		Log: LogConfig{Format: "text", Level: "info"},
	}
}

// Validate reports the first invalid value, naming its key.
func (c *Config) Validate() error {
	if c.DataDir == "" {
		return errors.New("data_dir: required")
	}
	if c.NodeID == "" || strings.ContainsAny(c.NodeID, " /\\") {
		return fmt.Errorf("node_id: %q is empty or has spaces or slashes", c.NodeID)
	}
	for key, a := range map[string]string{"http_addr": c.HTTPAddr, "grpc_addr": c.GRPCAddr, "raft_addr": c.RaftAddr} {
		if _, _, err := net.SplitHostPort(a); err != nil {
			return fmt.Errorf("%s: %q is not host:port", key, a)
		}
	}
	for _, j := range c.Join {
		if _, _, err := net.SplitHostPort(j); err != nil {
			return fmt.Errorf("join: %q is not host:port", j)
		}
	}
	if (c.TLS.CertFile == "") != (c.TLS.KeyFile == "") {
		return errors.New("tls: cert_file and key_file go together")
	}
	if c.TLS.SelfSigned && c.TLS.CertFile != "" {
		return errors.New("tls: self_signed and cert_file exclude each other")
	}
	if c.TLS.Raft && c.TLS.CertFile == "" && !c.TLS.SelfSigned {
		return errors.New("tls.raft: needs cert_file/key_file or self_signed")
	}
	switch c.Log.Format {
	case "", "json", "text":
	default:
		return fmt.Errorf("log.format: %q is not json or text", c.Log.Format)
	}
	if c.Batch.MaxCommands < 0 || c.Batch.MaxWait < 0 {
		return errors.New("batch: values must not be negative")
	}
	return nil
}

// advertise turns ":9090" into "<hostname>:9090" for peers.
func advertise(bind, explicit string) string {
	if explicit != "" {
		return explicit
	}
	host, port, err := net.SplitHostPort(bind)
	if err != nil || (host != "" && host != "0.0.0.0" && host != "::") {
		return bind
	}
	h, _ := os.Hostname()
	if h == "" {
		h = "127.0.0.1"
	} else if _, err := net.LookupHost(h); err != nil {
		// An unresolvable hostname would stop even a single node from
		// starting; a multi-node cluster sets advertise_* explicitly.
		h = "127.0.0.1"
	}
	return net.JoinHostPort(h, port)
}

// Server is one running hub node.
type Server struct {
	cfg      Config
	log      *slog.Logger
	Node     *cluster.Node
	State    *state.Machine
	Ingest   *ingest.Server
	API      *api.API
	Registry *prometheus.Registry

	mux      *http.ServeMux
	grpc     *grpc.Server
	grpcLis  net.Listener
	httpLis  net.Listener
	starters []func(ctx context.Context) error
}

// New opens the node's data and prepares its services; Run serves them.
func New(cfg Config, log *slog.Logger) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.Default()
	}
	s := &Server{cfg: cfg, log: log, Registry: prometheus.NewRegistry(), mux: http.NewServeMux()}
	s.Registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	// Listen first so ":0" resolves to real ports before peers learn them.
	var err error
	if s.grpcLis, err = net.Listen("tcp", cfg.GRPCAddr); err != nil {
		return nil, fmt.Errorf("grpc_addr: %w", err)
	}
	if s.httpLis, err = net.Listen("tcp", cfg.HTTPAddr); err != nil {
		s.grpcLis.Close()
		return nil, fmt.Errorf("http_addr: %w", err)
	}
	ok := false
	defer func() {
		if !ok {
			s.grpcLis.Close()
			s.httpLis.Close()
			if s.Node != nil {
				s.Node.Close()
			}
		}
	}()

	serverTLS, peerTLS, err := s.tls()
	if err != nil {
		return nil, err
	}
	var gopts []grpc.ServerOption
	peerDial := []grpc.DialOption{}
	if serverTLS != nil {
		gopts = append(gopts, grpc.Creds(credentials.NewTLS(serverTLS)))
		peerDial = append(peerDial, grpc.WithTransportCredentials(credentials.NewTLS(peerTLS)))
	}
	secret := ""
	if cfg.ClusterSecretFile != "" {
		b, err := os.ReadFile(cfg.ClusterSecretFile)
		if err != nil {
			return nil, fmt.Errorf("cluster_secret_file: %w", err)
		}
		secret = strings.TrimSpace(string(b))
	} else if len(cfg.Join) > 0 {
		log.Warn("no cluster_secret_file: any client of the gRPC port can call the cluster service")
	}

	s.State = state.New(log.With("component", "state"))
	ccfg := cluster.Config{
		NodeID: cfg.NodeID, DataDir: filepath.Join(cfg.DataDir, "raft"),
		RaftAddr: cfg.RaftAddr, RaftAdvertise: advertise(cfg.RaftAddr, cfg.AdvertiseRaft),
		GRPCAdvertise: advertise(s.grpcLis.Addr().String(), cfg.AdvertiseGRPC),
		Join:          cfg.Join, PeerDialOptions: peerDial, PeerSecret: secret,
		StateMachine: s.State, Logger: log.With("component", "cluster"),
		MaxBatch: cfg.Batch.MaxCommands, MaxWait: cfg.Batch.MaxWait,
		HeartbeatTimeout: cfg.Raft.HeartbeatTimeout, ElectionTimeout: cfg.Raft.ElectionTimeout,
		SnapshotThreshold: cfg.Snapshot.Threshold, TrailingLogs: cfg.Snapshot.TrailingLogs, SnapshotInterval: cfg.Snapshot.Interval,
	}
	if cfg.TLS.Raft {
		ccfg.RaftTLS = peerTLS.Clone()
		ccfg.RaftTLS.Certificates = serverTLS.Certificates
		ccfg.RaftTLS.ClientCAs = peerTLS.RootCAs
		ccfg.RaftTLS.ClientAuth = tls.RequireAndVerifyClientCert
	}
	if s.Node, err = cluster.New(ccfg); err != nil {
		return nil, err
	}
	s.Registry.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "rebound_raft_applied_index", Help: "Last raft index applied to this node's state."},
			func() float64 { return float64(s.Node.AppliedIndex()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "rebound_raft_leader", Help: "1 if this node is the raft leader."},
			func() float64 {
				if s.Node.IsLeader() {
					return 1
				}
				return 0
			}),
	)

	if s.Ingest, err = ingest.New(ingest.Config{
		Auth: siteAuth{s.Node}, Store: s.Node, NodeID: cfg.NodeID, LeaderID: s.Node.LeaderID,
		Logger: log, Registerer: s.Registry,
		OnResult: func(_ ingest.Site, res *reboundv1.CommandResult) {
			if s.API != nil {
				if err := s.API.DialResult(context.Background(), res); err != nil {
					log.Warn("dial result", "err", err)
				}
			}
		},
	}); err != nil {
		return nil, err
	}
	s.grpc = grpc.NewServer(gopts...)
	s.Node.Register(s.grpc)
	s.Ingest.Register(s.grpc)

	s.mux.HandleFunc("GET /healthz", s.healthz)
	s.mux.HandleFunc("GET /admin/backup", s.backup)
	s.mux.Handle("GET /metrics", promhttp.HandlerFor(s.Registry, promhttp.HandlerOpts{Registry: s.Registry}))

	if err := s.wire(); err != nil {
		return nil, err
	}
	ok = true
	return s, nil
}

// wire connects the hub's feature services to the node. Owners add their
// service here with Mount (HTTP) and Start (background loops):
//   - hub/api (WORKFLOW): Store = s.Node, Dialer = s.Ingest, mounted at /api/v1/
//   - hub/web (WEB): UI at /, SSE fed by s.Node.OnApplied
//   - hub/scheduler (WORKFLOW): s.Start(scheduler.Run), leader gating via s.Node.IsLeader
func (s *Server) wire() error {
	if err := s.wireWorkflow(); err != nil {
		return err
	}
	if err := s.wireWeb(); err != nil {
		return err
	}
	return nil
}

// wireWorkflow mounts the JSON API at /api/v1/ and runs the leader-only scheduler
// (ACW expiry -> review with the scoring reviewer, retraining).
func (s *Server) wireWorkflow() error {
	s.API = api.New(api.Config{Store: s.Node, Logger: s.log.With("component", "api"), Dialer: s.Ingest,
		Recordings: api.FetchedRecordings{Fetch: s.Ingest.FetchRecording}})
	s.Mount("/api/v1/", s.API.Handler())
	rev, err := scoring.NewReviewer(nil, s.log.With("component", "scoring"))
	if err != nil {
		return fmt.Errorf("scoring: %w", err)
	}
	sch := scheduler.New(scheduler.Config{Store: s.Node, Leader: s.Node, Reviewer: rev, Trainer: rev,
		Logger: s.log.With("component", "scheduler")})
	s.Start(sch.Run)
	return nil
}

// wireWeb mounts the web UI at "/" and its live stream, fed by every entry
// this node applies. The UI asks the API mounted on the same mux who is
// signed in, so it works whatever order the API is mounted in.
func (s *Server) wireWeb() error {
	wlog := s.log.With("component", "web")
	broker := web.NewBroker(web.BrokerConfig{}, wlog)
	s.Node.OnApplied(broker.Hook())
	ui, err := web.New(web.Config{API: s.mux, Broker: broker, Log: wlog})
	if err != nil {
		return err
	}
	s.Mount("/", ui)
	return nil
}

// Mount serves h at pattern on the HTTP address.
func (s *Server) Mount(pattern string, h http.Handler) { s.mux.Handle(pattern, h) }

// Start runs fn for the server's lifetime (from Run until shutdown).
func (s *Server) Start(fn func(ctx context.Context) error) { s.starters = append(s.starters, fn) }

// HTTPAddr and GRPCAddr are the bound addresses (useful with ":0").
func (s *Server) HTTPAddr() string { return s.httpLis.Addr().String() }

// GRPCAddr is the bound gRPC address.
func (s *Server) GRPCAddr() string { return s.grpcLis.Addr().String() }

// Run serves until ctx ends, then shuts down in order: HTTP, gRPC, raft.
func (s *Server) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 2+len(s.starters))
	hs := &http.Server{Handler: s.mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { errc <- fmt.Errorf("http: %w", hs.Serve(s.httpLis)) }()
	go func() { errc <- fmt.Errorf("grpc: %w", s.grpc.Serve(s.grpcLis)) }()
	for _, fn := range s.starters {
		go func() {
			if err := fn(ctx); err != nil && ctx.Err() == nil {
				s.log.Error("hub service stopped", "err", err)
			}
		}()
	}
	s.log.Info("hub node running", "node", s.cfg.NodeID, "http", s.HTTPAddr(), "grpc", s.GRPCAddr(), "raft", s.cfg.RaftAddr)
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	cancel()
	sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
	_ = hs.Shutdown(sctx)
	scancel()
	stopped := make(chan struct{})
	go func() { s.grpc.GracefulStop(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(5 * time.Second):
		s.grpc.Stop()
	}
	if cerr := s.Node.Close(); cerr != nil && err == nil {
		err = cerr
	}
	return err
}

type health struct {
	cluster.Status
	Agents []ingest.SessionInfo `json:"agents"`
}

func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	st := health{Status: s.Node.Status(), Agents: s.Ingest.Sessions()}
	w.Header().Set("Content-Type", "application/json")
	if st.LeaderID == "" {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	_ = json.NewEncoder(w).Encode(st)
}

// backup streams a consistent copy of the state. It is served only to
// clients on the loopback interface (an operator on the node itself, via
// `rebound hub backup`): it holds every tenant's data.
func (s *Server) backup(w http.ResponseWriter, r *http.Request) {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
		http.Error(w, "backup is served to loopback clients only", http.StatusForbidden)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Disposition", `attachment; filename="rebound-`+s.cfg.NodeID+`.db"`)
	if _, err := s.Node.Backup(w); err != nil {
		s.log.Error("backup failed", "err", err)
	}
}

// siteAuth verifies site tokens against the replicated state (hash only).
type siteAuth struct{ n *cluster.Node }

func (a siteAuth) Authenticate(ctx context.Context, token string) (ingest.Site, error) {
	var site ingest.Site
	var ok bool
	err := a.n.View(ctx, false, func(tx *bbolt.Tx) error {
		site.ID, site.TenantID, ok = state.VerifySiteToken(tx, token)
		return nil
	})
	if err != nil {
		return site, err
	}
	if !ok {
		return site, ingest.ErrUnauthenticated
	}
	return site, nil
}

// tls builds the gRPC server config and the config used to dial peers.
func (s *Server) tls() (server, peer *tls.Config, err error) {
	t := s.cfg.TLS
	if t.SelfSigned {
		dir := filepath.Join(s.cfg.DataDir, "tls")
		if _, serr := os.Stat(filepath.Join(dir, ingest.CertFile)); serr != nil {
			host, _ := os.Hostname()
			if err := ingest.GenerateCerts(dir, []string{host, "localhost", "127.0.0.1", "::1"}, time.Now()); err != nil {
				return nil, nil, err
			}
			s.log.Info("created a self-signed CA and node certificate; give agents the CA", "ca", filepath.Join(dir, ingest.CAFile))
		}
		t.CertFile, t.KeyFile = filepath.Join(dir, ingest.CertFile), filepath.Join(dir, ingest.KeyFile)
		if t.CAFile == "" {
			t.CAFile = filepath.Join(dir, ingest.CAFile)
		}
	}
	if t.CertFile == "" {
		return nil, nil, nil
	}
	if server, err = ingest.ServerTLS(t.CertFile, t.KeyFile, t.ClientCAFile); err != nil {
		return nil, nil, fmt.Errorf("tls: %w", err)
	}
	if peer, err = ingest.ClientTLS(t.CAFile, t.CertFile, t.KeyFile, ""); err != nil {
		return nil, nil, fmt.Errorf("tls: %w", err)
	}
	return server, peer, nil
}
