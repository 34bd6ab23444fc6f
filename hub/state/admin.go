package state

import (
	"fmt"
	"sort"
	"strings"
)

// Command types. Bodies are versioned JSON (Command.Version 1), except call.ingest (a
// marshalled reboundv1.CallRecord) and scoring.model.set (opaque model bytes).
const (
	CmdBootstrap       = "bootstrap"
	CmdTenantCreate    = "tenant.create"
	CmdRolePut         = "role.put"
	CmdUserCreate      = "user.create"
	CmdUserUpdate      = "user.update"
	CmdUserNotify      = "user.notify"
	CmdLeadNotified    = "lead.notified"
	CmdSessionCreate   = "session.create"
	CmdSessionDelete   = "session.delete"
	CmdTokenCreate     = "token.create"
	CmdTokenDelete     = "token.delete"
	CmdSiteCreate      = "site.create"
	CmdSiteToken       = "site.token"
	CmdSettingsUpdate  = "settings.update"
	CmdCampaignCreate  = "campaign.create"
	CmdTrackingPut     = "tracking.put"
	CmdTrackingDelete  = "tracking.delete"
	CmdQueueCreate     = "queue.create"
	CmdReasonCreate    = "reason.create"
	CmdReasonUpdate    = "reason.update"
	CmdCustomerCreate  = "customer.create"
	CmdCustomerUpdate  = "customer.update"
	CmdLocationCreate  = "location.create"
	CmdLocationUpdate  = "location.update"
	CmdJobCreate       = "job.create"
	CmdJobUpdate       = "job.update"
	CmdCallIngest      = "call.ingest"
	CmdCallClassify    = "call.classify"
	CmdCallReview      = "call.review"
	CmdLeadStatus      = "lead.status"
	CmdLeadDismiss     = "lead.dismiss"
	CmdLeadNote        = "lead.note"
	CmdLeadCopyNote    = "lead.copy_note"
	CmdLeadCustomer    = "lead.change_customer"
	CmdLeadCall        = "lead.call"
	CmdLeadDialResult  = "lead.dial_result"
	CmdAbStatus        = "abandoned.status"
	CmdAbDismiss       = "abandoned.dismiss"
	CmdAbNote          = "abandoned.note"
	CmdAbCall          = "abandoned.call"
	CmdAbDialResult    = "abandoned.dial_result"
	CmdScoringModelSet = "scoring.model.set"
)

func (a *applier) run() (any, error) {
	switch a.cmd.GetType() {
	case CmdBootstrap:
		return a.bootstrap()
	case CmdTenantCreate:
		return a.tenantCreate()
	case CmdRolePut:
		return a.rolePut()
	case CmdUserCreate:
		return a.userCreate()
	case CmdUserUpdate:
		return a.userUpdate()
	case CmdUserNotify:
		return a.userNotify()
	case CmdLeadNotified:
		return a.leadNotified()
	case CmdSessionCreate:
		return a.sessionCreate()
	case CmdSessionDelete:
		return a.sessionDelete()
	case CmdTokenCreate:
		return a.tokenCreate()
	case CmdTokenDelete:
		return a.tokenDelete()
	case CmdSiteCreate, CmdSiteToken:
		return a.siteToken()
	case CmdSettingsUpdate:
		return a.settingsUpdate()
	case CmdCampaignCreate:
		return a.campaignCreate()
	case CmdTrackingPut:
		return a.trackingPut()
	case CmdTrackingDelete:
		return a.trackingDelete()
	case CmdQueueCreate:
		return a.queueCreate()
	case CmdReasonCreate, CmdReasonUpdate:
		return a.reasonPut()
	case CmdCustomerCreate, CmdCustomerUpdate:
		return a.customerPut()
	case CmdLocationCreate, CmdLocationUpdate:
		return a.locationPut()
	case CmdJobCreate:
		return a.jobCreate()
	case CmdJobUpdate:
		return a.jobUpdate()
	case CmdCallIngest:
		return a.callIngest()
	case CmdCallClassify:
		return a.callClassify()
	case CmdCallReview:
		return a.callReview()
	case CmdLeadStatus, CmdLeadDismiss, CmdLeadNote, CmdLeadCopyNote, CmdLeadCustomer, CmdLeadCall, CmdLeadDialResult:
		return a.leadCommand()
	case CmdAbStatus, CmdAbDismiss, CmdAbNote, CmdAbCall, CmdAbDialResult:
		return a.abandonedCommand()
	case CmdScoringModelSet:
		return a.modelSet()
	}
	return nil, invalid("type", "unknown command type %q", a.cmd.GetType())
}

func (a *applier) tenant() (*Tenant, error) {
	var t Tenant
	ok, err := getJSON(a.tx, bTenants, []byte(a.cmd.GetTenantId()), &t)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, notFound("tenant")
	}
	return &t, nil
}

func cleanName(field, s string, max int) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", invalid(field, "%s is required", field)
	}
	if len(s) > max {
		return "", invalid(field, "%s is longer than %d characters", field, max)
	}
	return s, nil
}

// BootstrapBody creates the first tenant and its network admin. It fails once any user exists.
type BootstrapBody struct {
	TenantName   string `json:"tenantName"`
	Username     string `json:"username"`
	DisplayName  string `json:"displayName"`
	PasswordHash string `json:"passwordHash"`
}

// BootstrapResult names what bootstrap created.
type BootstrapResult struct {
	TenantID string `json:"tenantId"`
	UserID   string `json:"userId"`
}

func (a *applier) bootstrap() (any, error) {
	var b BootstrapBody
	if err := a.body(&b); err != nil {
		return nil, err
	}
	if k, _ := a.tx.Bucket(bUsers).Cursor().First(); k != nil {
		return nil, conflict("already bootstrapped")
	}
	name, err := cleanName("tenantName", b.TenantName, 200)
	if err != nil {
		return nil, err
	}
	uname, err := cleanName("username", b.Username, 100)
	if err != nil {
		return nil, err
	}
	if b.PasswordHash == "" {
		return nil, invalid("password", "password is required")
	}
	t := a.createTenant(name)
	u := User{ID: a.newID("u"), Username: strings.ToLower(uname), DisplayName: b.DisplayName, PasswordHash: b.PasswordHash,
		NetworkAdmin: true, CreatedMs: a.at, Memberships: []Membership{{TenantID: t.ID, Role: "Admin"}}}
	if u.DisplayName == "" {
		u.DisplayName = uname
	}
	if err := a.putUser(&u, nil); err != nil {
		return nil, err
	}
	return BootstrapResult{TenantID: t.ID, UserID: u.ID}, a.audit(t.ID, "bootstrap", "tenant and admin "+u.Username+" created")
}

// TenantBody names a new tenant.
type TenantBody struct {
	Name string `json:"name"`
}

func (a *applier) createTenant(name string) Tenant {
	t := Tenant{ID: a.newID("t"), Name: name, CreatedMs: a.at}
	_ = putJSON(a.tx, bTenants, []byte(t.ID), t)
	_ = putJSON(a.tx, bSettings, []byte(t.ID), DefaultSettings())
	for _, r := range builtinRoles() {
		r.TenantID = t.ID
		_ = putJSON(a.tx, bRoles, key(t.ID, r.Name), r)
	}
	return t
}

func (a *applier) tenantCreate() (any, error) {
	var b TenantBody
	if err := a.body(&b); err != nil {
		return nil, err
	}
	name, err := cleanName("name", b.Name, 200)
	if err != nil {
		return nil, err
	}
	t := a.createTenant(name)
	return t, a.audit(t.ID, "tenant.create", name)
}

// RoleBody sets a role's permissions (creating the role if needed).
type RoleBody struct {
	Name        string   `json:"name"`
	Permissions []string `json:"permissions"`
}

func (a *applier) rolePut() (any, error) {
	var b RoleBody
	if err := a.body(&b); err != nil {
		return nil, err
	}
	if _, err := a.tenant(); err != nil {
		return nil, err
	}
	name, err := cleanName("name", b.Name, 60)
	if err != nil {
		return nil, err
	}
	perms := append([]string(nil), b.Permissions...)
	sort.Strings(perms)
	for _, p := range perms {
		if !validPermission(p) {
			return nil, invalid("permissions", "unknown permission %q", p)
		}
	}
	r := Role{TenantID: a.cmd.GetTenantId(), Name: name, Permissions: perms}
	if err := putJSON(a.tx, bRoles, key(r.TenantID, name), r); err != nil {
		return nil, err
	}
	return r, a.audit(r.TenantID, "role.put", name+": "+strings.Join(perms, ","))
}

// UserBody creates a user in the command's tenant, or adds an existing username to it.
type UserBody struct {
	UserID       string  `json:"userId,omitempty"`
	Username     string  `json:"username,omitempty"`
	DisplayName  *string `json:"displayName,omitempty"`
	PasswordHash string  `json:"passwordHash,omitempty"`
	Role         string  `json:"role,omitempty"`
	Extension    *string `json:"extension,omitempty"`
	Disabled     *bool   `json:"disabled,omitempty"`
}

func (a *applier) roleExists(tenant, role string) bool {
	return a.tx.Bucket(bRoles).Get(key(tenant, role)) != nil
}

// putUser writes u and keeps the username and extension indexes in step with old.
func (a *applier) putUser(u *User, old *User) error {
	if old != nil {
		for _, m := range old.Memberships {
			if m.Extension != "" {
				_ = del(a.tx, bExtensions, key(m.TenantID, m.Extension))
			}
		}
	}
	for _, m := range u.Memberships {
		if m.Extension != "" {
			if err := a.tx.Bucket(bExtensions).Put(key(m.TenantID, m.Extension), []byte(u.ID)); err != nil {
				return err
			}
		}
	}
	if err := a.tx.Bucket(bUsernames).Put([]byte(u.Username), []byte(u.ID)); err != nil {
		return err
	}
	return putJSON(a.tx, bUsers, []byte(u.ID), u)
}

func (a *applier) userCreate() (any, error) {
	var b UserBody
	if err := a.body(&b); err != nil {
		return nil, err
	}
	tid := a.cmd.GetTenantId()
	if _, err := a.tenant(); err != nil {
		return nil, err
	}
	uname, err := cleanName("username", b.Username, 100)
	if err != nil {
		return nil, err
	}
	uname = strings.ToLower(uname)
	if b.Role == "" || !a.roleExists(tid, b.Role) {
		return nil, invalid("role", "unknown role %q", b.Role)
	}
	ext := ""
	if b.Extension != nil {
		ext = strings.TrimSpace(*b.Extension)
	}
	if len(ext) > 32 {
		return nil, invalid("extension", "extension is longer than 32 characters")
	}
	if ext != "" {
		if owner := a.tx.Bucket(bExtensions).Get(key(tid, ext)); owner != nil {
			return nil, invalid("extension", "extension %s already belongs to another user", ext)
		}
	}
	if id := a.tx.Bucket(bUsernames).Get([]byte(uname)); id != nil {
		var u User
		if _, err := getJSON(a.tx, bUsers, id, &u); err != nil {
			return nil, err
		}
		if _, ok := u.Membership(tid); ok {
			return nil, conflict("user %s is already a member", uname)
		}
		old := u
		old.Memberships = append([]Membership(nil), u.Memberships...)
		u.Memberships = append(u.Memberships, Membership{TenantID: tid, Role: b.Role, Extension: ext})
		if err := a.putUser(&u, &old); err != nil {
			return nil, err
		}
		return u, a.audit(tid, "user.member", uname+" as "+b.Role)
	}
	if b.PasswordHash == "" {
		return nil, invalid("password", "password is required")
	}
	u := User{ID: a.newID("u"), Username: uname, PasswordHash: b.PasswordHash, CreatedMs: a.at,
		Memberships: []Membership{{TenantID: tid, Role: b.Role, Extension: ext}}}
	u.DisplayName = uname
	if b.DisplayName != nil && strings.TrimSpace(*b.DisplayName) != "" {
		u.DisplayName = strings.TrimSpace(*b.DisplayName)
	}
	if err := a.putUser(&u, nil); err != nil {
		return nil, err
	}
	return u, a.audit(tid, "user.create", uname+" as "+b.Role)
}

func (a *applier) userUpdate() (any, error) {
	var b UserBody
	if err := a.body(&b); err != nil {
		return nil, err
	}
	tid := a.cmd.GetTenantId()
	var u User
	ok, err := getJSON(a.tx, bUsers, []byte(b.UserID), &u)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, notFound("user")
	}
	old := u
	old.Memberships = append([]Membership(nil), u.Memberships...)
	// tenant "" is a self-service change (password only).
	if tid != "" {
		idx := -1
		for i, m := range u.Memberships {
			if m.TenantID == tid {
				idx = i
			}
		}
		if idx < 0 {
			return nil, notFound("user")
		}
		if b.Role != "" {
			if !a.roleExists(tid, b.Role) {
				return nil, invalid("role", "unknown role %q", b.Role)
			}
			u.Memberships[idx].Role = b.Role
		}
		if b.Extension != nil {
			ext := strings.TrimSpace(*b.Extension)
			if len(ext) > 32 {
				return nil, invalid("extension", "extension is longer than 32 characters")
			}
			if owner := a.tx.Bucket(bExtensions).Get(key(tid, ext)); ext != "" && owner != nil && string(owner) != u.ID {
				return nil, invalid("extension", "extension %s already belongs to another user", ext)
			}
			u.Memberships[idx].Extension = ext
		}
		if b.Disabled != nil {
			u.Disabled = *b.Disabled
		}
	}
	if b.DisplayName != nil && strings.TrimSpace(*b.DisplayName) != "" {
		u.DisplayName = strings.TrimSpace(*b.DisplayName)
	}
	if b.PasswordHash != "" {
		u.PasswordHash = b.PasswordHash
	}
	if err := a.putUser(&u, &old); err != nil {
		return nil, err
	}
	detail := u.Username
	if b.Role != "" {
		detail += " role " + b.Role
	}
	if b.PasswordHash != "" {
		detail += " password changed"
	}
	return u, a.audit(firstNonEmpty(tid, u.ID), "user.update", detail)
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}

// SessionBody creates or deletes a session. Hash is HashToken(cookie value).
type SessionBody struct {
	Hash      string `json:"hash"`
	UserID    string `json:"userId,omitempty"`
	CSRF      string `json:"csrf,omitempty"`
	ExpiresMs int64  `json:"expiresMs,omitempty"`
}

func (a *applier) sessionCreate() (any, error) {
	var b SessionBody
	if err := a.body(&b); err != nil {
		return nil, err
	}
	if len(b.Hash) != 64 || b.CSRF == "" || b.ExpiresMs <= a.at {
		return nil, invalid("hash", "bad session")
	}
	if a.tx.Bucket(bUsers).Get([]byte(b.UserID)) == nil {
		return nil, notFound("user")
	}
	// Drop expired sessions so the bucket does not grow without bound; the scan is over
	// keys in order, so every replica drops the same ones.
	c := a.tx.Bucket(bSessions).Cursor()
	var stale [][]byte
	for k, v := c.First(); k != nil; k, v = c.Next() {
		var s Session
		if err := jsonUnmarshal(v, &s); err == nil && s.ExpiresMs <= a.at {
			stale = append(stale, append([]byte(nil), k...))
		}
	}
	for _, k := range stale {
		_ = del(a.tx, bSessions, k)
	}
	s := Session{UserID: b.UserID, CSRF: b.CSRF, CreatedMs: a.at, ExpiresMs: b.ExpiresMs}
	return nil, putJSON(a.tx, bSessions, []byte(b.Hash), s)
}

func (a *applier) sessionDelete() (any, error) {
	var b SessionBody
	if err := a.body(&b); err != nil {
		return nil, err
	}
	return nil, del(a.tx, bSessions, []byte(b.Hash))
}

// TokenBody creates (Hash, Name) or deletes (ID) an API token of the actor.
type TokenBody struct {
	ID   string `json:"id,omitempty"`
	Hash string `json:"hash,omitempty"`
	Name string `json:"name,omitempty"`
}

func (a *applier) tokenCreate() (any, error) {
	var b TokenBody
	if err := a.body(&b); err != nil {
		return nil, err
	}
	name, err := cleanName("name", b.Name, 100)
	if err != nil {
		return nil, err
	}
	if len(b.Hash) != 64 {
		return nil, invalid("hash", "bad token hash")
	}
	if a.tx.Bucket(bUsers).Get([]byte(a.cmd.GetActor())) == nil {
		return nil, notFound("user")
	}
	t := APIToken{ID: a.newID("k"), UserID: a.cmd.GetActor(), Name: name, Hash: b.Hash, CreatedMs: a.at}
	if err := putJSON(a.tx, bTokens, []byte(b.Hash), tokenRecord(t)); err != nil {
		return nil, err
	}
	if err := a.tx.Bucket(bTokenIDs).Put([]byte(t.ID), []byte(b.Hash)); err != nil {
		return nil, err
	}
	return t, a.audit(t.UserID, "token.create", name)
}

// tokenRecord is the stored form of APIToken (the hash is the key, kept in the value too).
type tokenRec struct {
	APIToken
	StoredHash string `json:"hash"`
}

func tokenRecord(t APIToken) tokenRec { return tokenRec{APIToken: t, StoredHash: t.Hash} }

func (a *applier) tokenDelete() (any, error) {
	var b TokenBody
	if err := a.body(&b); err != nil {
		return nil, err
	}
	h := a.tx.Bucket(bTokenIDs).Get([]byte(b.ID))
	if h == nil {
		return nil, notFound("token")
	}
	var t tokenRec
	if _, err := getJSON(a.tx, bTokens, h, &t); err != nil {
		return nil, err
	}
	if t.UserID != a.cmd.GetActor() {
		return nil, notFound("token")
	}
	hash := append([]byte(nil), h...)
	_ = del(a.tx, bTokenIDs, []byte(b.ID))
	_ = del(a.tx, bTokens, hash)
	return nil, a.audit(t.UserID, "token.delete", t.Name)
}

// SiteBody creates a site (Name, TokenHash) or rotates its token (SiteID, TokenHash).
type SiteBody struct {
	SiteID    string `json:"siteId,omitempty"`
	Name      string `json:"name,omitempty"`
	TokenHash string `json:"tokenHash"`
}

func (a *applier) siteToken() (any, error) {
	var b SiteBody
	if err := a.body(&b); err != nil {
		return nil, err
	}
	if _, err := a.tenant(); err != nil {
		return nil, err
	}
	if len(b.TokenHash) != 64 {
		return nil, invalid("tokenHash", "bad token hash")
	}
	var s Site
	if a.cmd.GetType() == CmdSiteCreate {
		name, err := cleanName("name", b.Name, 100)
		if err != nil {
			return nil, err
		}
		s = Site{ID: a.newID("s"), TenantID: a.cmd.GetTenantId(), Name: name, CreatedMs: a.at}
	} else {
		ok, err := getJSON(a.tx, bSites, []byte(b.SiteID), &s)
		if err != nil {
			return nil, err
		}
		if !ok || s.TenantID != a.cmd.GetTenantId() {
			return nil, notFound("site")
		}
		var rec siteRec
		if _, err := getJSON(a.tx, bSites, []byte(s.ID), &rec); err != nil {
			return nil, err
		}
		_ = del(a.tx, bSiteTokens, []byte(rec.StoredHash))
	}
	s.TokenHash = b.TokenHash
	if err := putJSON(a.tx, bSites, []byte(s.ID), siteRec{Site: s, StoredHash: s.TokenHash}); err != nil {
		return nil, err
	}
	if err := a.tx.Bucket(bSiteTokens).Put([]byte(s.TokenHash), []byte(s.ID)); err != nil {
		return nil, err
	}
	return s, a.audit(s.TenantID, a.cmd.GetType(), s.Name)
}

type siteRec struct {
	Site
	StoredHash string `json:"tokenHash"`
}

// SettingsResult is the outcome of settings.update.
type SettingsResult struct {
	Settings Settings  `json:"settings"`
	Warnings []Warning `json:"warnings"`
}

func (a *applier) settingsUpdate() (any, error) {
	var p SettingsPatch
	if err := a.body(&p); err != nil {
		return nil, err
	}
	t, err := a.tenant()
	if err != nil {
		return nil, err
	}
	cur := DefaultSettings()
	if _, err := getJSON(a.tx, bSettings, []byte(t.ID), &cur); err != nil {
		return nil, err
	}
	next, err := p.Apply(cur)
	if err != nil {
		return nil, err
	}
	if err := putJSON(a.tx, bSettings, []byte(t.ID), next); err != nil {
		return nil, err
	}
	w := next.Warnings()
	if w == nil {
		w = []Warning{}
	}
	return SettingsResult{Settings: next, Warnings: w}, a.audit(t.ID, "settings.update", settingsDiff(cur, next))
}

func settingsDiff(a, b Settings) string {
	var parts []string
	add := func(name string, x, y any) {
		if fmt.Sprint(x) != fmt.Sprint(y) {
			parts = append(parts, fmt.Sprintf("%s: %v -> %v", name, x, y))
		}
	}
	add("scl_enabled", a.SCLEnabled, b.SCLEnabled)
	add("acw_minutes", a.ACWMinutes, b.ACWMinutes)
	add("cold_lead_days", a.ColdLeadDays, b.ColdLeadDays)
	add("abandoned_cold_hours", a.AbandonedColdHours, b.AbandonedColdHours)
	add("short_abandon_seconds", a.ShortAbandonSeconds, b.ShortAbandonSeconds)
	add("banner_days", a.BannerDays, b.BannerDays)
	add("auto_resolve_talk_seconds", a.AutoResolveTalkSeconds, b.AutoResolveTalkSeconds)
	add("timezone", a.Timezone, b.Timezone)
	add("notification_policy", a.NotificationPolicy, b.NotificationPolicy)
	add("outbound_caller_id", a.OutboundCallerID, b.OutboundCallerID)
	add("callback_number", a.CallbackNumber, b.CallbackNumber)
	return strings.Join(parts, "; ")
}

// NamedBody creates a campaign or a queue.
type NamedBody struct {
	Name string `json:"name"`
}

func (a *applier) campaignCreate() (any, error) {
	return namedCreate(a, "c", bCampaigns, "campaign", func(id, tenant, name string) Campaign {
		return Campaign{ID: id, TenantID: tenant, Name: name}
	})
}

func (a *applier) queueCreate() (any, error) {
	return namedCreate(a, "q", bQueues, "queue", func(id, tenant, name string) Queue {
		return Queue{ID: id, TenantID: tenant, Name: name}
	})
}

// namedCreate creates a campaign or a queue: both are only a name in a tenant.
func namedCreate[T any](a *applier, prefix string, bucket []byte, kind string, build func(id, tenant, name string) T) (any, error) {
	var b NamedBody
	if err := a.body(&b); err != nil {
		return nil, err
	}
	if _, err := a.tenant(); err != nil {
		return nil, err
	}
	name, err := cleanName("name", b.Name, 200)
	if err != nil {
		return nil, err
	}
	tenant := a.cmd.GetTenantId()
	id := a.newID(prefix)
	v := build(id, tenant, name)
	if err := putJSON(a.tx, bucket, key(tenant, id), v); err != nil {
		return nil, err
	}
	return v, a.audit(tenant, kind+".create", name)
}

func (a *applier) trackingPut() (any, error) {
	var b TrackingNumber
	if err := a.body(&b); err != nil {
		return nil, err
	}
	if _, err := a.tenant(); err != nil {
		return nil, err
	}
	num := NormalizePhone(b.Number)
	if len(num) > 32 {
		return nil, invalid("number", "number has more than 32 digits")
	}
	if len(num) < 3 {
		return nil, invalid("number", "number must have at least 3 digits")
	}
	if b.Kind == "" {
		b.Kind = "tracking"
	}
	if b.Kind != "tracking" && b.Kind != "direct" {
		return nil, invalid("kind", "kind must be tracking or direct")
	}
	tid := a.cmd.GetTenantId()
	if b.CampaignID != "" && a.tx.Bucket(bCampaigns).Get(key(tid, b.CampaignID)) == nil {
		return nil, invalid("campaignId", "unknown campaign")
	}
	var cur TrackingNumber
	if ok, _ := getJSON(a.tx, bTracking, []byte(num), &cur); ok && cur.TenantID != tid {
		return nil, conflict("number is assigned to another account")
	}
	t := TrackingNumber{Number: num, TenantID: tid, CampaignID: b.CampaignID, Kind: b.Kind}
	if err := putJSON(a.tx, bTracking, []byte(num), t); err != nil {
		return nil, err
	}
	return t, a.audit(tid, "tracking.put", num+" campaign "+b.CampaignID)
}

func (a *applier) trackingDelete() (any, error) {
	var b TrackingNumber
	if err := a.body(&b); err != nil {
		return nil, err
	}
	num := NormalizePhone(b.Number)
	var cur TrackingNumber
	if ok, _ := getJSON(a.tx, bTracking, []byte(num), &cur); !ok || cur.TenantID != a.cmd.GetTenantId() {
		return nil, notFound("tracking number")
	}
	_ = del(a.tx, bTracking, []byte(num))
	return nil, a.audit(cur.TenantID, "tracking.delete", num)
}

// ReasonBody creates or updates (ID set) a reason.
type ReasonBody struct {
	ID     string `json:"id,omitempty"`
	Name   string `json:"name"`
	IsLead bool   `json:"isLead"`
}

func (a *applier) reasonPut() (any, error) {
	var b ReasonBody
	if err := a.body(&b); err != nil {
		return nil, err
	}
	if _, err := a.tenant(); err != nil {
		return nil, err
	}
	name, err := cleanName("name", b.Name, 200)
	if err != nil {
		return nil, err
	}
	tid := a.cmd.GetTenantId()
	r := Reason{TenantID: tid, Name: name, IsLead: b.IsLead}
	if a.cmd.GetType() == CmdReasonUpdate {
		if a.tx.Bucket(bReasons).Get(key(tid, b.ID)) == nil {
			return nil, notFound("reason")
		}
		r.ID = b.ID
	} else {
		r.ID = a.newID("r")
	}
	if err := putJSON(a.tx, bReasons, key(tid, r.ID), r); err != nil {
		return nil, err
	}
	return r, a.audit(tid, a.cmd.GetType(), fmt.Sprintf("%s is_lead=%v", name, b.IsLead))
}

// CustomerBody creates or updates (ID set) a customer.
type CustomerBody struct {
	ID     string    `json:"id,omitempty"`
	Name   *string   `json:"name,omitempty"`
	Phones *[]string `json:"phones,omitempty"`
	Notes  *string   `json:"notes,omitempty"`
}

func (a *applier) customerPut() (any, error) {
	var b CustomerBody
	if err := a.body(&b); err != nil {
		return nil, err
	}
	if _, err := a.tenant(); err != nil {
		return nil, err
	}
	tid := a.cmd.GetTenantId()
	var c Customer
	if a.cmd.GetType() == CmdCustomerUpdate {
		ok, err := getJSON(a.tx, bCustomers, []byte(b.ID), &c)
		if err != nil {
			return nil, err
		}
		if !ok || c.TenantID != tid {
			return nil, notFound("customer")
		}
	} else {
		if b.Name == nil {
			return nil, invalid("name", "name is required")
		}
		c = Customer{ID: a.newID("cu"), TenantID: tid, Phones: []string{}, LocationIDs: []string{}}
	}
	if b.Name != nil {
		n, err := cleanName("name", *b.Name, 200)
		if err != nil {
			return nil, err
		}
		c.Name = n
	}
	if b.Notes != nil {
		c.Notes = *b.Notes
	}
	if b.Phones != nil {
		var phones []string
		for _, p := range *b.Phones {
			n := NormalizePhone(p)
			if len(n) > 32 {
				return nil, invalid("phones", "phone %q has more than 32 digits", p)
			}
			if len(n) < 3 {
				return nil, invalid("phones", "phone %q has too few digits", p)
			}
			phones = append(phones, n)
		}
		for _, p := range c.Phones {
			_ = del(a.tx, bCustPhone, key(tid, p, c.ID))
		}
		c.Phones = phones
		for _, p := range phones {
			if err := a.tx.Bucket(bCustPhone).Put(key(tid, p, c.ID), nil); err != nil {
				return nil, err
			}
		}
	}
	if err := putJSON(a.tx, bCustomers, []byte(c.ID), c); err != nil {
		return nil, err
	}
	return c, a.audit(c.ID, a.cmd.GetType(), c.Name)
}

// LocationBody creates (CustomerID set) or updates (ID set) a location.
type LocationBody struct {
	ID         string  `json:"id,omitempty"`
	CustomerID string  `json:"customerId,omitempty"`
	Address    *string `json:"address,omitempty"`
	Zone       *string `json:"zone,omitempty"`
	Notes      *string `json:"notes,omitempty"`
}

func (a *applier) locationPut() (any, error) {
	var b LocationBody
	if err := a.body(&b); err != nil {
		return nil, err
	}
	tid := a.cmd.GetTenantId()
	var l Location
	var cust Customer
	if a.cmd.GetType() == CmdLocationUpdate {
		ok, err := getJSON(a.tx, bLocations, []byte(b.ID), &l)
		if err != nil {
			return nil, err
		}
		if !ok || l.TenantID != tid {
			return nil, notFound("location")
		}
	} else {
		ok, err := getJSON(a.tx, bCustomers, []byte(b.CustomerID), &cust)
		if err != nil {
			return nil, err
		}
		if !ok || cust.TenantID != tid {
			return nil, notFound("customer")
		}
		if b.Address == nil || strings.TrimSpace(*b.Address) == "" {
			return nil, invalid("address", "address is required")
		}
		l = Location{ID: a.newID("lo"), TenantID: tid, CustomerID: cust.ID}
		cust.LocationIDs = append(cust.LocationIDs, l.ID)
		if err := putJSON(a.tx, bCustomers, []byte(cust.ID), cust); err != nil {
			return nil, err
		}
	}
	if b.Address != nil {
		l.Address = strings.TrimSpace(*b.Address)
	}
	if b.Zone != nil {
		l.Zone = strings.TrimSpace(*b.Zone)
	}
	if b.Notes != nil {
		l.Notes = *b.Notes
	}
	if err := putJSON(a.tx, bLocations, []byte(l.ID), l); err != nil {
		return nil, err
	}
	return l, a.audit(l.ID, a.cmd.GetType(), l.Address)
}

func (a *applier) modelSet() (any, error) {
	if _, err := a.tenant(); err != nil {
		return nil, err
	}
	body := a.cmd.GetBody()
	if len(body) == 0 {
		return nil, invalid("body", "empty model")
	}
	if err := a.tx.Bucket(bModels).Put([]byte(a.cmd.GetTenantId()), append([]byte(nil), body...)); err != nil {
		return nil, err
	}
	return map[string]int{"bytes": len(body)}, a.audit(a.cmd.GetTenantId(), "scoring.model.set", fmt.Sprintf("%d bytes", len(body)))
}

// userNotify sets the actor's own notification channels.
func (a *applier) userNotify() (any, error) {
	var b NotifyPrefs
	if err := a.body(&b); err != nil {
		return nil, err
	}
	var u User
	ok, err := getJSON(a.tx, bUsers, []byte(a.cmd.GetActor()), &u)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, notFound("user")
	}
	b.Email = strings.TrimSpace(b.Email)
	if b.Email != "" && (len(b.Email) > 254 || strings.Count(b.Email, "@") != 1 || strings.HasPrefix(b.Email, "@") ||
		strings.HasSuffix(b.Email, "@") || strings.ContainsAny(b.Email, " \r\n<>,;")) {
		return nil, invalid("email", "not an email address")
	}
	if b.SMS != "" {
		n := NormalizePhone(b.SMS)
		if len(n) < 7 || len(n) > 15 {
			return nil, invalid("sms", "not a phone number")
		}
		b.SMS = n
	}
	u.Notify = b
	if err := putJSON(a.tx, bUsers, []byte(u.ID), u); err != nil {
		return nil, err
	}
	return b, a.audit(u.ID, "user.notify", fmt.Sprintf("in-app %v, email %v, sms %v", !b.InAppOff, b.Email != "", b.SMS != ""))
}

// Delivery is the result of one notification.
type Delivery struct {
	UserID  string `json:"userId"`
	Channel string `json:"channel"`
	OK      bool   `json:"ok"`
	Error   string `json:"error,omitempty"`
}

// NotifiedBody records the notifications sent for a new lead.
type NotifiedBody struct {
	ID         string     `json:"id"`
	Deliveries []Delivery `json:"deliveries"`
}

func (a *applier) leadNotified() (any, error) {
	var b NotifiedBody
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
	var parts []string
	for _, d := range b.Deliveries {
		s := d.Channel + " to " + d.UserID + ": "
		if d.OK {
			s += "sent"
		} else {
			s += "failed (" + d.Error + ")"
		}
		parts = append(parts, s)
	}
	return nil, a.audit(l.ID, "lead.notified", strings.Join(parts, "; "))
}
