package scoring

import (
	"fmt"
	"testing"
	"time"
)

// fiveMinuteCalls are the corpus calls with at least 4.5 minutes of talk.
func fiveMinuteCalls(b *testing.B) []Call {
	var out []Call
	for _, c := range loadCorpus(b) {
		if c.TalkMs >= 270_000 && c.HasTranscript() {
			out = append(out, c.Call)
		}
	}
	if len(out) == 0 {
		b.Fatal("no five-minute calls in the corpus")
	}
	return out
}

// BenchmarkScore scores five-minute transcripts on one goroutine: calls/s is
// per core. Summary and signals are included, as the hub produces them.
func BenchmarkScore(b *testing.B) {
	m := prior(b)
	calls := fiveMinuteCalls(b)
	s := NewScorer(m)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for i := 0; b.Loop(); i++ {
		s.Score(&calls[i%len(calls)], 0)
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "calls/s")
}

// BenchmarkScoreMetadataOnly is the baseline: no transcript, so the cost of
// the n-gram path shows as the ratio to BenchmarkScore.
func BenchmarkScoreMetadataOnly(b *testing.B) {
	m := prior(b)
	calls := fiveMinuteCalls(b)
	for i := range calls {
		calls[i].Transcript = nil
	}
	s := NewScorer(m)
	b.ReportAllocs()
	start := time.Now()
	for i := 0; b.Loop(); i++ {
		s.Score(&calls[i%len(calls)], 0)
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "calls/s")
}

// BenchmarkTrain10k trains a tenant model on 10,000 labelled calls (the
// corpus cycled under fresh IDs). Run with -benchtime=1x.
func BenchmarkTrain10k(b *testing.B) {
	m := prior(b)
	corpus := loadCorpus(b)
	ex := make([]Example, 10_000)
	for i := range ex {
		c := corpus[i%len(corpus)].Call
		c.CallID = fmt.Sprintf("t-%d", i)
		ex[i] = Example{Call: &c, Label: *c.Label}
	}
	b.ResetTimer()
	start := time.Now()
	for b.Loop() {
		if _, err := Train(m, ex, TrainOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(time.Since(start).Seconds()/float64(b.N), "s/train")
}
