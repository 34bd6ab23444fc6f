// Command corpusgen writes the labelled call corpus the shipped scoring model
// is trained and tested on (hub/scoring/testdata/corpus.jsonl).
//
// Every phrase is hand-written below; the program only composes calls from
// them with a fixed seed, so the corpus is reproducible and reviewable. It
// mixes seven trades, seven lead kinds and nine non-lead kinds with ASR-style
// noise (lower case, no punctuation, fillers, misheard words, dropped words),
// short and long calls, calls with no transcript, misleading CSR reasons, a
// set of deliberately hard cases whose surface words point the wrong way, and
// a small rate of flipped labels (CSR mislabelling), so the held-out metrics
// are not a vocabulary lookup.
//
//	go run ./hub/scoring/internal/corpusgen -seed 7 -n 1400 -out hub/scoring/testdata/corpus.jsonl
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"

	"github.com/reboundhq/rebound/hub/scoring"
)

// record is one corpus line: a scoring.Call plus fields the scorer ignores
// but that let a reader (and the tests) see what each call was meant to be.
type record struct {
	scoring.Call
	Trade string `json:"trade"`
	Kind  string `json:"kind"`
	Hard  bool   `json:"hard,omitempty"`
	// Flipped marks a label deliberately inverted to model CSR mislabelling.
	Flipped bool `json:"flipped,omitempty"`
}

type item struct {
	thing    string   // "water heater"
	problems []string // "theres no hot water"
	jobs     []string // "replace the water heater"
	prices   []string
}

type trade struct {
	name      string
	companies []string
	items     []item
	tech      string
}

var trades = []trade{
	{"hvac", []string{"Comfort Air Heating and Cooling", "Summit HVAC", "Polar Bear Air"}, []item{
		{"furnace", []string{"the furnace is blowing cold air", "my furnace wont kick on", "the heater is making a banging noise", "the furnace keeps shutting off"}, []string{"replace the furnace", "fix the furnace", "put in a new furnace"}, []string{"four thousand", "thirty eight hundred", "five grand"}},
		{"ac", []string{"the ac is blowing warm air", "my air conditioner is leaking water inside", "the ac wont turn on at all", "the outside unit is frozen"}, []string{"replace the ac unit", "repair the air conditioner", "put in a new ac"}, []string{"six thousand", "seventy five hundred", "about five thousand"}},
		{"heat pump", []string{"the heat pump is running nonstop", "my heat pump is iced over"}, []string{"replace the heat pump", "service the heat pump"}, []string{"eight thousand", "nine grand"}},
		{"thermostat", []string{"the thermostat screen is blank", "the thermostat wont talk to the system"}, []string{"install a smart thermostat", "swap the thermostat"}, []string{"three hundred", "two fifty"}},
		{"ductwork", []string{"upstairs never cools down", "theres dust blowing out of the vents"}, []string{"clean the ducts", "redo the ductwork"}, []string{"six hundred", "two thousand"}},
	}, "hvac"},
	{"plumbing", []string{"Blue Wave Plumbing", "Rapid Rooter", "Pipeline Pros"}, []item{
		{"water heater", []string{"theres no hot water", "the water heater is leaking from the bottom", "the hot water runs out in like five minutes"}, []string{"replace the water heater", "put in a tankless water heater", "flush the water heater"}, []string{"eighteen hundred", "twenty two hundred", "thirty five hundred for tankless"}},
		{"drain", []string{"the kitchen drain is backed up", "the shower drain is super slow", "water is coming up in the basement floor drain"}, []string{"snake the drain", "hydro jet the line", "clear the drain"}, []string{"two twenty five", "one eighty nine", "four fifty"}},
		{"toilet", []string{"the toilet keeps running", "the toilet is leaking at the base"}, []string{"replace the toilet", "rebuild the toilet"}, []string{"three fifty", "five hundred installed"}},
		{"sewer line", []string{"sewage is backing up into the tub", "the sewer line keeps clogging"}, []string{"scope the sewer line", "replace the sewer line"}, []string{"three hundred for the camera", "twelve thousand"}},
		{"faucet", []string{"the kitchen faucet drips nonstop", "theres a leak under the sink"}, []string{"replace the faucet", "fix the leak under the sink"}, []string{"two hundred", "two seventy five"}},
		{"sump pump", []string{"the sump pump isnt kicking on", "the sump pump runs all the time"}, []string{"replace the sump pump", "put in a battery backup"}, []string{"nine hundred", "eleven hundred"}},
	}, "plumbing"},
	{"electrical", []string{"Bright Spark Electric", "Volt Masters", "Current Electric Co"}, []item{
		{"panel", []string{"the breaker keeps tripping", "the panel is buzzing", "we have an old fuse box"}, []string{"upgrade the panel", "replace the breaker panel", "swap the breaker"}, []string{"two thousand eight hundred", "thirty two hundred", "one fifty for the breaker"}},
		{"outlets", []string{"half the outlets in the kitchen are dead", "an outlet sparked when i plugged in the vacuum"}, []string{"replace the outlets", "add gfci outlets", "run a new circuit"}, []string{"one fifty per outlet", "four hundred"}},
		{"ev charger", []string{"we just bought an electric car", "i need a charger in the garage"}, []string{"install an ev charger", "put in a level two charger"}, []string{"twelve hundred", "fifteen hundred installed"}},
		{"ceiling fan", []string{"the ceiling fan wobbles and flickers", "i want fans in two bedrooms"}, []string{"install ceiling fans", "replace the ceiling fan"}, []string{"two hundred a fan", "three fifty"}},
		{"generator", []string{"the power keeps going out here", "we want backup power for storms"}, []string{"install a whole home generator", "put in a transfer switch"}, []string{"twelve thousand", "nine thousand"}},
	}, "electrician"},
	{"roofing", []string{"Top Notch Roofing", "Ridgeline Roofing", "Shelter Roofing and Gutters"}, []item{
		{"roof", []string{"the roof is leaking into the bedroom", "we lost some shingles in the storm", "theres a water stain on the ceiling"}, []string{"repair the roof", "replace the roof", "patch the leak"}, []string{"fourteen thousand", "nine hundred for the repair", "eighteen grand"}},
		{"gutters", []string{"the gutters are overflowing", "a gutter pulled off the house"}, []string{"replace the gutters", "install gutter guards", "rehang the gutter"}, []string{"two thousand", "eleven hundred"}},
		{"skylight", []string{"the skylight drips when it rains"}, []string{"reseal the skylight", "replace the skylight"}, []string{"seven hundred", "fifteen hundred"}},
	}, "roofer"},
	{"pest", []string{"Guardian Pest Control", "Bugs Be Gone", "Shield Pest Solutions"}, []item{
		{"termites", []string{"i found termites in the garage", "theres little piles of wood dust by the door"}, []string{"treat for termites", "do a termite inspection"}, []string{"twelve hundred", "eight hundred"}},
		{"ants", []string{"we have ants all over the kitchen", "carpenter ants in the deck"}, []string{"spray for ants", "treat the house"}, []string{"one fifty", "two hundred"}},
		{"mice", []string{"we hear mice in the walls at night", "theres mouse droppings in the pantry"}, []string{"get rid of the mice", "seal up the house"}, []string{"three hundred", "four fifty"}},
		{"roaches", []string{"we keep seeing roaches in the bathroom", "theres cockroaches in the kitchen"}, []string{"treat for roaches", "do a roach treatment"}, []string{"two fifty", "one ninety nine"}},
		{"wasps", []string{"theres a wasp nest by the front door", "bees are getting into the attic"}, []string{"remove the nest", "treat the wasp nest"}, []string{"one seventy five", "two twenty five"}},
		{"bed bugs", []string{"i think we have bed bugs", "we got bit up last night"}, []string{"do a bed bug treatment", "heat treat the bedroom"}, []string{"fifteen hundred", "nine hundred"}},
	}, "pest control tech"},
	{"garage", []string{"Overhead Door Experts", "Precision Garage Door", "A1 Garage Doors"}, []item{
		{"spring", []string{"the garage door spring snapped", "i heard a loud bang and the door wont open"}, []string{"replace the springs", "fix the spring"}, []string{"three twenty five", "two ninety"}},
		{"opener", []string{"the opener just hums and the door doesnt move", "the remote stopped working"}, []string{"replace the opener", "install a new opener"}, []string{"five fifty", "four hundred installed"}},
		{"garage door", []string{"the door came off the track", "the bottom panel is dented in", "the door goes down and comes right back up"}, []string{"put in a new garage door", "fix the track", "replace the panel"}, []string{"two thousand", "one thousand four hundred"}},
	}, "garage door tech"},
	{"appliance", []string{"Fix It Appliance Repair", "Mr Appliance Pros", "Hometown Appliance Service"}, []item{
		{"fridge", []string{"the fridge isnt cooling", "the freezer is fine but the fridge is warm", "the ice maker stopped working"}, []string{"fix the refrigerator", "repair the fridge"}, []string{"a ninety nine diagnostic", "around three hundred"}},
		{"washer", []string{"the washer wont drain", "the washing machine shakes really bad", "the washer wont spin"}, []string{"repair the washer", "fix the washing machine"}, []string{"eighty nine to come out", "two hundred"}},
		{"dryer", []string{"the dryer runs but doesnt heat", "the dryer is squeaking"}, []string{"fix the dryer", "replace the heating element"}, []string{"one seventy five", "two twenty"}},
		{"dishwasher", []string{"the dishwasher leaves water in the bottom", "the dishwasher wont start"}, []string{"repair the dishwasher", "fix the dishwasher pump"}, []string{"one fifty", "two forty"}},
		{"oven", []string{"the oven wont heat up", "one of the burners doesnt light"}, []string{"fix the oven", "replace the igniter"}, []string{"one ninety", "two sixty"}},
	}, "appliance tech"},
}

var (
	agentNames    = []string{"Maria", "James", "Ashley", "Kevin", "Tanya", "Luis", "Brittany", "Dev", "Sam", "Rachel"}
	callerNames   = []string{"John Miller", "Patricia Gomez", "Mike", "Linda Chen", "Robert Davis", "Karen", "Jose Martinez", "Sarah Johnson", "Tom", "Angela Brooks", "Dwayne", "Emily Nguyen"}
	competitors   = []string{"Roto Rooter", "One Hour", "Mr Rooter", "ARS", "Home Depot", "a guy my neighbour uses", "Benjamin Franklin", "the company down the street"}
	days          = []string{"tomorrow", "thursday", "friday morning", "monday", "next tuesday", "saturday", "this afternoon"}
	windows       = []string{"eight to ten", "ten to twelve", "between one and three", "two to four", "first thing in the morning"}
	farCities     = []string{"Fresno", "Springfield", "the county line", "Lake Havasu", "over in Riverside", "Bakersfield", "up north in Redding"}
	nearCities    = []string{"Oak Park", "Midtown", "Elk Grove", "Westside", "Cedar Hills"}
	fees          = []string{"eighty nine", "seventy nine", "ninety nine", "a hundred and twenty nine"}
	vendorCos     = []string{"LeadBoost Marketing", "ServicePro SEO", "ABC Parts Supply", "Premier Fleet Leasing", "Yelp advertising", "a merchant services company"}
	campaigns     = []string{"Google LSA", "Google Ads", "Yard signs", "Direct mail", "Website", "Truck wrap", "Referral", ""}
	healthFlagSet = []string{"ONE_WAY_AUDIO", "PACKET_LOSS", "SILENT_CHANNEL"}
)

// reasons is the tenant's reason list: name and its "is lead" flag.
var reasons = map[string]bool{
	"Price shopping": true, "Customer needs to think": true, "Needs decision maker approval": true,
	"Scheduling conflict": true, "Estimate requested": true, "Comparing competitors": true, "Financing question": true,
	"Not the property owner": false, "Existing job": false, "Wrong number": false, "Solicitor": false,
	"Job applicant": false, "Outside service area": false, "Complaint": false, "Booked with competitor": false,
	"Other": false, "Customer hung up": false, "General inquiry": true,
}

// kind is one reason a call did not book.
type kind struct {
	name   string
	label  int
	weight int
	reason string
	notes  []string
	body   func(g *gen) // appends the lines that make this kind
}

type line struct {
	agent bool
	text  string
}

// gen composes one call.
type gen struct {
	r      *rand.Rand
	tr     trade
	it     item
	co     string
	agent  string
	caller string
	lines  []line
}

func (g *gen) pickOf(s []string) string {
	return s[g.r.IntN(len(s))]
}
func (g *gen) chance(p float64) bool { return g.r.Float64() < p }

// fill replaces {placeholders} with this call's values.
func (g *gen) fill(s string) string {
	rep := strings.NewReplacer(
		"{thing}", g.it.thing, "{problem}", g.pickOf(g.it.problems), "{job}", g.pickOf(g.it.jobs),
		"{price}", g.pickOf(g.it.prices), "{company}", g.co, "{agent}", g.agent, "{name}", g.caller,
		"{competitor}", g.pickOf(competitors), "{day}", g.pickOf(days), "{window}", g.pickOf(windows),
		"{far}", g.pickOf(farCities), "{near}", g.pickOf(nearCities), "{fee}", g.pickOf(fees),
		"{vendor}", g.pickOf(vendorCos), "{tech}", g.tr.tech,
	)
	return rep.Replace(s)
}

func (g *gen) a(opts ...string) { g.lines = append(g.lines, line{true, g.fill(g.pickOf(opts))}) }
func (g *gen) c(opts ...string) { g.lines = append(g.lines, line{false, g.fill(g.pickOf(opts))}) }

func (g *gen) greet() {
	g.a("thank you for calling {company} this is {agent} how can i help you",
		"{company} this is {agent} speaking",
		"good morning {company} how can i help",
		"hi thanks for calling {company} my name is {agent} what can i do for you today",
		"{company} {agent} speaking how may i help you")
}

func (g *gen) problem() {
	g.c("hi yeah {problem}",
		"hey um i was calling because {problem}",
		"yes hi so {problem} and i need somebody to look at it",
		"hi there we have an issue with the {thing}, {problem}",
		"good morning, {problem}",
		"yeah hi i found you guys online, {problem}")
}

func (g *gen) offer() {
	g.a("we can get a tech out {day} {window} if that works",
		"i have an opening {day} {window}",
		"the service call is {fee} and that goes toward the repair, i can send someone {day}",
		"our diagnostic is {fee} and the tech can give you options on site, how does {day} look",
		"typically to {job} it runs about {price} but the tech will confirm on site")
}

func (g *gen) askPrice() {
	g.c("how much do you guys charge to {job}",
		"whats it gonna cost to {job}",
		"can you give me a ballpark on what it costs to {job}",
		"im just calling around getting prices to {job}",
		"what do you charge just to come out",
		"do you have a price for a new {thing}",
		"roughly what would you charge for that", "give me an idea of the price to {job}", "what are we talking cost wise")
	g.a("to {job} you are usually looking at {price}",
		"it depends but most of the time its around {price}",
		"the trip charge is {fee} and to {job} its about {price}",
		"ballpark about {price} installed")
}

// chatter is neutral talk both leads and non-leads contain; long calls get many.
func (g *gen) chatter(n int) {
	pairs := [][2][]string{
		{{"can i get your name please", "and who am i speaking with"}, {"its {name}", "yeah this is {name}", "{name}"}},
		{{"whats the address out there", "and the service address"}, {"its on maple street", "forty two oak drive", "we're on the corner of fifth and main in {near}", "its the yellow house on elm"}},
		{{"best number to reach you", "is this a good callback number"}, {"yeah this one is fine", "you can use my cell", "yes this number"}},
		{{"how old is the {thing}", "do you know how old it is"}, {"maybe ten years", "i think it came with the house", "not sure honestly", "like fifteen years"}},
		{{"how long has it been doing that", "when did it start"}, {"since last night", "a couple of days", "on and off for a week", "since the weekend"}},
		{{"is it making any noises", "anything else going on with it"}, {"a little rattling", "no just not working", "kind of a clicking"}},
		{{"do you have any pets at home", "will anyone be home"}, {"we have a dog", "my son is home most days", "no pets"}},
		{{"have you had us out before", "are you an existing customer"}, {"no first time", "i dont think so", "maybe years ago"}},
		{{"ok let me pull that up", "one second let me check"}, {"sure", "ok no problem", "take your time"}},
		{{"and how did you hear about us", "where did you find us"}, {"google", "saw your truck", "my neighbor", "a postcard"}},
		// Cue words in neutral use: they keep single words from deciding a call.
		{{"will anyone be home", "who will let the tech in"}, {"my wife will be home", "my husband works from home", "my spouse is home after three"}},
		{{"is this a home or a business", "is it a house or a condo"}, {"its a rental we own", "a house, we used to rent it out", "a condo"}},
		{{"do you have any coupons", "did you see our special"}, {"no i was just asking about the price", "no whats the price on that", "no"}},
		{{"have you used anyone else before", "who did the last service"}, {"another company did it years ago", "the previous owner used someone", "no idea"}},
		{{"any other questions for me", "anything else i can help with"}, {"no thats it, let me think, no", "i think thats all", "nope"}},
	}
	for range n {
		p := pairs[g.r.IntN(len(pairs))]
		g.a(p[0]...)
		g.c(p[1]...)
	}
}

func (g *gen) close(opts ...string) {
	if len(opts) == 0 {
		opts = []string{"ok thanks bye", "alright thank you", "ok bye", "thanks have a good one"}
	}
	g.c(opts...)
	if g.chance(0.7) {
		g.a("thanks for calling", "have a great day", "ok you too bye", "thank you bye bye")
	}
}

var kinds = []kind{
	// ---- leads ----
	{"price_shopping", 1, 10, "Price shopping", []string{"price shopping {thing}", "cx wanted price to {job}, calling around", "gave price {price}, cx shopping", "quoted {price}"}, func(g *gen) {
		g.problem()
		g.askPrice()
		g.c("ok thats more than i expected", "hmm ok im just getting a few prices", "alright im calling a few places", "ok and does that include labor", "wow ok",
			"thats a bit steep for me", "yikes ok thanks for the number", "ok i was hoping for less")
		if g.chance(0.5) {
			g.offer()
		}
		g.close("ok ill let you know", "let me call a couple other places and ill get back to you", "ok thank you ill call back", "ok thanks for the info",
			"im gonna get a few more numbers first", "let me see what others charge")
	}},
	{"think_about_it", 1, 9, "Customer needs to think", []string{"cx wants to think about it", "will think it over, {job}", "thinking about it", "not ready to commit"}, func(g *gen) {
		g.problem()
		g.offer()
		g.c("let me think about it and call you back", "i need to think it over", "ok let me mull it over and get back to you", "hmm let me sleep on it", "im not sure yet let me think about it", "let me think about it a little",
			"ill have a think and get back to you", "give me a day or two", "i wasnt expecting that, let me think", "ill sit on it tonight")
		g.a("no problem, do you want me to pencil you in", "sure, the {day} slot might go though", "ok just call us back when youre ready")
		g.close("no thats ok ill call back", "ill call back", "ok thanks", "ill let you know")
	}},
	{"check_spouse", 1, 8, "Needs decision maker approval", []string{"needs to check w/ spouse", "cx to talk to husband", "wife makes decision", "check with partner re {job}"}, func(g *gen) {
		g.problem()
		if g.chance(0.6) {
			g.askPrice()
		} else {
			g.offer()
		}
		g.c("i need to talk to my wife first", "let me check with my husband he handles this stuff", "my partner has to okay it", "i have to run it by my wife", "let me talk to my husband tonight and see", "my spouse usually deals with this",
			"i gotta ask the wife", "let me run it past my partner", "we make these decisions together, let me talk to him", "my boyfriend needs to see the price first")
		g.a("of course, want me to hold {day} for you", "sure, call us back once you talk it over", "ok no problem")
		g.close()
	}},
	{"scheduling_conflict", 1, 8, "Scheduling conflict", []string{"sched conflict, cx works", "no time worked for cx", "cx out of town til next wk", "wanted weekend, none open"}, func(g *gen) {
		g.problem()
		g.offer()
		g.c("oh i work that day", "im out of town until next week", "that doesnt work for me i cant be home then", "do you have anything on the weekend", "i cant do mornings", "i wont be home till after six",
			"im traveling for work all week", "weekdays are impossible for me", "can you do sunday", "thats too far out, i need it sooner")
		g.a("we dont have anything earlier unfortunately", "our next opening after that is next wednesday", "we dont do evenings sorry", "saturday is booked up")
		g.c("ok ill call back when i know my schedule", "let me see if i can get off work and call you back", "ok ill figure it out and call back", "ill have to check my calendar")
		g.close()
	}},
	{"wants_quote", 1, 8, "Estimate requested", []string{"wants estimate on {job}", "est requested", "cx wants quote {thing}", "quote for new {thing}"}, func(g *gen) {
		if g.chance(0.5) {
			g.problem()
		}
		g.c("can someone come out and give me a quote to {job}", "i just want an estimate for now", "im looking to get a quote on a new {thing}", "do you do free estimates", "id like somebody to look at it and give me a written quote",
			"can you send me a proposal", "i need a few bids for the hoa", "can someone look and give me options in writing")
		g.a("estimates for replacements are free, i can have a comfort advisor out {day}", "sure we can do an estimate {day} {window}", "a quote visit is free, when works")
		g.c("let me see when im free and call you back", "can you just email me something first", "ok ill call back to set it up", "im not sure when yet")
		g.close()
	}},
	{"competitor", 1, 7, "Comparing competitors", []string{"comparing w/ {competitor}", "cx has other quote", "wants us to beat competitor", "shopping other cos"}, func(g *gen) {
		g.problem()
		g.c("i got a quote from {competitor} for {price} can you beat that", "another company told me {price}, whats yours", "{competitor} said they could do it cheaper", "im comparing a couple of companies", "i already got one quote and wanted a second opinion",
			"the big box store quoted me {price}", "someone else quoted less and threw in a warranty", "i want to compare numbers before i pick")
		g.a("we dont match quotes but our price is {price} with a ten year warranty", "i cant beat it over the phone but the tech can look", "our price to {job} is {price}")
		g.c("ok let me compare and get back to you", "hmm ok ill think about which one", "alright ill see what they say", "ok let me compare the two")
		g.close()
	}},
	{"financing", 1, 6, "Financing question", []string{"asked about financing", "cx needs payment plan", "financing q, {job}", "wants monthly payments"}, func(g *gen) {
		g.problem()
		if g.chance(0.5) {
			g.askPrice()
		}
		g.c("do you guys do financing", "is there any kind of payment plan", "can i make monthly payments on that", "do you offer financing with no interest", "i cant pay that all at once",
			"do you take payments", "any zero percent deals right now", "can i split it into installments", "do you have anything for people with bad credit")
		g.a("yes we offer financing with approved credit, the application takes five minutes", "we have twelve months same as cash", "we work with a finance company, i can text you the link")
		g.c("ok let me see if i qualify and call back", "ok send me the link ill look at it", "alright ill apply and get back to you", "let me check my credit first")
		g.close()
	}},
	// ---- non-leads ----
	{"renter", 0, 7, "Not the property owner", []string{"renter, needs LL approval", "tenant - owner must call", "cx rents, cant authorize", "landlord to call back"}, func(g *gen) {
		g.problem()
		g.a("are you the homeowner", "do you own the home", "is this your property")
		g.c("no i rent, the landlord would have to pay", "im renting, my landlord told me to call around", "im a tenant, the owner lives out of state", "no its a rental, the property manager handles that", "no i rent",
			"im just renting", "its my landlords house", "no were leasing, the owner is away")
		g.a("we would need the owner to authorise the work", "we need the property owner to approve and pay", "have the landlord give us a call")
		g.c("ok ill tell him", "ok ill have my landlord call", "ok ill let the property manager know", "oh ok")
		g.close()
	}},
	{"existing_job", 0, 8, "Existing job", []string{"status on existing job", "eta request", "cx asking about tech arrival", "invoice question", "resched existing appt"}, func(g *gen) {
		g.c("hi you guys have a tech coming today, when is he going to get here", "im calling about my appointment tomorrow", "i wanted to check the status of my job", "i have a question about the invoice you sent", "the tech was supposed to be here at ten and nobody showed", "i need to reschedule my appointment for {day}", "is the part in yet for my {thing}",
			"im following up on the work order from monday", "did you get my payment", "the guy said hed call me back about the part")
		g.a("let me look that up, whats the address", "can i get the name on the account", "one moment let me check with dispatch")
		g.c("its under {name}", "{name}", "the house on maple")
		g.a("ok the tech is about thirty minutes out", "i see it, the part arrives {day}", "ok ive moved you to {day} {window}", "i'll have billing call you about the invoice", "he's running late, should be there within the hour")
		g.close("ok thanks", "ok great thank you", "alright", "ok ill wait")
	}},
	{"wrong_number", 0, 6, "Wrong number", []string{"wrong #", "wrong number", "meant to call someone else", "misdial"}, func(g *gen) {
		g.c("oh sorry i think i have the wrong number", "is this the pharmacy", "i was trying to reach my doctors office", "sorry wrong number", "is this pizza hut", "oh i meant to call my brother sorry",
			"who is this", "i must have misdialed", "is this the dentist")
		g.a("no this is {company}", "no sorry this is {company}", "you reached {company}")
		g.close("oh sorry bye", "my bad", "sorry about that")
	}},
	{"vendor", 0, 6, "Solicitor", []string{"sales call", "solicitor", "vendor pitch, not interested", "marketing co"}, func(g *gen) {
		g.c("hi this is {name} from {vendor}, we help home service companies get more leads", "hi im calling from {vendor} about your google business listing", "we are a parts supplier in the area and wanted to set up an account", "hi can i speak with the owner, im with {vendor}", "we offer fleet fuel cards for companies like yours", "im calling about lowering your credit card processing fees",
			"we sell work uniforms and wanted to send a catalog", "im with a staffing agency for skilled trades", "we help businesses get more online reviews")
		g.a("we're not interested thank you", "the owner isnt available, can you email us", "please take us off your list", "who is this again")
		if g.chance(0.5) {
			g.c("it only takes two minutes, we've helped other {tech} companies grow thirty percent", "can i send you some information", "when is a good time to reach the owner")
			g.a("just send an email", "no thank you")
		}
		g.close("ok thanks for your time", "ok ill follow up", "alright bye")
	}},
	{"job_seeker", 0, 5, "Job applicant", []string{"job applicant", "looking for work", "asked about hiring", "applicant - sent to website"}, func(g *gen) {
		g.c("hi are you guys hiring", "im a licensed {tech} looking for work", "i saw the job posting and wanted to ask about it", "do you have any openings for a helper", "i wanted to drop off a resume",
			"do you take apprentices", "i have my certification and i need a job", "my son is looking for work in the trades")
		g.a("you can apply on our website under careers", "we are hiring, send your resume to the office email", "i'll pass your name to the manager")
		g.c("ok do you know what the pay is", "ok ill apply online", "is it full time")
		g.a("the manager can tell you more", "it depends on experience")
		g.close()
	}},
	{"out_of_area", 0, 6, "Outside service area", []string{"out of area", "outside svc area ({far})", "too far, referred out", "not in our area"}, func(g *gen) {
		g.problem()
		g.a("what city are you in", "whats the zip out there")
		g.c("im in {far}", "we're out in {far}", "{far}", "were about an hour out, near {far}")
		g.a("unfortunately we dont service {far}, thats outside our service area", "sorry thats too far for us, we only cover the metro", "we dont go out that far, you might try someone local")
		g.c("oh ok do you know anybody out here", "oh bummer ok", "ok thanks anyway")
		g.close()
	}},
	{"spam", 0, 5, "Other", []string{"spam", "robocall", "robo", "silence then hangup", ""}, func(g *gen) {
		g.c("this is an important message about your vehicles extended warranty press one to speak to an agent", "final notice regarding your business listing on google press one now", "hello this call is to inform you about your credit card interest rate", "congratulations you have been selected for a free cruise",
			"this is a courtesy call about your solar savings", "suspicious activity was detected on your account press one")
		g.a("hello", "hello? anyone there", "hello this is {company}")
		if g.chance(0.4) {
			g.c("press one now to speak with a specialist", "this is your final notice")
		}
	}},
	{"complaint", 0, 6, "Complaint", []string{"complaint - tech visit", "unhappy w/ work, to manager", "callback for warranty issue, complaint", "cx upset"}, func(g *gen) {
		g.c("you guys came out last week and its still leaking", "the tech didnt fix anything and charged me", "im not happy with the install, theres a mess everywhere", "i paid {price} and the {thing} is broken again", "i want to talk to a manager about the job you did", "your guy scratched my floor",
			"the work was sloppy and nobody cleaned up", "the unit you installed is way too loud", "im going to leave a bad review about the job")
		g.a("im sorry to hear that, let me get the manager to call you", "i apologize, ill escalate this to the service manager", "let me see what happened on that ticket")
		g.c("i want a refund", "i want somebody to come out and redo it for free", "this is ridiculous honestly", "ok but i want someone to call me today")
		g.a("i understand, the manager will call you today", "ill make sure someone calls you back")
		g.close("ok", "fine", "ok thanks")
	}},
	{"booked_elsewhere", 0, 6, "Booked with competitor", []string{"booked w/ other co", "cx already hired someone", "cancel - went with competitor", "already scheduled elsewhere"}, func(g *gen) {
		g.c("hi i already had someone come out and fix it so i dont need anything", "we went with {competitor} so you can cancel the estimate", "i just wanted to let you know we already hired someone", "never mind, someone else is coming out today", "we already scheduled with {competitor}",
			"we got it taken care of already", "my brother in law fixed it over the weekend", "found someone already and theyre on the way")
		g.a("ok no problem, ill cancel that", "thanks for letting us know", "ok ive cancelled the appointment")
		g.close()
	}},
}

// soft kinds carry no decisive phrase at all: the label rests on what the
// caller wanted, not on a cue word.
var softKinds = []kind{
	{"soft_lead", 1, 1, "Other", []string{"", "cx will call back", "gave info"}, func(g *gen) {
		g.problem()
		g.offer()
		g.c("ok", "ok cool", "alright", "hmm ok")
		g.close("ok ill call back", "ok ill let you know", "alright thanks", "ok bye")
	}},
	{"soft_service_not_offered", 0, 1, "General inquiry", []string{"", "svc not offered", "we dont do that"}, func(g *gen) {
		g.c("hi do you guys install pools", "do you do landscaping too", "do you clean chimneys", "can you fix a car ac", "do you repair boats")
		g.a("no sorry we dont do that", "unfortunately thats not something we do", "no we only do residential {thing} work")
		g.c("ok do you know who does", "ok no problem", "ok thanks anyway")
		g.close()
	}},
}

// hard cases: surface words of one kind, meaning of another.
var hardKinds = []kind{
	{"hard_owner_of_rental", 1, 1, "Estimate requested", []string{"owner of rental, wants price", "landlord calling, tenant has no hot water"}, func(g *gen) {
		g.c("hi my tenant says {problem}, i own the property", "im a landlord and my renter called me, {problem}", "i have a rental and the tenant told me {problem}")
		g.askPrice()
		g.c("ok let me think about it and call you back", "ok let me get a couple prices and ill call back", "ok i'll call you back after i talk to the tenant about access")
		g.close()
	}},
	{"hard_price_on_existing", 0, 1, "Existing job", []string{"invoice question", "billing q on existing job"}, func(g *gen) {
		g.c("hi how much was the bill for the job you did yesterday, i never got the invoice", "whats the price on my invoice, it says {price} but the tech quoted less", "i want to know how much i owe for last weeks {thing} repair")
		g.a("let me pull up the invoice", "ill have billing email it to you")
		g.c("ok thanks", "ok send it over")
		g.close()
	}},
	{"hard_complaint_then_quote", 1, 1, "Estimate requested", []string{"prev cx, wants quote new {thing}", "past job fine, now wants estimate"}, func(g *gen) {
		g.c("you guys came out last year for the {thing} and it was fine but now i want a quote on a new one", "i had a complaint last time but honestly i want to get a price to {job}")
		g.askPrice()
		g.c("let me talk to my wife and get back to you", "let me think about it", "ok can you email that")
		g.close()
	}},
	{"hard_cheaper_booked", 0, 1, "Booked with competitor", []string{"went with competitor", "cancel est - cheaper elsewhere"}, func(g *gen) {
		g.c("i got a quote from {competitor} for {price} and they were cheaper so we went with them, cancel my estimate", "another company beat your price so we already booked them")
		g.a("ok sorry to hear that, ive cancelled it", "understood, thanks for letting us know")
		g.close()
	}},
	{"hard_area_covered", 1, 1, "Customer needs to think", []string{"thought out of area but we cover {near}", "cx thinking"}, func(g *gen) {
		g.problem()
		g.c("i wasnt sure if you service {near}, the last company said it was outside their area", "do you even go out to {near}, i called someone who doesnt service my area")
		g.a("yes we do cover {near}", "we go out there all the time")
		g.offer()
		g.c("ok let me think about it and call back", "ok let me check my schedule and call you back")
		g.close()
	}},
	{"hard_vendor_financing", 0, 1, "Solicitor", []string{"sales call - financing co", "vendor pitch"}, func(g *gen) {
		g.c("hi im with {vendor}, we offer financing programs for your customers, monthly payments, do you offer financing today", "we help contractors offer payment plans to homeowners, who handles that")
		g.a("we already have a finance partner, thanks", "not interested thank you")
		g.close()
	}},
	{"hard_vague_lead", 1, 1, "Other", []string{"", "gave info", "cx called with question"}, func(g *gen) {
		g.problem()
		g.a("we can definitely help with that", "yeah we do that all the time")
		g.c("ok good to know", "ok thats all i needed", "ok cool")
		g.close("ok ill call back", "ok thanks")
	}},
	{"hard_vague_nonlead", 0, 1, "General inquiry", []string{"", "gave info", "hours question"}, func(g *gen) {
		g.c("hi what are your hours on saturday", "do you guys sell parts to the public", "are you open on sundays", "whats your address i need to drop off a check")
		g.a("we're open eight to five", "no we dont sell parts", "we're closed sundays", "we're at four hundred main street")
		g.close("ok thanks", "ok cool thanks")
	}},
}

// misheard maps words to what an 8 kHz ASR often writes instead.
var misheard = map[string][]string{
	"quote": {"coat", "quota"}, "furnace": {"furnish", "furnaces"}, "estimate": {"is to mate", "estimated"},
	"financing": {"fine answering", "finance thing"}, "spouse": {"spouts"}, "wife": {"life", "wise"},
	"husband": {"has been", "husbands"}, "schedule": {"shed you'll", "scheduled"}, "price": {"prize", "prices"},
	"landlord": {"land lord", "lance lord"}, "termites": {"term mites"}, "warranty": {"were auntie"},
	"think": {"thing", "thank"}, "hiring": {"higher ring"}, "cheaper": {"cheap her"}, "tenant": {"ten and"},
	"rent": {"ran", "rant"}, "invoice": {"in voice"}, "appointment": {"a point meant"}, "heater": {"heat her"},
	"thermostat": {"thermal stat"}, "gutters": {"gutter's", "butters"}, "garage": {"gross"}, "drain": {"train", "drained"},
	"leaking": {"leaning", "liking"}, "roaches": {"coaches"}, "mice": {"nice"}, "ants": {"aunts", "and"},
	"dryer": {"drier", "dire"}, "service": {"servers"}, "area": {"aria"}, "manager": {"man ager"},
	"call": {"cal"}, "back": {"bad"}, "tech": {"tack", "text"},
}

var fillers = []string{"um", "uh", "like", "you know", "so", "yeah", "i mean", "uh huh"}

// noise renders a line as an ASR of the given level would write it.
func noise(r *rand.Rand, s string, level int) string {
	if level == 0 {
		// clean: sentence case and a full stop, as a good ASR writes it.
		s = strings.ToUpper(s[:1]) + s[1:]
		if !strings.HasSuffix(s, "?") {
			s += "."
		}
		return s
	}
	words := strings.Fields(strings.ReplaceAll(strings.ToLower(s), ",", ""))
	var out []string
	for _, w := range words {
		if level == 2 {
			if r.Float64() < 0.04 {
				continue // dropped word
			}
			if alts, ok := misheard[w]; ok && r.Float64() < 0.3 {
				w = alts[r.IntN(len(alts))]
			}
			if r.Float64() < 0.06 {
				out = append(out, fillers[r.IntN(len(fillers))])
			}
		}
		out = append(out, w)
	}
	if len(out) == 0 {
		return "uh"
	}
	return strings.Join(out, " ")
}

func main() {
	seed := flag.Uint64("seed", 7, "random seed")
	n := flag.Int("n", 1400, "number of calls")
	out := flag.String("out", "testdata/corpus.jsonl", "output file")
	flag.Parse()
	if err := write(*out, *seed, *n); err != nil {
		fmt.Fprintln(os.Stderr, "corpusgen:", err)
		os.Exit(1)
	}
}

func write(path string, seed uint64, n int) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	enc := json.NewEncoder(w)
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	total := 0
	for _, k := range kinds {
		total += k.weight
	}
	for i := range n {
		var k kind
		hard := r.Float64() < 0.14
		switch {
		case hard:
			k = hardKinds[r.IntN(len(hardKinds))]
		case r.Float64() < 0.08:
			k = softKinds[r.IntN(len(softKinds))]
			hard = true
		default:
			x := r.IntN(total)
			for _, kk := range kinds {
				if x < kk.weight {
					k = kk
					break
				}
				x -= kk.weight
			}
		}
		rec := compose(r, fmt.Sprintf("corp-%04d", i), k, hard)
		if err := enc.Encode(rec); err != nil {
			f.Close()
			return err
		}
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func compose(r *rand.Rand, id string, k kind, hard bool) record {
	tr := trades[r.IntN(len(trades))]
	g := &gen{r: r, tr: tr, it: tr.items[r.IntN(len(tr.items))], co: tr.companies[r.IntN(len(tr.companies))],
		agent: agentNames[r.IntN(len(agentNames))], caller: callerNames[r.IntN(len(callerNames))]}
	g.greet()
	body := g.lines
	g.lines = nil
	k.body(g)
	// Long calls: neutral chatter spliced in after the opening exchange.
	extra := 0
	switch x := r.Float64(); {
	case x < 0.10:
		extra = 34 + r.IntN(16) // about five minutes
	case x < 0.45:
		extra = 2 + r.IntN(6)
	}
	if k.name == "wrong_number" || k.name == "spam" {
		extra = 0
	}
	if extra > 0 {
		cut := min(2, len(g.lines))
		head := append([]line(nil), g.lines[:cut]...)
		tail := append([]line(nil), g.lines[cut:]...)
		g.lines = head
		g.chatter(extra)
		g.lines = append(g.lines, tail...)
	}
	lines := append(body, g.lines...)

	level := 1
	switch x := r.Float64(); {
	case x < 0.2:
		level = 0
	case x < 0.6:
		level = 2
	}
	rec := record{Trade: tr.name, Kind: k.name, Hard: hard}
	rec.CallID = id
	label := k.label
	if r.Float64() < 0.03 {
		label = 1 - label
		rec.Flipped = true
	}
	rec.Label = &label

	// Transcript with timing: about 2.6 words a second plus pauses.
	var segs []scoring.Segment
	t := int64(800 + r.IntN(1500))
	oneWay := ""
	if r.Float64() < 0.05 {
		oneWay = healthFlagSet[r.IntN(len(healthFlagSet))]
		rec.HealthFlags = []string{oneWay}
	}
	for _, l := range lines {
		text := noise(r, l.text, level)
		d := int64(len(strings.Fields(text)))*380 + int64(r.IntN(600))
		ch := "CALLER"
		if l.agent {
			ch = "AGENT"
		}
		// A one-way or silent channel loses the caller's side.
		if !(oneWay != "" && oneWay != "PACKET_LOSS" && !l.agent) {
			segs = append(segs, scoring.Segment{Channel: ch, StartMs: t, EndMs: t + d, Text: text})
		}
		t += d + int64(200+r.IntN(900))
	}
	rec.TalkMs = t
	if r.Float64() < 0.12 {
		rec.Transcript = &scoring.Transcript{Status: "none", Reason: "no transcription backend is configured"}
	} else {
		rec.Transcript = &scoring.Transcript{Status: "done", Segments: segs}
	}

	// Classification as a busy CSR sets it: often no reason, sometimes a wrong one.
	cl := scoring.Classification{CallType: "Unbooked"}
	switch {
	case k.label == 0 && r.Float64() < 0.4:
		cl.CallType = "Not a lead"
	case rec.TalkMs < 60000 && r.Float64() < 0.5:
		cl.CallType = "Excused"
	}
	switch x := r.Float64(); {
	case x < 0.50:
		cl.Reason = k.reason
	case x < 0.62:
		names := []string{"Other", "Customer hung up", "General inquiry", "Price shopping", "Existing job", "Customer needs to think"}
		cl.Reason = names[r.IntN(len(names))]
	}
	if cl.Reason != "" {
		v := reasons[cl.Reason]
		cl.ReasonIsLead = &v
	}
	if r.Float64() < 0.55 {
		cl.Notes = g.fill(k.notes[r.IntN(len(k.notes))])
	} else if r.Float64() < 0.2 {
		cl.Notes = []string{"called in", "gave info", "cx called", "see transcript"}[r.IntN(4)]
	}
	rec.Classification = cl

	known := false
	switch k.name {
	case "existing_job", "complaint", "hard_price_on_existing", "hard_complaint_then_quote":
		known = r.Float64() < 0.85
	case "wrong_number", "vendor", "job_seeker", "spam":
		known = r.Float64() < 0.05
	default:
		known = r.Float64() < 0.25
	}
	if r.Float64() > 0.15 {
		rec.KnownCustomer = &known
	}
	switch k.name {
	case "existing_job", "complaint", "spam":
		rec.RepeatCalls = r.IntN(3)
	default:
		if r.Float64() < 0.2 {
			rec.RepeatCalls = 1
		}
	}
	rec.Campaign = campaigns[r.IntN(len(campaigns))]
	return rec
}
