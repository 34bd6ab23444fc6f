package web

import (
	"encoding/json"

	"github.com/reboundhq/rebound/hub/state"
	reboundv1 "github.com/reboundhq/rebound/proto/rebound/v1"
)

// liveData is the JSON payload of a live event. It names what changed and
// never carries secrets (tokens, password hashes) or free text beyond a
// status, so it is safe for every permitted user of the tenant; screens
// refetch through the API for the rest.
type liveData struct {
	Kind        string `json:"kind"`
	Actor       string `json:"actor,omitempty"`
	AtMs        int64  `json:"atMs,omitempty"`
	ID          string `json:"id,omitempty"`
	LeadID      string `json:"leadId,omitempty"`
	AbandonedID string `json:"abandonedId,omitempty"`
	CallID      string `json:"callId,omitempty"`
	Status      string `json:"status,omitempty"`
	Phone       string `json:"phone,omitempty"`
	Created     bool   `json:"created,omitempty"`
	ACW         bool   `json:"acw,omitempty"`
}

// Events turns one applied raft entry into live events, in command order.
// Commands that failed, or that concern sessions, users, tokens and sites,
// produce none. A nil cmds (the state was replaced by a snapshot) produces
// one "reset" event for everybody.
func Events(index uint64, cmds []*reboundv1.Command, outcomes []*reboundv1.CommandOutcome) []Event {
	if cmds == nil {
		return []Event{{Index: index, Type: "reset", Data: []byte(`{"kind":"snapshot"}`)}}
	}
	var out []Event
	add := func(tenant, perm, typ string, d liveData) {
		if tenant == "" {
			return
		}
		b, err := json.Marshal(d)
		if err != nil {
			return
		}
		out = append(out, Event{Index: index, Pos: len(out), Tenant: tenant, Perm: perm, Type: typ, Data: b})
	}
	for i, c := range cmds {
		if i >= len(outcomes) || outcomes[i] == nil || outcomes[i].GetError() != "" || outcomes[i].GetErrorCode() != "" {
			continue
		}
		res := outcomes[i].GetResult()
		base := liveData{Kind: c.GetType(), Actor: c.GetActor(), AtMs: c.GetAtUnixMs()}
		tenant := c.GetTenantId()
		switch c.GetType() {
		case state.CmdCallIngest:
			var r state.IngestResult
			if json.Unmarshal(res, &r) != nil || r.Duplicate {
				continue
			}
			d := base
			d.CallID = r.CallID
			if r.AbandonedID != "" {
				a := d
				a.AbandonedID, a.ID, a.Created = r.AbandonedID, r.AbandonedID, !r.Revised
				add(r.TenantID, PermAbandonedEdit, "abandoned", a)
			}
			for _, id := range r.AutoResolved {
				a := d
				a.AbandonedID, a.ID, a.Status = id, id, "Auto-Resolved"
				add(r.TenantID, PermAbandonedEdit, "abandoned", a)
			}
			if r.ACWOpen {
				a := d
				a.ID, a.ACW, a.Created = r.CallID, true, !r.Revised
				add(r.TenantID, PermSCLView, "call", a)
			}
		case state.CmdCallClassify:
			d := base
			if id := idFrom(c.GetBody(), "callId"); id != "" {
				d.CallID, d.ID = id, id
			}
			add(tenant, PermSCLView, "call", d)
		case state.CmdCallReview:
			var r state.ReviewResult
			if json.Unmarshal(res, &r) != nil || r.Already {
				continue
			}
			d := base
			d.CallID = r.CallID
			add(tenant, PermSCLView, "call", d)
			if r.LeadID != "" {
				l := d
				l.LeadID, l.ID, l.Status, l.Created = r.LeadID, r.LeadID, "New", true
				add(tenant, PermSCLView, "lead", l)
			}
		case state.CmdLeadStatus, state.CmdLeadDismiss, state.CmdLeadNote, state.CmdLeadCopyNote,
			state.CmdLeadCustomer, state.CmdLeadCall, state.CmdLeadDialResult:
			var r state.ItemResult
			if json.Unmarshal(res, &r) != nil || r.Lead == nil {
				continue
			}
			d := base
			d.LeadID, d.ID, d.CallID, d.Status = r.Lead.ID, r.Lead.ID, r.Lead.CallID, r.Lead.Status
			add(r.Lead.TenantID, PermSCLView, "lead", d)
		case state.CmdAbStatus, state.CmdAbDismiss, state.CmdAbNote, state.CmdAbCall, state.CmdAbDialResult:
			var r state.ItemResult
			if json.Unmarshal(res, &r) != nil || r.Abandoned == nil {
				continue
			}
			d := base
			d.AbandonedID, d.ID, d.CallID, d.Status = r.Abandoned.ID, r.Abandoned.ID, r.Abandoned.CallID, r.Abandoned.Status
			add(r.Abandoned.TenantID, PermAbandonedEdit, "abandoned", d)
		case state.CmdJobCreate, state.CmdJobUpdate:
			var r state.JobResult
			if json.Unmarshal(res, &r) != nil {
				continue
			}
			for _, l := range r.ClosedLeads {
				d := base
				d.LeadID, d.ID, d.Status = l.ID, l.ID, l.Status
				add(tenant, PermSCLView, "lead", d)
			}
		case state.CmdSettingsUpdate, state.CmdReasonCreate, state.CmdReasonUpdate, state.CmdCampaignCreate,
			state.CmdTrackingPut, state.CmdTrackingDelete, state.CmdQueueCreate:
			add(tenant, "", "settings", base)
		}
	}
	return out
}

// idFrom reads one string field of a JSON command body.
func idFrom(body []byte, key string) string {
	var m map[string]json.RawMessage
	if json.Unmarshal(body, &m) != nil {
		return ""
	}
	var s string
	if json.Unmarshal(m[key], &s) != nil {
		return ""
	}
	return s
}

// Hook returns a function with the shape of cluster.AppliedFunc that
// publishes every applied entry's events. Publishing never blocks: slow
// streams are cut off instead.
func (b *Broker) Hook() func(index uint64, cmds []*reboundv1.Command, outcomes []*reboundv1.CommandOutcome) {
	return func(index uint64, cmds []*reboundv1.Command, outcomes []*reboundv1.CommandOutcome) {
		if ev := Events(index, cmds, outcomes); len(ev) > 0 {
			b.Publish(ev...)
		}
	}
}
