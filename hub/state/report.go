package state

import (
	"bytes"
	"encoding/binary"
	"sort"

	"go.etcd.io/bbolt"
)

// Report date types.
const (
	DateCall         = "call"
	DateJobCreated   = "job_created"
	DateJobScheduled = "job_scheduled"
	DateJobCompleted = "job_completed"
)

// ReportQuery selects the Unbooked and Abandoned Calls report of one tenant: calls (or,
// for the job date types, jobs) dated in [FromMs, ToMs).
type ReportQuery struct {
	Tenant       string
	FromMs, ToMs int64
	DateType     string
}

// ReportRow is one unbooked or abandoned call.
type ReportRow struct {
	CallID       string `json:"id"`
	StartedMs    int64  `json:"startedMs"`
	Type         string `json:"type"` // Unbooked or Abandoned
	Direction    string `json:"direction"`
	Name         string `json:"name"`
	CampaignID   string `json:"campaignId,omitempty"`
	CallerNumber string `json:"callerNumber"`
	CustomerID   string `json:"customerId,omitempty"`
	Agent        string `json:"agent,omitempty"`
	HasRecording bool   `json:"hasRecording"`
	LeadID       string `json:"leadId,omitempty"`
	LeadStatus   string `json:"leadStatus,omitempty"`
	AbandonedID  string `json:"abandonedId,omitempty"`
	AbStatus     string `json:"abandonedStatus,omitempty"`
}

// ReportGroup is the conversion of one campaign or agent.
type ReportGroup struct {
	Key              string `json:"key"`
	Unbooked         int    `json:"unbooked"`
	Abandoned        int    `json:"abandoned"`
	Leads            int    `json:"leads"`
	BookedBySCL      int    `json:"bookedBySCL"`
	BookedElsewhere  int    `json:"bookedElsewhere"`
	AbandonedResolve int    `json:"abandonedResolved"`
	AbandonedDismiss int    `json:"abandonedDismissed"`
}

// ReportResult is the report: rows by call time and conversion by campaign and by agent.
type ReportResult struct {
	Rows       []ReportRow   `json:"rows"`
	ByCampaign []ReportGroup `json:"byCampaign"`
	ByAgent    []ReportGroup `json:"byAgent"`
	Totals     ReportGroup   `json:"totals"`
}

// Report builds the Unbooked and Abandoned Calls report. A call counts as unbooked when it
// is an answered inbound call whose (effective) classification is Unbooked and no job was
// booked during its After Call Work; abandoned when it entered the Abandoned Calls queue.
// Conversion counts leads closed by "Job booked by SCL" (recovered) apart from "Job booked
// elsewhere", and Resolved/Auto-Resolved abandoned calls apart from Dismissed ones.
func Report(tx *bbolt.Tx, q ReportQuery) (ReportResult, error) {
	res := ReportResult{Rows: []ReportRow{}, ByCampaign: []ReportGroup{}, ByAgent: []ReportGroup{}}
	var callIDs []string
	if q.DateType == "" || q.DateType == DateCall {
		bk := tx.Bucket(bCallTime)
		if bk != nil {
			prefix := key(q.Tenant, "")
			c := bk.Cursor()
			for k, _ := c.Seek(append(append([]byte(nil), prefix...), be64(uint64(max(q.FromMs, 0)))...)); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
				rest := k[len(prefix):]
				if len(rest) < 9 || int64(binary.BigEndian.Uint64(rest[:8])) >= q.ToMs {
					break
				}
				callIDs = append(callIDs, string(rest[9:]))
			}
		}
	} else {
		jobs, err := listJSON[Job](tx, bJobs, nil)
		if err != nil {
			return res, err
		}
		seen := map[string]bool{}
		for _, j := range jobs {
			at := j.CreatedMs
			switch q.DateType {
			case DateJobScheduled:
				at = j.ScheduledMs
			case DateJobCompleted:
				at = j.CompletedMs
			}
			if j.TenantID != q.Tenant || at == 0 || at < q.FromMs || at >= q.ToMs {
				continue
			}
			for _, lid := range j.LeadIDs {
				if l, ok, _ := GetLead(tx, lid); ok && !seen[l.CallID] {
					seen[l.CallID] = true
					callIDs = append(callIDs, l.CallID)
				}
			}
		}
	}
	camps, agents := map[string]*ReportGroup{}, map[string]*ReportGroup{}
	group := func(m map[string]*ReportGroup, k string) *ReportGroup {
		g, ok := m[k]
		if !ok {
			g = &ReportGroup{Key: k}
			m[k] = g
		}
		return g
	}
	for _, id := range callIDs {
		c, ok, err := GetCall(tx, id)
		if err != nil {
			return res, err
		}
		if !ok || c.TenantID != q.Tenant {
			continue
		}
		row := ReportRow{CallID: c.ID, StartedMs: c.StartedMs, Direction: c.Direction, Name: c.CallerName, CampaignID: c.CampaignID,
			CallerNumber: c.CallerNumber, CustomerID: c.CustomerID, Agent: c.Agent, HasRecording: c.HasRecording}
		gs := []*ReportGroup{group(camps, c.CampaignID), group(agents, c.Agent), &res.Totals}
		switch {
		case c.AbandonedID != "":
			row.Type, row.AbandonedID = "Abandoned", c.AbandonedID
			ab, _, _ := GetAbandoned(tx, c.AbandonedID)
			row.AbStatus = ab.Status
			for _, g := range gs {
				g.Abandoned++
				switch ab.Status {
				case AbResolved, AbAutoResolved:
					g.AbandonedResolve++
				case AbDismissed:
					g.AbandonedDismiss++
				}
			}
		case c.Outcome == "answered" && (c.Direction == "inbound" || c.Direction == "unspecified") && !c.Booked &&
			c.EffectiveClassification().Type == TypeUnbooked:
			row.Type = "Unbooked"
			for _, g := range gs {
				g.Unbooked++
			}
			if c.LeadID != "" {
				l, _, _ := GetLead(tx, c.LeadID)
				row.LeadID, row.LeadStatus = l.ID, l.Status
				for _, g := range gs {
					g.Leads++
					switch l.Status {
					case LeadJobBookedSCL:
						g.BookedBySCL++
					case LeadJobBookedElsewhr:
						g.BookedElsewhere++
					}
				}
			}
		default:
			continue
		}
		res.Rows = append(res.Rows, row)
	}
	sort.Slice(res.Rows, func(i, j int) bool {
		if res.Rows[i].StartedMs != res.Rows[j].StartedMs {
			return res.Rows[i].StartedMs < res.Rows[j].StartedMs
		}
		return res.Rows[i].CallID < res.Rows[j].CallID
	})
	flat := func(m map[string]*ReportGroup) []ReportGroup {
		out := make([]ReportGroup, 0, len(m))
		for _, g := range m {
			if g.Unbooked+g.Abandoned > 0 {
				out = append(out, *g)
			}
		}
		sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
		return out
	}
	res.ByCampaign, res.ByAgent = flat(camps), flat(agents)
	return res, nil
}
