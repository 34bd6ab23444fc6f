// Package scheduler owns the leader-only background work of the hub: it finds calls whose
// After Call Work window has closed, has them reviewed, commits each result as a
// "call.review" command (flagged calls become Second Chance Leads), and periodically hands
// CSR dispositions to a trainer that commits a new per-tenant model.
//
// Cold leads and cold abandoned calls need no job here: the Cold tab is computed at read
// time from the hub clock and each tenant's settings (see state.ListQuery).
package scheduler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/reboundhq/rebound/hub/state"
	reboundv1 "github.com/reboundhq/rebound/proto/rebound/v1"
	"go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"
)

// Store is the replicated state (hub/cluster's Node or state.Local).
type Store interface {
	Apply(ctx context.Context, cmds ...*reboundv1.Command) ([]*reboundv1.CommandOutcome, error)
	View(ctx context.Context, consistent bool, fn func(tx *bbolt.Tx) error) error
}

// Leader tells whether this node should run the scheduler now.
type Leader interface {
	IsLeader() bool
}

// ReviewInput is everything a reviewer may use about one call.
type ReviewInput struct {
	TenantID string
	CallID   string
	// Record is the latest revision of the call record (transcript by channel, talk time).
	Record         *reboundv1.CallRecord
	Classification state.Classification
	ReasonName     string
	// ReasonIsLead is the tenant's "is lead" flag of the reason; nil without a reason.
	ReasonIsLead  *bool
	TalkMs        int64
	KnownCustomer bool
	// RepeatCalls counts earlier calls from the same number to the tenant in the 30 days
	// before this call.
	RepeatCalls int
	Campaign    string
	// Model is the tenant's stored model (scoring.model.set), nil if none.
	Model []byte
}

// ReviewResult is a reviewer's verdict.
type ReviewResult struct {
	Probability float64
	Flagged     bool
	Summary     string
	Signals     []state.Signal
	Reviewer    string
}

// Reviewer reviews one call. hub/scoring provides the real one.
type Reviewer interface {
	Review(ctx context.Context, in ReviewInput) (ReviewResult, error)
}

// Example is one labelled call for retraining: a CSR disposition of a lead.
type Example struct {
	Input ReviewInput
	// Label is 1 for a lead (the Lead statuses and the Job booked statuses) and 0 for
	// "Reviewed - not a lead".
	Label int
}

// Trainer turns a tenant's labelled examples into new model bytes.
type Trainer interface {
	Train(ctx context.Context, tenant string, examples []Example) ([]byte, error)
}

// Config configures the scheduler.
type Config struct {
	Store    Store
	Leader   Leader
	Reviewer Reviewer // nil: the classification rules (Rules)
	Trainer  Trainer  // optional
	Notifier Notifier // optional: email and SMS about new leads
	Clock    func() time.Time
	Logger   *slog.Logger
	// Ticks drives the loop; nil uses a time.Ticker of Interval (default 250 ms).
	Ticks    <-chan time.Time
	Interval time.Duration
	// Batch is the most reviews committed per raft entry. Default 64.
	Batch int
	// RetrainEvery is how often retraining runs. Default 24 h; 0 with a Trainer set
	// means the default, negative disables it.
	RetrainEvery time.Duration
	// MinExamples is the fewest dispositions a tenant needs before retraining. Default 20.
	MinExamples int
}

// Scheduler runs the leader's periodic work.
type Scheduler struct {
	cfg         Config
	log         *slog.Logger
	lastRetrain time.Time
}

// New builds a scheduler.
func New(cfg Config) *Scheduler {
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Reviewer == nil {
		cfg.Reviewer = Rules{}
	}
	if cfg.Interval <= 0 {
		cfg.Interval = 250 * time.Millisecond
	}
	if cfg.Batch <= 0 {
		cfg.Batch = 64
	}
	if cfg.RetrainEvery == 0 {
		cfg.RetrainEvery = 24 * time.Hour
	}
	if cfg.MinExamples <= 0 {
		cfg.MinExamples = 20
	}
	return &Scheduler{cfg: cfg, log: cfg.Logger}
}

// Run loops until ctx ends. Work happens only while Leader says this node leads.
func (s *Scheduler) Run(ctx context.Context) error {
	ticks := s.cfg.Ticks
	if ticks == nil {
		t := time.NewTicker(s.cfg.Interval)
		defer t.Stop()
		ticks = t.C
	}
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ticks:
		}
		for {
			n, err := s.ReviewDue(ctx)
			if err != nil && !errors.Is(err, context.Canceled) {
				s.log.Warn("review due calls", "err", err)
			}
			if err != nil || n < s.cfg.Batch {
				break
			}
		}
		if s.cfg.Trainer != nil && s.cfg.RetrainEvery > 0 && s.isLeader() && s.cfg.Clock().Sub(s.lastRetrain) >= s.cfg.RetrainEvery {
			if err := s.Retrain(ctx); err != nil {
				s.log.Warn("retrain", "err", err)
			}
		}
	}
}

func (s *Scheduler) isLeader() bool { return s.cfg.Leader == nil || s.cfg.Leader.IsLeader() }

type dueCall struct {
	in      ReviewInput
	enabled bool
}

// ReviewDue reviews the calls whose ACW window has closed (at most Batch) and commits the
// results in one entry. It returns how many it committed. Calls of tenants with
// scl_enabled false are closed without asking the reviewer: nothing is reviewed then.
func (s *Scheduler) ReviewDue(ctx context.Context) (int, error) {
	if !s.isLeader() {
		return 0, nil
	}
	now := s.cfg.Clock()
	var due []dueCall
	err := s.cfg.Store.View(ctx, true, func(tx *bbolt.Tx) error {
		for _, id := range state.DueACW(tx, now.UnixMilli(), s.cfg.Batch) {
			d, err := inputFor(tx, id)
			if err != nil {
				return err
			}
			due = append(due, d)
		}
		return nil
	})
	if err != nil || len(due) == 0 {
		return 0, err
	}
	cmds := make([]*reboundv1.Command, 0, len(due))
	for _, d := range due {
		body := state.ReviewBody{CallID: d.in.CallID, Reviewer: "none", Signals: []state.Signal{}}
		if d.enabled {
			res, err := s.cfg.Reviewer.Review(ctx, d.in)
			if err != nil {
				// A reviewer that fails (an LLM endpoint down) must not hold the queue:
				// the classification rules decide, and the lead says so.
				s.log.Warn("reviewer failed; using classification rules", "call", d.in.CallID, "err", err)
				res, _ = Rules{}.Review(ctx, d.in)
				res.Signals = append(res.Signals, state.Signal{Text: "the model reviewer failed (" + err.Error() + "); classification rules decided"})
			}
			body = state.ReviewBody{CallID: d.in.CallID, Probability: clamp01(res.Probability), Flagged: res.Flagged,
				Summary: res.Summary, Signals: res.Signals, Reviewer: res.Reviewer}
		}
		b, err := json.Marshal(body)
		if err != nil {
			return 0, err
		}
		cmds = append(cmds, &reboundv1.Command{Version: 1, Type: state.CmdCallReview, TenantId: d.in.TenantID, Actor: "scheduler", Body: b})
	}
	outs, err := s.cfg.Store.Apply(ctx, cmds...)
	if err != nil {
		return 0, fmt.Errorf("commit reviews: %w", err)
	}
	var leads []string
	for i, o := range outs {
		if e := state.OutcomeError(o); e != nil {
			s.log.Warn("review rejected", "call", due[i].in.CallID, "err", e)
			continue
		}
		var rr state.ReviewResult
		if json.Unmarshal(o.GetResult(), &rr) == nil && rr.LeadID != "" && !rr.Already {
			leads = append(leads, rr.LeadID)
		}
	}
	s.notifyLeads(ctx, leads)
	return len(cmds), nil
}

func clamp01(p float64) float64 {
	if p < 0 || p != p {
		return 0
	}
	if p > 1 {
		return 1
	}
	return p
}

func inputFor(tx *bbolt.Tx, callID string) (dueCall, error) {
	c, ok, err := state.GetCall(tx, callID)
	if err != nil || !ok {
		return dueCall{in: ReviewInput{CallID: callID}}, err
	}
	set, err := state.GetSettings(tx, c.TenantID)
	if err != nil {
		return dueCall{}, err
	}
	d := dueCall{enabled: set.SCLEnabled, in: ReviewInput{TenantID: c.TenantID, CallID: c.ID, TalkMs: c.TalkMs,
		Classification: c.EffectiveClassification(), KnownCustomer: c.CustomerID != ""}}
	rec := &reboundv1.CallRecord{}
	if len(c.Record) > 0 && proto.Unmarshal(c.Record, rec) == nil {
		d.in.Record = rec
	}
	if id := d.in.Classification.ReasonID; id != "" {
		if r, ok, _ := state.GetReason(tx, c.TenantID, id); ok {
			d.in.ReasonName = r.Name
			isLead := r.IsLead
			d.in.ReasonIsLead = &isLead
		}
	}
	if c.CampaignID != "" {
		if cp, ok, _ := state.GetCampaign(tx, c.TenantID, c.CampaignID); ok {
			d.in.Campaign = cp.Name
		}
	}
	d.in.RepeatCalls = state.RepeatCalls(tx, c.TenantID, c.CallerNumber, c.StartedMs, 30*24*time.Hour)
	d.in.Model = state.ScoringModel(tx, c.TenantID)
	return d, nil
}

// Retrain collects each SCL-enabled tenant's lead dispositions and, with enough of them,
// asks the Trainer for a new model and commits it with scoring.model.set.
func (s *Scheduler) Retrain(ctx context.Context) error {
	if s.cfg.Trainer == nil || !s.isLeader() {
		return nil
	}
	now := s.cfg.Clock()
	s.lastRetrain = now
	byTenant := map[string][]Example{}
	var tenants []string
	err := s.cfg.Store.View(ctx, true, func(tx *bbolt.Tx) error {
		ts, err := state.ListTenants(tx)
		if err != nil {
			return err
		}
		for _, t := range ts {
			set, err := state.GetSettings(tx, t.ID)
			if err != nil || !set.SCLEnabled {
				continue
			}
			tenants = append(tenants, t.ID)
			cursor := ""
			for {
				page, err := state.ListLeads(tx, state.ListQuery{Now: now, Tab: state.TabDone, Tenants: []string{t.ID}, Limit: 200, Cursor: cursor})
				if err != nil {
					return err
				}
				for _, l := range page.Items {
					label := 1
					switch l.Status {
					case state.LeadReviewedNotLead:
						label = 0
					case state.LeadNew, state.LeadCallbackAttempt:
						continue
					}
					d, err := inputFor(tx, l.CallID)
					if err != nil {
						return err
					}
					byTenant[t.ID] = append(byTenant[t.ID], Example{Input: d.in, Label: label})
				}
				if page.NextCursor == "" {
					break
				}
				cursor = page.NextCursor
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, t := range tenants {
		ex := byTenant[t]
		if len(ex) < s.cfg.MinExamples {
			continue
		}
		model, err := s.cfg.Trainer.Train(ctx, t, ex)
		if err != nil {
			s.log.Warn("train", "tenant", t, "err", err)
			continue
		}
		outs, err := s.cfg.Store.Apply(ctx, &reboundv1.Command{Version: 1, Type: state.CmdScoringModelSet, TenantId: t, Actor: "scheduler", Body: model})
		if err != nil {
			return err
		}
		if e := state.OutcomeError(outs[0]); e != nil {
			s.log.Warn("store model", "tenant", t, "err", e)
		}
	}
	return nil
}

// Rules is the built-in reviewer used until (or when) no model reviewer is wired: it looks
// only at the CSR's classification and the talk time, and every result says so.
type Rules struct{}

// Review scores the classification.
func (Rules) Review(_ context.Context, in ReviewInput) (ReviewResult, error) {
	cl := in.Classification
	res := ReviewResult{Reviewer: "rules/classification-v1"}
	basis := state.Signal{Text: "reviewed by classification rules only: the transcript was not scored"}
	var sig []state.Signal
	switch cl.Type {
	case state.TypeBooked:
		res.Probability = 0.02
		sig = append(sig, state.Signal{Text: "the call was classified Booked"})
	case state.TypeNotLead:
		res.Probability = 0.05
		sig = append(sig, state.Signal{Text: "the CSR classified the call as Not a lead"})
	case state.TypeExcused:
		res.Probability = 0.15
		sig = append(sig, state.Signal{Text: "the call was Excused"})
		if cl.Default {
			sig = append(sig, state.Signal{Text: fmt.Sprintf("no classification: %d s of talk is under 60 s, so the default is Excused", in.TalkMs/1000)})
		}
	default: // Unbooked
		res.Probability = 0.6
		sig = append(sig, state.Signal{Text: "the call was answered and not booked (Unbooked)"})
		if cl.Default {
			sig = append(sig, state.Signal{Text: fmt.Sprintf("no classification: %d s of talk, so the default is Unbooked", in.TalkMs/1000)})
		}
		if in.ReasonIsLead != nil {
			if *in.ReasonIsLead {
				res.Probability = 0.8
				sig = append(sig, state.Signal{Text: "reason \"" + in.ReasonName + "\" is marked as a lead"})
			} else {
				res.Probability = 0.3
				sig = append(sig, state.Signal{Text: "reason \"" + in.ReasonName + "\" is marked as not a lead"})
			}
		}
		if cl.Notes != "" {
			res.Probability += 0.05
			sig = append(sig, state.Signal{Text: "the CSR left notes", Quote: truncate(cl.Notes, 120)})
		}
	}
	res.Flagged = res.Probability >= 0.5
	res.Signals = append(sig, basis)
	res.Summary = summary(in, res.Flagged)
	return res, nil
}

func summary(in ReviewInput, flagged bool) string {
	s := fmt.Sprintf("%s call, %d s of talk", in.Classification.Type, in.TalkMs/1000)
	if in.ReasonName != "" {
		s += ", reason " + in.ReasonName
	}
	if in.Classification.Notes != "" {
		s += ". CSR notes: " + truncate(in.Classification.Notes, 160)
	}
	if flagged {
		return s + ". Flagged for a follow-up by the classification rules."
	}
	return s + ". Not flagged by the classification rules."
}

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}
