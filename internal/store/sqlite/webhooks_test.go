package sqlite

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/minirtc/minirtc/internal/store"
	"github.com/minirtc/minirtc/pkg/ids"
)

// TestWebhookSequencesSurviveReopen: numbering and pending deliveries are in
// the file, so a restarted server continues them.
func TestWebhookSequencesSurviveReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "m.db")
	d := openTemp(t, path)
	a, err := d.CreateApp(ctx, "hooks")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.PutWebhookSettings(ctx, store.WebhookSettings{App: a.ID, URLs: []string{"http://127.0.0.1:1/h"}}, time.Now()); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	ev := func(id string) store.WebhookEvent {
		return store.WebhookEvent{ID: id, App: a.ID, Room: "r1", Type: "user_joined", At: now}
	}
	if _, err := d.EnqueueWebhookEvents(ctx, []store.WebhookEvent{ev("e1"), ev("e2")}, now); err != nil {
		t.Fatal(err)
	}
	d.Close()
	d = openTemp(t, path)
	defer d.Close()
	out, err := d.EnqueueWebhookEvents(ctx, []store.WebhookEvent{ev("e3")}, now)
	if err != nil || out[0].Seq != 3 {
		t.Fatalf("after reopen: seq %v, %v; want 3", out, err)
	}
	if c, _ := d.CountWebhookDeliveries(ctx, a.ID); c.Pending != 3 {
		t.Fatalf("pending after reopen = %d, want 3", c.Pending)
	}
}

// TestWebhookClaimsFromTwoProcesses: two handles on one file (as two
// processes would have) claiming at the same time never take the same
// delivery, nor two deliveries of one queue.
func TestWebhookClaimsFromTwoProcesses(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "m.db")
	d1, d2 := openTemp(t, path), openTemp(t, path)
	defer d1.Close()
	defer d2.Close()
	a, err := d1.CreateApp(ctx, "hooks")
	if err != nil {
		t.Fatal(err)
	}
	var urls []string
	for i := range store.MaxWebhookURLs {
		urls = append(urls, fmt.Sprintf("http://127.0.0.1:1/h%d", i))
	}
	if _, err := d1.PutWebhookSettings(ctx, store.WebhookSettings{App: a.ID, URLs: urls}, time.Now()); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	var evs []store.WebhookEvent
	const rooms, perRoom = 8, 5
	for r := range rooms {
		for i := range perRoom {
			evs = append(evs, store.WebhookEvent{ID: fmt.Sprintf("e%d_%d", r, i), App: a.ID, Room: ids.RoomID(fmt.Sprint("r", r)), Type: "user_joined", At: now})
		}
	}
	if _, err := d1.EnqueueWebhookEvents(ctx, evs, now); err != nil {
		t.Fatal(err)
	}
	total := len(evs) * len(urls)

	var (
		mu       sync.Mutex
		seen     = map[int64]bool{}
		inFlight = map[string]bool{} // queue -> an attempt is running
		lastSeq  = map[string]int64{}
		errs     []string
	)
	var wg sync.WaitGroup
	for w, db := range []*DB{d1, d2, d1, d2} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for idle := 0; idle < 50; {
				got, err := db.ClaimWebhookDeliveries(ctx, store.WebhookClaim{Now: time.Now(), Limit: 3, Lease: time.Hour, PerURL: 2})
				if err != nil {
					mu.Lock()
					errs = append(errs, fmt.Sprintf("worker %d: claim: %v", w, err))
					mu.Unlock()
					return
				}
				if len(got) == 0 {
					idle++
					time.Sleep(2 * time.Millisecond)
					continue
				}
				idle = 0
				for _, at := range got {
					d := at.Delivery
					q := string(d.Event.Room) + " " + d.URL
					mu.Lock()
					if seen[d.ID] {
						errs = append(errs, fmt.Sprintf("delivery %d claimed twice", d.ID))
					}
					if inFlight[q] {
						errs = append(errs, fmt.Sprintf("queue %s claimed while an attempt ran", q))
					}
					if d.Event.Seq != lastSeq[q]+1 {
						errs = append(errs, fmt.Sprintf("queue %s: seq %d after %d", q, d.Event.Seq, lastSeq[q]))
					}
					seen[d.ID], inFlight[q], lastSeq[q] = true, true, d.Event.Seq
					mu.Unlock()
				}
				for _, at := range got {
					q := string(at.Delivery.Event.Room) + " " + at.Delivery.URL
					// Clear the in-flight mark before recording: once the
					// outcome is committed the next claimer may take the
					// queue's next delivery at once.
					mu.Lock()
					inFlight[q] = false
					mu.Unlock()
					if err := db.RecordWebhookAttempt(ctx, at.Delivery.ID, store.WebhookOutcome{
						Attempt: at.Delivery.Attempts, At: time.Now(), Delivered: true, Status: 200,
					}); err != nil {
						mu.Lock()
						errs = append(errs, err.Error())
						mu.Unlock()
					}
				}
			}
		}()
	}
	wg.Wait()
	for _, e := range errs {
		t.Error(e)
	}
	if len(seen) != total {
		t.Fatalf("%d deliveries claimed, want %d", len(seen), total)
	}
	if c, _ := d2.CountWebhookDeliveries(ctx, a.ID); c != (store.WebhookCounts{Delivered: int64(total)}) {
		t.Fatalf("counts = %+v, want all %d delivered", c, total)
	}
}
