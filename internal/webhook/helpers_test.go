package webhook

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"go.uber.org/goleak"

	"github.com/minirtc/minirtc/internal/room"
	"github.com/minirtc/minirtc/internal/store"
	"github.com/minirtc/minirtc/internal/store/sqlite"
	"github.com/minirtc/minirtc/pkg/ids"
	"github.com/minirtc/minirtc/pkg/server"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func testLogger() *slog.Logger {
	if os.Getenv("WEBHOOK_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// fastConfig retries within milliseconds, so tests see several attempts.
func fastConfig() Config {
	c := Defaults()
	c.Workers = 8
	c.PerURLWorkers = 2
	c.Timeout = 2 * time.Second
	c.MinBackoff = 20 * time.Millisecond
	c.MaxBackoff = 80 * time.Millisecond
	c.PollInterval = 10 * time.Millisecond
	c.MaxAge = time.Minute
	return c
}

// env is a dispatcher on a real SQLite store.
type env struct {
	db  *sqlite.DB
	d   *Dispatcher
	reg *prometheus.Registry
}

func newEnv(t testing.TB, cfg Config) *env {
	t.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "minirtc.db"))
	if err != nil {
		t.Fatal(err)
	}
	e := &env{db: db, reg: prometheus.NewRegistry()}
	e.d, err = New(cfg, db, Options{Logger: testLogger(), Registerer: e.reg})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := e.d.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
		db.Close()
	})
	return e
}

// app creates an app whose webhooks go to urls; it returns the app and its secret.
func (e *env) app(t testing.TB, urls ...string) (ids.AppID, string) {
	t.Helper()
	a, err := e.db.CreateApp(context.Background(), "hooks")
	if err != nil {
		t.Fatal(err)
	}
	ws, err := e.db.PutWebhookSettings(context.Background(), store.WebhookSettings{App: a.ID, URLs: urls}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return a.ID, ws.Secret
}

// rooms is a room manager whose events feed the dispatcher.
func (e *env) rooms(t *testing.T, cfg room.Config) *room.Manager {
	t.Helper()
	m, err := room.NewManager(cfg, room.Options{Observer: e.d.Observe, Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Shutdown)
	return m
}

func (e *env) deliveries(t *testing.T, app ids.AppID, state store.WebhookDeliveryState) []store.WebhookDelivery {
	t.Helper()
	ds, err := e.db.ListWebhookDeliveries(context.Background(), store.WebhookDeliveryQuery{App: app, State: state, Limit: store.MaxWebhookDeliveryLimit})
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

// metric reads a counter or gauge.
func (e *env) metric(c prometheus.Metric) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		panic(err)
	}
	if m.Counter != nil {
		return m.Counter.GetValue()
	}
	return m.Gauge.GetValue()
}

// waitFor polls cond for up to 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// hit is one request a receiver got.
type hit struct {
	at     time.Time
	header http.Header
	body   []byte
	ev     Payload
}

// receiver is a real HTTP server that records every request and answers
// with what answer decides (nil: 204).
type receiver struct {
	srv    *httptest.Server
	mu     sync.Mutex
	hits   []hit
	answer func(n int, h hit, w http.ResponseWriter) // n counts requests from 0
}

func newReceiver(t testing.TB, answer func(n int, h hit, w http.ResponseWriter)) *receiver {
	t.Helper()
	r := &receiver{answer: answer}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		h := hit{at: time.Now(), header: req.Header.Clone(), body: body}
		json.Unmarshal(body, &h.ev)
		r.mu.Lock()
		n := len(r.hits)
		r.hits = append(r.hits, h)
		answer := r.answer
		r.mu.Unlock()
		if answer != nil {
			answer(n, h, w)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) URL() string { return r.srv.URL + "/hook" }

func (r *receiver) all() []hit {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]hit(nil), r.hits...)
}

func (r *receiver) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.hits)
}

// verify checks every hit's signature with the SDK app servers use.
func verify(t *testing.T, secret string, hs []hit) {
	t.Helper()
	for _, h := range hs {
		ev, err := server.VerifyWebhook(secret, h.header, h.body, time.Now(), 0)
		if err != nil {
			t.Fatalf("delivery %s does not verify: %v", h.body, err)
		}
		if ev.ID != h.ev.ID || h.header.Get(HeaderEventID) != ev.ID || h.header.Get(HeaderEventType) != ev.Type ||
			h.header.Get("Content-Type") != "application/json" {
			t.Fatalf("headers %v for %s", h.header, h.body)
		}
	}
}

// nopSink is a participant that ignores its events.
type nopSink struct{}

func (nopSink) Deliver(*room.Event) {}
func (nopSink) Removed()            {}

func join(t *testing.T, m *room.Manager, app ids.AppID, user ids.UserID, r ids.RoomID) *room.Member {
	t.Helper()
	j, err := m.Join(context.Background(), room.Identity{App: app, User: user,
		Grants: room.GrantPublish | room.GrantSubscribe | room.GrantData}, r, nopSink{})
	if err != nil {
		t.Fatal(err)
	}
	return j.Member
}

// observe feeds a hand-made room event.
func observe(d *Dispatcher, app ids.AppID, r ids.RoomID, name string, data any) {
	d.Observe(&room.Event{App: app, Room: r, Name: name, Data: data, At: time.Now()})
}
