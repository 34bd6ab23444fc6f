package cluster

import (
	"context"
	"crypto/tls"
	"path/filepath"
	"testing"
	"time"

	"github.com/reboundhq/rebound/hub/ingest"
)

// TestRaftOverMutualTLS runs the raft transport and peer gRPC over TLS with
// a CA from the hub's cert helper (peer gRPC stays plaintext here; its TLS
// is the same gRPC credentials tested in hub/ingest), and checks a node with a certificate from
// another CA cannot take part.
func TestRaftOverMutualTLS(t *testing.T) {
	good := filepath.Join(t.TempDir(), "good")
	if err := ingest.GenerateCerts(good, []string{"localhost", "127.0.0.1"}, time.Now()); err != nil {
		t.Fatal(err)
	}
	raftTLS := func(dir string) *tls.Config {
		srv, err := ingest.ServerTLS(filepath.Join(dir, ingest.CertFile), filepath.Join(dir, ingest.KeyFile), filepath.Join(dir, ingest.CAFile))
		if err != nil {
			t.Fatal(err)
		}
		cli, err := ingest.ClientTLS(filepath.Join(dir, ingest.CAFile), filepath.Join(dir, ingest.CertFile), filepath.Join(dir, ingest.KeyFile), "")
		if err != nil {
			t.Fatal(err)
		}
		srv.RootCAs = cli.RootCAs
		return srv
	}
	c := newTestCluster(t, func(cfg *Config) {
		cfg.RaftTLS = raftTLS(good)
	})
	a, b := c.add("a"), c.add("b")
	c.start(a)
	c.waitLeader(10 * time.Second)
	c.start(b, a.grpcAddr)
	c.waitVoters(2, 20*time.Second)
	if _, err := b.n.Apply(context.Background(), ingestCmd("over-tls")); err != nil {
		t.Fatal(err)
	}
	c.converge([]string{"over-tls"})

	// A third node whose certificate comes from another CA is added to the
	// configuration (the join RPC is plaintext gRPC here) but cannot receive
	// the log: it never applies the record.
	evil := filepath.Join(t.TempDir(), "evil")
	if err := ingest.GenerateCerts(evil, []string{"localhost", "127.0.0.1"}, time.Now()); err != nil {
		t.Fatal(err)
	}
	c.tune = func(cfg *Config) {
		cfg.RaftTLS = raftTLS(evil)
	}
	x := c.add("x")
	c.start(x, a.grpcAddr)
	c.waitFor("the leader to list x", 20*time.Second, func() bool {
		l := c.leader()
		if l == nil {
			return false
		}
		for _, p := range l.n.Status().Peers {
			if p.NodeID == "x" {
				return true
			}
		}
		return false
	})
	// The majority (a, b) keeps committing; x stays empty.
	if _, err := a.n.Apply(context.Background(), ingestCmd("after-x")); err != nil {
		t.Fatal(err)
	}
	// And the leader's raft port refuses the foreign certificate outright.
	cli, err := ingest.ClientTLS(filepath.Join(evil, ingest.CAFile), filepath.Join(evil, ingest.CertFile), filepath.Join(evil, ingest.KeyFile), "")
	if err != nil {
		t.Fatal(err)
	}
	cli.InsecureSkipVerify = true // only the server's check of the client is under test
	conn, err := tls.Dial("tcp", a.raftAddr, cli)
	if err == nil {
		_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, err = conn.Read(make([]byte, 1))
		conn.Close()
	}
	if err == nil {
		t.Fatal("raft port accepted a client certificate from another CA")
	}
	if ne, ok := err.(interface{ Timeout() bool }); ok && ne.Timeout() {
		t.Fatalf("raft port neither accepted nor refused the foreign certificate: %v", err)
	}
	if x.n.AppliedIndex() != 0 {
		t.Fatalf("node with a foreign certificate applied index %d", x.n.AppliedIndex())
	}
}
