package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"testing"
	"time"

	"github.com/reboundhq/rebound/hub/state"
	reboundv1 "github.com/reboundhq/rebound/proto/rebound/v1"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// BenchmarkAPILeadList serves GET /api/v1/leads (Open tab, 50 rows, account + campaign +
// status) through the full handler: bearer auth, query parsing, the index scan, name
// lookups and JSON encoding; 20,000 open leads (5,000 under -short) in 5 campaigns.
func BenchmarkAPILeadList(b *testing.B) {
	leads := 20_000
	if testing.Short() {
		leads = 5_000
	}
	e := newEnv(b)
	var br state.BootstrapResult
	e.command(b, state.CmdBootstrap, "", "", state.BootstrapBody{TenantName: "Acme", Username: "root", PasswordHash: "x"}, &br)
	ten := br.TenantID
	on := true
	e.command(b, state.CmdSettingsUpdate, ten, "root", state.SettingsPatch{SCLEnabled: &on}, nil)
	var camps []string
	for i := 0; i < 5; i++ {
		var c state.Campaign
		e.command(b, state.CmdCampaignCreate, ten, "root", state.NamedBody{Name: fmt.Sprintf("camp %d", i)}, &c)
		e.command(b, state.CmdTrackingPut, ten, "root", state.TrackingNumber{Number: fmt.Sprintf("51255500%02d", i), CampaignID: c.ID}, nil)
		camps = append(camps, c.ID)
	}
	e.command(b, state.CmdTokenCreate, "", br.UserID, state.TokenBody{Hash: state.HashToken("bench-token"), Name: "b"}, nil)
	now := e.clk.Now()
	var cmds []*reboundv1.Command
	for i := 0; i < leads; i++ {
		start := now.Add(-48*time.Hour + time.Duration(i)*40*time.Hour/time.Duration(leads))
		id := fmt.Sprintf("c%06d", i)
		r := &reboundv1.CallRecord{RecordId: id, CallId: id, Direction: reboundv1.Direction_DIRECTION_INBOUND, Outcome: reboundv1.Outcome_OUTCOME_ANSWERED,
			CallerNumber: fmt.Sprintf("7%09d", i), DialledNumber: fmt.Sprintf("51255500%02d", (i*7)%5), AgentExtension: fmt.Sprintf("2%02d", i%20),
			StartedAt: timestamppb.New(start), EndedAt: timestamppb.New(start.Add(3 * time.Minute)), TalkMs: 170_000}
		body, _ := proto.Marshal(r)
		rb, _ := json.Marshal(state.ReviewBody{CallID: id, Probability: 0.7, Flagged: true, Summary: "asked for a price"})
		at := start.Add(10 * time.Minute).UnixMilli()
		cmds = append(cmds, &reboundv1.Command{Type: state.CmdCallIngest, Body: body, AtUnixMs: at},
			&reboundv1.Command{Type: state.CmdCallReview, TenantId: ten, Body: rb, AtUnixMs: at})
		if len(cmds) >= 2000 || i == leads-1 {
			if _, err := e.store.Apply(context.Background(), cmds...); err != nil {
				b.Fatal(err)
			}
			cmds = cmds[:0]
		}
	}
	path := "/api/v1/leads?account=" + ten + "&campaign=" + camps[2] + "&status=New&limit=50"
	h := e.api.Handler()
	lat := make([]time.Duration, 0, 1024)
	var rows int
	for b.Loop() {
		req := httptest.NewRequest("GET", path, nil)
		req.Header.Set("Authorization", "Bearer bench-token")
		rec := httptest.NewRecorder()
		t0 := time.Now()
		h.ServeHTTP(rec, req)
		lat = append(lat, time.Since(t0))
		if rec.Code != http.StatusOK {
			b.Fatalf("%d %s", rec.Code, rec.Body)
		}
		var p leadPage
		_ = json.Unmarshal(rec.Body.Bytes(), &p)
		rows = len(p.Items)
	}
	if rows != 50 {
		b.Fatalf("%d rows", rows)
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[(len(lat)-1)*99/100].Microseconds())/1000, "p99-ms")
}
