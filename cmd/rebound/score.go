package main

import (
	"context"
	"errors"
)

// cmdScore is replaced by its owner; until then it says so plainly.
func cmdScore(ctx context.Context, args []string, io stdio) error {
	fs := newFlagSet("score", "score [flags]", io)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	return errors.New("this build does not include the score command yet")
}
