package storetest

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/minirtc/minirtc/internal/store"
	"github.com/minirtc/minirtc/pkg/ids"
)

func testWebhookClaimHeads(t *testing.T, s store.Store) {
	a := whApp(t, s, urlA, urlB)
	now := base.Add(time.Minute)
	evs := enqueue(t, s, now, ev(a.ID, "r1", "user_joined", base), ev(a.ID, "r1", "user_left", base))
	e1, e2 := evs[0].ID, evs[1].ID

	if got := claim(t, s, now.Add(-time.Millisecond), 10); len(got) != 0 {
		t.Fatalf("claimed %q before anything was due", claimed(got))
	}
	// One delivery per URL per call, and only the head of each queue.
	got := claim(t, s, now, 10)
	wantClaimed(t, got, e1+">"+urlA, e1+">"+urlB)
	settings, _ := s.WebhookSettings(whCtx, a.ID)
	for _, at := range got {
		d := at.Delivery
		if at.Secret != settings.Secret || d.Attempts != 1 || !d.LastAttemptAt.Equal(now) || !d.NextAttemptAt.Equal(now.Add(time.Minute)) ||
			d.State != store.WebhookPending || d.Event.Seq != 1 || d.Event.Type != "user_joined" {
			t.Fatalf("claimed attempt %+v (secret %q)", d, at.Secret)
		}
	}
	// e2 waits behind e1 in both queues, even though it is due.
	wantClaimed(t, claim(t, s, now.Add(time.Second), 10))
	// Delivering e1 to A frees e2 to A only.
	delivered(t, s, got[0], now.Add(time.Second))
	wantClaimed(t, claim(t, s, now.Add(time.Second), 10), e2+">"+urlA)
	delivered(t, s, got[1], now.Add(time.Second))
	wantClaimed(t, claim(t, s, now.Add(time.Second), 10), e2+">"+urlB)
	if c := counts(t, s, a.ID); c != (store.WebhookCounts{Pending: 2, Delivered: 2}) {
		t.Fatalf("counts = %+v", c)
	}
	ds := list(t, s, store.WebhookDeliveryQuery{App: a.ID, State: store.WebhookDelivered})
	for _, d := range ds {
		if d.LastStatus != 204 || !d.DoneAt.Equal(now.Add(time.Second)) || !d.NextAttemptAt.IsZero() || d.LastError != "" {
			t.Fatalf("delivered delivery %+v", d)
		}
	}
	if _, err := s.ClaimWebhookDeliveries(whCtx, store.WebhookClaim{Now: now, Limit: 0, Lease: time.Second, PerURL: 1}); err == nil {
		t.Error("claim with limit 0 accepted")
	}
	if _, err := s.ClaimWebhookDeliveries(whCtx, store.WebhookClaim{Now: now, Limit: 1, PerURL: 1}); err == nil {
		t.Error("claim without a lease accepted")
	}
	if _, err := s.ClaimWebhookDeliveries(whCtx, store.WebhookClaim{Limit: 1, Lease: time.Second, PerURL: 1}); err == nil {
		t.Error("claim without a time accepted")
	}
	if err := s.RecordWebhookAttempt(whCtx, 1<<40, store.WebhookOutcome{At: now, Attempt: 1, Delivered: true}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("RecordWebhookAttempt(missing) = %v, want ErrNotFound", err)
	}
}

func testWebhookClaimOrder(t *testing.T, s store.Store) {
	a := whApp(t, s, urlA, urlB)
	b := whApp(t, s, urlC)
	// Enqueued at different times: claims prefer the earliest due.
	t1, t2, t3 := base, base.Add(time.Second), base.Add(2*time.Second)
	x := enqueue(t, s, t1, ev(a.ID, "r1", "user_joined", base))[0].ID
	y := enqueue(t, s, t2, ev(b.ID, "r9", "user_joined", base))[0].ID
	z := enqueue(t, s, t3, ev(a.ID, "r2", "user_joined", base))[0].ID
	now := base.Add(time.Minute)
	// Limit 2 of the 3 URLs' earliest: x>A and x>B are due first; y>C next.
	wantClaimed(t, claim(t, s, now, 2), x+">"+urlA, x+">"+urlB)
	// Room r2 is a queue of its own: z is not held up by x.
	wantClaimed(t, claim(t, s, now, 10), y+">"+urlC, z+">"+urlA, z+">"+urlB)

	// A URL limit of 0 leaves that URL alone.
	w := enqueue(t, s, now, ev(a.ID, "r3", "user_joined", base), ev(b.ID, "r3", "user_joined", base))
	wantClaimed(t, claim(t, s, now, 10, urlA, urlC), w[0].ID+">"+urlB)
	wantClaimed(t, claim(t, s, now, 10, urlB), w[0].ID+">"+urlA, w[1].ID+">"+urlC)

	// PerURL takes several heads (of different rooms) of one URL;
	// URLLimits overrides it per URL.
	p := whApp(t, s, urlD)
	later := now.Add(time.Second)
	var q []string
	for _, r := range []ids.RoomID{"q1", "q2", "q3", "q4"} {
		q = append(q, enqueue(t, s, later, ev(p.ID, r, "user_joined", base), ev(p.ID, r, "user_left", base))[0].ID)
	}
	got, err := s.ClaimWebhookDeliveries(whCtx, store.WebhookClaim{Now: later, Limit: 10, Lease: time.Minute, PerURL: 2})
	if err != nil {
		t.Fatal(err)
	}
	wantClaimed(t, got, q[0]+">"+urlD, q[1]+">"+urlD)
	got, err = s.ClaimWebhookDeliveries(whCtx, store.WebhookClaim{Now: later, Limit: 10, Lease: time.Minute, PerURL: 1,
		URLLimits: map[string]int{urlD: 5, urlA: 0}})
	if err != nil {
		t.Fatal(err)
	}
	wantClaimed(t, got, q[2]+">"+urlD, q[3]+">"+urlD) // only heads: the rooms' second events wait
	for _, bad := range []store.WebhookClaim{
		{Now: later, Limit: 1, Lease: time.Minute},
		{Now: later, Limit: 1, Lease: time.Minute, PerURL: 1, URLLimits: map[string]int{urlA: -1}},
	} {
		if _, err := s.ClaimWebhookDeliveries(whCtx, bad); err == nil {
			t.Errorf("claim %+v accepted", bad)
		}
	}
}

func testWebhookLease(t *testing.T, s store.Store) {
	a := whApp(t, s, urlA)
	id := enqueue(t, s, base, ev(a.ID, "r1", "user_joined", base))[0].ID
	first := claim(t, s, base, 1) // lease: one minute
	wantClaimed(t, first, id+">"+urlA)
	wantClaimed(t, claim(t, s, base.Add(time.Minute-time.Millisecond), 1))
	// The claimer went silent: at the end of the lease the delivery is due again.
	second := claim(t, s, base.Add(time.Minute), 1)
	wantClaimed(t, second, id+">"+urlA)
	if second[0].Delivery.Attempts != 2 {
		t.Fatalf("attempts after a second claim = %d, want 2", second[0].Delivery.Attempts)
	}
	// The first claimer's late outcome is stale and changes nothing.
	record(t, s, first[0], store.WebhookOutcome{At: base.Add(time.Minute), Status: 500, Error: "late"})
	ds := list(t, s, store.WebhookDeliveryQuery{App: a.ID})
	if ds[0].State != store.WebhookPending || ds[0].LastError != "" || !ds[0].NextAttemptAt.Equal(base.Add(2*time.Minute)) {
		t.Fatalf("a stale outcome changed the delivery: %+v", ds[0])
	}
	delivered(t, s, second[0], base.Add(time.Minute))
	// Recording again after it is done changes nothing either.
	record(t, s, second[0], store.WebhookOutcome{At: base.Add(2 * time.Minute), Status: 500, Error: "again"})
	ds = list(t, s, store.WebhookDeliveryQuery{App: a.ID})
	if ds[0].State != store.WebhookDelivered || ds[0].Attempts != 2 || ds[0].LastError != "" {
		t.Fatalf("after delivery: %+v", ds[0])
	}
}

func testWebhookRetry(t *testing.T, s store.Store) {
	a := whApp(t, s, urlA)
	id := enqueue(t, s, base, ev(a.ID, "r1", "user_joined", base))[0].ID
	at := claim(t, s, base, 1)
	wantClaimed(t, at, id+">"+urlA)
	long := strings.Repeat("é", store.MaxWebhookErrorLen) // 2 bytes each
	retry := base.Add(10 * time.Second)
	record(t, s, at[0], store.WebhookOutcome{At: base.Add(time.Second), Status: 503, Error: long, NextAttemptAt: retry})
	ds := list(t, s, store.WebhookDeliveryQuery{App: a.ID})
	d := ds[0]
	if d.State != store.WebhookPending || d.LastStatus != 503 || !d.NextAttemptAt.Equal(retry) || !d.DoneAt.IsZero() || d.Attempts != 1 {
		t.Fatalf("after a failed attempt: %+v", d)
	}
	if len(d.LastError) > store.MaxWebhookErrorLen || len(d.LastError) < store.MaxWebhookErrorLen-1 || !strings.HasPrefix(long, d.LastError) {
		t.Fatalf("last error kept %d bytes (%q...), want the first %d bytes at a character boundary", len(d.LastError), d.LastError[:8], store.MaxWebhookErrorLen)
	}
	wantClaimed(t, claim(t, s, retry.Add(-time.Millisecond), 1))
	again := claim(t, s, retry, 1)
	wantClaimed(t, again, id+">"+urlA)
	// A failure without an answer (status 0) is recorded as such.
	record(t, s, again[0], store.WebhookOutcome{At: retry, Error: "connection refused", NextAttemptAt: retry.Add(time.Second)})
	third := claim(t, s, retry.Add(time.Second), 1)
	wantClaimed(t, third, id+">"+urlA)
	if third[0].Delivery.LastStatus != 0 || third[0].Delivery.LastError != "connection refused" || third[0].Delivery.Attempts != 3 {
		t.Fatalf("third attempt claimed as %+v", third[0].Delivery)
	}
	delivered(t, s, third[0], retry.Add(2*time.Second))
	if c := counts(t, s, a.ID); c != (store.WebhookCounts{Delivered: 1}) {
		t.Fatalf("counts = %+v", c)
	}
}

func testWebhookGiveUp(t *testing.T, s store.Store) {
	a := whApp(t, s, urlA)
	evs := enqueue(t, s, base, ev(a.ID, "r1", "user_joined", base), ev(a.ID, "r1", "user_left", base))
	at := claim(t, s, base, 1)
	wantClaimed(t, at, evs[0].ID+">"+urlA)
	giveUp := base.Add(24 * time.Hour)
	record(t, s, at[0], store.WebhookOutcome{At: giveUp, Status: 500, Error: "HTTP 500"})
	ds := list(t, s, store.WebhookDeliveryQuery{App: a.ID, State: store.WebhookFailed})
	if len(ds) != 1 || ds[0].Event.ID != evs[0].ID || !ds[0].DoneAt.Equal(giveUp) || !ds[0].NextAttemptAt.IsZero() ||
		ds[0].LastStatus != 500 || ds[0].LastError != "HTTP 500" {
		t.Fatalf("given-up deliveries: %+v", ds)
	}
	// The next event of the queue goes on (due since its enqueue time).
	wantClaimed(t, claim(t, s, giveUp, 1), evs[1].ID+">"+urlA)
}

func testWebhookURLRemoved(t *testing.T, s store.Store) {
	a := whApp(t, s, urlA, urlB)
	e := enqueue(t, s, base, ev(a.ID, "r1", "user_joined", base), ev(a.ID, "r1", "user_left", base))
	got := claim(t, s, base, 10)
	wantClaimed(t, got, e[0].ID+">"+urlA, e[0].ID+">"+urlB)
	delivered(t, s, got[0], base)
	removedAt := base.Add(time.Second)
	putSettings(t, s, store.WebhookSettings{App: a.ID, URLs: []string{urlA, urlC}}, removedAt)
	failed := list(t, s, store.WebhookDeliveryQuery{App: a.ID, State: store.WebhookFailed})
	if len(failed) != 2 {
		t.Fatalf("failed deliveries after removing a URL: %d, want 2 (both to B)", len(failed))
	}
	for _, d := range failed {
		if d.URL != urlB || d.LastError != store.ErrWebhookURLRemoved || !d.DoneAt.Equal(removedAt) {
			t.Fatalf("delivery to the removed URL: %+v", d)
		}
	}
	// A keeps going; the new URL C gets only events enqueued after it was added.
	wantClaimed(t, claim(t, s, removedAt, 10), e[1].ID+">"+urlA)
	n := enqueue(t, s, removedAt, ev(a.ID, "r1", "user_joined", base))[0]
	if n.Seq != 3 {
		t.Fatalf("seq after changing URLs = %d, want 3", n.Seq)
	}
	wantClaimed(t, claim(t, s, removedAt, 10), n.ID+">"+urlC)
	if c := counts(t, s, a.ID); c != (store.WebhookCounts{Pending: 3, Delivered: 1, Failed: 2}) {
		t.Fatalf("counts = %+v", c)
	}
}

func testWebhookList(t *testing.T, s store.Store) {
	a := whApp(t, s, urlA, urlB)
	var all []store.WebhookEvent
	for _, r := range []string{"r1", "r2", "r1", "r2", "r1"} {
		all = append(all, enqueue(t, s, base, ev(a.ID, ids.RoomID(r), "user_joined", base))...)
	}
	all = append(all, enqueue(t, s, base, ev(a.ID, "r1", "user_left", base))...)
	// Deliver r1's first event to A.
	got := claim(t, s, base, 10, urlB)
	wantClaimed(t, got, all[0].ID+">"+urlA)
	delivered(t, s, got[0], base)

	ds := list(t, s, store.WebhookDeliveryQuery{App: a.ID})
	if len(ds) != 12 {
		t.Fatalf("listed %d, want 12", len(ds))
	}
	for i := 1; i < len(ds); i++ {
		if ds[i].ID >= ds[i-1].ID {
			t.Fatalf("not newest first: %d after %d", ds[i].ID, ds[i-1].ID)
		}
	}
	check := func(q store.WebhookDeliveryQuery, want int, ok func(store.WebhookDelivery) bool) {
		t.Helper()
		q.App = a.ID
		got := list(t, s, q)
		if len(got) != want {
			t.Fatalf("query %+v listed %d, want %d", q, len(got), want)
		}
		for _, d := range got {
			if !ok(d) {
				t.Fatalf("query %+v listed %+v", q, d)
			}
		}
	}
	check(store.WebhookDeliveryQuery{Room: "r1"}, 8, func(d store.WebhookDelivery) bool { return d.Event.Room == "r1" })
	check(store.WebhookDeliveryQuery{URL: urlB}, 6, func(d store.WebhookDelivery) bool { return d.URL == urlB })
	check(store.WebhookDeliveryQuery{Type: "user_left"}, 2, func(d store.WebhookDelivery) bool { return d.Event.Type == "user_left" })
	check(store.WebhookDeliveryQuery{State: store.WebhookDelivered}, 1, func(d store.WebhookDelivery) bool { return d.Event.ID == all[0].ID })
	check(store.WebhookDeliveryQuery{State: store.WebhookPending, Room: "r2", URL: urlA}, 2, func(d store.WebhookDelivery) bool {
		return d.Event.Room == "r2" && d.URL == urlA && d.State == store.WebhookPending
	})
	check(store.WebhookDeliveryQuery{Room: "nosuchroom"}, 0, nil)
	// Paging with BeforeID walks the whole list without repeats.
	var seen []int64
	for before := int64(0); ; {
		page := list(t, s, store.WebhookDeliveryQuery{App: a.ID, Limit: 5, BeforeID: before})
		for _, d := range page {
			seen = append(seen, d.ID)
		}
		if len(page) < 5 {
			break
		}
		before = page[len(page)-1].ID
	}
	if len(seen) != 12 {
		t.Fatalf("paging saw %d deliveries, want 12", len(seen))
	}
	for i := range seen {
		if seen[i] != ds[i].ID {
			t.Fatalf("paging order differs at %d", i)
		}
	}
	if c := counts(t, s, a.ID); c != (store.WebhookCounts{Pending: 11, Delivered: 1}) {
		t.Fatalf("counts = %+v", c)
	}
	if c := counts(t, s, "appnosuchapp"); c != (store.WebhookCounts{}) {
		t.Fatalf("counts of a missing app = %+v", c)
	}
	for _, q := range []store.WebhookDeliveryQuery{
		{App: ""}, {App: a.ID, Room: "bad room"}, {App: a.ID, State: "lost"}, {App: a.ID, BeforeID: -1},
	} {
		if _, err := s.ListWebhookDeliveries(whCtx, q); err == nil {
			t.Errorf("query %+v accepted", q)
		}
	}
	if q := (store.WebhookDeliveryQuery{Limit: 1 << 20}); q.EffectiveLimit() != store.MaxWebhookDeliveryLimit {
		t.Error("limit not capped")
	}
}

func testWebhookPurge(t *testing.T, s store.Store) {
	// Purges see every app: first clear what earlier cases finished (their
	// cleanups finish everything at base+1000h), then count exactly with
	// times after that.
	t0 := base.Add(2000 * time.Hour)
	if _, err := s.PurgeWebhookDeliveries(whCtx, t0); err != nil {
		t.Fatalf("purge: %v", err)
	}
	a := whApp(t, s, urlA)
	evs := enqueue(t, s, base, ev(a.ID, "r1", "user_joined", base), ev(a.ID, "r1", "user_left", base), ev(a.ID, "r2", "user_joined", base))
	got := claim(t, s, base, 10)
	wantClaimed(t, got, evs[0].ID+">"+urlA) // one per URL
	delivered(t, s, got[0], t0.Add(time.Hour))
	got = claim(t, s, base, 10)
	wantClaimed(t, got, evs[1].ID+">"+urlA)
	record(t, s, got[0], store.WebhookOutcome{At: t0.Add(3 * time.Hour), Error: "gave up"})
	// evs[2] (room r2) stays pending.
	n, err := s.PurgeWebhookDeliveries(whCtx, t0.Add(time.Hour)) // strictly before
	if err != nil || n != 0 {
		t.Fatalf("purge before the delivery time = %d, %v; want 0", n, err)
	}
	n, err = s.PurgeWebhookDeliveries(whCtx, t0.Add(2*time.Hour))
	if err != nil || n != 1 {
		t.Fatalf("purge before +2h = %d, %v; want 1 (the delivered one)", n, err)
	}
	if c := counts(t, s, a.ID); c != (store.WebhookCounts{Pending: 1, Failed: 1}) {
		t.Fatalf("counts after purge = %+v", c)
	}
	n, err = s.PurgeWebhookDeliveries(whCtx, t0.Add(100*time.Hour))
	if err != nil || n != 1 {
		t.Fatalf("second purge = %d, %v; want 1 (the failed one; never the pending one)", n, err)
	}
	ds := list(t, s, store.WebhookDeliveryQuery{App: a.ID})
	if len(ds) != 1 || ds[0].Event.ID != evs[2].ID || ds[0].State != store.WebhookPending {
		t.Fatalf("left after purges: %+v", ds)
	}
	// A purged event is gone (its id can be enqueued anew), but room
	// numbering goes on.
	again := enqueue(t, s, base, evs[0], ev(a.ID, "r2", "room_destroyed", base))
	if again[0].Seq != 3 || again[1].Seq != 2 {
		t.Fatalf("seqs after purge = %d %d, want 3 2", again[0].Seq, again[1].Seq)
	}
}

func testWebhookIsolation(t *testing.T, s store.Store) {
	a := whApp(t, s, urlA)
	b := whApp(t, s, urlA)
	ea := enqueue(t, s, base, ev(a.ID, "r1", "user_joined", base))[0]
	eb := enqueue(t, s, base, ev(b.ID, "r1", "user_joined", base))[0]
	if ea.Seq != 1 || eb.Seq != 1 {
		t.Fatalf("same room name in two apps numbered %d and %d, want 1 and 1", ea.Seq, eb.Seq)
	}
	for _, app := range []store.App{a, b} {
		ds := list(t, s, store.WebhookDeliveryQuery{App: app.ID})
		if len(ds) != 1 || ds[0].Event.App != app.ID {
			t.Fatalf("app %s lists %+v", app.ID, ds)
		}
	}
	// Same URL and room name, different apps: different queues, and each
	// attempt carries its own app's secret.
	got := claim(t, s, base, 10)
	wantClaimed(t, got, ea.ID+">"+urlA)
	got = append(got, claim(t, s, base, 10)...)
	wantClaimed(t, got, ea.ID+">"+urlA, eb.ID+">"+urlA)
	sa, _ := s.WebhookSettings(whCtx, a.ID)
	sb, _ := s.WebhookSettings(whCtx, b.ID)
	if got[0].Secret != sa.Secret || got[1].Secret != sb.Secret || sa.Secret == sb.Secret {
		t.Fatal("attempts do not carry their own app's secret")
	}
}
