// Command app-server is a small app server for minirtc, the piece every
// RTC vendor's tutorial asks you to write next to your client app. It
//
//   - logs users in (a fixed list of demo users and passwords),
//   - hands a logged-in user a token for a room, with the grants of its role
//     (pkg/server.SignToken: no call to minirtc needed),
//   - receives minirtc's webhooks, verified with pkg/server.VerifyWebhook,
//     and shows the last ones,
//   - lets a teacher kick someone out of a room, through the typed REST
//     client (pkg/server.Client).
//
// Run it next to a local server (make run, then make app-server), or:
//
//	go run ./examples/app-server --minirtc http://127.0.0.1:7880 --app APP_ID --secret APP_SECRET
//
// and open http://127.0.0.1:8080. README.md describes the JSON endpoints.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/minirtc/minirtc/pkg/ids"
	"github.com/minirtc/minirtc/pkg/server"
)

// config is what the flags and environment give.
type config struct {
	minirtc       string // minirtc's HTTP base URL
	app           ids.AppID
	secret        string
	listen        string
	publicURL     string // how minirtc reaches this server; "" derives it from the listen address
	register      bool   // put this server's webhook URL into the app's settings at start
	webhookSecret string // used when not registering
	tokenTTL      time.Duration
}

func main() {
	cfg, err := parseFlags(os.Args[1:], os.Getenv)
	if err != nil {
		fmt.Fprintln(os.Stderr, "app-server:", err)
		os.Exit(2)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg, log, os.Stdout); err != nil {
		log.Error("app server stopped", "err", err)
		os.Exit(1)
	}
}

// parseFlags reads flags, each defaulting to an environment variable.
func parseFlags(args []string, getenv func(string) string) (config, error) {
	env := func(k, def string) string {
		if v := getenv(k); v != "" {
			return v
		}
		return def
	}
	fs := flag.NewFlagSet("app-server", flag.ContinueOnError)
	var cfg config
	var app string
	fs.StringVar(&cfg.minirtc, "minirtc", env("MINIRTC_URL", "http://127.0.0.1:7880"), "minirtc's HTTP address (env MINIRTC_URL)")
	fs.StringVar(&app, "app", env("MINIRTC_APP_ID", ""), "app id (env MINIRTC_APP_ID; required)")
	fs.StringVar(&cfg.secret, "secret", env("MINIRTC_APP_SECRET", ""), "app secret (env MINIRTC_APP_SECRET; required)")
	fs.StringVar(&cfg.listen, "listen", env("APP_SERVER_LISTEN", "127.0.0.1:8080"), "address to serve on (env APP_SERVER_LISTEN)")
	fs.StringVar(&cfg.publicURL, "public-url", env("APP_SERVER_PUBLIC_URL", ""),
		"this server's URL as minirtc reaches it, for webhooks (env APP_SERVER_PUBLIC_URL; default http://<listen address>)")
	fs.BoolVar(&cfg.register, "register-webhook", env("APP_SERVER_REGISTER_WEBHOOK", "true") == "true",
		"add <public-url>/webhook to the app's webhook URLs at start and use the app's webhook secret (env APP_SERVER_REGISTER_WEBHOOK)")
	fs.StringVar(&cfg.webhookSecret, "webhook-secret", env("MINIRTC_WEBHOOK_SECRET", ""),
		"webhook signing secret, when --register-webhook=false (env MINIRTC_WEBHOOK_SECRET)")
	fs.DurationVar(&cfg.tokenTTL, "token-ttl", time.Hour, "lifetime of the room tokens handed out (1m to 24h)")
	if err := fs.Parse(args); err != nil {
		return config{}, err
	}
	if fs.NArg() > 0 {
		return config{}, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	cfg.app = ids.AppID(app)
	switch {
	case app == "" || cfg.secret == "":
		return config{}, errors.New("--app and --secret are required (minirtc app list --data ./data --json --show-secrets prints them)")
	case !cfg.register && cfg.webhookSecret == "":
		return config{}, errors.New("--webhook-secret is required with --register-webhook=false")
	case cfg.tokenTTL < time.Minute || cfg.tokenTTL > 24*time.Hour:
		return config{}, fmt.Errorf("--token-ttl %s must be from 1m to 24h", cfg.tokenTTL)
	}
	if err := cfg.app.Validate(); err != nil {
		return config{}, fmt.Errorf("--app: %w", err)
	}
	if cfg.publicURL != "" {
		if u, err := url.Parse(cfg.publicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return config{}, fmt.Errorf("--public-url %q must be an absolute http(s) URL", cfg.publicURL)
		}
	}
	return cfg, nil
}

// run serves until ctx ends. It prints "listening on <URL>" to out once
// the listener is open (tests and scripts wait for that line).
func run(ctx context.Context, cfg config, log *slog.Logger, out io.Writer) error {
	api, err := server.NewClient(cfg.minirtc, server.WithApp(cfg.app, cfg.secret), server.WithLogger(log))
	if err != nil {
		return err
	}
	defer api.Close()
	signalURL, err := signallingURL(cfg.minirtc)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.listen)
	if err != nil {
		return err
	}
	defer ln.Close()
	self := "http://" + ln.Addr().String()
	if cfg.publicURL == "" {
		cfg.publicURL = self
	}
	secret := cfg.webhookSecret
	if cfg.register {
		hook := strings.TrimRight(cfg.publicURL, "/") + "/webhook"
		if secret, err = registerWebhook(ctx, api, hook); err != nil {
			return fmt.Errorf("registering the webhook URL %s with minirtc at %s: %w", hook, cfg.minirtc, err)
		}
		log.Info("webhook registered", "url", hook)
	}
	a := newApp(api, signalURL, secret, cfg.tokenTTL, log)
	srv := &http.Server{
		Handler:           a.routes(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	fmt.Fprintf(out, "listening on %s\n", self)
	log.Info("app server running", "url", self, "minirtc", cfg.minirtc, "app", cfg.app, "demo_users", demoUserNames())
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shut); err != nil {
		return err
	}
	<-errc
	return nil
}

// registerWebhook adds hook to the app's webhook URLs (keeping the others
// and the secret) and returns the secret deliveries are signed with.
func registerWebhook(ctx context.Context, api *server.Client, hook string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	cur, err := api.GetWebhook(ctx)
	if err != nil {
		return "", err
	}
	urls := cur.URLs
	found := false
	for _, u := range urls {
		found = found || u == hook
	}
	if found && cur.Secret != "" {
		return cur.Secret, nil
	}
	if !found {
		urls = append(urls, hook)
	}
	got, err := api.PutWebhook(ctx, server.PutWebhookRequest{URLs: urls})
	if err != nil {
		return "", err
	}
	return got.Secret, nil
}

// signallingURL is where clients join: minirtc's /ws on the same host.
func signallingURL(base string) (string, error) {
	u, err := url.Parse(strings.TrimSuffix(strings.TrimRight(base, "/"), "/api/v1"))
	if err != nil {
		return "", fmt.Errorf("--minirtc %q: %w", base, err)
	}
	switch u.Scheme {
	case "http":
		u.Scheme = "ws"
	case "https":
		u.Scheme = "wss"
	default:
		return "", fmt.Errorf("--minirtc %q must be an http(s) URL", base)
	}
	u.Path = strings.TrimRight(u.Path, "/") + "/ws"
	return u.String(), nil
}
