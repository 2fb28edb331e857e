package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/minirtc/minirtc/pkg/client"
	"github.com/minirtc/minirtc/pkg/ids"
	"github.com/minirtc/minirtc/pkg/server"
)

// appServer is examples/app-server started the way `make app-server` does:
// through examples/app-server/run.sh, which reads the app from the data
// directory.
type appServer struct {
	url  string
	cmd  *exec.Cmd
	done chan error
}

func startAppServer(t *testing.T, minirtcBin, data, minirtcURL string) *appServer {
	t.Helper()
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("no go on PATH: %v", err)
	}
	appBin := filepath.Join(t.TempDir(), "minirtc-app-server")
	if out, err := exec.Command(gobin, "build", "-o", appBin, "../../examples/app-server").CombinedOutput(); err != nil {
		t.Fatalf("build the app server: %v\n%s", err, out)
	}
	cmd := exec.Command("bash", "../../examples/app-server/run.sh")
	cmd.Env = append(os.Environ(), "DATA="+data, "MINIRTC_BIN="+minirtcBin, "APP_SERVER_BIN="+appBin,
		"MINIRTC_URL="+minirtcURL, "APP_SERVER_LISTEN=127.0.0.1:0", "MINIRTC_APP_ID=", "MINIRTC_APP_SECRET=")
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &appServer{cmd: cmd, done: make(chan error, 1)}
	first := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			select {
			case first <- sc.Text():
			default:
			}
		}
		io.Copy(io.Discard, stdout)
		s.done <- cmd.Wait()
	}()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-s.done:
			if err != nil {
				t.Errorf("the app server did not stop cleanly on SIGTERM: %v", err)
			}
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			t.Error("the app server ignored SIGTERM")
		}
	})
	select {
	case line := <-first:
		if !strings.HasPrefix(line, "listening on http://") {
			t.Fatalf("the app server printed %q", line)
		}
		s.url = strings.TrimPrefix(line, "listening on ")
	case err := <-s.done:
		t.Fatalf("the app server exited: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("the app server did not start within 30 s")
	}
	return s
}

// call posts JSON (or GETs when body is nil) with the session.
func (s *appServer) call(t *testing.T, session, path string, body, out any) int {
	t.Helper()
	method, rd := http.MethodGet, io.Reader(nil)
	if body != nil {
		b, _ := json.Marshal(body)
		method, rd = http.MethodPost, bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, s.url+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if session != "" {
		req.Header.Set("Authorization", "Bearer "+session)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if out != nil && res.StatusCode/100 == 2 {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %v: %s", method, path, err, b)
		}
	}
	return res.StatusCode
}

func (s *appServer) login(t *testing.T, user, password string) string {
	t.Helper()
	var out struct{ Session string }
	if st := s.call(t, "", "/login", map[string]string{"user": user, "password": password}, &out); st != http.StatusOK || out.Session == "" {
		t.Fatalf("login %s: %d", user, st)
	}
	return out.Session
}

// TestExampleAppServer runs the real minirtc binary and the example app
// server (started by its run script from the data directory, as `make
// app-server` does): a demo user logs in, gets a token, joins with
// pkg/client; the webhook of the join reaches the app server; a teacher
// kicks the user through the app server.
func TestExampleAppServer(t *testing.T) {
	bin := buildBinary(t)
	data := filepath.Join(t.TempDir(), "data")
	srv := startWebhookServer(t, bin, data)
	httpURL := "http://" + strings.TrimSuffix(strings.TrimPrefix(srv.ws, "ws://"), "/ws")
	app := startAppServer(t, bin, data, httpURL)

	// The app server registered its webhook URL with the app.
	var settings struct{ URLs []string }
	cliJSON(t, bin, &settings, "app", "webhook", "show", "--data", data, "--app", srv.app)
	if len(settings.URLs) != 1 || settings.URLs[0] != app.url+"/webhook" {
		t.Fatalf("webhook URLs = %v, want [%s/webhook]", settings.URLs, app.url)
	}

	bob := app.login(t, "bob", "bob-pass")
	var tok struct {
		Token string
		URL   string
		Room  ids.RoomID
	}
	if st := app.call(t, bob, "/token", map[string]string{"room": "lesson"}, &tok); st != http.StatusOK {
		t.Fatalf("token: %d", st)
	}
	if tok.URL != srv.ws || tok.Room != "lesson" {
		t.Fatalf("token answer %+v", tok)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := client.Join(ctx, tok.URL, tok.Token, tok.Room, nil)
	if err != nil {
		t.Fatalf("join with the app server's token: %v", err)
	}
	defer c.Close()
	if self := c.Joined().Self; self.UserID != "bob" || strings.Join(self.Grants, ",") != "publish,subscribe,data" {
		t.Fatalf("joined as %+v", self)
	}

	hasEvent := func(session, typ string) bool {
		var out struct{ Events []server.Event }
		app.call(t, session, "/webhooks", nil, &out)
		for _, ev := range out.Events {
			if ev.Type == typ && ev.Room == "lesson" && (ev.User == "bob" || ev.User == "") && ev.App == srv.app {
				return true
			}
		}
		return false
	}
	waitUntil(t, 15*time.Second, "room_created and user_joined at the app server", func() bool {
		return hasEvent(bob, server.EventRoomCreated) && hasEvent(bob, server.EventUserJoined)
	})

	alice := app.login(t, "alice", "alice-pass")
	if st := app.call(t, alice, "/kick", map[string]any{"room": "lesson", "user": "bob", "reason": "e2e"}, nil); st != http.StatusNoContent {
		t.Fatalf("kick: %d", st)
	}
	select {
	case <-c.Done():
		if !errors.Is(c.Err(), client.ErrKicked) {
			t.Fatalf("bob ended with %v", c.Err())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("bob was not kicked")
	}
	waitUntil(t, 15*time.Second, "user_left at the app server", func() bool { return hasEvent(alice, server.EventUserLeft) })
}
