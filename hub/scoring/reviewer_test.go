package scoring

import (
	"context"
	"strings"
	"testing"

	"github.com/reboundhq/rebound/hub/scheduler"
	"github.com/reboundhq/rebound/hub/state"
	reboundv1 "github.com/reboundhq/rebound/proto/rebound/v1"
)

func recordOf(c Call) *reboundv1.CallRecord {
	rec := &reboundv1.CallRecord{CallId: c.CallID, TalkMs: c.TalkMs, Transcript: &reboundv1.Transcript{Status: reboundv1.Transcript_STATUS_DONE}}
	for _, s := range c.Transcript.Segments {
		ch := reboundv1.Channel_CHANNEL_CALLER
		if s.Channel == "AGENT" {
			ch = reboundv1.Channel_CHANNEL_AGENT
		}
		rec.Transcript.Segments = append(rec.Transcript.Segments, &reboundv1.TranscriptSegment{Channel: ch, StartMs: s.StartMs, EndMs: s.EndMs, Text: s.Text})
	}
	return rec
}

// TestReviewerScenario runs the scheduler-facing adapter end to end: review
// with the prior, train on a tenant's dispositions, review again with the
// stored bytes.
func TestReviewerScenario(t *testing.T) {
	rv, err := NewReviewer(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	input := func(c Call, model []byte) scheduler.ReviewInput {
		return scheduler.ReviewInput{TenantID: "t1", CallID: c.CallID, Record: recordOf(c),
			Classification: state.Classification{Type: state.TypeUnbooked}, TalkMs: c.TalkMs, Model: model}
	}
	probe := ventCall(999)
	res, err := rv.Review(context.Background(), input(probe, nil))
	if err != nil {
		t.Fatal(err)
	}
	if !res.Flagged || res.Reviewer != "builtin/prior" || res.Summary == "" || len(res.Signals) == 0 {
		t.Fatalf("prior review: %+v", res)
	}
	var ex []scheduler.Example
	for i := range 40 {
		ex = append(ex, scheduler.Example{Input: input(ventCall(i), nil), Label: 0})
		if i%2 == 0 {
			ex = append(ex, scheduler.Example{Input: input(otherLeadCall(i), nil), Label: 1})
		}
	}
	model, err := rv.Train(context.Background(), "t1", ex)
	if err != nil {
		t.Fatal(err)
	}
	res, err = rv.Review(context.Background(), input(probe, model))
	if err != nil {
		t.Fatal(err)
	}
	if res.Flagged || !strings.HasPrefix(res.Reviewer, "builtin/tenant-60") {
		t.Fatalf("tenant review: %+v", res)
	}
	// A booked call is never a lead; an unreadable model falls back to the prior.
	in := input(waterHeaterCall("b1"), nil)
	in.Classification.Type = state.TypeBooked
	if res, _ := rv.Review(context.Background(), in); res.Flagged {
		t.Errorf("a booked call was flagged: %+v", res)
	}
	if res, _ := rv.Review(context.Background(), input(probe, []byte("garbage"))); !res.Flagged || res.Reviewer != "builtin/prior" {
		t.Errorf("garbage model: %+v", res)
	}
}
