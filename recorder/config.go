package recorder

import (
	"errors"
	"fmt"
	"time"
)

// Config is the `recordings:` section of the agent configuration.
type Config struct {
	// Dir receives the WAV files. Record refs are names relative to it.
	Dir string `yaml:"dir"`
	// RetentionDays deletes recordings older than this many days; 0 keeps them.
	RetentionDays int `yaml:"retention_days"`
	// MaxTotalMB deletes the oldest recordings while the directory holds more
	// than this many megabytes (1 MB = 1,000,000 bytes); 0 means no cap.
	MaxTotalMB int64 `yaml:"max_total_mb"`
	// JitterBuffer is how long audio waits for late or reordered packets
	// before it is written. Packets later than this become silence. Default 200ms.
	JitterBuffer time.Duration `yaml:"jitter_buffer"`
	// FlushEvery is how often (in capture time) the WAV header is patched so a
	// crash leaves a playable file. Default 2s.
	FlushEvery time.Duration `yaml:"flush_every"`
	// ResyncAfter is how far RTP timestamps may disagree with capture time
	// before a stream is re-anchored (timestamp jump on hold/resume or
	// transfer). Default 500ms.
	ResyncAfter time.Duration `yaml:"resync_after"`
	// SilenceDBFS is the level (dB full scale, RMS over one packet) below
	// which audio counts as silence for the SILENT_CHANNEL flag. Default -50.
	SilenceDBFS float64 `yaml:"silence_dbfs"`
	// LossFlagPercent raises PACKET_LOSS when a stream loses at least this
	// share of its packets. Default 1.
	LossFlagPercent float64 `yaml:"loss_flag_percent"`
}

// Defaults used when a field is left zero.
const (
	DefaultJitterBuffer    = 200 * time.Millisecond
	DefaultFlushEvery      = 2 * time.Second
	DefaultResyncAfter     = 500 * time.Millisecond
	DefaultSilenceDBFS     = -50.0
	DefaultLossFlagPercent = 1.0
)

// withDefaults fills zero fields.
func (c Config) withDefaults() Config {
	if c.JitterBuffer == 0 {
		c.JitterBuffer = DefaultJitterBuffer
	}
	if c.FlushEvery == 0 {
		c.FlushEvery = DefaultFlushEvery
	}
	if c.ResyncAfter == 0 {
		c.ResyncAfter = DefaultResyncAfter
	}
	if c.SilenceDBFS == 0 {
		c.SilenceDBFS = DefaultSilenceDBFS
	}
	if c.LossFlagPercent == 0 {
		c.LossFlagPercent = DefaultLossFlagPercent
	}
	return c
}

// Validate reports every invalid field at once. Zero values mean "default".
func (c Config) Validate() error {
	var errs []error
	if c.Dir == "" {
		errs = append(errs, errors.New("recordings.dir is required"))
	}
	if c.RetentionDays < 0 {
		errs = append(errs, fmt.Errorf("recordings.retention_days must be >= 0, got %d", c.RetentionDays))
	}
	if c.MaxTotalMB < 0 {
		errs = append(errs, fmt.Errorf("recordings.max_total_mb must be >= 0, got %d", c.MaxTotalMB))
	}
	if c.JitterBuffer != 0 && (c.JitterBuffer < 20*time.Millisecond || c.JitterBuffer > 5*time.Second) {
		errs = append(errs, fmt.Errorf("recordings.jitter_buffer must be between 20ms and 5s, got %s", c.JitterBuffer))
	}
	if c.FlushEvery < 0 || (c.FlushEvery != 0 && c.FlushEvery < 100*time.Millisecond) {
		errs = append(errs, fmt.Errorf("recordings.flush_every must be >= 100ms, got %s", c.FlushEvery))
	}
	if c.ResyncAfter < 0 || (c.ResyncAfter != 0 && c.ResyncAfter < 60*time.Millisecond) {
		errs = append(errs, fmt.Errorf("recordings.resync_after must be >= 60ms, got %s", c.ResyncAfter))
	}
	if c.SilenceDBFS > 0 || c.SilenceDBFS < -96 {
		errs = append(errs, fmt.Errorf("recordings.silence_dbfs must be between -96 and 0, got %g", c.SilenceDBFS))
	}
	if c.LossFlagPercent < 0 || c.LossFlagPercent > 100 {
		errs = append(errs, fmt.Errorf("recordings.loss_flag_percent must be between 0 and 100, got %g", c.LossFlagPercent))
	}
	return errors.Join(errs...)
}
