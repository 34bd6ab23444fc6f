package outbox

import (
	"path/filepath"
	"testing"

	reboundv1 "github.com/reboundhq/rebound/proto/rebound/v1"
)

func rec(id, call string, rev uint32) *reboundv1.CallRecord {
	return &reboundv1.CallRecord{RecordId: id, CallId: call, Revision: rev}
}

func TestOutboxSurvivesReopenAndAcksBySeq(t *testing.T) {
	path := filepath.Join(t.TempDir(), "outbox.db")
	ob, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []*reboundv1.CallRecord{rec("a", "c1", 1), rec("b", "c2", 1), rec("c", "c3", 1)} {
		if err := ob.Put(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := ob.Put(&reboundv1.CallRecord{CallId: "x"}); err == nil {
		t.Fatal("record without id accepted")
	}
	// "Crash": reopen, nothing lost, order kept.
	ob.Close()
	if ob, err = Open(path); err != nil {
		t.Fatal(err)
	}
	defer ob.Close()
	got, err := ob.After(0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[0].Record.GetRecordId() != "a" || got[2].Record.GetRecordId() != "c" {
		t.Fatalf("after reopen: %v", got)
	}
	// A newer copy of "b" queued after "b" was sent: the ack of the old
	// send must not delete the new copy.
	sentB := got[1].Seq
	if err := ob.Put(rec("b", "c2", 2)); err != nil {
		t.Fatal(err)
	}
	if err := ob.Ack("b", sentB); err != nil {
		t.Fatal(err)
	}
	if err := ob.Ack("a", got[0].Seq); err != nil {
		t.Fatal(err)
	}
	left, _ := ob.After(0, 10)
	if len(left) != 2 || left[0].Record.GetRecordId() != "c" || left[1].Record.GetRecordId() != "b" || left[1].Record.GetRevision() != 2 {
		t.Fatalf("left = %v", left)
	}
	if ob.Depth() != 2 {
		t.Fatalf("depth = %d", ob.Depth())
	}
	// Paging: After(seq) skips what was already sent.
	page, _ := ob.After(left[0].Seq, 10)
	if len(page) != 1 || page[0].Record.GetRecordId() != "b" {
		t.Fatalf("page = %v", page)
	}
}
