package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/reboundhq/rebound/hub"
	"github.com/reboundhq/rebound/hub/ingest"
)

// cmdHub runs a hub node, or with "certs" creates TLS material.
func cmdHub(ctx context.Context, args []string, io stdio) error {
	if len(args) > 0 && args[0] == "certs" {
		return cmdHubCerts(args[1:], io)
	}
	fs := newFlagSet("hub", "hub [--config hub.yaml] [flags]\n       rebound hub certs --dir DIR --hosts h1,h2\n\n"+
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
