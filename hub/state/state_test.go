package state

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	reboundv1 "github.com/reboundhq/rebound/proto/rebound/v1"
	"go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

type fixture struct {
	t     *testing.T
	l     *Local
	now   time.Time
	admin string
	ten   string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{t: t, now: time.Date(2026, 3, 2, 15, 0, 0, 0, time.UTC)}
	l, err := OpenLocal(filepath.Join(t.TempDir(), "s.db"), New(nil), func() time.Time { return f.now })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	f.l = l
	var br BootstrapResult
	f.must(CmdBootstrap, "", BootstrapBody{TenantName: "Acme", Username: "root", PasswordHash: "x"}, &br)
	f.admin, f.ten = br.UserID, br.TenantID
	return f
}

func (f *fixture) apply(typ, tenant string, body any) *reboundv1.CommandOutcome {
	f.t.Helper()
	var b []byte
	switch v := body.(type) {
	case []byte:
		b = v
	default:
		b, _ = json.Marshal(v)
	}
	outs, err := f.l.Apply(context.Background(), &reboundv1.Command{Type: typ, TenantId: tenant, Actor: f.admin, Body: b})
	if err != nil {
		f.t.Fatal(err)
	}
	return outs[0]
}

func (f *fixture) must(typ, tenant string, body, out any) {
	f.t.Helper()
	o := f.apply(typ, tenant, body)
	if e := OutcomeError(o); e != nil {
		f.t.Fatalf("%s: %v (%s)", typ, e, e.Code)
	}
	if out != nil {
		if err := json.Unmarshal(o.Result, out); err != nil {
			f.t.Fatal(err)
		}
	}
}

func record(id, caller string, outcome reboundv1.Outcome, start time.Time, talk time.Duration) []byte {
	r := &reboundv1.CallRecord{RecordId: id + "-r1", CallId: id, Revision: 1, Direction: reboundv1.Direction_DIRECTION_INBOUND,
		CallerNumber: caller, DialledNumber: "+15125550111", StartedAt: timestamppb.New(start),
		EndedAt: timestamppb.New(start.Add(20*time.Second + talk)), Outcome: outcome, TalkMs: talk.Milliseconds(),
		WaitMs: 20_000, AgentExtension: "201", Queue: "Service"}
	b, _ := proto.Marshal(r)
	return b
}

func TestLeadLifecycle(t *testing.T) {
	f := newFixture(t)
	on := true
	f.must(CmdSettingsUpdate, f.ten, SettingsPatch{SCLEnabled: &on}, nil)
	var ing IngestResult
	f.must(CmdCallIngest, f.ten, record("c1", "+1 512 555 0199", reboundv1.Outcome_OUTCOME_ANSWERED, f.now, 3*time.Minute), &ing)
	if !ing.ACWOpen {
		t.Fatalf("answered inbound call did not open ACW: %+v", ing)
	}
	// Idempotent by record id.
	var dup IngestResult
	f.must(CmdCallIngest, f.ten, record("c1", "+1 512 555 0199", reboundv1.Outcome_OUTCOME_ANSWERED, f.now, 3*time.Minute), &dup)
	if !dup.Duplicate {
		t.Fatal("second ingest of the same record was not a duplicate")
	}
	var due []string
	f.l.View(context.Background(), false, func(tx *bbolt.Tx) error {
		due = DueACW(tx, f.now.Add(4*time.Minute).UnixMilli(), 10)
		return nil
	})
	if len(due) != 0 {
		t.Fatalf("ACW due before the window ended: %v", due)
	}
	f.now = f.now.Add(9 * time.Minute)
	f.l.View(context.Background(), false, func(tx *bbolt.Tx) error {
		due = DueACW(tx, f.now.UnixMilli(), 10)
		return nil
	})
	if len(due) != 1 || due[0] != "c1" {
		t.Fatalf("due = %v", due)
	}
	o := f.apply(CmdCallClassify, f.ten, ClassifyBody{CallID: "c1", Type: TypeUnbooked})
	if e := OutcomeError(o); e == nil || e.Code != CodeConflict {
		t.Fatalf("classification after the window: %v", e)
	}
	var rr ReviewResult
	f.must(CmdCallReview, f.ten, ReviewBody{CallID: "c1", Probability: 0.8, Flagged: true, Summary: "price", Reviewer: "test"}, &rr)
	if rr.LeadID == "" {
		t.Fatalf("no lead: %+v", rr)
	}
	var lead Lead
	f.l.View(context.Background(), false, func(tx *bbolt.Tx) error {
		l, _, _ := GetLead(tx, rr.LeadID)
		lead = *l
		return nil
	})
	if lead.Type != TypeUnbooked || lead.Status != LeadNew || lead.Phone != "5125550199" {
		t.Fatalf("lead = %+v", lead)
	}
	// Manual final status refused; job closes it as booked elsewhere (no callback).
	if e := OutcomeError(f.apply(CmdLeadStatus, f.ten, ItemBody{ID: lead.ID, Status: LeadJobBookedSCL})); e == nil || e.Field != "status" {
		t.Fatalf("manual Job booked: %v", e)
	}
	var jr JobResult
	f.must(CmdJobCreate, f.ten, JobBody{Phone: "5125550199"}, &jr)
	if len(jr.ClosedLeads) != 1 || jr.ClosedLeads[0].Status != LeadJobBookedElsewhr {
		t.Fatalf("job result %+v", jr)
	}
	if e := OutcomeError(f.apply(CmdLeadNote, f.ten, ItemBody{ID: lead.ID, Text: "x"})); e == nil || e.Code != CodeConflict {
		t.Fatalf("note on a final lead: %v", e)
	}
}

func TestAbandonedRules(t *testing.T) {
	f := newFixture(t)
	short := 10
	f.must(CmdSettingsUpdate, f.ten, SettingsPatch{ShortAbandonSeconds: &short}, nil)
	r := &reboundv1.CallRecord{RecordId: "s-r", CallId: "s", Outcome: reboundv1.Outcome_OUTCOME_ABANDONED, CallerNumber: "5550001",
		StartedAt: timestamppb.New(f.now), EndedAt: timestamppb.New(f.now.Add(3 * time.Second)), WaitMs: 3000}
	b, _ := proto.Marshal(r)
	var ing IngestResult
	f.must(CmdCallIngest, f.ten, b, &ing)
	if ing.Dropped == "" || ing.AbandonedID != "" {
		t.Fatalf("short abandon kept: %+v", ing)
	}
	f.must(CmdCallIngest, f.ten, record("ab", "5550002", reboundv1.Outcome_OUTCOME_ABANDONED, f.now, 0), &ing)
	if ing.AbandonedID == "" {
		t.Fatal("abandon not queued")
	}
	vm := record("vm", "5550002", reboundv1.Outcome_OUTCOME_VOICEMAIL, f.now, 0)
	var vmr IngestResult
	f.must(CmdCallIngest, f.ten, vm, &vmr)
	if vmr.AbandonedID != "" {
		t.Fatal("voicemail entered the abandoned queue")
	}
	// A short answered call does not resolve it, a long one does.
	var a1, a2 IngestResult
	f.must(CmdCallIngest, f.ten, record("ans1", "5550002", reboundv1.Outcome_OUTCOME_ANSWERED, f.now.Add(time.Hour), 20*time.Second), &a1)
	f.must(CmdCallIngest, f.ten, record("ans2", "5550002", reboundv1.Outcome_OUTCOME_ANSWERED, f.now.Add(2*time.Hour), 45*time.Second), &a2)
	if len(a1.AutoResolved) != 0 || len(a2.AutoResolved) != 1 || a2.AutoResolved[0] != ing.AbandonedID {
		t.Fatalf("auto-resolve: %v %v", a1.AutoResolved, a2.AutoResolved)
	}
}

// Two replicas applying the same commands end with byte-identical state.
func TestDeterministic(t *testing.T) {
	var dumps [][]byte
	for i := 0; i < 2; i++ {
		f := newFixture(t)
		on := true
		f.must(CmdSettingsUpdate, f.ten, SettingsPatch{SCLEnabled: &on}, nil)
		f.must(CmdCustomerCreate, f.ten, CustomerBody{Name: ptr("A"), Phones: &[]string{"5125550199"}}, nil)
		f.must(CmdCustomerCreate, f.ten, CustomerBody{Name: ptr("B"), Phones: &[]string{"5125550199"}}, nil)
		f.must(CmdCallIngest, f.ten, record("c1", "5125550199", reboundv1.Outcome_OUTCOME_ANSWERED, f.now, 2*time.Minute), nil)
		f.must(CmdCallReview, f.ten, ReviewBody{CallID: "c1", Probability: 0.9, Flagged: true}, nil)
		var buf bytes.Buffer
		f.l.View(context.Background(), false, func(tx *bbolt.Tx) error {
			return tx.ForEach(func(name []byte, b *bbolt.Bucket) error {
				return b.ForEach(func(k, v []byte) error {
					buf.Write(name)
					buf.Write(k)
					buf.Write(v)
					return nil
				})
			})
		})
		dumps = append(dumps, buf.Bytes())
		var c *Call
		f.l.View(context.Background(), false, func(tx *bbolt.Tx) error { c, _, _ = GetCall(tx, "c1"); return nil })
		if !c.PossibleIncorrectMatch || len(c.Candidates) != 2 {
			t.Fatalf("two customers with the caller's phone: %+v", c)
		}
	}
	if !bytes.Equal(dumps[0], dumps[1]) {
		t.Fatal("replicas diverged")
	}
}

func ptr[T any](v T) *T { return &v }

func TestRepeatCalls(t *testing.T) {
	f := newFixture(t)
	base := f.now
	for i, id := range []string{"r0", "r1", "r2"} {
		f.must(CmdCallIngest, f.ten, record(id, "5125550100", reboundv1.Outcome_OUTCOME_ABANDONED, base.Add(time.Duration(i)*time.Hour), 0), nil)
	}
	f.must(CmdCallIngest, f.ten, record("old", "5125550100", reboundv1.Outcome_OUTCOME_ABANDONED, base.Add(-40*24*time.Hour), 0), nil)
	f.must(CmdCallIngest, f.ten, record("x", "5125550999", reboundv1.Outcome_OUTCOME_ABANDONED, base, 0), nil)
	f.l.View(context.Background(), false, func(tx *bbolt.Tx) error {
		if n := RepeatCalls(tx, f.ten, "5125550100", base.Add(2*time.Hour).UnixMilli(), 30*24*time.Hour); n != 2 {
			t.Errorf("repeat calls before the third call = %d, want 2 (the 40-day-old call is outside the window)", n)
		}
		if n := RepeatCalls(tx, f.ten, "5125550999", base.UnixMilli(), 30*24*time.Hour); n != 0 {
			t.Errorf("first call of a number has %d repeats", n)
		}
		return nil
	})
}

// FuzzApply feeds arbitrary bodies to every command type: the state machine must answer
// each with an outcome (an error for bad input), never panic, and stay usable.
func FuzzApply(f *testing.F) {
	good, _ := proto.Marshal(&reboundv1.CallRecord{RecordId: "r", CallId: "c", Outcome: reboundv1.Outcome_OUTCOME_ANSWERED,
		Direction: reboundv1.Direction_DIRECTION_INBOUND, CallerNumber: "5125550199", TalkMs: 90_000,
		StartedAt: timestamppb.New(time.Unix(1781532000, 0)), EndedAt: timestamppb.New(time.Unix(1781532090, 0))})
	f.Add(uint8(0), good)
	f.Add(uint8(1), []byte(`{"callId":"c","probability":0.9,"flagged":true}`))
	f.Add(uint8(2), []byte(`{"id":"l_3_0","status":"New"}`))
	f.Add(uint8(3), []byte(`{"phone":"5125550199"}`))
	f.Add(uint8(4), []byte(`{"acw_minutes":-3}`))
	f.Add(uint8(0), []byte{0x0a, 0xff, 0xff})
	types := []string{CmdCallIngest, CmdCallReview, CmdLeadStatus, CmdJobCreate, CmdSettingsUpdate, CmdCallClassify,
		CmdLeadNote, CmdLeadCopyNote, CmdLeadCustomer, CmdCustomerCreate, CmdLocationCreate, CmdTrackingPut, CmdUserCreate,
		CmdRolePut, CmdAbStatus, CmdSessionCreate, CmdTokenCreate, CmdSiteCreate, CmdReasonCreate, CmdBootstrap}
	dir := f.TempDir()
	n := 0
	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		n++
		path := filepath.Join(dir, fmt.Sprintf("f%d.db", n))
		l, err := OpenLocal(path, New(nil), func() time.Time { return time.Unix(1781532100, 0) })
		if err != nil {
			t.Fatal(err)
		}
		defer os.Remove(path)
		defer l.Close()
		l.DB().NoSync = true
		b, _ := json.Marshal(BootstrapBody{TenantName: "T", Username: "u", PasswordHash: "x"})
		cmds := []*reboundv1.Command{{Type: CmdBootstrap, Body: b},
			{Type: CmdCallIngest, TenantId: "t_1_0", Body: good},
			{Type: types[int(which)%len(types)], TenantId: "t_1_0", Actor: "u_1_0", Body: body}}
		outs, err := l.Apply(context.Background(), cmds...)
		if err != nil || len(outs) != len(cmds) {
			t.Fatalf("apply: %v, %d outcomes", err, len(outs))
		}
		// Still readable and writable.
		if err := l.View(context.Background(), false, func(tx *bbolt.Tx) error {
			_, err := ListLeads(tx, ListQuery{Now: time.Unix(1781532100, 0), Tenants: []string{"t_1_0"}})
			return err
		}); err != nil {
			t.Fatal(err)
		}
	})
}

// TestListLeadsMatchesBruteForce pages through every tab x sort x filter combination and
// compares with a plain filter over all leads.
func TestListLeadsMatchesBruteForce(t *testing.T) {
	f := newFixture(t)
	on := true
	f.must(CmdSettingsUpdate, f.ten, SettingsPatch{SCLEnabled: &on}, nil)
	var rsn Reason
	f.must(CmdReasonCreate, f.ten, ReasonBody{Name: "Price", IsLead: true}, &rsn)
	start := f.now
	for i := 0; i < 60; i++ {
		f.now = start.Add(time.Duration(i) * 3 * time.Hour)
		id := fmt.Sprintf("c%02d", i)
		rec := &reboundv1.CallRecord{RecordId: id, CallId: id, Outcome: reboundv1.Outcome_OUTCOME_ANSWERED, Direction: reboundv1.Direction_DIRECTION_INBOUND,
			CallerNumber: fmt.Sprintf("51255501%02d", i%7), AgentExtension: fmt.Sprintf("20%d", i%3), TalkMs: int64(30_000 + i*1000),
			StartedAt: timestamppb.New(f.now.Add(-5 * time.Minute)), EndedAt: timestamppb.New(f.now)}
		b, _ := proto.Marshal(rec)
		f.must(CmdCallIngest, f.ten, b, nil)
		if i%4 == 0 {
			f.must(CmdCallClassify, f.ten, ClassifyBody{CallID: id, Type: TypeUnbooked, ReasonID: rsn.ID, Notes: "note " + id}, nil)
		}
		var rr ReviewResult
		f.must(CmdCallReview, f.ten, ReviewBody{CallID: id, Probability: 0.8, Flagged: true}, &rr)
		switch i % 5 {
		case 1:
			f.must(CmdLeadDismiss, f.ten, ItemBody{ID: rr.LeadID, Reason: DismissNotALead}, nil)
		case 2:
			f.must(CmdLeadCall, f.ten, ItemBody{ID: rr.LeadID}, nil)
		}
	}
	f.now = start.Add(60*3*time.Hour + time.Hour)
	var all []Lead
	f.l.View(context.Background(), false, func(tx *bbolt.Tx) error {
		all, _ = listJSON[Lead](tx, bLeads, nil)
		return nil
	})
	set := DefaultSettings()
	for _, tab := range []string{TabOpen, TabCold, TabDone} {
		for _, srt := range []string{"-activity", "activity", "-age", "age"} {
			for _, fl := range []ListQuery{{}, {Agent: "201"}, {Reason: rsn.ID}, {Statuses: []string{LeadCallbackAttempt}}, {Notes: "C08"}, {Customer: "0103"}, {AgeMax: 5 * 24 * time.Hour}} {
				if tab == TabDone && srt != "-activity" && srt != "activity" {
					continue
				}
				q := fl
				q.Now, q.Tab, q.Sort, q.Tenants, q.Limit = f.now, tab, srt, []string{f.ten}, 7
				var got []string
				for page := 0; ; page++ {
					var p Page[Lead]
					if err := f.l.View(context.Background(), false, func(tx *bbolt.Tx) error {
						var err error
						p, err = ListLeads(tx, q)
						return err
					}); err != nil {
						t.Fatal(err)
					}
					for _, l := range p.Items {
						got = append(got, l.ID)
					}
					if p.NextCursor == "" || page > 20 {
						break
					}
					q.Cursor = p.NextCursor
				}
				var want []Lead
				for _, l := range all {
					if LeadTab(&l, set, f.now) != tab || (fl.Agent != "" && l.Agent != fl.Agent) || (fl.Reason != "" && l.ReasonID != fl.Reason) ||
						(len(fl.Statuses) > 0 && l.Status != fl.Statuses[0]) || (fl.Notes != "" && !leadNotesMatch(&l, fl.Notes)) ||
						(fl.Customer != "" && !strings.Contains(l.Phone, fl.Customer)) || (fl.AgeMax > 0 && f.now.UnixMilli()-l.CallEndedMs > fl.AgeMax.Milliseconds()) {
						continue
					}
					want = append(want, l)
				}
				keyOf := func(l Lead) int64 {
					switch {
					case tab == TabDone:
						return l.DoneMs
					case srt == "-age" || srt == "age":
						return l.CallEndedMs
					}
					return l.LastActivityMs
				}
				desc := srt == "-activity" || srt == "-age"
				sort.Slice(want, func(i, j int) bool {
					ki, kj := keyOf(want[i]), keyOf(want[j])
					if ki != kj {
						return (ki > kj) == desc
					}
					return (want[i].ID > want[j].ID) == desc
				})
				var wantIDs []string
				for _, l := range want {
					wantIDs = append(wantIDs, l.ID)
				}
				if strings.Join(got, ",") != strings.Join(wantIDs, ",") {
					t.Errorf("tab %s sort %s filter %+v:\n got %v\nwant %v", tab, srt, fl, got, wantIDs)
				}
			}
		}
	}
}

func TestRequestIDExactlyOnce(t *testing.T) {
	f := newFixture(t)
	body, _ := json.Marshal(CustomerBody{Name: ptr("Once")})
	cmd := func() *reboundv1.Command {
		return &reboundv1.Command{Type: CmdCustomerCreate, TenantId: f.ten, Actor: f.admin, Body: body, RequestId: "req-1"}
	}
	o1, _ := f.l.Apply(context.Background(), cmd())
	o2, _ := f.l.Apply(context.Background(), cmd())
	if !bytes.Equal(o1[0].Result, o2[0].Result) {
		t.Fatalf("retry gave another outcome: %s vs %s", o1[0].Result, o2[0].Result)
	}
	var n int
	f.l.View(context.Background(), false, func(tx *bbolt.Tx) error {
		cs, _ := FindCustomers(tx, f.ten, "", "Once", 10)
		n = len(cs)
		return nil
	})
	if n != 1 {
		t.Fatalf("%d customers after a retried create", n)
	}
	// After RequestMemory the id is forgotten.
	f.now = f.now.Add(RequestMemory + time.Hour)
	f.must(CmdTenantCreate, "", TenantBody{Name: "tick"}, nil)
	o3, _ := f.l.Apply(context.Background(), cmd())
	if bytes.Equal(o1[0].Result, o3[0].Result) {
		t.Fatal("request id remembered past RequestMemory")
	}
}
