package api_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minirtc/minirtc/internal/auth"
	"github.com/minirtc/minirtc/internal/config"
	"github.com/minirtc/minirtc/internal/store"
	"github.com/minirtc/minirtc/internal/webhook"
	"github.com/minirtc/minirtc/pkg/ids"
)

type webhookBody struct {
	App        ids.AppID `json:"app"`
	URLs       []string  `json:"urls"`
	Secret     string    `json:"secret"`
	UpdatedAt  int64     `json:"updated_at"`
	Deliveries struct {
		Pending   int64 `json:"pending"`
		Delivered int64 `json:"delivered"`
		Failed    int64 `json:"failed"`
	} `json:"deliveries"`
}

type deliveryBody struct {
	ID            int64           `json:"id"`
	URL           string          `json:"url"`
	State         string          `json:"state"`
	Attempts      int             `json:"attempts"`
	CreatedAt     int64           `json:"created_at"`
	NextAttemptAt int64           `json:"next_attempt_at"`
	LastAttemptAt int64           `json:"last_attempt_at"`
	LastStatus    int             `json:"last_status"`
	LastError     string          `json:"last_error"`
	DoneAt        int64           `json:"done_at"`
	Event         json.RawMessage `json:"event"`
}

func (d deliveryBody) event(t *testing.T) webhook.Payload {
	t.Helper()
	var p webhook.Payload
	if err := json.Unmarshal(d.Event, &p); err != nil {
		t.Fatalf("event %s: %v", d.Event, err)
	}
	return p
}

type deliveriesBody struct {
	Deliveries   []deliveryBody `json:"deliveries"`
	NextBeforeID int64          `json:"next_before_id"`
}

func (e *env) webhook() webhookBody {
	e.t.Helper()
	var w webhookBody
	e.ok(http.StatusOK, "GET", e.appPath("/webhook"), e.admin, nil, &w)
	return w
}

func (e *env) putWebhook(body any) webhookBody {
	e.t.Helper()
	var w webhookBody
	e.ok(http.StatusOK, "PUT", e.appPath("/webhook"), e.admin, body, &w)
	return w
}

func (e *env) deliveries(query string) deliveriesBody {
	e.t.Helper()
	var d deliveriesBody
	e.ok(http.StatusOK, "GET", e.appPath("/webhook/deliveries"+query), e.admin, nil, &d)
	return d
}

// receiver is a real HTTP webhook receiver. It answers status (and body),
// verifies every delivery's signature with the secret it is given, and
// keeps the bodies it received, by event id.
type receiver struct {
	srv *httptest.Server

	mu       sync.Mutex
	secret   string
	status   int
	answer   string
	bodies   map[string][]byte
	order    []string // event ids in arrival order
	badSigs  int
	requests int
}

func newReceiver(t *testing.T, status int, answer string) *receiver {
	r := &receiver{status: status, answer: answer, bodies: map[string][]byte{}}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		defer r.mu.Unlock()
		r.requests++
		sig := req.Header.Get(webhook.HeaderSignature)
		ts, _, _ := strings.Cut(strings.TrimPrefix(sig, "t="), ",")
		var sec int64
		fmt.Sscan(ts, &sec)
		if r.secret == "" || sig != webhook.Sign(r.secret, time.Unix(sec, 0), body) {
			r.badSigs++
		}
		id := req.Header.Get(webhook.HeaderEventID)
		if _, seen := r.bodies[id]; !seen {
			r.order = append(r.order, id)
		}
		r.bodies[id] = body
		w.WriteHeader(r.status)
		io.WriteString(w, r.answer)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) setSecret(s string) {
	r.mu.Lock()
	r.secret = s
	r.mu.Unlock()
}

func (r *receiver) received() (order []string, bodies map[string][]byte, badSigs int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	bodies = make(map[string][]byte, len(r.bodies))
	for k, v := range r.bodies {
		bodies[k] = v
	}
	return slices.Clone(r.order), bodies, r.badSigs
}

// eventually retries check every 20 ms for 15 s; check reports what it saw
// while not yet satisfied.
func eventually(t *testing.T, what string, check func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		ok, seen := check()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 15 s; last seen: %s", what, seen)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestWebhookSettings(t *testing.T) {
	e := start(t, nil)
	w := e.webhook()
	if w.App != e.App.ID || len(w.URLs) != 0 || w.Secret != "" || w.UpdatedAt != 0 || w.Deliveries.Pending+w.Deliveries.Delivered+w.Deliveries.Failed != 0 {
		t.Fatalf("fresh settings = %+v", w)
	}
	// The first put generates a secret, also without URLs: a receiver can
	// be set up with it before it is listed.
	before := time.Now().Add(-time.Second).UnixMilli()
	w = e.putWebhook(map[string]any{"urls": []string{}})
	if len(w.Secret) != 43 || w.UpdatedAt < before || len(w.URLs) != 0 {
		t.Fatalf("after the first put: %+v", w)
	}
	first := w.Secret
	urls := []string{"https://hooks.example.com/minirtc?k=1", "http://127.0.0.1:9/hook"}
	w = e.putWebhook(map[string]any{"urls": urls})
	if !slices.Equal(w.URLs, urls) || w.Secret != first {
		t.Fatalf("URLs put, secret kept: %+v", w)
	}
	if got := e.webhook(); !slices.Equal(got.URLs, urls) || got.Secret != first || got.UpdatedAt != w.UpdatedAt {
		t.Fatalf("GET after put = %+v, want %+v", got, w)
	}
	// Set one's own secret, then rotate it.
	own := "my-own-secret-0123456789"
	if w = e.putWebhook(map[string]any{"urls": urls, "secret": own}); w.Secret != own {
		t.Fatalf("secret set: %+v", w)
	}
	w = e.putWebhook(map[string]any{"urls": urls[:1], "rotate_secret": true})
	if w.Secret == own || w.Secret == first || len(w.Secret) != 43 || !slices.Equal(w.URLs, urls[:1]) {
		t.Fatalf("rotated: %+v", w)
	}
	// The store holds exactly what the API answered.
	s, err := e.Server.Store().WebhookSettings(ctx10(t), e.App.ID)
	must(t, err)
	if !slices.Equal(s.URLs, w.URLs) || s.Secret != w.Secret || s.UpdatedAt.UnixMilli() != w.UpdatedAt {
		t.Fatalf("store has %+v, the API answered %+v", s, w)
	}
	// The operator key may do the same.
	var op webhookBody
	e.ok(http.StatusOK, "GET", e.appPath("/webhook"), operatorKey, nil, &op)
	if op.Secret != w.Secret {
		t.Fatalf("operator's view %+v", op)
	}

	// Refusals name the field and change nothing.
	long := "https://example.com/" + strings.Repeat("a", store.MaxWebhookURLLen)
	for _, c := range []struct {
		field string
		body  any
	}{
		{"urls", map[string]any{}},
		{"urls", map[string]any{"urls": nil, "rotate_secret": true}},
		{"urls", map[string]any{"urls": []string{"http://a.example/1", "http://a.example/2", "http://a.example/3", "http://a.example/4", "http://a.example/5", "http://a.example/6"}}},
		{"urls[1]", map[string]any{"urls": []string{"https://ok.example", "ftp://files.example"}}},
		{"urls[0]", map[string]any{"urls": []string{"https://user:pw@ok.example/x"}}},
		{"urls[0]", map[string]any{"urls": []string{"https://ok.example/x#frag"}}},
		{"urls[0]", map[string]any{"urls": []string{"/relative"}}},
		{"urls[0]", map[string]any{"urls": []string{""}}},
		{"urls[0]", map[string]any{"urls": []string{long}}},
		{"urls[2]", map[string]any{"urls": []string{"https://a.example", "https://b.example", "https://a.example"}}},
		{"urls", map[string]any{"urls": "https://a.example"}},
		{"secret", map[string]any{"urls": []string{}, "secret": "short"}},
		{"secret", map[string]any{"urls": []string{}, "secret": ""}},
		{"secret", map[string]any{"urls": []string{}, "secret": "has a space in it, sadly"}},
		{"rotate_secret", map[string]any{"urls": []string{}, "secret": own, "rotate_secret": true}},
		{"rotate_secret", map[string]any{"urls": []string{}, "rotate_secret": "yes"}},
		{"secrte", map[string]any{"urls": []string{}, "secrte": own}},
	} {
		e.fails(400, 1003, c.field, "PUT", e.appPath("/webhook"), e.admin, c.body)
	}
	e.failsRaw(400, 1001, "", e.raw("PUT", e.appPath("/webhook"), e.admin, "application/json", nil))
	e.failsRaw(415, 4015, "", e.raw("PUT", e.appPath("/webhook"), e.admin, "text/plain", []byte(`{"urls":[]}`)))
	e.failsRaw(400, 1001, "", e.raw("GET", e.appPath("/webhook"), e.admin, "application/json", []byte(`{"urls":[]}`)))
	if got := e.webhook(); got.Secret != w.Secret || !slices.Equal(got.URLs, w.URLs) {
		t.Fatalf("a refused put changed the settings: %+v", got)
	}

	// Credentials: none, another app's, one room's, without admin.
	e.fails(401, 4001, "", "GET", e.appPath("/webhook"), "", nil)
	e.fails(401, 4001, "", "PUT", e.appPath("/webhook"), "", map[string]any{"urls": []string{}})
	var other appBody
	e.ok(http.StatusCreated, "POST", "/apps", operatorKey, map[string]any{"name": "other"}, &other)
	otherAdmin := mintFor(t, other, "boss", "", auth.GrantAdmin)
	e.fails(404, 4004, "", "GET", e.appPath("/webhook"), otherAdmin, nil)
	e.fails(404, 4004, "", "PUT", e.appPath("/webhook"), otherAdmin, map[string]any{"urls": []string{}})
	e.fails(404, 4004, "", "GET", e.appPath("/webhook/deliveries"), otherAdmin, nil)
	e.fails(403, 2005, "", "GET", e.appPath("/webhook"), e.Token(t, "boss", "r1", auth.GrantAdmin), nil)
	e.fails(403, 2006, "", "GET", e.appPath("/webhook"), e.Token(t, "alice", ""), nil)
	// The other app's own settings are its own.
	var ow webhookBody
	e.ok(http.StatusOK, "GET", "/apps/"+string(other.ID)+"/webhook", otherAdmin, nil, &ow)
	if ow.Secret != "" || len(ow.URLs) != 0 {
		t.Fatalf("another app's settings = %+v", ow)
	}
}

// TestWebhookDeliveriesDelivered: real room events reach a real receiver,
// signed, and the API shows them delivered with the exact bodies sent.
func TestWebhookDeliveriesDelivered(t *testing.T) {
	e := start(t, nil)
	rc := newReceiver(t, http.StatusNoContent, "")
	w := e.putWebhook(map[string]any{"urls": []string{rc.srv.URL + "/hook"}})
	rc.setSecret(w.Secret)

	t0 := time.Now().Add(-time.Millisecond).UnixMilli()
	e.join("alice", "r1")
	bob := e.join("bob", "r1")
	e.join("carol", "r2")
	must(t, bob.Leave(ctx10(t)))
	// room_created r1, user_joined alice, user_joined bob, room_created r2,
	// user_joined carol, user_left bob.
	const n = 6
	eventually(t, "every delivery delivered", func() (bool, string) {
		w := e.webhook()
		return w.Deliveries.Delivered == n && w.Deliveries.Pending == 0 && w.Deliveries.Failed == 0, fmt.Sprintf("%+v", w.Deliveries)
	})
	order, bodies, badSigs := rc.received()
	if len(order) != n || badSigs != 0 {
		t.Fatalf("receiver got %d events (%d badly signed), want %d well signed", len(order), badSigs, n)
	}

	all := e.deliveries("")
	if len(all.Deliveries) != n || all.NextBeforeID != 0 {
		t.Fatalf("listed %d deliveries (next %d), want %d and no next page", len(all.Deliveries), all.NextBeforeID, n)
	}
	var types []string
	for i, d := range all.Deliveries {
		if i > 0 && d.ID >= all.Deliveries[i-1].ID {
			t.Fatalf("not newest first: %d after %d", d.ID, all.Deliveries[i-1].ID)
		}
		ev := d.event(t)
		if d.State != "delivered" || d.Attempts != 1 || d.LastStatus != 204 || d.LastError != "" || d.DoneAt < d.CreatedAt ||
			d.LastAttemptAt == 0 || d.NextAttemptAt != 0 || d.URL != rc.srv.URL+"/hook" || d.CreatedAt < t0 {
			t.Fatalf("delivery %+v", d)
		}
		// The listed event is byte for byte the body the receiver got.
		if !bytes.Equal(d.Event, bodies[ev.ID]) {
			t.Fatalf("listed event %s, receiver got %s", d.Event, bodies[ev.ID])
		}
		if ev.App != e.App.ID || ev.At < t0 {
			t.Fatalf("event %+v", ev)
		}
		types = append([]string{string(ev.Room) + ":" + ev.Type + ":" + string(ev.User)}, types...)
	}
	want := []string{"r1:room_created:", "r1:user_joined:alice", "r1:user_joined:bob", "r2:room_created:", "r2:user_joined:carol", "r1:user_left:bob"}
	if !slices.Equal(types, want) {
		t.Fatalf("events oldest first = %v, want %v", types, want)
	}

	// Filters.
	count := func(query string) int { t.Helper(); return len(e.deliveries(query).Deliveries) }
	at := func(i int) int64 { return all.Deliveries[n-1-i].event(t).At } // i-th oldest event's time
	for q, want := range map[string]int{
		"?room=r1":                   4,
		"?room=r2&type=room_created": 1,
		"?type=user_joined":          3,
		"?type=user_left&room=r2":    0,
		"?state=delivered":           n,
		"?state=pending":             0,
		"?state=failed":              0,
		"?url=" + url.QueryEscape(rc.srv.URL+"/hook"):  n,
		"?url=" + url.QueryEscape(rc.srv.URL+"/other"): 0,
		"?room=nosuchroom": 0,
		"?from=" + fmt.Sprint(t0) + "&to=" + fmt.Sprint(time.Now().Add(time.Hour).UnixMilli()): n,
		"?from=" + url.QueryEscape(time.Now().Add(time.Minute).UTC().Format(time.RFC3339)):     0,
	} {
		if got := count(q); got != want {
			t.Errorf("deliveries%s: %d, want %d", q, got, want)
		}
	}
	// Time windows select by the event's time, [from, to). Events of one
	// join may share a millisecond, so the expectation is counted.
	inWindow := func(from, to int64) int {
		k := 0
		for _, d := range all.Deliveries {
			if at := d.event(t).At; at >= from && (to == 0 || at < to) {
				k++
			}
		}
		return k
	}
	for _, w := range [][2]int64{{at(2), 0}, {0, at(2)}, {at(1), at(4)}, {at(5), 0}, {at(0), at(0) + 1}} {
		q := "?"
		if w[0] != 0 {
			q += "from=" + fmt.Sprint(w[0]) + "&"
		}
		if w[1] != 0 {
			q += "to=" + fmt.Sprint(w[1])
		}
		want := inWindow(w[0], w[1])
		if got := count(strings.TrimSuffix(q, "&")); got != want || want == 0 {
			t.Errorf("deliveries%s: %d, want %d (not 0)", q, got, want)
		}
	}
	if from := time.UnixMilli(at(3)).UTC().Format(time.RFC3339Nano); count("?from="+url.QueryEscape(from)) != inWindow(at(3), 0) {
		t.Errorf("from as RFC 3339 (%s) selects differently from unix ms", from)
	}
	// Paging walks the list in pages of 4 and 2, then an empty page is
	// not needed: the short page has no next_before_id.
	p1 := e.deliveries("?limit=4")
	if len(p1.Deliveries) != 4 || p1.NextBeforeID != p1.Deliveries[3].ID {
		t.Fatalf("page 1: %d deliveries, next %d", len(p1.Deliveries), p1.NextBeforeID)
	}
	p2 := e.deliveries(fmt.Sprintf("?limit=4&before_id=%d", p1.NextBeforeID))
	if len(p2.Deliveries) != 2 || p2.NextBeforeID != 0 || p2.Deliveries[0].ID != all.Deliveries[4].ID {
		t.Fatalf("page 2: %+v", p2)
	}
	// An exactly full last page points at an empty one.
	p3 := e.deliveries("?limit=3&type=user_joined")
	if p3.NextBeforeID == 0 || len(e.deliveries(fmt.Sprintf("?limit=3&type=user_joined&before_id=%d", p3.NextBeforeID)).Deliveries) != 0 {
		t.Fatalf("full last page: %+v", p3)
	}

	// Bad filters name the parameter.
	for q, field := range map[string]string{
		"?state=lost":         "state",
		"?type=user_joined_x": "type",
		"?type=":              "type",
		"?room=a%20b":         "room",
		"?url=ftp%3A%2F%2Fx":  "url",
		"?from=yesterday":     "from",
		"?to=-1":              "to",
		"?from=100&to=100":    "to",
		"?before_id=0":        "before_id",
		"?before_id=x":        "before_id",
		"?limit=0":            "limit",
		"?limit=1001":         "limit",
		"?sate=pending":       "sate",
		"?room=r1&room=r2":    "room",
	} {
		e.fails(400, 1003, field, "GET", e.appPath("/webhook/deliveries"+q), e.admin, nil)
	}
	e.fails(401, 4001, "", "GET", e.appPath("/webhook/deliveries"), "", nil)
	e.fails(403, 2005, "", "GET", e.appPath("/webhook/deliveries"), e.Token(t, "boss", "r1", auth.GrantAdmin), nil)
}

// TestWebhookDeliveriesFailing: a receiver answering 500 leaves its
// deliveries pending with the last error and the next attempt; removing its
// URL fails them; a working URL then gets the new events.
func TestWebhookDeliveriesFailing(t *testing.T) {
	e := start(t, func(c *config.Config) {
		// One attempt, then a retry far away: the state stays put while
		// the test looks at it.
		c.Webhook.MinBackoff, c.Webhook.MaxBackoff = time.Hour, time.Hour
	})
	bad := newReceiver(t, http.StatusInternalServerError, "boom")
	w := e.putWebhook(map[string]any{"urls": []string{bad.srv.URL}})
	bad.setSecret(w.Secret)
	e.join("alice", "r1") // room_created, user_joined
	var head, queued deliveryBody
	eventually(t, "the first delivery failed once", func() (bool, string) {
		ds := e.deliveries("?state=pending").Deliveries
		if len(ds) != 2 {
			return false, fmt.Sprintf("%d pending", len(ds))
		}
		queued, head = ds[0], ds[1]
		return head.Attempts == 1 && head.LastStatus == 500, fmt.Sprintf("%+v", head)
	})
	now := time.Now()
	if head.event(t).Type != "room_created" || head.LastError != "HTTP 500: boom" || head.DoneAt != 0 ||
		head.NextAttemptAt < now.Add(50*time.Minute).UnixMilli() || head.LastAttemptAt == 0 {
		t.Fatalf("failed head = %+v", head)
	}
	// The room's next event waits behind it, never attempted.
	if queued.event(t).Type != "user_joined" || queued.Attempts != 0 || queued.LastError != "" || queued.LastAttemptAt != 0 || queued.NextAttemptAt == 0 {
		t.Fatalf("queued delivery = %+v", queued)
	}
	if c := e.webhook().Deliveries; c.Pending != 2 || c.Delivered != 0 || c.Failed != 0 {
		t.Fatalf("counts = %+v", c)
	}

	// Replace the URL: what was pending for the old one is given up.
	good := newReceiver(t, http.StatusOK, "ok")
	w = e.putWebhook(map[string]any{"urls": []string{good.srv.URL}})
	good.setSecret(w.Secret)
	if w.Deliveries.Failed != 2 || w.Deliveries.Pending != 0 {
		t.Fatalf("counts after replacing the URL = %+v", w.Deliveries)
	}
	failed := e.deliveries("?state=failed").Deliveries
	if len(failed) != 2 {
		t.Fatalf("%d failed", len(failed))
	}
	for _, d := range failed {
		if d.LastError != store.ErrWebhookURLRemoved || d.DoneAt == 0 || d.NextAttemptAt != 0 || d.URL != bad.srv.URL {
			t.Fatalf("given-up delivery = %+v", d)
		}
	}
	e.join("bob", "r1")
	eventually(t, "bob's join delivered to the new URL", func() (bool, string) {
		c := e.webhook().Deliveries
		return c.Delivered == 1 && c.Pending == 0, fmt.Sprintf("%+v", c)
	})
	ds := e.deliveries("?state=delivered").Deliveries
	if len(ds) != 1 || ds[0].URL != good.srv.URL || ds[0].LastStatus != 200 || ds[0].event(t).User != "bob" {
		t.Fatalf("delivered = %+v", ds)
	}
	if _, _, bad := good.received(); bad != 0 {
		t.Fatalf("%d badly signed deliveries", bad)
	}
}

// TestWebhookDeliveryGivenUp: past webhook.max_age a failing delivery is
// failed, and keeps its last status and error.
func TestWebhookDeliveryGivenUp(t *testing.T) {
	e := start(t, func(c *config.Config) {
		c.Webhook.MaxAge = 1500 * time.Millisecond
		c.Webhook.MinBackoff, c.Webhook.MaxBackoff = 200*time.Millisecond, 200*time.Millisecond
		c.Webhook.PollInterval = 50 * time.Millisecond
	})
	rc := newReceiver(t, http.StatusServiceUnavailable, "down for maintenance")
	w := e.putWebhook(map[string]any{"urls": []string{rc.srv.URL}})
	rc.setSecret(w.Secret)
	e.join("alice", "r1")
	eventually(t, "both deliveries given up", func() (bool, string) {
		c := e.webhook().Deliveries
		return c.Failed == 2 && c.Pending == 0, fmt.Sprintf("%+v", c)
	})
	ds := e.deliveries("?state=failed&type=room_created").Deliveries
	if len(ds) != 1 {
		t.Fatalf("%d failed room_created deliveries", len(ds))
	}
	d := ds[0]
	if d.Attempts < 2 || d.LastStatus != 503 || d.LastError != "HTTP 503: down for maintenance" || d.DoneAt == 0 || d.NextAttemptAt != 0 {
		t.Fatalf("given-up delivery = %+v", d)
	}
}
