package main

import (
	"context"
	"errors"
)

// cmdCapture is replaced by its owner; until then it says so plainly.
func cmdCapture(ctx context.Context, args []string, io stdio) error {
	fs := newFlagSet("capture", "capture [flags]", io)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	return errors.New("this build does not include the capture command yet")
}
