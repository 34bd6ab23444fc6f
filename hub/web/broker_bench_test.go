package web

import (
	"bufio"
	"context"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"
)

// BenchmarkBrokerFanOut500 measures how long one event takes to reach each of
// 500 browsers holding real HTTP SSE streams on loopback: from Publish to the
// moment each client has read the event's data line. p99 and max are across
// every client of every iteration.
func BenchmarkBrokerFanOut500(b *testing.B) {
	const clients = 500
	br := NewBroker(BrokerConfig{}, nil)
	srv := streamServer(b, br, map[string]Viewer{"a": {Tenants: map[string]map[string]bool{"a": {"scl.view": true}}}})
	tr := &http.Transport{MaxConnsPerHost: 0, MaxIdleConnsPerHost: clients}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	arrivals := make(chan time.Time, clients*4)
	var wg sync.WaitGroup
	for range clients {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"?as=a", nil)
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer resp.Body.Close()
			r := &sseReader{bufio.NewReader(resp.Body)}
			for {
				if _, err := r.next(); err != nil {
					return
				}
				arrivals <- time.Now()
			}
		}()
	}
	wctx, wcancel := context.WithTimeout(ctx, 30*time.Second)
	defer wcancel()
	if err := br.waitSubscribers(wctx, clients); err != nil {
		b.Fatal(err)
	}
	data := []byte(`{"kind":"lead.status","leadId":"L-000123","status":"Lead - call back attempted"}`)
	lat := make([]float64, 0, b.N*clients)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		br.Publish(Event{Index: uint64(i + 1), Tenant: "a", Perm: "scl.view", Type: "lead", Data: data})
		for range clients {
			at := <-arrivals
			lat = append(lat, float64(at.Sub(start).Microseconds())/1000)
		}
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(lat[len(lat)*99/100], "p99-ms")
	b.ReportMetric(lat[len(lat)/2], "p50-ms")
	b.ReportMetric(lat[len(lat)-1], "max-ms")
	cancel()
	srv.CloseClientConnections()
	wg.Wait()
}

// BenchmarkBrokerFanOut500InMemory is the baseline for BenchmarkBrokerFanOut500:
// the same fan-out to 500 subscribers' channels without HTTP, sockets or
// SSE parsing, so the difference is the cost of the wire.
func BenchmarkBrokerFanOut500InMemory(b *testing.B) {
	const clients = 500
	br := NewBroker(BrokerConfig{}, nil)
	v := Viewer{Tenants: map[string]map[string]bool{"a": {"scl.view": true}}}
	arrivals := make(chan time.Time, clients*4)
	var wg sync.WaitGroup
	var subs []*subscriber
	for range clients {
		s, _, _ := br.subscribe(v, false, 0, 0)
		subs = append(subs, s)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-s.ch:
					arrivals <- time.Now()
				case <-s.dropped:
					return
				}
			}
		}()
	}
	data := []byte(`{"kind":"lead.status","leadId":"L-000123","status":"Lead - call back attempted"}`)
	lat := make([]float64, 0, b.N*clients)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		br.Publish(Event{Index: uint64(i + 1), Tenant: "a", Perm: "scl.view", Type: "lead", Data: data})
		for range clients {
			lat = append(lat, float64((<-arrivals).Sub(start).Microseconds())/1000)
		}
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(lat[len(lat)*99/100], "p99-ms")
	b.ReportMetric(lat[len(lat)/2], "p50-ms")
	for _, s := range subs {
		br.unsubscribe(s)
	}
	wg.Wait()
}
