// Package agent composes a site agent: capture sources feed the SIP/RTP
// pipeline, finished call records go to the durable outbox, and the uplink
// drains the outbox to the hub. It also serves /healthz and /metrics.
package agent

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/reboundhq/rebound/agent/calls"
	"github.com/reboundhq/rebound/agent/capture"
	"github.com/reboundhq/rebound/agent/outbox"
	"github.com/reboundhq/rebound/agent/pipeline"
	reboundv1 "github.com/reboundhq/rebound/proto/rebound/v1"
	"github.com/reboundhq/rebound/recorder"
	"github.com/reboundhq/rebound/sip/dialer"
	"github.com/reboundhq/rebound/transcribe"
)

// Config is the agent's YAML config (docs/examples/agent.yaml).
type Config struct {
	SiteID     string          `yaml:"site_id"`
	DataDir    string          `yaml:"data_dir"`
	HTTPAddr   string          `yaml:"http_addr"`
	Hub        HubConfig       `yaml:"hub"`
	Capture    CaptureConfig   `yaml:"capture"`
	Recordings recorder.Config `yaml:"recordings"`
	Calls      calls.Config    `yaml:"calls"`
	// Transcribe runs speech-to-text on site, per channel, before anything leaves.
	Transcribe transcribe.Config `yaml:"transcribe"`
	Log        LogConfig         `yaml:"log"`
	// Dialer places click-to-calls through the PBX (empty proxy: off).
	Dialer dialer.Config `yaml:"dialer"`
}

// HubConfig says where and how to ship records.
type HubConfig struct {
	// Addresses are hub gRPC addresses; any node accepts records.
	Addresses []string `yaml:"addresses"`
	// TokenFile holds the site token (created by a hub admin).
	TokenFile string    `yaml:"token_file"`
	TLS       TLSConfig `yaml:"tls"`
}

// TLSConfig secures the uplink.
type TLSConfig struct {
	// Insecure sends plaintext (loopback tests only).
	Insecure   bool   `yaml:"insecure"`
	CAFile     string `yaml:"ca_file"`
	CertFile   string `yaml:"cert_file"`
	KeyFile    string `yaml:"key_file"`
	ServerName string `yaml:"server_name"`
}

// CaptureConfig lists the packet sources; they can be combined.
type CaptureConfig struct {
	Pcap []string `yaml:"pcap"`
	// PcapSpeed replays files in capture time (0: as fast as possible).
	PcapSpeed float64     `yaml:"pcap_speed"`
	Sniff     SniffConfig `yaml:"sniff"`
	HEP       HEPConfig   `yaml:"hep"`
	SIPPorts  []uint16    `yaml:"sip_ports"`
}

// SniffConfig is a live AF_PACKET capture on a mirror port.
type SniffConfig struct {
	Interface string `yaml:"interface"`
}

// HEPConfig is a HEPv3 listener (UDP and TCP).
type HEPConfig struct {
	Listen  string `yaml:"listen"`
	AuthKey string `yaml:"auth_key"`
}

// LogConfig selects the log format and level.
type LogConfig struct {
	Format string `yaml:"format"`
	Level  string `yaml:"level"`
}

// Defaults returns the built-in configuration.
func Defaults() Config {
	return Config{DataDir: "rebound-agent", HTTPAddr: ":9100", Log: LogConfig{Format: "text", Level: "info"}}
}

// Validate reports the first invalid value, naming its key.
func (c *Config) Validate() error {
	if c.SiteID == "" {
		return errors.New("site_id: required")
	}
	if c.DataDir == "" {
		return errors.New("data_dir: required")
	}
	if _, _, err := net.SplitHostPort(c.HTTPAddr); err != nil {
		return fmt.Errorf("http_addr: %q is not host:port", c.HTTPAddr)
	}
	if len(c.Hub.Addresses) == 0 {
		return errors.New("hub.addresses: at least one hub gRPC address is required")
	}
	for _, a := range c.Hub.Addresses {
		if _, _, err := net.SplitHostPort(a); err != nil {
			return fmt.Errorf("hub.addresses: %q is not host:port", a)
		}
	}
	if c.Hub.TokenFile == "" {
		return errors.New("hub.token_file: required")
	}
	if len(c.Capture.Pcap) == 0 && c.Capture.Sniff.Interface == "" && c.Capture.HEP.Listen == "" {
		return errors.New("capture: configure at least one of pcap, sniff.interface, hep.listen")
	}
	if c.Capture.PcapSpeed < 0 {
		return errors.New("capture.pcap_speed: must not be negative")
	}
	if c.Recordings.Dir != "" {
		if err := c.Recordings.Validate(); err != nil {
			return fmt.Errorf("recordings: %w", err)
		}
	}
	if err := c.Calls.Validate(); err != nil {
		return fmt.Errorf("calls: %w", err)
	}
	switch c.Transcribe.Backend {
	case "", "none":
	case "openai":
		if c.Recordings.Dir == "" {
			return errors.New("transcribe.backend: openai needs recordings.dir, since it transcribes the recordings")
		}
	default:
		return fmt.Errorf("transcribe.backend: %q is not none or openai", c.Transcribe.Backend)
	}
	if err := c.Transcribe.ValidateOutcomes(); err != nil {
		return err
	}
	if c.Dialer.Enabled() {
		if err := c.Dialer.Validate(); err != nil {
			return fmt.Errorf("dialer.%w", err)
		}
	}
	return nil
}

// Run runs the agent until ctx ends. Version goes into the hub hello.
func Run(ctx context.Context, cfg Config, version string, log *slog.Logger) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	tok, err := os.ReadFile(cfg.Hub.TokenFile)
	if err != nil {
		return fmt.Errorf("hub.token_file: %w", err)
	}
	token := strings.TrimSpace(string(tok))
	if token == "" {
		return fmt.Errorf("hub.token_file %s: empty", cfg.Hub.TokenFile)
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("data_dir: %w", err)
	}
	ob, err := outbox.Open(filepath.Join(cfg.DataDir, "outbox.db"))
	if err != nil {
		return err
	}
	defer ob.Close()

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	var rec *recorder.Recorder
	if cfg.Recordings.Dir != "" {
		if rec, err = recorder.New(cfg.Recordings, log.With("component", "recorder"), nil); err != nil {
			return err
		}
		if cfg.Recordings.RetentionDays > 0 || cfg.Recordings.MaxTotalMB > 0 {
			go rec.RunRetention(ctx, time.Hour) // stops with ctx; deletions are logged
		}
	}
	stt, err := transcribe.New(cfg.Transcribe, log.With("component", "transcribe"))
	if err != nil {
		return err
	}
	// Transcripts follow their records as updates (same call_id, next
	// revision); a record never waits in memory for its transcript.
	transcripts := transcribe.NewRunner(stt, cfg.Transcribe, log.With("component", "transcribe"))
	var holding sync.WaitGroup // records held for up to transcribe.wait
	defer transcripts.Wait()   // before ob.Close (defers run last-in first-out)
	defer holding.Wait()

	var putErrs prometheus.Counter = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "rebound_agent_outbox_put_errors_total", Help: "Records that could not be written to the outbox."})
	records := prometheus.NewCounter(prometheus.CounterOpts{Name: "rebound_agent_records_total", Help: "Call records produced."})
	reg.MustRegister(putErrs, records)
	p, err := pipeline.New(pipeline.Options{
		SiteID: cfg.SiteID, Calls: cfg.Calls, Recorder: rec, Logger: log.With("component", "pipeline"),
		Emit: func(r *reboundv1.CallRecord) {
			records.Inc()
			put := func(r *reboundv1.CallRecord) {
				if err := ob.Put(r); err != nil {
					putErrs.Inc()
					log.Error("outbox put failed; record lost", "call_id", r.GetCallId(), "err", err)
				}
			}
			wav := ""
			if ref := r.GetRecording().GetRef(); ref != "" {
				wav = filepath.Join(cfg.Recordings.Dir, ref)
			}
			if cfg.Transcribe.Wait > 0 {
				// Start may block up to Wait: keep it off the capture path.
				holding.Go(func() { put(transcripts.Start(ctx, r, wav, put)) })
				return
			}
			put(transcripts.Start(ctx, r, wav, put))
		},
	})
	if err != nil {
		return fmt.Errorf("calls: %w", err)
	}

	// The pipeline is single-threaded: sources (and heartbeats reading its
	// stats) share it under a lock.
	h := &lockedHandler{p: p}
	cmds := &commands{dir: cfg.Recordings.Dir, log: log}
	if cfg.Dialer.Enabled() {
		if cmds.dial, err = dialer.New(cfg.Dialer, log.With("component", "dialer")); err != nil {
			return err
		}
		defer cmds.dial.Close()
	}
	var sources []capture.Source
	ucfg := outbox.UplinkConfig{Hubs: cfg.Hub.Addresses, SiteID: cfg.SiteID, Token: token, Version: version,
		Logger: log, Handler: cmds,
		Counters: func() map[string]uint64 { return healthCounters(h, sources) }}
	if !cfg.Hub.TLS.Insecure {
		if ucfg.TLS, err = clientTLS(cfg.Hub.TLS); err != nil {
			return err
		}
	}
	up, err := outbox.NewUplink(ob, ucfg)
	if err != nil {
		return err
	}

	ccfg := capture.Config{SIPPorts: cfg.Capture.SIPPorts, Logger: log.With("component", "capture")}
	for _, f := range cfg.Capture.Pcap {
		sources = append(sources, &capture.Pcap{Path: f, Config: ccfg, Speed: cfg.Capture.PcapSpeed})
	}
	if cfg.Capture.Sniff.Interface != "" {
		sources = append(sources, &capture.Sniff{Interface: cfg.Capture.Sniff.Interface, Config: ccfg})
	}
	if cfg.Capture.HEP.Listen != "" {
		sources = append(sources, &capture.HEP{Addr: cfg.Capture.HEP.Listen, AuthKey: cfg.Capture.HEP.AuthKey, Config: ccfg})
	}
	for i, s := range sources {
		if err := s.Counters().Register(reg, prometheus.Labels{"source": fmt.Sprintf("%d", i)}); err != nil {
			return fmt.Errorf("metrics: %w", err)
		}
	}
	reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "rebound_agent_outbox_depth", Help: "Records waiting for a hub ack."},
			func() float64 { return float64(ob.Depth()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "rebound_agent_uplink_acked_total", Help: "Records acked by the hub."},
			func() float64 { return float64(up.Stats().Acked) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "rebound_agent_uplink_reconnects_total", Help: "Uplink stream failures."},
			func() float64 { return float64(up.Stats().Failures) }),
	)

	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("http_addr: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		st := up.Stats()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"site_id": cfg.SiteID, "hub_connected": st.Connected, "outbox_depth": ob.Depth(),
			"sent": st.Sent, "acked": st.Acked, "reconnects": st.Failures,
		})
	})
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = hs.Serve(ln) }()
	defer hs.Close()
	log.Info("agent running", "site", cfg.SiteID, "http", ln.Addr().String(), "hubs", cfg.Hub.Addresses, "outbox", ob.Depth())

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		_ = up.Run(ctx)
	}()
	// A live capture can go quiet: tick the pipeline's clock so timeouts,
	// call ends and the voicemail confirmation window still fire. Pcap
	// replays carry their own capture time and need no ticks.
	if len(cfg.Capture.Pcap) == 0 {
		go func() {
			tk := time.NewTicker(time.Second)
			defer tk.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case now := <-tk.C:
					h.mu.Lock()
					p.Tick(now)
					h.mu.Unlock()
				}
			}
		}()
	}
	var swg sync.WaitGroup
	for _, s := range sources {
		swg.Add(1)
		go func() {
			defer swg.Done()
			if err := s.Run(ctx, h); err != nil {
				log.Error("capture source stopped", "err", err)
			}
		}()
	}
	swg.Wait()
	// All sources ended (pcap files read, or ctx done): finish open calls.
	h.mu.Lock()
	p.Flush(time.Time{})
	h.mu.Unlock()
	<-ctx.Done()
	cancel()
	wg.Wait()
	return nil
}

// healthCounters are the capture-health counters sent with each heartbeat.
func healthCounters(h *lockedHandler, sources []capture.Source) map[string]uint64 {
	m := map[string]uint64{}
	for _, s := range sources {
		st := s.Counters().Snapshot()
		m["packets"] += st.Packets
		m["malformed_packets"] += st.Malformed
		m["kernel_drops"] += st.KernelDrops
		m["truncated"] += st.Truncated
	}
	h.mu.Lock()
	ps := h.p.Stats()
	h.mu.Unlock()
	m["sip_messages"] = ps.SIPMessages
	m["malformed_sip"] = ps.MalformedSIP
	m["unmatched_rtp"] = ps.UnmatchedRTP
	m["calls"] = ps.Calls.Calls
	m["correlation_failures"] = ps.Calls.CorrelationFailed
	return m
}

type lockedHandler struct {
	mu sync.Mutex
	p  *pipeline.Pipeline
}

func (l *lockedHandler) SIP(m capture.Message) {
	l.mu.Lock()
	l.p.SIP(m)
	l.mu.Unlock()
}

func (l *lockedHandler) Datagram(d capture.Datagram) {
	l.mu.Lock()
	l.p.Datagram(d)
	l.mu.Unlock()
}

// commands executes hub commands: recording fetch and click-to-call (when
// a dialer is configured).
type commands struct {
	dir  string
	dial *dialer.Dialer
	log  *slog.Logger
}

const fetchChunk = 256 << 10

func (c *commands) Handle(ctx context.Context, cmd *reboundv1.AgentCommand, send func(*reboundv1.CommandResult) error) {
	switch v := cmd.GetCmd().(type) {
	case *reboundv1.AgentCommand_FetchRecording:
		c.fetch(ctx, v.FetchRecording, send)
	case *reboundv1.AgentCommand_Dial:
		if c.dial == nil {
			_ = send(&reboundv1.CommandResult{Error: "this agent has no SIP dialer configured",
				DialOutcome: reboundv1.CommandResult_DIAL_OUTCOME_FAILED})
			return
		}
		_ = send(c.call(ctx, v.Dial))
	default:
		_ = send(&reboundv1.CommandResult{Error: "unsupported command"})
	}
}

// call runs one click-to-call; its outcome numbers match DialOutcome.
func (c *commands) call(ctx context.Context, d *reboundv1.DialCommand) *reboundv1.CommandResult {
	out, err := c.dial.Call(ctx, dialer.DialRequest{CSRExtension: d.GetCsrExtension(), CustomerNumber: d.GetCustomerNumber(),
		CallerID: d.GetCallerId(), CallerName: d.GetCallerName(), RingTimeout: time.Duration(d.GetRingTimeoutSeconds()) * time.Second})
	r := &reboundv1.CommandResult{Ok: out == dialer.OutcomeAnswered, DialOutcome: reboundv1.CommandResult_DialOutcome(out)}
	if err != nil {
		r.Error = err.Error()
	}
	if c.log != nil {
		c.log.Info("click-to-call", "lead_id", d.GetLeadId(), "csr", d.GetCsrExtension(), "outcome", out.String(), "err", err)
	}
	return r
}

func (c *commands) fetch(ctx context.Context, f *reboundv1.FetchRecording, send func(*reboundv1.CommandResult) error) {
	fail := func(msg string) { _ = send(&reboundv1.CommandResult{Error: msg, Last: true}) }
	if c.dir == "" {
		fail("recordings are not enabled on this agent")
		return
	}
	ref := filepath.Clean(f.GetRef())
	if ref == "." || filepath.IsAbs(ref) || strings.HasPrefix(ref, "..") {
		fail("bad recording ref")
		return
	}
	fh, err := os.Open(filepath.Join(c.dir, ref))
	if err != nil {
		fail("recording not found")
		return
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil {
		fail("recording unreadable")
		return
	}
	off := f.GetOffset()
	end := st.Size()
	if f.GetLength() > 0 && off+f.GetLength() < end {
		end = off + f.GetLength()
	}
	buf := make([]byte, fetchChunk)
	for off < end && ctx.Err() == nil {
		n, err := fh.ReadAt(buf[:min(int64(len(buf)), end-off)], off)
		if n > 0 {
			last := off+int64(n) >= end
			if serr := send(&reboundv1.CommandResult{Ok: true, Chunk: buf[:n], Offset: off, Last: last, TotalSize: st.Size()}); serr != nil {
				return
			}
			off += int64(n)
		}
		if err != nil && !errors.Is(err, io.EOF) {
			fail("read error")
			return
		}
		if err != nil {
			break
		}
	}
	if off >= end && end == f.GetOffset() {
		_ = send(&reboundv1.CommandResult{Ok: true, Last: true, TotalSize: st.Size()})
	}
}

// clientTLS trusts ca_file (system roots when empty) and presents a client
// certificate when cert_file is set (hub mTLS).
func clientTLS(c TLSConfig) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: c.ServerName}
	if c.CAFile != "" {
		b, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("hub.tls.ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(b) {
			return nil, fmt.Errorf("hub.tls.ca_file %s: no certificates", c.CAFile)
		}
		cfg.RootCAs = pool
	}
	if c.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("hub.tls.cert_file: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}
