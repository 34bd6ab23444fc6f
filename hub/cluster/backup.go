package cluster

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"go.etcd.io/bbolt"
)

// Backup writes a consistent copy of this node's state (a bbolt file) to w.
// It reads local state: run it on the leader, or after a consistent read,
// for the newest data.
func (n *Node) Backup(w io.Writer) (int64, error) {
	var size int64
	err := n.fsm.view(func(tx *bbolt.Tx) error {
		var err error
		size, err = tx.WriteTo(w)
		return err
	})
	if err != nil {
		return size, fmt.Errorf("backup: %w", err)
	}
	return size, nil
}

// PrepareRestore seeds a new cluster from a backup: it copies the backup to
// dataDir/fsm.db with the raft bookkeeping reset (applied index and member
// table), so that a node started on dataDir bootstraps a fresh single-node
// cluster whose log starts over on top of the restored state. dataDir must
// not hold a raft log yet.
func PrepareRestore(backup, dataDir string) error {
	if _, err := os.Stat(filepath.Join(dataDir, "raft.db")); err == nil {
		return errors.New("restore: data dir already has a raft log; use an empty directory")
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	in, err := os.Open(backup)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	defer in.Close()
	staged := filepath.Join(dataDir, "fsm.db.restore")
	out, err := os.OpenFile(staged, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("restore: copy: %w", err)
	}
	if err := out.Close(); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	db, err := openBolt(staged)
	if err != nil {
		return fmt.Errorf("restore: %s is not a hub backup: %w", backup, err)
	}
	err = db.Update(func(tx *bbolt.Tx) error {
		meta, err := tx.CreateBucketIfNotExists(bucketMeta)
		if err != nil {
			return err
		}
		var zero [8]byte
		binary.BigEndian.PutUint64(zero[:], 0)
		if err := meta.Put(keyApplied, zero[:]); err != nil {
			return err
		}
		if tx.Bucket(bucketMembers) != nil {
			if err := tx.DeleteBucket(bucketMembers); err != nil {
				return err
			}
		}
		_, err = tx.CreateBucket(bucketMembers)
		return err
	})
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("restore: reset: %w", err)
	}
	if err := os.Rename(staged, filepath.Join(dataDir, "fsm.db")); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	syncDir(dataDir)
	return nil
}
