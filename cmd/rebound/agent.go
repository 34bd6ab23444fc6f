package main

import (
	"context"
	"flag"
	"fmt"

	"github.com/reboundhq/rebound/agent"
)

// cmdAgent runs a site agent.
func cmdAgent(ctx context.Context, args []string, io stdio) error {
	fs := newFlagSet("agent", "agent --config agent.yaml [flags]\n\n"+
		"Runs a site agent beside the PBX: captures SIP/RTP (pcap files, a mirror\n"+
		"port, or HEP), classifies and records calls, and ships call records to\n"+
		"the hub through a durable outbox. Flags override the config file.", io)
	configPath := fs.String("config", "", "YAML config file (see docs/examples/agent.yaml)")
	siteID := fs.String("site-id", "", "site id (as created on the hub)")
	dataDir := fs.String("data-dir", "", "directory for the outbox")
	httpAddr := fs.String("http-addr", "", "listen address for /healthz and /metrics (default :9100)")
	hubAddr := fs.String("hub", "", "comma-separated hub gRPC addresses")
	tokenFile := fs.String("token-file", "", "file holding the site token")
	pcap := fs.String("pcap", "", "comma-separated pcap/pcapng files to import")
	iface := fs.String("sniff", "", "interface to sniff (mirror port)")
	hep := fs.String("hep", "", "HEPv3 listen address (UDP and TCP)")
	insecure := fs.Bool("insecure", false, "talk to the hub without TLS (loopback tests only)")
	logFormat := fs.String("log-format", "", "log format: json or text")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg := agent.Defaults()
	if *configPath != "" {
		if err := loadConfig(*configPath, &cfg); err != nil {
			return err
		}
	}
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "site-id":
			cfg.SiteID = *siteID
		case "data-dir":
			cfg.DataDir = *dataDir
		case "http-addr":
			cfg.HTTPAddr = *httpAddr
		case "hub":
			cfg.Hub.Addresses = splitList(*hubAddr)
		case "token-file":
			cfg.Hub.TokenFile = *tokenFile
		case "pcap":
			cfg.Capture.Pcap = splitList(*pcap)
		case "sniff":
			cfg.Capture.Sniff.Interface = *iface
		case "hep":
			cfg.Capture.HEP.Listen = *hep
		case "insecure":
			cfg.Hub.TLS.Insecure = *insecure
		case "log-format":
			cfg.Log.Format = *logFormat
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
	return agent.Run(ctx, cfg, version, log)
}
