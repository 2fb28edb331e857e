package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/minirtc/minirtc/internal/config"
	"github.com/minirtc/minirtc/internal/servertest"
)

// waitNoParticipants fails unless the server's rooms empty out: the bench
// must leave, not just drop its connections.
func waitNoParticipants(t *testing.T, env *servertest.Env) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		n := env.Server.Rooms().Counts().Participants
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d participants still in rooms after the bench ended", n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func decodeSummary(t *testing.T, out string) signalSummary {
	t.Helper()
	var s signalSummary
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		t.Fatalf("--json printed %q: %v", out, err)
	}
	return s
}

func TestBenchSignal(t *testing.T) {
	env := servertest.Start(t, func(c *config.Config) { c.Debug.Endpoints = true })
	out, errOut, err := runArgs(t, "", "bench", "signal", "--url", env.URL, "--data", env.DataDir,
		"--clients", "40", "--room-size", "8", "--join-rate", "400", "--idle", "1200ms",
		"--msg-rate", "5", "--duration", "1s", "--json")
	if err != nil {
		t.Fatalf("bench signal: %v\nstderr:\n%s", err, errOut)
	}
	s := decodeSummary(t, out)

	if s.Clients != 40 || s.RoomSize != 8 || s.Rooms != 5 || s.Client != "raw" || s.Interrupted {
		t.Errorf("header: %+v", s)
	}
	j := s.Joins
	if j.OK != 40 || j.Failed != 0 || len(j.Errors) != 0 || j.Latency.Count != 40 {
		t.Errorf("joins: %+v", j)
	}
	if j.Latency.P50 <= 0 || j.Latency.P50 > j.Latency.P99 || j.Latency.P99 > j.Latency.Max || j.Rate <= 0 {
		t.Errorf("join latency or rate implausible: %+v", j)
	}

	m := s.Memory
	if m == nil {
		t.Fatalf("no memory reading; note %q", s.MemoryNote)
	}
	// Every connection costs the server something: at least one goroutine
	// (it has two) and a few KiB.
	if m.Conns != 40 || m.HeapPerConnKiB <= 1 || m.HeapPerConnKiB > 1024 || m.GoroutinesPerConn < 1 {
		t.Errorf("memory: %+v", m)
	}

	msg := s.Messages
	if msg == nil {
		t.Fatal("no messaging phase")
	}
	if msg.Rooms != 5 || msg.Sent < 5 || msg.Acked != msg.Sent || len(msg.SendErrors) != 0 {
		t.Errorf("sends: %+v", msg)
	}
	if msg.Expected != msg.Acked*7 || msg.Delivered != msg.Expected || msg.Lost != 0 {
		t.Errorf("deliveries: sent %d acked %d expected %d delivered %d lost %d",
			msg.Sent, msg.Acked, msg.Expected, msg.Delivered, msg.Lost)
	}
	if msg.Latency.Count != uint64(msg.Delivered) || msg.Latency.P50 <= 0 || msg.Latency.Max < msg.Latency.P99 {
		t.Errorf("message latency: %+v", msg.Latency)
	}

	for _, phase := range []string{"join", "idle", "messages"} {
		c, ok := s.CPU[phase]
		if !ok || c.Server < 0 || c.Bench < 0 || c.Seconds <= 0 {
			t.Errorf("cpu of phase %s: %+v (present %v)", phase, c, ok)
		}
	}
	if s.Left != 40 || s.Forced != 0 || len(s.Disconnects) != 0 || len(s.PingErrors) != 0 {
		t.Errorf("end: left %d forced %d disconnects %v ping errors %v", s.Left, s.Forced, s.Disconnects, s.PingErrors)
	}
	// The run lasts over two seconds: progress lines went to stderr.
	if !strings.Contains(errOut, "joined 40/40") || !strings.Contains(errOut, "msgs delivered") {
		t.Errorf("no progress lines on stderr:\n%s", errOut)
	}
	waitNoParticipants(t, env)
}

// The SDK participants, a server without debug endpoints, the secret given
// on the command line, and the text summary.
func TestBenchSignalSDKTextNoDebug(t *testing.T) {
	env := servertest.Start(t, nil)
	out, errOut, err := runArgs(t, "", "bench", "signal", "--url", env.URL,
		"--app", string(env.App.ID), "--secret", env.App.Secret, "--client", "sdk",
		"--clients", "12", "--room-size", "4", "--join-rate", "500", "--idle", "0",
		"--msg-rate", "10", "--duration", "500ms")
	if err != nil {
		t.Fatalf("bench signal: %v\nstderr:\n%s", err, errOut)
	}
	for _, want := range []string{
		"12 sdk clients, rooms of 4 (3 rooms)",
		"12 of 12 joined, 0 failed",
		"start it with --debug-endpoints",
		"deliveries, 0 lost",
		"12 left cleanly",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(errOut, "--debug-endpoints") {
		t.Errorf("stderr does not say memory needs --debug-endpoints:\n%s", errOut)
	}
	waitNoParticipants(t, env)
}

// Ctrl-C in the middle of the joins: the bench stops, everyone who joined
// leaves, and a partial summary is printed.
func TestBenchSignalInterrupted(t *testing.T) {
	// A join in flight when the bench is interrupted may complete on the
	// server after the client gave up on it: that session leaves only by
	// timing out, so make the timeout short.
	env := servertest.Start(t, func(c *config.Config) {
		c.Signal.PingInterval, c.Signal.SessionTimeout = 300*time.Millisecond, time.Second
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	time.AfterFunc(400*time.Millisecond, cancel)
	var out, errOut bytes.Buffer
	root := newRootCmd()
	root.SetArgs([]string{"bench", "signal", "--url", env.URL, "--data", env.DataDir,
		"--clients", "200", "--join-rate", "25", "--json"})
	root.SetOut(&out)
	root.SetErr(&errOut)
	start := time.Now()
	err := root.ExecuteContext(ctx)
	if err == nil || !strings.Contains(err.Error(), "interrupted") {
		t.Fatalf("err = %v, want interrupted", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %s to stop", d)
	}
	s := decodeSummary(t, out.String())
	if !s.Interrupted || s.Joins.OK == 0 || s.Joins.OK >= 200 || s.Left != s.Joins.OK || s.Messages != nil {
		t.Errorf("summary: interrupted %v, joined %d, left %d, messages %v", s.Interrupted, s.Joins.OK, s.Left, s.Messages)
	}
	waitNoParticipants(t, env)
}

func TestBenchSignalRefusesBadFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--client", "fast"}, "--client must be raw or sdk"},
		{[]string{"--secret", "s"}, "--secret needs --app"},
		{[]string{"--url", "http://127.0.0.1:1/ws"}, "scheme must be ws or wss"},
		{[]string{"--clients", "0"}, "--clients must be at least 1"},
		{[]string{"--join-rate", "0"}, "--join-rate must be positive"},
		{[]string{"--room-prefix", "a b"}, "--room-prefix"},
		{[]string{"--data", t.TempDir()}, "no database"},
	} {
		_, _, err := runArgs(t, "", append([]string{"bench", "signal"}, tc.args...)...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: err = %v, want %q", tc.args, err, tc.want)
		}
	}
}

func TestHistogramQuantiles(t *testing.T) {
	var h histogram
	for i := 1; i <= 1000; i++ {
		h.record(time.Duration(i) * time.Millisecond)
	}
	for _, tc := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 500 * time.Millisecond}, {0.9, 900 * time.Millisecond}, {0.99, 990 * time.Millisecond}, {1, time.Second}} {
		got := h.quantile(tc.q)
		if got < tc.want || float64(got) > float64(tc.want)*1.016 {
			t.Errorf("q%.2f = %s, want %s (+1.6%%)", tc.q, got, tc.want)
		}
	}
	for us := uint64(0); us < 1<<20; us += 7 {
		i := histIndex(us)
		if histUpper(i) < us || (i > 0 && histUpper(i-1) >= us) {
			t.Fatalf("value %d in bucket %d [%d, %d]", us, i, histUpper(i-1)+1, histUpper(i))
		}
	}
}

func TestFastParseMatchesJSON(t *testing.T) {
	for _, frame := range []string{
		`{"seq":42,"event":"message","data":{"id":"m1","from":"u1","name":"bench","content":"0000000000123456789xx","sent_at":1}}`,
		`{"seq":7,"event":"user_joined","data":{"user":{"user_id":"u2","joined_at":1,"streams":[]}}}`,
		`{"id":"m12","code":0,"msg":"ok","data":{"message_id":"mabc"}}`,
		`{"id":"p3","code":1005,"msg":"rate limited"}`,
	} {
		fast, ok := fastParse([]byte(frame))
		if !ok {
			t.Fatalf("fastParse refused %s", frame)
		}
		slow, ok := slowParse([]byte(frame))
		if !ok {
			t.Fatalf("slowParse refused %s", frame)
		}
		if fast.event != slow.event || fast.seq != slow.seq || string(fast.name) != string(slow.name) ||
			string(fast.id) != string(slow.id) || fast.code != slow.code || fast.sent != slow.sent || fast.hasSent != slow.hasSent {
			t.Errorf("%s:\nfast %+v\nslow %+v", frame, fast, slow)
		}
	}
	if _, ok := fastParse([]byte(`{"event":"message","seq":1}`)); ok {
		t.Error("fastParse accepted a layout it does not know")
	}
}
