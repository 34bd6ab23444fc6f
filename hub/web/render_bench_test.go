package web

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/reboundhq/rebound/hub/api"
	"github.com/reboundhq/rebound/hub/state"
	reboundv1 "github.com/reboundhq/rebound/proto/rebound/v1"
	"golang.org/x/crypto/bcrypt"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// bigQueue is a hub holding many open leads in one tenant, built once per
// benchmark binary run (seeding 100,000 leads takes seconds).
type bigQueue struct {
	handler http.Handler
	cookie  string
	tenant  string
}

func seedBigQueue(b *testing.B, leads int) *bigQueue {
	b.Helper()
	now := time.Now().UTC()
	clock := func() time.Time { return now }
	st, err := state.OpenLocal(filepath.Join(b.TempDir(), "big.db"), state.New(nil), clock)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	st.DB().NoSync = true
	ctx := context.Background()
	br, err := api.Bootstrap(ctx, st, "Acme Plumbing", "root", testPassword)
	if err != nil {
		b.Fatal(err)
	}
	must := func(outs []*reboundv1.CommandOutcome, err error) {
		if err != nil {
			b.Fatal(err)
		}
		for _, o := range outs {
			if e := state.OutcomeError(o); e != nil {
				b.Fatal(e)
			}
		}
	}
	on := true
	body, _ := json.Marshal(state.SettingsPatch{SCLEnabled: &on})
	must(st.Apply(ctx, &reboundv1.Command{Type: state.CmdSettingsUpdate, TenantId: br.TenantID, Body: body}))
	const batch = 1000
	start := now.Add(-24 * time.Hour)
	for i := 0; i < leads; i += batch {
		var ingest, review []*reboundv1.Command
		for j := i; j < i+batch && j < leads; j++ {
			at := start.Add(time.Duration(j) * 500 * time.Millisecond)
			id := fmt.Sprintf("call-%07d", j)
			rec := &reboundv1.CallRecord{RecordId: id + "-r1", CallId: id, Revision: 1, Direction: reboundv1.Direction_DIRECTION_INBOUND,
				CallerNumber: fmt.Sprintf("+1512%07d", j), DialledNumber: "+15125550111", StartedAt: timestamppb.New(at),
				EndedAt: timestamppb.New(at.Add(3 * time.Minute)), Outcome: reboundv1.Outcome_OUTCOME_ANSWERED, TalkMs: 170_000,
				WaitMs: 10_000, AgentExtension: "201", Queue: "Service"}
			raw, _ := proto.Marshal(rec)
			ingest = append(ingest, &reboundv1.Command{Type: state.CmdCallIngest, TenantId: br.TenantID, Body: raw})
			rb, _ := json.Marshal(state.ReviewBody{CallID: id, Probability: 0.7, Flagged: true, Summary: "Asked for a price on a water heater", Reviewer: "bench"})
			review = append(review, &reboundv1.Command{Type: state.CmdCallReview, TenantId: br.TenantID, Body: rb})
		}
		must(st.Apply(ctx, ingest...))
		must(st.Apply(ctx, review...))
	}
	a := api.New(api.Config{Store: st, Clock: clock, BcryptCost: bcrypt.MinCost})
	ui, err := New(Config{API: a.Handler(), Broker: NewBroker(BrokerConfig{}, nil)})
	if err != nil {
		b.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/api/v1/", a.Handler())
	mux.Handle("/", ui)
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/api/v1/auth/login", strings.NewReader(`{"username":"root","password":"`+testPassword+`"}`)))
	if rec.Code != 200 {
		b.Fatalf("login: %d %s", rec.Code, rec.Body)
	}
	var cookie string
	for _, c := range rec.Result().Cookies() {
		if c.Name == api.CookieName {
			cookie = c.Name + "=" + c.Value
		}
	}
	return &bigQueue{handler: mux, cookie: cookie, tenant: br.TenantID}
}

// BenchmarkOpenTab100k measures the server's share of showing the Open tab:
// the page shell plus the API call that feeds its first 50 rows, with
// 100,000 open leads in the tenant. The shell alone is the baseline.
func BenchmarkOpenTab100k(b *testing.B) {
	q := seedBigQueue(b, 100_000)
	get := func(b *testing.B, path string) []byte {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		req.Header.Set("Cookie", q.cookie)
		rec := httptest.NewRecorder()
		q.handler.ServeHTTP(rec, req)
		if rec.Code != 200 {
			b.Fatalf("%s: %d %s", path, rec.Code, rec.Body)
		}
		return rec.Body.Bytes()
	}
	run := func(b *testing.B, withList, withCounts bool) {
		lat := make([]float64, 0, b.N)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			t0 := time.Now()
			rec := httptest.NewRecorder()
			q.handler.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/scl", nil))
			if rec.Code != 200 {
				b.Fatalf("shell: %d", rec.Code)
			}
			if withList {
				req := httptest.NewRequest(http.MethodGet, "/api/v1/leads?tab=open&limit=50", nil)
				req.Header.Set("Cookie", q.cookie)
				rec = httptest.NewRecorder()
				q.handler.ServeHTTP(rec, req)
				if rec.Code != 200 {
					b.Fatalf("list: %d %s", rec.Code, rec.Body)
				}
				if i == 0 {
					var r struct {
						Items []json.RawMessage `json:"items"`
					}
					if json.Unmarshal(rec.Body.Bytes(), &r) != nil || len(r.Items) != 50 {
						b.Fatalf("list returned %d rows", len(r.Items))
					}
				}
			}
			if withCounts {
				// The tab counts the page asks for (one page of up to 200 per tab).
				for _, tab := range []string{"open", "cold", "done"} {
					get(b, "/api/v1/leads?tab="+tab+"&limit=200")
				}
			}
			lat = append(lat, float64(time.Since(t0).Microseconds())/1000)
		}
		b.StopTimer()
		slices.Sort(lat)
		b.ReportMetric(lat[len(lat)*99/100], "p99-ms")
		b.ReportMetric(lat[len(lat)/2], "p50-ms")
	}
	b.Run("shell-only", func(b *testing.B) { run(b, false, false) })
	b.Run("shell+list50", func(b *testing.B) { run(b, true, false) })
	b.Run("shell+list50+tabcounts", func(b *testing.B) { run(b, true, true) })
}
