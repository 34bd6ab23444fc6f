package cluster

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestBackupRestoreSeedsNewCluster(t *testing.T) {
	c := boot3(t, nil)
	in := c.startIngest(2, c.running)
	c.waitFor("records", 20*time.Second, func() bool { return in.count() >= 30 })
	acked := in.finish()
	l := c.waitLeader(10 * time.Second)
	c.converge(acked)
	var buf bytes.Buffer
	if _, err := l.n.Backup(&buf); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "backup.db")
	if err := os.WriteFile(file, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}

	// A new single-node cluster seeded from the backup has every record and
	// keeps committing (the reset applied index must not make it skip).
	c2 := newTestCluster(t, nil)
	n := c2.add("restored")
	if err := PrepareRestore(file, n.dir); err != nil {
		t.Fatal(err)
	}
	c2.start(n)
	c2.waitLeader(10 * time.Second)
	c2.converge(acked)
	if _, err := n.n.Apply(t.Context(), ingestCmd("after-restore")); err != nil {
		t.Fatal(err)
	}
	c2.converge(append(acked, "after-restore"))
	if err := PrepareRestore(file, n.dir); err == nil {
		t.Fatal("restore over an existing raft log was allowed")
	}
}
