package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const corpusPath = "../../hub/scoring/testdata/corpus.jsonl"

// TestScoreEvalHeldOut is the CI bar: the shipped model on the held-out split
// of the corpus must reach F1 0.85 and ROC AUC 0.93, or the command fails.
func TestScoreEvalHeldOut(t *testing.T) {
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"score", "--eval", corpusPath, "--split", "test"}, stdio{&out, &errb})
	t.Logf("\n%s%s", out.String(), errb.String())
	if code != 0 {
		t.Fatalf("rebound score --eval on the held-out split exited %d", code)
	}
	for _, k := range []string{"precision", "recall", "f1", "roc_auc", "ece"} {
		if !strings.Contains(out.String(), k+" ") {
			t.Errorf("eval output lacks %s", k)
		}
	}
	// The bars are real: an impossible bar fails the command.
	out.Reset()
	if code := run(context.Background(), []string{"score", "--eval", corpusPath, "--split", "test", "--min-f1", "0.999"}, stdio{&out, &errb}); code == 0 {
		t.Error("--min-f1 0.999 did not fail")
	}
}

func TestScoreIn(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "calls.jsonl")
	lines := strings.Join([]string{
		`{"callId":"c1","talkMs":120000,"someFutureField":true,"transcript":{"segments":[` +
			`{"channel":"AGENT","startMs":0,"endMs":3000,"text":"thanks for calling blue wave plumbing"},` +
			`{"channel":"CALLER","startMs":3000,"endMs":8000,"text":"hi how much to replace a water heater"},` +
			`{"channel":"AGENT","startMs":8000,"endMs":12000,"text":"about eighteen hundred installed"},` +
			`{"channel":"CALLER","startMs":12000,"endMs":16000,"text":"ok let me check with my wife and call you back"}]},` +
			`"classification":{"callType":"Unbooked","reason":"","notes":""}}`,
		`{"callId": broken`,
		`{"callId":"c2","talkMs":8000,"classification":{"callType":"Not a lead","reason":"Wrong number","notes":"wrong #"}}`,
	}, "\n")
	if err := os.WriteFile(in, []byte(lines), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"score", "--in", in}, stdio{&out, &errb})
	if code == 0 {
		t.Error("a skipped line did not make the exit code non-zero")
	}
	if !strings.Contains(errb.String(), "calls.jsonl:2:") {
		t.Errorf("stderr %q does not name line 2", errb.String())
	}
	var got []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("output line %q: %v", l, err)
		}
		for _, k := range []string{"callId", "probability", "flagged", "summary", "signals"} {
			if _, ok := m[k]; !ok {
				t.Errorf("output line lacks %s: %s", k, l)
			}
		}
		got = append(got, m)
	}
	if len(got) != 2 || got[0]["callId"] != "c1" || got[1]["callId"] != "c2" {
		t.Fatalf("got %v", got)
	}
	if got[0]["flagged"] != true || got[1]["flagged"] != false {
		t.Errorf("flags: water heater %v, wrong number %v", got[0]["flagged"], got[1]["flagged"])
	}
	if s, _ := got[0]["summary"].(string); !strings.Contains(s, "water heater") || !strings.Contains(s, "spouse") {
		t.Errorf("summary %q", s)
	}
}

func TestScoreFlags(t *testing.T) {
	var out, errb bytes.Buffer
	for _, args := range [][]string{{"score"}, {"score", "--in", "a", "--eval", "b"}, {"score", "--eval", corpusPath, "--split", "nope"}} {
		if code := run(context.Background(), args, stdio{&out, &errb}); code != 2 {
			t.Errorf("%v exited %d, want 2", args, code)
		}
	}
	if code := run(context.Background(), []string{"score", "--in", "/nonexistent/x.jsonl"}, stdio{&out, &errb}); code != 1 {
		t.Errorf("missing file exited %d, want 1", code)
	}
}

// TestScoreLLMUnreachable: with the LLM backend down the built-in result stands.
func TestScoreLLMUnreachable(t *testing.T) {
	in := filepath.Join(t.TempDir(), "c.jsonl")
	if err := os.WriteFile(in, []byte(`{"callId":"x","talkMs":9000,"classification":{"callType":"Not a lead","reason":"Wrong number","notes":"wrong #"}}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"score", "--in", in, "--llm-url", "http://127.0.0.1:1", "--llm-model", "m", "--llm-timeout", "2s"}, stdio{&out, &errb})
	if code != 0 || !strings.Contains(out.String(), `"callId":"x"`) || !strings.Contains(errb.String(), "llm review failed") {
		t.Fatalf("exit %d\nstdout %s\nstderr %s", code, out.String(), errb.String())
	}
}
