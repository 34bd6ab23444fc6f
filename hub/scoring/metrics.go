package scoring

import (
	"math"
	"sort"
)

// Metrics summarise a model on labelled calls.
type Metrics struct {
	N         int     `json:"n"`
	Positives int     `json:"positives"`
	Threshold float64 `json:"threshold"`
	TP        int     `json:"tp"`
	FP        int     `json:"fp"`
	FN        int     `json:"fn"`
	TN        int     `json:"tn"`
	Precision float64 `json:"precision"`
	Recall    float64 `json:"recall"`
	F1        float64 `json:"f1"`
	Accuracy  float64 `json:"accuracy"`
	AUC       float64 `json:"rocAuc"`
	// ECE is the expected calibration error over 10 equal-width bins.
	ECE float64 `json:"ece"`
}

// Evaluate computes Metrics for probabilities p against labels y (0/1) at threshold.
func Evaluate(p []float64, y []int, threshold float64) Metrics {
	m := Metrics{N: len(p), Threshold: threshold}
	for i := range p {
		pos := y[i] == 1
		if pos {
			m.Positives++
		}
		switch flagged := p[i] >= threshold; {
		case flagged && pos:
			m.TP++
		case flagged:
			m.FP++
		case pos:
			m.FN++
		default:
			m.TN++
		}
	}
	if m.TP+m.FP > 0 {
		m.Precision = float64(m.TP) / float64(m.TP+m.FP)
	}
	if m.TP+m.FN > 0 {
		m.Recall = float64(m.TP) / float64(m.TP+m.FN)
	}
	if m.Precision+m.Recall > 0 {
		m.F1 = 2 * m.Precision * m.Recall / (m.Precision + m.Recall)
	}
	if m.N > 0 {
		m.Accuracy = float64(m.TP+m.TN) / float64(m.N)
	}
	m.AUC = rocAUC(p, y)
	m.ECE = ece(p, y, 10)
	return m
}

// rocAUC is the Mann-Whitney statistic: the chance a random lead scores above
// a random non-lead, ties counting half.
func rocAUC(p []float64, y []int) float64 {
	idx := make([]int, len(p))
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(a, b int) bool { return p[idx[a]] < p[idx[b]] })
	var npos, nneg, rankSum float64
	for i := 0; i < len(idx); {
		j := i
		for j < len(idx) && p[idx[j]] == p[idx[i]] {
			j++
		}
		avg := float64(i+j+1) / 2 // mean of 1-based ranks i+1..j
		for k := i; k < j; k++ {
			if y[idx[k]] == 1 {
				rankSum += avg
				npos++
			} else {
				nneg++
			}
		}
		i = j
	}
	if npos == 0 || nneg == 0 {
		return math.NaN()
	}
	return (rankSum - npos*(npos+1)/2) / (npos * nneg)
}

// ece is the expected calibration error: the bin-weighted gap between mean
// predicted probability and observed lead rate.
func ece(p []float64, y []int, bins int) float64 {
	if len(p) == 0 {
		return math.NaN()
	}
	sumP := make([]float64, bins)
	sumY := make([]float64, bins)
	cnt := make([]float64, bins)
	for i := range p {
		b := min(int(p[i]*float64(bins)), bins-1)
		b = max(b, 0)
		sumP[b] += p[i]
		sumY[b] += float64(y[i])
		cnt[b]++
	}
	e := 0.0
	for b := range bins {
		if cnt[b] > 0 {
			e += cnt[b] / float64(len(p)) * math.Abs(sumP[b]/cnt[b]-sumY[b]/cnt[b])
		}
	}
	return e
}
