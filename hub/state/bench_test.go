package state

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	reboundv1 "github.com/reboundhq/rebound/proto/rebound/v1"
	"go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

const (
	benchTenants   = 5
	benchCampaigns = 10
	benchAgents    = 20
)

var benchNow = time.Date(2026, 6, 15, 14, 0, 0, 0, time.UTC)

// benchStore returns a state file holding calls calls of which leads are open leads. It
// is built once and kept in the temp dir (keyed by size and format version), because the
// full size takes minutes to build on a small machine.
func benchStore(b *testing.B, calls, leads int) *Local {
	b.Helper()
	path := filepath.Join(os.TempDir(), fmt.Sprintf("rebound-bench-leads-v3-%d-%d.db", calls, leads))
	if _, err := os.Stat(path); err != nil {
		tmp := path + ".building"
		os.Remove(tmp)
		start := time.Now()
		if err := buildBenchStore(tmp, calls, leads); err != nil {
			os.Remove(tmp)
			b.Fatal(err)
		}
		if err := os.Rename(tmp, path); err != nil {
			b.Fatal(err)
		}
		b.Logf("built %s in %v", path, time.Since(start))
	}
	l, err := OpenLocal(path, New(nil), func() time.Time { return benchNow })
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { l.Close() })
	return l
}

func buildBenchStore(path string, calls, leads int) error {
	clk := benchNow.Add(-3 * 24 * time.Hour)
	l, err := OpenLocal(path, New(nil), func() time.Time { return clk })
	if err != nil {
		return err
	}
	defer l.Close()
	l.DB().NoSync = true
	ctx := context.Background()
	apply := func(cmds []*reboundv1.Command) error {
		outs, err := l.Apply(ctx, cmds...)
		if err != nil {
			return err
		}
		for _, o := range outs {
			if e := OutcomeError(o); e != nil {
				return e
			}
		}
		return nil
	}
	jcmd := func(typ, tenant string, body any) *reboundv1.Command {
		bb, _ := json.Marshal(body)
		return &reboundv1.Command{Type: typ, TenantId: tenant, Actor: "bench", Body: bb}
	}
	hash, _ := json.Marshal(BootstrapBody{TenantName: "T0", Username: "root", PasswordHash: "x"})
	if err := apply([]*reboundv1.Command{{Type: CmdBootstrap, Body: hash}}); err != nil {
		return err
	}
	tenants := []string{"t_1_0"}
	for i := 1; i < benchTenants; i++ {
		var res []*reboundv1.CommandOutcome
		res, err = l.Apply(ctx, jcmd(CmdTenantCreate, "", TenantBody{Name: fmt.Sprintf("T%d", i)}))
		if err != nil {
			return err
		}
		var t Tenant
		_ = json.Unmarshal(res[0].Result, &t)
		tenants = append(tenants, t.ID)
	}
	on := true
	var setup []*reboundv1.Command
	for _, t := range tenants {
		setup = append(setup, jcmd(CmdSettingsUpdate, t, SettingsPatch{SCLEnabled: &on}))
		for c := 0; c < benchCampaigns; c++ {
			setup = append(setup, jcmd(CmdCampaignCreate, t, NamedBody{Name: fmt.Sprintf("camp %d", c)}))
		}
	}
	if err := apply(setup); err != nil {
		return err
	}
	// Campaign ids derive from the entry's index: read them back.
	camps := map[string][]string{}
	if err := l.View(ctx, false, func(tx *bbolt.Tx) error {
		for _, t := range tenants {
			cs, err := ListCampaigns(tx, t)
			if err != nil {
				return err
			}
			for _, c := range cs {
				camps[t] = append(camps[t], c.ID)
			}
		}
		return nil
	}); err != nil {
		return err
	}
	setup = setup[:0]
	for ti, t := range tenants {
		for c, cid := range camps[t] {
			setup = append(setup, jcmd(CmdTrackingPut, t, TrackingNumber{Number: fmt.Sprintf("1%02d555%04d", ti, c), CampaignID: cid}))
		}
	}
	if err := apply(setup); err != nil {
		return err
	}
	const batch = 2000
	var cmds []*reboundv1.Command
	flush := func() error {
		if len(cmds) == 0 {
			return nil
		}
		err := apply(cmds)
		cmds = cmds[:0]
		return err
	}
	every := calls / leads
	span := 2 * 24 * time.Hour // every lead is active within the last two days: Open
	for i := 0; i < calls; i++ {
		x := uint32(i) * 2654435761 // spread tenants, campaigns and agents independently
		ti := int(x>>8) % benchTenants
		start := benchNow.Add(-span + time.Duration(i)*span/time.Duration(calls))
		r := &reboundv1.CallRecord{RecordId: fmt.Sprintf("r%08d", i), CallId: fmt.Sprintf("c%08d", i), Revision: 1,
			Direction: reboundv1.Direction_DIRECTION_INBOUND, CallerNumber: fmt.Sprintf("2%09d", i%400000),
			DialledNumber: fmt.Sprintf("1%02d555%04d", ti, int(x>>12)%benchCampaigns), StartedAt: timestamppb.New(start),
			EndedAt: timestamppb.New(start.Add(3 * time.Minute)), TalkMs: 170_000, WaitMs: 10_000,
			AgentExtension: fmt.Sprintf("%d", 200+int(x>>16)%benchAgents), Queue: "Service"}
		switch {
		case i%every == 0:
			r.Outcome = reboundv1.Outcome_OUTCOME_ANSWERED
		case i%10 == 1:
			r.Outcome = reboundv1.Outcome_OUTCOME_ABANDONED
			r.TalkMs = 0
		case i%10 < 6:
			r.Outcome = reboundv1.Outcome_OUTCOME_OUTBOUND
			r.Direction = reboundv1.Direction_DIRECTION_OUTBOUND
		default:
			r.Outcome = reboundv1.Outcome_OUTCOME_VOICEMAIL
		}
		body, _ := proto.Marshal(r)
		clk = start.Add(3 * time.Minute)
		cmds = append(cmds, &reboundv1.Command{Type: CmdCallIngest, Actor: "site", Body: body, AtUnixMs: clk.UnixMilli()})
		if r.Outcome == reboundv1.Outcome_OUTCOME_ANSWERED {
			rb, _ := json.Marshal(ReviewBody{CallID: r.CallId, Probability: 0.7, Flagged: true, Summary: "bench", Reviewer: "bench"})
			cmds = append(cmds, &reboundv1.Command{Type: CmdCallReview, TenantId: tenants[ti], Actor: "scheduler", Body: rb, AtUnixMs: clk.Add(5 * time.Minute).UnixMilli()})
		}
		if len(cmds) >= batch {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := flush(); err != nil {
		return err
	}
	return l.DB().Sync()
}

func percentile(d []time.Duration, p float64) time.Duration {
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	return d[int(float64(len(d)-1)*p)]
}

// BenchmarkLeadList lists the Open tab, 50 rows, filtered by account and campaign (the
// campaign-surge use case), on a store of 1,000,000 calls and 100,000 open leads
// (100,000 / 10,000 under -short). The baseline decodes the same 50 leads by id, the
// least any listing must do.
func BenchmarkLeadList(b *testing.B) {
	calls, leads := 1_000_000, 100_000
	if testing.Short() {
		calls, leads = 100_000, 10_000
	}
	l := benchStore(b, calls, leads)
	ctx := context.Background()
	var tenant, campaign string
	var open int
	_ = l.View(ctx, false, func(tx *bbolt.Tx) error {
		tenant = "t_1_0"
		cs, _ := ListCampaigns(tx, tenant)
		campaign = cs[3].ID
		open = tx.Bucket(bLeadAct).Stats().KeyN
		return nil
	})
	if open != leads {
		b.Fatalf("store has %d open leads, want %d", open, leads)
	}
	q := ListQuery{Now: benchNow, Tab: TabOpen, Tenants: []string{tenant}, Campaign: campaign, Statuses: []string{LeadNew}, Limit: 50}
	var page Page[Lead]
	// Warm the page cache the way a running hub's is: the file is larger than what one
	// query touches, and a cold mmap measures the disk, not the listing.
	for i := 0; i < 20; i++ {
		_ = l.View(ctx, false, func(tx *bbolt.Tx) error { _, err := ListLeads(tx, q); return err })
	}
	b.Run("list", func(b *testing.B) {
		lat := make([]time.Duration, 0, b.N)
		for b.Loop() {
			t0 := time.Now()
			if err := l.View(ctx, false, func(tx *bbolt.Tx) error {
				var err error
				page, err = ListLeads(tx, q)
				return err
			}); err != nil {
				b.Fatal(err)
			}
			lat = append(lat, time.Since(t0))
		}
		if len(page.Items) != 50 {
			b.Fatalf("page has %d rows", len(page.Items))
		}
		b.ReportMetric(float64(percentile(lat, 0.99).Microseconds())/1000, "p99-ms")
		b.ReportMetric(float64(percentile(lat, 0.50).Microseconds())/1000, "p50-ms")
	})
	ids := make([]string, 0, 50)
	for _, it := range page.Items {
		ids = append(ids, it.ID)
	}
	b.Run("baseline-get-50", func(b *testing.B) {
		for b.Loop() {
			_ = l.View(ctx, false, func(tx *bbolt.Tx) error {
				for _, id := range ids {
					if _, ok, err := GetLead(tx, id); err != nil || !ok {
						b.Fatal("missing lead", id, err)
					}
				}
				return nil
			})
		}
	})
}
