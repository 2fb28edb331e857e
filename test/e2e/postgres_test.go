package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/minirtc/minirtc/internal/store/pgtest"
	"github.com/minirtc/minirtc/pkg/client"
	"github.com/minirtc/minirtc/pkg/protocol"
)

// TestServeBinaryOnPostgres runs the real binary with store.driver postgres
// (from the environment, as a container would set it): an app created by
// the CLI against the same database is the one clients join with, what the
// server stores (reports, bans) lands in PostgreSQL for the CLI to read,
// webhooks set by the CLI go out through the PostgreSQL outbox to a real
// HTTP receiver, /healthz pings PostgreSQL, and nothing is written to the
// data directory.
func TestServeBinaryOnPostgres(t *testing.T) {
	bin := buildBinary(t)
	dsn := pgtest.DSN(t)
	env := append(os.Environ(), "MINIRTC_STORE_DRIVER=postgres", "MINIRTC_STORE_DSN="+dsn,
		"MINIRTC_WEBHOOK_DENY_PRIVATE_NETWORKS=false") // the receiver below is on 127.0.0.1
	cli := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Env = env
		out, err := cmd.Output()
		if err != nil {
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				t.Fatalf("minirtc %s: %v\n%s", strings.Join(args, " "), err, ee.Stderr)
			}
			t.Fatalf("minirtc %s: %v", strings.Join(args, " "), err)
		}
		return string(out)
	}

	var app struct {
		ID     string `json:"id"`
		Secret string `json:"secret"`
	}
	if err := json.Unmarshal([]byte(cli("app", "create", "--name", "e2e on postgres")), &app); err != nil || app.ID == "" {
		t.Fatalf("app create: %+v, %v", app, err)
	}

	hooks := make(chan map[string]any, 64)
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var p map[string]any
		if err := json.NewDecoder(r.Body).Decode(&p); err != nil || r.Header.Get("Minirtc-Signature") == "" {
			http.Error(w, "bad delivery", http.StatusBadRequest)
			return
		}
		hooks <- p
		w.WriteHeader(http.StatusNoContent)
	}))
	defer receiver.Close()
	cli("app", "webhook", "set", "--app", app.ID, "--url", receiver.URL+"/hook")

	data := filepath.Join(t.TempDir(), "data")
	srv := exec.Command(bin, "serve", "--data", data, "--http", "127.0.0.1:0", "--rtmp", "127.0.0.1:0",
		"--webrtc-udp", "127.0.0.1:0", "--webrtc-tcp", "127.0.0.1:0", "--host", "127.0.0.1", "--log-level", "warn")
	srv.Env = env
	stdout, err := srv.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	srv.Stderr = os.Stderr
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer srv.Process.Kill()
	banner := readBanner(t, stdout)
	go io.Copy(io.Discard, stdout)
	wsURL := banner["signalling"]
	if !strings.HasPrefix(wsURL, "ws://127.0.0.1:") {
		t.Fatalf("banner = %v", banner)
	}
	if banner["app id"] != "" {
		t.Fatalf("the server created a development app although PostgreSQL has one: %v", banner)
	}

	token := func(user, grants string) string {
		lines := strings.Split(strings.TrimSpace(cli("token", "create", "--app", app.ID, "--user", user, "--room", "demo", "--grants", grants)), "\n")
		return lines[len(lines)-1]
	}
	ctx := context.Background()
	alice, err := client.Join(ctx, wsURL, token("alice", "publish,subscribe,data,admin"), "demo", nil)
	if err != nil {
		t.Fatalf("join with an app from PostgreSQL: %v", err)
	}
	defer alice.Close()
	bob, err := client.Join(ctx, wsURL, token("bob", "publish,subscribe,data"), "demo", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer bob.Close()
	for got := map[string]bool{}; !got["alice"] || !got["bob"]; {
		select {
		case p := <-hooks:
			if p["type"] == "user_joined" && p["app"] == app.ID && p["room"] == "demo" {
				got[fmt.Sprint(p["user"])] = true
			}
		case <-time.After(15 * time.Second):
			t.Fatalf("user_joined webhooks for alice and bob not received; got %v", got)
		}
	}

	// A report the server stores is in PostgreSQL for the CLI.
	if _, err := alice.Report(ctx, "quality", "", map[string]int{"rtt": 42}); err != nil {
		t.Fatal(err)
	}
	var reports []struct {
		User string         `json:"user"`
		Data map[string]int `json:"data"`
	}
	if err := json.Unmarshal([]byte(cli("report", "list", "--app", app.ID, "--json")), &reports); err != nil ||
		len(reports) != 1 || reports[0].User != "alice" || reports[0].Data["rtt"] != 42 {
		t.Fatalf("report list = %+v, %v", reports, err)
	}

	// A ban is kept in PostgreSQL and refuses the next join.
	if err := alice.Kick(ctx, "bob", time.Hour, "e2e"); err != nil {
		t.Fatal(err)
	}
	if _, err := client.Join(ctx, wsURL, token("bob", "publish,subscribe,data"), "demo", nil); !errors.Is(err, protocol.NewError(protocol.CodeBanned)) {
		t.Fatalf("join of a banned user: %v", err)
	}

	base := "http://" + strings.TrimSuffix(strings.TrimPrefix(wsURL, "ws://"), "/ws")
	var health struct {
		Status       string `json:"status"`
		Participants int    `json:"participants"`
		Store        string `json:"store"`
	}
	getJSON(t, base+"/healthz", &health)
	if health.Status != "ok" || health.Store != "ok" || health.Participants != 1 {
		t.Fatalf("healthz = %+v", health)
	}
	if _, err := os.Stat(filepath.Join(data, "minirtc.db")); !os.IsNotExist(err) {
		t.Fatalf("the server wrote an SQLite database although the store is PostgreSQL (%v)", err)
	}

	if err := srv.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("server exit: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("server did not exit after SIGTERM")
	}
}
