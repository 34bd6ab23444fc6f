package state

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"sort"
	"strings"
	"time"

	"go.etcd.io/bbolt"
)

// Read functions. They take a read transaction and never write.

// GetTenant returns a tenant.
func GetTenant(tx *bbolt.Tx, id string) (*Tenant, bool, error) {
	var t Tenant
	ok, err := getJSON(tx, bTenants, []byte(id), &t)
	return &t, ok, err
}

// ListTenants returns every tenant ordered by id.
func ListTenants(tx *bbolt.Tx) ([]Tenant, error) {
	return listJSON[Tenant](tx, bTenants, nil)
}

func listJSON[T any](tx *bbolt.Tx, bucket, prefix []byte) ([]T, error) {
	out := []T{}
	bk := tx.Bucket(bucket)
	if bk == nil {
		return out, nil
	}
	c := bk.Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		var t T
		if err := jsonUnmarshal(v, &t); err != nil {
			return nil, fmt.Errorf("decode %s/%q: %w", bucket, k, err)
		}
		out = append(out, t)
	}
	return out, nil
}

// GetUser returns a user by id.
func GetUser(tx *bbolt.Tx, id string) (*User, bool, error) {
	var u User
	ok, err := getJSON(tx, bUsers, []byte(id), &u)
	return &u, ok, err
}

// UserByUsername returns a user by (case-insensitive) username.
func UserByUsername(tx *bbolt.Tx, name string) (*User, bool, error) {
	bk := tx.Bucket(bUsernames)
	if bk == nil {
		return nil, false, nil
	}
	id := bk.Get([]byte(strings.ToLower(strings.TrimSpace(name))))
	if id == nil {
		return nil, false, nil
	}
	return GetUser(tx, string(id))
}

// AnyUser reports whether any user exists (bootstrap has happened).
func AnyUser(tx *bbolt.Tx) bool {
	bk := tx.Bucket(bUsers)
	if bk == nil {
		return false
	}
	k, _ := bk.Cursor().First()
	return k != nil
}

// UserByExtension returns the user with extension ext in tenant.
func UserByExtension(tx *bbolt.Tx, tenant, ext string) (*User, bool, error) {
	bk := tx.Bucket(bExtensions)
	if bk == nil || ext == "" {
		return nil, false, nil
	}
	id := bk.Get(key(tenant, ext))
	if id == nil {
		return nil, false, nil
	}
	return GetUser(tx, string(id))
}

// ListUsers returns the members of tenant ordered by username.
func ListUsers(tx *bbolt.Tx, tenant string) ([]User, error) {
	all, err := listJSON[User](tx, bUsers, nil)
	if err != nil {
		return nil, err
	}
	out := []User{}
	for _, u := range all {
		if _, ok := u.Membership(tenant); ok {
			out = append(out, u)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Username < out[j].Username })
	return out, nil
}

// SessionByHash returns a live session at now.
func SessionByHash(tx *bbolt.Tx, hash string, now time.Time) (*Session, bool, error) {
	var s Session
	ok, err := getJSON(tx, bSessions, []byte(hash), &s)
	if err != nil || !ok || s.ExpiresMs <= now.UnixMilli() {
		return nil, false, err
	}
	return &s, true, nil
}

// TokenByHash returns an API token by the hash of its value.
func TokenByHash(tx *bbolt.Tx, hash string) (*APIToken, bool, error) {
	var t tokenRec
	ok, err := getJSON(tx, bTokens, []byte(hash), &t)
	if err != nil || !ok {
		return nil, false, err
	}
	return &t.APIToken, true, nil
}

// ListTokens returns a user's API tokens ordered by id.
func ListTokens(tx *bbolt.Tx, userID string) ([]APIToken, error) {
	all, err := listJSON[tokenRec](tx, bTokens, nil)
	if err != nil {
		return nil, err
	}
	out := []APIToken{}
	for _, t := range all {
		if t.UserID == userID {
			out = append(out, t.APIToken)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// GetRole returns a tenant's role.
func GetRole(tx *bbolt.Tx, tenant, name string) (*Role, bool, error) {
	var r Role
	ok, err := getJSON(tx, bRoles, key(tenant, name), &r)
	return &r, ok, err
}

// ListRoles returns a tenant's roles ordered by name.
func ListRoles(tx *bbolt.Tx, tenant string) ([]Role, error) {
	return listJSON[Role](tx, bRoles, key(tenant, ""))
}

// Can reports whether user u holds permission p in tenant. Network admins hold everything.
func Can(tx *bbolt.Tx, u *User, tenant, p string) bool {
	if u == nil || u.Disabled {
		return false
	}
	if u.NetworkAdmin {
		_, ok, _ := GetTenant(tx, tenant)
		return ok
	}
	m, ok := u.Membership(tenant)
	if !ok {
		return false
	}
	r, ok, err := GetRole(tx, tenant, m.Role)
	return err == nil && ok && r.Has(p)
}

// IsMember reports whether u may see tenant at all (member or network admin).
func IsMember(tx *bbolt.Tx, u *User, tenant string) bool {
	if u == nil || u.Disabled {
		return false
	}
	if u.NetworkAdmin {
		_, ok, _ := GetTenant(tx, tenant)
		return ok
	}
	_, ok := u.Membership(tenant)
	return ok
}

// TenantsWith returns the tenants where u holds p, ordered by id.
func TenantsWith(tx *bbolt.Tx, u *User, p string) []string {
	var out []string
	if u.NetworkAdmin {
		ts, _ := ListTenants(tx)
		for _, t := range ts {
			out = append(out, t.ID)
		}
		return out
	}
	for _, m := range u.Memberships {
		if Can(tx, u, m.TenantID, p) {
			out = append(out, m.TenantID)
		}
	}
	sort.Strings(out)
	return out
}

// GetSettings returns a tenant's settings (defaults if never set).
func GetSettings(tx *bbolt.Tx, tenant string) (Settings, error) {
	s := DefaultSettings()
	_, err := getJSON(tx, bSettings, []byte(tenant), &s)
	return s, err
}

// VerifySiteToken checks an agent's site token; hub/ingest calls it on connect.
func VerifySiteToken(tx *bbolt.Tx, token string) (siteID, tenantID string, ok bool) {
	bk := tx.Bucket(bSiteTokens)
	if bk == nil || token == "" {
		return "", "", false
	}
	id := bk.Get([]byte(HashToken(token)))
	if id == nil {
		return "", "", false
	}
	var s Site
	if found, err := getJSON(tx, bSites, id, &s); err != nil || !found {
		return "", "", false
	}
	return s.ID, s.TenantID, true
}

// ListSites returns a tenant's sites ordered by id.
func ListSites(tx *bbolt.Tx, tenant string) ([]Site, error) {
	all, err := listJSON[Site](tx, bSites, nil)
	if err != nil {
		return nil, err
	}
	out := []Site{}
	for _, s := range all {
		if s.TenantID == tenant {
			out = append(out, s)
		}
	}
	return out, nil
}

// ListCampaigns returns a tenant's campaigns ordered by id.
func ListCampaigns(tx *bbolt.Tx, tenant string) ([]Campaign, error) {
	return listJSON[Campaign](tx, bCampaigns, key(tenant, ""))
}

// ListQueues returns a tenant's queues ordered by id.
func ListQueues(tx *bbolt.Tx, tenant string) ([]Queue, error) {
	return listJSON[Queue](tx, bQueues, key(tenant, ""))
}

// ListReasons returns a tenant's reasons ordered by id.
func ListReasons(tx *bbolt.Tx, tenant string) ([]Reason, error) {
	return listJSON[Reason](tx, bReasons, key(tenant, ""))
}

// GetReason returns a tenant's reason.
func GetReason(tx *bbolt.Tx, tenant, id string) (*Reason, bool, error) {
	var r Reason
	ok, err := getJSON(tx, bReasons, key(tenant, id), &r)
	return &r, ok, err
}

// GetCampaign returns a tenant's campaign.
func GetCampaign(tx *bbolt.Tx, tenant, id string) (*Campaign, bool, error) {
	var c Campaign
	ok, err := getJSON(tx, bCampaigns, key(tenant, id), &c)
	return &c, ok, err
}

// ListTrackingNumbers returns a tenant's tracking numbers ordered by number.
func ListTrackingNumbers(tx *bbolt.Tx, tenant string) ([]TrackingNumber, error) {
	all, err := listJSON[TrackingNumber](tx, bTracking, nil)
	if err != nil {
		return nil, err
	}
	out := []TrackingNumber{}
	for _, t := range all {
		if t.TenantID == tenant {
			out = append(out, t)
		}
	}
	return out, nil
}

// GetCustomer returns a customer.
func GetCustomer(tx *bbolt.Tx, id string) (*Customer, bool, error) {
	var c Customer
	ok, err := getJSON(tx, bCustomers, []byte(id), &c)
	return &c, ok, err
}

// GetLocation returns a location.
func GetLocation(tx *bbolt.Tx, id string) (*Location, bool, error) {
	var l Location
	ok, err := getJSON(tx, bLocations, []byte(id), &l)
	return &l, ok, err
}

// FindCustomers returns a tenant's customers with phone (if set) and a name containing q
// (if set), at most limit.
func FindCustomers(tx *bbolt.Tx, tenant, phone, q string, limit int) ([]Customer, error) {
	out := []Customer{}
	if phone != "" {
		for _, k := range prefixKeys(tx, bCustPhone, key(tenant, NormalizePhone(phone), "")) {
			c, ok, err := GetCustomer(tx, lastPart(k))
			if err != nil {
				return nil, err
			}
			if ok && (q == "" || containsFold(c.Name, q)) {
				out = append(out, *c)
			}
		}
		return out, nil
	}
	bk := tx.Bucket(bCustomers)
	if bk == nil {
		return out, nil
	}
	err := bk.ForEach(func(k, v []byte) error {
		if len(out) >= limit {
			return nil
		}
		var c Customer
		if err := jsonUnmarshal(v, &c); err != nil {
			return err
		}
		if c.TenantID == tenant && (q == "" || containsFold(c.Name, q)) {
			out = append(out, c)
		}
		return nil
	})
	return out, err
}

func containsFold(s, sub string) bool {
	return strings.Contains(strings.ToLower(s), strings.ToLower(sub))
}

// GetJob returns a job.
func GetJob(tx *bbolt.Tx, id string) (*Job, bool, error) {
	var j Job
	ok, err := getJSON(tx, bJobs, []byte(id), &j)
	return &j, ok, err
}

// GetCall returns a call.
func GetCall(tx *bbolt.Tx, id string) (*Call, bool, error) {
	var c Call
	ok, err := getJSON(tx, bCalls, []byte(id), &c)
	return &c, ok, err
}

// GetLead returns a lead.
func GetLead(tx *bbolt.Tx, id string) (*Lead, bool, error) {
	var l Lead
	ok, err := getJSON(tx, bLeads, []byte(id), &l)
	return &l, ok, err
}

// GetAbandoned returns an abandoned call entry.
func GetAbandoned(tx *bbolt.Tx, id string) (*Abandoned, bool, error) {
	var a Abandoned
	ok, err := getJSON(tx, bAbandoned, []byte(id), &a)
	return &a, ok, err
}

// ScoringModel returns a tenant's stored model bytes (nil if none).
func ScoringModel(tx *bbolt.Tx, tenant string) []byte {
	bk := tx.Bucket(bModels)
	if bk == nil {
		return nil
	}
	if v := bk.Get([]byte(tenant)); v != nil {
		return append([]byte(nil), v...)
	}
	return nil
}

// Audit returns an object's audit trail, oldest first.
func Audit(tx *bbolt.Tx, objID string, limit int) ([]AuditEntry, error) {
	out, err := listJSON[AuditEntry](tx, bAudit, key(objID, ""))
	if err != nil {
		return nil, err
	}
	if limit > 0 && len(out) > limit {
		out = out[len(out)-limit:]
	}
	return out, nil
}

// DueACW returns up to limit calls whose After Call Work window has ended by nowMs and
// that are not reviewed yet, oldest first.
func DueACW(tx *bbolt.Tx, nowMs int64, limit int) []string {
	bk := tx.Bucket(bACW)
	if bk == nil {
		return nil
	}
	var out []string
	c := bk.Cursor()
	for k, _ := c.First(); k != nil && len(out) < limit; k, _ = c.Next() {
		if int64(binary.BigEndian.Uint64(k[:8])) > nowMs {
			break
		}
		out = append(out, string(k[8:]))
	}
	return out
}

// LeadTab returns the tab a lead is in at now.
func LeadTab(l *Lead, s Settings, now time.Time) string {
	if leadDone(l.Status) {
		return TabDone
	}
	if l.LastActivityMs < now.Add(-time.Duration(s.ColdLeadDays)*24*time.Hour).UnixMilli() {
		return TabCold
	}
	return TabOpen
}

// AbandonedTab returns the tab an abandoned call is in at now.
func AbandonedTab(a *Abandoned, s Settings, now time.Time) string {
	if abDone(a.Status) {
		return TabDone
	}
	if a.LastActivityMs < now.Add(-time.Duration(s.AbandonedColdHours)*time.Hour).UnixMilli() {
		return TabCold
	}
	return TabOpen
}

// ListQuery selects leads or abandoned calls. Cold is computed at read time from Now and
// each tenant's settings, so no background job has to move items between tabs.
type ListQuery struct {
	Now      time.Time
	Tab      string   // open, cold, done
	Tenants  []string // tenants the caller may see (required)
	Statuses []string
	Type     string
	Reason   string
	Agent    string
	Campaign string
	Queue    string
	// Notes and Customer are substring filters (case-insensitive) that need the item.
	Notes    string
	Customer string
	// Age bounds: time since the call ended.
	AgeMin, AgeMax time.Duration
	// Duration bounds (abandoned calls).
	DurMin, DurMax time.Duration
	// Sort: "-activity" (default), "activity", "-age", "age". On the Done tab the order is
	// by the time the item was done.
	Sort   string
	Limit  int
	Cursor string
}

// Page is one page of results.
type Page[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"nextCursor"`
}

// ListLeads lists leads for q.
func ListLeads(tx *bbolt.Tx, q ListQuery) (Page[Lead], error) {
	out := Page[Lead]{Items: []Lead{}}
	err := scan(tx, q, bLeadAct, bLeadAge, bLeadDone, func(s Settings) time.Duration {
		return time.Duration(s.ColdLeadDays) * 24 * time.Hour
	}, func(id []byte) (bool, error) {
		var l Lead
		ok, err := getJSON(tx, bLeads, id, &l)
		if err != nil || !ok {
			return false, err
		}
		if q.Notes != "" && !leadNotesMatch(&l, q.Notes) {
			return false, nil
		}
		if q.Customer != "" && !customerMatch(tx, l.CustomerID, l.Phone, q.Customer) {
			return false, nil
		}
		out.Items = append(out.Items, l)
		return true, nil
	}, &out.NextCursor)
	return out, err
}

// ListAbandoned lists abandoned calls for q.
func ListAbandoned(tx *bbolt.Tx, q ListQuery) (Page[Abandoned], error) {
	out := Page[Abandoned]{Items: []Abandoned{}}
	err := scan(tx, q, bAbAct, bAbAge, bAbDone, func(s Settings) time.Duration {
		return time.Duration(s.AbandonedColdHours) * time.Hour
	}, func(id []byte) (bool, error) {
		var a Abandoned
		ok, err := getJSON(tx, bAbandoned, id, &a)
		if err != nil || !ok {
			return false, err
		}
		if q.Notes != "" {
			hit := false
			for _, n := range a.Notes {
				hit = hit || containsFold(n.Text, q.Notes)
			}
			if !hit {
				return false, nil
			}
		}
		if q.Customer != "" && !customerMatch(tx, a.CustomerID, a.Phone, q.Customer) {
			return false, nil
		}
		out.Items = append(out.Items, a)
		return true, nil
	}, &out.NextCursor)
	return out, err
}

func leadNotesMatch(l *Lead, sub string) bool {
	if containsFold(l.OriginalNotes, sub) {
		return true
	}
	for _, n := range l.Notes {
		if containsFold(n.Text, sub) {
			return true
		}
	}
	return false
}

func customerMatch(tx *bbolt.Tx, custID, phone, q string) bool {
	if d := NormalizePhone(q); d != "" && strings.Contains(phone, d) {
		return true
	}
	if custID == "" {
		return false
	}
	c, ok, _ := GetCustomer(tx, custID)
	return ok && containsFold(c.Name, q)
}

// scan walks the right index for q, filters on the compact index values, and calls take
// for candidates until Limit items were taken. The cursor is the last index key returned.
func scan(tx *bbolt.Tx, q ListQuery, act, age, done []byte, coldAfter func(Settings) time.Duration,
	take func(id []byte) (bool, error), next *string) error {
	if q.Limit <= 0 || q.Limit > 200 {
		q.Limit = 50
	}
	tenants := make(map[string]int64, len(q.Tenants))
	minCut := int64(1<<62 - 1)
	for _, t := range q.Tenants {
		s, err := GetSettings(tx, t)
		if err != nil {
			return err
		}
		cut := q.Now.Add(-coldAfter(s)).UnixMilli()
		tenants[t] = cut
		if cut < minCut {
			minCut = cut
		}
	}
	if len(tenants) == 0 {
		return nil
	}
	bucket, reverse := act, true
	byActivity := true
	switch q.Tab {
	case TabDone:
		bucket = done
		byActivity = false
		reverse = q.Sort != "activity" && q.Sort != "age"
	case TabOpen, TabCold, "":
		switch q.Sort {
		case "", "-activity":
		case "activity":
			reverse = false
		case "-age":
			bucket, byActivity = age, false
		case "age":
			bucket, byActivity, reverse = age, false, false
		default:
			return &Error{Code: CodeInvalid, Field: "sort", Message: "sort must be -activity, activity, -age or age"}
		}
	default:
		return &Error{Code: CodeInvalid, Field: "tab", Message: "tab must be open, cold or done"}
	}
	bk := tx.Bucket(bucket)
	if bk == nil {
		return nil
	}
	c := bk.Cursor()
	var k, v []byte
	if q.Cursor != "" {
		ck, err := base64.RawURLEncoding.DecodeString(q.Cursor)
		if err != nil || len(ck) < 8 {
			return &Error{Code: CodeInvalid, Field: "cursor", Message: "bad cursor"}
		}
		k, v = c.Seek(ck)
		if reverse {
			if k == nil {
				k, v = c.Last()
			}
			for k != nil && bytes.Compare(k, ck) >= 0 {
				k, v = c.Prev()
			}
		} else if k != nil && bytes.Equal(k, ck) {
			k, v = c.Next()
		}
	} else if reverse && byActivity && q.Tab == TabCold {
		// Everything at or after the newest cutoff is Open: start below it.
		maxCut := int64(0)
		for _, cut := range tenants {
			maxCut = max(maxCut, cut)
		}
		if k, _ = c.Seek(timeKey(maxCut, "")); k == nil {
			k, v = c.Last()
		} else {
			k, v = c.Prev()
		}
	} else if reverse {
		k, v = c.Last()
	} else if byActivity && q.Tab != TabCold && q.Tab != TabDone {
		// Oldest first on the Open tab: nothing older than the oldest cutoff is Open.
		k, v = c.Seek(timeKey(minCut, ""))
	} else {
		k, v = c.First()
	}
	step := c.Next
	if reverse {
		step = c.Prev
	}
	nowMs := q.Now.UnixMilli()
	statusSet := q.Statuses
	var r rawIdx
	taken := 0
	more := false
	for ; k != nil; k, v = step() {
		if !decodeIdx(v, &r) {
			continue
		}
		cut, ok := tenants[string(r.f[fTenant])]
		if !ok {
			continue
		}
		if q.Tab != TabDone {
			cold := r.ActivityMs < cut
			if (q.Tab == TabCold) != cold {
				// Sorted by activity, once past every tenant's cutoff in the scan
				// direction nothing further can match.
				if byActivity && reverse && q.Tab != TabCold && r.ActivityMs < minCut {
					break
				}
				continue
			}
		}
		if len(statusSet) > 0 && !inSet(r.f[fStatus], statusSet) {
			continue
		}
		if q.Type != "" && string(r.f[fType]) != q.Type {
			continue
		}
		if q.Reason != "" && string(r.f[fReason]) != q.Reason {
			continue
		}
		if q.Agent != "" && string(r.f[fAgent]) != q.Agent {
			continue
		}
		if q.Campaign != "" && string(r.f[fCampaign]) != q.Campaign {
			continue
		}
		if q.Queue != "" && string(r.f[fQueue]) != q.Queue {
			continue
		}
		ageMs := nowMs - r.EndedMs
		if q.AgeMin > 0 && ageMs < q.AgeMin.Milliseconds() {
			continue
		}
		if q.AgeMax > 0 && ageMs > q.AgeMax.Milliseconds() {
			continue
		}
		if q.DurMin > 0 && r.DurationMs < q.DurMin.Milliseconds() {
			continue
		}
		if q.DurMax > 0 && r.DurationMs > q.DurMax.Milliseconds() {
			continue
		}
		if taken == q.Limit {
			// One more match exists: the page has a successor.
			more = true
			break
		}
		ok, err := take(k[8:])
		if err != nil {
			return err
		}
		if ok {
			taken++
			*next = base64.RawURLEncoding.EncodeToString(k)
		}
	}
	if !more {
		*next = ""
	}
	return nil
}

func inSet(b []byte, set []string) bool {
	for _, s := range set {
		if string(b) == s {
			return true
		}
	}
	return false
}

// BookingBanner returns the newest lead in Open or Cold for phone in tenant whose call
// ended within banner_days of now.
func BookingBanner(tx *bbolt.Tx, tenant, phone string, now time.Time) (*Lead, error) {
	s, err := GetSettings(tx, tenant)
	if err != nil {
		return nil, err
	}
	p := NormalizePhone(phone)
	if p == "" {
		return nil, nil
	}
	since := now.Add(-time.Duration(s.BannerDays) * 24 * time.Hour).UnixMilli()
	var best *Lead
	for _, k := range prefixKeys(tx, bLeadPhone, key(tenant, p, "")) {
		l, ok, err := GetLead(tx, lastPart(k))
		if err != nil {
			return nil, err
		}
		if !ok || leadDone(l.Status) || l.CallEndedMs < since {
			continue
		}
		if best == nil || l.CallEndedMs > best.CallEndedMs {
			best = l
		}
	}
	return best, nil
}

// CallQuery selects calls of one tenant, newest first.
type CallQuery struct {
	Tenant  string
	Outcome string
	ACWOpen bool
	Since   time.Time
	Until   time.Time
	Limit   int
	Cursor  string
}

// ListCalls lists calls of a tenant by start time, newest first.
func ListCalls(tx *bbolt.Tx, q CallQuery) (Page[Call], error) {
	out := Page[Call]{Items: []Call{}}
	if q.Limit <= 0 || q.Limit > 200 {
		q.Limit = 50
	}
	bk := tx.Bucket(bCallTime)
	if bk == nil {
		return out, nil
	}
	prefix := key(q.Tenant, "")
	c := bk.Cursor()
	var k []byte
	if q.Cursor != "" {
		ck, err := base64.RawURLEncoding.DecodeString(q.Cursor)
		if err != nil || !bytes.HasPrefix(ck, prefix) {
			return out, &Error{Code: CodeInvalid, Field: "cursor", Message: "bad cursor"}
		}
		k, _ = c.Seek(ck)
		if k == nil {
			k, _ = c.Last()
		}
		for k != nil && bytes.Compare(k, ck) >= 0 {
			k, _ = c.Prev()
		}
	} else {
		end := append(append([]byte(nil), prefix...), 0xff)
		k, _ = c.Seek(end)
		if k == nil {
			k, _ = c.Last()
		} else {
			k, _ = c.Prev()
		}
	}
	for ; k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Prev() {
		if len(out.Items) == q.Limit {
			return out, nil
		}
		rest := k[len(prefix):]
		if len(rest) < 9 {
			continue
		}
		startMs := int64(binary.BigEndian.Uint64(rest[:8]))
		if !q.Until.IsZero() && startMs > q.Until.UnixMilli() {
			continue
		}
		if !q.Since.IsZero() && startMs < q.Since.UnixMilli() {
			break
		}
		call, ok, err := GetCall(tx, string(rest[9:]))
		if err != nil {
			return out, err
		}
		if !ok || (q.Outcome != "" && call.Outcome != q.Outcome) || (q.ACWOpen && !call.ACWOpen) {
			continue
		}
		call.Record = nil
		out.Items = append(out.Items, *call)
		out.NextCursor = base64.RawURLEncoding.EncodeToString(k)
	}
	out.NextCursor = ""
	return out, nil
}

// RepeatCalls counts the calls from phone to tenant that started in [beforeMs-window,
// beforeMs): the "repeat caller" input of a review.
func RepeatCalls(tx *bbolt.Tx, tenant, phone string, beforeMs int64, window time.Duration) int {
	bk := tx.Bucket(bCallerIdx)
	if bk == nil || phone == "" {
		return 0
	}
	prefix := key(tenant, phone, "")
	from := append(append([]byte(nil), prefix...), be64(uint64(beforeMs-window.Milliseconds()))...)
	n := 0
	c := bk.Cursor()
	for k, _ := c.Seek(from); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		if len(k) < len(prefix)+8 || int64(binary.BigEndian.Uint64(k[len(prefix):len(prefix)+8])) >= beforeMs {
			break
		}
		n++
	}
	return n
}

// Recipient is a user to tell about a new lead, with the channels allowed.
type Recipient struct {
	UserID string
	Name   string
	InApp  bool
	Email  string
	SMS    string
}

// LeadRecipients lists the users who may see a tenant's leads (View SCL), ordered by id,
// with their channels after the tenant's notification policy.
func LeadRecipients(tx *bbolt.Tx, tenant string) ([]Recipient, error) {
	s, err := GetSettings(tx, tenant)
	if err != nil {
		return nil, err
	}
	users, err := listJSON[User](tx, bUsers, nil)
	if err != nil {
		return nil, err
	}
	var out []Recipient
	for i := range users {
		u := &users[i]
		if u.Disabled || !Can(tx, u, tenant, PermViewSCL) {
			continue
		}
		r := Recipient{UserID: u.ID, Name: u.DisplayName, InApp: !u.Notify.InAppOff}
		if s.NotificationPolicy != "in_app_only" {
			r.Email, r.SMS = u.Notify.Email, u.Notify.SMS
		}
		out = append(out, r)
	}
	return out, nil
}
