package api

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/reboundhq/rebound/hub/state"
	reboundv1 "github.com/reboundhq/rebound/proto/rebound/v1"
)

type leadPage struct {
	Items      []leadView `json:"items"`
	NextCursor string     `json:"nextCursor"`
}

type abPage struct {
	Items []abandonedView `json:"items"`
}

// world is the scenario's network: two accounts, their campaigns, reasons and staff.
type world struct {
	e                  *env
	admin              *client
	acme, bolt         string
	heatwave, boltCamp string
	priceShopping      string
	scheduling         string
	renter             string
	ana, ben, vic      *client
	boltCSR            *client
}

const (
	acmeNumber     = "+1 512 555 0100"
	heatwaveNumber = "+1 512 555 0111"
	boltNumber     = "+1 737 555 0100"
)

func newWorld(t *testing.T) *world {
	e := newEnv(t)
	res, err := Bootstrap(context.Background(), e.store, "Acme Plumbing", "root", "rootpassword")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Bootstrap(context.Background(), e.store, "Again", "root2", "rootpassword"); err == nil {
		t.Fatal("a second bootstrap succeeded")
	}
	w := &world{e: e, acme: res.TenantID}
	w.admin = e.login(t, "root", "rootpassword")
	var bolt state.Tenant
	w.admin.must(t, "POST", "/api/v1/tenants", map[string]string{"name": "Bolt HVAC"}, 201, &bolt)
	w.bolt = bolt.ID
	for _, ten := range []string{w.acme, w.bolt} {
		var sr state.SettingsResult
		w.admin.must(t, "PUT", "/api/v1/tenants/"+ten+"/settings", map[string]any{"scl_enabled": true}, 200, &sr)
		if !sr.Settings.SCLEnabled || sr.Settings.ACWMinutes != 5 || sr.Settings.ColdLeadDays != 3 || sr.Settings.BannerDays != 14 {
			t.Fatalf("settings after enabling SCL: %+v", sr.Settings)
		}
	}
	var c state.Campaign
	w.admin.must(t, "POST", "/api/v1/tenants/"+w.acme+"/campaigns", map[string]string{"name": "Heat wave radio"}, 201, &c)
	w.heatwave = c.ID
	w.admin.must(t, "POST", "/api/v1/tenants/"+w.bolt+"/campaigns", map[string]string{"name": "Bolt mailer"}, 201, &c)
	w.boltCamp = c.ID
	w.admin.must(t, "POST", "/api/v1/tenants/"+w.acme+"/tracking-numbers", map[string]string{"number": acmeNumber}, 201, nil)
	w.admin.must(t, "POST", "/api/v1/tenants/"+w.acme+"/tracking-numbers", map[string]string{"number": heatwaveNumber, "campaignId": w.heatwave}, 201, nil)
	w.admin.must(t, "POST", "/api/v1/tenants/"+w.bolt+"/tracking-numbers", map[string]string{"number": boltNumber, "campaignId": w.boltCamp}, 201, nil)
	// A number of another account cannot be taken over.
	w.admin.fails(t, "POST", "/api/v1/tenants/"+w.bolt+"/tracking-numbers", map[string]string{"number": acmeNumber}, 409, "conflict", "")
	var r state.Reason
	w.admin.must(t, "POST", "/api/v1/tenants/"+w.acme+"/reasons", map[string]any{"name": "Price shopping", "isLead": true}, 201, &r)
	w.priceShopping = r.ID
	w.admin.must(t, "POST", "/api/v1/tenants/"+w.acme+"/reasons", map[string]any{"name": "Scheduling conflict", "isLead": true}, 201, &r)
	w.scheduling = r.ID
	w.admin.must(t, "POST", "/api/v1/tenants/"+w.acme+"/reasons", map[string]any{"name": "Renter", "isLead": false}, 201, &r)
	w.renter = r.ID
	for _, u := range []struct{ name, role, ext, tenant string }{
		{"ana", "CSR", "201", w.acme}, {"ben", "CSR", "202", w.acme}, {"vic", "Viewer", "", w.acme}, {"bea", "CSR", "301", w.bolt},
	} {
		w.admin.must(t, "POST", "/api/v1/tenants/"+u.tenant+"/users", map[string]any{"username": u.name, "password": u.name + "-password",
			"displayName": strings.ToUpper(u.name[:1]) + u.name[1:], "role": u.role, "extension": u.ext}, 201, nil)
	}
	w.ana = e.login(t, "ana", "ana-password")
	w.ben = e.login(t, "ben", "ben-password")
	w.vic = e.login(t, "vic", "vic-password")
	w.boltCSR = e.login(t, "bea", "bea-password")
	return w
}

func (w *world) leads(t *testing.T, c *client, query string) []leadView {
	t.Helper()
	var p leadPage
	c.must(t, "GET", "/api/v1/leads?"+query, nil, 200, &p)
	return p.Items
}

// acwAndReview lets the ACW window pass and runs the leader's review.
func (w *world) acwAndReview(t *testing.T) {
	t.Helper()
	w.e.clk.Advance(5*time.Minute + time.Second)
	if _, err := w.e.sched.ReviewDue(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestSeedUseCases(t *testing.T) {
	w := newWorld(t)
	e := w.e
	acme := url.QueryEscape(w.acme)

	t.Run("price shopper is flagged within minutes of ACW and called back", func(t *testing.T) {
		var cust customerView
		w.ana.must(t, "POST", "/api/v1/tenants/"+w.acme+"/customers", map[string]any{"name": "Jane Roe", "phones": []string{"(512) 555-0199"}}, 201, &cust)
		w.ana.must(t, "POST", "/api/v1/customers/"+cust.ID+"/locations", map[string]any{"address": "1 Main St, Austin TX", "zone": "North"}, 201, nil)
		start := e.clk.Now().Add(-4 * time.Minute)
		res := e.ingest(t, "", callSpec{id: "call-price", site: "s1", caller: "+15125550199", dialled: acmeNumber, agent: "201", queue: "Service",
			outcome: reboundv1.Outcome_OUTCOME_ANSWERED, start: start, wait: 10 * time.Second, talk: 3 * time.Minute,
			transcript: []*reboundv1.TranscriptSegment{{Channel: reboundv1.Channel_CHANNEL_CALLER, StartMs: 1000, EndMs: 4000, Text: "how much to install a 50 gallon water heater"}}})
		if res.TenantID != w.acme || !res.ACWOpen {
			t.Fatalf("ingest: %+v", res)
		}
		// During ACW the CSR classifies the call.
		var cv callView
		w.ana.must(t, "PUT", "/api/v1/calls/call-price/classification", map[string]any{"type": "Unbooked", "reasonId": w.priceShopping, "notes": "wants a quote for a 50 gal water heater, will think about it"}, 200, &cv)
		if !cv.ACWOpen || cv.Classification.Reason != "Price shopping" || cv.Customer != "Jane Roe" {
			t.Fatalf("call after classification: %+v", cv)
		}
		w.ana.fails(t, "PUT", "/api/v1/calls/call-price/classification", map[string]any{"type": "Maybe"}, 400, "invalid", "type")
		// Before the window closes nothing is reviewed.
		if n, _ := e.sched.ReviewDue(context.Background()); n != 0 {
			t.Fatalf("%d calls reviewed before ACW ended", n)
		}
		w.acwAndReview(t)
		open := w.leads(t, w.ana, "tab=open&account="+acme)
		if len(open) != 1 || open[0].CallID != "call-price" || open[0].Status != state.LeadNew || open[0].Campaign != "" || open[0].Reason != "Price shopping" {
			t.Fatalf("open tab: %+v", open)
		}
		lead := open[0]
		if lead.Customer != "Jane Roe" || lead.AgentName != "Ana" || !strings.Contains(lead.Summary, "water heater") {
			t.Fatalf("lead row: %+v", lead)
		}
		var detail leadView
		w.ana.must(t, "GET", "/api/v1/leads/"+lead.ID, nil, 200, &detail)
		if detail.CustomerBlock == nil || detail.CustomerBlock.Zone != "North" || *detail.OriginalNotes == "" ||
			len(detail.Transcript.Segments) != 1 || len(detail.Signals) == 0 {
			t.Fatalf("detail: %+v", detail)
		}
		// The reviewer said what it used: never a constant, never silent.
		if !strings.Contains(detail.Signals[len(detail.Signals)-1].Text, "classification rules") {
			t.Fatalf("signals do not say the rules decided: %+v", detail.Signals)
		}
		// Call Customer: status changes and the dial goes to the site agent.
		var called struct {
			Lead leadView   `json:"lead"`
			Dial dialResult `json:"dial"`
		}
		w.ana.must(t, "POST", "/api/v1/leads/"+lead.ID+"/call", nil, 202, &called)
		if called.Lead.Status != state.LeadCallbackAttempt || called.Lead.Tab != state.TabOpen || !called.Dial.Sent {
			t.Fatalf("call customer: %+v", called)
		}
		d := e.dials.sent[len(e.dials.sent)-1]
		if d.site != "s1" || d.cmd.GetDial().GetCsrExtension() != "201" || d.cmd.GetDial().GetCustomerNumber() != "5125550199" || d.cmd.GetDial().GetLeadId() != lead.ID {
			t.Fatalf("dial command: %v %v", d.site, d.cmd)
		}
		// The customer sees the business calling back, not a bare number.
		if d.cmd.GetDial().GetCallerName() != "Acme Plumbing" {
			t.Fatalf("dial caller name %q, want the account's name", d.cmd.GetDial().GetCallerName())
		}
		// The agent reports the result later; it lands on the lead's audit trail.
		if err := e.api.DialResult(context.Background(), &reboundv1.CommandResult{CommandId: d.cmd.GetId(), Ok: true,
			DialOutcome: reboundv1.CommandResult_DIAL_OUTCOME_ANSWERED}); err != nil {
			t.Fatalf("dial result: %v", err)
		}
		// The customer books: Job booked by SCL, final.
		var job struct {
			Job         jobView            `json:"job"`
			ClosedLeads []state.ClosedLead `json:"closedLeads"`
		}
		w.ana.must(t, "POST", "/api/v1/tenants/"+w.acme+"/jobs", map[string]any{"customerId": cust.ID}, 201, &job)
		if len(job.ClosedLeads) != 1 || job.ClosedLeads[0].Status != state.LeadJobBookedSCL || job.Job.SourceLeadID != lead.ID {
			t.Fatalf("job: %+v", job)
		}
		w.ana.fails(t, "POST", "/api/v1/leads/"+lead.ID+"/status", map[string]string{"status": state.LeadNew}, 409, "conflict", "")
		var audit struct {
			Items []struct{ Action, Detail, ActorName string }
		}
		w.ana.must(t, "GET", "/api/v1/leads/"+lead.ID+"/audit", nil, 200, &audit)
		var trail []string
		for _, a := range audit.Items {
			trail = append(trail, a.Action+"|"+a.ActorName)
		}
		want := "lead.create|scheduler lead.call|Ana lead.dial_result|system lead.status|Ana"
		if strings.Join(trail, " ") != want || !strings.HasSuffix(audit.Items[2].Detail, ": answered") {
			t.Fatalf("audit trail %v, want %s", trail, want)
		}
	})

	t.Run("scheduling conflict: transcript shows the time constraint", func(t *testing.T) {
		e.ingest(t, "", callSpec{id: "call-drain", site: "s1", caller: "5125550222", dialled: acmeNumber, agent: "202",
			outcome: reboundv1.Outcome_OUTCOME_ANSWERED, start: e.clk.Now().Add(-3 * time.Minute), talk: 2 * time.Minute,
			transcript: []*reboundv1.TranscriptSegment{
				{Channel: reboundv1.Channel_CHANNEL_CALLER, StartMs: 0, EndMs: 3000, Text: "the drain is backing up again"},
				{Channel: reboundv1.Channel_CHANNEL_AGENT, StartMs: 3000, EndMs: 6000, Text: "we have Thursday morning"},
				{Channel: reboundv1.Channel_CHANNEL_CALLER, StartMs: 6000, EndMs: 9000, Text: "I only can do evenings after six"},
			}})
		w.ben.must(t, "PUT", "/api/v1/calls/call-drain/classification", map[string]any{"type": "Unbooked", "reasonId": w.scheduling, "notes": "recurring drain issue, no slot fit"}, 200, nil)
		w.acwAndReview(t)
		ls := w.leads(t, w.ben, "account="+acme+"&reason="+w.scheduling)
		if len(ls) != 1 || ls[0].CallID != "call-drain" {
			t.Fatalf("reason filter: %+v", ls)
		}
		code, body := w.ben.do(t, "GET", "/api/v1/calls/call-drain/transcript?format=txt", nil)
		if code != 200 || !strings.Contains(string(body), "caller: I only can do evenings after six") || !strings.Contains(string(body), "[00:06.000]") {
			t.Fatalf("transcript download %d: %s", code, body)
		}
		var note noteView
		w.ben.must(t, "POST", "/api/v1/leads/"+ls[0].ID+"/notes", map[string]string{"text": "offered Tue 6:30pm or Thu 7pm"}, 201, &note)
		if note.Author != "Ben" || note.At.IsZero() {
			t.Fatalf("note: %+v", note)
		}
		// The caller is unknown: there is no customer record to copy to.
		w.ben.fails(t, "POST", "/api/v1/leads/"+ls[0].ID+"/notes/"+note.ID+"/copy", map[string]string{"target": "customer"}, 409, "conflict", "")
		w.ben.must(t, "POST", "/api/v1/leads/"+ls[0].ID+"/call", map[string]string{}, 202, nil)
	})

	t.Run("campaign surge filtered by account and campaign", func(t *testing.T) {
		for i := 0; i < 6; i++ {
			e.ingest(t, "", callSpec{id: fmt.Sprintf("surge-%d", i), site: "s1", caller: fmt.Sprintf("51255510%02d", i), dialled: heatwaveNumber,
				agent: "201", outcome: reboundv1.Outcome_OUTCOME_ANSWERED, start: e.clk.Now().Add(-2 * time.Minute), talk: 90 * time.Second})
		}
		e.ingest(t, "", callSpec{id: "plain-1", site: "s1", caller: "5125552000", dialled: acmeNumber, agent: "202",
			outcome: reboundv1.Outcome_OUTCOME_ANSWERED, start: e.clk.Now().Add(-2 * time.Minute), talk: 90 * time.Second})
		e.ingest(t, "", callSpec{id: "bolt-1", site: "s2", caller: "7375551000", dialled: boltNumber, agent: "301",
			outcome: reboundv1.Outcome_OUTCOME_ANSWERED, start: e.clk.Now().Add(-2 * time.Minute), talk: 90 * time.Second})
		// A short call without classification defaults to Excused and is not flagged.
		e.ingest(t, "", callSpec{id: "short-1", site: "s1", caller: "5125552001", dialled: heatwaveNumber, agent: "202",
			outcome: reboundv1.Outcome_OUTCOME_ANSWERED, start: e.clk.Now().Add(-2 * time.Minute), talk: 40 * time.Second})
		w.acwAndReview(t)
		var short callView
		w.ana.must(t, "GET", "/api/v1/calls/short-1", nil, 200, &short)
		if short.Classification.Type != state.TypeExcused || !short.Classification.Default || short.LeadID != "" {
			t.Fatalf("short unclassified call: %+v", short)
		}
		w.ana.fails(t, "GET", "/api/v1/leads?campaign="+w.heatwave, nil, 400, "account_required", "account")
		surge := w.leads(t, w.ana, "account="+acme+"&campaign="+w.heatwave+"&limit=4")
		if len(surge) != 4 {
			t.Fatalf("first page: %d", len(surge))
		}
		var p leadPage
		w.ana.must(t, "GET", "/api/v1/leads?account="+acme+"&campaign="+w.heatwave+"&limit=4", nil, 200, &p)
		var p2 leadPage
		w.ana.must(t, "GET", "/api/v1/leads?account="+acme+"&campaign="+w.heatwave+"&limit=4&cursor="+p.NextCursor, nil, 200, &p2)
		all := append(p.Items, p2.Items...)
		seen := map[string]bool{}
		for _, l := range all {
			if l.Campaign != "Heat wave radio" || l.TenantID != w.acme || l.Type != state.TypeUnbooked || seen[l.ID] {
				t.Fatalf("surge row %+v", l)
			}
			seen[l.ID] = true
		}
		if len(all) != 6 || p2.NextCursor != "" {
			t.Fatalf("surge pages: %d rows, next %q", len(all), p2.NextCursor)
		}
		// Bob's account stays invisible to Acme, and the reverse.
		for _, l := range w.leads(t, w.ana, "") {
			if l.TenantID != w.acme {
				t.Fatalf("Acme CSR sees %s of %s", l.ID, l.TenantID)
			}
		}
		w.ana.fails(t, "GET", "/api/v1/leads?account="+w.bolt, nil, 404, "not_found", "account")
		bl := w.leads(t, w.boltCSR, "account="+w.bolt+"&campaign="+w.boltCamp)
		if len(bl) != 1 || bl[0].CallID != "bolt-1" {
			t.Fatalf("bolt leads: %+v", bl)
		}
		w.boltCSR.fails(t, "GET", "/api/v1/leads/"+surge[0].ID, nil, 404, "not_found", "")
		// Agent and status filters combine with the account.
		ag := w.leads(t, w.ana, "account="+acme+"&agent=202&status=New")
		if len(ag) != 1 || ag[0].CallID != "plain-1" {
			t.Fatalf("agent filter: %+v", ag)
		}
	})

	t.Run("renter is marked Reviewed - not a lead", func(t *testing.T) {
		e.ingest(t, "", callSpec{id: "call-renter", site: "s1", caller: "5125553000", dialled: acmeNumber, agent: "201",
			outcome: reboundv1.Outcome_OUTCOME_ANSWERED, start: e.clk.Now().Add(-2 * time.Minute), talk: 2 * time.Minute})
		w.ana.must(t, "PUT", "/api/v1/calls/call-renter/classification", map[string]any{"type": "Unbooked", "notes": "tenant in an apartment, leaking tap"}, 200, nil)
		w.acwAndReview(t)
		ls := w.leads(t, w.ben, "account="+acme+"&notes=apartment")
		if len(ls) != 1 {
			t.Fatalf("notes filter: %+v", ls)
		}
		w.ben.fails(t, "POST", "/api/v1/leads/"+ls[0].ID+"/dismiss", map[string]string{"reason": "later"}, 400, "invalid", "reason")
		var lv leadView
		w.ben.must(t, "POST", "/api/v1/leads/"+ls[0].ID+"/dismiss", map[string]string{"reason": "not_a_lead"}, 200, &lv)
		if lv.Status != state.LeadReviewedNotLead || lv.Tab != state.TabDone {
			t.Fatalf("dismissed: %+v", lv)
		}
		done := w.leads(t, w.ben, "tab=done&account="+acme+"&status="+url.QueryEscape(state.LeadReviewedNotLead))
		if len(done) != 1 || done[0].ID != ls[0].ID {
			t.Fatalf("done tab: %+v", done)
		}
		for _, l := range w.leads(t, w.ben, "account="+acme) {
			if l.ID == ls[0].ID {
				t.Fatal("dismissed lead still in Open")
			}
		}
	})

	t.Run("any CSR with Edit SCL picks up another's lead; Viewer cannot", func(t *testing.T) {
		ls := w.leads(t, w.ben, "account="+acme+"&agent=201&status=New")
		if len(ls) == 0 {
			t.Fatal("no lead of Ana's calls")
		}
		w.vic.must(t, "GET", "/api/v1/leads/"+ls[0].ID, nil, 200, nil)
		w.vic.fails(t, "POST", "/api/v1/leads/"+ls[0].ID+"/status", map[string]string{"status": state.LeadNotAbleToSave}, 403, "forbidden", "")
		w.boltCSR.fails(t, "POST", "/api/v1/leads/"+ls[0].ID+"/status", map[string]string{"status": state.LeadNotAbleToSave}, 404, "not_found", "")
		w.ben.must(t, "POST", "/api/v1/leads/"+ls[0].ID+"/notes", map[string]string{"text": "Ana is out; I'm calling back"}, 201, nil)
		var called struct {
			Lead leadView   `json:"lead"`
			Dial dialResult `json:"dial"`
		}
		w.ben.must(t, "POST", "/api/v1/leads/"+ls[0].ID+"/call", nil, 202, &called)
		if d := e.dials.sent[len(e.dials.sent)-1]; d.cmd.GetDial().GetCsrExtension() != "202" {
			t.Fatalf("Ben's callback rang extension %s", d.cmd.GetDial().GetCsrExtension())
		}
		w.ben.fails(t, "POST", "/api/v1/leads/"+ls[0].ID+"/status", map[string]string{"status": state.LeadJobBookedSCL}, 400, "invalid", "status")
		w.ben.must(t, "POST", "/api/v1/leads/"+ls[0].ID+"/status", map[string]string{"status": state.LeadNotAbleToSave}, 200, nil)
	})

	t.Run("repeat caller auto-resolves an abandoned call", func(t *testing.T) {
		res := e.ingest(t, "", callSpec{id: "call-abandon", site: "s1", caller: "5125554000", dialled: heatwaveNumber, queue: "Service",
			outcome: reboundv1.Outcome_OUTCOME_ABANDONED, start: e.clk.Now().Add(-time.Minute), wait: 45 * time.Second})
		vm := e.ingest(t, "", callSpec{id: "call-vm", site: "s1", caller: "5125554001", dialled: acmeNumber,
			outcome: reboundv1.Outcome_OUTCOME_VOICEMAIL, start: e.clk.Now().Add(-time.Minute), wait: 20 * time.Second})
		fw := e.ingest(t, "", callSpec{id: "call-fwd", site: "s1", caller: "5125554002", dialled: acmeNumber,
			outcome: reboundv1.Outcome_OUTCOME_FORWARDED, start: e.clk.Now().Add(-time.Minute), wait: 20 * time.Second})
		if res.AbandonedID == "" || vm.AbandonedID != "" || fw.AbandonedID != "" {
			t.Fatalf("abandoned %+v voicemail %+v forward %+v", res, vm, fw)
		}
		var p abPage
		w.ana.must(t, "GET", "/api/v1/abandoned?account="+acme+"&queue=Service&campaign="+w.heatwave+"&duration_min_seconds=30", nil, 200, &p)
		if len(p.Items) != 1 || p.Items[0].Status != state.AbNew || p.Items[0].Campaign != "Heat wave radio" {
			t.Fatalf("abandoned open: %+v", p.Items)
		}
		w.vic.fails(t, "GET", "/api/v1/abandoned", nil, 403, "forbidden", "")
		// A 20 s answered call is not enough; 45 s is.
		e.clk.Advance(10 * time.Minute)
		e.ingest(t, "", callSpec{id: "call-back-short", site: "s1", caller: "+1 512 555 4000", dialled: acmeNumber, agent: "202",
			outcome: reboundv1.Outcome_OUTCOME_ANSWERED, start: e.clk.Now().Add(-time.Minute), talk: 20 * time.Second})
		var ab abandonedView
		w.ana.must(t, "GET", "/api/v1/abandoned/"+res.AbandonedID, nil, 200, &ab)
		if ab.Status != state.AbNew {
			t.Fatalf("resolved by a 20 s call: %+v", ab)
		}
		e.ingest(t, "", callSpec{id: "call-back-long", site: "s1", caller: "5125554000", dialled: acmeNumber, agent: "202",
			outcome: reboundv1.Outcome_OUTCOME_ANSWERED, start: e.clk.Now().Add(-time.Minute), talk: 45 * time.Second})
		w.ana.must(t, "GET", "/api/v1/abandoned/"+res.AbandonedID, nil, 200, &ab)
		if ab.Status != state.AbAutoResolved || ab.Tab != state.TabDone || ab.ResolvedByCall != "call-back-long" {
			t.Fatalf("not auto-resolved: %+v", ab)
		}
		// Dismissed is kept apart from Resolved.
		res2 := e.ingest(t, "", callSpec{id: "call-abandon-2", site: "s1", caller: "5125554999", dialled: acmeNumber,
			outcome: reboundv1.Outcome_OUTCOME_ABANDONED, start: e.clk.Now().Add(-time.Minute), wait: 5 * time.Second})
		w.ana.must(t, "POST", "/api/v1/abandoned/"+res2.AbandonedID+"/call", nil, 202, nil)
		w.ana.must(t, "POST", "/api/v1/abandoned/"+res2.AbandonedID+"/status", map[string]string{"status": state.AbFollowUp}, 200, nil)
		w.ana.must(t, "POST", "/api/v1/abandoned/"+res2.AbandonedID+"/dismiss", nil, 200, &ab)
		if ab.Status != state.AbDismissed || ab.Tab != state.TabDone {
			t.Fatalf("dismissed abandoned: %+v", ab)
		}
		w.ana.must(t, "GET", "/api/v1/abandoned?tab=done&account="+acme+"&status=Resolved", nil, 200, &p)
		if len(p.Items) != 0 {
			t.Fatalf("dismissed counted as resolved: %+v", p.Items)
		}
	})

	t.Run("job booked elsewhere through an integration token", func(t *testing.T) {
		e.ingest(t, "", callSpec{id: "call-else", site: "s1", caller: "5125555000", dialled: acmeNumber, agent: "201",
			outcome: reboundv1.Outcome_OUTCOME_ANSWERED, start: e.clk.Now().Add(-2 * time.Minute), talk: 2 * time.Minute})
		w.acwAndReview(t)
		// The booking banner finds the lead for that phone.
		var banner struct {
			Lead *leadView `json:"lead"`
		}
		w.ana.must(t, "GET", "/api/v1/tenants/"+w.acme+"/booking-banner?phone=%2B15125555000", nil, 200, &banner)
		if banner.Lead == nil || banner.Lead.CallID != "call-else" {
			t.Fatalf("banner: %+v", banner)
		}
		var tok tokenView
		w.ana.must(t, "POST", "/api/v1/tokens", map[string]string{"name": "fsm"}, 201, &tok)
		fsm := e.bearer(tok.Token)
		var job struct {
			ClosedLeads []state.ClosedLead `json:"closedLeads"`
		}
		fsm.must(t, "POST", "/api/v1/tenants/"+w.acme+"/jobs", map[string]any{"phone": "512-555-5000", "externalId": "FSM-1"}, 201, &job)
		if len(job.ClosedLeads) != 1 || job.ClosedLeads[0].Status != state.LeadJobBookedElsewhr {
			t.Fatalf("job: %+v", job)
		}
		w.ana.must(t, "GET", "/api/v1/tenants/"+w.acme+"/booking-banner?phone=5125555000", nil, 200, &banner)
		if banner.Lead != nil {
			t.Fatalf("banner after booking: %+v", banner.Lead)
		}
		w.ana.must(t, "DELETE", "/api/v1/tokens/"+tok.ID, nil, 204, nil)
		fsm.fails(t, "GET", "/api/v1/me", nil, 401, "unauthenticated", "")
	})

	t.Run("leads go cold after cold_lead_days without activity; banner window", func(t *testing.T) {
		open := w.leads(t, w.ana, "account="+acme)
		if len(open) == 0 {
			t.Fatal("no open leads")
		}
		e.clk.Advance(3*24*time.Hour + time.Hour)
		w.ana = e.login(t, "ana", "ana-password") // the 12 h session expired meanwhile
		if n := len(w.leads(t, w.ana, "account="+acme)); n != 0 {
			t.Fatalf("%d leads still open after 3 days", n)
		}
		cold := w.leads(t, w.ana, "tab=cold&account="+acme)
		if len(cold) != len(open) {
			t.Fatalf("cold %d, open before %d", len(cold), len(open))
		}
		// A note is activity: back to Open.
		w.ana.must(t, "POST", "/api/v1/leads/"+cold[0].ID+"/notes", map[string]string{"text": "still interested"}, 201, nil)
		if n := len(w.leads(t, w.ana, "account="+acme)); n != 1 {
			t.Fatalf("open after note: %d", n)
		}
		var banner struct {
			Lead *leadView `json:"lead"`
		}
		w.ana.must(t, "GET", "/api/v1/tenants/"+w.acme+"/booking-banner?phone="+url.QueryEscape(cold[0].Phone), nil, 200, &banner)
		if banner.Lead == nil {
			t.Fatal("no banner for a cold lead within 14 days")
		}
		e.clk.Advance(11 * 24 * time.Hour)
		w.ana = e.login(t, "ana", "ana-password")
		w.ana.must(t, "GET", "/api/v1/tenants/"+w.acme+"/booking-banner?phone="+url.QueryEscape(cold[0].Phone), nil, 200, &banner)
		if banner.Lead != nil {
			t.Fatal("banner for a lead older than banner_days")
		}
	})

	t.Run("replaying the command log rebuilds the same state", e.assertReplay)
}

func TestSCLDisabledReviewsNothing(t *testing.T) {
	w := newWorld(t)
	w.admin.must(t, "PUT", "/api/v1/tenants/"+w.acme+"/settings", map[string]any{"scl_enabled": false}, 200, nil)
	w.e.ingest(t, "", callSpec{id: "c", site: "s1", caller: "5125556000", dialled: acmeNumber, agent: "201",
		outcome: reboundv1.Outcome_OUTCOME_ANSWERED, start: w.e.clk.Now(), talk: 5 * time.Minute})
	w.e.clk.Advance(10 * time.Minute)
	w.acwAndReview(t)
	var cv callView
	w.ana.must(t, "GET", "/api/v1/calls/c", nil, 200, &cv)
	if cv.LeadID != "" || cv.ReviewSkipped != "scl_disabled" || cv.ACWOpen {
		t.Fatalf("call with SCL off: %+v", cv)
	}
}

func TestSettingsValidationAndPermissions(t *testing.T) {
	w := newWorld(t)
	path := "/api/v1/tenants/" + w.acme + "/settings"
	w.admin.fails(t, "PUT", path, map[string]any{"acw_minutes": -1}, 400, "invalid", "acw_minutes")
	w.admin.fails(t, "PUT", path, map[string]any{"timezone": "Mars/Base"}, 400, "invalid", "timezone")
	w.admin.fails(t, "PUT", path, map[string]any{"acw_mins": 3}, 400, "invalid", "acw_mins")
	var sr state.SettingsResult
	w.admin.must(t, "PUT", path, map[string]any{"acw_minutes": 90, "timezone": "America/Chicago"}, 200, &sr)
	if len(sr.Warnings) != 1 || sr.Warnings[0].Field != "acw_minutes" {
		t.Fatalf("warnings above 60: %+v", sr.Warnings)
	}
	w.admin.must(t, "PUT", path, map[string]any{"acw_minutes": 2}, 200, &sr)
	if len(sr.Warnings) != 1 {
		t.Fatalf("warnings below 5: %+v", sr.Warnings)
	}
	w.ana.fails(t, "PUT", path, map[string]any{"scl_enabled": false}, 403, "forbidden", "")
	var audit struct {
		Items []struct{ Action, Detail string }
	}
	w.admin.must(t, "GET", "/api/v1/tenants/"+w.acme+"/audit", nil, 200, &audit)
	found := false
	for _, a := range audit.Items {
		found = found || (a.Action == "settings.update" && strings.Contains(a.Detail, "acw_minutes: 90 -> 2"))
	}
	if !found {
		t.Fatalf("settings change not audited: %+v", audit.Items)
	}
}

func TestSessionCSRFAndLogout(t *testing.T) {
	w := newWorld(t)
	c := w.ana
	tok := c.csrf
	c.csrf = ""
	c.fails(t, "POST", "/api/v1/tokens", map[string]string{"name": "x"}, 403, "csrf", "")
	c.csrf = "wrong"
	c.fails(t, "POST", "/api/v1/tokens", map[string]string{"name": "x"}, 403, "csrf", "")
	c.csrf = tok
	c.must(t, "GET", "/api/v1/me", nil, 200, nil)
	w.e.login(t, "ana", "ana-password")
	bad := &client{e: w.e, hc: http.DefaultClient}
	bad.fails(t, "POST", "/api/v1/auth/login", map[string]string{"username": "ana", "password": "nope"}, 401, "unauthenticated", "")
	bad.fails(t, "POST", "/api/v1/auth/login", map[string]string{"username": "nobody", "password": "nope"}, 401, "unauthenticated", "")
	c.fails(t, "PUT", "/api/v1/me/password", map[string]string{"current": "nope", "new": "ana-new-password"}, 400, "invalid", "current")
	c.fails(t, "PUT", "/api/v1/me/password", map[string]string{"current": "ana-password", "new": "short"}, 400, "invalid", "new")
	c.must(t, "PUT", "/api/v1/me/password", map[string]string{"current": "ana-password", "new": "ana-new-password"}, 204, nil)
	bad.fails(t, "POST", "/api/v1/auth/login", map[string]string{"username": "ana", "password": "ana-password"}, 401, "unauthenticated", "")
	w.e.login(t, "ana", "ana-new-password")
	c.must(t, "POST", "/api/v1/auth/logout", nil, 204, nil)
	c.fails(t, "GET", "/api/v1/me", nil, 401, "unauthenticated", "")
	// Password guessing is throttled per user name: the fifth failure locks it out, even
	// for the right password, until the lock passes.
	for i := 0; i < 5; i++ {
		bad.fails(t, "POST", "/api/v1/auth/login", map[string]string{"username": "vic", "password": "guess"}, 401, "unauthenticated", "")
	}
	bad.fails(t, "POST", "/api/v1/auth/login", map[string]string{"username": "VIC", "password": "vic-password"}, 429, "too_many_attempts", "")
	w.e.clk.Advance(61 * time.Second)
	w.e.login(t, "vic", "vic-password")
	// Sessions expire by the hub clock.
	d := w.e.login(t, "ben", "ben-password")
	w.e.clk.Advance(13 * time.Hour)
	d.fails(t, "GET", "/api/v1/me", nil, 401, "unauthenticated", "")
}

func TestRecordingRange(t *testing.T) {
	w := newWorld(t)
	w.e.ingest(t, "", callSpec{id: "rec", site: "s1", caller: "5125557000", dialled: acmeNumber, agent: "201", recording: "rec-1.wav",
		outcome: reboundv1.Outcome_OUTCOME_ANSWERED, start: w.e.clk.Now(), talk: time.Minute})
	req, _ := http.NewRequest("GET", w.e.srv.URL+"/api/v1/calls/rec/recording", nil)
	req.Header.Set("Range", "bytes=4-11")
	resp, err := w.ana.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 206 || string(b) != "dataRIFF" || resp.Header.Get("Content-Range") != "bytes 4-11/512" {
		t.Fatalf("range: %d %q %s", resp.StatusCode, b, resp.Header.Get("Content-Range"))
	}
}

func TestAmbiguousCustomerChangeAndCopyNote(t *testing.T) {
	w := newWorld(t)
	e := w.e
	var a, b customerView
	w.ana.must(t, "POST", "/api/v1/tenants/"+w.acme+"/customers", map[string]any{"name": "Sam Lee", "phones": []string{"5125558000"}}, 201, &a)
	w.ana.must(t, "POST", "/api/v1/tenants/"+w.acme+"/customers", map[string]any{"name": "Sam Lee Jr", "phones": []string{"+1 512 555 8000"}}, 201, &b)
	var loc state.Location
	w.ana.must(t, "POST", "/api/v1/customers/"+b.ID+"/locations", map[string]any{"address": "9 Elm St", "zone": "East"}, 201, &loc)
	e.ingest(t, "", callSpec{id: "amb", site: "s1", caller: "5125558000", dialled: acmeNumber, agent: "201",
		outcome: reboundv1.Outcome_OUTCOME_ANSWERED, start: e.clk.Now().Add(-3 * time.Minute), talk: 2 * time.Minute})
	// A later revision brings the transcript; the workflow state stays.
	res := e.ingest(t, "", callSpec{id: "amb", revision: 2, site: "s1", caller: "5125558000", dialled: acmeNumber, agent: "201",
		outcome: reboundv1.Outcome_OUTCOME_ANSWERED, start: e.clk.Now().Add(-3 * time.Minute), talk: 2 * time.Minute,
		transcript: []*reboundv1.TranscriptSegment{{Channel: reboundv1.Channel_CHANNEL_CALLER, StartMs: 0, EndMs: 900, Text: "hello"}}})
	if !res.Revised {
		t.Fatalf("revision 2: %+v", res)
	}
	w.acwAndReview(t)
	ls := w.leads(t, w.ana, "account="+url.QueryEscape(w.acme))
	if len(ls) != 1 {
		t.Fatalf("%d leads", len(ls))
	}
	var d leadView
	w.ana.must(t, "GET", "/api/v1/leads/"+ls[0].ID, nil, 200, &d)
	if !d.CustomerBlock.PossibleIncorrectMatch || len(d.CustomerBlock.Candidates) != 2 || d.Transcript.Status != "done" || len(d.Transcript.Segments) != 1 {
		t.Fatalf("ambiguous match detail: %+v %+v", d.CustomerBlock, d.Transcript)
	}
	w.ana.fails(t, "POST", "/api/v1/leads/"+ls[0].ID+"/customer", map[string]string{"customerId": b.ID, "locationId": "lo_nope"}, 400, "invalid", "locationId")
	w.ana.must(t, "POST", "/api/v1/leads/"+ls[0].ID+"/customer", map[string]string{"customerId": b.ID}, 200, &d)
	if d.CustomerBlock.PossibleIncorrectMatch || d.CustomerBlock.CustomerName != "Sam Lee Jr" || d.CustomerBlock.Zone != "East" {
		t.Fatalf("after change customer: %+v", d.CustomerBlock)
	}
	var note noteView
	w.ana.must(t, "POST", "/api/v1/leads/"+ls[0].ID+"/notes", map[string]string{"text": "gate code 4321"}, 201, &note)
	w.ana.must(t, "POST", "/api/v1/leads/"+ls[0].ID+"/notes/"+note.ID+"/copy", map[string]string{"target": "location"}, 200, nil)
	w.ana.must(t, "POST", "/api/v1/leads/"+ls[0].ID+"/notes/"+note.ID+"/copy", map[string]string{"target": "customer"}, 200, nil)
	var got customerView
	w.ana.must(t, "GET", "/api/v1/customers/"+b.ID, nil, 200, &got)
	if got.Notes != "gate code 4321" || got.Locations[0].Notes != "gate code 4321" {
		t.Fatalf("copied notes: %q / %q", got.Notes, got.Locations[0].Notes)
	}
	// Original CSR notes are read-only: there is no route that changes them, and the
	// lead keeps what the classification said.
	if d.OriginalNotes == nil {
		t.Fatal("no original notes field")
	}
}

func TestUnbookedAbandonedReport(t *testing.T) {
	w := newWorld(t)
	e := w.e
	w.admin.must(t, "PUT", "/api/v1/tenants/"+w.acme+"/settings", map[string]any{"timezone": "America/Chicago"}, 200, nil)
	// Monday 2026-06-15 09:00 in Chicago.
	e.ingest(t, "", callSpec{id: "u1", site: "s1", caller: "5125559001", dialled: heatwaveNumber, agent: "201",
		outcome: reboundv1.Outcome_OUTCOME_ANSWERED, start: e.clk.Now().Add(-4 * time.Minute), talk: 2 * time.Minute})
	e.ingest(t, "", callSpec{id: "u2", site: "s1", caller: "5125559002", name: "=HYPERLINK(1)", dialled: acmeNumber, agent: "202",
		outcome: reboundv1.Outcome_OUTCOME_ANSWERED, start: e.clk.Now().Add(-4 * time.Minute), talk: 2 * time.Minute})
	e.ingest(t, "", callSpec{id: "x1", site: "s1", caller: "5125559003", dialled: acmeNumber, agent: "202",
		outcome: reboundv1.Outcome_OUTCOME_ANSWERED, start: e.clk.Now().Add(-4 * time.Minute), talk: 20 * time.Second})
	e.ingest(t, "", callSpec{id: "a1", site: "s1", caller: "5125559004", dialled: heatwaveNumber,
		outcome: reboundv1.Outcome_OUTCOME_ABANDONED, start: e.clk.Now().Add(-4 * time.Minute), wait: 30 * time.Second})
	w.acwAndReview(t)
	ls := w.leads(t, w.ana, "account="+url.QueryEscape(w.acme)+"&campaign="+w.heatwave)
	if len(ls) != 1 {
		t.Fatalf("leads %+v", ls)
	}
	w.ana.must(t, "POST", "/api/v1/leads/"+ls[0].ID+"/call", nil, 202, nil)
	w.ana.must(t, "POST", "/api/v1/tenants/"+w.acme+"/jobs", map[string]any{"phone": "5125559001", "scheduledAt": "2026-06-20T15:00:00Z"}, 201, nil)
	var rep struct {
		Timezone   string            `json:"timezone"`
		Rows       []reportRowView   `json:"rows"`
		ByCampaign []reportGroupView `json:"byCampaign"`
		Totals     reportGroupView   `json:"totals"`
	}
	w.vic.must(t, "GET", "/api/v1/tenants/"+w.acme+"/reports/unbooked-abandoned?range=this_week", nil, 200, &rep)
	if rep.Timezone != "America/Chicago" || len(rep.Rows) != 3 || rep.Totals.Unbooked != 2 || rep.Totals.Abandoned != 1 || rep.Totals.BookedBySCL != 1 {
		t.Fatalf("report: %+v", rep)
	}
	if rep.Rows[0].CallDate != "2026-06-15" || rep.Rows[0].CallTime != "08:56:00" {
		t.Fatalf("local call time: %+v", rep.Rows[0])
	}
	var heat reportGroupView
	for _, g := range rep.ByCampaign {
		if g.Name == "Heat wave radio" {
			heat = g
		}
	}
	if heat.Unbooked != 1 || heat.Abandoned != 1 || heat.Conversion != 1 {
		t.Fatalf("heat wave campaign: %+v", heat)
	}
	w.vic.must(t, "GET", "/api/v1/tenants/"+w.acme+"/reports/unbooked-abandoned?range=last_week", nil, 200, &rep)
	if len(rep.Rows) != 0 {
		t.Fatalf("last week has %d rows", len(rep.Rows))
	}
	w.vic.must(t, "GET", "/api/v1/tenants/"+w.acme+"/reports/unbooked-abandoned?range=custom&from=2026-06-20&to=2026-06-20&date_type=job_scheduled", nil, 200, &rep)
	if len(rep.Rows) != 1 || rep.Rows[0].ID != "u1" {
		t.Fatalf("by job scheduled date: %+v", rep.Rows)
	}
	w.vic.fails(t, "GET", "/api/v1/tenants/"+w.acme+"/reports/unbooked-abandoned?range=custom&from=2026-06-20", nil, 400, "invalid", "to")
	code, body := w.vic.do(t, "GET", "/api/v1/tenants/"+w.acme+"/reports/unbooked-abandoned?range=today&format=csv", nil)
	lines := strings.Split(strings.TrimSpace(string(body)), "\n")
	if code != 200 || len(lines) != 4 || !strings.HasPrefix(lines[0], "ID,Call Date,Call Time,Call Type") || !strings.Contains(string(body), ",'=HYPERLINK(1),") {
		t.Fatalf("csv %d:\n%s", code, body)
	}
}

func TestNotificationPreferences(t *testing.T) {
	w := newWorld(t)
	var n notifyView
	w.ana.must(t, "GET", "/api/v1/me/notifications", nil, 200, &n)
	if !n.InApp || n.Email != "" || n.SMS != "" {
		t.Fatalf("defaults: %+v", n)
	}
	w.ana.fails(t, "PUT", "/api/v1/me/notifications", map[string]any{"inApp": true, "email": "not an address"}, 400, "invalid", "email")
	w.ana.fails(t, "PUT", "/api/v1/me/notifications", map[string]any{"inApp": true, "sms": "12"}, 400, "invalid", "sms")
	w.ana.must(t, "PUT", "/api/v1/me/notifications", map[string]any{"inApp": false, "email": "ana@example.com", "sms": "+1 (512) 555-0101"}, 200, &n)
	if n.InApp || n.Email != "ana@example.com" || n.SMS != "5125550101" {
		t.Fatalf("saved: %+v", n)
	}
	w.ana.must(t, "GET", "/api/v1/me/notifications", nil, 200, &n)
	if n.InApp || n.SMS != "5125550101" {
		t.Fatalf("read back: %+v", n)
	}
}

// An account admin cannot take over a person who also belongs to another account (or the
// network admin) by resetting their password or disabling them.
func TestUserAdminStaysInItsAccount(t *testing.T) {
	w := newWorld(t)
	w.admin.must(t, "POST", "/api/v1/tenants/"+w.acme+"/users", map[string]any{"username": "acme-admin", "password": "acme-admin-pw", "role": "Admin"}, 201, nil)
	acmeAdmin := w.e.login(t, "acme-admin", "acme-admin-pw")
	// bea works for Bolt; Bolt's admin also adds her to... nobody; Acme adds her too.
	var bea userView
	acmeAdmin.must(t, "POST", "/api/v1/tenants/"+w.acme+"/users", map[string]any{"username": "bea", "role": "Viewer"}, 201, &bea)
	acmeAdmin.fails(t, "PATCH", "/api/v1/tenants/"+w.acme+"/users/"+bea.ID, map[string]any{"password": "taken-over!"}, 403, "forbidden", "")
	acmeAdmin.fails(t, "PATCH", "/api/v1/tenants/"+w.acme+"/users/"+bea.ID, map[string]any{"disabled": true}, 403, "forbidden", "")
	acmeAdmin.must(t, "PATCH", "/api/v1/tenants/"+w.acme+"/users/"+bea.ID, map[string]any{"role": "CSR"}, 200, nil)
	var me meView
	w.admin.must(t, "GET", "/api/v1/me", nil, 200, &me)
	acmeAdmin.fails(t, "PATCH", "/api/v1/tenants/"+w.acme+"/users/"+me.User.ID, map[string]any{"password": "taken-over!"}, 403, "forbidden", "")
	w.e.login(t, "bea", "bea-password")
	w.e.login(t, "root", "rootpassword")
	// Users only in Acme are Acme's to manage.
	var ana userView
	w.admin.must(t, "GET", "/api/v1/me", nil, 200, nil)
	var list struct{ Items []userView }
	acmeAdmin.must(t, "GET", "/api/v1/tenants/"+w.acme+"/users", nil, 200, &list)
	for _, u := range list.Items {
		if u.Username == "ana" {
			ana = u
		}
	}
	acmeAdmin.must(t, "PATCH", "/api/v1/tenants/"+w.acme+"/users/"+ana.ID, map[string]any{"password": "reset-by-admin"}, 200, nil)
	w.e.login(t, "ana", "reset-by-admin")
}
