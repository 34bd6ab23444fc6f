package scoring

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"hash/maphash"
	"math"
	"sort"
	"strings"
)

// modelFormat names the serialised form; bump it on any change of meaning.
const modelFormat = "rebound-scoring-logreg/1"

// DefaultThreshold is the flag threshold on the calibrated probability when a
// tenant has not set its own.
const DefaultThreshold = 0.5

//go:embed prior.json
var priorJSON []byte

// Model is a calibrated logistic regression over the features of a Call.
// A Model is immutable once built and safe for concurrent use.
type Model struct {
	names   []string
	weights []float64
	index   map[string]int32
	// hashed indexes the same features by a 64-bit hash of their names: the
	// scoring hot path looks n-grams up by hash, which is cheaper than a
	// string key. Hashes are checked for collisions when the model is built.
	hashed map[uint64]int32
	seed   maphash.Seed
	bias   float64
	// Platt scaling: p = 1 / (1 + exp(plattA*z + plattB)) where z is the raw log-odds.
	plattA, plattB float64
	threshold      float64
	// labels is how many tenant labels this model learnt from (0: shipped prior).
	labels int
}

// modelFile is the JSON form. encoding/json sorts map keys, so the bytes are
// deterministic: every raft node that applies "scoring.model.set" holds the
// same model.
type modelFile struct {
	Format    string             `json:"format"`
	Bias      float64            `json:"bias"`
	PlattA    float64            `json:"plattA"`
	PlattB    float64            `json:"plattB"`
	Threshold float64            `json:"threshold"`
	Labels    int                `json:"labels"`
	Weights   map[string]float64 `json:"weights"`
}

// Prior returns the shipped model, trained from testdata/corpus.jsonl by
// `go generate ./hub/scoring/`. Each call parses the embedded bytes, so
// callers keep the result.
func Prior() (*Model, error) {
	m, err := Unmarshal(priorJSON)
	if err != nil {
		return nil, fmt.Errorf("shipped scoring model: %w", err)
	}
	return m, nil
}

// Marshal serialises the model to deterministic bytes.
func (m *Model) Marshal() ([]byte, error) {
	f := modelFile{Format: modelFormat, Bias: round(m.bias), PlattA: round(m.plattA), PlattB: round(m.plattB),
		Threshold: m.threshold, Labels: m.labels, Weights: make(map[string]float64, len(m.names))}
	for i, n := range m.names {
		if w := round(m.weights[i]); w != 0 {
			f.Weights[n] = w
		}
	}
	return json.Marshal(f)
}

// round keeps 6 significant decimals: smaller files, same decisions.
func round(x float64) float64 { return math.Round(x*1e6) / 1e6 }

// Unmarshal parses bytes written by Marshal.
func Unmarshal(b []byte) (*Model, error) {
	var f modelFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("parse scoring model: %w", err)
	}
	if f.Format != modelFormat {
		return nil, fmt.Errorf("parse scoring model: format %q, want %q", f.Format, modelFormat)
	}
	if f.PlattA == 0 {
		return nil, fmt.Errorf("parse scoring model: missing calibration")
	}
	names := make([]string, 0, len(f.Weights))
	for n := range f.Weights {
		names = append(names, n)
	}
	sort.Strings(names)
	m := &Model{names: names, weights: make([]float64, len(names)), index: make(map[string]int32, len(names)),
		bias: f.Bias, plattA: f.PlattA, plattB: f.PlattB, threshold: f.Threshold, labels: f.Labels}
	for i, n := range names {
		m.weights[i] = f.Weights[n]
		m.index[n] = int32(i)
	}
	m.buildHashed()
	if m.threshold <= 0 || m.threshold >= 1 {
		m.threshold = DefaultThreshold
	}
	return m, nil
}

// buildHashed fills m.hashed from m.names, reseeding on the (astronomically
// unlikely) collision so two features never share a slot.
func (m *Model) buildHashed() {
	for {
		m.seed = maphash.MakeSeed()
		m.hashed = make(map[uint64]int32, len(m.names))
		ok := true
		for i, n := range m.names {
			h := maphash.String(m.seed, n)
			if _, dup := m.hashed[h]; dup {
				ok = false
				break
			}
			m.hashed[h] = int32(i)
		}
		if ok {
			return
		}
	}
}

// Threshold is the model's default flag threshold.
func (m *Model) Threshold() float64 { return m.threshold }

// WithThreshold returns a copy of m that flags at t (0 < t < 1): how a
// tenant's own threshold travels with its model bytes.
func (m *Model) WithThreshold(t float64) (*Model, error) {
	if t <= 0 || t >= 1 {
		return nil, fmt.Errorf("threshold %v: want 0 < t < 1", t)
	}
	c := *m
	c.threshold = t
	return &c, nil
}

// Labels is the number of tenant labels the model learnt from (0 for the prior).
func (m *Model) Labels() int { return m.labels }

// Features is the number of features with a weight.
func (m *Model) Features() int { return len(m.names) }

// calibrate maps a raw log-odds to a probability.
func (m *Model) calibrate(z float64) float64 {
	return 1 / (1 + math.Exp(m.plattA*z+m.plattB))
}

// Result is one review.
type Result struct {
	CallID      string   `json:"callId"`
	Probability float64  `json:"probability"`
	Flagged     bool     `json:"flagged"`
	Summary     string   `json:"summary"`
	Signals     []Signal `json:"signals"`
	// Backend is "builtin" or "llm".
	Backend string `json:"backend"`
}

// Signal is one reason behind a score.
type Signal struct {
	// Text is the line a CSR reads, quoting the call where it can.
	Text string `json:"text"`
	// Weight is the signal's contribution to the log-odds: positive pushes
	// towards a lead.
	Weight  float64 `json:"weight"`
	Channel string  `json:"channel,omitempty"`
	AtMs    int64   `json:"atMs,omitempty"`
	Quote   string  `json:"quote,omitempty"`
}

// Scorer scores calls with one model, reusing its buffers. A Scorer is not
// safe for concurrent use: keep one per goroutine (Model is shared).
type Scorer struct {
	m   *Model
	ex  extractor
	seg []segAcc
	st  []featAcc
	nt  segAcc
}

// segAcc accumulates the contribution of one transcript segment (or the notes).
type segAcc struct {
	sum  float64
	top  int32 // feature with the largest |contribution| in it
	topC float64
}

type featAcc struct {
	f int32
	c float64
}

// NewScorer returns a Scorer over m.
func NewScorer(m *Model) *Scorer { return &Scorer{m: m} }

// Score reviews c with the model's own threshold.
func (m *Model) Score(c *Call) Result { return NewScorer(m).Score(c, 0) }

// Score reviews c; threshold <= 0 means the model's threshold.
func (s *Scorer) Score(c *Call, threshold float64) Result {
	if threshold <= 0 || threshold >= 1 {
		threshold = s.m.threshold
	}
	z := s.m.bias
	nseg := 0
	if c.Transcript != nil {
		nseg = len(c.Transcript.Segments)
	}
	if cap(s.seg) < nseg {
		s.seg = make([]segAcc, nseg)
	}
	s.seg = s.seg[:nseg]
	clear(s.seg)
	s.st = s.st[:0]
	s.nt = segAcc{}
	s.ex.extract(c, func(key []byte, v float64, origin int) {
		i, ok := s.m.hashed[maphash.Bytes(s.m.seed, key)]
		if !ok {
			return
		}
		contrib := s.m.weights[i] * v
		z += contrib
		switch {
		case origin >= 0:
			a := &s.seg[origin]
			a.sum += contrib
			if math.Abs(contrib) > math.Abs(a.topC) {
				a.top, a.topC = i, contrib
			}
		case origin == originNotes:
			s.nt.sum += contrib
			if math.Abs(contrib) > math.Abs(s.nt.topC) {
				s.nt.top, s.nt.topC = i, contrib
			}
		default:
			s.st = append(s.st, featAcc{i, contrib})
		}
	})
	p := s.m.calibrate(z)
	r := Result{CallID: c.CallID, Probability: p, Flagged: p >= threshold, Backend: "builtin"}
	r.Signals = s.signals(c)
	r.Summary = Summarize(c)
	return r
}

// maxSignals bounds the list a CSR has to read.
const maxSignals = 6

// signals turns the accumulated contributions into quoted lines, strongest
// first. Candidates are ranked on their weights alone; only the few shown are
// rendered, which keeps five-minute calls cheap.
func (s *Scorer) signals(c *Call) []Signal {
	type cand struct {
		kind int // 0 segment, 1 notes, 2 structured
		i    int
		w    float64
	}
	var cands []cand
	for i, a := range s.seg {
		if math.Abs(a.sum) >= 0.05 {
			cands = append(cands, cand{0, i, a.sum})
		}
	}
	if math.Abs(s.nt.sum) >= 0.05 {
		cands = append(cands, cand{1, 0, s.nt.sum})
	}
	noTranscript := -1
	for i, f := range s.st {
		if s.m.names[f.f] == "transcript=none" {
			noTranscript = i
			continue // always shown, below
		}
		if math.Abs(f.c) >= 0.05 {
			cands = append(cands, cand{2, i, f.c})
		}
	}
	sort.SliceStable(cands, func(i, j int) bool { return math.Abs(cands[i].w) > math.Abs(cands[j].w) })
	limit := maxSignals
	if noTranscript >= 0 {
		limit-- // the missing-transcript line always stays: it says what the score rests on
	}
	if len(cands) > limit {
		cands = cands[:limit]
	}
	if noTranscript >= 0 {
		cands = append(cands, cand{2, noTranscript, s.st[noTranscript].c})
		sort.SliceStable(cands, func(i, j int) bool { return math.Abs(cands[i].w) > math.Abs(cands[j].w) })
	}
	out := make([]Signal, 0, len(cands))
	for _, k := range cands {
		switch k.kind {
		case 0:
			a := s.seg[k.i]
			seg := c.Transcript.Segments[k.i]
			who := "caller"
			if channelOf(seg.Channel) == 'a' {
				who = "agent"
			}
			q := quote(seg.Text, ngramOf(s.m.names[a.top]))
			out = append(out, Signal{Text: who + " said \u201c" + q + "\u201d", Weight: round(a.sum),
				Channel: strings.ToUpper(who), AtMs: seg.StartMs, Quote: q})
		case 1:
			q := quote(c.Classification.Notes, ngramOf(s.m.names[s.nt.top]))
			out = append(out, Signal{Text: "CSR notes: \u201c" + q + "\u201d", Weight: round(s.nt.sum), Quote: q})
		default:
			f := s.st[k.i]
			out = append(out, Signal{Text: describe(s.m.names[f.f], c), Weight: round(f.c)})
		}
	}
	return out
}

// ngramOf strips the channel prefix of an n-gram feature name.
func ngramOf(name string) string {
	if i := strings.IndexByte(name, ':'); i >= 0 {
		return name[i+1:]
	}
	return name
}

// quoteWords bounds a quote's length in words.
const quoteWords = 14

// quote returns the words of text around the first occurrence of ngram,
// trimmed to quoteWords, so a signal quotes the phrase that mattered.
func quote(text, ngram string) string {
	words := strings.Fields(text)
	if len(words) <= quoteWords {
		return strings.Join(words, " ")
	}
	first := strings.Fields(ngram)
	at := 0
	if len(first) > 0 {
		for i, w := range words {
			if strings.Contains(strings.ToLower(w), first[0]) {
				at = i
				break
			}
		}
	}
	lo := max(0, at-quoteWords/2)
	hi := min(len(words), lo+quoteWords)
	lo = max(0, hi-quoteWords)
	q := strings.Join(words[lo:hi], " ")
	if lo > 0 {
		q = "… " + q
	}
	if hi < len(words) {
		q += " …"
	}
	return q
}

// describe says what a structured feature means for this call.
func describe(name string, c *Call) string {
	k, v, _ := strings.Cut(name, "=")
	switch k {
	case "transcript":
		if v == "none" {
			why := "no transcript: scored on the classification, notes and call metadata only"
			if c.Transcript != nil && c.Transcript.Reason != "" {
				why += " (" + c.Transcript.Reason + ")"
			}
			return why
		}
		return "a transcript was available"
	case "type":
		return fmt.Sprintf("call type %q", c.Classification.CallType)
	case "reason":
		return fmt.Sprintf("CSR reason %q", c.Classification.Reason)
	case "reason_is_lead":
		switch v {
		case "yes":
			return "the CSR's reason counts as a lead reason"
		case "no":
			return "the CSR's reason is not a lead reason"
		}
		return "the reason's lead flag is unknown"
	case "notes":
		return "the CSR left no notes"
	case "talk":
		return fmt.Sprintf("talk time %s (%d s)", talkBucket(c.TalkMs), c.TalkMs/1000)
	case "customer":
		switch v {
		case "known":
			return "known customer"
		case "new":
			return "new customer"
		}
		return "customer not identified"
	case "repeat":
		switch c.RepeatCalls {
		case 0:
			return "no earlier calls from this number in 30 days"
		case 1:
			return "repeat caller: 1 earlier call in 30 days"
		}
		return fmt.Sprintf("repeat caller: %d earlier calls in 30 days", c.RepeatCalls)
	case "campaign":
		return fmt.Sprintf("campaign %q", c.Campaign)
	case "health":
		return fmt.Sprintf("capture health: %s", strings.ToUpper(v))
	}
	return name
}
