package scoring

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// LLMConfig configures the optional LLM backend: any OpenAI-compatible
// chat completions server that supports response_format json_schema
// (hosted APIs, vLLM, llama.cpp server, LocalAI, Ollama's /v1).
type LLMConfig struct {
	// URL is the server base ("http://127.0.0.1:8000") or the full
	// endpoint ending in /chat/completions.
	URL    string `yaml:"url"`
	APIKey string `yaml:"api_key"`
	Model  string `yaml:"model"`
	// Mode "augment" (default) keeps the built-in probability and flag and
	// takes the LLM's summary and signals; "replace" takes its probability too.
	Mode string `yaml:"mode"`
	// Timeout bounds one review; past it the built-in result stands. Default 20s.
	Timeout time.Duration `yaml:"timeout"`
	// MaxTranscriptChars bounds what is sent. Default 12000.
	MaxTranscriptChars int `yaml:"max_transcript_chars"`

	// After BreakAfter consecutive failures (default 3) the LLM is skipped for
	// BreakFor (default 1m), so a dead endpoint costs one timeout per minute,
	// not one per call in a review batch.
	BreakAfter int           `yaml:"break_after"`
	BreakFor   time.Duration `yaml:"break_for"`

	HTTPClient *http.Client     `yaml:"-"`
	Now        func() time.Time `yaml:"-"`
}

// LLM reviews calls with a chat model, falling back to the built-in result.
type LLM struct {
	cfg      LLMConfig
	endpoint string
	log      *slog.Logger

	mu       sync.Mutex
	failures int
	openTill time.Time
}

// NewLLM validates cfg.
func NewLLM(cfg LLMConfig, log *slog.Logger) (*LLM, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("scoring llm: url %q: want http(s)://host[:port][/path]", cfg.URL)
	}
	if !strings.HasSuffix(strings.TrimRight(u.Path, "/"), "/chat/completions") {
		p := strings.TrimRight(u.Path, "/")
		if !strings.HasSuffix(p, "/v1") {
			p += "/v1"
		}
		u.Path = p + "/chat/completions"
	}
	if cfg.Model == "" {
		return nil, errors.New("scoring llm: model is required")
	}
	switch cfg.Mode {
	case "":
		cfg.Mode = "augment"
	case "augment", "replace":
	default:
		return nil, fmt.Errorf("scoring llm: mode %q: want augment or replace", cfg.Mode)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 20 * time.Second
	}
	if cfg.MaxTranscriptChars <= 0 {
		cfg.MaxTranscriptChars = 12000
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = http.DefaultClient
	}
	if cfg.BreakAfter <= 0 {
		cfg.BreakAfter = 3
	}
	if cfg.BreakFor <= 0 {
		cfg.BreakFor = time.Minute
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &LLM{cfg: cfg, endpoint: u.String(), log: log}, nil
}

// llmVerdict is what the schema makes the model answer.
type llmVerdict struct {
	Probability float64 `json:"probability"`
	IsLead      bool    `json:"is_lead"`
	Summary     string  `json:"summary"`
	Signals     []struct {
		Text  string `json:"text"`
		Quote string `json:"quote"`
	} `json:"signals"`
}

// verdictSchema is the strict JSON schema sent as response_format.
var verdictSchema = json.RawMessage(`{
  "type": "object",
  "properties": {
    "probability": {"type": "number", "description": "probability from 0 to 1 that a quick callback books a job"},
    "is_lead": {"type": "boolean"},
    "summary": {"type": "string", "description": "two sentences: what the customer wanted; why the call did not book"},
    "signals": {"type": "array", "items": {"type": "object",
      "properties": {"text": {"type": "string"}, "quote": {"type": "string", "description": "exact words from the transcript, or empty"}},
      "required": ["text", "quote"], "additionalProperties": false}}
  },
  "required": ["probability", "is_lead", "summary", "signals"],
  "additionalProperties": false
}`)

const llmSystemPrompt = `You review unbooked calls to a home-service business (HVAC, plumbing, electrical, roofing, pest control, garage doors, appliance repair). ` +
	`Decide whether a quick callback from a CSR would probably book a job. Leads: price shopping, wants to think about it, must check with a spouse, scheduling conflict, wants a quote, comparing competitors, financing questions. ` +
	`Not leads: renters who cannot authorise work, status of an existing job, wrong numbers, vendors and sales calls, job seekers, callers outside the service area, spam, complaints about finished work, callers already booked elsewhere. ` +
	`Write the summary from the call only, never invent details. Quote the transcript in signals where you can.`

// Review asks the model and merges its answer into builtin; on any error,
// timeout, refusal or malformed answer it returns builtin unchanged.
func (l *LLM) Review(ctx context.Context, c *Call, builtin Result, threshold float64) Result {
	l.mu.Lock()
	open := l.cfg.Now().Before(l.openTill)
	l.mu.Unlock()
	if open {
		l.log.Debug("llm skipped after repeated failures", "call", c.CallID)
		return builtin
	}
	v, err := l.ask(ctx, c)
	l.mu.Lock()
	if err != nil {
		l.failures++
		if l.failures >= l.cfg.BreakAfter {
			l.openTill = l.cfg.Now().Add(l.cfg.BreakFor)
			l.failures = 0
		}
	} else {
		l.failures = 0
	}
	l.mu.Unlock()
	if err != nil {
		l.log.Warn("llm review failed, using the built-in model", "call", c.CallID, "err", err)
		return builtin
	}
	r := builtin
	r.Backend = "llm"
	if s := strings.TrimSpace(v.Summary); s != "" {
		r.Summary = s
	}
	sig := make([]Signal, 0, len(v.Signals)+len(builtin.Signals))
	for _, s := range v.Signals {
		if strings.TrimSpace(s.Text) != "" {
			sig = append(sig, Signal{Text: s.Text, Quote: s.Quote})
		}
	}
	if l.cfg.Mode == "replace" {
		r.Probability = v.Probability
		r.Flagged = v.Probability >= threshold
		r.Signals = sig
	} else {
		r.Backend = "builtin+llm"
		r.Signals = append(sig, builtin.Signals...)
	}
	return r
}

func (l *LLM) ask(ctx context.Context, c *Call) (*llmVerdict, error) {
	ctx, cancel := context.WithTimeout(ctx, l.cfg.Timeout)
	defer cancel()
	body, err := json.Marshal(map[string]any{
		"model": l.cfg.Model,
		"messages": []map[string]string{
			{"role": "system", "content": llmSystemPrompt},
			{"role": "user", "content": l.render(c)},
		},
		"temperature": 0,
		"response_format": map[string]any{
			"type":        "json_schema",
			"json_schema": map[string]any{"name": "lead_review", "strict": true, "schema": verdictSchema},
		},
	})
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, l.endpoint, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if l.cfg.APIKey != "" {
		req.Header.Set("Authorization", "Bearer "+l.cfg.APIKey)
	}
	resp, err := l.cfg.HTTPClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("chat completion: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return nil, fmt.Errorf("read chat completion: %w", err)
	}
	if resp.StatusCode/100 != 2 {
		return nil, fmt.Errorf("chat completion: server answered %d: %s", resp.StatusCode, clip(string(b), 200))
	}
	return parseCompletion(b)
}

// parseCompletion reads a chat.completion body and the verdict in its first
// choice, rejecting refusals, truncation and anything off the schema.
func parseCompletion(b []byte) (*llmVerdict, error) {
	var cc struct {
		Choices []struct {
			Message struct {
				Content *string `json:"content"`
				Refusal *string `json:"refusal"`
			} `json:"message"`
			FinishReason string `json:"finish_reason"`
		} `json:"choices"`
	}
	if err := json.Unmarshal(b, &cc); err != nil {
		return nil, fmt.Errorf("parse chat completion: %w", err)
	}
	if len(cc.Choices) == 0 {
		return nil, errors.New("chat completion has no choices")
	}
	ch := cc.Choices[0]
	if ch.Message.Refusal != nil && *ch.Message.Refusal != "" {
		return nil, fmt.Errorf("model refused: %s", clip(*ch.Message.Refusal, 200))
	}
	if ch.FinishReason != "stop" {
		return nil, fmt.Errorf("chat completion finished with %q", ch.FinishReason)
	}
	if ch.Message.Content == nil {
		return nil, errors.New("chat completion has no content")
	}
	var v llmVerdict
	dec := json.NewDecoder(strings.NewReader(*ch.Message.Content))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("answer does not match the schema: %w", err)
	}
	if !(v.Probability >= 0 && v.Probability <= 1) || strings.TrimSpace(v.Summary) == "" {
		return nil, fmt.Errorf("answer out of range: probability %v, summary %q", v.Probability, v.Summary)
	}
	return &v, nil
}

// render writes the call for the model: metadata, notes, then the transcript
// with timestamps and speakers, cut to MaxTranscriptChars.
func (l *LLM) render(c *Call) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Talk time: %d s\n", c.TalkMs/1000)
	fmt.Fprintf(&b, "CSR classification: type %q, reason %q\n", c.Classification.CallType, c.Classification.Reason)
	if c.KnownCustomer != nil {
		fmt.Fprintf(&b, "Known customer: %v\n", *c.KnownCustomer)
	}
	if c.Campaign != "" {
		fmt.Fprintf(&b, "Campaign: %s\n", c.Campaign)
	}
	fmt.Fprintf(&b, "CSR notes: %s\n", orUnknown(c.Classification.Notes))
	if !c.HasTranscript() {
		b.WriteString("Transcript: none.\n")
		return b.String()
	}
	b.WriteString("Transcript:\n")
	n := 0
	for _, s := range c.Transcript.Segments {
		who := "CALLER"
		if channelOf(s.Channel) == 'a' {
			who = "AGENT"
		}
		line := fmt.Sprintf("[%02d:%02d] %s: %s\n", s.StartMs/60000, s.StartMs/1000%60, who, s.Text)
		if n+len(line) > l.cfg.MaxTranscriptChars {
			b.WriteString("[transcript cut]\n")
			break
		}
		n += len(line)
		b.WriteString(line)
	}
	return b.String()
}
