package api

import (
	"encoding/csv"
	"fmt"
	"net/http"
	"time"

	"github.com/reboundhq/rebound/hub/state"
	"go.etcd.io/bbolt"
)

// reportRange turns a preset (or custom from/to dates) into [from, to) in loc. Weeks
// start on Monday.
func reportRange(preset, from, to string, now time.Time, loc *time.Location) (time.Time, time.Time, error) {
	now = now.In(loc)
	day := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, loc)
	week := day.AddDate(0, 0, -((int(day.Weekday()) + 6) % 7))
	month := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, loc)
	year := time.Date(now.Year(), 1, 1, 0, 0, 0, 0, loc)
	switch preset {
	case "", "today":
		return day, day.AddDate(0, 0, 1), nil
	case "yesterday":
		return day.AddDate(0, 0, -1), day, nil
	case "this_week":
		return week, week.AddDate(0, 0, 7), nil
	case "last_week":
		return week.AddDate(0, 0, -7), week, nil
	case "this_month":
		return month, month.AddDate(0, 1, 0), nil
	case "last_month":
		return month.AddDate(0, -1, 0), month, nil
	case "this_year":
		return year, year.AddDate(1, 0, 0), nil
	case "last_year":
		return year.AddDate(-1, 0, 0), year, nil
	case "custom":
		f, err := time.ParseInLocation("2006-01-02", from, loc)
		if err != nil {
			return f, f, errBad("from", "from must be a date (YYYY-MM-DD)")
		}
		t, err := time.ParseInLocation("2006-01-02", to, loc)
		if err != nil {
			return f, t, errBad("to", "to must be a date (YYYY-MM-DD)")
		}
		if t.Before(f) {
			return f, t, errBad("to", "to is before from")
		}
		return f, t.AddDate(0, 0, 1), nil
	}
	return now, now, errBad("range", "range must be today, yesterday, this_week, last_week, this_month, last_month, this_year, last_year or custom")
}

type reportRowView struct {
	ID              string `json:"id"`
	CallDate        string `json:"callDate"`
	CallTime        string `json:"callTime"`
	Type            string `json:"type"`
	Direction       string `json:"direction"`
	Name            string `json:"name"`
	Campaign        string `json:"campaign"`
	CallerNumber    string `json:"callerNumber"`
	CustomerName    string `json:"customerName"`
	Recording       string `json:"recording"`
	Agent           string `json:"agent"`
	LeadID          string `json:"leadId,omitempty"`
	LeadStatus      string `json:"leadStatus,omitempty"`
	AbandonedID     string `json:"abandonedId,omitempty"`
	AbandonedStatus string `json:"abandonedStatus,omitempty"`
}

type reportGroupView struct {
	state.ReportGroup
	Name string `json:"name"`
	// Conversion is Job booked by SCL over flagged leads (0 without leads).
	Conversion float64 `json:"conversion"`
}

func groupView(g state.ReportGroup, name string) reportGroupView {
	v := reportGroupView{ReportGroup: g, Name: name}
	if g.Leads > 0 {
		v.Conversion = float64(g.BookedBySCL) / float64(g.Leads)
	}
	return v
}

// csvCell keeps spreadsheet programs from running a cell as a formula.
func csvCell(s string) string {
	if s != "" && (s[0] == '=' || s[0] == '+' || s[0] == '-' || s[0] == '@' || s[0] == '\t' || s[0] == '\r') {
		return "'" + s
	}
	return s
}

func (a *API) report(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	tenant := r.PathValue("tenant")
	q := r.URL.Query()
	dt := q.Get("date_type")
	switch dt {
	case "":
		dt = state.DateCall
	case state.DateCall, state.DateJobCreated, state.DateJobScheduled, state.DateJobCompleted:
	default:
		return errBad("date_type", "date_type must be call, job_created, job_scheduled or job_completed")
	}
	format := q.Get("format")
	if format != "" && format != "json" && format != "csv" {
		return errBad("format", "format must be json or csv")
	}
	var rows []reportRowView
	var byCampaign, byAgent []reportGroupView
	var totals reportGroupView
	var from, to time.Time
	var tz string
	err := a.view(r.Context(), func(tx *bbolt.Tx) error {
		if err := need(tx, rc, tenant, state.PermViewSCL, state.PermEditAbandoned); err != nil {
			return err
		}
		set, err := state.GetSettings(tx, tenant)
		if err != nil {
			return err
		}
		loc, err := time.LoadLocation(set.Timezone)
		if err != nil {
			loc = time.UTC
		}
		tz = loc.String()
		if from, to, err = reportRange(q.Get("range"), q.Get("from"), q.Get("to"), rc.now, loc); err != nil {
			return err
		}
		res, err := state.Report(tx, state.ReportQuery{Tenant: tenant, FromMs: from.UnixMilli(), ToMs: to.UnixMilli(), DateType: dt})
		if err != nil {
			return err
		}
		lk := newLookup(tx)
		rows = make([]reportRowView, 0, len(res.Rows))
		for _, row := range res.Rows {
			at := time.UnixMilli(row.StartedMs).In(loc)
			v := reportRowView{ID: row.CallID, CallDate: at.Format("2006-01-02"), CallTime: at.Format("15:04:05"), Type: row.Type,
				Direction: row.Direction, Name: row.Name, Campaign: lk.campaign(tenant, row.CampaignID), CallerNumber: row.CallerNumber,
				CustomerName: lk.customer(row.CustomerID), Agent: row.Agent, LeadID: row.LeadID, LeadStatus: row.LeadStatus,
				AbandonedID: row.AbandonedID, AbandonedStatus: row.AbStatus}
			if row.HasRecording {
				v.Recording = "/api/v1/calls/" + row.CallID + "/recording"
			}
			rows = append(rows, v)
		}
		byCampaign = make([]reportGroupView, 0, len(res.ByCampaign))
		for _, g := range res.ByCampaign {
			name := lk.campaign(tenant, g.Key)
			if g.Key == "" {
				name = "(no campaign)"
			}
			byCampaign = append(byCampaign, groupView(g, name))
		}
		byAgent = make([]reportGroupView, 0, len(res.ByAgent))
		for _, g := range res.ByAgent {
			name := lk.agent(tenant, g.Key)
			if name == "" {
				name = g.Key
			}
			if g.Key == "" {
				name = "(no agent)"
			}
			byAgent = append(byAgent, groupView(g, name))
		}
		totals = groupView(res.Totals, "total")
		return nil
	})
	if err != nil {
		return err
	}
	if format == "csv" {
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="unbooked-abandoned-%s-%s.csv"`, from.Format("20060102"), to.AddDate(0, 0, -1).Format("20060102")))
		cw := csv.NewWriter(w)
		_ = cw.Write([]string{"ID", "Call Date", "Call Time", "Call Type", "Direction", "Name", "Call Campaign", "Caller Phone Number", "Customer Name", "Recording"})
		for _, v := range rows {
			_ = cw.Write([]string{csvCell(v.ID), v.CallDate, v.CallTime, v.Type, v.Direction, csvCell(v.Name), csvCell(v.Campaign), csvCell(v.CallerNumber), csvCell(v.CustomerName), v.Recording})
		}
		cw.Flush()
		return cw.Error()
	}
	writeJSON(w, 200, map[string]any{"from": from, "to": to, "timezone": tz, "dateType": dt, "rows": rows,
		"byCampaign": byCampaign, "byAgent": byAgent, "totals": totals})
	return nil
}
