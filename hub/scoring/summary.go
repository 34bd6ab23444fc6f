package scoring

import (
	"fmt"
	"strings"
)

// The summary is built from the call itself, never invented: the first
// sentence says what the customer wanted, the second why the call did not
// book. Each comes from phrases found in the caller's words, the CSR's notes
// or the CSR's reason, in that order; when none is found it says so.

// services are the things a caller asks about, most specific first.
var services = []struct{ phrase, name string }{
	{"tankless", "a tankless water heater"}, {"water heater", "a water heater"}, {"hot water", "hot water"},
	{"heat pump", "a heat pump"}, {"furnace", "the furnace"}, {"boiler", "the boiler"},
	{"mini split", "a mini split"}, {"air condition", "the air conditioning"}, {"ac unit", "the AC unit"},
	{"thermostat", "a thermostat"}, {"duct", "the ductwork"}, {"heating", "the heating"}, {"cooling", "the cooling"},
	{"sewer", "the sewer line"}, {"drain", "a drain"}, {"toilet", "a toilet"}, {"faucet", "a faucet"},
	{"garbage disposal", "a garbage disposal"}, {"sump pump", "a sump pump"}, {"pipe", "the pipes"}, {"leak", "a leak"},
	{"hot tub", "a hot tub circuit"}, {"circuit", "a new circuit"}, {"rewir", "rewiring"},
	{"panel", "the electrical panel"}, {"breaker", "a breaker"}, {"ev charger", "an EV charger"},
	{"generator", "a generator"}, {"outlet", "outlets"}, {"wiring", "the wiring"}, {"ceiling fan", "a ceiling fan"}, {"lights", "lighting"},
	{"shingle", "the roof shingles"}, {"gutter", "gutters"}, {"skylight", "a skylight"}, {"roof", "the roof"},
	{"termite", "termites"}, {"bed bug", "bed bugs"}, {"roach", "roaches"}, {"ant", "ants"}, {"mice", "mice"},
	{"rat", "rats"}, {"wasp", "wasps"}, {"bees", "bees"}, {"pest", "pest control"},
	{"garage door opener", "a garage door opener"}, {"opener", "a garage door opener"}, {"spring", "a garage door spring"},
	{"garage door", "the garage door"},
	{"refrigerator", "the refrigerator"}, {"fridge", "the fridge"}, {"dishwasher", "the dishwasher"}, {"dryer", "the dryer"},
	{"washer", "the washer"}, {"washing machine", "the washing machine"}, {"oven", "the oven"}, {"stove", "the stove"},
	{"ice maker", "the ice maker"}, {"microwave", "the microwave"},
}

// asks are what the caller wanted done.
var asks = []struct{ phrase, verb string }{
	{"how much", "asked for a price on"}, {"price", "asked for a price on"}, {"cost", "asked what it would cost to fix"},
	{"quote", "wanted a quote for"}, {"estimate", "wanted an estimate for"}, {"ballpark", "asked for a ballpark price on"},
	{"replace", "wanted to replace"}, {"install", "wanted to install"}, {"new", "asked about a new"},
	{"repair", "wanted a repair on"}, {"fix", "wanted someone to fix"}, {"inspect", "wanted an inspection of"},
	{"broke", "called about"}, {"not working", "called about"}, {"leak", "called about"},
}

// outcomes say why a call did not book, most specific first.
var outcomes = []struct {
	phrases []string
	why     string
}{
	{[]string{"wrong number", "wrong num", "didnt mean to call", "meant to call", "dialed the wrong"}, "it was a wrong number"},
	{[]string{"landlord", "renting", "i rent", "renter", "property manager", "tenant"}, "the caller rents and cannot authorise the work"},
	{[]string{"job opening", "hiring", "apply", "resume", "looking for work", "position"}, "the caller was looking for a job, not service"},
	{[]string{"our company offers", "we offer", "partnership", "seo", "marketing services", "supplier", "vendor", "sales rep", "our product"}, "it was a vendor or sales call"},
	{[]string{"warranty", "extended auto", "press one", "final notice", "robot", "recorded message", "this is an automated"}, "it was spam or a robocall"},
	{[]string{"outside", "service area", "dont service", "dont cover", "too far", "don't service"}, "the caller is outside the service area"},
	{[]string{"already booked", "already scheduled with", "went with", "already hired", "someone else is coming", "already have someone"}, "the caller had already booked elsewhere"},
	{[]string{"when is the tech", "status", "still coming", "running late", "eta", "my appointment", "existing job", "reschedule my", "the invoice"}, "it was about an existing job"},
	{[]string{"complain", "not happy", "still broken", "came out last", "did a bad", "refund", "unhappy", "redo"}, "it was a complaint about finished work"},
	{[]string{"wife", "husband", "spouse", "partner", "check with"}, "the caller wanted to check with their spouse or partner first"},
	{[]string{"financ", "payment plan", "monthly payment", "credit"}, "the caller asked about financing before committing"},
	{[]string{"insurance"}, "the caller wanted to check their insurance first"},
	{[]string{"other company", "other quote", "shop around", "neighbor said", "neighbour said", "other places", "couple of places", "calling around", "competitor", "another company", "compar", "cheaper", "beat that"}, "the caller is comparing other companies' prices"},
	{[]string{"think about", "let me think", "mull", "sleep on it", "think it over", "call you back", "call back", "get back to you", "mull it over", "not sure yet"}, "the caller wanted to think about it"},
	{[]string{"schedul", "availability", "slots", "on shift", "roster", "no good", "no openings", "next week", "work that day", "out of town", "that time doesnt", "busy"}, "no appointment time suited the caller"},
	{[]string{"quote", "estimate", "ballpark", "how much", "price", "cost"}, "the caller only wanted a price for now"},
}

// Summarize returns the two-sentence summary of c.
func Summarize(c *Call) string {
	var caller strings.Builder
	has := c.HasTranscript()
	if has {
		for _, s := range c.Transcript.Segments {
			if channelOf(s.Channel) == 'c' {
				caller.WriteString(s.Text)
				caller.WriteByte(' ')
			}
		}
	}
	callerText := normText(caller.String())
	notes := normText(c.Classification.Notes)
	reason := normText(c.Classification.Reason)

	want := wanted(callerText)
	if want == "" {
		want = wanted(notes)
	}
	var first string
	switch {
	case want != "":
		first = "The caller " + want + "."
	case strings.TrimSpace(c.Classification.Notes) != "" && !c.HasTranscript():
		first = fmt.Sprintf("There is no transcript; the CSR noted %q.", clip(c.Classification.Notes, 120))
	case strings.TrimSpace(c.Classification.Notes) != "":
		first = fmt.Sprintf("The transcript does not say what the caller wanted; the CSR noted %q.", clip(c.Classification.Notes, 120))
	case !has:
		first = "There is no transcript and no CSR note, so what the caller wanted is unknown."
	default:
		first = "What the caller wanted is not clear from the call."
	}

	// The caller's own words first; then the reason the CSR chose, which is
	// a deliberate answer to exactly this question; free-text notes last
	// ("will check schedule and call back" is a scheduling conflict, not a
	// caller who wants to think about it).
	why := ""
	for _, src := range []string{callerText, reason, notes} {
		if why = whyNot(src); why != "" {
			break
		}
	}
	if why == "" && has {
		// Last resort: the agent's words ("we dont service that area").
		var all strings.Builder
		for _, s := range c.Transcript.Segments {
			all.WriteString(s.Text)
			all.WriteByte(' ')
		}
		why = whyNot(normText(all.String()))
	}
	var second string
	switch {
	case why != "":
		second = "It did not book because " + why + "."
	case strings.TrimSpace(c.Classification.Reason) != "":
		second = fmt.Sprintf("It did not book; the CSR's reason was %q.", c.Classification.Reason)
	default:
		second = "Why it did not book is not stated."
	}
	return first + " " + second
}

func wanted(text string) string {
	if text == "" {
		return ""
	}
	svc := ""
	for _, s := range services {
		if containsWord(text, s.phrase) {
			svc = s.name
			break
		}
	}
	ask := ""
	for _, a := range asks {
		if containsWord(text, a.phrase) {
			ask = a.verb
			break
		}
	}
	switch {
	case svc != "" && ask != "":
		if ask == "asked about a new" {
			return "asked about a new " + strings.TrimPrefix(strings.TrimPrefix(svc, "the "), "a ")
		}
		return ask + " " + svc
	case svc != "":
		return "called about " + svc
	}
	return ""
}

func whyNot(text string) string {
	if text == "" {
		return ""
	}
	for _, o := range outcomes {
		for _, p := range o.phrases {
			if containsWord(text, p) {
				return o.why
			}
		}
	}
	return ""
}

// normText lowers text and reduces punctuation to spaces, apostrophes dropped.
func normText(s string) string {
	b := make([]byte, 0, len(s)+2)
	b = append(b, ' ')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'A' && c <= 'Z':
			b = append(b, c+'a'-'A')
		case c == '\'':
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c >= 0x80:
			b = append(b, c)
		default:
			if b[len(b)-1] != ' ' {
				b = append(b, ' ')
			}
		}
	}
	return string(append(b, ' '))
}

// containsWord reports whether phrase occurs in normalised text starting at a
// word boundary ("ant" must not match "want"; "financ" may match "financing").
func containsWord(text, phrase string) bool {
	for off := 0; off < len(text); {
		i := strings.Index(text[off:], phrase)
		if i < 0 {
			return false
		}
		i += off
		if i > 0 && text[i-1] == ' ' {
			return true
		}
		off = i + 1
	}
	return false
}

func clip(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
