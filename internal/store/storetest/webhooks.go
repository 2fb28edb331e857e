package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/minirtc/minirtc/internal/store"
	"github.com/minirtc/minirtc/pkg/ids"
)

// testWebhooks runs the webhook cases one after another on one store. Claims
// see every app's deliveries, so each case ends by removing its apps' URLs,
// which fails whatever it left pending (see whApp).
func testWebhooks(t *testing.T, s store.Store) {
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"SettingsGetPut", testWebhookSettings},
		{"SettingsRejectInvalid", testWebhookSettingsInvalid},
		{"EnqueueSequencesAndDeliveries", testWebhookEnqueue},
		{"EnqueueIsIdempotentAndAtomic", testWebhookEnqueueIdempotent},
		{"EnqueueRejectsInvalid", testWebhookEnqueueInvalid},
		{"ClaimOnePerURLHeadsOnly", testWebhookClaimHeads},
		{"ClaimOrderAcrossQueuesAndSkip", testWebhookClaimOrder},
		{"LeaseExpiryAndStaleOutcome", testWebhookLease},
		{"RetryThenDeliver", testWebhookRetry},
		{"GiveUpUnblocksQueue", testWebhookGiveUp},
		{"RemovedURLFailsPending", testWebhookURLRemoved},
		{"ListFiltersPagingCounts", testWebhookList},
		{"ListByEventTime", testWebhookListByTime}, // webhooks_time.go
		{"PurgeKeepsPendingAndSequences", testWebhookPurge},
		{"AppsAreIsolated", testWebhookIsolation},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, s) })
	}
}

var whCtx = context.Background()

// whApp creates an app with the given webhook URLs (none: no settings put)
// and, when the case ends, removes them so that nothing it left pending is
// claimable by the next case.
func whApp(t *testing.T, s store.Store, urls ...string) store.App {
	t.Helper()
	a := mustApp(t, s, "webhooks "+t.Name())
	if len(urls) > 0 {
		putSettings(t, s, store.WebhookSettings{App: a.ID, URLs: urls}, base)
	}
	t.Cleanup(func() {
		if _, err := s.PutWebhookSettings(whCtx, store.WebhookSettings{App: a.ID}, base.Add(1000*time.Hour)); err != nil {
			t.Errorf("cleanup: removing URLs: %v", err)
		}
	})
	return a
}

func putSettings(t *testing.T, s store.Store, ws store.WebhookSettings, now time.Time) store.WebhookSettings {
	t.Helper()
	got, err := s.PutWebhookSettings(whCtx, ws, now)
	if err != nil {
		t.Fatalf("PutWebhookSettings(%+v): %v", ws, err)
	}
	return got
}

var whEventN int

// ev makes a valid event with a fresh id.
func ev(app ids.AppID, room ids.RoomID, typ string, at time.Time) store.WebhookEvent {
	whEventN++
	return store.WebhookEvent{
		ID: fmt.Sprintf("ev%06d", whEventN), App: app, Room: room, User: "alice", Type: typ, At: at,
		Data: json.RawMessage(`{"n":` + fmt.Sprint(whEventN) + `}`),
	}
}

func enqueue(t *testing.T, s store.Store, now time.Time, evs ...store.WebhookEvent) []store.WebhookEvent {
	t.Helper()
	out, err := s.EnqueueWebhookEvents(whCtx, evs, now)
	if err != nil {
		t.Fatalf("EnqueueWebhookEvents: %v", err)
	}
	if len(out) != len(evs) {
		t.Fatalf("EnqueueWebhookEvents returned %d events for %d", len(out), len(evs))
	}
	return out
}

// claim claims with one delivery per URL, none from the skip URLs.
func claim(t *testing.T, s store.Store, now time.Time, limit int, skip ...string) []store.WebhookAttempt {
	t.Helper()
	limits := map[string]int{}
	for _, u := range skip {
		limits[u] = 0
	}
	got, err := s.ClaimWebhookDeliveries(whCtx, store.WebhookClaim{Now: now, Limit: limit, Lease: time.Minute, PerURL: 1, URLLimits: limits})
	if err != nil {
		t.Fatalf("ClaimWebhookDeliveries: %v", err)
	}
	return got
}

func record(t *testing.T, s store.Store, a store.WebhookAttempt, o store.WebhookOutcome) {
	t.Helper()
	o.Attempt = a.Delivery.Attempts
	if err := s.RecordWebhookAttempt(whCtx, a.Delivery.ID, o); err != nil {
		t.Fatalf("RecordWebhookAttempt(%d): %v", a.Delivery.ID, err)
	}
}

func delivered(t *testing.T, s store.Store, a store.WebhookAttempt, at time.Time) {
	t.Helper()
	record(t, s, a, store.WebhookOutcome{At: at, Delivered: true, Status: 204})
}

// claimed renders attempts as "eventID>url" for compact expectations.
func claimed(as []store.WebhookAttempt) string {
	var out []string
	for _, a := range as {
		out = append(out, a.Delivery.Event.ID+">"+a.Delivery.URL)
	}
	return strings.Join(out, " ")
}

func wantClaimed(t *testing.T, got []store.WebhookAttempt, want ...string) {
	t.Helper()
	if g, w := claimed(got), strings.Join(want, " "); g != w {
		t.Fatalf("claimed %q, want %q", g, w)
	}
}

func counts(t *testing.T, s store.Store, app ids.AppID) store.WebhookCounts {
	t.Helper()
	c, err := s.CountWebhookDeliveries(whCtx, app)
	if err != nil {
		t.Fatalf("CountWebhookDeliveries: %v", err)
	}
	return c
}

func list(t *testing.T, s store.Store, q store.WebhookDeliveryQuery) []store.WebhookDelivery {
	t.Helper()
	got, err := s.ListWebhookDeliveries(whCtx, q)
	if err != nil {
		t.Fatalf("ListWebhookDeliveries(%+v): %v", q, err)
	}
	return got
}

const (
	urlA = "https://hooks.example.com/minirtc?k=1"
	urlB = "http://127.0.0.1:9000/hook"
	urlC = "https://other.example.org/x"
	urlD = "https://per-url.example.net/hook"
)

func testWebhookSettings(t *testing.T, s store.Store) {
	a := whApp(t, s)
	got, err := s.WebhookSettings(whCtx, a.ID)
	if err != nil {
		t.Fatalf("WebhookSettings: %v", err)
	}
	if got.App != a.ID || len(got.URLs) != 0 || got.Secret != "" || !got.UpdatedAt.IsZero() {
		t.Fatalf("settings never put = %+v, want no URLs, no secret, zero time", got)
	}
	if _, err := s.WebhookSettings(whCtx, "appnosuchapp"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("WebhookSettings(missing app) error = %v, want ErrNotFound", err)
	}
	if _, err := s.PutWebhookSettings(whCtx, store.WebhookSettings{App: "appnosuchapp", URLs: []string{urlA}}, base); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("PutWebhookSettings(missing app) error = %v, want ErrNotFound", err)
	}

	// No secret given: one is generated.
	p1 := putSettings(t, s, store.WebhookSettings{App: a.ID, URLs: []string{urlB, urlA}}, base)
	if len(p1.Secret) != 43 || !p1.UpdatedAt.Equal(base) || strings.Join(p1.URLs, " ") != urlB+" "+urlA {
		t.Fatalf("put returned %+v", p1)
	}
	got, _ = s.WebhookSettings(whCtx, a.ID)
	if got.Secret != p1.Secret || !got.UpdatedAt.Equal(base) || strings.Join(got.URLs, " ") != urlB+" "+urlA {
		t.Fatalf("stored %+v, want %+v (URLs in the order given)", got, p1)
	}
	// Again without a secret: the secret stays.
	p2 := putSettings(t, s, store.WebhookSettings{App: a.ID, URLs: []string{urlA}}, base.Add(time.Second))
	if p2.Secret != p1.Secret || len(p2.URLs) != 1 {
		t.Fatalf("second put = %+v, want the first secret kept", p2)
	}
	// A given secret replaces it; removing every URL keeps it too.
	p3 := putSettings(t, s, store.WebhookSettings{App: a.ID, URLs: []string{urlA}, Secret: "my-own-secret-0123456789"}, base.Add(2*time.Second))
	p4 := putSettings(t, s, store.WebhookSettings{App: a.ID}, base.Add(3*time.Second))
	got, _ = s.WebhookSettings(whCtx, a.ID)
	if p3.Secret != "my-own-secret-0123456789" || p4.Secret != p3.Secret || got.Secret != p3.Secret || len(got.URLs) != 0 ||
		!got.UpdatedAt.Equal(base.Add(3*time.Second)) {
		t.Fatalf("after setting a secret and removing URLs: %+v", got)
	}
}

func testWebhookSettingsInvalid(t *testing.T, s store.Store) {
	a := whApp(t, s, urlA)
	six := []string{"http://h/1", "http://h/2", "http://h/3", "http://h/4", "http://h/5", "http://h/6"}
	for _, ws := range []store.WebhookSettings{
		{App: "bad app", URLs: []string{urlA}},
		{App: a.ID, URLs: six},
		{App: a.ID, URLs: []string{"ftp://h/x"}},
		{App: a.ID, URLs: []string{"/relative"}},
		{App: a.ID, URLs: []string{"http://"}},
		{App: a.ID, URLs: []string{""}},
		{App: a.ID, URLs: []string{"http://user:pw@h/x"}},
		{App: a.ID, URLs: []string{"http://h/x#frag"}},
		{App: a.ID, URLs: []string{"http://h/a b"}},
		{App: a.ID, URLs: []string{"http://h/\x01"}},
		{App: a.ID, URLs: []string{"http://h/" + strings.Repeat("x", store.MaxWebhookURLLen)}},
		{App: a.ID, URLs: []string{urlA, urlA}},
		{App: a.ID, URLs: []string{urlA}, Secret: "short"},
		{App: a.ID, URLs: []string{urlA}, Secret: "has a space in the middle"},
		{App: a.ID, URLs: []string{urlA}, Secret: strings.Repeat("é", 20)},
		{App: a.ID, URLs: []string{urlA}, Secret: strings.Repeat("x", store.MaxWebhookSecretLen+1)},
	} {
		if _, err := s.PutWebhookSettings(whCtx, ws, base); err == nil {
			t.Errorf("PutWebhookSettings(%q, secret %q) succeeded, want an error", ws.URLs, ws.Secret)
		}
	}
	got, _ := s.WebhookSettings(whCtx, a.ID)
	if strings.Join(got.URLs, " ") != urlA {
		t.Fatalf("a refused put changed the settings: %+v", got)
	}
	// The limits themselves are fine.
	five := six[:5]
	if _, err := s.PutWebhookSettings(whCtx, store.WebhookSettings{App: a.ID, URLs: five, Secret: strings.Repeat("x", store.MaxWebhookSecretLen)}, base); err != nil {
		t.Fatalf("five URLs and a %d-byte secret: %v", store.MaxWebhookSecretLen, err)
	}
}

func testWebhookEnqueue(t *testing.T, s store.Store) {
	a := whApp(t, s, urlA, urlB)
	quiet := whApp(t, s) // no URLs
	now := base.Add(time.Minute)
	out := enqueue(t, s, now,
		ev(a.ID, "r1", "room_created", base), ev(a.ID, "r1", "user_joined", base), ev(a.ID, "r2", "user_joined", base),
		ev(quiet.ID, "r1", "user_joined", base), ev("appnosuchapp", "r1", "user_joined", base),
		ev(a.ID, "r1", "user_left", base.Add(time.Second)),
	)
	var seqs []string
	for _, e := range out {
		seqs = append(seqs, fmt.Sprint(e.Seq))
	}
	if got := strings.Join(seqs, " "); got != "1 2 1 0 0 3" {
		t.Fatalf("sequence numbers %s, want 1 2 1 0 0 3 (per room; 0 for apps without URLs or missing)", got)
	}
	if c := counts(t, s, a.ID); c != (store.WebhookCounts{Pending: 8}) {
		t.Fatalf("counts = %+v, want 8 pending (4 events x 2 URLs)", c)
	}
	if c := counts(t, s, quiet.ID); c != (store.WebhookCounts{}) {
		t.Fatalf("app without URLs has deliveries: %+v", c)
	}
	// A later batch (and a room re-created under the same name) continues.
	more := enqueue(t, s, now, ev(a.ID, "r2", "room_destroyed", base), ev(a.ID, "r1", "user_joined", base))
	if more[0].Seq != 2 || more[1].Seq != 4 {
		t.Fatalf("later sequence numbers %d %d, want 2 4", more[0].Seq, more[1].Seq)
	}
	// Every stored field comes back.
	ds := list(t, s, store.WebhookDeliveryQuery{App: a.ID, Room: "r1", Type: "user_left"})
	if len(ds) != 2 {
		t.Fatalf("listed %d user_left deliveries, want 2", len(ds))
	}
	want := out[5]
	for _, d := range ds {
		e := d.Event
		if e.ID != want.ID || e.App != a.ID || e.Room != "r1" || e.User != "alice" || e.Type != "user_left" || e.Seq != 3 ||
			!e.At.Equal(want.At) || string(e.Data) != string(want.Data) {
			t.Fatalf("stored event %+v, want %+v", e, want)
		}
		if d.State != store.WebhookPending || d.Attempts != 0 || !d.CreatedAt.Equal(now) || !d.NextAttemptAt.Equal(now) ||
			!d.LastAttemptAt.IsZero() || d.LastStatus != 0 || d.LastError != "" || !d.DoneAt.IsZero() {
			t.Fatalf("new delivery %+v", d)
		}
	}
	if ds[0].URL == ds[1].URL || ds[0].ID <= ds[1].ID {
		t.Fatalf("deliveries %d %s and %d %s: want one per URL, newest first", ds[0].ID, ds[0].URL, ds[1].ID, ds[1].URL)
	}
	// Empty data is stored as {}; no user is fine for room events.
	e := ev(a.ID, "r3", "room_created", base)
	e.User, e.Data = "", nil
	enqueue(t, s, now, e)
	ds = list(t, s, store.WebhookDeliveryQuery{App: a.ID, Room: "r3", Limit: 1})
	if len(ds) != 1 || string(ds[0].Event.Data) != "{}" || ds[0].Event.User != "" {
		t.Fatalf("room event stored as %+v", ds)
	}
}

func testWebhookEnqueueIdempotent(t *testing.T, s store.Store) {
	a := whApp(t, s, urlA)
	first := enqueue(t, s, base, ev(a.ID, "r1", "user_joined", base), ev(a.ID, "r1", "user_left", base))
	// The same events again, with a new one between: the old ones keep their
	// numbers and get no second delivery.
	again := enqueue(t, s, base, first[0], ev(a.ID, "r1", "user_joined", base), first[1])
	if again[0].Seq != 1 || again[1].Seq != 3 || again[2].Seq != 2 {
		t.Fatalf("re-enqueued seqs %d %d %d, want 1 3 2", again[0].Seq, again[1].Seq, again[2].Seq)
	}
	if c := counts(t, s, a.ID); c.Pending != 3 {
		t.Fatalf("pending = %d, want 3", c.Pending)
	}
	// One invalid event fails the whole batch: nothing stored, no number used.
	bad := ev(a.ID, "r1", "user_joined", base)
	bad.Data = json.RawMessage(`[1]`)
	if _, err := s.EnqueueWebhookEvents(whCtx, []store.WebhookEvent{ev(a.ID, "r1", "user_left", base), bad}, base); err == nil {
		t.Fatal("a batch with an invalid event was accepted")
	}
	if c := counts(t, s, a.ID); c.Pending != 3 {
		t.Fatalf("pending after a refused batch = %d, want 3", c.Pending)
	}
	if next := enqueue(t, s, base, ev(a.ID, "r1", "user_left", base)); next[0].Seq != 4 {
		t.Fatalf("seq after a refused batch = %d, want 4", next[0].Seq)
	}
	if out, err := s.EnqueueWebhookEvents(whCtx, nil, base); err != nil || len(out) != 0 {
		t.Fatalf("empty batch: %v, %v", out, err)
	}
}

func testWebhookEnqueueInvalid(t *testing.T, s store.Store) {
	a := whApp(t, s, urlA)
	mod := func(f func(e *store.WebhookEvent)) store.WebhookEvent {
		e := ev(a.ID, "r1", "user_joined", base)
		f(&e)
		return e
	}
	for i, e := range []store.WebhookEvent{
		mod(func(e *store.WebhookEvent) { e.ID = "" }),
		mod(func(e *store.WebhookEvent) { e.ID = "has space" }),
		mod(func(e *store.WebhookEvent) { e.ID = strings.Repeat("x", store.MaxWebhookEventIDLen+1) }),
		mod(func(e *store.WebhookEvent) { e.App = "" }),
		mod(func(e *store.WebhookEvent) { e.Room = "a/b" }),
		mod(func(e *store.WebhookEvent) { e.User = "bad user" }),
		mod(func(e *store.WebhookEvent) { e.Type = "" }),
		mod(func(e *store.WebhookEvent) { e.Type = "UserJoined" }),
		mod(func(e *store.WebhookEvent) { e.Type = strings.Repeat("x", store.MaxWebhookTypeLen+1) }),
		mod(func(e *store.WebhookEvent) { e.At = time.Time{} }),
		mod(func(e *store.WebhookEvent) { e.Data = json.RawMessage(`"text"`) }),
		mod(func(e *store.WebhookEvent) { e.Data = json.RawMessage(`{"a":`) }),
		mod(func(e *store.WebhookEvent) {
			e.Data = json.RawMessage(`{"a":"` + strings.Repeat("x", store.MaxWebhookDataLen) + `"}`)
		}),
	} {
		if _, err := s.EnqueueWebhookEvents(whCtx, []store.WebhookEvent{e}, base); err == nil {
			t.Errorf("case %d: invalid event %+v accepted", i, e)
		}
	}
	if c := counts(t, s, a.ID); c != (store.WebhookCounts{}) {
		t.Fatalf("refused events left deliveries: %+v", c)
	}
}
