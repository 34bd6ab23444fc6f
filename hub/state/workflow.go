package state

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	reboundv1 "github.com/reboundhq/rebound/proto/rebound/v1"
	"google.golang.org/protobuf/proto"
)

// IngestResult is the outcome of call.ingest.
type IngestResult struct {
	CallID      string `json:"callId"`
	TenantID    string `json:"tenantId"`
	Duplicate   bool   `json:"duplicate,omitempty"`
	Revised     bool   `json:"revised,omitempty"`
	ACWOpen     bool   `json:"acwOpen,omitempty"`
	AbandonedID string `json:"abandonedId,omitempty"`
	Dropped     string `json:"dropped,omitempty"`
	// AutoResolved lists abandoned calls this answered call resolved.
	AutoResolved []string `json:"autoResolved,omitempty"`
}

func (a *applier) settingsOf(tenant string) Settings {
	s := DefaultSettings()
	_, _ = getJSON(a.tx, bSettings, []byte(tenant), &s)
	return s
}

func (a *applier) getCall(id string) (*Call, error) {
	var c Call
	ok, err := getJSON(a.tx, bCalls, []byte(id), &c)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, notFound("call")
	}
	return &c, nil
}

func (a *applier) callIngest() (any, error) {
	rec := &reboundv1.CallRecord{}
	if err := proto.Unmarshal(a.cmd.GetBody(), rec); err != nil {
		return nil, invalid("body", "bad call record: %v", err)
	}
	if rec.GetRecordId() == "" {
		return nil, invalid("record_id", "record_id is required")
	}
	if rec.GetCallId() == "" {
		return nil, invalid("call_id", "call_id is required")
	}
	// These end up in bbolt keys: bound them so a write can never fail half way.
	for _, f := range []struct {
		name, v string
		max     int
	}{{"record_id", rec.GetRecordId(), 256}, {"call_id", rec.GetCallId(), 256}, {"site_id", rec.GetSiteId(), 256},
		{"caller_number", rec.GetCallerNumber(), 256}, {"dialled_number", rec.GetDialledNumber(), 256}} {
		if len(f.v) > f.max {
			return nil, invalid(f.name, "%s is longer than %d bytes", f.name, f.max)
		}
	}
	if id := a.tx.Bucket(bRecords).Get([]byte(rec.GetRecordId())); id != nil {
		return IngestResult{CallID: string(id), Duplicate: true}, nil
	}
	raw := append([]byte(nil), a.cmd.GetBody()...)
	var existing Call
	if ok, err := getJSON(a.tx, bCalls, []byte(rec.GetCallId()), &existing); err != nil {
		return nil, err
	} else if ok {
		if err := a.tx.Bucket(bRecords).Put([]byte(rec.GetRecordId()), []byte(existing.ID)); err != nil {
			return nil, err
		}
		if rec.GetRevision() <= existing.Revision {
			return IngestResult{CallID: existing.ID, TenantID: existing.TenantID, Duplicate: true}, nil
		}
		// A later revision (late transcript, recording) replaces the record data; the
		// workflow state (ACW, classification, lead, abandoned entry) stays.
		existing.Revision = rec.GetRevision()
		existing.RecordID = rec.GetRecordId()
		existing.Record = raw
		existing.HasRecording = rec.GetRecording().GetRef() != ""
		existing.RecordingRef = rec.GetRecording().GetRef()
		if rec.GetCallerName() != "" {
			existing.CallerName = rec.GetCallerName()
		}
		if err := putJSON(a.tx, bCalls, []byte(existing.ID), existing); err != nil {
			return nil, err
		}
		return IngestResult{CallID: existing.ID, TenantID: existing.TenantID, Revised: true},
			a.audit(existing.ID, "call.revision", fmt.Sprintf("revision %d", rec.GetRevision()))
	}

	c := Call{ID: rec.GetCallId(), RecordID: rec.GetRecordId(), Revision: rec.GetRevision(), SiteID: rec.GetSiteId(),
		Direction:    strings.ToLower(strings.TrimPrefix(rec.GetDirection().String(), "DIRECTION_")),
		Outcome:      strings.ToLower(strings.TrimPrefix(rec.GetOutcome().String(), "OUTCOME_")),
		CallerNumber: NormalizePhone(rec.GetCallerNumber()), CallerName: rec.GetCallerName(),
		DialledNumber: NormalizePhone(rec.GetDialledNumber()), Queue: rec.GetQueue(), Agent: rec.GetAgentExtension(),
		TalkMs: rec.GetTalkMs(), WaitMs: rec.GetWaitMs(), Record: raw,
		HasRecording: rec.GetRecording().GetRef() != "", RecordingRef: rec.GetRecording().GetRef()}
	if t := rec.GetStartedAt(); t != nil {
		c.StartedMs = t.AsTime().UnixMilli()
	}
	if t := rec.GetAgentAnsweredAt(); t != nil {
		c.AnsweredMs = t.AsTime().UnixMilli()
	}
	if t := rec.GetEndedAt(); t != nil {
		c.EndedMs = t.AsTime().UnixMilli()
	}
	if c.EndedMs == 0 {
		c.EndedMs = c.StartedMs
	}
	// Tenant: the dialled tracking number decides, else the site's tenant, else the
	// command's tenant (set by ingest from the site token).
	var tn TrackingNumber
	if ok, _ := getJSON(a.tx, bTracking, []byte(c.DialledNumber), &tn); ok && c.DialledNumber != "" {
		c.TenantID, c.CampaignID = tn.TenantID, tn.CampaignID
	}
	if c.TenantID == "" && c.SiteID != "" {
		var s Site
		if ok, _ := getJSON(a.tx, bSites, []byte(c.SiteID), &s); ok {
			c.TenantID = s.TenantID
		}
	}
	if c.TenantID == "" {
		c.TenantID = a.cmd.GetTenantId()
	}
	if a.tx.Bucket(bTenants).Get([]byte(c.TenantID)) == nil {
		return nil, invalid("dialled_number", "call %s matches no tenant (no tracking number, site or tenant)", c.ID)
	}
	set := a.settingsOf(c.TenantID)
	a.matchCustomer(&c)
	res := IngestResult{CallID: c.ID, TenantID: c.TenantID}
	inbound := rec.GetDirection() == reboundv1.Direction_DIRECTION_INBOUND || rec.GetDirection() == reboundv1.Direction_DIRECTION_UNSPECIFIED

	switch {
	case inbound && rec.GetOutcome() == reboundv1.Outcome_OUTCOME_ABANDONED:
		dur := c.WaitMs
		if dur <= 0 {
			dur = c.EndedMs - c.StartedMs
		}
		if dur < int64(set.ShortAbandonSeconds)*1000 {
			c.Dropped = fmt.Sprintf("abandon shorter than short_abandon_seconds (%d s)", set.ShortAbandonSeconds)
			res.Dropped = c.Dropped
			break
		}
		ab := Abandoned{ID: a.newID("a"), TenantID: c.TenantID, CallID: c.ID, Status: AbNew, Phone: c.CallerNumber,
			CustomerID: c.CustomerID, Queue: c.Queue, CampaignID: c.CampaignID, DurationMs: dur, CallEndedMs: c.EndedMs,
			CreatedMs: a.at, LastActivityMs: a.at, Notes: []Note{}}
		if err := putAbandoned(a.tx, &ab, nil); err != nil {
			return nil, err
		}
		c.AbandonedID, res.AbandonedID = ab.ID, ab.ID
		if err := a.audit(ab.ID, "abandoned.create", "from call "+c.ID); err != nil {
			return nil, err
		}
	case inbound && rec.GetOutcome() == reboundv1.Outcome_OUTCOME_ANSWERED:
		if c.TalkMs > int64(set.AutoResolveTalkSeconds)*1000 && c.CallerNumber != "" {
			ids, err := a.autoResolve(&c)
			if err != nil {
				return nil, err
			}
			res.AutoResolved = ids
		}
		c.ACWOpen = true
		c.ACWEndsMs = c.EndedMs + int64(set.ACWMinutes)*60_000
		if err := a.tx.Bucket(bACW).Put(timeKey(c.ACWEndsMs, c.ID), []byte(c.TenantID)); err != nil {
			return nil, err
		}
		if err := a.tx.Bucket(bACWPhone).Put(key(c.TenantID, c.CallerNumber, c.ID), nil); err != nil {
			return nil, err
		}
		res.ACWOpen = true
	}
	if err := a.tx.Bucket(bRecords).Put([]byte(c.RecordID), []byte(c.ID)); err != nil {
		return nil, err
	}
	if err := a.tx.Bucket(bCallTime).Put(key(c.TenantID, be64(uint64(c.StartedMs)), c.ID), nil); err != nil {
		return nil, err
	}
	if c.CallerNumber != "" {
		if err := a.tx.Bucket(bCallerIdx).Put(key(c.TenantID, c.CallerNumber, be64(uint64(c.StartedMs)), c.ID), nil); err != nil {
			return nil, err
		}
	}
	if err := putJSON(a.tx, bCalls, []byte(c.ID), c); err != nil {
		return nil, err
	}
	return res, a.audit(c.ID, "call.ingest", c.Outcome+" "+c.Direction)
}

// matchCustomer attaches the customer whose phone matches the caller. Several matches pick
// the first by id and set the possible-incorrect-match flag with every candidate.
func (a *applier) matchCustomer(c *Call) {
	if c.CallerNumber == "" {
		return
	}
	var ids []string
	for _, k := range prefixKeys(a.tx, bCustPhone, key(c.TenantID, c.CallerNumber, "")) {
		ids = append(ids, lastPart(k))
	}
	if len(ids) == 0 {
		return
	}
	sort.Strings(ids)
	c.CustomerID = ids[0]
	if len(ids) > 1 {
		c.PossibleIncorrectMatch = true
		c.Candidates = ids
	}
	var cu Customer
	if ok, _ := getJSON(a.tx, bCustomers, []byte(c.CustomerID), &cu); ok && len(cu.LocationIDs) > 0 {
		c.LocationID = cu.LocationIDs[0]
	}
}

func (a *applier) autoResolve(c *Call) ([]string, error) {
	var out []string
	for _, k := range prefixKeys(a.tx, bAbPhone, key(c.TenantID, c.CallerNumber, "")) {
		var ab Abandoned
		ok, err := getJSON(a.tx, bAbandoned, []byte(lastPart(k)), &ab)
		if err != nil {
			return nil, err
		}
		if !ok || abDone(ab.Status) || ab.CallEndedMs > c.EndedMs {
			continue
		}
		old := ab
		ab.Status, ab.DoneMs, ab.LastActivityMs, ab.ResolvedByCall = AbAutoResolved, a.at, a.at, c.ID
		if err := putAbandoned(a.tx, &ab, &old); err != nil {
			return nil, err
		}
		if err := a.audit(ab.ID, "abandoned.status", fmt.Sprintf("%s -> %s: caller talked to agent %s for %d s on call %s", old.Status, ab.Status, c.Agent, c.TalkMs/1000, c.ID)); err != nil {
			return nil, err
		}
		out = append(out, ab.ID)
	}
	return out, nil
}

// ClassifyBody is the CSR's classification during After Call Work.
type ClassifyBody struct {
	CallID   string `json:"callId"`
	Type     string `json:"type"`
	ReasonID string `json:"reasonId"`
	Notes    string `json:"notes"`
}

func (a *applier) callClassify() (any, error) {
	var b ClassifyBody
	if err := a.body(&b); err != nil {
		return nil, err
	}
	c, err := a.getCall(b.CallID)
	if err != nil {
		return nil, err
	}
	if c.TenantID != a.cmd.GetTenantId() {
		return nil, notFound("call")
	}
	if !validCallType(b.Type) {
		return nil, invalid("type", "type must be Booked, Unbooked, Excused or Not a lead")
	}
	if b.ReasonID != "" && a.tx.Bucket(bReasons).Get(key(c.TenantID, b.ReasonID)) == nil {
		return nil, invalid("reasonId", "unknown reason")
	}
	if len(b.Notes) > 4000 {
		return nil, invalid("notes", "notes are longer than 4000 characters")
	}
	if !c.ACWOpen || a.at > c.ACWEndsMs {
		return nil, conflict("the After Call Work window of this call is closed")
	}
	c.Classification = &Classification{Type: b.Type, ReasonID: b.ReasonID, Notes: b.Notes, ByUser: a.cmd.GetActor(), AtMs: a.at}
	if b.Type == TypeBooked {
		c.Booked = true
	}
	if err := putJSON(a.tx, bCalls, []byte(c.ID), c); err != nil {
		return nil, err
	}
	return c, a.audit(c.ID, "call.classify", b.Type+" "+b.ReasonID)
}

// ReviewBody is a review result committed by the leader's scheduler.
type ReviewBody struct {
	CallID      string   `json:"callId"`
	Probability float64  `json:"probability"`
	Flagged     bool     `json:"flagged"`
	Summary     string   `json:"summary"`
	Signals     []Signal `json:"signals"`
	Reviewer    string   `json:"reviewer"`
}

// ReviewResult is the outcome of call.review.
type ReviewResult struct {
	CallID  string `json:"callId"`
	LeadID  string `json:"leadId,omitempty"`
	Skipped string `json:"skipped,omitempty"`
	Already bool   `json:"already,omitempty"`
}

func (a *applier) callReview() (any, error) {
	var b ReviewBody
	if err := a.body(&b); err != nil {
		return nil, err
	}
	if b.Probability < 0 || b.Probability > 1 {
		return nil, invalid("probability", "probability must be within 0..1")
	}
	c, err := a.getCall(b.CallID)
	if err != nil {
		return nil, err
	}
	if c.Reviewed || !c.ACWOpen {
		return ReviewResult{CallID: c.ID, LeadID: c.LeadID, Skipped: c.ReviewSkipped, Already: true}, nil
	}
	if err := del(a.tx, bACW, timeKey(c.ACWEndsMs, c.ID)); err != nil {
		return nil, err
	}
	if err := del(a.tx, bACWPhone, key(c.TenantID, c.CallerNumber, c.ID)); err != nil {
		return nil, err
	}
	c.ACWOpen, c.Reviewed = false, true
	eff := c.EffectiveClassification()
	if c.Classification == nil {
		c.Classification = &eff
	}
	set := a.settingsOf(c.TenantID)
	res := ReviewResult{CallID: c.ID}
	switch {
	case !set.SCLEnabled:
		c.ReviewSkipped = "scl_disabled"
	case c.Booked || eff.Type == TypeBooked:
		c.ReviewSkipped = "booked"
	case !b.Flagged:
		c.ReviewSkipped = "not_flagged"
	default:
		l := Lead{ID: a.newID("l"), TenantID: c.TenantID, CallID: c.ID, Status: LeadNew, Probability: b.Probability,
			Summary: b.Summary, Signals: b.Signals, Reviewer: b.Reviewer, Phone: c.CallerNumber, CustomerID: c.CustomerID,
			LocationID: c.LocationID, Type: eff.Type, ReasonID: eff.ReasonID, Agent: c.Agent, CampaignID: c.CampaignID,
			OriginalNotes: eff.Notes, Notes: []Note{}, CallEndedMs: c.EndedMs, CreatedMs: a.at, LastActivityMs: a.at}
		if l.Signals == nil {
			l.Signals = []Signal{}
		}
		if err := putLead(a.tx, &l, nil); err != nil {
			return nil, err
		}
		c.LeadID, res.LeadID = l.ID, l.ID
		if err := a.audit(l.ID, "lead.create", fmt.Sprintf("flagged by %s, p=%.2f", b.Reviewer, b.Probability)); err != nil {
			return nil, err
		}
	}
	res.Skipped = c.ReviewSkipped
	if err := putJSON(a.tx, bCalls, []byte(c.ID), c); err != nil {
		return nil, err
	}
	detail := fmt.Sprintf("%s p=%.2f flagged=%v", b.Reviewer, b.Probability, b.Flagged)
	if c.ReviewSkipped != "" {
		detail += " (" + c.ReviewSkipped + ")"
	}
	return res, a.audit(c.ID, "call.review", detail)
}

// Dismiss reasons.
const (
	DismissNotALead       = "not_a_lead"
	DismissNotFollowingUp = "not_following_up"
)

// ItemBody is the body of every lead.* and abandoned.* command.
type ItemBody struct {
	ID         string `json:"id"`
	Status     string `json:"status,omitempty"`
	Reason     string `json:"reason,omitempty"`
	Text       string `json:"text,omitempty"`
	NoteID     string `json:"noteId,omitempty"`
	Target     string `json:"target,omitempty"`
	CustomerID string `json:"customerId,omitempty"`
	LocationID string `json:"locationId,omitempty"`
	Extension  string `json:"extension,omitempty"`
	DialID     string `json:"dialId,omitempty"`
	Result     string `json:"result,omitempty"`
}

// ItemResult is the outcome of lead.* and abandoned.* commands.
type ItemResult struct {
	Lead      *Lead      `json:"lead,omitempty"`
	Abandoned *Abandoned `json:"abandoned,omitempty"`
	Note      *Note      `json:"note,omitempty"`
	DialID    string     `json:"dialId,omitempty"`
}

func (a *applier) newNote(text string) (Note, error) {
	text = strings.TrimSpace(text)
	if text == "" {
		return Note{}, invalid("text", "text is required")
	}
	if len(text) > 4000 {
		return Note{}, invalid("text", "text is longer than 4000 characters")
	}
	return Note{ID: a.newID("n"), Text: text, AuthorID: a.cmd.GetActor(), AtMs: a.at}, nil
}

func (a *applier) leadCommand() (any, error) {
	var b ItemBody
	if err := a.body(&b); err != nil {
		return nil, err
	}
	var l Lead
	ok, err := getJSON(a.tx, bLeads, []byte(b.ID), &l)
	if err != nil {
		return nil, err
	}
	if !ok || l.TenantID != a.cmd.GetTenantId() {
		return nil, notFound("lead")
	}
	old := l
	old.Notes = append([]Note(nil), l.Notes...)
	typ := a.cmd.GetType()
	res := ItemResult{}
	if leadFinal(l.Status) && typ != CmdLeadCopyNote && typ != CmdLeadDialResult && typ != CmdLeadCustomer {
		return nil, conflict("the lead is %s: it cannot change any more", l.Status)
	}
	setStatus := func(s string) {
		l.Status = s
		l.LastActivityMs = a.at
		if leadDone(s) {
			l.DoneMs = a.at
		} else {
			l.DoneMs = 0
		}
	}
	detail := ""
	switch typ {
	case CmdLeadStatus:
		if !leadManual(b.Status) {
			if leadFinal(b.Status) {
				return nil, invalid("status", "%s is set only by the system when a job is booked", b.Status)
			}
			return nil, invalid("status", "unknown status %q", b.Status)
		}
		detail = old.Status + " -> " + b.Status
		setStatus(b.Status)
	case CmdLeadDismiss:
		switch b.Reason {
		case DismissNotALead:
			setStatus(LeadReviewedNotLead)
		case DismissNotFollowingUp:
			setStatus(LeadNotFollowingUp)
		default:
			return nil, invalid("reason", "reason must be not_a_lead or not_following_up")
		}
		detail = old.Status + " -> " + l.Status + " (dismissed)"
	case CmdLeadNote:
		n, err := a.newNote(b.Text)
		if err != nil {
			return nil, err
		}
		l.Notes = append(l.Notes, n)
		l.LastActivityMs = a.at
		res.Note = &n
		detail = n.ID
	case CmdLeadCopyNote:
		text := ""
		for _, n := range l.Notes {
			if n.ID == b.NoteID {
				text = n.Text
			}
		}
		if text == "" {
			return nil, notFound("note")
		}
		if err := a.copyNote(b.Target, l.CustomerID, l.LocationID, text); err != nil {
			return nil, err
		}
		return ItemResult{Lead: &l}, a.audit(l.ID, typ, b.NoteID+" to "+b.Target)
	case CmdLeadCustomer:
		locID, err := a.checkCustomer(b.CustomerID, b.LocationID)
		if err != nil {
			return nil, err
		}
		l.CustomerID, l.LocationID = b.CustomerID, locID
		if err := a.setCallCustomer(l.CallID, b.CustomerID, locID); err != nil {
			return nil, err
		}
		detail = old.CustomerID + " -> " + b.CustomerID
	case CmdLeadCall:
		setStatus(LeadCallbackAttempt)
		l.CallbackAttempts++
		res.DialID = a.newID("d")
		detail = old.Status + " -> " + l.Status + " dial " + res.DialID + " ext " + b.Extension
	case CmdLeadDialResult:
		return ItemResult{Lead: &l}, a.audit(l.ID, typ, b.DialID+": "+b.Result)
	}
	if err := putLead(a.tx, &l, &old); err != nil {
		return nil, err
	}
	res.Lead = &l
	return res, a.audit(l.ID, typ, detail)
}

func (a *applier) checkCustomer(custID, locID string) (string, error) {
	var cu Customer
	ok, err := getJSON(a.tx, bCustomers, []byte(custID), &cu)
	if err != nil {
		return "", err
	}
	if !ok || cu.TenantID != a.cmd.GetTenantId() {
		return "", invalid("customerId", "unknown customer")
	}
	if locID == "" {
		if len(cu.LocationIDs) > 0 {
			return cu.LocationIDs[0], nil
		}
		return "", nil
	}
	for _, id := range cu.LocationIDs {
		if id == locID {
			return locID, nil
		}
	}
	return "", invalid("locationId", "the location does not belong to the customer")
}

func (a *applier) setCallCustomer(callID, custID, locID string) error {
	c, err := a.getCall(callID)
	if err != nil {
		return err
	}
	c.CustomerID, c.LocationID, c.PossibleIncorrectMatch = custID, locID, false
	if err := putJSON(a.tx, bCalls, []byte(c.ID), c); err != nil {
		return err
	}
	return a.audit(c.ID, "call.change_customer", custID)
}

func (a *applier) copyNote(target, custID, locID, text string) error {
	switch target {
	case "customer":
		var cu Customer
		if ok, err := getJSON(a.tx, bCustomers, []byte(custID), &cu); err != nil || !ok {
			return conflict("the lead has no customer record")
		}
		cu.Notes = appendNote(cu.Notes, text)
		if err := putJSON(a.tx, bCustomers, []byte(cu.ID), cu); err != nil {
			return err
		}
		return a.audit(cu.ID, "customer.note", "copied from lead")
	case "location":
		var lo Location
		if ok, err := getJSON(a.tx, bLocations, []byte(locID), &lo); err != nil || !ok {
			return conflict("the lead has no location record")
		}
		lo.Notes = appendNote(lo.Notes, text)
		if err := putJSON(a.tx, bLocations, []byte(lo.ID), lo); err != nil {
			return err
		}
		return a.audit(lo.ID, "location.note", "copied from lead")
	}
	return invalid("target", "target must be customer or location")
}

func appendNote(notes, text string) string {
	if notes == "" {
		return text
	}
	return notes + "\n" + text
}

func (a *applier) abandonedCommand() (any, error) {
	var b ItemBody
	if err := a.body(&b); err != nil {
		return nil, err
	}
	var ab Abandoned
	ok, err := getJSON(a.tx, bAbandoned, []byte(b.ID), &ab)
	if err != nil {
		return nil, err
	}
	if !ok || ab.TenantID != a.cmd.GetTenantId() {
		return nil, notFound("abandoned call")
	}
	old := ab
	old.Notes = append([]Note(nil), ab.Notes...)
	typ := a.cmd.GetType()
	res := ItemResult{}
	setStatus := func(s string) {
		ab.Status = s
		ab.LastActivityMs = a.at
		if abDone(s) {
			ab.DoneMs = a.at
		} else {
			ab.DoneMs = 0
		}
	}
	detail := ""
	switch typ {
	case CmdAbStatus:
		if !abManual(b.Status) {
			return nil, invalid("status", "status must be New, Callback Attempted, Follow-up Needed or Resolved")
		}
		detail = old.Status + " -> " + b.Status
		setStatus(b.Status)
	case CmdAbDismiss:
		setStatus(AbDismissed)
		detail = old.Status + " -> " + AbDismissed
	case CmdAbNote:
		n, err := a.newNote(b.Text)
		if err != nil {
			return nil, err
		}
		ab.Notes = append(ab.Notes, n)
		ab.LastActivityMs = a.at
		res.Note = &n
		detail = n.ID
	case CmdAbCall:
		setStatus(AbCallback)
		ab.CallbackAttempts++
		res.DialID = a.newID("d")
		detail = old.Status + " -> " + ab.Status + " dial " + res.DialID + " ext " + b.Extension
	case CmdAbDialResult:
		return ItemResult{Abandoned: &ab}, a.audit(ab.ID, typ, b.DialID+": "+b.Result)
	}
	if err := putAbandoned(a.tx, &ab, &old); err != nil {
		return nil, err
	}
	res.Abandoned = &ab
	return res, a.audit(ab.ID, typ, detail)
}

// JobBody creates or updates (ID set) a job.
type JobBody struct {
	ID          string `json:"id,omitempty"`
	ExternalID  string `json:"externalId,omitempty"`
	Phone       string `json:"phone,omitempty"`
	CustomerID  string `json:"customerId,omitempty"`
	LocationID  string `json:"locationId,omitempty"`
	CreatedMs   int64  `json:"createdMs,omitempty"`
	ScheduledMs *int64 `json:"scheduledMs,omitempty"`
	CompletedMs *int64 `json:"completedMs,omitempty"`
}

// ClosedLead names a lead a job closed.
type ClosedLead struct {
	ID     string `json:"id"`
	Status string `json:"status"`
}

// JobResult is the outcome of job.create and job.update.
type JobResult struct {
	Job         Job          `json:"job"`
	ClosedLeads []ClosedLead `json:"closedLeads"`
}

func (a *applier) jobCreate() (any, error) {
	var b JobBody
	if err := a.body(&b); err != nil {
		return nil, err
	}
	if _, err := a.tenant(); err != nil {
		return nil, err
	}
	tid := a.cmd.GetTenantId()
	j := Job{ID: a.newID("j"), TenantID: tid, ExternalID: b.ExternalID, Phone: NormalizePhone(b.Phone),
		CustomerID: b.CustomerID, CreatedMs: b.CreatedMs, ByUser: a.cmd.GetActor()}
	if j.CreatedMs == 0 {
		j.CreatedMs = a.at
	}
	if b.ScheduledMs != nil {
		j.ScheduledMs = *b.ScheduledMs
	}
	if b.CompletedMs != nil {
		j.CompletedMs = *b.CompletedMs
	}
	if j.Phone == "" && j.CustomerID == "" {
		return nil, invalid("phone", "phone or customerId is required")
	}
	phones := []string{}
	if j.Phone != "" {
		phones = append(phones, j.Phone)
	}
	if j.CustomerID != "" {
		loc, err := a.checkCustomer(j.CustomerID, b.LocationID)
		if err != nil {
			return nil, err
		}
		j.LocationID = loc
		var cu Customer
		_, _ = getJSON(a.tx, bCustomers, []byte(j.CustomerID), &cu)
		phones = append(phones, cu.Phones...)
	}
	// Every Open or Cold lead of that phone or customer closes.
	ids := map[string]bool{}
	for _, p := range phones {
		for _, k := range prefixKeys(a.tx, bLeadPhone, key(tid, p, "")) {
			ids[lastPart(k)] = true
		}
		// Calls still in After Call Work for this caller are booked: no lead for them.
		for _, k := range prefixKeys(a.tx, bACWPhone, key(tid, p, "")) {
			c, err := a.getCall(lastPart(k))
			if err != nil {
				return nil, err
			}
			c.Booked = true
			if err := putJSON(a.tx, bCalls, []byte(c.ID), c); err != nil {
				return nil, err
			}
			if err := a.audit(c.ID, "call.booked", "job "+j.ID); err != nil {
				return nil, err
			}
		}
	}
	if j.CustomerID != "" {
		for _, k := range prefixKeys(a.tx, bLeadCust, key(j.CustomerID, "")) {
			ids[lastPart(k)] = true
		}
	}
	sorted := make([]string, 0, len(ids))
	for id := range ids {
		sorted = append(sorted, id)
	}
	sort.Strings(sorted)
	res := JobResult{ClosedLeads: []ClosedLead{}}
	for _, id := range sorted {
		var l Lead
		if ok, err := getJSON(a.tx, bLeads, []byte(id), &l); err != nil {
			return nil, err
		} else if !ok || leadDone(l.Status) {
			continue
		}
		old := l
		l.Status = LeadJobBookedElsewhr
		if l.CallbackAttempts > 0 {
			l.Status = LeadJobBookedSCL
			if j.SourceLeadID == "" {
				j.SourceLeadID = l.ID
			}
		}
		l.DoneMs, l.LastActivityMs, l.JobID = a.at, a.at, j.ID
		if err := putLead(a.tx, &l, &old); err != nil {
			return nil, err
		}
		if err := a.audit(l.ID, "lead.status", old.Status+" -> "+l.Status+" (job "+j.ID+")"); err != nil {
			return nil, err
		}
		res.ClosedLeads = append(res.ClosedLeads, ClosedLead{ID: l.ID, Status: l.Status})
		j.LeadIDs = append(j.LeadIDs, l.ID)
	}
	if err := putJSON(a.tx, bJobs, []byte(j.ID), j); err != nil {
		return nil, err
	}
	res.Job = j
	return res, a.audit(j.ID, "job.create", fmt.Sprintf("phone %s customer %s, %d leads closed", j.Phone, j.CustomerID, len(res.ClosedLeads)))
}

func (a *applier) jobUpdate() (any, error) {
	var b JobBody
	if err := a.body(&b); err != nil {
		return nil, err
	}
	var j Job
	ok, err := getJSON(a.tx, bJobs, []byte(b.ID), &j)
	if err != nil {
		return nil, err
	}
	if !ok || j.TenantID != a.cmd.GetTenantId() {
		return nil, notFound("job")
	}
	if b.ScheduledMs != nil {
		j.ScheduledMs = *b.ScheduledMs
	}
	if b.CompletedMs != nil {
		j.CompletedMs = *b.CompletedMs
	}
	if b.ExternalID != "" {
		j.ExternalID = b.ExternalID
	}
	if err := putJSON(a.tx, bJobs, []byte(j.ID), j); err != nil {
		return nil, err
	}
	return JobResult{Job: j, ClosedLeads: []ClosedLead{}}, a.audit(j.ID, "job.update", "")
}

// DialResultCommand builds the command that records a click-to-call result reported by
// an agent (CommandResult for an AgentCommand whose DialCommand.lead_id is itemID). Lead
// ids start with "l_", abandoned call ids with "a_".
func DialResultCommand(tenant, itemID, dialID, result string) *reboundv1.Command {
	typ := CmdLeadDialResult
	if strings.HasPrefix(itemID, "a_") {
		typ = CmdAbDialResult
	}
	b, _ := json.Marshal(ItemBody{ID: itemID, DialID: dialID, Result: result})
	return &reboundv1.Command{Version: 1, Type: typ, TenantId: tenant, Actor: "system", Body: b}
}
