// Package outbox owns the agent's durable queue of call records and the
// uplink that drains it to the hub: a record is written to bbolt first, sent
// over AgentHub.Connect to any configured hub node, and deleted only when the
// hub acks it as committed. Nothing is lost across agent restarts or a hub
// outage; the hub's ingest is idempotent by record id, so resends are safe.
package outbox

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"

	reboundv1 "github.com/reboundhq/rebound/proto/rebound/v1"
)

var (
	bQueue = []byte("queue") // seq -> marshalled CallRecord
	bIDs   = []byte("ids")   // record_id -> seq
)

// Outbox is the durable queue.
type Outbox struct {
	db     *bbolt.DB
	mu     sync.Mutex
	notify chan struct{} // closed and replaced on every Put
}

// Entry is one queued record.
type Entry struct {
	Seq    uint64
	Record *reboundv1.CallRecord
}

// Open opens or creates the outbox file.
func Open(path string) (*Outbox, error) {
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("outbox %s: %w", path, err)
	}
	if err := db.Update(func(tx *bbolt.Tx) error {
		for _, b := range [][]byte{bQueue, bIDs} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		db.Close()
		return nil, fmt.Errorf("outbox %s: %w", path, err)
	}
	return &Outbox{db: db, notify: make(chan struct{})}, nil
}

// Close closes the file.
func (o *Outbox) Close() error { return o.db.Close() }

// Put stores r durably (fsync) before returning. A record with a record id
// already queued replaces the queued one.
func (o *Outbox) Put(r *reboundv1.CallRecord) error {
	if r.GetRecordId() == "" {
		return errors.New("outbox: record has no record_id")
	}
	data, err := proto.Marshal(r)
	if err != nil {
		return fmt.Errorf("outbox: encode: %w", err)
	}
	err = o.db.Update(func(tx *bbolt.Tx) error {
		q, ids := tx.Bucket(bQueue), tx.Bucket(bIDs)
		if old := ids.Get([]byte(r.GetRecordId())); old != nil {
			if err := q.Delete(old); err != nil {
				return err
			}
		}
		seq, err := q.NextSequence()
		if err != nil {
			return err
		}
		k := seqKey(seq)
		if err := q.Put(k, data); err != nil {
			return err
		}
		return ids.Put([]byte(r.GetRecordId()), k)
	})
	if err != nil {
		return fmt.Errorf("outbox: put: %w", err)
	}
	o.mu.Lock()
	close(o.notify)
	o.notify = make(chan struct{})
	o.mu.Unlock()
	return nil
}

// changed returns a channel closed by the next Put.
func (o *Outbox) changed() <-chan struct{} {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.notify
}

// After returns up to max entries with seq > after, oldest first.
func (o *Outbox) After(after uint64, max int) ([]Entry, error) {
	var out []Entry
	err := o.db.View(func(tx *bbolt.Tx) error {
		c := tx.Bucket(bQueue).Cursor()
		for k, v := c.Seek(seqKey(after + 1)); k != nil && len(out) < max; k, v = c.Next() {
			var r reboundv1.CallRecord
			if err := proto.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("outbox: corrupt entry %x: %w", k, err)
			}
			out = append(out, Entry{Seq: binary.BigEndian.Uint64(k), Record: &r})
		}
		return nil
	})
	return out, err
}

// Ack deletes the record if the queued copy is still the one sent as seq
// (a newer copy queued meanwhile stays, and is sent next).
func (o *Outbox) Ack(recordID string, seq uint64) error {
	return o.db.Update(func(tx *bbolt.Tx) error {
		ids := tx.Bucket(bIDs)
		cur := ids.Get([]byte(recordID))
		if cur == nil || binary.BigEndian.Uint64(cur) != seq {
			return nil
		}
		if err := tx.Bucket(bQueue).Delete(cur); err != nil {
			return err
		}
		return ids.Delete([]byte(recordID))
	})
}

// Depth is the number of queued records.
func (o *Outbox) Depth() uint64 {
	var n int
	_ = o.db.View(func(tx *bbolt.Tx) error {
		n = tx.Bucket(bQueue).Stats().KeyN
		return nil
	})
	return uint64(n)
}

func seqKey(seq uint64) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], seq)
	return b[:]
}
