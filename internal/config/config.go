// Package config loads minirtc's server configuration: defaults, then a YAML
// file, then MINIRTC_* environment variables, then command-line flags (the
// caller applies flags last). Every key of the YAML file can be set from the
// environment: the key path joined by '_' and upper-cased, e.g.
// room.max_participants is MINIRTC_ROOM_MAX_PARTICIPANTS.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/minirtc/minirtc/internal/room"
	"github.com/minirtc/minirtc/internal/signal"
)

// EnvPrefix starts every environment variable minirtc reads.
const EnvPrefix = "MINIRTC_"

// Config is the whole server configuration. docs/deployment.md lists every
// key with its default.
type Config struct {
	// Data is the data directory: the SQLite database (minirtc.db) and,
	// later, recordings.
	Data string `yaml:"data"`
	// HTTP is the listen address of signalling (/ws), /healthz, /metrics.
	HTTP string `yaml:"http"`
	// RTMP is the listen address of the RTMP server (media plane).
	RTMP string `yaml:"rtmp"`
	// Host is the host name or IP put into URLs handed to clients.
	Host string `yaml:"host"`
	// DevApp creates a development app on a first start with no apps.
	DevApp bool `yaml:"dev_app"`
	// ShutdownTimeout bounds how long SIGTERM waits for clients to be told.
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`

	// AllowFastPing lets tests use ping intervals under the protocol's 3 s
	// minimum; it cannot be set from a file or the environment.
	AllowFastPing bool `yaml:"-"`

	Log    Log           `yaml:"log"`
	Debug  Debug         `yaml:"debug"`
	Room   room.Config   `yaml:"room"`
	Signal signal.Config `yaml:"signal"`
}

// Log configures logging.
type Log struct {
	Level  string `yaml:"level"`  // debug, info, warn, error
	Format string `yaml:"format"` // text or json
}

// Debug configures endpoints for profiling and benchmarks.
type Debug struct {
	// Endpoints mounts /debug/pprof/ and /debug/heap on the HTTP port. They
	// are unauthenticated: enable them only where the port is private.
	Endpoints bool `yaml:"endpoints"`
}

// Default returns the configuration used when nothing is set.
func Default() Config {
	return Config{
		Data:            "./data",
		HTTP:            ":7880",
		RTMP:            ":1935",
		Host:            "localhost",
		DevApp:          true,
		ShutdownTimeout: 5 * time.Second,
		Log:             Log{Level: "info", Format: "text"},
		Room:            room.Defaults(),
		Signal:          signal.Defaults(),
	}
}

// Load builds the configuration from the defaults, the YAML file at path
// (if path is not empty) and the environment.
func Load(path string, environ []string) (Config, error) {
	cfg := Default()
	if path != "" {
		f, err := os.Open(path)
		if err != nil {
			return cfg, fmt.Errorf("reading config: %w", err)
		}
		defer f.Close()
		if err := decodeYAML(f, &cfg); err != nil {
			return cfg, fmt.Errorf("config file %s: %w", path, err)
		}
	}
	if err := applyEnv(&cfg, environ); err != nil {
		return cfg, err
	}
	return cfg, nil
}

// decodeYAML reads YAML into cfg, refusing keys that do not exist so that a
// typo does not silently leave a default in force.
func decodeYAML(r io.Reader, cfg *Config) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return nil
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(cfg); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	return nil
}

// Validate checks the whole configuration.
func (c Config) Validate() error {
	if c.Data == "" {
		return errors.New("data (the data directory) must not be empty")
	}
	if c.HTTP == "" {
		return errors.New("http (the HTTP listen address) must not be empty")
	}
	if c.Host == "" {
		return errors.New("host (put into URLs given to clients) must not be empty")
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("log.level must be debug, info, warn or error, got %q", c.Log.Level)
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		return fmt.Errorf("log.format must be text or json, got %q", c.Log.Format)
	}
	if c.ShutdownTimeout <= 0 {
		return fmt.Errorf("shutdown_timeout must be positive, got %s", c.ShutdownTimeout)
	}
	if err := c.Room.Validate(); err != nil {
		return err
	}
	if c.AllowFastPing {
		return c.Signal.ValidateAnyPing()
	}
	return c.Signal.Validate()
}
