package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	"github.com/reboundhq/rebound/agent/calls"
	"github.com/reboundhq/rebound/agent/capture"
	"github.com/reboundhq/rebound/agent/pipeline"
	reboundv1 "github.com/reboundhq/rebound/proto/rebound/v1"
	"github.com/reboundhq/rebound/recorder"
)

// captureConfig is the part of agent.yaml `rebound capture` reads: the call
// rules and, optionally, the site id. The other sections of agent.yaml
// (uplink, capture sources, recordings...) are accepted and ignored, so the
// same file serves both commands; typos inside calls: are still reported.
type captureConfig struct {
	SiteID string         `yaml:"site_id"`
	Calls  calls.Config   `yaml:"calls"`
	Other  map[string]any `yaml:",inline"`
}

// cmdCapture reads a pcap file and prints one protojson CallRecord per line.
func cmdCapture(ctx context.Context, args []string, io stdio) error {
	fs := newFlagSet("capture", "capture --pcap FILE [--config agent.yaml] [--recordings DIR] [--site-id ID]", io)
	pcapPath := fs.String("pcap", "", "pcap or pcapng `file` to read (required)")
	configPath := fs.String("config", "", "agent YAML `file` with the calls: rules (optional; defaults otherwise)")
	recDir := fs.String("recordings", "", "write stereo WAV recordings into `dir`")
	siteID := fs.String("site-id", "", "site `id` stamped on records (default: the config's site_id, else \"capture\")")
	verbose := fs.Bool("v", false, "log warnings about malformed input to stderr")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *pcapPath == "" {
		return errors.New("capture: --pcap FILE is required")
	}
	var cfg captureConfig
	if *configPath != "" {
		if err := loadConfig(*configPath, &cfg); err != nil {
			return err
		}
	}
	if err := cfg.Calls.Validate(); err != nil {
		return fmt.Errorf("config %s: %w", *configPath, err)
	}
	site := *siteID
	if site == "" {
		site = cfg.SiteID
	}
	if site == "" {
		site = "capture"
	}
	if _, err := os.Stat(*pcapPath); err != nil {
		return fmt.Errorf("capture: cannot read %s: %w", *pcapPath, err)
	}
	level := slog.LevelError
	if *verbose {
		level = slog.LevelWarn
	}
	log := slog.New(slog.NewTextHandler(io.Stderr, &slog.HandlerOptions{Level: level}))

	var rec *recorder.Recorder
	if *recDir != "" {
		r, err := recorder.New(recorder.Config{Dir: *recDir}, log, nil)
		if err != nil {
			return err
		}
		rec = r
	}
	enc := protojson.MarshalOptions{}
	var writeErr error
	p, err := pipeline.New(pipeline.Options{
		SiteID:   site,
		Calls:    cfg.Calls,
		Recorder: rec,
		Logger:   log,
		Emit: func(r *reboundv1.CallRecord) {
			if writeErr != nil {
				return
			}
			b, err := enc.Marshal(r)
			if err != nil {
				writeErr = err
				return
			}
			b = append(b, '\n')
			_, writeErr = io.Stdout.Write(b)
		},
	})
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	src := &capture.Pcap{Path: *pcapPath, Config: capture.Config{Logger: log}}
	if err := src.Run(ctx, p); err != nil {
		return err
	}
	p.Flush(time.Time{})
	if writeErr != nil {
		return fmt.Errorf("capture: write: %w", writeErr)
	}
	if st := src.Counters().Snapshot(); st.Malformed > 0 || p.Stats().MalformedSIP > 0 {
		log.Warn("malformed input", "packets", st.Malformed, "sip", p.Stats().MalformedSIP)
	}
	return nil
}
