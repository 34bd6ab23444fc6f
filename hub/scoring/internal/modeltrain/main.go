// Command modeltrain trains the shipped scoring model from the labelled
// corpus: it fits on the "train" split, calibrates (Platt) on the "calib"
// split, reports the held-out "test" split, and writes hub/scoring/prior.json.
// It is deterministic: the same corpus gives the same bytes.
//
//	go run ./hub/scoring/internal/modeltrain -corpus hub/scoring/testdata/corpus.jsonl -out hub/scoring/prior.json
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"

	"github.com/reboundhq/rebound/hub/scoring"
)

func main() {
	corpus := flag.String("corpus", "testdata/corpus.jsonl", "labelled corpus (JSON lines)")
	out := flag.String("out", "prior.json", "where to write the model")
	lambda := flag.Float64("lambda", 1, "L2 strength")
	flag.Parse()
	if err := run(*corpus, *out, *lambda); err != nil {
		fmt.Fprintln(os.Stderr, "modeltrain:", err)
		os.Exit(1)
	}
}

func run(corpus, out string, lambda float64) error {
	f, err := os.Open(corpus)
	if err != nil {
		return err
	}
	defer f.Close()
	split := map[string][]scoring.Example{}
	err = scoring.ReadCalls(f, func(line int, c *scoring.Call, err error) error {
		if err != nil {
			return fmt.Errorf("%s:%d: %w", corpus, line, err)
		}
		if c.Label == nil {
			return fmt.Errorf("%s:%d: no label", corpus, line)
		}
		s := scoring.Split(c.CallID)
		split[s] = append(split[s], scoring.Example{Call: c, Label: *c.Label})
		return nil
	})
	if err != nil {
		return err
	}
	m, err := scoring.Train(nil, split["train"], scoring.TrainOptions{Lambda: lambda})
	if err != nil {
		return err
	}
	if err := m.Calibrate(split["calib"]); err != nil {
		return err
	}
	b, err := m.Marshal()
	if err != nil {
		return err
	}
	if err := os.WriteFile(out, b, 0o644); err != nil {
		return err
	}
	var p []float64
	var y []int
	for _, e := range split["test"] {
		p = append(p, m.Score(e.Call).Probability)
		y = append(y, e.Label)
	}
	met := scoring.Evaluate(p, y, m.Threshold())
	j, _ := json.Marshal(met)
	fmt.Printf("train=%d calib=%d test=%d features=%d\nheld-out: %s\n",
		len(split["train"]), len(split["calib"]), len(split["test"]), m.Features(), j)
	return nil
}
