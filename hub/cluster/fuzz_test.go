package cluster

import (
	"bytes"
	"io"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/hashicorp/raft"
	"google.golang.org/protobuf/proto"

	reboundv1 "github.com/reboundhq/rebound/proto/rebound/v1"
)

// FuzzFSMApply feeds arbitrary raft entry payloads to the FSM: a corrupt or
// foreign entry must never panic, must advance the applied index (so replay
// stays stable), and a replay of the same entry must change nothing.
func FuzzFSMApply(f *testing.F) {
	good, _ := proto.Marshal(&reboundv1.CommandBatch{Commands: []*reboundv1.Command{ingestCmd("seed"), {Type: "reg.set", TenantId: "k", Body: []byte("v")}}})
	f.Add(good)
	f.Add([]byte{})
	f.Add([]byte{0xff, 0x01, 0x02})
	f.Add(good[:len(good)/2])
	f.Fuzz(func(t *testing.T, data []byte) {
		fs, err := newFSM(filepath.Join(t.TempDir(), "fsm.db"), recordSM{}, slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err != nil {
			t.Fatal(err)
		}
		defer fs.close()
		l := &raft.Log{Index: 7, Term: 1, Type: raft.LogCommand, Data: data}
		fs.ApplyBatch([]*raft.Log{l})
		if fs.appliedIndex() != 7 {
			t.Fatalf("applied index %d after entry 7", fs.appliedIndex())
		}
		d1 := fsmDigest(fs)
		resp := fs.ApplyBatch([]*raft.Log{l})
		if r, ok := resp[0].(*applyResult); !ok || !r.skipped {
			t.Fatalf("replayed entry was not skipped: %#v", resp[0])
		}
		if fsmDigest(fs) != d1 {
			t.Fatal("replay changed the state")
		}
	})
}

func fsmDigest(fs *fsm) string {
	n := &Node{fsm: fs}
	d, _ := digest(n)
	return d
}

// FuzzSnapshotHeader checks the snapshot header parser on arbitrary input.
func FuzzSnapshotHeader(f *testing.F) {
	f.Add(append(append([]byte{}, snapshotMagic...), 0, 0, 0, 0, 0, 0, 0, 9))
	f.Add([]byte("RBSNAP1"))
	f.Fuzz(func(t *testing.T, data []byte) {
		idx, err := readSnapshotHeader(bytes.NewReader(data))
		if err == nil && (len(data) < len(snapshotMagic)+8 || !bytes.HasPrefix(data, snapshotMagic)) {
			t.Fatalf("accepted %q as index %d", data, idx)
		}
	})
}
