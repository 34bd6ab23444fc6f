package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	goio "io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	"github.com/reboundhq/rebound/hub"
	"github.com/reboundhq/rebound/hub/cluster"
	"github.com/reboundhq/rebound/hub/ingest"
	reboundv1 "github.com/reboundhq/rebound/proto/rebound/v1"
)

// cmdHub runs a hub node, or with "certs" creates TLS material.
func cmdHub(ctx context.Context, args []string, io stdio) error {
	if len(args) > 0 {
		switch args[0] {
		case "certs":
			return cmdHubCerts(args[1:], io)
		case "backup":
			return cmdHubBackup(ctx, args[1:], io)
		case "restore":
			return cmdHubRestore(args[1:], io)
		case "remove", "status":
			return cmdHubPeer(ctx, args[0], args[1:], io)
		}
	}
	fs := newFlagSet("hub", "hub [--config hub.yaml] [flags]\n"+
		"       rebound hub certs --dir DIR --hosts h1,h2\n"+
		"       rebound hub status|remove --via HOST:9090 [--node-id N]\n"+
		"       rebound hub backup --out FILE [--http-addr 127.0.0.1:8080]\n"+
		"       rebound hub restore --from FILE --data-dir DIR\n\n"+
		"Runs one hub node. With no --join and an empty data dir it bootstraps a\n"+
		"single-node cluster; with --join it asks an existing member to add it.\n"+
		"Flags override the config file.", io)
	configPath := fs.String("config", "", "YAML config file (see docs/examples/hub.yaml)")
	dataDir := fs.String("data-dir", "", "directory for raft log, state and snapshots")
	nodeID := fs.String("node-id", "", "stable, unique node name (default: hostname)")
	httpAddr := fs.String("http-addr", "", "HTTP listen address for the web UI, API, /healthz, /metrics (default :8080)")
	grpcAddr := fs.String("grpc-addr", "", "gRPC listen address for agents and peers (default :9090)")
	raftAddr := fs.String("raft-addr", "", "raft transport listen address (default :9190)")
	join := fs.String("join", "", "comma-separated gRPC addresses of existing members to join")
	logFormat := fs.String("log-format", "", "log format: json or text")
	selfSigned := fs.Bool("tls-self-signed", false, "create and use a self-signed CA and certificate under data-dir/tls")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg := hub.Defaults()
	if *configPath != "" {
		if err := loadConfig(*configPath, &cfg); err != nil {
			return err
		}
	}
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "data-dir":
			cfg.DataDir = *dataDir
		case "node-id":
			cfg.NodeID = *nodeID
		case "http-addr":
			cfg.HTTPAddr = *httpAddr
		case "grpc-addr":
			cfg.GRPCAddr = *grpcAddr
		case "raft-addr":
			cfg.RaftAddr = *raftAddr
		case "join":
			cfg.Join = splitList(*join)
		case "log-format":
			cfg.Log.Format = *logFormat
		case "tls-self-signed":
			cfg.TLS.SelfSigned = *selfSigned
		}
	})
	if err := cfg.Validate(); err != nil {
		if *configPath != "" {
			return fmt.Errorf("config %s: %w", *configPath, err)
		}
		return err
	}
	log, err := newLogger(io.Stderr, cfg.Log.Format, cfg.Log.Level)
	if err != nil {
		return err
	}
	srv, err := hub.New(cfg, log)
	if err != nil {
		return err
	}
	fmt.Fprintf(io.Stdout, "rebound hub %s: http %s, grpc %s, raft %s\n", cfg.NodeID, srv.HTTPAddr(), srv.GRPCAddr(), cfg.RaftAddr)
	return srv.Run(ctx)
}

func cmdHubCerts(args []string, io stdio) error {
	fs := newFlagSet("hub certs", "hub certs --dir DIR --hosts h1,h2,10.0.0.5\n\n"+
		"Creates a self-signed CA (ca.pem, ca-key.pem) and a node certificate\n"+
		"(node.pem, node-key.pem) valid for the given hosts. Copy ca.pem to\n"+
		"agents (tls.ca_file). Existing files are never overwritten.", io)
	dir := fs.String("dir", "", "output directory")
	hosts := fs.String("hosts", "", "comma-separated DNS names and IPs the certificate is valid for")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *dir == "" || *hosts == "" {
		return errors.New("certs: --dir and --hosts are required")
	}
	if err := ingest.GenerateCerts(*dir, splitList(*hosts), time.Now()); err != nil {
		return err
	}
	fmt.Fprintf(io.Stdout, "wrote %s/{%s,%s,%s,%s}\n", *dir, ingest.CAFile, ingest.CAKeyFile, ingest.CertFile, ingest.KeyFile)
	return nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func cmdHubBackup(ctx context.Context, args []string, io stdio) error {
	fs := newFlagSet("hub backup", "hub backup --out FILE [--http-addr 127.0.0.1:8080]\n\n"+
		"Writes a consistent copy of the node's state, fetched over loopback from\n"+
		"the running hub on this machine. Run it on the leader for the newest data.", io)
	out := fs.String("out", "", "backup file to write")
	addr := fs.String("http-addr", "127.0.0.1:8080", "the local hub's HTTP address")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *out == "" {
		return errors.New("backup: --out is required")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+*addr+"/admin/backup", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("backup: hub answered %s", resp.Status)
	}
	tmp := *out + ".partial"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	n, err := goio.Copy(f, resp.Body)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("backup: %w", err)
	}
	if err := os.Rename(tmp, *out); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	fmt.Fprintf(io.Stdout, "wrote %s (%d bytes)\n", *out, n)
	return nil
}

func cmdHubRestore(args []string, io stdio) error {
	fs := newFlagSet("hub restore", "hub restore --from FILE --data-dir DIR\n\n"+
		"Seeds an empty data dir from a backup. Start one node on it with no\n"+
		"--join (it bootstraps a new cluster holding the restored state), then\n"+
		"join the other nodes to it with empty data dirs.", io)
	from := fs.String("from", "", "backup file (from rebound hub backup)")
	dataDir := fs.String("data-dir", "", "the new node's data dir (must be empty)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *from == "" || *dataDir == "" {
		return errors.New("restore: --from and --data-dir are required")
	}
	if err := cluster.PrepareRestore(*from, filepath.Join(*dataDir, "raft")); err != nil {
		return err
	}
	fmt.Fprintf(io.Stdout, "restored %s into %s; start `rebound hub --data-dir %s` without --join\n", *from, *dataDir, *dataDir)
	return nil
}

// cmdHubPeer calls the Cluster service of a running member.
func cmdHubPeer(ctx context.Context, op string, args []string, io stdio) error {
	fs := newFlagSet("hub "+op, "hub "+op+" --via HOST:9090 [--node-id N] [--cluster-secret-file F] [--ca-file F]", io)
	via := fs.String("via", "127.0.0.1:9090", "gRPC address of any member")
	nodeID := fs.String("node-id", "", "node to remove (remove only)")
	secretFile := fs.String("cluster-secret-file", "", "the cluster's shared secret file")
	caFile := fs.String("ca-file", "", "CA of the hub's certificate (TLS); empty: plaintext")
	certFile := fs.String("cert-file", "", "client certificate (mTLS)")
	keyFile := fs.String("key-file", "", "client key (mTLS)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	creds := grpc.WithTransportCredentials(insecure.NewCredentials())
	if *caFile != "" {
		tc, err := ingest.ClientTLS(*caFile, *certFile, *keyFile, "")
		if err != nil {
			return err
		}
		creds = grpc.WithTransportCredentials(credentials.NewTLS(tc))
	}
	cc, err := grpc.NewClient(*via, creds)
	if err != nil {
		return err
	}
	defer cc.Close()
	if *secretFile != "" {
		b, err := os.ReadFile(*secretFile)
		if err != nil {
			return err
		}
		ctx = metadata.AppendToOutgoingContext(ctx, "x-rebound-cluster", strings.TrimSpace(string(b)))
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	c := reboundv1.NewClusterClient(cc)
	if op == "remove" {
		if *nodeID == "" {
			return errors.New("remove: --node-id is required")
		}
		if _, err := c.Remove(ctx, &reboundv1.RemoveRequest{NodeId: *nodeID}); err != nil {
			return fmt.Errorf("remove: %w", err)
		}
		fmt.Fprintf(io.Stdout, "removed %s\n", *nodeID)
		return nil
	}
	st, err := c.Status(ctx, &reboundv1.StatusRequest{})
	if err != nil {
		return fmt.Errorf("status: %w", err)
	}
	fmt.Fprintf(io.Stdout, "node %s: %s, leader %s, applied %d, commit %d\n", st.GetNodeId(), st.GetState(), st.GetLeaderId(), st.GetAppliedIndex(), st.GetCommitIndex())
	for _, p := range st.GetPeers() {
		fmt.Fprintf(io.Stdout, "  peer %s %s voter=%v\n", p.GetNodeId(), p.GetRaftAddr(), p.GetVoter())
	}
	return nil
}
