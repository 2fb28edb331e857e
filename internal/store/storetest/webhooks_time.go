package storetest

import (
	"testing"
	"time"

	"github.com/minirtc/minirtc/internal/store"
	"github.com/minirtc/minirtc/pkg/ids"
)

// testWebhookListByTime checks the time filter of ListWebhookDeliveries: it
// selects by the event's time (At), [From, To), at millisecond precision,
// and combines with the other filters and with paging.
func testWebhookListByTime(t *testing.T, s store.Store) {
	a := whApp(t, s, urlA)
	// Events 0..4 happen 10 s apart; they are enqueued later and out of
	// time order, so that enqueue time (CreatedAt) and ID order cannot
	// stand in for the event time.
	at := func(i int) time.Time { return base.Add(time.Duration(i) * 10 * time.Second) }
	enqueueAt := base.Add(time.Hour)
	var evs [5]store.WebhookEvent
	for _, i := range []int{3, 0, 4, 1, 2} {
		room := "r1"
		if i%2 == 1 {
			room = "r2"
		}
		evs[i] = enqueue(t, s, enqueueAt, ev(a.ID, ids.RoomID(room), "user_joined", at(i)))[0]
	}
	eventIDs := func(ds []store.WebhookDelivery) map[string]bool {
		m := map[string]bool{}
		for _, d := range ds {
			m[d.Event.ID] = true
		}
		return m
	}
	check := func(q store.WebhookDeliveryQuery, want ...int) {
		t.Helper()
		q.App = a.ID
		got := eventIDs(list(t, s, q))
		if len(got) != len(want) {
			t.Fatalf("query from %v to %v room %q: %d deliveries %v, want events %v", q.From, q.To, q.Room, len(got), got, want)
		}
		for _, i := range want {
			if !got[evs[i].ID] {
				t.Fatalf("query from %v to %v room %q: event %d missing from %v", q.From, q.To, q.Room, i, got)
			}
		}
	}
	check(store.WebhookDeliveryQuery{}, 0, 1, 2, 3, 4)
	// From is inclusive, To exclusive.
	check(store.WebhookDeliveryQuery{From: at(1)}, 1, 2, 3, 4)
	check(store.WebhookDeliveryQuery{To: at(3)}, 0, 1, 2)
	check(store.WebhookDeliveryQuery{From: at(1), To: at(3)}, 1, 2)
	// Millisecond precision: one millisecond either side.
	check(store.WebhookDeliveryQuery{From: at(1).Add(time.Millisecond), To: at(3).Add(time.Millisecond)}, 2, 3)
	check(store.WebhookDeliveryQuery{From: at(2), To: at(2).Add(time.Millisecond)}, 2)
	check(store.WebhookDeliveryQuery{From: at(4).Add(time.Millisecond)})
	// Combined with a room filter.
	check(store.WebhookDeliveryQuery{Room: "r2", From: at(1)}, 1, 3)
	// Enqueue time plays no part.
	check(store.WebhookDeliveryQuery{From: enqueueAt})
	// Paging inside a time window walks exactly the window.
	var seen []string
	for before := int64(0); ; {
		page := list(t, s, store.WebhookDeliveryQuery{App: a.ID, From: at(1), To: at(4), Limit: 2, BeforeID: before})
		for _, d := range page {
			seen = append(seen, d.Event.ID)
		}
		if len(page) < 2 {
			break
		}
		before = page[len(page)-1].ID
	}
	if len(seen) != 3 {
		t.Fatalf("paging in [at(1), at(4)) saw %v, want events 1, 2 and 3", seen)
	}
	// An empty or reversed window is refused, not answered with nothing.
	for _, q := range []store.WebhookDeliveryQuery{
		{App: a.ID, From: at(2), To: at(2)},
		{App: a.ID, From: at(3), To: at(1)},
	} {
		if _, err := s.ListWebhookDeliveries(whCtx, q); err == nil {
			t.Errorf("query from %v to %v accepted", q.From, q.To)
		}
	}
}
