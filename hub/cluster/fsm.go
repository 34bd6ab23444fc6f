package cluster

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/hashicorp/raft"
	"go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"

	reboundv1 "github.com/reboundhq/rebound/proto/rebound/v1"
)

// Reserved buckets and keys in fsm.db.
var (
	bucketMeta    = []byte("_cluster")
	bucketMembers = []byte("_cluster_members")
	keyApplied    = []byte("applied_index")
)

// Internal command types handled by the cluster itself, never passed to the
// StateMachine. Their body is the member's gRPC address.
const (
	cmdMemberSet    = "cluster.member.set"
	cmdMemberDelete = "cluster.member.delete"
)

// snapshotMagic starts every snapshot stream, followed by the big-endian
// applied index of the copy and then the raw bbolt file. The header lets a
// restarting node decide whether its own fsm.db is behind the newest snapshot
// without opening the copy.
var snapshotMagic = []byte("RBSNAP1\n")

// applyResult is what a local raft.Apply future yields for one entry.
type applyResult struct {
	index    uint64
	outcomes []*reboundv1.CommandOutcome
	skipped  bool
}

// fsm is the raft.BatchingFSM over fsm.db.
type fsm struct {
	path string
	sm   StateMachine
	log  *slog.Logger

	// mu guards db against replacement by Restore; readers hold RLock.
	mu sync.RWMutex
	db *bbolt.DB

	// applied is the last applied command index, published after commit.
	amu     sync.Mutex
	applied uint64
	waitCh  chan struct{} // closed and replaced whenever applied moves

	hmu   sync.RWMutex
	hooks []AppliedFunc
}

func openBolt(path string) (*bbolt.DB, error) {
	// A large initial mmap avoids remaps, which would make writers wait for
	// a long-running snapshot read transaction.
	return bbolt.Open(path, 0o600, &bbolt.Options{Timeout: 5 * time.Second, InitialMmapSize: 256 << 20})
}

func newFSM(path string, sm StateMachine, log *slog.Logger) (*fsm, error) {
	db, err := openBolt(path)
	if err != nil {
		return nil, fmt.Errorf("open fsm %s: %w", path, err)
	}
	f := &fsm{path: path, sm: sm, log: log, db: db, waitCh: make(chan struct{})}
	if err := db.Update(func(tx *bbolt.Tx) error {
		for _, b := range [][]byte{bucketMeta, bucketMembers} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		db.Close()
		return nil, fmt.Errorf("init fsm %s: %w", path, err)
	}
	f.applied = readApplied(db)
	return f, nil
}

func readApplied(db *bbolt.DB) uint64 {
	var idx uint64
	_ = db.View(func(tx *bbolt.Tx) error {
		if b := tx.Bucket(bucketMeta); b != nil {
			if v := b.Get(keyApplied); len(v) == 8 {
				idx = binary.BigEndian.Uint64(v)
			}
		}
		return nil
	})
	return idx
}

func (f *fsm) appliedIndex() uint64 {
	f.amu.Lock()
	defer f.amu.Unlock()
	return f.applied
}

// waitApplied returns a channel that is closed once applied >= idx, and
// whether it already is.
func (f *fsm) waitChan(idx uint64) (<-chan struct{}, bool) {
	f.amu.Lock()
	defer f.amu.Unlock()
	if f.applied >= idx {
		return nil, true
	}
	return f.waitCh, false
}

func (f *fsm) publish(idx uint64) {
	f.amu.Lock()
	if idx > f.applied {
		f.applied = idx
	}
	close(f.waitCh)
	f.waitCh = make(chan struct{})
	f.amu.Unlock()
}

func (f *fsm) addHook(h AppliedFunc) {
	f.hmu.Lock()
	f.hooks = append(f.hooks, h)
	f.hmu.Unlock()
}

func (f *fsm) runHooks(index uint64, cmds []*reboundv1.Command, outs []*reboundv1.CommandOutcome) {
	f.hmu.RLock()
	hooks := f.hooks
	f.hmu.RUnlock()
	for _, h := range hooks {
		h(index, cmds, outs)
	}
}

// Apply implements raft.FSM.
func (f *fsm) Apply(l *raft.Log) interface{} {
	return f.ApplyBatch([]*raft.Log{l})[0]
}

type hookCall struct {
	index uint64
	cmds  []*reboundv1.Command
	outs  []*reboundv1.CommandOutcome
}

// ApplyBatch implements raft.BatchingFSM: one bbolt transaction for the whole
// batch, with the last applied index written in that same transaction. Entries
// at or below the stored index were applied before (a replay after restart)
// and change nothing.
func (f *fsm) ApplyBatch(logs []*raft.Log) []interface{} {
	resp := make([]interface{}, len(logs))
	var calls []hookCall
	f.mu.RLock()
	defer f.mu.RUnlock()
	var last uint64
	err := f.db.Update(func(tx *bbolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		var stored uint64
		if v := meta.Get(keyApplied); len(v) == 8 {
			stored = binary.BigEndian.Uint64(v)
		}
		last = stored
		for i, l := range logs {
			if l.Type != raft.LogCommand {
				continue
			}
			if l.Index <= stored {
				resp[i] = &applyResult{index: l.Index, skipped: true}
				continue
			}
			var batch reboundv1.CommandBatch
			if err := proto.Unmarshal(l.Data, &batch); err != nil {
				// A corrupt or foreign entry: record the index so replay is
				// stable, and report the failure to a waiting caller.
				f.log.Error("undecodable raft entry", "index", l.Index, "err", err)
				resp[i] = &applyResult{index: l.Index, outcomes: nil}
				last = l.Index
				continue
			}
			outs := f.applyCommands(tx, l.Index, batch.Commands)
			resp[i] = &applyResult{index: l.Index, outcomes: outs}
			calls = append(calls, hookCall{l.Index, batch.Commands, outs})
			last = l.Index
		}
		if last != stored {
			var b [8]byte
			binary.BigEndian.PutUint64(b[:], last)
			if err := meta.Put(keyApplied, b[:]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		// The log is the truth and the FSM cannot skip an entry: crash and
		// let the restart replay from the stored index.
		panic(fmt.Sprintf("cluster: fsm commit failed at index %d: %v", last, err))
	}
	f.publish(last)
	for _, c := range calls {
		f.runHooks(c.index, c.cmds, c.outs)
	}
	return resp
}

// applyCommands handles cluster-internal commands itself and hands the rest,
// in order, to the state machine.
func (f *fsm) applyCommands(tx *bbolt.Tx, index uint64, cmds []*reboundv1.Command) []*reboundv1.CommandOutcome {
	outs := make([]*reboundv1.CommandOutcome, len(cmds))
	var user []*reboundv1.Command
	var userPos []int
	members := tx.Bucket(bucketMembers)
	for i, c := range cmds {
		switch c.GetType() {
		case cmdMemberSet:
			if err := members.Put([]byte(c.GetActor()), c.GetBody()); err != nil {
				outs[i] = &reboundv1.CommandOutcome{Error: err.Error(), ErrorCode: "internal"}
				continue
			}
			outs[i] = &reboundv1.CommandOutcome{}
		case cmdMemberDelete:
			if err := members.Delete([]byte(c.GetActor())); err != nil {
				outs[i] = &reboundv1.CommandOutcome{Error: err.Error(), ErrorCode: "internal"}
				continue
			}
			outs[i] = &reboundv1.CommandOutcome{}
		default:
			user = append(user, c)
			userPos = append(userPos, i)
		}
	}
	if len(user) > 0 {
		res := f.sm.Apply(tx, index, user)
		for j, pos := range userPos {
			if j < len(res) && res[j] != nil {
				outs[pos] = res[j]
			} else {
				outs[pos] = &reboundv1.CommandOutcome{}
			}
		}
	}
	return outs
}

// view runs fn in a read transaction of the current fsm.db.
func (f *fsm) view(fn func(tx *bbolt.Tx) error) error {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.db.View(fn)
}

// member returns the gRPC address recorded for a node.
func (f *fsm) member(id string) string {
	var addr string
	_ = f.view(func(tx *bbolt.Tx) error {
		if b := tx.Bucket(bucketMembers); b != nil {
			addr = string(b.Get([]byte(id)))
		}
		return nil
	})
	return addr
}

func (f *fsm) members() map[string]string {
	m := map[string]string{}
	_ = f.view(func(tx *bbolt.Tx) error {
		if b := tx.Bucket(bucketMembers); b != nil {
			return b.ForEach(func(k, v []byte) error {
				m[string(k)] = string(v)
				return nil
			})
		}
		return nil
	})
	return m
}

// Snapshot implements raft.FSM. It runs on the FSM goroutine, between
// applies, so the read transaction it opens is exactly the state at the
// snapshot's index; Persist copies it concurrently with later applies.
func (f *fsm) Snapshot() (raft.FSMSnapshot, error) {
	f.mu.RLock()
	tx, err := f.db.Begin(false)
	if err != nil {
		f.mu.RUnlock()
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	var applied uint64
	if v := tx.Bucket(bucketMeta).Get(keyApplied); len(v) == 8 {
		applied = binary.BigEndian.Uint64(v)
	}
	return &fsmSnapshot{f: f, tx: tx, applied: applied}, nil
}

type fsmSnapshot struct {
	f       *fsm
	tx      *bbolt.Tx
	applied uint64
	once    sync.Once
}

func (s *fsmSnapshot) Persist(sink raft.SnapshotSink) error {
	w := bufio.NewWriterSize(sink, 1<<20)
	var hdr [8]byte
	binary.BigEndian.PutUint64(hdr[:], s.applied)
	_, err := w.Write(snapshotMagic)
	if err == nil {
		_, err = w.Write(hdr[:])
	}
	if err == nil {
		_, err = s.tx.WriteTo(w)
	}
	if err == nil {
		err = w.Flush()
	}
	if err != nil {
		_ = sink.Cancel()
		return fmt.Errorf("persist snapshot: %w", err)
	}
	return sink.Close()
}

func (s *fsmSnapshot) Release() {
	s.once.Do(func() {
		_ = s.tx.Rollback()
		s.f.mu.RUnlock()
	})
}

// readSnapshotHeader reads the magic and applied index from a snapshot stream.
func readSnapshotHeader(r io.Reader) (uint64, error) {
	hdr := make([]byte, len(snapshotMagic)+8)
	if _, err := io.ReadFull(r, hdr); err != nil {
		return 0, fmt.Errorf("snapshot header: %w", err)
	}
	if !bytes.Equal(hdr[:len(snapshotMagic)], snapshotMagic) {
		return 0, errors.New("snapshot header: not a rebound snapshot")
	}
	return binary.BigEndian.Uint64(hdr[len(snapshotMagic):]), nil
}

// Restore implements raft.FSM: stage the copy next to fsm.db, fsync it,
// swap it in with an atomic rename, and reopen. A crash at any point leaves
// either the old or the new file, never a mix.
func (f *fsm) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	br := bufio.NewReaderSize(rc, 1<<20)
	if _, err := readSnapshotHeader(br); err != nil {
		return err
	}
	staged := f.path + ".restore"
	out, err := os.OpenFile(staged, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	if _, err := io.Copy(out, br); err != nil {
		out.Close()
		os.Remove(staged)
		return fmt.Errorf("restore copy: %w", err)
	}
	if err := out.Sync(); err != nil {
		out.Close()
		os.Remove(staged)
		return fmt.Errorf("restore sync: %w", err)
	}
	if err := out.Close(); err != nil {
		os.Remove(staged)
		return fmt.Errorf("restore close: %w", err)
	}
	idx, err := f.swap(staged)
	if err != nil {
		return err
	}
	f.log.Info("fsm restored from snapshot", "applied_index", idx)
	// Hooks run outside the lock: they may read the new state.
	f.runHooks(idx, nil, nil)
	return nil
}

// swap replaces fsm.db with the staged file and reopens it.
func (f *fsm) swap(staged string) (uint64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.db.Close(); err != nil {
		return 0, fmt.Errorf("restore: close fsm: %w", err)
	}
	if err := os.Rename(staged, f.path); err != nil {
		// Reopen the old file so the node can keep serving reads.
		db, oerr := openBolt(f.path)
		if oerr == nil {
			f.db = db
		}
		return 0, fmt.Errorf("restore rename: %w", err)
	}
	syncDir(filepath.Dir(f.path))
	db, err := openBolt(f.path)
	if err != nil {
		return 0, fmt.Errorf("restore reopen: %w", err)
	}
	f.db = db
	idx := readApplied(db)
	f.amu.Lock()
	f.applied = idx
	close(f.waitCh)
	f.waitCh = make(chan struct{})
	f.amu.Unlock()
	return idx, nil
}

func (f *fsm) close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.db.Close()
}

func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
}
