package scheduler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/reboundhq/rebound/hub/state"
	reboundv1 "github.com/reboundhq/rebound/proto/rebound/v1"
	"go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

func TestRules(t *testing.T) {
	yes, no := true, false
	for _, tc := range []struct {
		name    string
		in      ReviewInput
		flagged bool
		signal  string
	}{
		{"unbooked with a lead reason", ReviewInput{Classification: state.Classification{Type: state.TypeUnbooked}, ReasonName: "Price", ReasonIsLead: &yes, TalkMs: 120_000}, true, `reason "Price" is marked as a lead`},
		{"unbooked with a non-lead reason", ReviewInput{Classification: state.Classification{Type: state.TypeUnbooked}, ReasonName: "Renter", ReasonIsLead: &no, TalkMs: 120_000}, false, "marked as not a lead"},
		{"default unbooked", ReviewInput{Classification: state.Classification{Type: state.TypeUnbooked, Default: true}, TalkMs: 95_000}, true, "95 s of talk, so the default is Unbooked"},
		{"default excused", ReviewInput{Classification: state.Classification{Type: state.TypeExcused, Default: true}, TalkMs: 30_000}, false, "under 60 s"},
		{"not a lead", ReviewInput{Classification: state.Classification{Type: state.TypeNotLead}}, false, "Not a lead"},
		{"booked", ReviewInput{Classification: state.Classification{Type: state.TypeBooked}}, false, "Booked"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := Rules{}.Review(context.Background(), tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if res.Flagged != tc.flagged {
				t.Fatalf("flagged %v (p=%.2f), want %v", res.Flagged, res.Probability, tc.flagged)
			}
			var texts []string
			for _, s := range res.Signals {
				texts = append(texts, s.Text)
			}
			all := strings.Join(texts, " | ")
			if !strings.Contains(all, tc.signal) || !strings.Contains(all, "classification rules only") {
				t.Fatalf("signals %q lack %q", all, tc.signal)
			}
		})
	}
}

type leader struct{ on atomic.Bool }

func (l *leader) IsLeader() bool { return l.on.Load() }

type failing struct{}

func (failing) Review(context.Context, ReviewInput) (ReviewResult, error) {
	return ReviewResult{}, errors.New("llm endpoint refused")
}

type fixture struct {
	store  *state.Local
	tenant string
	now    time.Time
	mu     sync.Mutex
}

func (f *fixture) clock() time.Time { f.mu.Lock(); defer f.mu.Unlock(); return f.now }

func newFixture(t testing.TB, clock func() time.Time, acw int) *fixture {
	f := &fixture{now: time.Date(2026, 6, 15, 14, 0, 0, 0, time.UTC)}
	if clock == nil {
		clock = f.clock
	}
	st, err := state.OpenLocal(filepath.Join(t.TempDir(), "s.db"), state.New(nil), clock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	st.DB().NoSync = true
	f.store = st
	var br state.BootstrapResult
	f.apply(t, state.CmdBootstrap, "", state.BootstrapBody{TenantName: "A", Username: "root", PasswordHash: "x"}, &br)
	f.tenant = br.TenantID
	on := true
	f.apply(t, state.CmdSettingsUpdate, f.tenant, state.SettingsPatch{SCLEnabled: &on, ACWMinutes: &acw}, nil)
	return f
}

func (f *fixture) apply(t testing.TB, typ, tenant string, body any, out any) {
	t.Helper()
	var b []byte
	if raw, ok := body.([]byte); ok {
		b = raw
	} else {
		b, _ = json.Marshal(body)
	}
	outs, err := f.store.Apply(context.Background(), &reboundv1.Command{Type: typ, TenantId: tenant, Actor: "t", Body: b})
	if err != nil {
		t.Fatal(err)
	}
	if e := state.OutcomeError(outs[0]); e != nil {
		t.Fatalf("%s: %v", typ, e)
	}
	if out != nil {
		_ = json.Unmarshal(outs[0].Result, out)
	}
}

func (f *fixture) call(t testing.TB, id string, end time.Time) {
	r := &reboundv1.CallRecord{RecordId: id, CallId: id, Revision: 1, Direction: reboundv1.Direction_DIRECTION_INBOUND,
		CallerNumber: "5125550199", Outcome: reboundv1.Outcome_OUTCOME_ANSWERED, StartedAt: timestamppb.New(end.Add(-2 * time.Minute)),
		EndedAt: timestamppb.New(end), TalkMs: 110_000, AgentExtension: "201"}
	b, _ := proto.Marshal(r)
	f.apply(t, state.CmdCallIngest, f.tenant, b, nil)
}

func TestReviewDueLeaderOnlyAndFallback(t *testing.T) {
	f := newFixture(t, nil, 5)
	f.call(t, "c1", f.now)
	ld := &leader{}
	s := New(Config{Store: f.store, Leader: ld, Reviewer: failing{}, Clock: f.clock})
	f.now = f.now.Add(6 * time.Minute)
	if n, err := s.ReviewDue(context.Background()); n != 0 || err != nil {
		t.Fatalf("follower reviewed %d (%v)", n, err)
	}
	ld.on.Store(true)
	if n, err := s.ReviewDue(context.Background()); n != 1 || err != nil {
		t.Fatalf("leader reviewed %d (%v)", n, err)
	}
	var lead *state.Lead
	_ = f.store.View(context.Background(), false, func(tx *bbolt.Tx) error {
		c, _, _ := state.GetCall(tx, "c1")
		lead, _, _ = state.GetLead(tx, c.LeadID)
		return nil
	})
	if lead.Reviewer != "rules/classification-v1" || !strings.Contains(lead.Signals[len(lead.Signals)-1].Text, "llm endpoint refused") {
		t.Fatalf("fallback lead: %+v", lead)
	}
	if n, _ := s.ReviewDue(context.Background()); n != 0 {
		t.Fatal("a call was reviewed twice")
	}
}

type countingTrainer struct {
	got []Example
}

func (c *countingTrainer) Train(_ context.Context, _ string, ex []Example) ([]byte, error) {
	c.got = ex
	return []byte(fmt.Sprintf("model-%d", len(ex))), nil
}

func TestRetrainUsesDispositions(t *testing.T) {
	f := newFixture(t, nil, 0)
	s := New(Config{Store: f.store, Clock: f.clock, MinExamples: 2, Trainer: &countingTrainer{}})
	for i := 0; i < 3; i++ {
		f.call(t, fmt.Sprintf("c%d", i), f.now)
	}
	f.now = f.now.Add(time.Second)
	if n, _ := s.ReviewDue(context.Background()); n != 3 {
		t.Fatalf("reviewed %d", n)
	}
	var leads []state.Lead
	_ = f.store.View(context.Background(), false, func(tx *bbolt.Tx) error {
		p, _ := state.ListLeads(tx, state.ListQuery{Now: f.now, Tenants: []string{f.tenant}})
		leads = p.Items
		return nil
	})
	if len(leads) != 3 {
		t.Fatalf("%d leads", len(leads))
	}
	f.apply(t, state.CmdLeadDismiss, f.tenant, state.ItemBody{ID: leads[0].ID, Reason: state.DismissNotALead}, nil)
	f.apply(t, state.CmdLeadStatus, f.tenant, state.ItemBody{ID: leads[1].ID, Status: state.LeadNotAbleToSave}, nil)
	tr := s.cfg.Trainer.(*countingTrainer)
	if err := s.Retrain(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(tr.got) != 2 {
		t.Fatalf("trainer got %d examples, want the 2 dispositions", len(tr.got))
	}
	labels := map[string]int{}
	for _, e := range tr.got {
		labels[e.Input.CallID] = e.Label
	}
	if labels[leads[0].CallID] != 0 || labels[leads[1].CallID] != 1 {
		t.Fatalf("labels %v", labels)
	}
	var model []byte
	_ = f.store.View(context.Background(), false, func(tx *bbolt.Tx) error { model = state.ScoringModel(tx, f.tenant); return nil })
	if string(model) != "model-2" {
		t.Fatalf("stored model %q", model)
	}
}

// BenchmarkSpeedToLead ingests answered calls at 100 per second with acw_minutes 0 (the
// window closes when the call ends) while the scheduler runs on its default 250 ms tick,
// and measures, on the real clock, from ACW expiry to the commit that makes the lead
// listable. Reported: p50 and p99 in ms.
func BenchmarkSpeedToLead(b *testing.B) {
	calls := 300
	if testing.Short() {
		calls = 100
	}
	for b.Loop() {
		f := newFixture(b, time.Now, 0)
		var mu sync.Mutex
		var lat []time.Duration
		ends := map[string]time.Time{}
		f.store.OnApplied(func(_ uint64, cmds []*reboundv1.Command, outs []*reboundv1.CommandOutcome) {
			now := time.Now()
			for i, c := range cmds {
				if c.GetType() != state.CmdCallReview {
					continue
				}
				var rr state.ReviewResult
				if json.Unmarshal(outs[i].GetResult(), &rr) == nil && rr.LeadID != "" {
					mu.Lock()
					lat = append(lat, now.Sub(ends[rr.CallID]))
					mu.Unlock()
				}
			}
		})
		ctx, cancel := context.WithCancel(context.Background())
		s := New(Config{Store: f.store, Clock: time.Now})
		done := make(chan struct{})
		go func() { _ = s.Run(ctx); close(done) }()
		tick := time.NewTicker(10 * time.Millisecond)
		for i := 0; i < calls; i++ {
			<-tick.C
			id := fmt.Sprintf("c%d", i)
			end := time.Now().Truncate(time.Millisecond)
			mu.Lock()
			ends[id] = end
			mu.Unlock()
			f.call(b, id, end)
		}
		tick.Stop()
		deadline := time.Now().Add(10 * time.Second)
		for {
			mu.Lock()
			n := len(lat)
			mu.Unlock()
			if n == calls || time.Now().After(deadline) {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		cancel()
		<-done
		if len(lat) != calls {
			b.Fatalf("%d of %d leads committed", len(lat), calls)
		}
		b.ReportMetric(float64(percentileMs(lat, 0.50)), "p50-ms")
		b.ReportMetric(float64(percentileMs(lat, 0.99)), "p99-ms")
	}
}

func percentileMs(d []time.Duration, p float64) int64 {
	s := append([]time.Duration(nil), d...)
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
	return s[int(float64(len(s)-1)*p)].Milliseconds()
}

// TestNotifyNewLeads checks the fan-out: users who may see the lead get email and SMS on
// the channels they chose, through the webhook's wire contract; a tenant with
// notification_policy in_app_only sends none; every delivery lands on the lead's audit.
func TestNotifyNewLeads(t *testing.T) {
	var mu sync.Mutex
	var got []Notification
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var n Notification
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" || r.Header.Get("Authorization") != "Bearer hook-token" {
			http.Error(w, "bad request shape", http.StatusBadRequest)
			return
		}
		if err := json.NewDecoder(r.Body).Decode(&n); err != nil || n.To == "" || n.Text == "" || (n.Channel != "email" && n.Channel != "sms") {
			http.Error(w, "bad body", http.StatusBadRequest)
			return
		}
		if n.To == "+15550000000" || n.To == "5550000000" {
			http.Error(w, "unroutable number", http.StatusUnprocessableEntity)
			return
		}
		mu.Lock()
		got = append(got, n)
		mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
	}))
	defer srv.Close()
	f := newFixture(t, nil, 0)
	mk := func(name, role string, prefs state.NotifyPrefs) {
		var u state.User
		f.apply(t, state.CmdUserCreate, f.tenant, state.UserBody{Username: name, PasswordHash: "x", Role: role}, &u)
		b, _ := json.Marshal(prefs)
		outs, err := f.store.Apply(context.Background(), &reboundv1.Command{Type: state.CmdUserNotify, Actor: u.ID, Body: b})
		if err != nil || state.OutcomeError(outs[0]) != nil {
			t.Fatalf("prefs: %v %v", err, outs)
		}
	}
	f.apply(t, state.CmdRolePut, f.tenant, state.RoleBody{Name: "Nobody"}, nil)
	mk("ana", "CSR", state.NotifyPrefs{Email: "ana@example.com", SMS: "+1 512 555 0101"})
	mk("vic", "Viewer", state.NotifyPrefs{Email: "vic@example.com"})
	mk("pam", "Nobody", state.NotifyPrefs{Email: "pam@example.com"})
	mk("bad", "CSR", state.NotifyPrefs{SMS: "+1 555 000 0000"})
	s := New(Config{Store: f.store, Clock: f.clock, Notifier: Webhook{URL: srv.URL, Token: "hook-token"}})
	f.call(t, "c1", f.now)
	f.now = f.now.Add(time.Second)
	if n, err := s.ReviewDue(context.Background()); n != 1 || err != nil {
		t.Fatalf("reviewed %d %v", n, err)
	}
	var to []string
	for _, n := range got {
		to = append(to, n.Channel+":"+n.To)
	}
	sort.Strings(to)
	if strings.Join(to, " ") != "email:ana@example.com email:vic@example.com sms:5125550101" {
		t.Fatalf("delivered %v", to)
	}
	var audit []state.AuditEntry
	_ = f.store.View(context.Background(), false, func(tx *bbolt.Tx) error {
		c, _, _ := state.GetCall(tx, "c1")
		audit, _ = state.Audit(tx, c.LeadID, 0)
		return nil
	})
	last := audit[len(audit)-1]
	if last.Action != "lead.notified" || !strings.Contains(last.Detail, "failed (notify webhook: 422") || strings.Count(last.Detail, ": sent") != 3 {
		t.Fatalf("audit %+v", last)
	}
	// In-app only: nothing leaves the hub.
	policy := "in_app_only"
	f.apply(t, state.CmdSettingsUpdate, f.tenant, state.SettingsPatch{NotificationPolicy: &policy}, nil)
	got = nil
	f.call(t, "c2", f.now)
	f.now = f.now.Add(time.Second)
	if n, _ := s.ReviewDue(context.Background()); n != 1 || len(got) != 0 {
		t.Fatalf("in_app_only sent %d notifications", len(got))
	}
}
