// Command rebound is the single Rebound binary: the hub, the site agent, the
// offline capture and scoring tools, and the demo.
//
// This package only wires flags and config files to the agent and hub packages.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"syscall"
)

// stdio is what a subcommand may print to; tests pass buffers.
type stdio struct {
	Stdout io.Writer
	Stderr io.Writer
}

type command struct {
	summary string
	run     func(ctx context.Context, args []string, io stdio) error
}

func commands() map[string]command {
	return map[string]command{
		"hub":     {"run a hub node (Raft-replicated queues, API and web UI)", cmdHub},
		"agent":   {"run a site agent beside a PBX (capture, record, ship calls)", cmdAgent},
		"capture": {"read a pcap file and print one call record per line (protojson)", cmdCapture},
		"score":   {"score calls offline from JSON lines, or evaluate the model", cmdScore},
		"demo":    {"start a single-node hub and an agent replaying sample calls", cmdDemo},
		"version": {"print the version", cmdVersion},
	}
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "Rebound finds the calls a service business is about to lose and puts them in front of a CSR.")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Usage: rebound <command> [flags]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Commands:")
	cmds := commands()
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-8s %s\n", n, cmds[n].summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run 'rebound <command> -h' for the flags of a command.")
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], stdio{Stdout: os.Stdout, Stderr: os.Stderr})
	stop()
	os.Exit(code)
}

// run executes one subcommand and returns the process exit code.
func run(ctx context.Context, args []string, io stdio) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(io.Stdout)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	c, ok := commands()[args[0]]
	if !ok {
		fmt.Fprintf(io.Stderr, "rebound: unknown command %q\n\n", args[0])
		usage(io.Stderr)
		return 2
	}
	err := c.run(ctx, args[1:], io)
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		return 2
	default:
		fmt.Fprintf(io.Stderr, "rebound %s: %v\n", args[0], err)
		return 1
	}
}

// errUsage marks an error already reported by the flag package.
var errUsage = errors.New("usage")

// newFlagSet returns a flag set that reports errors instead of exiting.
func newFlagSet(name, synopsis string, io stdio) *flag.FlagSet {
	fs := flag.NewFlagSet("rebound "+name, flag.ContinueOnError)
	fs.SetOutput(io.Stderr)
	fs.Usage = func() {
		fmt.Fprintf(io.Stderr, "Usage: rebound %s\n\n", synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args and maps the flag package's errors to errUsage.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return flag.ErrHelp
		}
		return errUsage
	}
	return nil
}
