package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

type testConfig struct {
	NodeID string `yaml:"node_id"`
	HTTP   struct {
		Addr string `yaml:"addr"`
	} `yaml:"http"`
	ACWMinutes int `yaml:"acw_minutes"`
}

func TestLoadConfig(t *testing.T) {
	tests := []struct {
		name    string
		yaml    string
		wantErr []string // substrings; empty means success
		check   func(t *testing.T, c testConfig)
	}{
		{name: "valid", yaml: "node_id: h1\nhttp:\n  addr: :8080\nacw_minutes: 7\n",
			check: func(t *testing.T, c testConfig) {
				if c.NodeID != "h1" || c.HTTP.Addr != ":8080" || c.ACWMinutes != 7 {
					t.Fatalf("decoded %+v", c)
				}
			}},
		{name: "empty file keeps defaults", yaml: "",
			check: func(t *testing.T, c testConfig) {
				if c.NodeID != "default" {
					t.Fatalf("default overwritten: %+v", c)
				}
			}},
		{name: "typo at top level", yaml: "node_idd: h1\n", wantErr: []string{"line 1", `unknown key "node_idd"`}},
		{name: "typo nested", yaml: "http:\n  adr: :80\n", wantErr: []string{"line 2", `unknown key "adr"`}},
		{name: "wrong type", yaml: "acw_minutes: five\n", wantErr: []string{"line 1", "five"}},
		{name: "not yaml", yaml: "node_id: [unclosed\n", wantErr: []string{"config"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "c.yaml")
			if err := os.WriteFile(path, []byte(tt.yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			c := testConfig{NodeID: "default"}
			err := loadConfig(path, &c)
			if len(tt.wantErr) == 0 {
				if err != nil {
					t.Fatalf("loadConfig: %v", err)
				}
				tt.check(t, c)
				return
			}
			if err == nil {
				t.Fatalf("loadConfig accepted %q", tt.yaml)
			}
			msg := err.Error()
			if !strings.Contains(msg, path) {
				t.Errorf("error %q does not name the file %s", msg, path)
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not contain %q", msg, w)
				}
			}
		})
	}
}

func TestLoadConfigMissingFile(t *testing.T) {
	var c testConfig
	err := loadConfig(filepath.Join(t.TempDir(), "nope.yaml"), &c)
	if err == nil || !strings.Contains(err.Error(), "nope.yaml") {
		t.Fatalf("want an error naming the file, got %v", err)
	}
}

func TestRunDispatch(t *testing.T) {
	tests := []struct {
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{args: nil, code: 2, stdout: "Usage: rebound <command>"},
		{args: []string{"help"}, code: 0, stdout: "capture"},
		{args: []string{"frobnicate"}, code: 2, stderr: `unknown command "frobnicate"`},
		{args: []string{"version"}, code: 0, stdout: "rebound "},
		{args: []string{"version", "--bogus"}, code: 2, stderr: "flag provided but not defined"},
		{args: []string{"version", "-h"}, code: 0, stderr: "Usage: rebound version"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(t.Context(), tt.args, stdio{Stdout: &out, Stderr: &errb})
			if code != tt.code {
				t.Errorf("exit %d, want %d (stderr %q)", code, tt.code, errb.String())
			}
			if tt.stdout != "" && !strings.Contains(out.String(), tt.stdout) {
				t.Errorf("stdout %q lacks %q", out.String(), tt.stdout)
			}
			if tt.stderr != "" && !strings.Contains(errb.String(), tt.stderr) {
				t.Errorf("stderr %q lacks %q", errb.String(), tt.stderr)
			}
		})
	}
}
