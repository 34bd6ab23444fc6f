package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/reboundhq/rebound/hub/ingest"
	reboundv1 "github.com/reboundhq/rebound/proto/rebound/v1"
	"github.com/reboundhq/rebound/sip/dialer"
	"github.com/reboundhq/rebound/sip/siptest"
)

// TestClickToCallThroughAgent sends a dial command from the hub down the
// agent's uplink stream; the agent's SIP dialer rings the CSR's phone (sipp,
// which challenges for digest auth, answers, and accepts the REFER to the
// customer) and the result comes back up the same stream.
func TestClickToCallThroughAgent(t *testing.T) {
	sippPath := siptest.Peer(t, "sipp")
	sippPort := siptest.FreeUDPPort(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	s := newSiteHub(t)
	cfg := s.agentConfig(t)
	cfg.Dialer = dialer.Config{
		Proxy: fmt.Sprintf("127.0.0.1:%d", sippPort), Domain: "rebound.test",
		Username: "csr-dialer", Password: "s3cret", // the scenario verifies the digest with these
		Listen:          fmt.Sprintf("127.0.0.1:%d", siptest.FreeUDPPort(t)),
		TransferTimeout: 5 * time.Second,
	}
	stop := s.startAgent(t, cfg)
	defer stop()

	var out bytes.Buffer
	sipp := exec.CommandContext(ctx, sippPath,
		"-sf", filepath.Join("..", "..", "sip", "dialer", "testdata", "uas_answer_refer.xml"),
		"-i", "127.0.0.1", "-p", strconv.Itoa(sippPort), "-mi", "127.0.0.1",
		"-m", "1", "-timeout", "30s", "-timeout_error", "-nostdin")
	sipp.Stdout, sipp.Stderr = &out, &out
	if err := sipp.Start(); err != nil {
		t.Fatalf("start sipp: %v", err)
	}
	sippDone := make(chan error, 1)
	go func() { sippDone <- sipp.Wait() }()

	cmd := &reboundv1.AgentCommand{Cmd: &reboundv1.AgentCommand_Dial{Dial: &reboundv1.DialCommand{
		CsrExtension: "201", CustomerNumber: "+15557654321", CallerId: "5550100", CallerName: "Acme", RingTimeoutSeconds: 10}}}
	var results <-chan *reboundv1.CommandResult
	waitUntil(t, "the agent's uplink to accept commands", 30*time.Second, func() bool {
		var err error
		results, err = s.h.srv.Ingest.SendCommand(ctx, s.site, cmd)
		if errors.Is(err, ingest.ErrNotConnected) {
			return false
		}
		if err != nil {
			t.Fatalf("send dial: %v", err)
		}
		return true
	})
	select {
	case res := <-results:
		if res.GetDialOutcome() != reboundv1.CommandResult_DIAL_OUTCOME_ANSWERED || !res.GetOk() {
			t.Fatalf("dial result %v ok=%v error=%q, want answered", res.GetDialOutcome(), res.GetOk(), res.GetError())
		}
	case <-ctx.Done():
		t.Fatal("no dial result came back from the agent")
	}
	if err := <-sippDone; err != nil {
		t.Fatalf("the CSR phone's scenario failed: %v\n%s", err, out.String())
	}
}
