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
	"net/url"
	"os"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/minirtc/minirtc/internal/api"
	"github.com/minirtc/minirtc/internal/auth"
	"github.com/minirtc/minirtc/internal/media"
	"github.com/minirtc/minirtc/internal/media/webrtc"
	"github.com/minirtc/minirtc/internal/room"
	"github.com/minirtc/minirtc/internal/signal"
	"github.com/minirtc/minirtc/internal/usage"
	"github.com/minirtc/minirtc/internal/webhook"
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

	// RTMPS is the RTMP-over-TLS listen address, used when TLS is configured.
	RTMPS string `yaml:"rtmps"`
	// TLS makes the HTTP port serve HTTPS/WSS and opens RTMPS.
	TLS TLS `yaml:"tls"`
	// Media holds the media plane's limits and URL settings.
	Media Media `yaml:"media"`
	// WebRTC configures browser (and other WebRTC) participants.
	WebRTC WebRTC `yaml:"webrtc"`
	// Demo serves the browser demo page.
	Demo Demo `yaml:"demo"`
	// Webhook configures webhook delivery (docs/webhooks.md).
	Webhook webhook.Config `yaml:"webhook"`

	Log    Log           `yaml:"log"`
	Debug  Debug         `yaml:"debug"`
	Room   room.Config   `yaml:"room"`
	Signal signal.Config `yaml:"signal"`
	// Store chooses SQLite (default) or PostgreSQL; see store.go.
	Store StoreConfig `yaml:"store"`
	// Usage configures usage accounting (docs/usage.md).
	Usage usage.Config `yaml:"usage"`
	// API configures the REST API (docs/api.md).
	API api.Config `yaml:"api"`
}

// Log configures logging.
type Log struct {
	Level  string `yaml:"level"`  // debug, info, warn, error
	Format string `yaml:"format"` // text or json
}

// TLS is a certificate for HTTPS, WSS and RTMPS. Both files or neither.
type TLS struct {
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
}

// Enabled reports whether a certificate is configured.
func (t TLS) Enabled() bool { return t.CertFile != "" }

// Media configures the media plane: hub limits plus how media URLs are made.
type Media struct {
	media.Limits `yaml:",inline"`
	// PushURLTTL is how long a push URL can be used to start pushing (a
	// push resuming within the unpublish grace is accepted after it).
	PushURLTTL time.Duration `yaml:"push_url_ttl"`
	// PlayURLTTL is how long a play URL can be used to start playing.
	PlayURLTTL time.Duration `yaml:"play_url_ttl"`
	// PublicRTMPURL and PublicFLVURL override the base of the URLs handed to
	// clients (e.g. "rtmp://media.example.com:1935",
	// "https://media.example.com"); by default they are made from host and
	// the listen ports.
	PublicRTMPURL string `yaml:"public_rtmp_url"`
	PublicFLVURL  string `yaml:"public_flv_url"`
	// AllowedOrigins are the exact browser origins ("https://app.example.com")
	// allowed to play HTTP-FLV cross-origin (flv.js); "*" allows any. The
	// URL signature is the access control, so the default is "*".
	AllowedOrigins []string `yaml:"allowed_origins"`
	// RTMPMaxConns is the most RTMP connections (pushers and players) at
	// once; past it new connections are closed at once.
	RTMPMaxConns int `yaml:"rtmp_max_conns"`
	// RTMPHandshakeTimeout bounds an RTMP connection's handshake and its
	// commands up to publish or play, so idle sockets cannot pile up.
	RTMPHandshakeTimeout time.Duration `yaml:"rtmp_handshake_timeout"`
}

// Limits of the RTMP settings.
const (
	MaxRTMPConns            = 1_000_000
	MaxRTMPHandshakeTimeout = 2 * time.Minute
)

// WebRTC turns WebRTC on and configures its ports, addresses and limits.
type WebRTC struct {
	// Enabled: publish and subscribe with transport "webrtc" work, and ICE
	// listens on UDPAddr (and TCPAddr). Off, they answer 3013.
	Enabled       bool `yaml:"enabled"`
	webrtc.Config `yaml:",inline"`
}

// Demo configures the browser demo page at /demo/.
type Demo struct {
	// Enabled serves the page (a static client; it holds no secret).
	Enabled bool `yaml:"enabled"`
	// MintTokens lets the page ask the server for tokens of the app named
	// "development" (POST /demo/token): anyone who reaches the port can
	// then join its rooms. For a server on one's own machine only.
	MintTokens bool `yaml:"mint_tokens"`
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
		RTMPS:           ":1936",
		Media: Media{Limits: media.Limits{}.WithDefaults(), PushURLTTL: 5 * time.Minute, PlayURLTTL: time.Hour, AllowedOrigins: []string{"*"},
			RTMPMaxConns: 25000, RTMPHandshakeTimeout: 10 * time.Second},
		WebRTC: WebRTC{Enabled: true, Config: webrtc.Defaults()},
		Demo:   Demo{Enabled: true},
		Room:   room.Defaults(),
		Signal: signal.Defaults(),
		Store:  DefaultStore(),
		Usage:  usage.Defaults(),

		Webhook: webhook.Defaults(),
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
	if (c.TLS.CertFile == "") != (c.TLS.KeyFile == "") {
		return errors.New("tls.cert_file and tls.key_file go together: set both or neither")
	}
	if err := c.Media.Limits.Validate(); err != nil {
		return err
	}
	if c.Media.PushURLTTL <= 0 || c.Media.PlayURLTTL <= 0 {
		return fmt.Errorf("media.push_url_ttl and media.play_url_ttl must be positive, got %s and %s", c.Media.PushURLTTL, c.Media.PlayURLTTL)
	}
	if c.Media.PushURLTTL > auth.MaxTTL || c.Media.PlayURLTTL > auth.MaxTTL {
		return fmt.Errorf("media URL TTLs must be at most %s", auth.MaxTTL)
	}
	if c.WebRTC.Enabled {
		if err := c.WebRTC.Validate(); err != nil {
			return fmt.Errorf("webrtc: %w", err)
		}
	}
	if c.Media.RTMPMaxConns <= 0 || c.Media.RTMPMaxConns > MaxRTMPConns {
		return fmt.Errorf("media.rtmp_max_conns must be between 1 and %d, got %d", MaxRTMPConns, c.Media.RTMPMaxConns)
	}
	if c.Media.RTMPHandshakeTimeout <= 0 || c.Media.RTMPHandshakeTimeout > MaxRTMPHandshakeTimeout {
		return fmt.Errorf("media.rtmp_handshake_timeout must be positive and at most %s, got %s", MaxRTMPHandshakeTimeout, c.Media.RTMPHandshakeTimeout)
	}
	for name, u := range map[string]string{"media.public_rtmp_url": c.Media.PublicRTMPURL, "media.public_flv_url": c.Media.PublicFLVURL} {
		if u == "" {
			continue
		}
		pu, err := url.Parse(u)
		if err != nil || pu.Host == "" || (pu.Path != "" && pu.Path != "/") || pu.RawQuery != "" {
			return fmt.Errorf("%s must be scheme://host[:port], got %q", name, u)
		}
	}
	if err := c.Store.Validate(); err != nil {
		return err
	}
	if err := c.Webhook.Validate(); err != nil {
		return err
	}
	if err := c.Room.Validate(); err != nil {
		return err
	}
	if err := c.Usage.Validate(); err != nil {
		return err
	}
	if err := c.API.Validate(); err != nil {
		return err
	}
	if c.AllowFastPing {
		return c.Signal.ValidateAnyPing()
	}
	return c.Signal.Validate()
}
