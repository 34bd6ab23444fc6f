package cluster

import (
	"testing"
	"time"
)

// TestFaultSoak cycles through faults under continuous ingest through every
// node: leader kill and restart, an isolated follower, an isolated leader.
// After the loop every acked record is on every node exactly once and the
// nodes' states are identical. Skipped under -short (the single-fault tests
// cover each fault quickly).
func TestFaultSoak(t *testing.T) {
	if testing.Short() {
		t.Skip("soak: long fault loop")
	}
	c := boot3(t, func(cfg *Config) {
		cfg.SnapshotThreshold = 256
		cfg.TrailingLogs = 64
		cfg.SnapshotInterval = 200 * time.Millisecond
	})
	in := c.startIngest(6, c.running)
	progress := func(what string) {
		n := in.count()
		c.waitFor(what, 30*time.Second, func() bool { return in.count() > n+10 })
	}
	for round := 0; round < 9; round++ {
		switch round % 3 {
		case 0:
			l := c.waitLeader(20 * time.Second)
			l.stop()
			progress("commits after a leader kill")
			c.start(l)
		case 1:
			l := c.waitLeader(20 * time.Second)
			var f *testNode
			for _, n := range c.running() {
				if n != l {
					f = n
					break
				}
			}
			f.fault.isolated.Store(true)
			progress("commits with a follower isolated")
			f.fault.isolated.Store(false)
		case 2:
			l := c.waitLeader(20 * time.Second)
			l.fault.isolated.Store(true)
			c.waitFor("a new leader", 20*time.Second, func() bool {
				nl := c.leader()
				return nl != nil && nl != l
			})
			progress("commits with the old leader isolated")
			l.fault.isolated.Store(false)
		}
		progress("commits after healing")
	}
	acked := in.finish()
	t.Logf("%d records acked through 9 faults", len(acked))
	c.converge(acked)
}
