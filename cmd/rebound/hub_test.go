package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/reboundhq/rebound/agent"
	"github.com/reboundhq/rebound/hub"
)

func TestHubRejectsBadConfig(t *testing.T) {
	tests := []struct{ name, yaml, want string }{
		{"typo", "data_dir: /tmp/x\nnode_idd: h1\n", `unknown key "node_idd"`},
		{"nested typo", "tls:\n  cert_fil: a.pem\n", `unknown key "cert_fil"`},
		{"bad address", "http_addr: nonsense\n", "http_addr"},
		{"bad log format", "log:\n  format: xml\n", "log.format"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "bad.yaml")
			if err := os.WriteFile(path, []byte(tt.yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			var out, errb bytes.Buffer
			code := run(context.Background(), []string{"hub", "--config", path}, stdio{Stdout: &out, Stderr: &errb})
			if code == 0 {
				t.Fatalf("exit 0 for %q", tt.yaml)
			}
			if !strings.Contains(errb.String(), tt.want) || !strings.Contains(errb.String(), path) {
				t.Fatalf("stderr %q does not name %q and the file", errb.String(), tt.want)
			}
		})
	}
}

func TestHubCertsWritesFiles(t *testing.T) {
	dir := t.TempDir()
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"hub", "certs", "--dir", dir, "--hosts", "hub1,127.0.0.1"}, stdio{Stdout: &out, Stderr: &errb}); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	for _, f := range []string{"ca.pem", "ca-key.pem", "node.pem", "node-key.pem"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Fatal(err)
		}
	}
	// A second run must not overwrite the CA.
	if code := run(context.Background(), []string{"hub", "certs", "--dir", dir, "--hosts", "hub1"}, stdio{Stdout: &out, Stderr: &errb}); code == 0 {
		t.Fatal("certs overwrote existing files")
	}
}

// TestExampleConfigsLoad keeps docs/examples valid: strict decoding and
// validation of both files.
func TestExampleConfigsLoad(t *testing.T) {
	h := hub.Defaults()
	if err := loadConfig("../../docs/examples/hub.yaml", &h); err != nil {
		t.Fatal(err)
	}
	if err := h.Validate(); err != nil {
		t.Fatalf("hub.yaml: %v", err)
	}
	a := agent.Defaults()
	if err := loadConfig("../../docs/examples/agent.yaml", &a); err != nil {
		t.Fatal(err)
	}
	if err := a.Validate(); err != nil {
		t.Fatalf("agent.yaml: %v", err)
	}
}
