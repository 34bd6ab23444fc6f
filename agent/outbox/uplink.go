package outbox

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	reboundv1 "github.com/reboundhq/rebound/proto/rebound/v1"
)

// CommandHandler executes hub commands on the agent (dialer, recording
// fetch). It sends one or more results through send; the last one for a
// FetchRecording has Last set.
type CommandHandler interface {
	Handle(ctx context.Context, cmd *reboundv1.AgentCommand, send func(*reboundv1.CommandResult) error)
}

// UplinkConfig configures the uplink.
type UplinkConfig struct {
	// Hubs are hub gRPC addresses (host:port); any node accepts records.
	Hubs   []string
	SiteID string
	// Token is the site token sent as "authorization: Bearer <token>".
	Token string
	// TLS secures the connection; nil means plaintext (tests, loopback).
	TLS      *tls.Config
	Version  string
	Handler  CommandHandler
	Logger   *slog.Logger
	Counters func() map[string]uint64
	// Window is how many records may be unacked at once (default 256).
	Window int
	// Heartbeat interval (default 15 s).
	Heartbeat time.Duration
	// MinBackoff and MaxBackoff bound reconnect delays (default 200 ms, 30 s);
	// each delay is jittered.
	MinBackoff, MaxBackoff time.Duration
}

// Stats are the uplink's counters.
type Stats struct {
	Sent, Acked, Connects, Failures uint64
	Connected                       bool
}

// Uplink drains an Outbox to the hub.
type Uplink struct {
	cfg UplinkConfig
	ob  *Outbox
	log *slog.Logger

	sent, acked, connects, failures atomic.Uint64
	connected                       atomic.Bool
}

// NewUplink returns an uplink for ob.
func NewUplink(ob *Outbox, cfg UplinkConfig) (*Uplink, error) {
	if len(cfg.Hubs) == 0 {
		return nil, errors.New("uplink: no hub addresses")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Window <= 0 {
		cfg.Window = 256
	}
	if cfg.Heartbeat <= 0 {
		cfg.Heartbeat = 15 * time.Second
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = 200 * time.Millisecond
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = 30 * time.Second
	}
	return &Uplink{cfg: cfg, ob: ob, log: cfg.Logger.With("component", "uplink")}, nil
}

// Stats returns a snapshot of the counters.
func (u *Uplink) Stats() Stats {
	return Stats{Sent: u.sent.Load(), Acked: u.acked.Load(), Connects: u.connects.Load(),
		Failures: u.failures.Load(), Connected: u.connected.Load()}
}

// Run keeps a stream to some hub open until ctx ends, rotating through the
// addresses with jittered exponential backoff.
func (u *Uplink) Run(ctx context.Context) error {
	backoff := u.cfg.MinBackoff
	for i := 0; ; i++ {
		addr := u.cfg.Hubs[i%len(u.cfg.Hubs)]
		progressed, err := u.session(ctx, addr)
		u.connected.Store(false)
		if ctx.Err() != nil {
			return nil
		}
		u.failures.Add(1)
		u.log.Warn("hub stream ended", "hub", addr, "err", err)
		if progressed {
			backoff = u.cfg.MinBackoff
		}
		d := backoff/2 + time.Duration(rand.Int64N(int64(backoff)/2+1))
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(d):
		}
		backoff = min(backoff*2, u.cfg.MaxBackoff)
	}
}

// session runs one stream. progressed reports whether the hub acked anything.
func (u *Uplink) session(ctx context.Context, addr string) (progressed bool, err error) {
	creds := insecure.NewCredentials()
	if u.cfg.TLS != nil {
		creds = credentials.NewTLS(u.cfg.TLS)
	}
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(creds))
	if err != nil {
		return false, fmt.Errorf("dial %s: %w", addr, err)
	}
	defer cc.Close()
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sctx = metadata.AppendToOutgoingContext(sctx, "authorization", "Bearer "+u.cfg.Token)
	stream, err := reboundv1.NewAgentHubClient(cc).Connect(sctx)
	if err != nil {
		return false, fmt.Errorf("connect %s: %w", addr, err)
	}
	var sendMu sync.Mutex
	send := func(m *reboundv1.AgentMessage) error {
		sendMu.Lock()
		defer sendMu.Unlock()
		return stream.Send(m)
	}
	host, _ := os.Hostname()
	if err := send(&reboundv1.AgentMessage{Msg: &reboundv1.AgentMessage_Hello{Hello: &reboundv1.Hello{
		SiteId: u.cfg.SiteID, AgentVersion: u.cfg.Version, Hostname: host, OutboxDepth: u.ob.Depth()}}}); err != nil {
		return false, fmt.Errorf("hello: %w", err)
	}
	first, err := stream.Recv()
	if err != nil {
		return false, fmt.Errorf("welcome: %w", err)
	}
	if first.GetWelcome() == nil {
		return false, errors.New("hub did not welcome")
	}
	u.connects.Add(1)
	u.connected.Store(true)
	u.log.Info("connected to hub", "hub", addr, "node", first.GetWelcome().GetNodeId(), "outbox", u.ob.Depth())

	// inflight maps record id -> queued seq for records sent on this stream.
	var mu sync.Mutex
	inflight := map[string]uint64{}
	space := make(chan struct{}, 1)
	errc := make(chan error, 3)
	var acked atomic.Bool

	go func() { // receiver
		for {
			m, err := stream.Recv()
			if err != nil {
				errc <- fmt.Errorf("recv: %w", err)
				return
			}
			switch v := m.GetMsg().(type) {
			case *reboundv1.HubMessage_Ack:
				for _, id := range v.Ack.GetRecordIds() {
					mu.Lock()
					seq, ok := inflight[id]
					delete(inflight, id)
					mu.Unlock()
					if !ok {
						continue
					}
					if err := u.ob.Ack(id, seq); err != nil {
						errc <- err
						return
					}
					u.acked.Add(1)
				}
				acked.Store(true)
				select {
				case space <- struct{}{}:
				default:
				}
			case *reboundv1.HubMessage_Command:
				if u.cfg.Handler == nil {
					_ = send(&reboundv1.AgentMessage{Msg: &reboundv1.AgentMessage_Result{Result: &reboundv1.CommandResult{
						CommandId: v.Command.GetId(), Error: "agent has no command handler"}}})
					continue
				}
				go u.cfg.Handler.Handle(sctx, v.Command, func(r *reboundv1.CommandResult) error {
					r.CommandId = v.Command.GetId()
					return send(&reboundv1.AgentMessage{Msg: &reboundv1.AgentMessage_Result{Result: r}})
				})
			}
		}
	}()
	go func() { // heartbeats
		t := time.NewTicker(u.cfg.Heartbeat)
		defer t.Stop()
		for {
			select {
			case <-sctx.Done():
				return
			case <-t.C:
			}
			hb := &reboundv1.Heartbeat{SentUnixMs: time.Now().UnixMilli(), OutboxDepth: u.ob.Depth()}
			if u.cfg.Counters != nil {
				hb.Counters = u.cfg.Counters()
			}
			if err := send(&reboundv1.AgentMessage{Msg: &reboundv1.AgentMessage_Heartbeat{Heartbeat: hb}}); err != nil {
				errc <- fmt.Errorf("heartbeat: %w", err)
				return
			}
		}
	}()

	// Sender: everything queued, oldest first, at most Window unacked.
	var last uint64
	for {
		changed := u.ob.changed()
		mu.Lock()
		room := u.cfg.Window - len(inflight)
		mu.Unlock()
		var batch []Entry
		if room > 0 {
			batch, err = u.ob.After(last, room)
			if err != nil {
				return acked.Load(), err
			}
		}
		for _, e := range batch {
			mu.Lock()
			inflight[e.Record.GetRecordId()] = e.Seq
			mu.Unlock()
			if err := send(&reboundv1.AgentMessage{Msg: &reboundv1.AgentMessage_Record{Record: e.Record}}); err != nil {
				return acked.Load(), fmt.Errorf("send: %w", err)
			}
			u.sent.Add(1)
			last = e.Seq
		}
		if len(batch) > 0 && len(batch) == room {
			continue
		}
		select {
		case <-ctx.Done():
			return acked.Load(), nil
		case err := <-errc:
			return acked.Load(), err
		case <-changed:
		case <-space:
		}
	}
}
