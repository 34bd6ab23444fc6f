package main

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync/atomic"
	"testing"

	"go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"

	"github.com/reboundhq/rebound/hub/state"
	reboundv1 "github.com/reboundhq/rebound/proto/rebound/v1"
	"github.com/reboundhq/rebound/recorder"
	"github.com/reboundhq/rebound/transcribe"
)

// sttServer is an OpenAI-compatible /v1/audio/transcriptions endpoint that
// refuses any request a real server would refuse: wrong method or path, no
// bearer key, no model, a format other than verbose_json, or audio that is not
// 16 kHz mono 16-bit WAV. It answers with the real verbose_json shape.
type sttServer struct {
	key      string
	requests atomic.Int64
	rejected atomic.Int64
}

func (s *sttServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	reject := func(status int, msg string) {
		s.rejected.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"message": msg, "type": "invalid_request_error"}})
	}
	if r.Method != http.MethodPost || r.URL.Path != "/v1/audio/transcriptions" {
		reject(http.StatusNotFound, "no route "+r.Method+" "+r.URL.Path)
		return
	}
	if r.Header.Get("Authorization") != "Bearer "+s.key {
		reject(http.StatusUnauthorized, "bad api key")
		return
	}
	if err := r.ParseMultipartForm(32 << 20); err != nil {
		reject(http.StatusBadRequest, "multipart: "+err.Error())
		return
	}
	if r.FormValue("model") == "" || r.FormValue("response_format") != "verbose_json" {
		reject(http.StatusBadRequest, "model and response_format=verbose_json are required")
		return
	}
	f, _, err := r.FormFile("file")
	if err != nil {
		reject(http.StatusBadRequest, "file: "+err.Error())
		return
	}
	wav, _ := io.ReadAll(f)
	if len(wav) < 44 || string(wav[0:4]) != "RIFF" || string(wav[8:12]) != "WAVE" ||
		binary.LittleEndian.Uint16(wav[20:]) != 1 || binary.LittleEndian.Uint16(wav[22:]) != 1 ||
		binary.LittleEndian.Uint32(wav[24:]) != 16000 || binary.LittleEndian.Uint16(wav[34:]) != 16 {
		reject(http.StatusBadRequest, "want 16 kHz mono 16-bit PCM WAV")
		return
	}
	s.requests.Add(1)
	seconds := float64(len(wav)-44) / 32000
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{
		"task": "transcribe", "language": "english", "duration": seconds, "text": "heard on this channel",
		"segments": []map[string]any{{"id": 0, "seek": 0, "start": 0.0, "end": seconds, "text": " heard on this channel",
			"tokens": []int{1}, "temperature": 0.0, "avg_logprob": -0.2, "compression_ratio": 1.1, "no_speech_prob": 0.01}},
	})
}

// TestAgentShipsLateTranscripts runs the agent with the openai backend: the
// answered sample calls reach the hub first, and their transcripts follow as
// updates of the same calls, with a segment per channel.
func TestAgentShipsLateTranscripts(t *testing.T) {
	stt := &sttServer{key: "sk-test-key"}
	srv := httptest.NewServer(stt)
	defer srv.Close()

	s := newSiteHub(t)
	cfg := s.agentConfig(t)
	cfg.Recordings = recorder.Config{Dir: filepath.Join(s.dir, "recordings")}
	cfg.Transcribe = transcribe.Config{Backend: "openai", OpenAI: transcribe.OpenAIConfig{URL: srv.URL, APIKey: stt.key, Language: "en"}}

	// The list leaves the raw record out; read each call whole.
	transcribed := func(c state.Call) (*reboundv1.CallRecord, bool) {
		var r reboundv1.CallRecord
		err := s.h.srv.Node.View(t.Context(), false, func(tx *bbolt.Tx) error {
			full, ok, err := state.GetCall(tx, c.ID)
			if err != nil || !ok {
				return fmt.Errorf("call %s: found=%v: %w", c.ID, ok, err)
			}
			return proto.Unmarshal(full.Record, &r)
		})
		if err != nil {
			return nil, false
		}
		return &r, r.GetTranscript().GetStatus() == reboundv1.Transcript_STATUS_DONE
	}
	got := s.runAgent(t, cfg, func(calls []state.Call) bool {
		answered, done := 0, 0
		for _, c := range calls {
			if c.Outcome == "answered" {
				answered++
				if _, ok := transcribed(c); ok {
					done++
				}
			}
		}
		return answered > 0 && done == answered
	})
	if stt.rejected.Load() != 0 {
		t.Fatalf("the agent sent %d requests a real server would refuse", stt.rejected.Load())
	}
	for _, c := range got {
		r, ok := transcribed(c)
		if !ok {
			continue
		}
		if r.GetRevision() < 1 {
			t.Errorf("call %s: transcript arrived in revision %d, want a later revision", c.ID, r.GetRevision())
		}
		channels := map[reboundv1.Channel]bool{}
		for _, seg := range r.GetTranscript().GetSegments() {
			channels[seg.GetChannel()] = true
		}
		if !channels[reboundv1.Channel_CHANNEL_CALLER] || !channels[reboundv1.Channel_CHANNEL_AGENT] {
			t.Errorf("call %s: transcript channels %v, want caller and agent", c.ID, channels)
		}
	}
	if stt.requests.Load() == 0 {
		t.Fatal("no transcription request reached the server")
	}
}
