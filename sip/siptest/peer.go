// Package siptest finds the real external programs (sipp, kamailio, tshark,
// chromium, espeak-ng, sox) that Rebound's tests talk to, and hands out
// free loopback ports for them.
//
// A test that needs a peer calls Peer. When the program is missing the test is
// skipped with the Debian package to install, unless REBOUND_REQUIRE_PEERS=1,
// which CI sets: then a missing peer fails the test, so a green CI always means
// the real peer ran.
package siptest

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// RequirePeersEnv names the environment variable that turns skips into failures.
const RequirePeersEnv = "REBOUND_REQUIRE_PEERS"

// Debian package for each program the tests use.
var packages = map[string]string{
	"sipp":      "sip-tester",
	"kamailio":  "kamailio",
	"tshark":    "tshark",
	"chromium":  "chromium",
	"espeak-ng": "espeak-ng",
	"sox":       "sox",
	"protoc":    "protobuf-compiler",
}

// Peer returns the absolute path of program, or skips (fails under
// REBOUND_REQUIRE_PEERS=1) the test with the package that provides it.
func Peer(t testing.TB, program string) string {
	t.Helper()
	path, err := exec.LookPath(program)
	if err == nil {
		return path
	}
	pkg := packages[program]
	if pkg == "" {
		pkg = program
	}
	if os.Getenv(RequirePeersEnv) == "1" {
		t.Fatalf("%s not found and %s=1: install the Debian package %q", program, RequirePeersEnv, pkg)
	}
	t.Skipf("%s not found: install the Debian package %q to run this test (CI sets %s=1 and fails instead)", program, pkg, RequirePeersEnv)
	return ""
}

// FreeUDPPort returns a UDP port on 127.0.0.1 that was free a moment ago.
func FreeUDPPort(t testing.TB) int {
	t.Helper()
	c, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("free udp port: %v", err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

// FreeTCPPort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreeTCPPort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("free tcp port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// SharedTestdata returns the directory of public captures, SIPp scenarios and
// SIPREC bodies that sits beside the repository (../shared/testdata from the
// module root). They are read in place, never copied into the repository.
// When it is missing the test is skipped, or fails under REBOUND_REQUIRE_PEERS=1.
func SharedTestdata(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatalf("shared testdata: %v", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatalf("shared testdata: no go.mod above the test's directory")
		}
		dir = parent
	}
	td := filepath.Join(dir, "..", "shared", "testdata")
	if _, err := os.Stat(filepath.Join(td, "pcap")); err != nil {
		if os.Getenv(RequirePeersEnv) == "1" {
			t.Fatalf("shared test data missing at %s and %s=1: %v", td, RequirePeersEnv, err)
		}
		t.Skipf("shared test data not found at %s (it sits beside the repository in the work tree)", td)
	}
	return td
}
