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
		Settings: Settings{SCLEnabled: true, ACWMinutes: 0, ColdDays: 3, BannerDays: 14, CallerIDOut: "+15125550100"},

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
