package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/minirtc/minirtc/internal/servertest"
	"github.com/minirtc/minirtc/pkg/client"
	"github.com/minirtc/minirtc/pkg/ids"
	"github.com/minirtc/minirtc/pkg/protocol"
	"github.com/minirtc/minirtc/pkg/server"
)

// hookReceiver is an app server's webhook endpoint: it verifies every
// request with pkg/server and records the events it acknowledged, in
// arrival order, duplicates included.
type hookReceiver struct {
	srv    *httptest.Server
	secret atomic.Value // string
	// answer decides the status and a delay for each verified event; nil: 204 at once.
	answer atomic.Value // func(server.Event) (int, time.Duration)

	inFlight atomic.Int32
	mu       sync.Mutex
	acked    []server.Event
	refused  []string // requests that failed verification
	requests int
}

func newHookReceiver(t *testing.T) *hookReceiver {
	h := &hookReceiver{}
	h.secret.Store("")
	h.srv = httptest.NewServer(http.HandlerFunc(h.serve))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *hookReceiver) serve(w http.ResponseWriter, r *http.Request) {
	h.inFlight.Add(1)
	defer h.inFlight.Add(-1)
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	ev, err := server.VerifyWebhook(h.secret.Load().(string), r.Header, body, time.Now(), 0)
	h.mu.Lock()
	h.requests++
	if err != nil {
		h.refused = append(h.refused, fmt.Sprintf("%v: %s", err, body))
		h.mu.Unlock()
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	h.mu.Unlock()
	status, delay := http.StatusNoContent, time.Duration(0)
	if f, ok := h.answer.Load().(func(server.Event) (int, time.Duration)); ok && f != nil {
		status, delay = f(ev)
	}
	select {
	case <-time.After(delay):
	case <-r.Context().Done():
		return // the server hung up (or was killed): no answer, nothing acknowledged
	}
	if status/100 == 2 {
		h.mu.Lock()
		h.acked = append(h.acked, ev)
		h.mu.Unlock()
	}
	w.WriteHeader(status)
}

func (h *hookReceiver) events() []server.Event {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]server.Event(nil), h.acked...)
}

// distinct returns the acknowledged events, first arrival of each id only.
func (h *hookReceiver) distinct() []server.Event {
	seen := map[string]bool{}
	var out []server.Event
	for _, ev := range h.events() {
		if !seen[ev.ID] {
			seen[ev.ID] = true
			out = append(out, ev)
		}
	}
	return out
}

func (h *hookReceiver) checkNoRefusals(t *testing.T) {
	t.Helper()
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, r := range h.refused {
		t.Errorf("a delivery failed verification: %s", r)
	}
}

// webhookServer is the minirtc binary serving one data directory.
type webhookServer struct {
	cmd  *exec.Cmd
	ws   string
	app  string
	done chan error
}

// startWebhookServer starts the binary with fast webhook retries (env adds
// or overrides MINIRTC_* settings).
func startWebhookServer(t *testing.T, bin, data string, env ...string) *webhookServer {
	t.Helper()
	cmd := exec.Command(bin, "serve", "--data", data, "--http", "127.0.0.1:0", "--rtmp", "127.0.0.1:0",
		"--webrtc-udp", "127.0.0.1:0", "--webrtc-tcp", "127.0.0.1:0", "--host", "127.0.0.1", "--log-level", "warn")
	cmd.Env = append(os.Environ(),
		"MINIRTC_WEBHOOK_MIN_BACKOFF=50ms", "MINIRTC_WEBHOOK_MAX_BACKOFF=400ms", "MINIRTC_WEBHOOK_POLL_INTERVAL=20ms",
		"MINIRTC_WEBHOOK_TIMEOUT=1s")
	cmd.Env = append(cmd.Env, env...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &webhookServer{cmd: cmd, done: make(chan error, 1)}
	banner := readBanner(t, stdout)
	go func() {
		io.Copy(io.Discard, stdout)
		s.done <- cmd.Wait()
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-s.done
	})
	s.ws, s.app = banner["signalling"], banner["app id"]
	if !strings.HasPrefix(s.ws, "ws://127.0.0.1:") {
		t.Fatalf("banner %v", banner)
	}
	return s
}

// kill9 ends the process with SIGKILL: no shutdown code runs.
func (s *webhookServer) kill9(t *testing.T) {
	t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		t.Fatal("the server did not die")
	}
	s.done <- nil // for the cleanup
}

func cliJSON(t *testing.T, bin string, v any, args ...string) {
	t.Helper()
	out, err := exec.Command(bin, args...).Output()
	if err != nil {
		t.Fatalf("minirtc %v: %v", args, err)
	}
	if v != nil {
		if err := json.Unmarshal(out, v); err != nil {
			t.Fatalf("minirtc %v printed %q: %v", args, out, err)
		}
	}
}

func cliToken(t *testing.T, bin, data, app string, user ids.UserID, room ids.RoomID) string {
	t.Helper()
	out, err := exec.Command(bin, "token", "create", "--data", data, "--app", app, "--user", string(user), "--room", string(room)).Output()
	if err != nil {
		t.Fatalf("token create: %v", err)
	}
	return lastLineOf(string(out))
}

func lastLineOf(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// setWebhook points the app's webhooks at the receiver with the CLI and
// tells the receiver the secret.
func setWebhook(t *testing.T, bin, data, app string, h *hookReceiver) {
	t.Helper()
	var settings struct {
		Secret string   `json:"secret"`
		URLs   []string `json:"urls"`
	}
	cliJSON(t, bin, &settings, "app", "webhook", "set", "--data", data, "--app", app, "--url", h.srv.URL+"/minirtc")
	if settings.Secret == "" || len(settings.URLs) != 1 {
		t.Fatalf("webhook set printed %+v", settings)
	}
	h.secret.Store(settings.Secret)
}

func waitUntil(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", within, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestWebhooksFromTheBinary: participants join, publish (RTMP), mute,
// unpublish and leave through pkg/client against the real binary; the app
// server's endpoint receives every event, signed (checked with
// pkg/server), in room order, and the room's end.
func TestWebhooksFromTheBinary(t *testing.T) {
	bin := buildBinary(t)
	data := filepath.Join(t.TempDir(), "data")
	srv := startWebhookServer(t, bin, data, "MINIRTC_ROOM_EMPTY_GRACE=200ms")
	h := newHookReceiver(t)
	setWebhook(t, bin, data, srv.app, h)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	alice, err := client.Join(ctx, srv.ws, cliToken(t, bin, data, srv.app, "alice", "class"), "class", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer alice.Close()
	pub, err := alice.PublishURL(ctx, "", protocol.MediaAudioVideo)
	if err != nil {
		t.Fatal(err)
	}
	servertest.Push(t, pub.PushURL, protocol.MediaAudioVideo)
	waitUntil(t, 10*time.Second, "stream_published", func() bool { return hasType(h.events(), server.EventStreamPublished) })
	bob, err := client.Join(ctx, srv.ws, cliToken(t, bin, data, srv.app, "bob", "class"), "class", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer bob.Close()
	yes := true
	if _, err := alice.Mute(ctx, "", &yes, nil); err != nil {
		t.Fatal(err)
	}
	if err := alice.Unpublish(ctx, ""); err != nil {
		t.Fatal(err)
	}
	if err := alice.Leave(ctx); err != nil {
		t.Fatal(err)
	}
	if err := bob.Leave(ctx); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 10*time.Second, "room_destroyed", func() bool { return hasType(h.events(), server.EventRoomDestroyed) })

	evs := h.distinct()
	var got []string
	for i, ev := range evs {
		if ev.Seq != int64(i+1) || ev.App != srv.app || ev.Room != "class" {
			t.Fatalf("event %d: %+v, want seq %d of app %s room class", i, ev, i+1, srv.app)
		}
		if ev.Type != server.EventStreamStateChanged || (len(got) > 0 && got[len(got)-1] != ev.Type+":"+ev.User) {
			got = append(got, ev.Type+":"+ev.User) // media info updates may repeat state changes
		}
	}
	want := "room_created: user_joined:alice stream_published:alice user_joined:bob stream_state_changed:alice " +
		"stream_unpublished:alice user_left:alice user_left:bob room_destroyed:"
	if strings.Join(got, " ") != want {
		t.Fatalf("received\n %s\nwant\n %s", strings.Join(got, " "), want)
	}
	var left protocol.UserLeftEvent
	for _, ev := range evs {
		if ev.Type == server.EventUserLeft && ev.User == "bob" {
			if err := ev.DecodeData(&left); err != nil || left.Reason != protocol.ReasonLeft {
				t.Fatalf("bob's user_left data %s", ev.Data)
			}
		}
		if ev.Type == server.EventStreamStateChanged {
			var st protocol.StreamEvent
			if err := ev.DecodeData(&st); err != nil || st.Stream.ID != "alice_main" {
				t.Fatalf("stream_state_changed data %s", ev.Data)
			}
		}
	}
	h.checkNoRefusals(t)

	// The CLI sees them delivered.
	var shown struct {
		Deliveries struct{ Pending, Delivered, Failed int64 } `json:"deliveries"`
	}
	waitUntil(t, 5*time.Second, "delivered state", func() bool {
		cliJSON(t, bin, &shown, "app", "webhook", "show", "--data", data, "--app", srv.app)
		return shown.Deliveries.Delivered == int64(len(evs)) && shown.Deliveries.Pending == 0
	})
}

func hasType(evs []server.Event, typ string) bool {
	for _, ev := range evs {
		if ev.Type == typ {
			return true
		}
	}
	return false
}

// TestWebhooksSurviveKill9: the receiver is slow and fails half the time
// while events pile up in three rooms; the server is killed with SIGKILL
// while a delivery is in flight, then restarted on the same data directory.
// Every event arrives (duplicates are allowed, and removed by id), each
// room's in seq order.
func TestWebhooksSurviveKill9(t *testing.T) {
	bin := buildBinary(t)
	data := filepath.Join(t.TempDir(), "data")
	srv := startWebhookServer(t, bin, data, "MINIRTC_ROOM_EMPTY_GRACE=10m") // no room_destroyed before the kill
	h := newHookReceiver(t)
	var n atomic.Int64
	h.answer.Store(func(server.Event) (int, time.Duration) {
		if n.Add(1)%2 == 0 {
			return http.StatusServiceUnavailable, 50 * time.Millisecond
		}
		return http.StatusOK, 250 * time.Millisecond
	})
	setWebhook(t, bin, data, srv.app, h)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	const rooms, users = 3, 8
	var clients []*client.Client
	for r := range rooms {
		for u := range users {
			room, user := ids.RoomID(fmt.Sprint("room", r)), ids.UserID(fmt.Sprint("user", u))
			c, err := client.Join(ctx, srv.ws, cliToken(t, bin, data, srv.app, user, room), room, nil)
			if err != nil {
				t.Fatal(err)
			}
			clients = append(clients, c)
		}
	}
	for _, c := range clients[:len(clients)/2] {
		if err := c.Leave(ctx); err != nil {
			t.Fatal(err)
		}
	}
	// Per room: room_created, 8 user_joined, 4 user_left (half the users,
	// by join order: rooms 0 and 1 lose all theirs, room 2 none).
	want := map[string]int{"room0": 1 + users + users, "room1": 1 + users + 4, "room2": 1 + users}
	if len(clients)/2 != users+4 {
		t.Fatal("test arithmetic")
	}
	total := 0
	for _, n := range want {
		total += n
	}
	// Everything is in the outbox (the writer commits within milliseconds)...
	var shown struct {
		Deliveries struct{ Pending, Delivered, Failed int64 } `json:"deliveries"`
	}
	waitUntil(t, 10*time.Second, "all events in the outbox", func() bool {
		cliJSON(t, bin, &shown, "app", "webhook", "show", "--data", data, "--app", srv.app)
		return shown.Deliveries.Pending+shown.Deliveries.Delivered == int64(total)
	})
	// ...and the receiver is partway through, with a delivery in flight.
	waitUntil(t, 20*time.Second, "a delivery in flight after a few acknowledged", func() bool {
		return len(h.distinct()) >= 4 && h.inFlight.Load() > 0
	})
	srv.kill9(t)
	before := len(h.distinct())
	if before >= total {
		t.Fatalf("all %d events were delivered before the kill; the test proves nothing", total)
	}
	for _, c := range clients {
		c.Close()
	}

	h.answer.Store(func(server.Event) (int, time.Duration) { return http.StatusOK, 0 })
	startWebhookServer(t, bin, data, "MINIRTC_DEV_APP=false")
	// Deliveries in flight at the kill wait for their lease (timeout + 10 s).
	waitUntil(t, 40*time.Second, "every event", func() bool { return len(h.distinct()) == total })

	h.checkNoRefusals(t)
	got := map[string]int{}
	last := map[string]int64{}
	for _, ev := range h.events() { // with duplicates, in arrival order
		if ev.Seq < last[ev.Room] {
			t.Errorf("room %s: seq %d arrived after %d", ev.Room, ev.Seq, last[ev.Room])
		}
		last[ev.Room] = ev.Seq
	}
	for _, ev := range h.distinct() {
		got[ev.Room]++
		if ev.Seq != int64(got[ev.Room]) {
			t.Errorf("room %s: event %d has seq %d", ev.Room, got[ev.Room], ev.Seq)
		}
	}
	for r, n := range want {
		if got[r] != n {
			t.Errorf("room %s: %d events, want %d", r, got[r], n)
		}
	}
	t.Logf("%d events, %d acknowledged before the kill, %d requests acknowledged in all (duplicates included)",
		total, before, len(h.events()))
}

// TestWebhooksAcrossAGracefulRestart: rooms do not survive a restart, so a
// SIGTERM ends them for the app server too (user_left with reason
// server_shutdown, room_destroyed); events the receiver could not take
// before the stop are delivered after the next start.
func TestWebhooksAcrossAGracefulRestart(t *testing.T) {
	bin := buildBinary(t)
	data := filepath.Join(t.TempDir(), "data")
	srv := startWebhookServer(t, bin, data)
	h := newHookReceiver(t)
	h.answer.Store(func(server.Event) (int, time.Duration) { return http.StatusBadGateway, 0 })
	setWebhook(t, bin, data, srv.app, h)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := client.Join(ctx, srv.ws, cliToken(t, bin, data, srv.app, "alice", "r"), "r", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := srv.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-srv.done:
		srv.done <- nil
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("no exit after SIGTERM")
	}
	if n := len(h.events()); n != 0 {
		t.Fatalf("%d events acknowledged by a receiver answering 502", n)
	}
	h.answer.Store(func(server.Event) (int, time.Duration) { return http.StatusOK, 0 })
	startWebhookServer(t, bin, data)
	waitUntil(t, 10*time.Second, "the room's whole story", func() bool { return len(h.distinct()) == 4 })
	var got []string
	for _, ev := range h.distinct() {
		got = append(got, fmt.Sprintf("%d:%s:%s", ev.Seq, ev.Type, ev.User))
	}
	if want := "1:room_created: 2:user_joined:alice 3:user_left:alice 4:room_destroyed:"; strings.Join(got, " ") != want {
		t.Fatalf("received %s, want %s", strings.Join(got, " "), want)
	}
	var left protocol.UserLeftEvent
	if err := h.distinct()[2].DecodeData(&left); err != nil || left.Reason != "server_shutdown" {
		t.Fatalf("user_left data %s", h.distinct()[2].Data)
	}
	h.checkNoRefusals(t)
}
