package scoring

import (
	"context"
	"crypto/sha256"
	"fmt"
	"log/slog"
	"sync"

	"github.com/reboundhq/rebound/hub/scheduler"
	"github.com/reboundhq/rebound/hub/state"
)

// Reviewer is the hub's lead reviewer: it implements scheduler.Reviewer with
// the tenant's model (or the shipped prior) and, when configured, the LLM
// backend; and scheduler.Trainer by retraining from the prior on the tenant's
// dispositions. It is safe for concurrent use.
type Reviewer struct {
	prior *Model
	llm   *LLM
	log   *slog.Logger

	mu    sync.Mutex
	cache map[[32]byte]*Model // parsed tenant models by the hash of their bytes
}

// maxCachedModels bounds the parsed-model cache; past it the cache restarts.
const maxCachedModels = 256

// NewReviewer returns a Reviewer over the shipped prior. llm may be nil.
func NewReviewer(llm *LLM, log *slog.Logger) (*Reviewer, error) {
	p, err := Prior()
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Reviewer{prior: p, llm: llm, log: log, cache: map[[32]byte]*Model{}}, nil
}

var (
	_ scheduler.Reviewer = (*Reviewer)(nil)
	_ scheduler.Trainer  = (*Reviewer)(nil)
)

// model returns the tenant's model, the prior when it has none or its bytes
// do not parse (logged: a broken model must not stop reviews).
func (r *Reviewer) model(tenant string, b []byte) *Model {
	if len(b) == 0 {
		return r.prior
	}
	k := sha256.Sum256(b)
	r.mu.Lock()
	m := r.cache[k]
	r.mu.Unlock()
	if m != nil {
		return m
	}
	m, err := Unmarshal(b)
	if err != nil {
		r.log.Warn("tenant scoring model unreadable, using the shipped prior", "tenant", tenant, "err", err)
		return r.prior
	}
	r.mu.Lock()
	if len(r.cache) >= maxCachedModels {
		clear(r.cache)
	}
	r.cache[k] = m
	r.mu.Unlock()
	return m
}

// CallFromInput builds the scoring input from what the scheduler knows.
func CallFromInput(in scheduler.ReviewInput) Call {
	known := in.KnownCustomer
	c := FromRecord(in.Record, Classification{
		CallType:     in.Classification.Type,
		Reason:       in.ReasonName,
		ReasonIsLead: in.ReasonIsLead,
		Notes:        in.Classification.Notes,
	}, &known, 0, in.Campaign)
	if c.CallID == "" {
		c.CallID = in.CallID
	}
	if in.TalkMs > 0 {
		c.TalkMs = in.TalkMs
	}
	return c
}

// Review implements scheduler.Reviewer.
func (r *Reviewer) Review(ctx context.Context, in scheduler.ReviewInput) (scheduler.ReviewResult, error) {
	c := CallFromInput(in)
	m := r.model(in.TenantID, in.Model)
	var res Result
	if in.Classification.Type == state.TypeBooked {
		// A booked call is not a lost call, whatever its words say.
		res = Result{CallID: c.CallID, Probability: 0, Summary: Summarize(&c), Backend: "builtin",
			Signals: []Signal{{Text: "the call was classified Booked"}}}
	} else {
		res = NewScorer(m).Score(&c, 0)
		if r.llm != nil {
			res = r.llm.Review(ctx, &c, res, m.Threshold())
		}
	}
	out := scheduler.ReviewResult{Probability: res.Probability, Flagged: res.Flagged, Summary: res.Summary,
		Reviewer: reviewerName(res.Backend, m)}
	for _, s := range res.Signals {
		out.Signals = append(out.Signals, state.Signal{Text: s.Text, Quote: s.Quote})
	}
	return out, nil
}

func reviewerName(backend string, m *Model) string {
	if m.Labels() == 0 {
		return backend + "/prior"
	}
	return fmt.Sprintf("%s/tenant-%d-labels", backend, m.Labels())
}

// Train implements scheduler.Trainer: it fits the tenant's model from the
// shipped prior on all of the tenant's labelled dispositions and returns
// the bytes to store with "scoring.model.set". Retraining from the prior
// each time (not from the last tenant model) keeps the prior's pull constant
// and the result a pure function of the labels.
func (r *Reviewer) Train(ctx context.Context, tenant string, examples []scheduler.Example) ([]byte, error) {
	ex := make([]Example, 0, len(examples))
	calls := make([]Call, len(examples))
	for i, e := range examples {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		calls[i] = CallFromInput(e.Input)
		ex = append(ex, Example{Call: &calls[i], Label: e.Label})
	}
	m, err := Train(r.prior, ex, TrainOptions{})
	if err != nil {
		return nil, fmt.Errorf("train tenant %s: %w", tenant, err)
	}
	r.log.Info("tenant scoring model trained", "tenant", tenant, "labels", len(ex), "features", m.Features())
	return m.Marshal()
}
