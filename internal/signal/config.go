// Package signal serves minirtc's signalling protocol (pkg/protocol, v1) on a
// WebSocket: it turns frames into room operations and room events into
// frames, and keeps sessions alive across dropped connections (resume).
//
// The pieces:
//
//	Handler  accepts connections, owns the session registry and the reaper
//	conn     one WebSocket: a read loop that runs requests in order, and a
//	         writer goroutine that sends responses, then events
//	session  one join: the room member, the numbered events not yet
//	         acknowledged (kept for resume), recent responses (for retries)
package signal

import (
	"fmt"
	"time"
)

// Config tunes the signalling server. Zero values take the defaults; limits
// are documented in docs/protocol.md.
type Config struct {
	// PingInterval is how often clients ping (3–10 s).
	PingInterval time.Duration `yaml:"ping_interval"`
	// SessionTimeout is how long a silent session lives before it is removed
	// ("user_left" reason timeout); 0 means 3 ping intervals.
	SessionTimeout time.Duration `yaml:"session_timeout"`
	// JoinTimeout is how long a new connection may take to send join/resume.
	JoinTimeout time.Duration `yaml:"join_timeout"`
	// WriteTimeout bounds one write to a client; a client that does not read
	// for that long is disconnected (it may resume).
	WriteTimeout time.Duration `yaml:"write_timeout"`
	// ReplayEvents is how many unacknowledged events a session keeps for a
	// resume. A client that falls further behind cannot resume and rejoins.
	ReplayEvents int `yaml:"replay_events"`
	// RequestRate and RequestBurst limit requests per connection (token
	// bucket, per second).
	RequestRate  float64 `yaml:"request_rate"`
	RequestBurst int     `yaml:"request_burst"`
	// MessageRate and MessageBurst additionally limit send_message,
	// set_attributes and delete_attributes per connection.
	MessageRate  float64 `yaml:"message_rate"`
	MessageBurst int     `yaml:"message_burst"`
	// MaxConnections caps concurrent WebSocket connections (0 = no cap).
	MaxConnections int `yaml:"max_connections"`
	// AllowedOrigins are the Origin patterns browsers may connect from
	// (path.Match syntax on the host). Tokens, not cookies, authenticate, so
	// the default allows every origin.
	AllowedOrigins []string `yaml:"allowed_origins"`
}

// Defaults returns the default signalling configuration.
func Defaults() Config {
	return Config{
		PingInterval:   5 * time.Second,
		JoinTimeout:    10 * time.Second,
		WriteTimeout:   10 * time.Second,
		ReplayEvents:   4096,
		RequestRate:    50,
		RequestBurst:   100,
		MessageRate:    20,
		MessageBurst:   40,
		AllowedOrigins: []string{"*"},
	}
}

func (c Config) withDefaults() Config {
	d := Defaults()
	if c.PingInterval == 0 {
		c.PingInterval = d.PingInterval
	}
	if c.SessionTimeout == 0 {
		c.SessionTimeout = 3 * c.PingInterval
	}
	if c.JoinTimeout == 0 {
		c.JoinTimeout = d.JoinTimeout
	}
	if c.WriteTimeout == 0 {
		c.WriteTimeout = d.WriteTimeout
	}
	if c.ReplayEvents == 0 {
		c.ReplayEvents = d.ReplayEvents
	}
	if c.RequestRate == 0 {
		c.RequestRate = d.RequestRate
	}
	if c.RequestBurst == 0 {
		c.RequestBurst = d.RequestBurst
	}
	if c.MessageRate == 0 {
		c.MessageRate = d.MessageRate
	}
	if c.MessageBurst == 0 {
		c.MessageBurst = d.MessageBurst
	}
	if c.AllowedOrigins == nil {
		c.AllowedOrigins = d.AllowedOrigins
	}
	return c
}

// Validate checks a user-supplied configuration after defaults are
// applied. The 3–10 s ping range is the protocol's; New accepts shorter
// intervals so that tests of timeouts run fast.
func (c Config) Validate() error {
	c = c.withDefaults()
	if c.PingInterval < 3*time.Second || c.PingInterval > 10*time.Second {
		return fmt.Errorf("signal.ping_interval must be between 3s and 10s, got %s", c.PingInterval)
	}
	return c.validateRest()
}

// ValidateAnyPing is Validate without the 3–10 s ping range, for tests.
func (c Config) ValidateAnyPing() error { return c.withDefaults().validateRest() }

func (c Config) validateRest() error {
	if c.PingInterval <= 0 {
		return fmt.Errorf("signal.ping_interval must be positive, got %s", c.PingInterval)
	}
	if c.SessionTimeout < c.PingInterval {
		return fmt.Errorf("signal.session_timeout (%s) must be at least one ping interval (%s)", c.SessionTimeout, c.PingInterval)
	}
	if c.ReplayEvents < 16 {
		return fmt.Errorf("signal.replay_events must be at least 16, got %d", c.ReplayEvents)
	}
	if c.RequestRate < 0 || c.RequestBurst < 1 || c.MessageRate < 0 || c.MessageBurst < 1 {
		return fmt.Errorf("signal rate limits must be positive")
	}
	if c.MaxConnections < 0 {
		return fmt.Errorf("signal.max_connections must not be negative")
	}
	return nil
}
