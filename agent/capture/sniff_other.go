//go:build !linux

package capture

import (
	"context"
	"errors"
)

// Run implements Source: AF_PACKET exists only on Linux.
func (s *Sniff) Run(ctx context.Context, h Handler) error {
	return errors.New("capture: sniff: AF_PACKET capture needs Linux")
}
