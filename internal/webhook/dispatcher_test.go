package webhook

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/minirtc/minirtc/internal/room"
	"github.com/minirtc/minirtc/internal/store"
	"github.com/minirtc/minirtc/pkg/ids"
	"github.com/minirtc/minirtc/pkg/protocol"
)

// TestRoomEventsArriveSignedInOrder drives a real room through every event
// type and checks what a real HTTP receiver gets: the JSON body, the
// headers, signatures that pkg/server accepts, and seq 1..n in room order.
func TestRoomEventsArriveSignedInOrder(t *testing.T) {
	e := newEnv(t, fastConfig())
	rcv := newReceiver(t, nil)
	app, secret := e.app(t, rcv.URL())
	e.d.Start()
	m := e.rooms(t, room.Config{EmptyGrace: 10 * time.Millisecond})

	alice := join(t, m, app, "alice", "r1")
	bob := join(t, m, app, "bob", "r1")
	if _, err := alice.Publish("cam", protocol.MediaAudioVideo); err != nil {
		t.Fatal(err)
	}
	yes := true
	if _, err := alice.Mute("cam", &yes, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := alice.SendMessage("chat", "not a webhook event", nil); err != nil {
		t.Fatal(err)
	}
	if err := alice.Unpublish("cam"); err != nil {
		t.Fatal(err)
	}
	alice.Leave(protocol.ReasonLeft)
	bob.Leave(protocol.ReasonTimeout)

	want := []string{"room_created:", "user_joined:alice", "user_joined:bob", "stream_published:alice", "stream_state_changed:alice",
		"stream_unpublished:alice", "user_left:alice", "user_left:bob", "room_destroyed:"}
	waitFor(t, "all events", func() bool { return rcv.count() >= len(want) })
	hs := rcv.all()
	verify(t, secret, hs)
	var got []string
	for i, h := range hs {
		got = append(got, h.ev.Type+":"+string(h.ev.User))
		if h.ev.Seq != int64(i+1) || h.ev.App != app || h.ev.Room != "r1" || !strings.HasPrefix(h.ev.ID, "ev") || len(h.ev.ID) != 28 {
			t.Fatalf("delivery %d: %s", i, h.body)
		}
		if d := time.Since(time.UnixMilli(h.ev.At)); d < 0 || d > 10*time.Second {
			t.Fatalf("delivery %d: at %d is not about now", i, h.ev.At)
		}
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("received\n %v\nwant\n %v", got, want)
	}
	// Data is the protocol payload.
	var left protocol.UserLeftEvent
	if err := json.Unmarshal(hs[7].ev.Data, &left); err != nil || left.UserID != "bob" || left.Reason != protocol.ReasonTimeout {
		t.Fatalf("user_left data %s", hs[7].ev.Data)
	}
	var st protocol.StreamEvent
	if err := json.Unmarshal(hs[4].ev.Data, &st); err != nil || st.Stream.ID != "alice_cam" || !st.Stream.AudioMuted {
		t.Fatalf("stream_state_changed data %s", hs[4].ev.Data)
	}
	if string(hs[0].ev.Data) != "{}" {
		t.Fatalf("room_created data %s, want {}", hs[0].ev.Data)
	}
	waitFor(t, "delivered state", func() bool { return len(e.deliveries(t, app, store.WebhookDelivered)) == len(want) })
	for _, d := range e.deliveries(t, app, store.WebhookDelivered) {
		if d.Attempts != 1 || d.LastStatus != http.StatusNoContent || d.DoneAt.IsZero() {
			t.Fatalf("delivery %+v", d)
		}
	}
	if n := e.metric(e.d.m.attempts.WithLabelValues("delivered")); n != float64(len(want)) {
		t.Fatalf("delivered metric %v", n)
	}

	// The room again, under the same name: numbering continues.
	join(t, m, app, "carol", "r1")
	waitFor(t, "re-created room", func() bool { return rcv.count() >= len(want)+2 })
	hs = rcv.all()
	if hs[len(want)].ev.Type != TypeRoomCreated || hs[len(want)].ev.Seq != int64(len(want)+1) {
		t.Fatalf("after re-creation: %s", hs[len(want)].body)
	}
}

// TestEveryURLGetsEveryEvent: two URLs, each its own queue; an app without
// URLs stores nothing.
func TestEveryURLGetsEveryEvent(t *testing.T) {
	e := newEnv(t, fastConfig())
	r1, r2 := newReceiver(t, nil), newReceiver(t, nil)
	app, _ := e.app(t, r1.URL(), r2.URL())
	quiet, _ := e.app(t)
	e.d.Start()
	m := e.rooms(t, room.Config{})
	join(t, m, app, "u1", "room")
	join(t, m, quiet, "u1", "room")
	waitFor(t, "both receivers", func() bool { return r1.count() == 2 && r2.count() == 2 })
	for i := range 2 {
		if r1.all()[i].ev.ID != r2.all()[i].ev.ID {
			t.Fatal("the two URLs got different events")
		}
	}
	if c, _ := e.db.CountWebhookDeliveries(context.Background(), quiet); c != (store.WebhookCounts{}) {
		t.Fatalf("app without URLs has deliveries %+v", c)
	}
	waitFor(t, "stored metric", func() bool { return e.metric(e.d.m.stored) == 2 })
	if e.metric(e.d.m.observed) != 4 {
		t.Fatalf("observed %v, want 4", e.metric(e.d.m.observed))
	}
}

// TestQueueBoundDropsAndCounts: with the writer not running, the queue holds
// QueueSize events and drops the rest; after Close nothing is taken.
func TestQueueBoundDropsAndCounts(t *testing.T) {
	cfg := fastConfig()
	cfg.QueueSize = 3
	e := newEnv(t, cfg)
	rcv := newReceiver(t, nil)
	app, _ := e.app(t, rcv.URL())
	for i := range 5 {
		observe(e.d, app, "r1", protocol.EvUserJoined, &protocol.UserJoinedEvent{User: protocol.Participant{UserID: ids.UserID(fmt.Sprint("u", i))}})
	}
	observe(e.d, app, "r1", protocol.EvMessage, &protocol.MessageEvent{}) // not a webhook event: not counted
	if got := e.metric(e.d.m.dropped.WithLabelValues(dropQueueFull)); got != 2 {
		t.Fatalf("dropped %v, want 2", got)
	}
	if e.metric(e.d.m.queued) != 3 || e.metric(e.d.m.observed) != 3 {
		t.Fatalf("queued %v observed %v", e.metric(e.d.m.queued), e.metric(e.d.m.observed))
	}
	e.d.Start()
	waitFor(t, "the queued three", func() bool { return rcv.count() == 3 })
	var users []string
	for _, h := range rcv.all() {
		users = append(users, string(h.ev.User))
	}
	if strings.Join(users, " ") != "u0 u1 u2" {
		t.Fatalf("delivered %v, want the first three in order", users)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := e.d.Close(ctx); err != nil {
		t.Fatal(err)
	}
	observe(e.d, app, "r1", protocol.EvUserLeft, &protocol.UserLeftEvent{UserID: "u0"})
	if got := e.metric(e.d.m.dropped.WithLabelValues(dropStopped)); got != 1 {
		t.Fatalf("dropped after close %v, want 1", got)
	}
}

// TestCloseWritesQueuedEventsAndCutsOffAttempts: events observed just
// before Close are stored; an attempt hanging at Close is cut off when the
// context ends and left due at once for the next start, which delivers it.
func TestCloseWritesQueuedEventsAndCutsOffAttempts(t *testing.T) {
	release := make(chan struct{})
	rcv := newReceiver(t, func(n int, _ hit, w http.ResponseWriter) {
		if n == 0 {
			<-release // the first request hangs until the test ends
		}
		w.WriteHeader(http.StatusOK)
	})
	defer close(release)
	cfg := fastConfig()
	cfg.Timeout = 30 * time.Second
	e := newEnv(t, cfg)
	app, _ := e.app(t, rcv.URL())
	e.d.Start()
	observe(e.d, app, "r1", room.EvRoomCreated, nil)
	waitFor(t, "the hanging request", func() bool { return rcv.count() == 1 })
	for i := range 50 {
		observe(e.d, app, ids.RoomID(fmt.Sprint("q", i)), room.EvRoomCreated, nil)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := e.d.Close(ctx); err != context.DeadlineExceeded {
		t.Fatalf("Close = %v, want the deadline (an attempt was cut off)", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Fatal("Close took too long")
	}
	c, _ := e.db.CountWebhookDeliveries(context.Background(), app)
	if c.Pending+c.Delivered != 51 {
		t.Fatalf("after Close: %+v, want all 51 events in the outbox", c)
	}
	var cut store.WebhookDelivery
	for _, d := range e.deliveries(t, app, store.WebhookPending) {
		if d.Event.Room == "r1" {
			cut = d
		}
	}
	if !strings.Contains(cut.LastError, "interrupted") || cut.Attempts != 1 || cut.NextAttemptAt.After(time.Now()) {
		t.Fatalf("cut-off delivery %+v", cut)
	}

	// A new dispatcher on the same store (a restart) delivers it.
	d2, err := New(cfg, e.db, Options{Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	d2.Start()
	defer d2.Close(context.Background())
	waitFor(t, "redelivery after restart", func() bool {
		c, _ := e.db.CountWebhookDeliveries(context.Background(), app)
		return c.Delivered == 51
	})
}

// TestLeaseOfACrashedDispatcher: deliveries claimed by a process that died
// mid-attempt are attempted again once their lease has run out.
func TestLeaseOfACrashedDispatcher(t *testing.T) {
	e := newEnv(t, fastConfig())
	rcv := newReceiver(t, nil)
	app, _ := e.app(t, rcv.URL())
	// The dead process enqueued and claimed the first a lease ago.
	lease := fastConfig().lease()
	now := time.Now().Add(-lease)
	evs := []store.WebhookEvent{
		{ID: "evcrash1", App: app, Room: "r1", Type: TypeUserJoined, User: "a", At: now},
		{ID: "evcrash2", App: app, Room: "r1", Type: TypeUserLeft, User: "a", At: now},
	}
	if _, err := e.db.EnqueueWebhookEvents(context.Background(), evs, now); err != nil {
		t.Fatal(err)
	}
	got, err := e.db.ClaimWebhookDeliveries(context.Background(), store.WebhookClaim{Now: now, Limit: 1, Lease: lease, PerURL: 1})
	if err != nil || len(got) != 1 {
		t.Fatalf("claim: %v %v", got, err)
	}
	e.d.Start()
	waitFor(t, "both", func() bool { return rcv.count() == 2 })
	hs := rcv.all()
	if hs[0].ev.ID != "evcrash1" || hs[1].ev.ID != "evcrash2" {
		t.Fatalf("order after a crash: %s %s", hs[0].ev.ID, hs[1].ev.ID)
	}
	waitFor(t, "recorded", func() bool { return len(e.deliveries(t, app, store.WebhookDelivered)) == 2 })
	for _, d := range e.deliveries(t, app, store.WebhookDelivered) {
		if d.Event.ID == "evcrash1" && d.Attempts != 2 {
			t.Fatalf("re-attempted delivery has %d attempts, want 2", d.Attempts)
		}
	}
}

func TestDisabledDoesNothing(t *testing.T) {
	cfg := fastConfig()
	cfg.Enabled = false
	e := newEnv(t, cfg)
	rcv := newReceiver(t, nil)
	app, _ := e.app(t, rcv.URL())
	e.d.Start()
	observe(e.d, app, "r1", room.EvRoomCreated, nil)
	time.Sleep(50 * time.Millisecond)
	if rcv.count() != 0 || e.metric(e.d.m.observed) != 0 {
		t.Fatal("a disabled dispatcher delivered")
	}
}

func TestConfigValidate(t *testing.T) {
	if err := Defaults().Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	for name, f := range map[string]func(*Config){
		"workers":         func(c *Config) { c.Workers = 0 },
		"workers max":     func(c *Config) { c.Workers = MaxWorkers + 1 },
		"per_url_workers": func(c *Config) { c.PerURLWorkers = c.Workers + 1 },
		"timeout":         func(c *Config) { c.Timeout = 0 },
		"timeout max":     func(c *Config) { c.Timeout = MaxTimeout + 1 },
		"max_age":         func(c *Config) { c.MaxAge = -time.Second },
		"max_age max":     func(c *Config) { c.MaxAge = MaxMaxAge + 1 },
		"min_backoff":     func(c *Config) { c.MinBackoff = 0 },
		"min > max":       func(c *Config) { c.MinBackoff = c.MaxBackoff + 1 },
		"max_backoff":     func(c *Config) { c.MaxBackoff = MaxBackoffCap + 1 },
		"queue_size":      func(c *Config) { c.QueueSize = 0 },
		"poll_interval":   func(c *Config) { c.PollInterval = 0 },
		"retention":       func(c *Config) { c.Retention = 0 },
	} {
		c := Defaults()
		f(&c)
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), "webhook.") {
			t.Errorf("%s: error %v, want one naming the webhook.* key", name, err)
		}
		if _, nerr := New(c, nil, Options{}); nerr == nil {
			t.Errorf("%s: New accepted the config", name)
		}
	}
}

// TestTooOldBeforeFirstAttemptIsGivenUp: an event older than max_age that
// was never tried (the server was down longer than that) is given up
// without a request; the room's next event goes on.
func TestTooOldBeforeFirstAttemptIsGivenUp(t *testing.T) {
	cfg := fastConfig()
	e := newEnv(t, cfg)
	rcv := newReceiver(t, nil)
	app, _ := e.app(t, rcv.URL())
	old := time.Now().Add(-cfg.MaxAge - time.Second)
	evs := []store.WebhookEvent{
		{ID: "evold", App: app, Room: "r1", Type: TypeRoomCreated, At: old},
		{ID: "evnew", App: app, Room: "r1", Type: TypeUserJoined, User: "u", At: time.Now()},
	}
	if _, err := e.db.EnqueueWebhookEvents(context.Background(), evs, time.Now()); err != nil {
		t.Fatal(err)
	}
	e.d.Start()
	waitFor(t, "the young event", func() bool { return rcv.count() == 1 })
	if id := rcv.all()[0].ev.ID; id != "evnew" {
		t.Fatalf("received %s", id)
	}
	waitFor(t, "give-up recorded", func() bool { return len(e.deliveries(t, app, store.WebhookFailed)) == 1 })
	f := e.deliveries(t, app, store.WebhookFailed)[0]
	if f.Event.ID != "evold" || !strings.Contains(f.LastError, "not attempted") || f.LastStatus != 0 {
		t.Fatalf("given-up delivery %+v", f)
	}
}
