package webhook

import (
	"fmt"
	"time"
)

// Config is the webhook.* part of the server configuration. docs/deployment.md
// lists every key; docs/webhooks.md explains what they do.
type Config struct {
	// Enabled turns webhooks on. Off, room events are not recorded and
	// nothing is delivered (deliveries already in the outbox wait).
	Enabled bool `yaml:"enabled"`
	// Workers is the most deliveries in flight at once, over all apps.
	Workers int `yaml:"workers"`
	// PerURLWorkers is the most deliveries in flight to one URL (to
	// different rooms: one room's deliveries go one at a time). A URL whose
	// last attempt failed gets one until an attempt succeeds, so a receiver
	// that is down or slow holds at most one worker.
	PerURLWorkers int `yaml:"per_url_workers"`
	// Timeout bounds one attempt: connecting, sending, and the answer.
	Timeout time.Duration `yaml:"timeout"`
	// MaxAge is how long an event is retried, counted from when it
	// happened; then its delivery is given up (failed).
	MaxAge time.Duration `yaml:"max_age"`
	// MinBackoff is the wait before the first retry; each retry doubles
	// it, up to MaxBackoff; each wait gets up to a quarter more at random.
	MinBackoff time.Duration `yaml:"min_backoff"`
	MaxBackoff time.Duration `yaml:"max_backoff"`
	// QueueSize bounds the events held in memory between the rooms and the
	// outbox. Past it (the store cannot keep up) events are dropped and
	// counted (minirtc_webhook_events_dropped_total{reason="queue_full"}).
	QueueSize int `yaml:"queue_size"`
	// PollInterval is how often the outbox is checked for retries that
	// became due; new events are picked up at once.
	PollInterval time.Duration `yaml:"poll_interval"`
	// Retention is how long delivered and failed deliveries stay listable
	// before they are purged. Pending ones are never purged.
	Retention time.Duration `yaml:"retention"`
	// DenyPrivateNetworks refuses to connect to loopback, private,
	// link-local and other non-public addresses (checked after DNS
	// resolution), for servers whose apps are run by people who must not
	// reach the server's own network. Environment proxies are then not used.
	DenyPrivateNetworks bool `yaml:"deny_private_networks"`
}

// Limits of the settings.
const (
	MaxWorkers    = 1000
	MaxTimeout    = 5 * time.Minute
	MaxMaxAge     = 30 * 24 * time.Hour
	MaxBackoffCap = 24 * time.Hour
	MaxQueueSize  = 1_000_000
	MaxPoll       = time.Minute
	MaxRetention  = 365 * 24 * time.Hour
)

// Defaults returns the default configuration.
func Defaults() Config {
	return Config{
		Enabled:       true,
		Workers:       16,
		PerURLWorkers: 4,
		Timeout:       10 * time.Second,
		MaxAge:        24 * time.Hour,
		MinBackoff:    time.Second,
		MaxBackoff:    10 * time.Minute,
		QueueSize:     10000,
		PollInterval:  time.Second,
		Retention:     7 * 24 * time.Hour,
	}
}

// Validate checks every setting, naming the key in the error.
func (c Config) Validate() error {
	switch {
	case c.Workers < 1 || c.Workers > MaxWorkers:
		return fmt.Errorf("webhook.workers must be 1 to %d, got %d", MaxWorkers, c.Workers)
	case c.PerURLWorkers < 1 || c.PerURLWorkers > c.Workers:
		return fmt.Errorf("webhook.per_url_workers must be 1 to webhook.workers (%d), got %d", c.Workers, c.PerURLWorkers)
	case c.Timeout <= 0 || c.Timeout > MaxTimeout:
		return fmt.Errorf("webhook.timeout must be positive and at most %s, got %s", MaxTimeout, c.Timeout)
	case c.MaxAge <= 0 || c.MaxAge > MaxMaxAge:
		return fmt.Errorf("webhook.max_age must be positive and at most %s, got %s", MaxMaxAge, c.MaxAge)
	case c.MinBackoff <= 0 || c.MinBackoff > c.MaxBackoff:
		return fmt.Errorf("webhook.min_backoff must be positive and at most webhook.max_backoff (%s), got %s", c.MaxBackoff, c.MinBackoff)
	case c.MaxBackoff > MaxBackoffCap:
		return fmt.Errorf("webhook.max_backoff must be at most %s, got %s", MaxBackoffCap, c.MaxBackoff)
	case c.QueueSize < 1 || c.QueueSize > MaxQueueSize:
		return fmt.Errorf("webhook.queue_size must be 1 to %d, got %d", MaxQueueSize, c.QueueSize)
	case c.PollInterval <= 0 || c.PollInterval > MaxPoll:
		return fmt.Errorf("webhook.poll_interval must be positive and at most %s, got %s", MaxPoll, c.PollInterval)
	case c.Retention <= 0 || c.Retention > MaxRetention:
		return fmt.Errorf("webhook.retention must be positive and at most %s, got %s", MaxRetention, c.Retention)
	}
	return nil
}

// lease is how long a claimed delivery is reserved for its attempt: the
// attempt's timeout plus room to record the outcome. After a crash, a
// delivery that was in flight is due again when its lease ends.
func (c Config) lease() time.Duration { return c.Timeout + 10*time.Second }
