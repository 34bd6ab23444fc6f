package scoring

import (
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"sort"
	"strings"
	"sync"
)

// Split names which part of a labelled corpus a call belongs to. It hashes
// the call ID, so the held-out split is fixed whatever order or subset of the
// corpus is read, and it is never trained on.
func Split(callID string) string {
	h := fnv.New32a()
	h.Write([]byte(callID))
	switch h.Sum32() % 5 {
	case 0:
		return "test"
	case 1:
		return "calib"
	}
	return "train"
}

// TrainOptions tunes Train. Zero values take the defaults.
type TrainOptions struct {
	// Lambda is the L2 strength pulling weights towards the prior's (towards
	// zero without a prior). It is not divided by the number of examples, so a
	// tenant's first few labels barely move the model and many labels move it
	// far. Default: 1 without a prior; PriorLambda with one.
	Lambda float64
	// Iterations of full-batch Adam. Default 300; 150 with a prior.
	Iterations int
	// MinCount drops features (other than the prior's) seen in fewer examples.
	// Default 2.
	MinCount int
	// Threshold set on the trained model; default: the prior's, or DefaultThreshold.
	Threshold float64
}

// PriorLambda is the default pull towards the prior in a tenant retrain:
// with it a few labels nudge the model and a few dozen labels of one kind of
// call overturn the prior on that kind (see TestTenantLearning).
const PriorLambda = 20

// biasLambdaFactor makes the intercept much stiffer than the weights: a
// tenant's labels usually come from one queue's worth of calls, and they should
// teach which calls are leads there, not shift every call's score at once.
const biasLambdaFactor = 10

func (o *TrainOptions) defaults(withPrior bool) {
	if o.Lambda <= 0 {
		o.Lambda = 1
		if withPrior {
			o.Lambda = PriorLambda
		}
	}
	if o.Iterations <= 0 {
		o.Iterations = 300
		if withPrior {
			// Starting at the prior, the fit is already close: half the steps
			// reach the same decisions (TestTenantLearning) in half the time.
			o.Iterations = 150
		}
	}
	if o.MinCount <= 0 {
		o.MinCount = 2
	}
}

// Example is a labelled call as Train reads it.
type Example struct {
	Call  *Call
	Label int // 1 lead, 0 not a lead
}

// sparse is one example's features: parallel index and value slices.
type sparse struct {
	idx []int32
	val []float64
	y   float64
}

// LabelFromStatus maps a lead disposition to a training label: "Reviewed -
// not a lead" is negative; the Lead statuses and the Job booked statuses are
// positive; New (no CSR decision yet) is no label.
func LabelFromStatus(status string) (label int, ok bool) {
	s := strings.ToLower(strings.TrimSpace(status))
	switch {
	case s == "reviewed - not a lead":
		return 0, true
	case strings.HasPrefix(s, "lead - "), strings.HasPrefix(s, "job booked"):
		return 1, true
	}
	return 0, false
}

// Train fits a model on examples. With a prior, the weights start at the
// prior's and are regularised towards them (L2 with strength Lambda), the
// prior's calibration and threshold are kept, and features the tenant's calls
// bring in start at zero: the model moves away from the prior only as the
// tenant's own labels accumulate. Without a prior it fits from zero and the
// caller calibrates it (see Calibrate). Training is deterministic.
func Train(prior *Model, examples []Example, opt TrainOptions) (*Model, error) {
	opt.defaults(prior != nil)
	if len(examples) == 0 {
		if prior == nil {
			return nil, errors.New("train scoring model: no examples and no prior")
		}
		return prior, nil
	}
	// Vocabulary: the prior's names first, then new features in sorted order
	// (so the result does not depend on map iteration).
	index := map[string]int32{}
	var names []string
	var w0 []float64
	bias0 := 0.0
	if prior != nil {
		names = append(names, prior.names...)
		w0 = append(w0, prior.weights...)
		for i, n := range names {
			index[n] = int32(i)
		}
		bias0 = prior.bias
	}
	df := map[string]int{}
	var ex extractor
	seen := map[string]bool{}
	for _, e := range examples {
		if e.Label != 0 && e.Label != 1 {
			return nil, fmt.Errorf("train scoring model: call %s: label %d, want 0 or 1", e.Call.CallID, e.Label)
		}
		clear(seen)
		ex.extract(e.Call, func(key []byte, _ float64, _ int) {
			if _, ok := index[string(key)]; ok {
				return
			}
			if !seen[string(key)] {
				seen[string(key)] = true
				df[string(key)]++
			}
		})
	}
	var fresh []string
	for k, n := range df {
		if n >= opt.MinCount {
			fresh = append(fresh, k)
		}
	}
	sort.Strings(fresh)
	for _, k := range fresh {
		index[k] = int32(len(names))
		names = append(names, k)
		w0 = append(w0, 0)
	}

	// Sparse design matrix.
	data := make([]sparse, len(examples))
	acc := map[int32]float64{}
	for n, e := range examples {
		clear(acc)
		ex.extract(e.Call, func(key []byte, v float64, _ int) {
			if i, ok := index[string(key)]; ok {
				acc[i] += v
			}
		})
		s := sparse{idx: make([]int32, 0, len(acc)), val: make([]float64, 0, len(acc)), y: float64(e.Label)}
		for i := range acc {
			s.idx = append(s.idx, i)
		}
		sort.Slice(s.idx, func(a, b int) bool { return s.idx[a] < s.idx[b] })
		for _, i := range s.idx {
			s.val = append(s.val, acc[i])
		}
		data[n] = s
	}

	w, b := fit(data, w0, bias0, opt)
	m := &Model{names: names, weights: w, bias: b, index: make(map[string]int32, len(names)),
		plattA: -1, plattB: 0, threshold: DefaultThreshold}
	for i, n := range names {
		m.index[n] = int32(i)
	}
	m.buildHashed()
	if prior != nil {
		m.plattA, m.plattB, m.threshold = prior.plattA, prior.plattB, prior.threshold
		m.labels = len(examples)
	}
	if opt.Threshold > 0 && opt.Threshold < 1 {
		m.threshold = opt.Threshold
	}
	return m, nil
}

// fit runs full-batch Adam on the mean logistic loss plus
// Lambda/(2N) * ||w - w0||^2 + biasLambdaFactor*Lambda/(2N) * (b - b0)^2
// (the intercept is stiff only when there is a prior to hold it).
// Full batch keeps it deterministic and lets the regulariser touch every
// weight exactly once per step.
func fit(data []sparse, w0 []float64, b0 float64, opt TrainOptions) ([]float64, float64) {
	const (
		lr    = 0.05
		beta1 = 0.9
		beta2 = 0.999
		eps   = 1e-8
	)
	n := float64(len(data))
	w := append([]float64(nil), w0...)
	b := b0
	g := make([]float64, len(w))
	m1 := make([]float64, len(w))
	m2 := make([]float64, len(w))
	var bm1, bm2 float64
	bl := opt.Lambda
	if len(w0) > 0 && b0 != 0 {
		bl *= biasLambdaFactor
	}
	// The gradient is summed over a fixed number of chunks, each on its own
	// goroutine, then added in chunk order: parallel, yet the float sums (and
	// so the model bytes) do not depend on the machine's core count.
	const chunks = 8
	cg := make([][]float64, chunks)
	cgb := make([]float64, chunks)
	for c := range cg {
		cg[c] = make([]float64, len(w))
	}
	per := (len(data) + chunks - 1) / chunks
	for it := 1; it <= opt.Iterations; it++ {
		var wg sync.WaitGroup
		for c := range chunks {
			lo, hi := min(c*per, len(data)), min((c+1)*per, len(data))
			wg.Go(func() {
				gc := cg[c]
				clear(gc)
				sb := 0.0
				for _, s := range data[lo:hi] {
					z := b
					for k, i := range s.idx {
						z += w[i] * s.val[k]
					}
					d := sigmoid(z) - s.y
					sb += d
					for k, i := range s.idx {
						gc[i] += d * s.val[k]
					}
				}
				cgb[c] = sb
			})
		}
		wg.Wait()
		clear(g)
		gb := 0.0
		for c := range chunks {
			for i, v := range cg[c] {
				g[i] += v
			}
			gb += cgb[c]
		}
		c1 := 1 - math.Pow(beta1, float64(it))
		c2 := 1 - math.Pow(beta2, float64(it))
		for i := range w {
			gi := g[i]/n + opt.Lambda/n*(w[i]-w0[i])
			m1[i] = beta1*m1[i] + (1-beta1)*gi
			m2[i] = beta2*m2[i] + (1-beta2)*gi*gi
			w[i] -= lr * (m1[i] / c1) / (math.Sqrt(m2[i]/c2) + eps)
		}
		gbi := gb/n + bl/n*(b-b0)
		bm1 = beta1*bm1 + (1-beta1)*gbi
		bm2 = beta2*bm2 + (1-beta2)*gbi*gbi
		b -= lr * (bm1 / c1) / (math.Sqrt(bm2/c2) + eps)
	}
	return w, b
}

func sigmoid(z float64) float64 {
	if z >= 0 {
		return 1 / (1 + math.Exp(-z))
	}
	e := math.Exp(z)
	return e / (1 + e)
}

// rawScore is the uncalibrated log-odds of c.
func (m *Model) rawScore(ex *extractor, c *Call) float64 {
	z := m.bias
	ex.extract(c, func(key []byte, v float64, _ int) {
		if i, ok := m.index[string(key)]; ok {
			z += m.weights[i] * v
		}
	})
	return z
}

// Calibrate fits Platt scaling (Platt 1999, with his smoothed targets) on a
// calibration set the model was not trained on, and sets it on m.
func (m *Model) Calibrate(examples []Example) error {
	if len(examples) < 10 {
		return fmt.Errorf("calibrate scoring model: %d examples, need at least 10", len(examples))
	}
	var ex extractor
	z := make([]float64, len(examples))
	var npos, nneg float64
	for i, e := range examples {
		z[i] = m.rawScore(&ex, e.Call)
		if e.Label == 1 {
			npos++
		} else {
			nneg++
		}
	}
	if npos == 0 || nneg == 0 {
		return errors.New("calibrate scoring model: calibration set needs both labels")
	}
	hi, lo := (npos+1)/(npos+2), 1/(nneg+2)
	t := make([]float64, len(examples))
	for i, e := range examples {
		if e.Label == 1 {
			t[i] = hi
		} else {
			t[i] = lo
		}
	}
	// Newton's method with backtracking on (A, B), p = 1/(1+exp(A z + B)).
	A, B := 0.0, math.Log((nneg+1)/(npos+1))
	loss := func(A, B float64) float64 {
		l := 0.0
		for i := range z {
			f := A*z[i] + B
			// -(t log p + (1-t) log(1-p)) written stably.
			if f >= 0 {
				l += t[i]*f + math.Log1p(math.Exp(-f))
			} else {
				l += (t[i]-1)*f + math.Log1p(math.Exp(f))
			}
		}
		return l
	}
	cur := loss(A, B)
	for it := 0; it < 100; it++ {
		var h11, h22, h21, g1, g2 float64
		h11, h22 = 1e-12, 1e-12
		for i := range z {
			p := 1 / (1 + math.Exp(A*z[i]+B))
			d1 := t[i] - p
			d2 := p * (1 - p)
			h11 += z[i] * z[i] * d2
			h22 += d2
			h21 += z[i] * d2
			g1 += z[i] * d1
			g2 += d1
		}
		if math.Abs(g1) < 1e-7 && math.Abs(g2) < 1e-7 {
			break
		}
		det := h11*h22 - h21*h21
		dA := -(h22*g1 - h21*g2) / det
		dB := -(-h21*g1 + h11*g2) / det
		step := 1.0
		for step > 1e-10 {
			nl := loss(A+step*dA, B+step*dB)
			if nl < cur+1e-4*step*(g1*dA+g2*dB) {
				A, B, cur = A+step*dA, B+step*dB, nl
				break
			}
			step /= 2
		}
		if step <= 1e-10 {
			break
		}
	}
	if A >= 0 {
		return fmt.Errorf("calibrate scoring model: slope %.3f is not negative: the model does not rank this set", A)
	}
	m.plattA, m.plattB = A, B
	return nil
}
