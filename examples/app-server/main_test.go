package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	mconfig "github.com/minirtc/minirtc/internal/config"
	"github.com/minirtc/minirtc/internal/servertest"
	"github.com/minirtc/minirtc/pkg/client"
	"github.com/minirtc/minirtc/pkg/protocol"
	"github.com/minirtc/minirtc/pkg/server"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// lineWriter hands the first line written to it over a channel.
type lineWriter struct {
	once sync.Once
	ch   chan string
	buf  bytes.Buffer
}

func (l *lineWriter) Write(p []byte) (int, error) {
	l.buf.Write(p)
	if i := bytes.IndexByte(l.buf.Bytes(), '\n'); i >= 0 {
		l.once.Do(func() { l.ch <- string(l.buf.Bytes()[:i]) })
	}
	return len(p), nil
}

// startApp runs the app server against a real in-process minirtc and
// returns its URL.
func startApp(t *testing.T, env *servertest.Env) string {
	t.Helper()
	cfg, err := parseFlags([]string{"--minirtc", env.HTTP, "--app", string(env.App.ID), "--secret", env.App.Secret, "--listen", "127.0.0.1:0"},
		func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	lw := &lineWriter{ch: make(chan string, 1)}
	done := make(chan error, 1)
	go func() { done <- run(ctx, cfg, slog.New(slog.DiscardHandler), lw) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	})
	select {
	case line := <-lw.ch:
		return strings.TrimPrefix(line, "listening on ")
	case err := <-done:
		t.Fatalf("run ended: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("the app server did not start")
	}
	return ""
}

// jsonClient talks to the app server's JSON endpoints.
type jsonClient struct {
	t       *testing.T
	base    string
	hc      *http.Client
	session string
}

func (c *jsonClient) post(path string, body any, out any) int {
	c.t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest("POST", c.base+path, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	if c.session != "" {
		req.Header.Set("Authorization", "Bearer "+c.session)
	}
	return c.send(req, out)
}

func (c *jsonClient) get(path string, out any) int {
	c.t.Helper()
	req, _ := http.NewRequest("GET", c.base+path, nil)
	if c.session != "" {
		req.Header.Set("Authorization", "Bearer "+c.session)
	}
	return c.send(req, out)
}

func (c *jsonClient) send(req *http.Request, out any) int {
	c.t.Helper()
	res, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if out != nil && res.StatusCode/100 == 2 {
		if err := json.Unmarshal(b, out); err != nil {
			c.t.Fatalf("%s %s: %v: %s", req.Method, req.URL, err, b)
		}
	}
	return res.StatusCode
}

func (c *jsonClient) login(user, password string) int {
	c.t.Helper()
	var out struct{ Session string }
	st := c.post("/login", loginRequest{User: user, Password: password}, &out)
	c.session = out.Session
	return st
}

func newJSONClient(t *testing.T, base string) *jsonClient {
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return &jsonClient{t: t, base: base, hc: &http.Client{Transport: tr, Timeout: 10 * time.Second}}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestAppServer: log in, get a token, join with it, see the webhook, kick
// as a teacher; the refusals on the way.
func TestAppServer(t *testing.T) {
	env := servertest.Start(t, func(c *mconfig.Config) { c.Webhook.PollInterval = 20 * time.Millisecond })
	base := startApp(t, env)
	bob := newJSONClient(t, base)

	if st := bob.post("/token", tokenRequest{Room: "demo"}, nil); st != http.StatusUnauthorized {
		t.Fatalf("token without login: %d", st)
	}
	if st := bob.login("bob", "wrong"); st != http.StatusUnauthorized {
		t.Fatalf("wrong password: %d", st)
	}
	if st := bob.login("bob", "bob-pass"); st != http.StatusOK || bob.session == "" {
		t.Fatalf("login: %d", st)
	}
	if st := bob.post("/token", map[string]string{"room": "a b"}, nil); st != http.StatusBadRequest {
		t.Fatalf("bad room: %d", st)
	}
	if st := bob.post("/token", map[string]string{"room": "demo", "extra": "x"}, nil); st != http.StatusBadRequest {
		t.Fatalf("unknown field: %d", st)
	}
	var tok tokenAnswer
	if st := bob.post("/token", tokenRequest{Room: "demo"}, &tok); st != http.StatusOK {
		t.Fatalf("token: %d", st)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	pc, err := client.Join(ctx, tok.URL, tok.Token, tok.Room, nil)
	if err != nil {
		t.Fatalf("join with the app server's token: %v", err)
	}
	defer pc.Close()
	self := pc.Joined().Self
	if self.UserID != "bob" || self.Name != "Bob (student)" || strings.Join(self.Grants, ",") != "publish,subscribe,data" {
		t.Fatalf("bob joined as %+v", self)
	}

	// The webhook arrives, verified, at the app server.
	waitFor(t, "bob's user_joined webhook", func() bool {
		var out struct{ Events []server.Event }
		bob.get("/webhooks", &out)
		for _, ev := range out.Events {
			if ev.Type == server.EventUserJoined && ev.User == "bob" && ev.Room == "demo" {
				return true
			}
		}
		return false
	})

	// A student may not kick; a teacher may, through the REST API.
	if st := bob.post("/kick", kickRequest{Room: "demo", User: "bob"}, nil); st != http.StatusForbidden {
		t.Fatalf("student kicks: %d", st)
	}
	alice := newJSONClient(t, base)
	alice.login("alice", "alice-pass")
	if st := alice.post("/kick", kickRequest{Room: "demo", User: "nobody"}, nil); st != http.StatusNotFound {
		t.Fatalf("kick of someone not in the room: %d", st)
	}
	if st := alice.post("/kick", kickRequest{Room: "demo", User: "bob", BanSeconds: 60, Reason: "test"}, nil); st != http.StatusNoContent {
		t.Fatalf("kick: %d", st)
	}
	select {
	case <-pc.Done():
		if !errors.Is(pc.Err(), client.ErrKicked) {
			t.Fatalf("bob ended with %v", pc.Err())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("bob was not kicked")
	}
	waitFor(t, "bob's user_left webhook", func() bool {
		var out struct{ Events []server.Event }
		alice.get("/webhooks", &out)
		for _, ev := range out.Events {
			var left protocol.UserLeftEvent
			if ev.Type == server.EventUserLeft && ev.DecodeData(&left) == nil && left.Reason == protocol.ReasonKicked {
				return true
			}
		}
		return false
	})

	// A forged webhook is refused.
	res, err := http.Post(base+"/webhook", "application/json", strings.NewReader(`{"id":"x","type":"user_left","app":"a","room":"r"}`))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("unsigned webhook: %d", res.StatusCode)
	}
}

// TestAppServerPage: the HTML forms with the session cookie.
func TestAppServerPage(t *testing.T) {
	env := servertest.Start(t, nil)
	base := startApp(t, env)
	jar, _ := cookiejar.New(nil)
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Jar: jar, Transport: tr, Timeout: 10 * time.Second}
	body := func(res *http.Response, err error) string {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return string(b)
	}
	if p := body(hc.Get(base + "/")); !strings.Contains(p, `action="/login"`) {
		t.Fatalf("front page: %s", p)
	}
	if p := body(hc.PostForm(base+"/login", url.Values{"user": {"alice"}, "password": {"alice-pass"}})); !strings.Contains(p, "Alice (teacher)") {
		t.Fatalf("after login: %s", p)
	}
	p := body(hc.PostForm(base+"/token", url.Values{"room": {"demo"}}))
	if !strings.Contains(p, "go run ./examples/join --url "+strings.Replace(env.HTTP, "http", "ws", 1)+"/ws --room demo --token ey") {
		t.Fatalf("token page: %s", p)
	}
	if p := body(hc.PostForm(base+"/kick", url.Values{"room": {"demo"}, "user": {"bob"}, "ban_seconds": {"x"}})); !strings.Contains(p, "whole number") {
		t.Fatalf("bad kick form: %s", p)
	}
	if p := body(hc.PostForm(base+"/logout", nil)); !strings.Contains(p, `action="/login"`) {
		t.Fatalf("after logout: %s", p)
	}
}

func TestParseFlags(t *testing.T) {
	env := map[string]string{"MINIRTC_APP_ID": "app1", "MINIRTC_APP_SECRET": "s"}
	cfg, err := parseFlags(nil, func(k string) string { return env[k] })
	if err != nil || cfg.app != "app1" || cfg.minirtc != "http://127.0.0.1:7880" || cfg.listen != "127.0.0.1:8080" || !cfg.register {
		t.Fatalf("from env: %+v %v", cfg, err)
	}
	for _, args := range [][]string{
		{"--app", ""},
		{"--app", "a b"},
		{"--register-webhook=false"},
		{"--token-ttl", "1s"},
		{"--public-url", "ftp://x"},
		{"stray"},
	} {
		if _, err := parseFlags(args, func(k string) string { return env[k] }); err == nil {
			t.Errorf("%q accepted", args)
		}
	}
	for in, want := range map[string]string{
		"http://h:7880":         "ws://h:7880/ws",
		"https://h/rtc/":        "wss://h/rtc/ws",
		"http://h:7880/api/v1/": "ws://h:7880/ws",
	} {
		if got, err := signallingURL(in); err != nil || got != want {
			t.Errorf("signallingURL(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}
