// Package servertest starts a real minirtc server in-process for tests: a
// temporary SQLite file, random ports, the real handlers. It also mints
// tokens for the server's app.
package servertest

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/minirtc/minirtc/internal/auth"
	"github.com/minirtc/minirtc/internal/config"
	"github.com/minirtc/minirtc/internal/server"
	"github.com/minirtc/minirtc/internal/store"
	"github.com/minirtc/minirtc/pkg/ids"
)

// Env is a running server and what tests need to reach it.
type Env struct {
	Server *server.Server
	// URL is the signalling WebSocket URL (ws://127.0.0.1:port/ws).
	URL string
	// HTTP is the base URL of the HTTP port (http://127.0.0.1:port).
	HTTP string
	// App is the server's development app.
	App     store.App
	DataDir string
}

// Start runs a server until the test ends. mutate may adjust the
// configuration (limits, timeouts) before the server is built.
func Start(t testing.TB, mutate func(*config.Config)) *Env {
	t.Helper()
	cfg := config.Default()
	cfg.Data = t.TempDir()
	cfg.HTTP = "127.0.0.1:0"
	cfg.RTMP = "127.0.0.1:0"
	cfg.RTMPS = "127.0.0.1:0"
	cfg.Host = "127.0.0.1"
	cfg.ShutdownTimeout = 5 * time.Second
	cfg.AllowFastPing = true
	cfg.WebRTC.UDPAddr, cfg.WebRTC.TCPAddr = "127.0.0.1:0", "127.0.0.1:0"
	cfg.WebRTC.IncludeLoopback = true
	if mutate != nil {
		mutate(&cfg)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: logLevel()}))
	srv, err := server.New(context.Background(), cfg, log)
	if err != nil {
		t.Fatalf("servertest: %v", err)
	}
	if err := srv.Start(); err != nil {
		t.Fatalf("servertest: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("servertest: shutdown: %v", err)
		}
	})
	if srv.DevApp == nil {
		t.Fatal("servertest: no development app was created")
	}
	addr := srv.HTTPAddr().String()
	return &Env{
		Server:  srv,
		URL:     "ws://" + addr + "/ws",
		HTTP:    "http://" + addr,
		App:     *srv.DevApp,
		DataDir: cfg.Data,
	}
}

// logLevel is quiet unless MINIRTC_TEST_LOG=debug asks for more.
func logLevel() slog.Level {
	switch os.Getenv("MINIRTC_TEST_LOG") {
	case "debug":
		return slog.LevelDebug
	case "info":
		return slog.LevelInfo
	}
	return slog.LevelError
}

// Token mints a one-hour token for user in room (room may be "" for any
// room) with the given grants (none given: the default grants).
func (e *Env) Token(t testing.TB, user ids.UserID, room ids.RoomID, grants ...auth.Grant) string {
	t.Helper()
	c := auth.Claims{App: e.App.ID, User: user, Room: room, Name: "user " + string(user), ExpiresAt: time.Now().Add(time.Hour)}
	if len(grants) > 0 {
		c.Grants = grants
	}
	return e.Mint(t, c)
}

// Mint signs arbitrary claims with the app's secret.
func (e *Env) Mint(t testing.TB, c auth.Claims) string {
	t.Helper()
	if c.App == "" {
		c.App = e.App.ID
	}
	tok, err := auth.Mint(e.App.Secret, c)
	if err != nil {
		t.Fatalf("servertest: mint: %v", err)
	}
	return tok
}

// UserID returns a distinct user id for the i-th test user.
func UserID(i int) ids.UserID { return ids.UserID(fmt.Sprintf("u%03d", i)) }
