package samples

import (
	"time"

	reboundv1 "github.com/reboundhq/rebound/proto/rebound/v1"
)

// Flow is what the PBX did with a sample call; the generator turns it into
// SIP legs.
type Flow int

const (
	// FlowAnswered: the A-leg rings, the PBX rings the agent's phone (B-leg
	// with X-CID), the agent answers and both legs carry the conversation.
	// With a Queue the PBX answers the A-leg first and plays a greeting.
	FlowAnswered Flow = iota + 1
	// FlowAbandonedRinging: early media (183) plays a greeting and ringback
	// while the agent's phone rings; the caller CANCELs (487).
	FlowAbandonedRinging
	// FlowAbandonedQueue: the queue answers (200) and plays an IVR with a
	// DTMF menu and hold music while agent phones ring; the caller sends BYE
	// and no agent leg ever answered.
	FlowAbandonedQueue
	// FlowVoicemail: the agent's phone rings out, the PBX sends the call to
	// the voicemail server with an RFC 4458 URI (user part = mailbox 9xx),
	// the caller leaves a message, and the server sends NOTIFY
	// message-summary afterwards.
	FlowVoicemail
	// FlowForwarded: after hours the PBX sends 181 with Diversion and places
	// an outbound leg to an external on-call number that answers.
	FlowForwarded
)

func (f Flow) String() string {
	switch f {
	case FlowAnswered:
		return "answered"
	case FlowAbandonedRinging:
		return "abandoned while ringing"
	case FlowAbandonedQueue:
		return "abandoned in queue"
	case FlowVoicemail:
		return "voicemail"
	case FlowForwarded:
		return "forwarded"
	}
	return "unknown"
}

// Speaker is who says a line.
type Speaker int

const (
	// Caller is the customer on the trunk side.
	Caller Speaker = iota + 1
	// Agent is the CSR on the desk phone.
	Agent
	// Announcement is the PBX's greeting or queue prompt.
	Announcement
	// Greeting is the voicemail server's greeting.
	Greeting
	// OnCall is the external party an after-hours call is forwarded to.
	OnCall
)

// Line is one utterance of a sample call. DTMF, when set, is a digit the
// caller presses (RFC 4733 telephone-event) instead of speaking.
type Line struct {
	Who  Speaker
	Text string
	DTMF string
}

// Classification is what the CSR enters during After Call Work.
type Classification struct {
	// Type is one of "Booked", "Unbooked", "Excused", "Not a lead".
	Type   string
	Reason string
	Notes  string
}

// Voice is an espeak-ng voice: -v name (with variant), -p pitch, -s speed.
type Voice struct {
	Name  string
	Pitch int
	Speed int
}

// Call is one sample call: who calls which tracking number, what the PBX
// does, what is said, and what Rebound should conclude.
type Call struct {
	// Name is the file stem: calls/<Name>.pcap.gz.
	Name  string
	Title string
	Flow  Flow
	// Start is the fixed timestamp of the call's first packet.
	Start        time.Time
	CallerNumber string // E.164
	CallerName   string
	CallerVoice  Voice
	// Dialled is the tracking number (E.164) the caller dialled.
	Dialled string
	// Extension is the agent extension that rang (and answered, if it did).
	Extension string
	// AlsoRang are further extensions the queue rang without an answer.
	AlsoRang []string
	// Queue is the queue extension (8xx) when the call went through one.
	Queue string
	// Mailbox is the voicemail extension (9xx) for FlowVoicemail.
	Mailbox string
	// ForwardTo is the external number (E.164) for FlowForwarded.
	ForwardTo string
	// CallerHangsUp says who sends BYE on an answered call.
	CallerHangsUp bool
	Lines         []Line
	// Outcome is what the agent must classify the call as.
	Outcome reboundv1.Outcome
	// ACW is the CSR's classification for answered inbound calls.
	ACW *Classification
	// WantLead says whether the demo expects a Second Chance Lead from it
	// (the review still decides; this is the intended reading of the call).
	WantLead bool
	// WantAbandoned says whether it belongs in the Abandoned Calls queue.
	WantAbandoned bool
}

// day is the fixed capture date of the samples: Friday 20 November 2026,
// business hours in the demo tenant's zone (America/Chicago, UTC-6).
func at(hour, minute, second int) time.Time {
	return time.Date(2026, time.November, 20, hour, minute, second, 0, time.UTC)
}

// Calls returns the sample calls in capture order. Each call returns a fresh
// slice, so callers may modify it.
func Calls() []Call {
	return []Call{
		{
			Name: "answered-booked", Title: "Leaking water heater, booked for this afternoon",
			Flow: FlowAnswered, Start: at(14, 2, 10),
			CallerNumber: "+15125550111", CallerName: "Marisol Vega",
			CallerVoice: Voice{Name: "en-us+f3", Pitch: 55, Speed: 165},
			Dialled:     "+15125550166", Extension: "202", CallerHangsUp: true,
			Lines: []Line{
				{Who: Agent, Text: "Thank you for calling Rebound Plumbing, this is Priya. How can I help you today?"},
				{Who: Caller, Text: "Hi, our water heater is leaking from the bottom and there is water all over the garage floor."},
				{Who: Agent, Text: "I'm sorry to hear that. I can send a technician this afternoon between two and four. Does that work?"},
				{Who: Caller, Text: "Yes, that works. The address is four eighteen Cedar Lane."},
				{Who: Agent, Text: "You are all set for this afternoon at four eighteen Cedar Lane. The technician will call before arriving."},
				{Who: Caller, Text: "Great, thank you so much."},
			},
			Outcome: reboundv1.Outcome_OUTCOME_ANSWERED,
			ACW:     &Classification{Type: "Booked", Notes: "Water heater leaking from the bottom. Booked today 2-4 pm at 418 Cedar Lane."},
		},
		{
			Name: "price-shopper", Title: "Asked the price of a water heater replacement, will think about it",
			Flow: FlowAnswered, Start: at(14, 9, 30),
			CallerNumber: "+15125550112", CallerName: "Derek Holloway",
			CallerVoice: Voice{Name: "en-us+m2", Pitch: 40, Speed: 160},
			Dialled:     "+15125550188", Extension: "201", CallerHangsUp: false,
			Lines: []Line{
				{Who: Agent, Text: "Rebound Plumbing, this is Sam. How can I help?"},
				{Who: Caller, Text: "Hi. How much do you charge to replace a water heater?"},
				{Who: Agent, Text: "A standard forty gallon gas tank usually runs between fourteen hundred and eighteen hundred dollars installed. I can have a technician come out and give you an exact price."},
				{Who: Caller, Text: "Hmm, that's more than I expected. Let me think about it and I'll call you back."},
				{Who: Agent, Text: "Of course. We also offer financing if that helps. Thanks for calling."},
			},
			Outcome:  reboundv1.Outcome_OUTCOME_ANSWERED,
			ACW:      &Classification{Type: "Unbooked", Reason: "Price shopping", Notes: "Asked the price of a 40 gal water heater replacement. Quoted 1400-1800 installed, mentioned financing. Will think about it."},
			WantLead: true,
		},
		{
			Name: "abandoned-ringing", Title: "Hung up while the phone was still ringing",
			Flow: FlowAbandonedRinging, Start: at(14, 15, 5),
			CallerNumber: "+15125550113", CallerName: "WIRELESS CALLER",
			CallerVoice: Voice{Name: "en-us+m4", Pitch: 50, Speed: 170},
			Dialled:     "+15125550177", Extension: "201",
			Lines: []Line{
				{Who: Announcement, Text: "Thank you for calling Rebound Plumbing. Please hold while we connect your call."},
				{Who: Caller, Text: "Come on, pick up."},
			},
			Outcome:       reboundv1.Outcome_OUTCOME_ABANDONED,
			WantAbandoned: true,
		},
		{
			Name: "abandoned-queue", Title: "Pressed 1 for service, gave up in the queue",
			Flow: FlowAbandonedQueue, Start: at(14, 21, 40),
			CallerNumber: "+15125550114", CallerName: "Tanya Brooks",
			CallerVoice: Voice{Name: "en-us+f4", Pitch: 65, Speed: 165},
			Dialled:     "+15125550188", Queue: "801", Extension: "201", AlsoRang: []string{"202"},
			Lines: []Line{
				{Who: Announcement, Text: "Thank you for calling Rebound Plumbing. For service or repairs, press 1. For billing, press 2."},
				{Who: Caller, DTMF: "1"},
				{Who: Announcement, Text: "All of our team members are helping other customers. Please stay on the line and the next available person will be with you shortly."},
				{Who: Caller, Text: "I have been holding forever. Forget it."},
			},
			Outcome:       reboundv1.Outcome_OUTCOME_ABANDONED,
			WantAbandoned: true,
		},
		{
			Name: "scheduling-conflict", Title: "Clogged kitchen drain, no slot that fits",
			Flow: FlowAnswered, Start: at(14, 30, 12),
			CallerNumber: "+15125550115", CallerName: "Ben Carter",
			CallerVoice: Voice{Name: "en-us+m7", Pitch: 45, Speed: 165},
			Dialled:     "+15125550166", Extension: "202", CallerHangsUp: true,
			Lines: []Line{
				{Who: Agent, Text: "Thank you for calling Rebound Plumbing, this is Priya. How can I help you today?"},
				{Who: Caller, Text: "Hi, my kitchen drain is clogged and I need someone to clear it."},
				{Who: Agent, Text: "We can do that. Our first opening is Thursday morning between eight and ten."},
				{Who: Caller, Text: "Thursday won't work, I'm at work all week. Do you have anything on Saturday?"},
				{Who: Agent, Text: "I'm sorry, Saturday is fully booked. I can put you on our cancellation list."},
				{Who: Caller, Text: "Okay, let me check my schedule and call you back."},
			},
			Outcome:  reboundv1.Outcome_OUTCOME_ANSWERED,
			ACW:      &Classification{Type: "Unbooked", Reason: "Scheduling conflict", Notes: "Kitchen drain clog. Only free on Saturday, we are full. Will check schedule and call back."},
			WantLead: true,
		},
		{
			Name: "renter", Title: "Renter who cannot authorise the work",
			Flow: FlowAnswered, Start: at(14, 38, 45),
			CallerNumber: "+15125550116", CallerName: "Kevin Liu",
			CallerVoice: Voice{Name: "en-us+m6", Pitch: 55, Speed: 170},
			Dialled:     "+15125550177", Extension: "201", CallerHangsUp: true,
			Lines: []Line{
				{Who: Agent, Text: "Rebound Plumbing, this is Sam. How can I help?"},
				{Who: Caller, Text: "Hi, the toilet in my apartment keeps running and the tank is cracked."},
				{Who: Agent, Text: "We can replace that for you. Are you the homeowner?"},
				{Who: Caller, Text: "No, I rent. I would have to ask my landlord before I can approve any work."},
				{Who: Agent, Text: "No problem. Have your landlord give us a call and we will get it scheduled."},
				{Who: Caller, Text: "Okay, I'll let him know. Thanks."},
			},
			Outcome: reboundv1.Outcome_OUTCOME_ANSWERED,
			ACW:     &Classification{Type: "Unbooked", Reason: "Not the decision maker", Notes: "Renter, cracked toilet tank. Cannot authorise, landlord to call us."},
		},
		{
			Name: "existing-job", Title: "Existing customer asking when the technician arrives",
			Flow: FlowAnswered, Start: at(14, 47, 20),
			CallerNumber: "+15125550117", CallerName: "Gloria Mendez",
			CallerVoice: Voice{Name: "en-us+f2", Pitch: 50, Speed: 160},
			Dialled:     "+15125550100", Queue: "801", Extension: "202", CallerHangsUp: true,
			Lines: []Line{
				{Who: Announcement, Text: "Thank you for calling Rebound Plumbing. Please hold for the next available team member."},
				{Who: Agent, Text: "Thank you for calling Rebound Plumbing, this is Priya. How can I help you today?"},
				{Who: Caller, Text: "Hi, I have a technician coming today for my sewer line, and I wanted to check when he will get here."},
				{Who: Agent, Text: "Let me look. Carlos is on his way and should be there in about twenty minutes."},
				{Who: Caller, Text: "Perfect, thank you."},
			},
			Outcome: reboundv1.Outcome_OUTCOME_ANSWERED,
			ACW:     &Classification{Type: "Not a lead", Reason: "Existing job inquiry", Notes: "Asked for the ETA of today's sewer line job. Carlos about 20 minutes out."},
		},
		{
			Name: "voicemail", Title: "No answer, left a voicemail",
			Flow: FlowVoicemail, Start: at(15, 3, 0),
			CallerNumber: "+15125550118", CallerName: "Dana Whitfield",
			CallerVoice: Voice{Name: "en-us+f5", Pitch: 60, Speed: 165},
			Dialled:     "+15125550166", Extension: "201", Mailbox: "901",
			Lines: []Line{
				{Who: Greeting, Text: "You have reached Rebound Plumbing. We are unable to take your call. Please leave your name and number after the tone."},
				{Who: Caller, Text: "Hi, this is Dana Whitfield. Our kitchen sink is backing up. Please call me back at five one two, five five five, zero one one eight. Thanks."},
			},
			Outcome: reboundv1.Outcome_OUTCOME_VOICEMAIL,
		},
		{
			Name: "forwarded", Title: "After hours, forwarded to the on-call technician",
			Flow: FlowForwarded, Start: time.Date(2026, time.November, 21, 3, 12, 30, 0, time.UTC),
			CallerNumber: "+15125550119", CallerName: "Omar Haddad",
			CallerVoice: Voice{Name: "en-us+m3", Pitch: 50, Speed: 170},
			Dialled:     "+15125550100", ForwardTo: "+15125550199", CallerHangsUp: true,
			Lines: []Line{
				{Who: OnCall, Text: "Rebound Plumbing after hours, this is Mike."},
				{Who: Caller, Text: "Hi, a pipe burst under my sink and there is water everywhere."},
				{Who: OnCall, Text: "Shut off the valve under the sink. I can be there in forty minutes."},
				{Who: Caller, Text: "Thank you so much."},
			},
			Outcome: reboundv1.Outcome_OUTCOME_FORWARDED,
		},
	}
}

// CallNamed returns the sample call with the given name.
func CallNamed(name string) (Call, bool) {
	for _, c := range Calls() {
		if c.Name == name {
			return c, true
		}
	}
	return Call{}, false
}
