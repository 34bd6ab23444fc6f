package main

import (
	"context"
	"errors"
)

// cmdHub is replaced by its owner; until then it says so plainly.
func cmdHub(ctx context.Context, args []string, io stdio) error {
	fs := newFlagSet("hub", "hub [flags]", io)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	return errors.New("this build does not include the hub command yet")
}
