package postgres

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/minirtc/minirtc/internal/store"
	"github.com/minirtc/minirtc/internal/store/pgtest"
	"github.com/minirtc/minirtc/pkg/ids"
)

// TestWebhookOutboxFromTwoNodes runs the outbox as two nodes sharing one
// database would: two pools, each enqueueing into the same rooms while
// workers on both claim and complete deliveries. No delivery may be
// claimed twice, each queue must be attempted one at a time in sequence
// order, the room numbering must have no gap or repeat, and in the end
// every delivery must be delivered (a queue left without a head would keep
// some pending for ever).
func TestWebhookOutboxFromTwoNodes(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.DSN(t)
	d1, d2 := openDSN(t, dsn), openDSN(t, dsn)
	defer d1.Close()
	defer d2.Close()
	a, err := d1.CreateApp(ctx, "hooks")
	if err != nil {
		t.Fatal(err)
	}
	urls := []string{"http://127.0.0.1:1/a", "http://127.0.0.1:1/b", "http://127.0.0.1:1/c"}
	if _, err := d1.PutWebhookSettings(ctx, store.WebhookSettings{App: a.ID, URLs: urls}, time.Now()); err != nil {
		t.Fatal(err)
	}
	const rooms, perProducer = 4, 60
	var (
		mu       sync.Mutex
		seqs     = map[ids.RoomID][]int64{}
		seen     = map[int64]bool{}
		inFlight = map[string]bool{} // queue -> an attempt is running
		lastSeq  = map[string]int64{}
		errs     []string
		fail     = func(format string, args ...any) {
			mu.Lock()
			errs = append(errs, fmt.Sprintf(format, args...))
			mu.Unlock()
		}
		producers, workers sync.WaitGroup
		produced           = make(chan struct{})
	)
	for p, db := range []*DB{d1, d2} {
		producers.Add(1)
		go func() {
			defer producers.Done()
			for n := 0; n < perProducer; {
				var batch []store.WebhookEvent
				for k := 0; k < 1+n%3 && n < perProducer; k, n = k+1, n+1 {
					batch = append(batch, store.WebhookEvent{ID: fmt.Sprintf("p%d_%d", p, n), App: a.ID,
						Room: ids.RoomID(fmt.Sprint("r", n%rooms)), Type: "user_joined", At: time.Now()})
				}
				out, err := db.EnqueueWebhookEvents(ctx, batch, time.Now())
				if err != nil {
					fail("producer %d: %v", p, err)
					return
				}
				mu.Lock()
				for _, e := range out {
					seqs[e.Room] = append(seqs[e.Room], e.Seq)
				}
				mu.Unlock()
			}
		}()
	}
	go func() { producers.Wait(); close(produced) }()
	for w, db := range []*DB{d1, d2, d1, d2} {
		workers.Add(1)
		go func() {
			defer workers.Done()
			for idle := 0; idle < 50; {
				got, err := db.ClaimWebhookDeliveries(ctx, store.WebhookClaim{Now: time.Now(), Limit: 3, Lease: time.Hour, PerURL: 2})
				if err != nil {
					fail("worker %d: claim: %v", w, err)
					return
				}
				if len(got) == 0 {
					select {
					case <-produced:
						idle++
					default:
					}
					time.Sleep(2 * time.Millisecond)
					continue
				}
				idle = 0
				mu.Lock()
				for _, at := range got {
					d := at.Delivery
					q := string(d.Event.Room) + " " + d.URL
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
				}
				mu.Unlock()
				for _, at := range got {
					q := string(at.Delivery.Event.Room) + " " + at.Delivery.URL
					// Clear the mark first: once the outcome commits, another
					// worker may take the queue's next delivery at once.
					mu.Lock()
					inFlight[q] = false
					mu.Unlock()
					if err := db.RecordWebhookAttempt(ctx, at.Delivery.ID, store.WebhookOutcome{
						Attempt: at.Delivery.Attempts, At: time.Now(), Delivered: true, Status: 200,
					}); err != nil {
						fail("worker %d: record: %v", w, err)
					}
				}
			}
		}()
	}
	workers.Wait()
	for _, e := range errs {
		t.Error(e)
	}
	total := 2 * perProducer * len(urls)
	if len(seen) != total {
		t.Errorf("%d deliveries claimed, want %d", len(seen), total)
	}
	if c, err := d2.CountWebhookDeliveries(ctx, a.ID); err != nil || c != (store.WebhookCounts{Delivered: int64(total)}) {
		t.Errorf("counts = %+v, %v; want all %d delivered", c, err, total)
	}
	for room, s := range seqs {
		got := map[int64]bool{}
		for _, n := range s {
			got[n] = true
		}
		for n := int64(1); n <= int64(len(s)); n++ {
			if !got[n] {
				t.Errorf("room %s: %d events numbered %v, want 1..%d", room, len(s), s, len(s))
				break
			}
		}
	}
}
