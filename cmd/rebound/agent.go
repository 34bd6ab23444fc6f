package main

import (
	"context"
	"errors"
)

// cmdAgent is replaced by its owner; until then it says so plainly.
func cmdAgent(ctx context.Context, args []string, io stdio) error {
	fs := newFlagSet("agent", "agent [flags]", io)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	return errors.New("this build does not include the agent command yet")
}
