// Package scoring owns the lead review of unbooked calls: the built-in model
// (features, prior-regularised logistic regression, Platt calibration), the
// labelled corpus it ships with, per-tenant retraining from CSR dispositions,
// the two-sentence summaries and the signals that explain each score, and the
// optional LLM backend that may replace the built-in model.
package scoring

import (
	"strings"

	reboundv1 "github.com/reboundhq/rebound/proto/rebound/v1"
)

// Segment is one stretch of speech on one side of the call.
type Segment struct {
	// Channel is "CALLER" or "AGENT" (protojson's "CHANNEL_CALLER" is accepted too).
	Channel string `json:"channel"`
	StartMs int64  `json:"startMs"`
	EndMs   int64  `json:"endMs"`
	Text    string `json:"text"`
}

// Transcript is what the site transcribed, if anything.
type Transcript struct {
	// Status and Reason say why a transcript is missing ("none", "failed").
	Status   string    `json:"status,omitempty"`
	Reason   string    `json:"reason,omitempty"`
	Segments []Segment `json:"segments"`
}

// Classification is what the CSR set during After Call Work.
type Classification struct {
	CallType string `json:"callType"`
	Reason   string `json:"reason"`
	// ReasonIsLead is the tenant's "is lead" flag of Reason, when known.
	ReasonIsLead *bool  `json:"reasonIsLead,omitempty"`
	Notes        string `json:"notes"`
}

// Call is the input of one review: the JSON lines format of `rebound score`
// and what the hub builds from a call record plus its classification.
type Call struct {
	CallID         string         `json:"callId"`
	TalkMs         int64          `json:"talkMs"`
	Transcript     *Transcript    `json:"transcript,omitempty"`
	Classification Classification `json:"classification"`
	// KnownCustomer is nil when the hub could not tell.
	KnownCustomer *bool `json:"knownCustomer,omitempty"`
	// RepeatCalls counts earlier calls from the same number in the last 30 days.
	RepeatCalls int      `json:"repeatCalls,omitempty"`
	Campaign    string   `json:"campaign,omitempty"`
	HealthFlags []string `json:"healthFlags,omitempty"`
	// Label is 1 (lead) or 0 (not a lead) in labelled data; nil otherwise.
	Label *int `json:"label,omitempty"`
}

// channelOf maps the accepted channel spellings to 'c' (caller), 'a' (agent)
// or 0 (unknown).
func channelOf(s string) byte {
	switch s { // the spellings the hub and the agent write, without allocating
	case "CALLER":
		return 'c'
	case "AGENT":
		return 'a'
	}
	switch strings.ToUpper(strings.TrimPrefix(strings.ToUpper(s), "CHANNEL_")) {
	case "CALLER", "LEFT", "CUSTOMER":
		return 'c'
	case "AGENT", "RIGHT", "CSR":
		return 'a'
	}
	return 0
}

// HasTranscript reports whether the call carries any transcribed speech.
func (c *Call) HasTranscript() bool {
	if c.Transcript == nil {
		return false
	}
	for _, s := range c.Transcript.Segments {
		if strings.TrimSpace(s.Text) != "" {
			return true
		}
	}
	return false
}

// FromRecord builds a Call from a call record as the hub stores it, plus the
// CSR's classification and what the hub knows about the caller.
func FromRecord(rec *reboundv1.CallRecord, cl Classification, knownCustomer *bool, repeatCalls int, campaign string) Call {
	c := Call{
		CallID:         rec.GetCallId(),
		TalkMs:         rec.GetTalkMs(),
		Classification: cl,
		KnownCustomer:  knownCustomer,
		RepeatCalls:    repeatCalls,
		Campaign:       campaign,
	}
	if t := rec.GetTranscript(); t != nil {
		tr := &Transcript{Reason: t.GetReason()}
		switch t.GetStatus() {
		case reboundv1.Transcript_STATUS_NONE:
			tr.Status = "none"
		case reboundv1.Transcript_STATUS_PENDING:
			tr.Status = "pending"
		case reboundv1.Transcript_STATUS_DONE:
			tr.Status = "done"
		case reboundv1.Transcript_STATUS_FAILED:
			tr.Status = "failed"
		}
		for _, s := range t.GetSegments() {
			ch := "CALLER"
			if s.GetChannel() == reboundv1.Channel_CHANNEL_AGENT {
				ch = "AGENT"
			}
			tr.Segments = append(tr.Segments, Segment{Channel: ch, StartMs: s.GetStartMs(), EndMs: s.GetEndMs(), Text: s.GetText()})
		}
		c.Transcript = tr
	}
	for _, f := range rec.GetHealth().GetFlags() {
		c.HealthFlags = append(c.HealthFlags, strings.TrimPrefix(f.String(), "HEALTH_FLAG_"))
	}
	return c
}
