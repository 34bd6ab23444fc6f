package state

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"

	reboundv1 "github.com/reboundhq/rebound/proto/rebound/v1"
	"go.etcd.io/bbolt"
)

// Local is a single-process store: the real state machine over one bbolt file, with the
// leader's duties (stamping time, numbering entries) done in process. Tests and tools use
// it where raft is not the point; hub/cluster does the same job across nodes.
type Local struct {
	db    *bbolt.DB
	m     *Machine
	clock func() time.Time

	mu    sync.Mutex
	hooks []func(index uint64, cmds []*reboundv1.Command, outs []*reboundv1.CommandOutcome)
}

var bLocalMeta = []byte("local_meta")

// OpenLocal opens (or creates) a bbolt file at path.
func OpenLocal(path string, m *Machine, clock func() time.Time) (*Local, error) {
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: time.Second, NoFreelistSync: true})
	if err != nil {
		return nil, fmt.Errorf("open state %s: %w", path, err)
	}
	ready := false
	_ = db.View(func(tx *bbolt.Tx) error {
		ready = tx.Bucket(bLocalMeta) != nil && tx.Bucket(bAudit) != nil
		return nil
	})
	if ready {
		return &Local{db: db, m: m, clock: clock}, nil
	}
	if err := db.Update(func(tx *bbolt.Tx) error {
		if _, err := tx.CreateBucketIfNotExists(bLocalMeta); err != nil {
			return err
		}
		return EnsureBuckets(tx)
	}); err != nil {
		db.Close()
		return nil, fmt.Errorf("init state %s: %w", path, err)
	}
	return &Local{db: db, m: m, clock: clock}, nil
}

// DB exposes the bbolt handle (benchmarks set NoSync on bulk loads).
func (l *Local) DB() *bbolt.DB { return l.db }

// Close closes the file.
func (l *Local) Close() error { return l.db.Close() }

// OnApplied registers a hook called after each committed batch.
func (l *Local) OnApplied(fn func(index uint64, cmds []*reboundv1.Command, outs []*reboundv1.CommandOutcome)) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.hooks = append(l.hooks, fn)
}

// Apply stamps the commands that carry no time, applies them as one entry and returns
// their outcomes.
func (l *Local) Apply(ctx context.Context, cmds ...*reboundv1.Command) ([]*reboundv1.CommandOutcome, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if len(cmds) == 0 {
		return nil, errors.New("no commands")
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	var now int64
	for _, c := range cmds {
		if c.AtUnixMs == 0 {
			if now == 0 {
				now = l.clock().UnixMilli()
			}
			c.AtUnixMs = now
		}
		if c.Version == 0 {
			c.Version = 1
		}
	}
	var outs []*reboundv1.CommandOutcome
	var index uint64
	err := l.db.Update(func(tx *bbolt.Tx) error {
		meta := tx.Bucket(bLocalMeta)
		if v := meta.Get([]byte("index")); v != nil {
			index = binary.BigEndian.Uint64(v)
		}
		index++
		var b [8]byte
		binary.BigEndian.PutUint64(b[:], index)
		if err := meta.Put([]byte("index"), b[:]); err != nil {
			return err
		}
		outs = l.m.Apply(tx, index, cmds)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("apply: %w", err)
	}
	for _, h := range l.hooks {
		h(index, cmds, outs)
	}
	return outs, nil
}

// View runs fn in a read transaction. A single process is always current, so consistent
// changes nothing.
func (l *Local) View(ctx context.Context, consistent bool, fn func(tx *bbolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return l.db.View(fn)
}
