package api

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/reboundhq/rebound/hub/state"
	reboundv1 "github.com/reboundhq/rebound/proto/rebound/v1"
	"go.etcd.io/bbolt"
)

// tenantFixture holds one account's objects, each reachable by a route.
type tenantFixture struct {
	tenant, lead, note, abandoned, call, customer, location, job, site, reason, user, number string
}

// authzFixture is two accounts with the same objects, and one user per role in the first.
type authzFixture struct {
	e      *env
	own    tenantFixture
	other  tenantFixture
	tokens map[string]string // role -> bearer token of a user with that role in own
	tokIDs map[string]string // role -> that user's API token id
	otherT string            // token id of a user in the other account
}

// roles of the authz table, with the permissions each is given.
var authzRoles = map[string][]string{
	"Admin":    nil, // built in
	"Manager":  nil,
	"CSR":      nil,
	"Viewer":   nil,
	"Phone":    {state.PermPhone},
	"Settings": {state.PermSettings},
	"Features": {state.PermFeatures},
	"Nobody":   {},
}

func buildTenant(t testing.TB, e *env, tenant, prefix, number string) tenantFixture {
	f := tenantFixture{tenant: tenant, number: state.NormalizePhone(number)}
	var c state.Campaign
	e.command(t, state.CmdCampaignCreate, tenant, "root", state.NamedBody{Name: "Camp"}, &c)
	e.command(t, state.CmdTrackingPut, tenant, "root", state.TrackingNumber{Number: number, CampaignID: c.ID}, nil)
	var r state.Reason
	e.command(t, state.CmdReasonCreate, tenant, "root", state.ReasonBody{Name: "Price", IsLead: true}, &r)
	f.reason = r.ID
	var s state.Site
	e.command(t, state.CmdSiteCreate, tenant, "root", state.SiteBody{Name: "PBX", TokenHash: state.HashToken(prefix + "site")}, &s)
	f.site = s.ID
	name, phones := "Cust", []string{prefix + "5550199"}
	var cu state.Customer
	e.command(t, state.CmdCustomerCreate, tenant, "root", state.CustomerBody{Name: &name, Phones: &phones}, &cu)
	f.customer = cu.ID
	addr := "1 Main St"
	var lo state.Location
	e.command(t, state.CmdLocationCreate, tenant, "root", state.LocationBody{CustomerID: cu.ID, Address: &addr}, &lo)
	f.location = lo.ID
	now := e.clk.Now()
	// A call still in ACW (classifiable, with a recording) and one reviewed into a lead.
	f.call = prefix + "call-acw"
	e.ingest(t, "", callSpec{id: f.call, site: "s1", caller: prefix + "5550199", dialled: number, agent: "201", recording: "rec-1.wav",
		outcome: reboundv1.Outcome_OUTCOME_ANSWERED, start: now.Add(-2 * time.Minute), talk: time.Minute})
	e.ingest(t, "", callSpec{id: prefix + "call-lead", site: "s1", caller: prefix + "5550199", dialled: number, agent: "201",
		outcome: reboundv1.Outcome_OUTCOME_ANSWERED, start: now.Add(-20 * time.Minute), talk: 2 * time.Minute})
	var rr state.ReviewResult
	e.command(t, state.CmdCallReview, tenant, "scheduler", state.ReviewBody{CallID: prefix + "call-lead", Probability: 0.9, Flagged: true}, &rr)
	f.lead = rr.LeadID
	var ir state.ItemResult
	e.command(t, state.CmdLeadNote, tenant, "root", state.ItemBody{ID: f.lead, Text: "note"}, &ir)
	f.note = ir.Note.ID
	ab := e.ingest(t, "", callSpec{id: prefix + "call-ab", site: "s1", caller: prefix + "5550777", dialled: number,
		outcome: reboundv1.Outcome_OUTCOME_ABANDONED, start: now.Add(-time.Minute), wait: 30 * time.Second})
	f.abandoned = ab.AbandonedID
	var jr state.JobResult
	e.command(t, state.CmdJobCreate, tenant, "root", state.JobBody{Phone: prefix + "5550000"}, &jr)
	f.job = jr.Job.ID
	return f
}

func newAuthzFixture(t testing.TB) *authzFixture {
	e := newEnv(t)
	var br state.BootstrapResult
	e.command(t, state.CmdBootstrap, "", "", state.BootstrapBody{TenantName: "Own", Username: "root", PasswordHash: "x"}, &br)
	var other state.Tenant
	e.command(t, state.CmdTenantCreate, "", br.UserID, state.TenantBody{Name: "Other"}, &other)
	for _, ten := range []string{br.TenantID, other.ID} {
		on := true
		e.command(t, state.CmdSettingsUpdate, ten, "root", state.SettingsPatch{SCLEnabled: &on}, nil)
	}
	f := &authzFixture{e: e, tokens: map[string]string{}, tokIDs: map[string]string{}}
	f.own = buildTenant(t, e, br.TenantID, "512", "5125550100")
	f.other = buildTenant(t, e, other.ID, "737", "7375550100")
	for role, perms := range authzRoles {
		if perms != nil {
			e.command(t, state.CmdRolePut, br.TenantID, "root", state.RoleBody{Name: role, Permissions: perms}, nil)
		}
		ext := ""
		if role == "CSR" {
			ext = "201"
		}
		var u state.User
		e.command(t, state.CmdUserCreate, br.TenantID, "root", state.UserBody{Username: "user-" + strings.ToLower(role), PasswordHash: "x", Role: role, Extension: &ext}, &u)
		tok := "tok-" + role
		var at state.APIToken
		e.command(t, state.CmdTokenCreate, "", u.ID, state.TokenBody{Hash: state.HashToken(tok), Name: "t"}, &at)
		f.tokens[role], f.tokIDs[role] = tok, at.ID
	}
	var ou state.User
	e.command(t, state.CmdUserCreate, other.ID, "root", state.UserBody{Username: "other-admin", PasswordHash: "x", Role: "Admin"}, &ou)
	var ot state.APIToken
	e.command(t, state.CmdTokenCreate, "", ou.ID, state.TokenBody{Hash: state.HashToken("tok-other"), Name: "t"}, &ot)
	f.own.user = "" // set per role below
	f.other.user = ou.ID
	f.otherT = ot.ID
	return f
}

// authzCase is the expectation for one route: which permissions allow it (any of them),
// whether it is scoped to an account (other account -> 404), and a body to send.
type authzCase struct {
	perms  []string // nil: any signed-in user; []string{}: nobody in a tenant role
	scoped bool
	body   any
}

var (
	view    = []string{state.PermViewSCL, state.PermEditSCL}
	edit    = []string{state.PermEditSCL}
	ab      = []string{state.PermEditAbandoned}
	viewAb  = []string{state.PermViewSCL, state.PermEditSCL, state.PermEditAbandoned}
	editAb  = []string{state.PermEditSCL, state.PermEditAbandoned}
	phone   = []string{state.PermPhone}
	setting = []string{state.PermSettings}
	users   = []string{state.PermUsersAdmin}
	member  = []string{"member"}
)

var authzTable = map[string]authzCase{
	"POST /api/v1/auth/logout":                                  {perms: nil},
	"GET /api/v1/me":                                            {perms: nil},
	"PUT /api/v1/me/password":                                   {perms: nil, body: map[string]string{"current": "x", "new": "whatever long"}},
	"GET /api/v1/me/notifications":                              {perms: nil},
	"PUT /api/v1/me/notifications":                              {perms: nil, body: map[string]any{"inApp": true, "email": "a@example.com"}},
	"GET /api/v1/permissions":                                   {perms: nil},
	"GET /api/v1/tokens":                                        {perms: nil},
	"POST /api/v1/tokens":                                       {perms: nil, body: map[string]string{"name": "x"}},
	"DELETE /api/v1/tokens/{id}":                                {perms: nil, scoped: true},
	"GET /api/v1/tenants":                                       {perms: nil},
	"POST /api/v1/tenants":                                      {perms: []string{}, body: map[string]string{"name": "New"}},
	"GET /api/v1/tenants/{tenant}":                              {perms: member, scoped: true},
	"GET /api/v1/tenants/{tenant}/roles":                        {perms: users, scoped: true},
	"PUT /api/v1/tenants/{tenant}/roles/{name}":                 {perms: users, scoped: true, body: map[string]any{"permissions": []string{"scl.view"}}},
	"GET /api/v1/tenants/{tenant}/users":                        {perms: users, scoped: true},
	"POST /api/v1/tenants/{tenant}/users":                       {perms: users, scoped: true, body: map[string]string{"username": "newbie", "password": "longenough", "role": "CSR"}},
	"PATCH /api/v1/tenants/{tenant}/users/{id}":                 {perms: users, scoped: true, body: map[string]string{"role": "Viewer"}},
	"GET /api/v1/tenants/{tenant}/audit":                        {perms: []string{state.PermUsersAdmin, state.PermSettings}, scoped: true},
	"GET /api/v1/tenants/{tenant}/settings":                     {perms: member, scoped: true},
	"PUT /api/v1/tenants/{tenant}/settings":                     {perms: setting, scoped: true, body: map[string]int{"acw_minutes": 7}},
	"GET /api/v1/tenants/{tenant}/campaigns":                    {perms: member, scoped: true},
	"POST /api/v1/tenants/{tenant}/campaigns":                   {perms: phone, scoped: true, body: map[string]string{"name": "C2"}},
	"GET /api/v1/tenants/{tenant}/tracking-numbers":             {perms: member, scoped: true},
	"POST /api/v1/tenants/{tenant}/tracking-numbers":            {perms: phone, scoped: true, body: map[string]string{"number": "+1 999 555 0000"}},
	"DELETE /api/v1/tenants/{tenant}/tracking-numbers/{number}": {perms: phone, scoped: true},
	"GET /api/v1/tenants/{tenant}/queues":                       {perms: member, scoped: true},
	"POST /api/v1/tenants/{tenant}/queues":                      {perms: phone, scoped: true, body: map[string]string{"name": "Q"}},
	"GET /api/v1/tenants/{tenant}/sites":                        {perms: phone, scoped: true},
	"POST /api/v1/tenants/{tenant}/sites":                       {perms: phone, scoped: true, body: map[string]string{"name": "S2"}},
	"POST /api/v1/tenants/{tenant}/sites/{id}/token":            {perms: phone, scoped: true},
	"GET /api/v1/tenants/{tenant}/reasons":                      {perms: member, scoped: true},
	"POST /api/v1/tenants/{tenant}/reasons":                     {perms: setting, scoped: true, body: map[string]any{"name": "R2", "isLead": true}},
	"PUT /api/v1/tenants/{tenant}/reasons/{id}":                 {perms: setting, scoped: true, body: map[string]any{"name": "R3", "isLead": false}},
	"GET /api/v1/tenants/{tenant}/customers":                    {perms: viewAb, scoped: true},
	"POST /api/v1/tenants/{tenant}/customers":                   {perms: editAb, scoped: true, body: map[string]any{"name": "N"}},
	"GET /api/v1/customers/{id}":                                {perms: viewAb, scoped: true},
	"PATCH /api/v1/customers/{id}":                              {perms: editAb, scoped: true, body: map[string]any{"notes": "gate 1234"}},
	"POST /api/v1/customers/{id}/locations":                     {perms: editAb, scoped: true, body: map[string]any{"address": "2 Oak"}},
	"PATCH /api/v1/locations/{id}":                              {perms: editAb, scoped: true, body: map[string]any{"zone": "South"}},
	"POST /api/v1/tenants/{tenant}/jobs":                        {perms: editAb, scoped: true, body: map[string]any{"phone": "5125550123"}},
	"PATCH /api/v1/jobs/{id}":                                   {perms: editAb, scoped: true, body: map[string]any{"externalId": "E"}},
	"GET /api/v1/tenants/{tenant}/booking-banner":               {perms: view, scoped: true},
	"GET /api/v1/tenants/{tenant}/reports/unbooked-abandoned":   {perms: viewAb, scoped: true},
	"GET /api/v1/calls":                                         {perms: view, scoped: true},
	"GET /api/v1/calls/{id}":                                    {perms: view, scoped: true},
	"PUT /api/v1/calls/{id}/classification":                     {perms: edit, scoped: true, body: map[string]string{"type": "Unbooked"}},
	"GET /api/v1/calls/{id}/transcript":                         {perms: view, scoped: true},
	"GET /api/v1/calls/{id}/recording":                          {perms: view, scoped: true},
	"GET /api/v1/calls/{id}/audit":                              {perms: view, scoped: true},
	"GET /api/v1/leads":                                         {perms: view, scoped: true},
	"GET /api/v1/leads/{id}":                                    {perms: view, scoped: true},
	"POST /api/v1/leads/{id}/status":                            {perms: edit, scoped: true, body: map[string]string{"status": state.LeadNotAbleToSave}},
	"POST /api/v1/leads/{id}/dismiss":                           {perms: edit, scoped: true, body: map[string]string{"reason": "not_a_lead"}},
	"POST /api/v1/leads/{id}/notes":                             {perms: edit, scoped: true, body: map[string]string{"text": "n"}},
	"POST /api/v1/leads/{id}/notes/{noteId}/copy":               {perms: edit, scoped: true, body: map[string]string{"target": "customer"}},
	"POST /api/v1/leads/{id}/customer":                          {perms: edit, scoped: true, body: map[string]string{"customerId": "set-below"}},
	"POST /api/v1/leads/{id}/call":                              {perms: edit, scoped: true},
	"GET /api/v1/leads/{id}/audit":                              {perms: view, scoped: true},
	"GET /api/v1/abandoned":                                     {perms: ab, scoped: true},
	"GET /api/v1/abandoned/{id}":                                {perms: ab, scoped: true},
	"POST /api/v1/abandoned/{id}/status":                        {perms: ab, scoped: true, body: map[string]string{"status": state.AbFollowUp}},
	"POST /api/v1/abandoned/{id}/dismiss":                       {perms: ab, scoped: true},
	"POST /api/v1/abandoned/{id}/notes":                         {perms: ab, scoped: true, body: map[string]string{"text": "n"}},
	"POST /api/v1/abandoned/{id}/call":                          {perms: ab, scoped: true},
	"GET /api/v1/abandoned/{id}/audit":                          {perms: ab, scoped: true},
}

// path fills a route pattern with the objects of tf.
func (f *authzFixture) path(pattern string, tf tenantFixture, role string, other bool) string {
	id := ""
	switch {
	case strings.HasPrefix(pattern, "/api/v1/tokens/"):
		id = f.tokIDs[role]
		if other {
			id = f.otherT
		}
	case strings.HasPrefix(pattern, "/api/v1/leads/"):
		id = tf.lead
	case strings.HasPrefix(pattern, "/api/v1/abandoned/"):
		id = tf.abandoned
	case strings.HasPrefix(pattern, "/api/v1/calls/"):
		id = tf.call
	case strings.HasPrefix(pattern, "/api/v1/customers/"):
		id = tf.customer
	case strings.HasPrefix(pattern, "/api/v1/locations/"):
		id = tf.location
	case strings.HasPrefix(pattern, "/api/v1/jobs/"):
		id = tf.job
	case strings.Contains(pattern, "/users/"):
		id = tf.user
	case strings.Contains(pattern, "/sites/"):
		id = tf.site
	case strings.Contains(pattern, "/reasons/"):
		id = tf.reason
	}
	p := strings.NewReplacer("{tenant}", tf.tenant, "{id}", id, "{name}", "CSR", "{number}", tf.number, "{noteId}", tf.note).Replace(pattern)
	switch pattern {
	case "/api/v1/leads", "/api/v1/abandoned", "/api/v1/calls":
		p += "?account=" + tf.tenant
	case "/api/v1/tenants/{tenant}/booking-banner":
		p += "?phone=5125550199"
	}
	return p
}

func roleHas(role string, perms []string) bool {
	builtin := map[string][]string{
		"Admin":   {state.PermViewSCL, state.PermEditSCL, state.PermEditAbandoned, state.PermFeatures, state.PermSettings, state.PermPhone, state.PermUsersAdmin},
		"Manager": {state.PermViewSCL, state.PermEditSCL, state.PermEditAbandoned, state.PermFeatures, state.PermSettings, state.PermPhone},
		"CSR":     {state.PermViewSCL, state.PermEditSCL, state.PermEditAbandoned},
		"Viewer":  {state.PermViewSCL},
	}
	has := authzRoles[role]
	if has == nil {
		has = builtin[role]
	}
	for _, p := range perms {
		if p == "member" {
			return true
		}
		for _, h := range has {
			if h == p {
				return true
			}
		}
	}
	return false
}

// TestAuthorization drives every route x role x own/other account. A route that is
// allowed must not answer 401, 403 or 404; a forbidden one answers 403; another
// account's object answers 404 whatever the role.
func TestAuthorization(t *testing.T) {
	probe := newEnv(t)
	for _, r := range probe.api.Routes() {
		if _, ok := authzTable[r.Method+" "+r.Pattern]; !ok && r.Pattern != "/api/v1/auth/login" {
			t.Errorf("route %s %s has no row in the authorization table", r.Method, r.Pattern)
		}
	}
	// One fixture is built, then every case runs on a copy of its state file: ids are
	// derived from raft indexes, so they are the same in every copy.
	tmpl := newAuthzFixture(t)
	var file bytes.Buffer
	if err := tmpl.e.store.View(context.Background(), false, func(tx *bbolt.Tx) error {
		_, err := tx.WriteTo(&file)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	for key, tc := range authzTable {
		method, pattern, _ := strings.Cut(key, " ")
		for role := range authzRoles {
			t.Run(key+"/"+role, func(t *testing.T) {
				f := *tmpl
				f.e = newEnvFrom(t, file.Bytes())
				c := f.e.bearer(f.tokens[role])
				body := tc.body
				if pattern == "/api/v1/leads/{id}/customer" {
					body = map[string]string{"customerId": f.own.customer}
				}
				// The user whose membership is edited: the Viewer-role user of own.
				var uid string
				_ = f.e.store.View(context.Background(), false, func(tx *bbolt.Tx) error {
					u, _, _ := state.UserByUsername(tx, "user-viewer")
					uid = u.ID
					return nil
				})
				f.own.user = uid
				if tc.scoped {
					code, b := c.do(t, method, f.path(pattern, f.other, role, true), body)
					if code != 404 {
						t.Fatalf("other account: %d %s, want 404", code, b)
					}
				}
				code, b := c.do(t, method, f.path(pattern, f.own, role, false), body)
				allowed := tc.perms == nil || roleHas(role, tc.perms)
				if allowed && (code == 401 || code == 403 || code == 404 || code >= 500) {
					t.Fatalf("%s allowed for %s but got %d %s", key, role, code, b)
				}
				if !allowed && code != 403 {
					t.Fatalf("%s forbidden for %s but got %d %s", key, role, code, b)
				}
			})
		}
	}
}
