// Package pipeline owns the site agent's path from captured packets to call
// records: it parses SIP with sipgo, feeds the dialog tracker, lets the calls
// engine correlate and classify, routes RTP to the recorder by the SDP media
// endpoints, and hands each finished CallRecord to a callback.
//
// It implements capture.Handler. Capture time drives every clock, so
// replaying a pcap is deterministic. Malformed SIP is counted and logged,
// never fatal.
package pipeline

import (
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/reboundhq/rebound/agent/calls"
	"github.com/reboundhq/rebound/agent/capture"
	reboundv1 "github.com/reboundhq/rebound/proto/rebound/v1"
	"github.com/reboundhq/rebound/recorder"
	"github.com/reboundhq/rebound/sip/dialog"
)

// Options wires a pipeline.
type Options struct {
	// SiteID goes into every record and into the record ids.
	SiteID string
	// Calls are the outcome, direction, correlation and timeout rules.
	Calls calls.Config
	// Recorder, when set, receives the media endpoints and every datagram,
	// and each record gets its Recording.
	Recorder *recorder.Recorder
	// Emit receives every finished record, in order, from the goroutine
	// that feeds the pipeline (or calls Tick/Flush). It must not call back
	// into the pipeline.
	Emit func(*reboundv1.CallRecord)
	// Logger receives warnings about malformed input. Default: discard.
	Logger *slog.Logger
	// KernelDrops, when set, reads the capture source's kernel drop
	// counter: a call during which it grew is flagged KERNEL_DROPS, since
	// some of its packets may be missing.
	KernelDrops func() uint64
}

// Stats are the pipeline's counters.
type Stats struct {
	SIPMessages, MalformedSIP, Datagrams, UnmatchedRTP uint64
	Dialog                                             dialog.Stats
	Calls                                              calls.Stats
}

// Pipeline is a capture.Handler. SIP and Datagram are called by one capture
// source at a time; Tick, Flush and Stats may be called from other goroutines.
type Pipeline struct {
	opts    Options
	log     *slog.Logger
	parser  *sip.Parser
	tracker *dialog.Tracker
	engine  *calls.Engine
	rec     *recorder.Recorder

	// The counters are atomic so a metrics scrape can read them live.
	malformed  atomic.Uint64
	sipCount   atomic.Uint64
	datagrams  atomic.Uint64
	unmatched  atomic.Uint64
	calls      atomic.Uint64
	abandons   atomic.Uint64
	corrFailed atomic.Uint64
	openDlg    atomic.Int64
	// mu serialises the tracker and the calls engine between the capture
	// goroutine and Tick. It is uncontended on the hot path.
	mu         sync.Mutex
	lastAdvSec atomic.Int64
	last       time.Time
	// dropsAt holds the kernel drop counter when each leg started.
	dropsAt map[string]uint64

	// snapMu guards copies of the tracker's and engine's counters, taken
	// after each SIP message so Stats may be read from any goroutine.
	snapMu    sync.Mutex
	dlgStats  dialog.Stats
	callStats calls.Stats
}

var _ capture.Handler = (*Pipeline)(nil)

// New builds a pipeline; the calls rules are validated here.
func New(opts Options) (*Pipeline, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	p := &Pipeline{opts: opts, log: log, parser: sip.NewParser(), rec: opts.Recorder, dropsAt: make(map[string]uint64)}
	eng, err := calls.New(opts.Calls, opts.SiteID, log, p.finished)
	if err != nil {
		return nil, err
	}
	p.engine = eng
	p.tracker = dialog.New(opts.Calls.Dialog(), dialog.Hooks{
		Started: func(d *dialog.Dialog) {
			if opts.KernelDrops != nil {
				p.dropsAt[d.CallID] = opts.KernelDrops()
			}
			eng.LegStarted(d)
		},
		Media: p.media,
		Ended: eng.LegEnded,
	})
	return p, nil
}

// SIP implements capture.Handler.
func (p *Pipeline) SIP(m capture.Message) {
	p.sipCount.Add(1)
	msg, err := p.parser.ParseSIP(m.Raw)
	if err != nil || msg.CallID() == nil || msg.CSeq() == nil || msg.From() == nil || msg.To() == nil {
		n := p.malformed.Add(1)
		if n <= 100 || n%1000 == 0 {
			p.log.Warn("malformed SIP message", "src", m.Src, "dst", m.Dst, "transport", m.Transport,
				"bytes", len(m.Raw), "err", errString(err), "malformed_total", n)
		}
		p.mu.Lock()
		p.advance(m.At)
		p.mu.Unlock()
		return
	}
	p.mu.Lock()
	p.tracker.Message(m.At, m.Src, m.Dst, m.Transport, msg)
	p.advanceCalls(m.At)
	p.snapshot()
	p.mu.Unlock()
}

func (p *Pipeline) snapshot() {
	p.openDlg.Store(int64(p.tracker.Open()))
	p.snapMu.Lock()
	p.dlgStats, p.callStats = p.tracker.Stats(), p.engine.Stats()
	p.snapMu.Unlock()
}

func errString(err error) string {
	if err == nil {
		return "missing Call-ID, CSeq, From or To"
	}
	return err.Error()
}

// Datagram implements capture.Handler. It does not allocate.
func (p *Pipeline) Datagram(d capture.Datagram) {
	p.datagrams.Add(1)
	if p.rec != nil && !p.rec.Packet(d.At, d.Src, d.Dst, d.Payload) {
		p.unmatched.Add(1)
	}
	if sec := d.At.Unix(); sec != p.lastAdvSec.Load() {
		p.mu.Lock()
		p.advance(d.At)
		p.mu.Unlock()
	}
}

// Tick moves the clock to now without traffic, so timeouts and call ends
// fire on a quiet live capture. Call it every second or so with the
// capture's clock (wall time for a live sniff); it is safe to call while a
// source is feeding the pipeline. A time behind the capture is ignored.
func (p *Pipeline) Tick(now time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.advance(now)
	p.snapshot()
}

// advance moves capture time (at most once per second of capture for RTP).
func (p *Pipeline) advance(at time.Time) {
	p.lastAdvSec.Store(at.Unix())
	p.tracker.Advance(at)
	p.advanceCalls(at)
}

func (p *Pipeline) advanceCalls(at time.Time) {
	if at.After(p.last) {
		p.last = at
	}
	p.engine.Advance(p.tracker.Now())
}

// Flush closes every dialog and emits every call (end of input). at is the
// capture time of the end; zero means the last time seen.
func (p *Pipeline) Flush(at time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if at.IsZero() || at.Before(p.last) {
		at = p.last
	}
	p.tracker.Flush(at)
	p.engine.Flush(at)
	p.snapshot()
}

// Stats returns the counters; it is safe from any goroutine. The dialog and
// calls counters are as of the latest SIP message.
func (p *Pipeline) Stats() Stats {
	p.snapMu.Lock()
	defer p.snapMu.Unlock()
	return Stats{
		SIPMessages:  p.sipCount.Load(),
		MalformedSIP: p.malformed.Load(),
		Datagrams:    p.datagrams.Load(),
		UnmatchedRTP: p.unmatched.Load(),
		Dialog:       p.dlgStats,
		Calls:        p.callStats,
	}
}

// media tells the recorder about a new SDP endpoint of a recorded leg.
func (p *Pipeline) media(d *dialog.Dialog, ep dialog.MediaEndpoint) {
	if p.rec == nil {
		return
	}
	ch, ok := p.engine.ChannelFor(d, ep.Side)
	if !ok {
		return
	}
	addr := ep.Media.Endpoint()
	if !addr.IsValid() || addr.Port() == 0 || addr.Addr().IsUnspecified() {
		return
	}
	payloads := make(map[uint8]recorder.Codec, len(ep.Media.Payloads))
	for _, pt := range ep.Media.Payloads {
		if c, ok := ep.Media.Codec(pt); ok {
			payloads[pt] = recorder.Codec{Name: c.Name, ClockRate: c.Rate}
		}
	}
	p.rec.Media(d.CallID, recorder.Endpoint{Channel: ch, Addr: netip.AddrPortFrom(addr.Addr(), addr.Port()), Payloads: payloads, Secure: ep.Media.Secure})
}

// finished attaches the recording and emits the record.
func (p *Pipeline) finished(r calls.Result) {
	rec := r.Record
	if p.rec != nil {
		res, err := p.rec.Close(r.Primary)
		if err != nil {
			p.log.Warn("recording failed", "call_id", rec.CallId, "err", err)
			rec.Health.Notes = append(rec.Health.Notes, "recording failed: "+err.Error())
		}
		if res != nil {
			rec.Recording = res.Recording
			for _, f := range res.Flags {
				addFlag(rec.Health, f)
			}
			rec.Dtmf = res.DTMF
			rec.Health.Notes = append(rec.Health.Notes, res.Notes...)
			rec.Health.MalformedPackets += res.MalformedPackets
		}
		for _, leg := range r.Legs[1:] {
			if leg != r.Primary {
				_, _ = p.rec.Close(leg)
			}
		}
	}
	if p.opts.KernelDrops != nil {
		before, ok := p.dropsAt[r.Primary]
		if now := p.opts.KernelDrops(); ok && now > before {
			addFlag(rec.Health, reboundv1.HealthFlag_HEALTH_FLAG_KERNEL_DROPS)
			rec.Health.KernelDrops = now - before
			rec.Health.Notes = append(rec.Health.Notes, "the kernel dropped packets during this call; signalling or audio may be missing")
		}
	}
	for _, leg := range r.Legs {
		delete(p.dropsAt, leg)
	}
	if r.Dropped {
		return // released above; a short abandon is not shipped
	}
	p.calls.Add(1)
	for _, f := range rec.Health.Flags {
		if f == reboundv1.HealthFlag_HEALTH_FLAG_CORRELATION_FAILED {
			p.corrFailed.Add(1)
		}
	}
	if rec.Outcome == reboundv1.Outcome_OUTCOME_ABANDONED {
		p.abandons.Add(1)
	}
	if p.opts.Emit != nil {
		p.opts.Emit(rec)
	}
}

// Register adds the pipeline's counters to reg as rebound_pipeline_*, with
// constLabels (for example {"site": "plant-3"}).
func (p *Pipeline) Register(reg prometheus.Registerer, constLabels prometheus.Labels) error {
	counters := []struct {
		name, help string
		f          func() float64
	}{
		{"sip_messages_total", "SIP messages handed to the pipeline.", func() float64 { return float64(p.sipCount.Load()) }},
		{"sip_malformed_total", "SIP messages sipgo could not parse (or missing Call-ID, CSeq, From or To).", func() float64 { return float64(p.malformed.Load()) }},
		{"datagrams_total", "Non-SIP datagrams handed to the pipeline.", func() float64 { return float64(p.datagrams.Load()) }},
		{"rtp_unmatched_total", "Datagrams that matched no call's SDP media endpoints.", func() float64 { return float64(p.unmatched.Load()) }},
		{"calls_total", "Call records emitted.", func() float64 { return float64(p.calls.Load()) }},
		{"abandoned_calls_total", "Call records emitted as abandoned.", func() float64 { return float64(p.abandons.Load()) }},
		{"correlation_failed_total", "Calls that looked like a leg of another call but could not be tied to it.", func() float64 { return float64(p.corrFailed.Load()) }},
	}
	for _, c := range counters {
		col := prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: "rebound", Subsystem: "pipeline", Name: c.name, Help: c.help, ConstLabels: constLabels}, c.f)
		if err := reg.Register(col); err != nil {
			return fmt.Errorf("pipeline: register metric %s: %w", c.name, err)
		}
	}
	open := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "rebound", Subsystem: "pipeline", Name: "dialogs_open",
		Help: "SIP dialogs being tracked.", ConstLabels: constLabels}, func() float64 { return float64(p.openDlg.Load()) })
	if err := reg.Register(open); err != nil {
		return fmt.Errorf("pipeline: register metric dialogs_open: %w", err)
	}
	return nil
}

func addFlag(h *reboundv1.CaptureHealth, f reboundv1.HealthFlag) {
	for _, x := range h.Flags {
		if x == f {
			return
		}
	}
	h.Flags = append(h.Flags, f)
}
