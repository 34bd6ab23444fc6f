package web

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/reboundhq/rebound/hub/state"
	reboundv1 "github.com/reboundhq/rebound/proto/rebound/v1"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// TestEventsFromRealStateMachine drives the real state machine over a bbolt
// file and checks which live events its applied entries become.
func TestEventsFromRealStateMachine(t *testing.T) {
	now := time.Date(2026, 3, 2, 15, 0, 0, 0, time.UTC)
	l, err := state.OpenLocal(filepath.Join(t.TempDir(), "s.db"), state.New(nil), func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	b := NewBroker(BrokerConfig{}, nil)
	l.OnApplied(b.Hook())

	apply := func(typ, tenant string, body any, out any) {
		t.Helper()
		var raw []byte
		if bb, ok := body.([]byte); ok {
			raw = bb
		} else {
			raw, _ = json.Marshal(body)
		}
		outs, err := l.Apply(context.Background(), &reboundv1.Command{Type: typ, TenantId: tenant, Actor: "user:u1", Body: raw})
		if err != nil {
			t.Fatal(err)
		}
		if e := state.OutcomeError(outs[0]); e != nil {
			t.Fatalf("%s: %v", typ, e)
		}
		if out != nil {
			json.Unmarshal(outs[0].Result, out)
		}
	}
	var br state.BootstrapResult
	apply(state.CmdBootstrap, "", state.BootstrapBody{TenantName: "Acme", Username: "root", PasswordHash: "x"}, &br)
	ten := br.TenantID
	on := true
	apply(state.CmdSettingsUpdate, ten, state.SettingsPatch{SCLEnabled: &on}, nil)
	rec := &reboundv1.CallRecord{RecordId: "c1-r1", CallId: "c1", Revision: 1, Direction: reboundv1.Direction_DIRECTION_INBOUND,
		CallerNumber: "+15125550199", DialledNumber: "+15125550111", StartedAt: timestamppb.New(now),
		EndedAt: timestamppb.New(now.Add(3 * time.Minute)), Outcome: reboundv1.Outcome_OUTCOME_ANSWERED, TalkMs: 160_000,
		WaitMs: 20_000, AgentExtension: "201", Queue: "Service"}
	raw, _ := proto.Marshal(rec)
	apply(state.CmdCallIngest, ten, raw, nil)
	apply(state.CmdCallIngest, ten, raw, nil) // duplicate: no event
	ab := &reboundv1.CallRecord{RecordId: "c2-r1", CallId: "c2", Revision: 1, Direction: reboundv1.Direction_DIRECTION_INBOUND,
		CallerNumber: "+15125550123", DialledNumber: "+15125550111", StartedAt: timestamppb.New(now),
		EndedAt: timestamppb.New(now.Add(40 * time.Second)), Outcome: reboundv1.Outcome_OUTCOME_ABANDONED, WaitMs: 40_000, Queue: "Service"}
	raw2, _ := proto.Marshal(ab)
	apply(state.CmdCallIngest, ten, raw2, nil)
	now = now.Add(10 * time.Minute)
	var rr state.ReviewResult
	apply(state.CmdCallReview, ten, state.ReviewBody{CallID: "c1", Probability: 0.9, Flagged: true, Summary: "price", Reviewer: "test"}, &rr)
	apply(state.CmdLeadStatus, ten, state.ItemBody{ID: rr.LeadID, Status: state.LeadCallbackAttempt}, nil)
	apply(state.CmdUserCreate, ten, map[string]string{"username": "ana", "passwordHash": "secret-hash", "role": "CSR"}, nil)

	s, replay, _ := b.subscribe(Viewer{Tenants: map[string]map[string]bool{ten: {PermSCLEdit: true, PermAbandonedEdit: true}}}, true, 0, 0)
	defer b.unsubscribe(s)
	type got struct {
		typ, kind, status string
		created           bool
	}
	var gots []got
	for _, e := range replay {
		var d liveData
		if err := json.Unmarshal(e.Data, &d); err != nil {
			t.Fatal(err)
		}
		if d.Actor != "user:u1" && e.Type != "reset" {
			t.Errorf("%s: actor %q", e.ID(), d.Actor)
		}
		gots = append(gots, got{e.Type, d.Kind, d.Status, d.Created})
	}
	want := []got{
		{"settings", state.CmdSettingsUpdate, "", false},
		{"call", state.CmdCallIngest, "", true},
		{"abandoned", state.CmdCallIngest, "", true},
		{"call", state.CmdCallReview, "", false},
		{"lead", state.CmdCallReview, "New", true},
		{"lead", state.CmdLeadStatus, state.LeadCallbackAttempt, false},
	}
	if len(gots) != len(want) {
		t.Fatalf("events %+v, want %+v", gots, want)
	}
	for i := range want {
		if gots[i] != want[i] {
			t.Errorf("event %d = %+v, want %+v", i, gots[i], want[i])
		}
	}

	// A viewer of another tenant, and one without abandoned.edit, see less.
	s2, other, _ := b.subscribe(Viewer{Tenants: map[string]map[string]bool{"t_other": {PermSCLEdit: true}}}, true, 0, 0)
	defer b.unsubscribe(s2)
	if len(other) != 0 {
		t.Fatalf("other tenant got %d events", len(other))
	}
	s3, sclOnly, _ := b.subscribe(Viewer{Tenants: map[string]map[string]bool{ten: {PermSCLView: true}}}, true, 0, 0)
	defer b.unsubscribe(s3)
	for _, e := range sclOnly {
		if e.Type == "abandoned" {
			t.Fatal("viewer without abandoned.edit got an abandoned call event")
		}
	}
	if len(sclOnly) != len(want)-1 {
		t.Fatalf("scl-only viewer got %d events", len(sclOnly))
	}
}

func TestSnapshotRestoreResetsEveryone(t *testing.T) {
	ev := Events(42, nil, nil)
	if len(ev) != 1 || ev[0].Type != "reset" {
		t.Fatalf("got %+v", ev)
	}
	v := Viewer{Tenants: map[string]map[string]bool{"a": nil}}
	if !v.allowed(&ev[0]) {
		t.Fatal("reset not delivered")
	}
	// A tenant-less event of any other type is never delivered.
	if v.allowed(&Event{Type: "lead"}) {
		t.Fatal("tenant-less lead event delivered")
	}
}
