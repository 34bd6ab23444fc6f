package api

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/reboundhq/rebound/hub/state"
	reboundv1 "github.com/reboundhq/rebound/proto/rebound/v1"
	"go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"
)

func (a *API) registerQueues() {
	a.handle("GET", "/api/v1/calls", a.listCalls)
	a.handle("GET", "/api/v1/calls/{id}", a.getCall)
	a.handle("PUT", "/api/v1/calls/{id}/classification", a.classify)
	a.handle("GET", "/api/v1/calls/{id}/transcript", a.transcript)
	a.handle("GET", "/api/v1/calls/{id}/recording", a.recording)
	a.handle("GET", "/api/v1/calls/{id}/audit", a.callAudit)

	a.handle("GET", "/api/v1/leads", a.listLeads)
	a.handle("GET", "/api/v1/leads/{id}", a.getLead)
	a.handle("POST", "/api/v1/leads/{id}/status", a.leadCmd(state.CmdLeadStatus))
	a.handle("POST", "/api/v1/leads/{id}/dismiss", a.leadCmd(state.CmdLeadDismiss))
	a.handle("POST", "/api/v1/leads/{id}/notes", a.leadCmd(state.CmdLeadNote))
	a.handle("POST", "/api/v1/leads/{id}/notes/{noteId}/copy", a.leadCmd(state.CmdLeadCopyNote))
	a.handle("POST", "/api/v1/leads/{id}/customer", a.leadCmd(state.CmdLeadCustomer))
	a.handle("POST", "/api/v1/leads/{id}/call", a.leadCmd(state.CmdLeadCall))
	a.handle("GET", "/api/v1/leads/{id}/audit", a.leadAudit)

	a.handle("GET", "/api/v1/abandoned", a.listAbandoned)
	a.handle("GET", "/api/v1/abandoned/{id}", a.getAbandoned)
	a.handle("POST", "/api/v1/abandoned/{id}/status", a.abCmd(state.CmdAbStatus))
	a.handle("POST", "/api/v1/abandoned/{id}/dismiss", a.abCmd(state.CmdAbDismiss))
	a.handle("POST", "/api/v1/abandoned/{id}/notes", a.abCmd(state.CmdAbNote))
	a.handle("POST", "/api/v1/abandoned/{id}/call", a.abCmd(state.CmdAbCall))
	a.handle("GET", "/api/v1/abandoned/{id}/audit", a.abAudit)
}

// lookup resolves names for views within one read transaction, caching per request.
type lookup struct {
	tx       *bbolt.Tx
	names    map[string]string
	settings map[string]state.Settings
}

func newLookup(tx *bbolt.Tx) *lookup {
	return &lookup{tx: tx, names: map[string]string{}, settings: map[string]state.Settings{}}
}

func (lk *lookup) settingsOf(tenant string) state.Settings {
	s, ok := lk.settings[tenant]
	if !ok {
		s, _ = state.GetSettings(lk.tx, tenant)
		lk.settings[tenant] = s
	}
	return s
}

func (lk *lookup) cached(k string, f func() string) string {
	if v, ok := lk.names[k]; ok {
		return v
	}
	v := f()
	lk.names[k] = v
	return v
}

func (lk *lookup) tenant(id string) string {
	return lk.cached("t"+id, func() string {
		t, ok, _ := state.GetTenant(lk.tx, id)
		if !ok {
			return ""
		}
		return t.Name
	})
}

func (lk *lookup) reason(tenant, id string) string {
	if id == "" {
		return ""
	}
	return lk.cached("r"+tenant+id, func() string {
		r, ok, _ := state.GetReason(lk.tx, tenant, id)
		if !ok {
			return ""
		}
		return r.Name
	})
}

func (lk *lookup) campaign(tenant, id string) string {
	if id == "" {
		return ""
	}
	return lk.cached("c"+tenant+id, func() string {
		c, ok, _ := state.GetCampaign(lk.tx, tenant, id)
		if !ok {
			return ""
		}
		return c.Name
	})
}

func (lk *lookup) customer(id string) string {
	if id == "" {
		return ""
	}
	return lk.cached("u"+id, func() string {
		c, ok, _ := state.GetCustomer(lk.tx, id)
		if !ok {
			return ""
		}
		return c.Name
	})
}

func (lk *lookup) agent(tenant, ext string) string {
	if ext == "" {
		return ""
	}
	return lk.cached("a"+tenant+ext, func() string {
		u, ok, _ := state.UserByExtension(lk.tx, tenant, ext)
		if !ok {
			return ""
		}
		return u.DisplayName
	})
}

func (lk *lookup) user(id string) string {
	return lk.cached("p"+id, func() string {
		u, ok, _ := state.GetUser(lk.tx, id)
		if !ok {
			return id
		}
		return u.DisplayName
	})
}

type noteView struct {
	ID       string    `json:"id"`
	Text     string    `json:"text"`
	AuthorID string    `json:"authorId"`
	Author   string    `json:"author"`
	At       time.Time `json:"at"`
}

type customerBlock struct {
	Phone                  string           `json:"phone"`
	Account                string           `json:"account"`
	CustomerID             string           `json:"customerId,omitempty"`
	CustomerName           string           `json:"customerName,omitempty"`
	LocationID             string           `json:"locationId,omitempty"`
	Address                string           `json:"address,omitempty"`
	Zone                   string           `json:"zone,omitempty"`
	PossibleIncorrectMatch bool             `json:"possibleIncorrectMatch"`
	Candidates             []candidateView  `json:"candidates"`
	Locations              []state.Location `json:"locations"`
}

type candidateView struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

type leadView struct {
	ID             string     `json:"id"`
	TenantID       string     `json:"tenantId"`
	Account        string     `json:"account"`
	CallID         string     `json:"callId"`
	Status         string     `json:"status"`
	Tab            string     `json:"tab"`
	Summary        string     `json:"summary"`
	Probability    float64    `json:"probability"`
	CallEndedAt    time.Time  `json:"callEndedAt"`
	CreatedAt      time.Time  `json:"createdAt"`
	LastActivityAt time.Time  `json:"lastActivityAt"`
	DoneAt         *time.Time `json:"doneAt,omitempty"`
	Customer       string     `json:"customer"`
	CustomerID     string     `json:"customerId,omitempty"`
	Phone          string     `json:"phone"`
	Type           string     `json:"type"`
	ReasonID       string     `json:"reasonId,omitempty"`
	Reason         string     `json:"reason"`
	Agent          string     `json:"agent"`
	AgentName      string     `json:"agentName"`
	CampaignID     string     `json:"campaignId,omitempty"`
	Campaign       string     `json:"campaign"`
	Notes          string     `json:"notes"`
	JobID          string     `json:"jobId,omitempty"`
	// Detail only.
	Signals          []state.Signal  `json:"signals,omitempty"`
	Reviewer         string          `json:"reviewer,omitempty"`
	CustomerBlock    *customerBlock  `json:"customerBlock,omitempty"`
	OriginalNotes    *string         `json:"originalNotes,omitempty"`
	SCLNotes         []noteView      `json:"sclNotes,omitempty"`
	CallbackAttempts *int            `json:"callbackAttempts,omitempty"`
	HasRecording     *bool           `json:"hasRecording,omitempty"`
	Transcript       *transcriptView `json:"transcript,omitempty"`
}

func (lk *lookup) notes(ns []state.Note) []noteView {
	out := make([]noteView, 0, len(ns))
	for _, n := range ns {
		out = append(out, noteView{ID: n.ID, Text: n.Text, AuthorID: n.AuthorID, Author: lk.user(n.AuthorID), At: time.UnixMilli(n.AtMs).UTC()})
	}
	return out
}

func (lk *lookup) block(tenant, phone, custID, locID string, call *state.Call) *customerBlock {
	b := &customerBlock{Phone: phone, Account: lk.tenant(tenant), CustomerID: custID, Candidates: []candidateView{}, Locations: []state.Location{}}
	if c, ok, _ := state.GetCustomer(lk.tx, custID); ok && custID != "" {
		b.CustomerName = c.Name
		for _, id := range c.LocationIDs {
			if l, ok, _ := state.GetLocation(lk.tx, id); ok {
				b.Locations = append(b.Locations, *l)
			}
		}
	}
	if l, ok, _ := state.GetLocation(lk.tx, locID); ok && locID != "" {
		b.LocationID, b.Address, b.Zone = l.ID, l.Address, l.Zone
	}
	if call != nil && call.PossibleIncorrectMatch {
		b.PossibleIncorrectMatch = true
		for _, id := range call.Candidates {
			b.Candidates = append(b.Candidates, candidateView{ID: id, Name: lk.customer(id)})
		}
	}
	return b
}

func (lk *lookup) lead(l *state.Lead, now time.Time, detail bool) leadView {
	s := lk.settingsOf(l.TenantID)
	v := leadView{ID: l.ID, TenantID: l.TenantID, Account: lk.tenant(l.TenantID), CallID: l.CallID, Status: l.Status,
		Tab: state.LeadTab(l, s, now), Summary: l.Summary, Probability: l.Probability,
		CallEndedAt: time.UnixMilli(l.CallEndedMs).UTC(), CreatedAt: time.UnixMilli(l.CreatedMs).UTC(),
		LastActivityAt: time.UnixMilli(l.LastActivityMs).UTC(), DoneAt: timePtr(l.DoneMs),
		Customer: lk.customer(l.CustomerID), CustomerID: l.CustomerID, Phone: l.Phone, Type: l.Type, ReasonID: l.ReasonID,
		Reason: lk.reason(l.TenantID, l.ReasonID), Agent: l.Agent, AgentName: lk.agent(l.TenantID, l.Agent),
		CampaignID: l.CampaignID, Campaign: lk.campaign(l.TenantID, l.CampaignID), Notes: l.OriginalNotes, JobID: l.JobID}
	if v.Customer == "" {
		v.Customer = l.Phone
	}
	if !detail {
		return v
	}
	call, _, _ := state.GetCall(lk.tx, l.CallID)
	v.Signals = l.Signals
	if v.Signals == nil {
		v.Signals = []state.Signal{}
	}
	v.Reviewer = l.Reviewer
	v.CustomerBlock = lk.block(l.TenantID, l.Phone, l.CustomerID, l.LocationID, call)
	orig := l.OriginalNotes
	v.OriginalNotes = &orig
	v.SCLNotes = lk.notes(l.Notes)
	n := l.CallbackAttempts
	v.CallbackAttempts = &n
	hr := call != nil && call.HasRecording
	v.HasRecording = &hr
	if call != nil {
		v.Transcript = transcriptOf(call)
	}
	return v
}

type abandonedView struct {
	ID               string         `json:"id"`
	TenantID         string         `json:"tenantId"`
	Account          string         `json:"account"`
	CallID           string         `json:"callId"`
	Status           string         `json:"status"`
	Tab              string         `json:"tab"`
	Phone            string         `json:"phone"`
	Customer         string         `json:"customer"`
	CustomerID       string         `json:"customerId,omitempty"`
	Queue            string         `json:"queue"`
	CampaignID       string         `json:"campaignId,omitempty"`
	Campaign         string         `json:"campaign"`
	DurationSeconds  float64        `json:"durationSeconds"`
	CallEndedAt      time.Time      `json:"callEndedAt"`
	LastActivityAt   time.Time      `json:"lastActivityAt"`
	DoneAt           *time.Time     `json:"doneAt,omitempty"`
	CallbackAttempts int            `json:"callbackAttempts"`
	ResolvedByCall   string         `json:"resolvedByCall,omitempty"`
	Notes            []noteView     `json:"notes"`
	CustomerBlock    *customerBlock `json:"customerBlock,omitempty"`
}

func (lk *lookup) abandoned(ab *state.Abandoned, now time.Time, detail bool) abandonedView {
	s := lk.settingsOf(ab.TenantID)
	v := abandonedView{ID: ab.ID, TenantID: ab.TenantID, Account: lk.tenant(ab.TenantID), CallID: ab.CallID, Status: ab.Status,
		Tab: state.AbandonedTab(ab, s, now), Phone: ab.Phone, Customer: lk.customer(ab.CustomerID), CustomerID: ab.CustomerID,
		Queue: ab.Queue, CampaignID: ab.CampaignID, Campaign: lk.campaign(ab.TenantID, ab.CampaignID),
		DurationSeconds: float64(ab.DurationMs) / 1000, CallEndedAt: time.UnixMilli(ab.CallEndedMs).UTC(),
		LastActivityAt: time.UnixMilli(ab.LastActivityMs).UTC(), DoneAt: timePtr(ab.DoneMs),
		CallbackAttempts: ab.CallbackAttempts, ResolvedByCall: ab.ResolvedByCall, Notes: lk.notes(ab.Notes)}
	if v.Customer == "" {
		v.Customer = ab.Phone
	}
	if detail {
		call, _, _ := state.GetCall(lk.tx, ab.CallID)
		v.CustomerBlock = lk.block(ab.TenantID, ab.Phone, ab.CustomerID, "", call)
	}
	return v
}

// parseListQuery reads the shared queue filters. perm selects the tenants searched.
func parseListQuery(tx *bbolt.Tx, r *http.Request, rc *reqCtx, perm string, abandoned bool) (state.ListQuery, error) {
	q := r.URL.Query()
	lq := state.ListQuery{Now: rc.now, Tab: q.Get("tab"), Statuses: q["status"], Type: q.Get("type"), Reason: q.Get("reason"),
		Agent: q.Get("agent"), Campaign: q.Get("campaign"), Queue: q.Get("queue"), Notes: q.Get("notes"),
		Customer: q.Get("customer"), Sort: q.Get("sort"), Cursor: q.Get("cursor")}
	if lq.Tab == "" {
		lq.Tab = state.TabOpen
	}
	if lq.Tab != state.TabOpen && lq.Tab != state.TabCold && lq.Tab != state.TabDone {
		return lq, errBad("tab", "tab must be open, cold or done")
	}
	allowed := map[string]bool{}
	for _, k := range []string{"tab", "account", "status", "type", "reason", "agent", "campaign", "queue", "notes", "customer",
		"sort", "cursor", "limit", "age_min_hours", "age_max_hours", "duration_min_seconds", "duration_max_seconds"} {
		allowed[k] = true
	}
	for k := range q {
		if !allowed[k] {
			return lq, errBad(k, "unknown filter %s", k)
		}
	}
	if abandoned {
		if lq.Type != "" || lq.Reason != "" || lq.Agent != "" {
			return lq, errBad("type", "type, reason and agent filter Second Chance Leads only")
		}
	} else if lq.Queue != "" || q.Get("duration_min_seconds") != "" || q.Get("duration_max_seconds") != "" {
		return lq, errBad("queue", "queue and duration filter Abandoned Calls only")
	}
	if lq.Type != "" && lq.Type != state.TypeBooked && lq.Type != state.TypeUnbooked && lq.Type != state.TypeExcused && lq.Type != state.TypeNotLead {
		return lq, errBad("type", "type must be Booked, Unbooked, Excused or Not a lead")
	}
	valid := state.LeadStatuses()
	if abandoned {
		valid = state.AbandonedStatuses()
	}
	for _, s := range lq.Statuses {
		ok := false
		for _, v := range valid {
			ok = ok || v == s
		}
		if !ok {
			return lq, errBad("status", "unknown status %q", s)
		}
	}
	num := func(name string, unit time.Duration) (time.Duration, error) {
		s := q.Get(name)
		if s == "" {
			return 0, nil
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || f < 0 {
			return 0, errBad(name, "%s must be a non-negative number", name)
		}
		return time.Duration(f * float64(unit)), nil
	}
	var err error
	if lq.AgeMin, err = num("age_min_hours", time.Hour); err != nil {
		return lq, err
	}
	if lq.AgeMax, err = num("age_max_hours", time.Hour); err != nil {
		return lq, err
	}
	if lq.DurMin, err = num("duration_min_seconds", time.Second); err != nil {
		return lq, err
	}
	if lq.DurMax, err = num("duration_max_seconds", time.Second); err != nil {
		return lq, err
	}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 200 {
			return lq, errBad("limit", "limit must be 1..200")
		}
		lq.Limit = n
	}
	if account := q.Get("account"); account != "" {
		if err := need(tx, rc, account, perm); err != nil {
			var ae *apiError
			if errors.As(err, &ae) && ae.status == 404 {
				return lq, &apiError{404, "not_found", "no such account", "account"}
			}
			return lq, err
		}
		lq.Tenants = []string{account}
	} else {
		// Lists that belong to one account (reasons, campaigns, queues, agents) need that
		// account selected first, as in the reference product.
		for _, f := range []string{"reason", "campaign", "queue", "agent"} {
			if q.Get(f) != "" {
				return lq, &apiError{400, "account_required", fmt.Sprintf("filtering by %s needs one account selected", f), "account"}
			}
		}
		lq.Tenants = state.TenantsWith(tx, rc.user, perm)
		if len(lq.Tenants) == 0 {
			return lq, errForbidden()
		}
	}
	return lq, nil
}

func (a *API) listLeads(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	var out state.Page[leadView]
	err := a.view(r.Context(), func(tx *bbolt.Tx) error {
		lq, err := parseListQuery(tx, r, rc, state.PermViewSCL, false)
		if err != nil {
			return err
		}
		page, err := state.ListLeads(tx, lq)
		if err != nil {
			return err
		}
		lk := newLookup(tx)
		out.Items = make([]leadView, 0, len(page.Items))
		for i := range page.Items {
			out.Items = append(out.Items, lk.lead(&page.Items[i], rc.now, false))
		}
		out.NextCursor = page.NextCursor
		return nil
	})
	if err != nil {
		return err
	}
	writeJSON(w, 200, out)
	return nil
}

func (a *API) listAbandoned(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	var out state.Page[abandonedView]
	err := a.view(r.Context(), func(tx *bbolt.Tx) error {
		lq, err := parseListQuery(tx, r, rc, state.PermEditAbandoned, true)
		if err != nil {
			return err
		}
		page, err := state.ListAbandoned(tx, lq)
		if err != nil {
			return err
		}
		lk := newLookup(tx)
		out.Items = make([]abandonedView, 0, len(page.Items))
		for i := range page.Items {
			out.Items = append(out.Items, lk.abandoned(&page.Items[i], rc.now, false))
		}
		out.NextCursor = page.NextCursor
		return nil
	})
	if err != nil {
		return err
	}
	writeJSON(w, 200, out)
	return nil
}

func (a *API) getLead(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	var v leadView
	err := a.view(r.Context(), func(tx *bbolt.Tx) error {
		l, ok, err := state.GetLead(tx, r.PathValue("id"))
		if err != nil {
			return err
		}
		if !ok {
			return errNotFound()
		}
		if err := need(tx, rc, l.TenantID, state.PermViewSCL); err != nil {
			return err
		}
		v = newLookup(tx).lead(l, rc.now, true)
		return nil
	})
	if err != nil {
		return err
	}
	writeJSON(w, 200, v)
	return nil
}

func (a *API) getAbandoned(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	var v abandonedView
	err := a.view(r.Context(), func(tx *bbolt.Tx) error {
		ab, ok, err := state.GetAbandoned(tx, r.PathValue("id"))
		if err != nil {
			return err
		}
		if !ok {
			return errNotFound()
		}
		if err := need(tx, rc, ab.TenantID, state.PermEditAbandoned); err != nil {
			return err
		}
		v = newLookup(tx).abandoned(ab, rc.now, true)
		return nil
	})
	if err != nil {
		return err
	}
	writeJSON(w, 200, v)
	return nil
}

type itemInput struct {
	Status     string `json:"status"`
	Reason     string `json:"reason"`
	Text       string `json:"text"`
	Target     string `json:"target"`
	CustomerID string `json:"customerId"`
	LocationID string `json:"locationId"`
	Extension  string `json:"extension"`
}

func readItemInput(r *http.Request) (itemInput, error) {
	var b itemInput
	if r.ContentLength == 0 {
		return b, nil
	}
	return b, decode(r, &b)
}

// dialResult is what call-customer reports about the dial request.
type dialResult struct {
	ID    string `json:"id"`
	Sent  bool   `json:"sent"`
	Error string `json:"error,omitempty"`
}

func (a *API) leadCmd(cmd string) handler {
	return func(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
		id := r.PathValue("id")
		var siteID, callerID, callerName string
		var ext string
		tenant, err := a.objectTenant(r, rc, func(tx *bbolt.Tx) (string, bool) {
			l, ok, _ := state.GetLead(tx, id)
			if !ok {
				return "", false
			}
			if c, ok, _ := state.GetCall(tx, l.CallID); ok {
				siteID = c.SiteID
			}
			s, _ := state.GetSettings(tx, l.TenantID)
			callerID = s.OutboundCallerID
			if tn, ok, _ := state.GetTenant(tx, l.TenantID); ok {
				callerName = tn.Name
			}
			if m, ok := rc.user.Membership(l.TenantID); ok {
				ext = m.Extension
			}
			return l.TenantID, true
		}, state.PermEditSCL)
		if err != nil {
			return err
		}
		b, err := readItemInput(r)
		if err != nil {
			return err
		}
		if b.Extension != "" {
			ext = b.Extension
		}
		body := state.ItemBody{ID: id, Status: b.Status, Reason: b.Reason, Text: b.Text, NoteID: r.PathValue("noteId"),
			Target: b.Target, CustomerID: b.CustomerID, LocationID: b.LocationID, Extension: ext}
		var res state.ItemResult
		if err := a.apply(r.Context(), rc, cmd, tenant, body, &res); err != nil {
			return err
		}
		var out any
		status := 200
		err = a.view(r.Context(), func(tx *bbolt.Tx) error {
			lv := newLookup(tx).lead(res.Lead, rc.now, true)
			out = lv
			switch cmd {
			case state.CmdLeadNote:
				status = 201
				out = newLookup(tx).notes([]state.Note{*res.Note})[0]
			case state.CmdLeadCall:
				status = 202
				d := a.dial(r, res.DialID, siteID, ext, res.Lead.Phone, callerID, callerName, id, tenant)
				out = map[string]any{"lead": lv, "dial": d}
			}
			return nil
		})
		if err != nil {
			return err
		}
		writeJSON(w, status, out)
		return nil
	}
}

// dial sends click-to-call to the site's agent. The status change is already committed;
// a dial that cannot be sent is reported, not fatal.
func (a *API) dial(r *http.Request, dialID, siteID, ext, phone, callerID, callerName, itemID, tenant string) dialResult {
	d := dialResult{ID: dialID}
	switch {
	case a.cfg.Dialer == nil:
		d.Error = "no dialer is configured on this hub"
	case siteID == "":
		d.Error = "the call has no site to dial through"
	case ext == "":
		d.Error = "you have no extension in this account"
	default:
		err := a.cfg.Dialer.Dial(r.Context(), siteID, &reboundv1.AgentCommand{Id: dialID, Cmd: &reboundv1.AgentCommand_Dial{Dial: &reboundv1.DialCommand{
			CsrExtension: ext, CustomerNumber: phone, CallerId: callerID, CallerName: callerName, LeadId: itemID, TenantId: tenant, RingTimeoutSeconds: 30}}})
		if err != nil {
			d.Error = err.Error()
		} else {
			d.Sent = true
			a.rememberDial(dialID, tenant, itemID)
		}
	}
	return d
}

func (a *API) abCmd(cmd string) handler {
	return func(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
		id := r.PathValue("id")
		var siteID, callerID, callerName, ext string
		tenant, err := a.objectTenant(r, rc, func(tx *bbolt.Tx) (string, bool) {
			ab, ok, _ := state.GetAbandoned(tx, id)
			if !ok {
				return "", false
			}
			if c, ok, _ := state.GetCall(tx, ab.CallID); ok {
				siteID = c.SiteID
			}
			s, _ := state.GetSettings(tx, ab.TenantID)
			callerID = s.OutboundCallerID
			if tn, ok, _ := state.GetTenant(tx, ab.TenantID); ok {
				callerName = tn.Name
			}
			if m, ok := rc.user.Membership(ab.TenantID); ok {
				ext = m.Extension
			}
			return ab.TenantID, true
		}, state.PermEditAbandoned)
		if err != nil {
			return err
		}
		b, err := readItemInput(r)
		if err != nil {
			return err
		}
		if b.Extension != "" {
			ext = b.Extension
		}
		var res state.ItemResult
		if err := a.apply(r.Context(), rc, cmd, tenant, state.ItemBody{ID: id, Status: b.Status, Text: b.Text, Extension: ext}, &res); err != nil {
			return err
		}
		var out any
		status := 200
		err = a.view(r.Context(), func(tx *bbolt.Tx) error {
			av := newLookup(tx).abandoned(res.Abandoned, rc.now, true)
			out = av
			switch cmd {
			case state.CmdAbNote:
				status = 201
				out = newLookup(tx).notes([]state.Note{*res.Note})[0]
			case state.CmdAbCall:
				status = 202
				out = map[string]any{"abandoned": av, "dial": a.dial(r, res.DialID, siteID, ext, res.Abandoned.Phone, callerID, callerName, id, tenant)}
			}
			return nil
		})
		if err != nil {
			return err
		}
		writeJSON(w, status, out)
		return nil
	}
}

func (a *API) leadAudit(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	id := r.PathValue("id")
	tenant, err := a.objectTenant(r, rc, func(tx *bbolt.Tx) (string, bool) {
		l, ok, _ := state.GetLead(tx, id)
		if !ok {
			return "", false
		}
		return l.TenantID, true
	}, state.PermViewSCL)
	if err != nil {
		return err
	}
	return a.auditOf(w, r, rc, tenant, id, state.PermViewSCL)
}

func (a *API) abAudit(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	id := r.PathValue("id")
	tenant, err := a.objectTenant(r, rc, func(tx *bbolt.Tx) (string, bool) {
		ab, ok, _ := state.GetAbandoned(tx, id)
		if !ok {
			return "", false
		}
		return ab.TenantID, true
	}, state.PermEditAbandoned)
	if err != nil {
		return err
	}
	return a.auditOf(w, r, rc, tenant, id, state.PermEditAbandoned)
}

// Calls.

type classificationView struct {
	Type     string `json:"type"`
	ReasonID string `json:"reasonId,omitempty"`
	Reason   string `json:"reason,omitempty"`
	Notes    string `json:"notes,omitempty"`
	ByUser   string `json:"byUser,omitempty"`
	Default  bool   `json:"default"`
}

type callView struct {
	ID                     string             `json:"id"`
	TenantID               string             `json:"tenantId"`
	SiteID                 string             `json:"siteId,omitempty"`
	CallerNumber           string             `json:"callerNumber"`
	CallerName             string             `json:"callerName,omitempty"`
	DialledNumber          string             `json:"dialledNumber"`
	CampaignID             string             `json:"campaignId,omitempty"`
	Campaign               string             `json:"campaign"`
	Queue                  string             `json:"queue"`
	Agent                  string             `json:"agent"`
	AgentName              string             `json:"agentName"`
	Outcome                string             `json:"outcome"`
	Direction              string             `json:"direction"`
	StartedAt              time.Time          `json:"startedAt"`
	EndedAt                time.Time          `json:"endedAt"`
	TalkSeconds            float64            `json:"talkSeconds"`
	ACWOpen                bool               `json:"acwOpen"`
	ACWEndsAt              *time.Time         `json:"acwEndsAt,omitempty"`
	Classification         classificationView `json:"classification"`
	CustomerID             string             `json:"customerId,omitempty"`
	Customer               string             `json:"customer"`
	LocationID             string             `json:"locationId,omitempty"`
	PossibleIncorrectMatch bool               `json:"possibleIncorrectMatch"`
	Candidates             []candidateView    `json:"candidates"`
	HasRecording           bool               `json:"hasRecording"`
	TranscriptStatus       string             `json:"transcriptStatus"`
	Reviewed               bool               `json:"reviewed"`
	ReviewSkipped          string             `json:"reviewSkipped,omitempty"`
	LeadID                 string             `json:"leadId,omitempty"`
	AbandonedID            string             `json:"abandonedId,omitempty"`
	Dropped                string             `json:"dropped,omitempty"`
	Booked                 bool               `json:"booked"`
}

func (lk *lookup) call(c *state.Call, now time.Time) callView {
	cl := c.EffectiveClassification()
	v := callView{ID: c.ID, TenantID: c.TenantID, SiteID: c.SiteID, CallerNumber: c.CallerNumber, CallerName: c.CallerName,
		DialledNumber: c.DialledNumber, CampaignID: c.CampaignID, Campaign: lk.campaign(c.TenantID, c.CampaignID), Queue: c.Queue,
		Agent: c.Agent, AgentName: lk.agent(c.TenantID, c.Agent), Outcome: c.Outcome, Direction: c.Direction,
		StartedAt: time.UnixMilli(c.StartedMs).UTC(), EndedAt: time.UnixMilli(c.EndedMs).UTC(), TalkSeconds: float64(c.TalkMs) / 1000,
		ACWOpen: c.ACWOpen && now.UnixMilli() <= c.ACWEndsMs, ACWEndsAt: timePtr(c.ACWEndsMs),
		Classification: classificationView{Type: cl.Type, ReasonID: cl.ReasonID, Reason: lk.reason(c.TenantID, cl.ReasonID), Notes: cl.Notes, ByUser: cl.ByUser, Default: cl.Default},
		CustomerID:     c.CustomerID, Customer: lk.customer(c.CustomerID), LocationID: c.LocationID, PossibleIncorrectMatch: c.PossibleIncorrectMatch,
		Candidates: []candidateView{}, HasRecording: c.HasRecording, TranscriptStatus: transcriptOf(c).Status, Reviewed: c.Reviewed,
		ReviewSkipped: c.ReviewSkipped, LeadID: c.LeadID, AbandonedID: c.AbandonedID, Dropped: c.Dropped, Booked: c.Booked}
	for _, id := range c.Candidates {
		v.Candidates = append(v.Candidates, candidateView{ID: id, Name: lk.customer(id)})
	}
	return v
}

type segmentView struct {
	Channel string `json:"channel"`
	StartMs int64  `json:"startMs"`
	EndMs   int64  `json:"endMs"`
	Text    string `json:"text"`
}

type transcriptView struct {
	Status   string        `json:"status"`
	Backend  string        `json:"backend,omitempty"`
	Reason   string        `json:"reason,omitempty"`
	Segments []segmentView `json:"segments"`
}

// transcriptOf reads the transcript from the stored call record. With none, it says so and
// why; it never invents text.
func transcriptOf(c *state.Call) *transcriptView {
	tv := &transcriptView{Status: "none", Reason: "the site sent no transcript for this call", Segments: []segmentView{}}
	if len(c.Record) == 0 {
		return tv
	}
	rec := &reboundv1.CallRecord{}
	if err := proto.Unmarshal(c.Record, rec); err != nil || rec.GetTranscript() == nil {
		return tv
	}
	t := rec.GetTranscript()
	tv.Status = strings.ToLower(strings.TrimPrefix(t.GetStatus().String(), "STATUS_"))
	if tv.Status == "unspecified" {
		tv.Status = "none"
	}
	tv.Backend, tv.Reason = t.GetBackend(), t.GetReason()
	for _, s := range t.GetSegments() {
		ch := "caller"
		if s.GetChannel() == reboundv1.Channel_CHANNEL_AGENT {
			ch = "agent"
		}
		tv.Segments = append(tv.Segments, segmentView{Channel: ch, StartMs: s.GetStartMs(), EndMs: s.GetEndMs(), Text: s.GetText()})
	}
	return tv
}

func (a *API) loadCall(r *http.Request, rc *reqCtx, perms ...string) (*state.Call, error) {
	var c *state.Call
	err := a.view(r.Context(), func(tx *bbolt.Tx) error {
		var ok bool
		var err error
		c, ok, err = state.GetCall(tx, r.PathValue("id"))
		if err != nil {
			return err
		}
		if !ok {
			return errNotFound()
		}
		return need(tx, rc, c.TenantID, perms...)
	})
	return c, err
}

func (a *API) listCalls(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	q := r.URL.Query()
	cq := state.CallQuery{Tenant: q.Get("account"), Outcome: q.Get("outcome"), ACWOpen: q.Get("acw") == "open", Cursor: q.Get("cursor")}
	for _, f := range []struct {
		name string
		dst  *time.Time
	}{{"since", &cq.Since}, {"until", &cq.Until}} {
		if s := q.Get(f.name); s != "" {
			t, err := time.Parse(time.RFC3339, s)
			if err != nil {
				return errBad(f.name, "%s must be an RFC 3339 time", f.name)
			}
			*f.dst = t
		}
	}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 200 {
			return errBad("limit", "limit must be 1..200")
		}
		cq.Limit = n
	}
	var out state.Page[callView]
	err := a.view(r.Context(), func(tx *bbolt.Tx) error {
		if cq.Tenant == "" {
			ts := state.TenantsWith(tx, rc.user, state.PermViewSCL)
			if len(ts) == 0 {
				return errForbidden()
			}
			if len(ts) > 1 {
				return &apiError{400, "account_required", "select an account", "account"}
			}
			cq.Tenant = ts[0]
		}
		if err := need(tx, rc, cq.Tenant, state.PermViewSCL); err != nil {
			return err
		}
		page, err := state.ListCalls(tx, cq)
		if err != nil {
			return err
		}
		lk := newLookup(tx)
		out.Items = make([]callView, 0, len(page.Items))
		for i := range page.Items {
			out.Items = append(out.Items, lk.call(&page.Items[i], rc.now))
		}
		out.NextCursor = page.NextCursor
		return nil
	})
	if err != nil {
		return err
	}
	writeJSON(w, 200, out)
	return nil
}

func (a *API) getCall(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	c, err := a.loadCall(r, rc, state.PermViewSCL)
	if err != nil {
		return err
	}
	var v callView
	_ = a.view(r.Context(), func(tx *bbolt.Tx) error { v = newLookup(tx).call(c, rc.now); return nil })
	writeJSON(w, 200, v)
	return nil
}

func (a *API) classify(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	c, err := a.loadCall(r, rc, state.PermEditSCL)
	if err != nil {
		return err
	}
	var b struct {
		Type     string `json:"type"`
		ReasonID string `json:"reasonId"`
		Notes    string `json:"notes"`
	}
	if err := decode(r, &b); err != nil {
		return err
	}
	var out state.Call
	if err := a.apply(r.Context(), rc, state.CmdCallClassify, c.TenantID, state.ClassifyBody{CallID: c.ID, Type: b.Type, ReasonID: b.ReasonID, Notes: b.Notes}, &out); err != nil {
		return err
	}
	var v callView
	_ = a.view(r.Context(), func(tx *bbolt.Tx) error { v = newLookup(tx).call(&out, rc.now); return nil })
	writeJSON(w, 200, v)
	return nil
}

func (a *API) transcript(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	c, err := a.loadCall(r, rc, state.PermViewSCL)
	if err != nil {
		return err
	}
	tv := transcriptOf(c)
	if r.URL.Query().Get("format") != "txt" {
		writeJSON(w, 200, tv)
		return nil
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="transcript-%s.txt"`, sanitizeFilename(c.ID)))
	if len(tv.Segments) == 0 {
		fmt.Fprintf(w, "No transcript: %s\n", tv.Reason)
		return nil
	}
	for _, s := range tv.Segments {
		fmt.Fprintf(w, "[%s] %s: %s\n", fmtOffset(s.StartMs), s.Channel, s.Text)
	}
	return nil
}

func fmtOffset(ms int64) string {
	d := time.Duration(ms) * time.Millisecond
	return fmt.Sprintf("%02d:%02d.%03d", int(d.Minutes()), int(d.Seconds())%60, ms%1000)
}

func sanitizeFilename(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.' {
			return r
		}
		return '_'
	}, s)
}

func (a *API) recording(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	c, err := a.loadCall(r, rc, state.PermViewSCL)
	if err != nil {
		return err
	}
	if !c.HasRecording || a.cfg.Recordings == nil {
		return &apiError{404, "no_recording", "no recording is available for this call", ""}
	}
	f, mod, err := a.cfg.Recordings.Open(r.Context(), c.SiteID, c.RecordingRef)
	if err != nil {
		return &apiError{404, "no_recording", "the recording could not be opened: " + err.Error(), ""}
	}
	defer f.Close()
	w.Header().Set("Content-Type", "audio/wav")
	http.ServeContent(w, r, sanitizeFilename(c.ID)+".wav", mod, f)
	return nil
}

func (a *API) callAudit(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	c, err := a.loadCall(r, rc, state.PermViewSCL)
	if err != nil {
		return err
	}
	return a.auditOf(w, r, rc, c.TenantID, c.ID, state.PermViewSCL)
}
