package main

import (
	"context"
	"errors"
)

// cmdDemo is replaced by its owner; until then it says so plainly.
func cmdDemo(ctx context.Context, args []string, io stdio) error {
	fs := newFlagSet("demo", "demo [flags]", io)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	return errors.New("this build does not include the demo command yet")
}
