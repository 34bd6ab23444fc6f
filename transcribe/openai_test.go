package transcribe

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	reboundv1 "github.com/reboundhq/rebound/proto/rebound/v1"
)

const testKey = "sk-test-0123456789"

// fakeSTT is an OpenAI-compatible transcription server that enforces the
// request shape the real API requires and answers with real verbose_json
// shapes. Anything malformed gets the API's 400 error body and fails the test.
type fakeSTT struct {
	t *testing.T
	// reply decides the answer to request n (1-based); nil means transcribe.
	reply func(n int, w http.ResponseWriter, r *http.Request, audio *PCM) bool
	// textFor names the text of voiced region i of a request whose first
	// voiced region starts at firstMs (tests tell channels apart by timing,
	// since requests arrive in any order); nil gives "speech i".
	textFor func(firstMs int64, i int) string

	mu          sync.Mutex
	n           int
	inFlight    int
	maxInFlight int
	models      []string
	languages   []string
}

func (f *fakeSTT) start() *httptest.Server {
	s := httptest.NewServer(http.HandlerFunc(f.serve))
	f.t.Cleanup(s.Close)
	return s
}

func apiError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"error":{"message":%q,"type":"invalid_request_error","param":null,"code":null}}`, msg)
}

func (f *fakeSTT) reject(w http.ResponseWriter, status int, msg string) {
	f.t.Errorf("fake STT rejected the request: %s", msg)
	apiError(w, status, msg)
}

func (f *fakeSTT) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.n++
	n := f.n
	f.inFlight++
	f.maxInFlight = max(f.maxInFlight, f.inFlight)
	f.mu.Unlock()
	defer func() { f.mu.Lock(); f.inFlight--; f.mu.Unlock() }()

	if r.Method != http.MethodPost || r.URL.Path != "/v1/audio/transcriptions" {
		f.reject(w, http.StatusNotFound, "unknown endpoint "+r.Method+" "+r.URL.Path)
		return
	}
	if r.Header.Get("Authorization") != "Bearer "+testKey {
		apiError(w, http.StatusUnauthorized, "Incorrect API key provided")
		return
	}
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" || params["boundary"] == "" {
		f.reject(w, http.StatusBadRequest, "content type must be multipart/form-data with a boundary")
		return
	}
	if err := r.ParseMultipartForm(64 << 20); err != nil {
		f.reject(w, http.StatusBadRequest, "bad multipart body: "+err.Error())
		return
	}
	model := r.FormValue("model")
	if model == "" {
		f.reject(w, http.StatusBadRequest, "you must provide a model parameter")
		return
	}
	if rf := r.FormValue("response_format"); rf != "verbose_json" {
		f.reject(w, http.StatusBadRequest, "response_format "+rf+": want verbose_json")
		return
	}
	if g := r.MultipartForm.Value["timestamp_granularities[]"]; len(g) != 1 || g[0] != "segment" {
		f.reject(w, http.StatusBadRequest, fmt.Sprintf("timestamp_granularities[] %v", g))
		return
	}
	files := r.MultipartForm.File["file"]
	if len(files) != 1 || !strings.HasSuffix(files[0].Filename, ".wav") {
		f.reject(w, http.StatusBadRequest, "one file part with a .wav filename is required")
		return
	}
	fh, _ := files[0].Open()
	b, _ := io.ReadAll(fh)
	fh.Close()
	// The exact header the client promises: canonical 16 kHz mono 16-bit PCM.
	if len(b) < 44 || string(b[0:4]) != "RIFF" || string(b[8:16]) != "WAVEfmt " ||
		binary.LittleEndian.Uint16(b[20:]) != 1 || binary.LittleEndian.Uint16(b[22:]) != 1 ||
		binary.LittleEndian.Uint32(b[24:]) != 16000 || binary.LittleEndian.Uint32(b[28:]) != 32000 ||
		binary.LittleEndian.Uint16(b[32:]) != 2 || binary.LittleEndian.Uint16(b[34:]) != 16 ||
		string(b[36:40]) != "data" || int(binary.LittleEndian.Uint32(b[40:])) != len(b)-44 {
		f.reject(w, http.StatusBadRequest, "audio is not a 16 kHz mono 16-bit PCM WAV")
		return
	}
	audio, err := ParseWAV(b)
	if err != nil {
		f.reject(w, http.StatusBadRequest, err.Error())
		return
	}
	f.mu.Lock()
	f.models = append(f.models, model)
	f.languages = append(f.languages, r.FormValue("language"))
	f.mu.Unlock()
	if f.reply != nil && f.reply(n, w, r, audio) {
		return
	}
	f.transcribe(w, audio.Channels[0])
}

// transcribe answers with one segment per voiced region (20 ms frames above
// an energy floor, gaps under 400 ms bridged), in the verbose_json shape.
func (f *fakeSTT) transcribe(w http.ResponseWriter, x []int16) {
	type seg struct {
		ID               int     `json:"id"`
		Seek             int     `json:"seek"`
		Start            float64 `json:"start"`
		End              float64 `json:"end"`
		Text             string  `json:"text"`
		Tokens           []int   `json:"tokens"`
		Temperature      float64 `json:"temperature"`
		AvgLogprob       float64 `json:"avg_logprob"`
		CompressionRatio float64 `json:"compression_ratio"`
		NoSpeechProb     float64 `json:"no_speech_prob"`
	}
	var segs []seg
	const frame = 320
	var on, last = -1, -1
	flush := func() {
		if on < 0 {
			return
		}
		text := fmt.Sprintf("speech %d", len(segs))
		if f.textFor != nil {
			firstMs := int64(on) / 16
			if len(segs) > 0 {
				firstMs = int64(segs[0].Start * 1000)
			}
			text = f.textFor(firstMs, len(segs))
		}
		segs = append(segs, seg{ID: len(segs), Start: float64(on) / 16000, End: float64(last+frame) / 16000,
			Text: " " + text, Tokens: []int{50364, 440}, AvgLogprob: -0.28, CompressionRatio: 1.2, NoSpeechProb: 0.01})
		on = -1
	}
	for i := 0; i+frame <= len(x); i += frame {
		if rms(x[i:i+frame]) > 300 {
			if on >= 0 && i-last > 400*16 {
				flush()
			}
			if on < 0 {
				on = i
			}
			last = i
		}
	}
	flush()
	// Whisper hallucinates on silence; the client must drop this segment.
	segs = append(segs, seg{ID: len(segs), Start: float64(len(x)) / 16000, End: float64(len(x)) / 16000, Text: " Thank you for watching.", NoSpeechProb: 0.9, AvgLogprob: -1.4})
	var text strings.Builder
	for _, s := range segs {
		text.WriteString(s.Text)
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"task": "transcribe", "language": "english",
		"duration": float64(len(x)) / 16000, "text": text.String(), "segments": segs})
}

// burst is a speech-like signal: a 300 Hz tone with harmonics.
func burst(rate int, startS, endS, totalS float64) []int16 {
	x := make([]int16, int(totalS*float64(rate)))
	for i := int(startS * float64(rate)); i < int(endS*float64(rate)) && i < len(x); i++ {
		t := float64(i) / float64(rate)
		x[i] = int16(4000*math.Sin(2*math.Pi*300*t) + 2000*math.Sin(2*math.Pi*900*t) + 1000*math.Sin(2*math.Pi*2100*t))
	}
	return x
}

func newClient(t *testing.T, url string, mod func(*OpenAIConfig)) *OpenAI {
	t.Helper()
	zero := 0
	cfg := OpenAIConfig{URL: url, APIKey: testKey, Model: "whisper-large-v3", Language: "en", Backoff: time.Millisecond, MaxBackoff: 20 * time.Millisecond, Retries: &zero}
	if mod != nil {
		mod(&cfg)
	}
	o, err := NewOpenAI(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func TestOpenAIPerChannel(t *testing.T) {
	f := &fakeSTT{t: t}
	s := f.start()
	o := newClient(t, s.URL, nil)
	wav := stereoWAV(8000, burst(8000, 0.5, 1.5, 4), burst(8000, 2.0, 3.2, 4))
	tr, err := o.Transcribe(context.Background(), wav)
	if err != nil {
		t.Fatal(err)
	}
	if tr.Status != reboundv1.Transcript_STATUS_DONE || tr.Backend != "openai" {
		t.Fatalf("status %v backend %q", tr.Status, tr.Backend)
	}
	if len(tr.Segments) != 2 {
		t.Fatalf("got %d segments, want 2 (the hallucinated one dropped): %v", len(tr.Segments), tr.Segments)
	}
	c, a := tr.Segments[0], tr.Segments[1]
	if c.Channel != reboundv1.Channel_CHANNEL_CALLER || a.Channel != reboundv1.Channel_CHANNEL_AGENT {
		t.Fatalf("channels %v, %v", c.Channel, a.Channel)
	}
	near := func(got int64, want int64) bool { return got >= want-60 && got <= want+60 }
	if !near(c.StartMs, 500) || !near(c.EndMs, 1500) || !near(a.StartMs, 2000) || !near(a.EndMs, 3200) {
		t.Errorf("timing after split and resampling: caller %d-%d ms, agent %d-%d ms", c.StartMs, c.EndMs, a.StartMs, a.EndMs)
	}
	if f.models[0] != "whisper-large-v3" || f.languages[0] != "en" {
		t.Errorf("model %v language %v", f.models, f.languages)
	}
}

func TestOpenAISilentChannelNotSent(t *testing.T) {
	f := &fakeSTT{t: t}
	o := newClient(t, f.start().URL, nil)
	tr, err := o.Transcribe(context.Background(), stereoWAV(8000, burst(8000, 0.2, 1, 2), make([]int16, 16000)))
	if err != nil {
		t.Fatal(err)
	}
	if f.n != 1 || len(tr.Segments) != 1 || tr.Segments[0].Channel != reboundv1.Channel_CHANNEL_CALLER {
		t.Fatalf("%d requests, segments %v", f.n, tr.Segments)
	}
}

func TestOpenAIErrorsAndRetries(t *testing.T) {
	mono := EncodeWAV(8000, burst(8000, 0.1, 0.6, 1))
	for _, tc := range []struct {
		name     string
		retries  int
		answers  []int // status per attempt; 200 transcribes
		header   string
		key      string
		wantErr  string
		attempts int
	}{
		{name: "429 with Retry-After then ok", retries: 3, answers: []int{429, 200}, header: "0", attempts: 2},
		{name: "500 twice then ok", retries: 3, answers: []int{500, 502, 200}, attempts: 3},
		{name: "503 until retries run out", retries: 2, answers: []int{503, 503, 503, 503}, wantErr: "503", attempts: 3},
		{name: "400 is not retried", retries: 3, answers: []int{400, 200}, wantErr: "Invalid file format", attempts: 1},
		{name: "401 is not retried", retries: 3, answers: []int{200}, key: "wrong", wantErr: "Incorrect API key", attempts: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeSTT{t: t}
			f.reply = func(n int, w http.ResponseWriter, _ *http.Request, _ *PCM) bool {
				st := tc.answers[min(n-1, len(tc.answers)-1)]
				if st == 200 {
					return false
				}
				if tc.header != "" {
					w.Header().Set("Retry-After", tc.header)
				}
				msg := "The server had an error while processing your request."
				if st == 400 {
					msg = "Invalid file format."
				}
				apiError(w, st, msg)
				return true
			}
			o := newClient(t, f.start().URL, func(c *OpenAIConfig) {
				c.Retries = &tc.retries
				if tc.key != "" {
					c.APIKey = tc.key
				}
			})
			tr, err := o.Transcribe(context.Background(), mono)
			if tc.wantErr == "" && err != nil {
				t.Fatal(err)
			}
			if tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("err %v, want it to mention %q", err, tc.wantErr)
			}
			if err != nil && strings.Contains(err.Error(), testKey) {
				t.Fatal("the API key leaked into an error")
			}
			if tc.wantErr == "" && len(tr.Segments) != 1 {
				t.Fatalf("segments %v", tr.Segments)
			}
			if f.n != tc.attempts {
				t.Fatalf("%d attempts, want %d", f.n, tc.attempts)
			}
		})
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 22, 1, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		v    string
		want time.Duration
	}{
		{"", 0}, {"7", 7 * time.Second}, {" 0 ", 0}, {"-3", 0}, {"soon", 0},
		{"Sun, 22 Nov 2026 01:00:30 GMT", 30 * time.Second},
		{"Sun, 22 Nov 2026 00:59:00 GMT", 0},
	} {
		if got := retryAfter(tc.v, now); got != tc.want {
			t.Errorf("retryAfter(%q) = %v, want %v", tc.v, got, tc.want)
		}
	}
}

func TestOpenAITimeout(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	f := &fakeSTT{t: t}
	f.reply = func(_ int, _ http.ResponseWriter, r *http.Request, _ *PCM) bool {
		select { // a server that never answers in time
		case <-r.Context().Done():
		case <-release:
		}
		return true
	}
	one := 1
	o := newClient(t, f.start().URL, func(c *OpenAIConfig) { c.RequestTimeout = 50 * time.Millisecond; c.Retries = &one })
	_, err := o.Transcribe(context.Background(), EncodeWAV(8000, burst(8000, 0.1, 0.5, 1)))
	if err == nil || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err %v, want a deadline", err)
	}
	if f.n != 2 {
		t.Errorf("%d attempts, want 2 (a timed-out attempt is retried)", f.n)
	}
}

func TestOpenAIConcurrencyLimit(t *testing.T) {
	f := &fakeSTT{t: t}
	f.reply = func(int, http.ResponseWriter, *http.Request, *PCM) bool {
		time.Sleep(20 * time.Millisecond) // hold the slot so overlaps would show
		return false
	}
	o := newClient(t, f.start().URL, func(c *OpenAIConfig) { c.Concurrency = 2 })
	wav := stereoWAV(8000, burst(8000, 0.1, 0.5, 1), burst(8000, 0.6, 0.9, 1))
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			if _, err := o.Transcribe(context.Background(), wav); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if f.n != 8 || f.maxInFlight > 2 {
		t.Fatalf("%d requests, %d at once; want 8 and at most 2", f.n, f.maxInFlight)
	}
}

func TestNewOpenAIConfig(t *testing.T) {
	for _, tc := range []struct{ url, endpoint string }{
		{"http://127.0.0.1:8080", "http://127.0.0.1:8080/v1/audio/transcriptions"},
		{"http://h/v1/", "http://h/v1/audio/transcriptions"},
		{"https://api.example.com/openai/v1/audio/transcriptions", "https://api.example.com/openai/v1/audio/transcriptions"},
	} {
		o, err := NewOpenAI(OpenAIConfig{URL: tc.url}, nil)
		if err != nil || o.endpoint != tc.endpoint {
			t.Errorf("%s: endpoint %q err %v, want %q", tc.url, o.endpoint, err, tc.endpoint)
		}
	}
	for _, bad := range []string{"", "ftp://x", "127.0.0.1:8080", "http://"} {
		if _, err := NewOpenAI(OpenAIConfig{URL: bad}, nil); err == nil {
			t.Errorf("url %q accepted", bad)
		}
	}
	if _, err := New(Config{Backend: "whisper"}, nil); err == nil {
		t.Error("unknown backend accepted")
	}
	if tr, err := New(Config{}, nil); err != nil || tr.Backend() != "none" {
		t.Errorf("default backend %v %v", tr, err)
	}
}

func writeWAV(t *testing.T, b []byte) string {
	p := filepath.Join(t.TempDir(), "call.wav")
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func testRecord() *reboundv1.CallRecord {
	return &reboundv1.CallRecord{RecordId: "site1/call-42/1", CallId: "call-42", Revision: 1, TalkMs: 4000, Outcome: reboundv1.Outcome_OUTCOME_ANSWERED,
		Recording: &reboundv1.Recording{Ref: "call-42.wav"}}
}

func TestRunnerNoneShipsAtOnce(t *testing.T) {
	r := NewRunner(None{}, Config{}, nil)
	got := r.Start(context.Background(), testRecord(), "/does/not/matter.wav", func(*reboundv1.CallRecord) {
		t.Error("the none backend sent an update")
	})
	r.Wait()
	if got.Transcript.GetStatus() != reboundv1.Transcript_STATUS_NONE || !strings.Contains(got.Transcript.GetReason(), "no transcription backend") {
		t.Fatalf("transcript %v", got.Transcript)
	}
	if got.Revision != 1 || got.RecordId != "site1/call-42/1" {
		t.Fatalf("record changed: %v", got)
	}
}

// TestRunnerPendingThenUpdate shows a record is never held hostage: Start
// returns while the server is still holding the request, and the transcript
// follows as a higher revision of the same call, redacted.
func TestRunnerPendingThenUpdate(t *testing.T) {
	for _, redact := range []bool{true, false} {
		t.Run(fmt.Sprintf("redact=%v", redact), func(t *testing.T) {
			hold := make(chan struct{})
			f := &fakeSTT{t: t, textFor: func(firstMs int64, _ int) string {
				if firstMs < 1000 {
					return "my card is 4111 1111 1111 1111"
				}
				return "thank you"
			}}
			f.reply = func(int, http.ResponseWriter, *http.Request, *PCM) bool {
				<-hold
				return false
			}
			o := newClient(t, f.start().URL, nil)
			r := NewRunner(o, Config{Redact: &redact}, nil)
			updates := make(chan *reboundv1.CallRecord, 2)
			rec := testRecord()
			got := r.Start(context.Background(), rec, writeWAV(t, stereoWAV(8000, burst(8000, 0.2, 1, 3), burst(8000, 1.5, 2.5, 3))), func(u *reboundv1.CallRecord) { updates <- u })
			if got.Transcript.GetStatus() != reboundv1.Transcript_STATUS_PENDING {
				t.Fatalf("Start returned %v before the server answered", got.Transcript.GetStatus())
			}
			if rec.Transcript != nil {
				t.Fatal("Start modified its input")
			}
			close(hold)
			r.Wait()
			if len(updates) != 1 {
				t.Fatalf("%d updates, want 1", len(updates))
			}
			u := <-updates
			if u.CallId != "call-42" || u.Revision != 2 || u.RecordId == rec.RecordId {
				t.Fatalf("update call %q revision %d record %q", u.CallId, u.Revision, u.RecordId)
			}
			tr := u.Transcript
			if tr.Status != reboundv1.Transcript_STATUS_DONE || len(tr.Segments) != 2 {
				t.Fatalf("transcript %v", tr)
			}
			caller := tr.Segments[0].Text
			if redact && (caller != "my card is [card number]" || !tr.Redacted) {
				t.Errorf("redacted caller text %q (redacted=%v)", caller, tr.Redacted)
			}
			if !redact && (caller != "my card is 4111 1111 1111 1111" || tr.Redacted) {
				t.Errorf("unredacted caller text %q (redacted=%v)", caller, tr.Redacted)
			}
		})
	}
}

func TestRunnerFailureAndWait(t *testing.T) {
	// A server that always fails: the update says FAILED and why.
	f := &fakeSTT{t: t}
	f.reply = func(_ int, w http.ResponseWriter, _ *http.Request, _ *PCM) bool {
		apiError(w, http.StatusBadRequest, "Audio file might be corrupted or unsupported")
		return true
	}
	r := NewRunner(newClient(t, f.start().URL, nil), Config{}, nil)
	updates := make(chan *reboundv1.CallRecord, 1)
	r.Start(context.Background(), testRecord(), writeWAV(t, EncodeWAV(8000, burst(8000, 0.1, 0.5, 1))), func(u *reboundv1.CallRecord) { updates <- u })
	r.Wait()
	u := <-updates
	if u.Transcript.Status != reboundv1.Transcript_STATUS_FAILED || !strings.Contains(u.Transcript.Reason, "corrupted") {
		t.Fatalf("transcript %v", u.Transcript)
	}

	// A missing recording file fails the same way.
	r.Start(context.Background(), testRecord(), filepath.Join(t.TempDir(), "gone.wav"), func(u *reboundv1.CallRecord) { updates <- u })
	r.Wait()
	if u := <-updates; u.Transcript.Status != reboundv1.Transcript_STATUS_FAILED {
		t.Fatalf("missing file: %v", u.Transcript)
	}

	// With Wait set and a server that answers, the record ships already DONE.
	ok := &fakeSTT{t: t}
	r = NewRunner(newClient(t, ok.start().URL, nil), Config{Wait: time.Minute}, nil)
	got := r.Start(context.Background(), testRecord(), writeWAV(t, EncodeWAV(8000, burst(8000, 0.1, 0.5, 1))), func(*reboundv1.CallRecord) {
		t.Error("an update followed a transcript that shipped with the record")
	})
	r.Wait()
	if got.Transcript.GetStatus() != reboundv1.Transcript_STATUS_DONE || got.Revision != 1 {
		t.Fatalf("transcript %v revision %d", got.Transcript, got.Revision)
	}
	// An abandoned call is not sent, and says why.
	ab := testRecord()
	ab.Outcome = reboundv1.Outcome_OUTCOME_ABANDONED
	got = r.Start(context.Background(), ab, writeWAV(t, EncodeWAV(8000, burst(8000, 0.1, 0.5, 1))), nil)
	if got.Transcript.GetStatus() != reboundv1.Transcript_STATUS_NONE || !strings.Contains(got.Transcript.GetReason(), "ABANDONED") {
		t.Fatalf("abandoned: %v", got.Transcript)
	}
	if _, err := New(Config{Outcomes: []string{"answered", "bogus"}}, nil); err == nil {
		t.Error("an unknown outcome was accepted")
	}
	// No recording: nothing to wait for.
	got = r.Start(context.Background(), testRecord(), "", nil)
	if got.Transcript.GetStatus() != reboundv1.Transcript_STATUS_NONE {
		t.Fatalf("no recording: %v", got.Transcript)
	}
}

// FuzzVerboseJSON feeds response bodies (seeded with the real shape) to the
// parser and converter: no panic, and segments never run backwards.
func FuzzVerboseJSON(f *testing.F) {
	f.Add([]byte(`{"task":"transcribe","language":"english","duration":8.47,"text":" The beach was a popular spot.","segments":[{"id":0,"seek":0,"start":0.0,"end":3.32,"text":" The beach was a popular spot.","tokens":[50364,440],"temperature":0.0,"avg_logprob":-0.28,"compression_ratio":1.23,"no_speech_prob":0.0098}]}`))
	f.Add([]byte(`{"text":"hello","duration":1.5}`))
	f.Add([]byte(`{"segments":[{"start":5,"end":-1,"text":"x"},{"start":1e300,"end":"NaN"}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := parseVerboseJSON(b)
		if err != nil {
			return
		}
		for _, s := range segments(v, reboundv1.Channel_CHANNEL_CALLER) {
			if s.EndMs < s.StartMs || s.StartMs < 0 || s.Text == "" {
				t.Fatalf("segment %v", s)
			}
		}
	})
}

func TestRunnerShutdownAndOffline(t *testing.T) {
	hold := make(chan struct{})
	defer close(hold)
	f := &fakeSTT{t: t}
	f.reply = func(_ int, _ http.ResponseWriter, r *http.Request, _ *PCM) bool {
		select {
		case <-r.Context().Done():
		case <-hold:
		}
		return true
	}
	r := NewRunner(newClient(t, f.start().URL, nil), Config{}, nil)
	ctx, cancel := context.WithCancel(context.Background())
	updates := make(chan *reboundv1.CallRecord, 1)
	wav := writeWAV(t, EncodeWAV(8000, burst(8000, 0.1, 0.5, 1)))
	if got := r.Start(ctx, testRecord(), wav, func(u *reboundv1.CallRecord) { updates <- u }); got.Transcript.GetStatus() != reboundv1.Transcript_STATUS_PENDING {
		t.Fatalf("%v", got.Transcript)
	}
	cancel() // agent shutdown
	r.Wait()
	if u := <-updates; u.Transcript.Status != reboundv1.Transcript_STATUS_FAILED || !strings.Contains(u.Transcript.Reason, "canceled") {
		t.Fatalf("after shutdown: %v", u.Transcript)
	}

	// Offline: a nil update waits for the transcript.
	ok := &fakeSTT{t: t}
	r = NewRunner(newClient(t, ok.start().URL, nil), Config{}, nil)
	if got := r.Start(context.Background(), testRecord(), wav, nil); got.Transcript.GetStatus() != reboundv1.Transcript_STATUS_DONE || len(got.Transcript.Segments) != 1 {
		t.Fatalf("offline: %v", got.Transcript)
	}
}
