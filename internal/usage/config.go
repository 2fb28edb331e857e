package usage

import (
	"fmt"
	"time"
)

// Config is the "usage" section of the server configuration.
type Config struct {
	// FlushInterval is how often accrued figures are written to the store.
	// A crash loses at most the figures of the last interval.
	FlushInterval time.Duration `yaml:"flush_interval"`
}

// Limits of FlushInterval: under a second is pointless at second precision,
// over an hour would put more than an hour's figures at risk.
const (
	MinFlushInterval = time.Second
	MaxFlushInterval = time.Hour
)

// Defaults returns the default configuration.
func Defaults() Config { return Config{FlushInterval: time.Minute} }

// Validate checks the configuration.
func (c Config) Validate() error {
	if c.FlushInterval < MinFlushInterval || c.FlushInterval > MaxFlushInterval {
		return fmt.Errorf("usage.flush_interval must be between %s and %s, got %s", MinFlushInterval, MaxFlushInterval, c.FlushInterval)
	}
	return nil
}
