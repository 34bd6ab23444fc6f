package pipeline

import (
	"log/slog"
	"time"
)

var timeZero time.Time

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }
