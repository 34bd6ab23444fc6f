package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/reboundhq/rebound/hub/scoring"
)

// cmdScore runs the hub's lead review offline on JSON lines (docs/scoring.md).
func cmdScore(ctx context.Context, args []string, io stdio) error {
	fs := newFlagSet("score", "score (--in FILE.jsonl | --eval FILE.jsonl) [flags]", io)
	in := fs.String("in", "", "score the calls in this JSON lines file (- for stdin); prints one JSON line per call")
	eval := fs.String("eval", "", "evaluate the model on labelled calls in this JSON lines file (- for stdin)")
	modelPath := fs.String("model", "", "model file (bytes of a tenant model); default: the shipped model")
	threshold := fs.Float64("threshold", 0, "flag threshold on the probability (default: the model's)")
	split := fs.String("split", "all", "with --eval: only the calls of this corpus split (all, train, calib or test)")
	minF1 := fs.Float64("min-f1", 0.85, "with --eval: exit non-zero when F1 is below this")
	minAUC := fs.Float64("min-auc", 0.93, "with --eval: exit non-zero when ROC AUC is below this")
	llmURL := fs.String("llm-url", "", "optional OpenAI-compatible chat completions server for the LLM backend (key in $REBOUND_LLM_API_KEY)")
	llmModel := fs.String("llm-model", "", "with --llm-url: the model name")
	llmMode := fs.String("llm-mode", "augment", "with --llm-url: augment (LLM summary and signals) or replace (LLM probability too)")
	llmTimeout := fs.Duration("llm-timeout", 20*time.Second, "with --llm-url: per-call timeout before the built-in result stands")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if (*in == "") == (*eval == "") {
		fmt.Fprintln(io.Stderr, "rebound score: give exactly one of --in or --eval")
		fs.Usage()
		return errUsage
	}
	switch *split {
	case "all", "train", "calib", "test":
	default:
		fmt.Fprintf(io.Stderr, "rebound score: --split %q: want all, train, calib or test\n", *split)
		return errUsage
	}
	m, err := loadModel(*modelPath)
	if err != nil {
		return err
	}
	if *threshold < 0 || *threshold >= 1 {
		return fmt.Errorf("--threshold %v: want a probability in [0, 1)", *threshold)
	}
	rv := reviewer{s: scoring.NewScorer(m), threshold: *threshold}
	if rv.threshold == 0 {
		rv.threshold = m.Threshold()
	}
	if *llmURL != "" {
		log := slog.New(slog.NewTextHandler(io.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
		rv.llm, err = scoring.NewLLM(scoring.LLMConfig{URL: *llmURL, APIKey: os.Getenv("REBOUND_LLM_API_KEY"),
			Model: *llmModel, Mode: *llmMode, Timeout: *llmTimeout}, log)
		if err != nil {
			return err
		}
	}
	if *in != "" {
		return scoreFile(ctx, *in, rv, io)
	}
	return evalFile(ctx, *eval, rv, *split, *minF1, *minAUC, io)
}

// reviewer is the built-in scorer plus the optional LLM, as on the hub.
type reviewer struct {
	s         *scoring.Scorer
	llm       *scoring.LLM
	threshold float64
}

func (r reviewer) review(ctx context.Context, c *scoring.Call) scoring.Result {
	res := r.s.Score(c, r.threshold)
	if r.llm != nil {
		res = r.llm.Review(ctx, c, res, r.threshold)
	}
	return res
}

func loadModel(path string) (*scoring.Model, error) {
	if path == "" {
		return scoring.Prior()
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read model: %w", err)
	}
	return scoring.Unmarshal(b)
}

func openInput(path string) (io.ReadCloser, error) {
	if path == "-" {
		return io.NopCloser(os.Stdin), nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open input: %w", err)
	}
	return f, nil
}

// errSkipped reports lines that could not be read after all others were done.
func errSkipped(n int) error {
	return fmt.Errorf("%d line(s) could not be read and were skipped (see above)", n)
}

func scoreFile(ctx context.Context, path string, rv reviewer, io stdio) error {
	f, err := openInput(path)
	if err != nil {
		return err
	}
	defer f.Close()
	enc := json.NewEncoder(io.Stdout)
	enc.SetEscapeHTML(false)
	skipped := 0
	err = scoring.ReadCalls(f, func(line int, c *scoring.Call, err error) error {
		if cerr := ctx.Err(); cerr != nil {
			return cerr
		}
		if err != nil {
			fmt.Fprintf(io.Stderr, "%s:%d: skipped: %v\n", path, line, err)
			skipped++
			return nil
		}
		r := rv.review(ctx, c)
		return enc.Encode(struct {
			CallID      string           `json:"callId"`
			Probability float64          `json:"probability"`
			Flagged     bool             `json:"flagged"`
			Summary     string           `json:"summary"`
			Signals     []scoring.Signal `json:"signals"`
		}{r.CallID, r.Probability, r.Flagged, r.Summary, r.Signals})
	})
	if err != nil {
		return err
	}
	if skipped > 0 {
		return errSkipped(skipped)
	}
	return nil
}

func evalFile(ctx context.Context, path string, rv reviewer, split string, minF1, minAUC float64, io stdio) error {
	f, err := openInput(path)
	if err != nil {
		return err
	}
	defer f.Close()
	var p []float64
	var y []int
	skipped := 0
	err = scoring.ReadCalls(f, func(line int, c *scoring.Call, err error) error {
		if cerr := ctx.Err(); cerr != nil {
			return cerr
		}
		if err == nil && c.Label == nil {
			err = errors.New("no label (want 1 lead or 0 not a lead)")
		}
		if err != nil {
			fmt.Fprintf(io.Stderr, "%s:%d: skipped: %v\n", path, line, err)
			skipped++
			return nil
		}
		if split != "all" && scoring.Split(c.CallID) != split {
			return nil
		}
		p = append(p, rv.review(ctx, c).Probability)
		y = append(y, *c.Label)
		return nil
	})
	if err != nil {
		return err
	}
	if len(p) == 0 {
		return errors.New("no labelled calls to evaluate")
	}
	met := scoring.Evaluate(p, y, rv.threshold)
	fmt.Fprintf(io.Stdout, "calls      %d (leads %d, split %s)\n", met.N, met.Positives, split)
	fmt.Fprintf(io.Stdout, "threshold  %.2f\n", met.Threshold)
	fmt.Fprintf(io.Stdout, "confusion  tp=%d fp=%d fn=%d tn=%d\n", met.TP, met.FP, met.FN, met.TN)
	fmt.Fprintf(io.Stdout, "precision  %.4f\n", met.Precision)
	fmt.Fprintf(io.Stdout, "recall     %.4f\n", met.Recall)
	fmt.Fprintf(io.Stdout, "f1         %.4f\n", met.F1)
	fmt.Fprintf(io.Stdout, "roc_auc    %.4f\n", met.AUC)
	fmt.Fprintf(io.Stdout, "ece        %.4f\n", met.ECE)
	if skipped > 0 {
		return errSkipped(skipped)
	}
	// NaN (one class only) fails the bar too.
	if !(met.F1 >= minF1) || !(met.AUC >= minAUC) {
		return fmt.Errorf("below the bar: f1 %.4f (min %.2f), roc_auc %.4f (min %.2f)", met.F1, minF1, met.AUC, minAUC)
	}
	return nil
}
