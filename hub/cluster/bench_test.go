package cluster

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkIngest offers records at a fixed rate to a 3-node loopback
// cluster (fsync on) through the leader, with and without group commit,
// and reports committed records/s and p50/p99 commit latency.
func BenchmarkIngest(b *testing.B) {
	for _, batched := range []bool{true, false} {
		for _, rate := range []int{500, 5000} {
			name := fmt.Sprintf("batched=%v/offered=%d", batched, rate)
			b.Run(name, func(b *testing.B) {
				c := benchCluster(b, batched)
				l := c.leader()
				var seq atomic.Int64
				var mu sync.Mutex
				var lats []time.Duration
				b.ResetTimer()
				start := time.Now()
				interval := time.Second / time.Duration(rate)
				var wg sync.WaitGroup
				next := time.Now()
				for i := 0; i < b.N; i++ {
					if d := time.Until(next); d > 0 {
						time.Sleep(d)
					}
					next = next.Add(interval)
					wg.Add(1)
					go func() {
						defer wg.Done()
						id := fmt.Sprintf("b%09d", seq.Add(1))
						t0 := time.Now()
						if _, err := l.n.Apply(context.Background(), ingestCmd(id)); err != nil {
							b.Error(err)
							return
						}
						mu.Lock()
						lats = append(lats, time.Since(t0))
						mu.Unlock()
					}()
				}
				wg.Wait()
				el := time.Since(start)
				b.StopTimer()
				sort.Slice(lats, func(i, j int) bool { return lats[i] < lats[j] })
				if len(lats) > 0 {
					b.ReportMetric(float64(len(lats))/el.Seconds(), "records/s")
					b.ReportMetric(float64(lats[len(lats)/2].Microseconds())/1000, "p50-ms")
					b.ReportMetric(float64(lats[len(lats)*99/100].Microseconds())/1000, "p99-ms")
				}
				b.ReportMetric(0, "ns/op")
			})
		}
	}
}

// BenchmarkIngestSaturated runs 128 concurrent writers flat out (closed
// loop) against the leader of a 3-node cluster: the committed records/s with
// and without group commit; their ratio is the figure that survives a noisy
// machine.
func BenchmarkIngestSaturated(b *testing.B) {
	for _, batched := range []bool{true, false} {
		b.Run(fmt.Sprintf("batched=%v", batched), func(b *testing.B) {
			c := benchCluster(b, batched)
			l := c.leader()
			var seq, done atomic.Int64
			const writers = 128
			b.ResetTimer()
			start := time.Now()
			var wg sync.WaitGroup
			for w := 0; w < writers; w++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						i := seq.Add(1)
						if i > int64(b.N) {
							return
						}
						if _, err := l.n.Apply(context.Background(), ingestCmd(fmt.Sprintf("s%09d", i))); err != nil {
							b.Error(err)
							return
						}
						done.Add(1)
					}
				}()
			}
			wg.Wait()
			b.StopTimer()
			b.ReportMetric(float64(done.Load())/time.Since(start).Seconds(), "records/s")
			b.ReportMetric(0, "ns/op")
		})
	}
}

// BenchmarkFailover measures the time from killing the leader to the first
// commit acknowledged by the new leader.
func BenchmarkFailover(b *testing.B) {
	var total time.Duration
	for i := 0; i < b.N; i++ {
		c := benchCluster(b, true)
		old := c.leader()
		t0 := time.Now()
		old.stop()
		for {
			var l *testNode
			for _, n := range c.running() {
				if n.n.IsLeader() {
					l = n
				}
			}
			if l != nil {
				ctx, cancel := context.WithTimeout(context.Background(), time.Second)
				_, err := l.n.Apply(ctx, ingestCmd(fmt.Sprintf("fo%d", i)))
				cancel()
				if err == nil {
					break
				}
			}
			time.Sleep(5 * time.Millisecond)
		}
		total += time.Since(t0)
		for _, n := range c.running() {
			n.stop()
		}
	}
	b.ReportMetric(total.Seconds()*1000/float64(b.N), "failover-ms")
	b.ReportMetric(0, "ns/op")
}

func benchCluster(b *testing.B, batched bool) *testCluster {
	b.Helper()
	c := &testCluster{t: b, nodes: map[string]*testNode{}}
	if !batched {
		c.tune = func(cfg *Config) { cfg.MaxBatch = 1; cfg.MaxInflight = 4096 }
	}
	b.Cleanup(func() {
		for _, n := range c.nodes {
			n.stop()
		}
	})
	a, bb, cc := c.add("a"), c.add("b"), c.add("c")
	c.start(a)
	c.waitLeader(10 * time.Second)
	c.start(bb, a.grpcAddr)
	c.start(cc, a.grpcAddr)
	c.waitVoters(3, 20*time.Second)
	return c
}
