package samples

// Seed describes the demo account the sample calls belong to. The demo command
// creates it through the hub's API before it replays the calls.
type Seed struct {
	Tenant          Tenant
	Users           []User
	Campaigns       []string
	TrackingNumbers []TrackingNumber
	Reasons         []Reason
	Settings        Settings
	// Customers are already known to the business before the calls.
	Customers []Customer
	// Voices of the parties that are not users.
	AnnouncementVoice Voice
	GreetingVoice     Voice
	OnCallVoice       Voice
}

// Tenant is the demo business.
type Tenant struct {
	Name     string
	Timezone string
}

// User is a demo login. Passwords are not part of the seed: the demo makes
// fresh ones each run and prints them.
type User struct {
	Name      string
	Login     string
	Role      string // "admin" or "csr"
	Extension string // desk phone extension, empty for admins without one
	Voice     Voice  // espeak-ng voice used for this CSR in the samples
}

// TrackingNumber maps a dialled number to a campaign.
type TrackingNumber struct {
	Number   string // E.164
	Campaign string
}

// Customer is a known customer with one service location and, optionally,
// an open job (the existing-job caller asks about it).
type Customer struct {
	Name     string
	Phone    string // E.164
	Address  string
	Zone     string
	OpenJob  string // external job id in the field-service system, or ""
	JobNotes string
}

// Reason is an entry of the tenant's unbooked reason list.
type Reason struct {
	Name   string
	IsLead bool
}

// Settings are the tenant settings the demo uses.
type Settings struct {
	SCLEnabled  bool
	ACWMinutes  int
	ColdDays    int
	BannerDays  int
	CallerIDOut string
}

// DemoSeed returns the demo account.
func DemoSeed() Seed {
	return Seed{
		Tenant: Tenant{Name: "Rebound Plumbing & Heating", Timezone: "America/Chicago"},
		Users: []User{
			{Name: "Alex Rivera", Login: "admin@reboundplumbing.example", Role: "admin"},
			{Name: "Sam Ortiz", Login: "sam@reboundplumbing.example", Role: "csr", Extension: "201",
				Voice: Voice{Name: "en-us+m1", Pitch: 45, Speed: 165}},
			{Name: "Priya Natarajan", Login: "priya@reboundplumbing.example", Role: "csr", Extension: "202",
				Voice: Voice{Name: "en-us+f1", Pitch: 55, Speed: 165}},
		},
		Campaigns: []string{"Main line", "Google Ads - Water Heaters", "Yard Signs", "Website"},
		TrackingNumbers: []TrackingNumber{
			{Number: "+15125550100", Campaign: "Main line"},
			{Number: "+15125550188", Campaign: "Google Ads - Water Heaters"},
			{Number: "+15125550177", Campaign: "Yard Signs"},
			{Number: "+15125550166", Campaign: "Website"},
		},
		Reasons: []Reason{
			{Name: "Price shopping", IsLead: true},
			{Name: "Scheduling conflict", IsLead: true},
			{Name: "Wants to talk to spouse or partner", IsLead: true},
			{Name: "Not the decision maker", IsLead: false},
			{Name: "Existing job inquiry", IsLead: false},
			{Name: "Outside service area", IsLead: false},
			{Name: "Wrong number or spam", IsLead: false},
		},
		// ACW of one minute: 0 would review each call the moment it ends,
		// before a CSR could classify it; one minute is the shortest window
		// in which the demo's CSRs classify and leads still appear quickly.
		Settings: Settings{SCLEnabled: true, ACWMinutes: 1, ColdDays: 3, BannerDays: 14, CallerIDOut: "+15125550100"},
		Customers: []Customer{
			{Name: "Gloria Mendez", Phone: "+15125550117", Address: "2207 Willow Creek Dr, Austin TX 78744", Zone: "South",
				OpenJob: "FSM-1042", JobNotes: "Sewer line camera inspection and hydro-jetting"},
			{Name: "Derek Holloway", Phone: "+15125550112", Address: "88 Barton Hills Dr, Austin TX 78704", Zone: "Central"},
		},

		AnnouncementVoice: Voice{Name: "en-us+f4", Pitch: 50, Speed: 150},
		GreetingVoice:     Voice{Name: "en-gb+f3", Pitch: 50, Speed: 150},
		OnCallVoice:       Voice{Name: "en-us+m5", Pitch: 40, Speed: 170},
	}
}

// UserByExtension returns the demo user at a desk phone extension.
func (s Seed) UserByExtension(ext string) (User, bool) {
	for _, u := range s.Users {
		if u.Extension != "" && u.Extension == ext {
			return u, true
		}
	}
	return User{}, false
}

// Campaign returns the campaign of a tracking number, or "".
func (s Seed) Campaign(number string) string {
	for _, t := range s.TrackingNumbers {
		if t.Number == number {
			return t.Campaign
		}
	}
	return ""
}
