package state

import "strings"

// Permission keys. The labels are the reference product's.
const (
	PermViewSCL       = "scl.view"
	PermEditSCL       = "scl.edit"
	PermEditAbandoned = "abandoned.edit"
	PermFeatures      = "features.manage"
	PermSettings      = "settings.edit"
	PermPhone         = "phone.edit"
	PermUsersAdmin    = "users.admin"
)

// PermissionInfo is a permission key with its user-facing label.
type PermissionInfo struct {
	Key   string `json:"key"`
	Label string `json:"label"`
}

// Permissions lists every permission in display order.
func Permissions() []PermissionInfo {
	return []PermissionInfo{
		{PermViewSCL, "View SCL"},
		{PermEditSCL, "Edit SCL"},
		{PermEditAbandoned, "Edit Abandoned Calls"},
		{PermFeatures, "View & Edit Feature Management"},
		{PermSettings, "Edit TI, Follow Up & Reporting Settings"},
		{PermPhone, "Phone settings"},
		{PermUsersAdmin, "User administration"},
	}
}

func validPermission(p string) bool {
	for _, x := range Permissions() {
		if x.Key == p {
			return true
		}
	}
	return false
}

// builtinRoles are created with every tenant.
func builtinRoles() []Role {
	return []Role{
		{Name: "Admin", Permissions: []string{PermViewSCL, PermEditSCL, PermEditAbandoned, PermFeatures, PermSettings, PermPhone, PermUsersAdmin}},
		{Name: "Manager", Permissions: []string{PermViewSCL, PermEditSCL, PermEditAbandoned, PermFeatures, PermSettings, PermPhone}},
		{Name: "CSR", Permissions: []string{PermViewSCL, PermEditSCL, PermEditAbandoned}},
		{Name: "Viewer", Permissions: []string{PermViewSCL}},
	}
}

// Tenant is one account (company) in the network.
type Tenant struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	CreatedMs int64  `json:"createdMs"`
}

// Role is a named permission set within a tenant.
type Role struct {
	TenantID    string   `json:"tenantId,omitempty"`
	Name        string   `json:"name"`
	Permissions []string `json:"permissions"`
}

// Has reports whether the role grants p. Edit SCL includes View SCL: a broader permission
// carries its sub-permission, as in the reference product.
func (r Role) Has(p string) bool {
	for _, x := range r.Permissions {
		if x == p || (p == PermViewSCL && x == PermEditSCL) {
			return true
		}
	}
	return false
}

// Membership ties a user to a tenant with a role.
type Membership struct {
	TenantID  string `json:"tenantId"`
	Role      string `json:"role"`
	Extension string `json:"extension,omitempty"`
}

// User is a person who signs in.
type User struct {
	ID           string       `json:"id"`
	Username     string       `json:"username"`
	DisplayName  string       `json:"displayName"`
	PasswordHash string       `json:"passwordHash"`
	NetworkAdmin bool         `json:"networkAdmin"`
	Disabled     bool         `json:"disabled"`
	Memberships  []Membership `json:"memberships"`
	CreatedMs    int64        `json:"createdMs"`
	Notify       NotifyPrefs  `json:"notify"`
}

// NotifyPrefs are the channels a user wants new-lead notifications on. In-app is on
// unless turned off; email and SMS need an address. A tenant's notification_policy
// "in_app_only" overrides email and SMS.
type NotifyPrefs struct {
	InAppOff bool   `json:"inAppOff"`
	Email    string `json:"email"`
	SMS      string `json:"sms"`
}

// Membership returns the user's membership in tenant.
func (u *User) Membership(tenant string) (Membership, bool) {
	for _, m := range u.Memberships {
		if m.TenantID == tenant {
			return m, true
		}
	}
	return Membership{}, false
}

// Session is a browser session; the key is the hash of the cookie value.
type Session struct {
	UserID    string `json:"userId"`
	CSRF      string `json:"csrf"`
	CreatedMs int64  `json:"createdMs"`
	ExpiresMs int64  `json:"expiresMs"`
}

// APIToken is a bearer token acting as its user. Only the hash is stored.
type APIToken struct {
	ID        string `json:"id"`
	UserID    string `json:"userId"`
	Name      string `json:"name"`
	Hash      string `json:"-"`
	CreatedMs int64  `json:"createdMs"`
}

// Site is one agent location; its token hash authenticates the agent.
type Site struct {
	ID        string `json:"id"`
	TenantID  string `json:"tenantId"`
	Name      string `json:"name"`
	TokenHash string `json:"-"`
	CreatedMs int64  `json:"createdMs"`
}

// Campaign is a marketing campaign that tracking numbers attribute calls to.
type Campaign struct {
	ID       string `json:"id"`
	TenantID string `json:"tenantId"`
	Name     string `json:"name"`
}

// TrackingNumber maps a dialled number to a tenant and a campaign.
type TrackingNumber struct {
	Number     string `json:"number"`
	TenantID   string `json:"tenantId"`
	CampaignID string `json:"campaignId,omitempty"`
	Kind       string `json:"kind"` // tracking or direct
}

// Queue is a PBX queue name known to the tenant.
type Queue struct {
	ID       string `json:"id"`
	TenantID string `json:"tenantId"`
	Name     string `json:"name"`
}

// Reason is a classification reason; IsLead marks reasons that suggest a lead.
type Reason struct {
	ID       string `json:"id"`
	TenantID string `json:"tenantId"`
	Name     string `json:"name"`
	IsLead   bool   `json:"isLead"`
}

// Customer is a customer record with its phone numbers.
type Customer struct {
	ID          string   `json:"id"`
	TenantID    string   `json:"tenantId"`
	Name        string   `json:"name"`
	Phones      []string `json:"phones"`
	Notes       string   `json:"notes"`
	LocationIDs []string `json:"locationIds"`
}

// Location is a service location of a customer.
type Location struct {
	ID         string `json:"id"`
	TenantID   string `json:"tenantId"`
	CustomerID string `json:"customerId"`
	Address    string `json:"address"`
	Zone       string `json:"zone"`
	Notes      string `json:"notes"`
}

// Job is a booked job, usually reported by a field-service system.
type Job struct {
	ID           string `json:"id"`
	TenantID     string `json:"tenantId"`
	ExternalID   string `json:"externalId,omitempty"`
	Phone        string `json:"phone,omitempty"`
	CustomerID   string `json:"customerId,omitempty"`
	LocationID   string `json:"locationId,omitempty"`
	CreatedMs    int64  `json:"createdMs"`
	ScheduledMs  int64  `json:"scheduledMs,omitempty"`
	CompletedMs  int64  `json:"completedMs,omitempty"`
	SourceLeadID string `json:"sourceLeadId,omitempty"`
	// LeadIDs are the leads this job closed.
	LeadIDs []string `json:"leadIds,omitempty"`
	ByUser  string   `json:"byUser,omitempty"`
}

// Call types set during After Call Work.
const (
	TypeBooked   = "Booked"
	TypeUnbooked = "Unbooked"
	TypeExcused  = "Excused"
	TypeNotLead  = "Not a lead"
)

func validCallType(t string) bool {
	return t == TypeBooked || t == TypeUnbooked || t == TypeExcused || t == TypeNotLead
}

// Classification is the CSR's call classification (or the computed default).
type Classification struct {
	Type     string `json:"type"`
	ReasonID string `json:"reasonId,omitempty"`
	Notes    string `json:"notes,omitempty"`
	ByUser   string `json:"byUser,omitempty"`
	AtMs     int64  `json:"atMs,omitempty"`
	Default  bool   `json:"default"`
}

// Call is the hub's view of one call: the agent's record plus workflow state.
type Call struct {
	ID                     string          `json:"id"`
	RecordID               string          `json:"recordId"`
	Revision               uint32          `json:"revision"`
	TenantID               string          `json:"tenantId"`
	SiteID                 string          `json:"siteId"`
	Direction              string          `json:"direction"`
	Outcome                string          `json:"outcome"`
	CallerNumber           string          `json:"callerNumber"`
	CallerName             string          `json:"callerName,omitempty"`
	DialledNumber          string          `json:"dialledNumber"`
	CampaignID             string          `json:"campaignId,omitempty"`
	Queue                  string          `json:"queue,omitempty"`
	Agent                  string          `json:"agent,omitempty"`
	StartedMs              int64           `json:"startedMs"`
	AnsweredMs             int64           `json:"answeredMs,omitempty"`
	EndedMs                int64           `json:"endedMs"`
	TalkMs                 int64           `json:"talkMs"`
	WaitMs                 int64           `json:"waitMs"`
	CustomerID             string          `json:"customerId,omitempty"`
	LocationID             string          `json:"locationId,omitempty"`
	PossibleIncorrectMatch bool            `json:"possibleIncorrectMatch"`
	Candidates             []string        `json:"candidates,omitempty"`
	ACWEndsMs              int64           `json:"acwEndsMs,omitempty"`
	ACWOpen                bool            `json:"acwOpen"`
	Booked                 bool            `json:"booked"`
	Classification         *Classification `json:"classification,omitempty"`
	Reviewed               bool            `json:"reviewed"`
	ReviewSkipped          string          `json:"reviewSkipped,omitempty"`
	LeadID                 string          `json:"leadId,omitempty"`
	AbandonedID            string          `json:"abandonedId,omitempty"`
	Dropped                string          `json:"dropped,omitempty"`
	HasRecording           bool            `json:"hasRecording"`
	RecordingRef           string          `json:"recordingRef,omitempty"`
	Record                 []byte          `json:"record,omitempty"` // marshalled CallRecord of the latest revision
}

// EffectiveClassification is the CSR's classification, or the default: an answered call of
// 60 s or more with no job booked is Unbooked, a shorter one Excused.
func (c *Call) EffectiveClassification() Classification {
	if c.Classification != nil {
		return *c.Classification
	}
	if c.Booked {
		return Classification{Type: TypeBooked, Default: true}
	}
	if c.TalkMs >= 60_000 {
		return Classification{Type: TypeUnbooked, Default: true}
	}
	return Classification{Type: TypeExcused, Default: true}
}

// Lead statuses.
const (
	LeadNew              = "New"
	LeadCallbackAttempt  = "Lead - call back attempted"
	LeadNotAbleToSave    = "Lead - not able to save"
	LeadNotFollowingUp   = "Lead - not following up"
	LeadReviewedNotLead  = "Reviewed - not a lead"
	LeadJobBookedSCL     = "Job booked by SCL"
	LeadJobBookedElsewhr = "Job booked elsewhere"
)

// LeadStatuses lists every lead status in display order.
func LeadStatuses() []string {
	return []string{LeadNew, LeadCallbackAttempt, LeadNotAbleToSave, LeadNotFollowingUp, LeadReviewedNotLead, LeadJobBookedSCL, LeadJobBookedElsewhr}
}

func leadDone(s string) bool {
	return s != LeadNew && s != LeadCallbackAttempt
}

func leadFinal(s string) bool { return s == LeadJobBookedSCL || s == LeadJobBookedElsewhr }

func leadManual(s string) bool {
	switch s {
	case LeadNew, LeadCallbackAttempt, LeadNotAbleToSave, LeadNotFollowingUp, LeadReviewedNotLead:
		return true
	}
	return false
}

// Abandoned call statuses.
const (
	AbNew          = "New"
	AbCallback     = "Callback Attempted"
	AbFollowUp     = "Follow-up Needed"
	AbResolved     = "Resolved"
	AbAutoResolved = "Auto-Resolved"
	AbDismissed    = "Dismissed"
)

// AbandonedStatuses lists every abandoned call status in display order.
func AbandonedStatuses() []string {
	return []string{AbNew, AbCallback, AbFollowUp, AbResolved, AbAutoResolved, AbDismissed}
}

func abDone(s string) bool { return s == AbResolved || s == AbAutoResolved || s == AbDismissed }

func abManual(s string) bool {
	return s == AbNew || s == AbCallback || s == AbFollowUp || s == AbResolved
}

// Tabs.
const (
	TabOpen = "open"
	TabCold = "cold"
	TabDone = "done"
)

// Signal is one reason the reviewer gave, quoting the transcript where it can.
type Signal struct {
	Text  string `json:"text"`
	Quote string `json:"quote,omitempty"`
}

// Note is a note added while working a lead or an abandoned call.
type Note struct {
	ID       string `json:"id"`
	Text     string `json:"text"`
	AuthorID string `json:"authorId"`
	AtMs     int64  `json:"atMs"`
}

// Lead is a Second Chance Lead.
type Lead struct {
	ID               string   `json:"id"`
	TenantID         string   `json:"tenantId"`
	CallID           string   `json:"callId"`
	Status           string   `json:"status"`
	Probability      float64  `json:"probability"`
	Summary          string   `json:"summary"`
	Signals          []Signal `json:"signals"`
	Reviewer         string   `json:"reviewer"`
	Phone            string   `json:"phone"`
	CustomerID       string   `json:"customerId,omitempty"`
	LocationID       string   `json:"locationId,omitempty"`
	Type             string   `json:"type"`
	ReasonID         string   `json:"reasonId,omitempty"`
	Agent            string   `json:"agent,omitempty"`
	CampaignID       string   `json:"campaignId,omitempty"`
	OriginalNotes    string   `json:"originalNotes,omitempty"`
	Notes            []Note   `json:"notes"`
	CallEndedMs      int64    `json:"callEndedMs"`
	CreatedMs        int64    `json:"createdMs"`
	LastActivityMs   int64    `json:"lastActivityMs"`
	DoneMs           int64    `json:"doneMs,omitempty"`
	CallbackAttempts int      `json:"callbackAttempts"`
	JobID            string   `json:"jobId,omitempty"`
}

// Abandoned is an entry of the Abandoned Calls queue.
type Abandoned struct {
	ID               string `json:"id"`
	TenantID         string `json:"tenantId"`
	CallID           string `json:"callId"`
	Status           string `json:"status"`
	Phone            string `json:"phone"`
	CustomerID       string `json:"customerId,omitempty"`
	Queue            string `json:"queue,omitempty"`
	CampaignID       string `json:"campaignId,omitempty"`
	DurationMs       int64  `json:"durationMs"`
	CallEndedMs      int64  `json:"callEndedMs"`
	CreatedMs        int64  `json:"createdMs"`
	LastActivityMs   int64  `json:"lastActivityMs"`
	DoneMs           int64  `json:"doneMs,omitempty"`
	Notes            []Note `json:"notes"`
	CallbackAttempts int    `json:"callbackAttempts"`
	ResolvedByCall   string `json:"resolvedByCall,omitempty"`
}

// AuditEntry is one change to an object.
type AuditEntry struct {
	AtMs   int64  `json:"atMs"`
	Actor  string `json:"actor"`
	Action string `json:"action"`
	Detail string `json:"detail,omitempty"`
	Index  uint64 `json:"index"`
}

// NormalizePhone reduces a phone number or SIP URI user part to comparable digits: digits
// only, an international "00" prefix dropped, and a leading North American "1" dropped from
// 11-digit numbers, so "+1 (512) 555-0199", "15125550199" and "5125550199" match.
func NormalizePhone(s string) string {
	if i := strings.IndexByte(s, '@'); i >= 0 {
		s = s[:i]
	}
	var b strings.Builder
	for _, r := range s {
		if r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	d := b.String()
	d = strings.TrimPrefix(d, "00")
	if len(d) == 11 && d[0] == '1' {
		d = d[1:]
	}
	return d
}
