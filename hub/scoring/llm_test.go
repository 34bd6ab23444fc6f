package scoring

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// fakeChat is an OpenAI-compatible chat completions server that enforces the
// request contract (json body, bearer key, model, system+user messages,
// strict json_schema response_format) and answers in the real response shape.
type fakeChat struct {
	t      *testing.T
	answer func(w http.ResponseWriter, r *http.Request, user string) // nil: a valid verdict
	calls  atomic.Int32
}

func (f *fakeChat) start() *httptest.Server {
	s := httptest.NewServer(http.HandlerFunc(f.serve))
	f.t.Cleanup(s.Close)
	return s
}

func chatError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"error":{"message":%q,"type":"invalid_request_error","param":null,"code":null}}`, msg)
}

func completion(content string, refusal *string, finish string) map[string]any {
	msg := map[string]any{"role": "assistant", "content": content, "refusal": refusal}
	if refusal != nil {
		msg["content"] = nil
	}
	return map[string]any{
		"id": "chatcmpl-abc123", "object": "chat.completion", "created": 1763773200, "model": "gpt-4o-mini-2024-07-18",
		"choices": []any{map[string]any{"index": 0, "message": msg, "logprobs": nil, "finish_reason": finish}},
		"usage":   map[string]any{"prompt_tokens": 420, "completion_tokens": 80, "total_tokens": 500},
	}
}

func (f *fakeChat) serve(w http.ResponseWriter, r *http.Request) {
	f.calls.Add(1)
	reject := func(msg string) {
		f.t.Errorf("fake chat rejected the request: %s", msg)
		chatError(w, http.StatusBadRequest, msg)
	}
	if r.Method != http.MethodPost || r.URL.Path != "/v1/chat/completions" {
		reject("unknown endpoint " + r.URL.Path)
		return
	}
	if r.Header.Get("Authorization") != "Bearer sk-chat" {
		chatError(w, http.StatusUnauthorized, "Incorrect API key provided")
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		reject("content type " + ct)
		return
	}
	var req struct {
		Model    string `json:"model"`
		Messages []struct {
			Role    string `json:"role"`
			Content string `json:"content"`
		} `json:"messages"`
		ResponseFormat struct {
			Type       string `json:"type"`
			JSONSchema struct {
				Name   string `json:"name"`
				Strict bool   `json:"strict"`
				Schema struct {
					Type                 string         `json:"type"`
					Properties           map[string]any `json:"properties"`
					Required             []string       `json:"required"`
					AdditionalProperties *bool          `json:"additionalProperties"`
				} `json:"schema"`
			} `json:"json_schema"`
		} `json:"response_format"`
	}
	dec := json.NewDecoder(r.Body)
	if err := dec.Decode(&req); err != nil {
		reject("body is not JSON: " + err.Error())
		return
	}
	if req.Model == "" {
		reject("you must provide a model parameter")
		return
	}
	if len(req.Messages) != 2 || req.Messages[0].Role != "system" || req.Messages[1].Role != "user" || req.Messages[1].Content == "" {
		reject("want a system and a user message")
		return
	}
	rf := req.ResponseFormat
	s := rf.JSONSchema.Schema
	// Strict structured outputs need every property required and no extras.
	if rf.Type != "json_schema" || rf.JSONSchema.Name == "" || !rf.JSONSchema.Strict || s.Type != "object" ||
		s.AdditionalProperties == nil || *s.AdditionalProperties || len(s.Required) != len(s.Properties) {
		reject("response_format is not a strict json_schema")
		return
	}
	if f.answer != nil {
		f.answer(w, r, req.Messages[1].Content)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(completion(`{"probability":0.83,"is_lead":true,"summary":"The caller wanted a price on a new water heater. They did not book because they wanted to ask their wife first.","signals":[{"text":"needs spouse approval","quote":"let me check with my wife"}]}`, nil, "stop"))
}

func newLLM(t *testing.T, url, mode string) *LLM {
	t.Helper()
	l, err := NewLLM(LLMConfig{URL: url, APIKey: "sk-chat", Model: "gpt-4o-mini", Mode: mode, Timeout: 2 * time.Second}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestLLMReview(t *testing.T) {
	m := prior(t)
	c := waterHeaterCall("llm-1")
	builtin := m.Score(&c)
	f := &fakeChat{t: t}
	var user string
	f.answer = nil
	s := f.start()

	r := newLLM(t, s.URL, "augment").Review(context.Background(), &c, builtin, 0.5)
	if r.Backend != "builtin+llm" || r.Probability != builtin.Probability || !strings.Contains(r.Summary, "ask their wife") {
		t.Fatalf("augment: %+v", r)
	}
	if r.Signals[0].Quote != "let me check with my wife" || len(r.Signals) != 1+len(builtin.Signals) {
		t.Errorf("augment signals %+v", r.Signals)
	}
	r = newLLM(t, s.URL, "replace").Review(context.Background(), &c, builtin, 0.9)
	if r.Backend != "llm" || r.Probability != 0.83 || r.Flagged {
		t.Fatalf("replace: %+v (0.83 is under the 0.9 threshold)", r)
	}

	// The user message carries the transcript with speakers and times.
	f2 := &fakeChat{t: t, answer: func(w http.ResponseWriter, _ *http.Request, u string) {
		user = u
		chatError(w, http.StatusInternalServerError, "overloaded")
	}}
	newLLM(t, f2.start().URL, "augment").Review(context.Background(), &c, builtin, 0.5)
	if !strings.Contains(user, "[00:04] CALLER: hi yeah theres no hot water") || !strings.Contains(user, "AGENT:") {
		t.Errorf("user message:\n%s", user)
	}
}

func TestLLMFallback(t *testing.T) {
	m := prior(t)
	c := waterHeaterCall("llm-2")
	builtin := m.Score(&c)
	refusal := "I can't help with that."
	for _, tc := range []struct {
		name   string
		answer func(w http.ResponseWriter, r *http.Request, user string)
		key    string
	}{
		{"500", func(w http.ResponseWriter, _ *http.Request, _ string) { chatError(w, 500, "The server had an error") }, ""},
		{"429", func(w http.ResponseWriter, _ *http.Request, _ string) { chatError(w, 429, "Rate limit reached") }, ""},
		{"401", nil, "sk-wrong"},
		{"refusal", func(w http.ResponseWriter, _ *http.Request, _ string) {
			json.NewEncoder(w).Encode(completion("", &refusal, "stop"))
		}, ""},
		{"cut off", func(w http.ResponseWriter, _ *http.Request, _ string) {
			json.NewEncoder(w).Encode(completion(`{"probability":0.8,"is_le`, nil, "length"))
		}, ""},
		{"off schema", func(w http.ResponseWriter, _ *http.Request, _ string) {
			json.NewEncoder(w).Encode(completion(`{"probability":7,"is_lead":true,"summary":"x","signals":[]}`, nil, "stop"))
		}, ""},
		{"extra field", func(w http.ResponseWriter, _ *http.Request, _ string) {
			json.NewEncoder(w).Encode(completion(`{"probability":0.5,"is_lead":true,"summary":"x","signals":[],"why":"?"}`, nil, "stop"))
		}, ""},
		{"slow", func(w http.ResponseWriter, r *http.Request, _ string) { <-r.Context().Done() }, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeChat{t: t, answer: tc.answer}
			cfg := LLMConfig{URL: f.start().URL, APIKey: "sk-chat", Model: "m", Timeout: 100 * time.Millisecond}
			if tc.key != "" {
				cfg.APIKey = tc.key
			}
			l, err := NewLLM(cfg, nil)
			if err != nil {
				t.Fatal(err)
			}
			r := l.Review(context.Background(), &c, builtin, 0.5)
			if r.Backend != "builtin" || r.Summary != builtin.Summary || r.Probability != builtin.Probability {
				t.Fatalf("no fallback to the built-in result: %+v", r)
			}
			if f.calls.Load() != 1 {
				t.Errorf("%d calls", f.calls.Load())
			}
		})
	}
}

func TestNewLLMConfig(t *testing.T) {
	for _, bad := range []LLMConfig{{URL: "x", Model: "m"}, {URL: "http://h"}, {URL: "http://h", Model: "m", Mode: "vote"}} {
		if _, err := NewLLM(bad, nil); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
	l, err := NewLLM(LLMConfig{URL: "http://h:1/openai/v1/", Model: "m"}, nil)
	if err != nil || l.endpoint != "http://h:1/openai/v1/chat/completions" {
		t.Fatalf("endpoint %q err %v", l.endpoint, err)
	}
}

func TestLLMBreaker(t *testing.T) {
	m := prior(t)
	c := waterHeaterCall("llm-3")
	builtin := m.Score(&c)
	var healthy atomic.Bool
	f := &fakeChat{t: t}
	f.answer = func(w http.ResponseWriter, r *http.Request, u string) {
		if !healthy.Load() {
			chatError(w, 503, "unavailable")
			return
		}
		json.NewEncoder(w).Encode(completion(`{"probability":0.9,"is_lead":true,"summary":"ok.","signals":[]}`, nil, "stop"))
	}
	now := time.Date(2026, 11, 22, 2, 0, 0, 0, time.UTC)
	l, err := NewLLM(LLMConfig{URL: f.start().URL, APIKey: "sk-chat", Model: "m", BreakAfter: 2, BreakFor: time.Minute, Now: func() time.Time { return now }}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		l.Review(context.Background(), &c, builtin, 0.5)
	}
	if n := f.calls.Load(); n != 2 {
		t.Fatalf("%d requests while the endpoint was failing, want 2 then the breaker open", n)
	}
	healthy.Store(true)
	now = now.Add(61 * time.Second)
	if r := l.Review(context.Background(), &c, builtin, 0.5); r.Backend != "builtin+llm" || f.calls.Load() != 3 {
		t.Fatalf("after the break the LLM was not tried again: %+v, %d calls", r, f.calls.Load())
	}
}

func FuzzParseCompletion(f *testing.F) {
	ok, _ := json.Marshal(completion(`{"probability":0.83,"is_lead":true,"summary":"s.","signals":[{"text":"t","quote":"q"}]}`, nil, "stop"))
	f.Add(ok)
	r := "no"
	ref, _ := json.Marshal(completion("", &r, "stop"))
	f.Add(ref)
	f.Add([]byte(`{"choices":[]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := parseCompletion(b)
		if err == nil && (v.Probability < 0 || v.Probability > 1 || strings.TrimSpace(v.Summary) == "") {
			t.Fatalf("accepted %+v", v)
		}
	})
}
