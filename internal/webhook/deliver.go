package webhook

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"time"
	"unicode"

	"github.com/minirtc/minirtc/internal/store"
)

// scheduleLoop claims due deliveries whenever workers are free and runs
// each in its own goroutine. It wakes on new events, on finished attempts
// and every PollInterval (for retries that became due).
func (d *Dispatcher) scheduleLoop() {
	defer d.loops.Done()
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-d.runCtx.Done():
			return
		case <-d.wake:
		case <-t.C:
		}
		d.claimAndStart()
		t.Reset(d.cfg.PollInterval)
	}
}

// claimAndStart fills the free workers. The claim takes no more for a URL
// than what that URL has left of its share, so no URL ever has more than
// PerURLWorkers in flight (one while it fails), and one busy or broken
// receiver cannot take every worker.
func (d *Dispatcher) claimAndStart() {
	for d.runCtx.Err() == nil {
		free, left := d.capacity()
		if free == 0 {
			return
		}
		got, err := d.out.ClaimWebhookDeliveries(d.runCtx, store.WebhookClaim{
			Now: d.now(), Limit: free, Lease: d.cfg.lease(), PerURL: d.cfg.PerURLWorkers, URLLimits: left,
		})
		if err != nil {
			if d.runCtx.Err() == nil {
				d.m.storeErrs.WithLabelValues("claim").Inc()
				d.log.Error("claiming webhook deliveries failed", "err", err)
			}
			return
		}
		if len(got) == 0 {
			return
		}
		d.mu.Lock()
		for _, a := range got {
			d.inFlight++
			d.urlLocked(a.Delivery.URL).inFlight++
			d.attempts.Add(1)
			go d.attempt(a)
		}
		d.mu.Unlock()
	}
}

// capacity returns the free workers and, for each URL with attempts in
// flight or a failing record, how many more it may have.
func (d *Dispatcher) capacity() (int, map[string]int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	free := d.cfg.Workers - d.inFlight
	if free <= 0 {
		return 0, nil
	}
	left := make(map[string]int, len(d.urls))
	for u, st := range d.urls {
		left[u] = max(0, d.limitLocked(st)-st.inFlight)
	}
	return free, left
}

func (d *Dispatcher) limitLocked(st *urlState) int {
	if st.failing {
		return 1
	}
	return d.cfg.PerURLWorkers
}

func (d *Dispatcher) urlLocked(u string) *urlState {
	st := d.urls[u]
	if st == nil {
		st = &urlState{}
		d.urls[u] = st
	}
	return st
}

// finished releases an attempt's worker and notes how its URL fared
// (ok: delivered, failed: an answer or error that counts against the URL;
// an attempt cut off by shutdown is neither).
func (d *Dispatcher) finished(u string, ok, failed bool) {
	d.mu.Lock()
	d.inFlight--
	st := d.urlLocked(u)
	st.inFlight--
	switch {
	case ok:
		st.failing = false
	case failed:
		st.failing = true
	}
	if st.inFlight == 0 && !st.failing {
		delete(d.urls, u) // the map holds only URLs that matter now
	}
	d.mu.Unlock()
	d.poke()
}

// attempt makes one delivery attempt and records its outcome.
func (d *Dispatcher) attempt(a store.WebhookAttempt) {
	defer d.attempts.Done()
	dl := a.Delivery
	deadline := dl.Event.At.Add(d.cfg.MaxAge)
	o := store.WebhookOutcome{Attempt: dl.Attempts, At: d.now()}
	var ok, failed bool
	if dl.Attempts == 1 && !o.At.Before(deadline) {
		// Not tried once within max_age (the server was down, or the queue
		// ahead of it took that long): too old to be of use now. A delivery
		// tried before does get its last retry, scheduled at the deadline.
		o.Error = fmt.Sprintf("not attempted: the event is older than webhook.max_age (%s)", d.cfg.MaxAge)
	} else {
		start := time.Now()
		status, err := d.post(a)
		d.m.duration.Observe(time.Since(start).Seconds())
		o.At, o.Status = d.now(), status
		switch {
		case err == nil:
			o.Delivered, ok = true, true
		case d.attemptCtx.Err() != nil:
			// Cut off by shutdown: due again at once, for the next start.
			o.Error, o.NextAttemptAt = "interrupted: the server shut down during the attempt", o.At
		default:
			o.Error, failed = err.Error(), true
			o.NextAttemptAt = d.nextAttempt(dl.Attempts, o.At, deadline)
		}
	}
	switch {
	case o.Delivered:
		d.m.attempts.WithLabelValues("delivered").Inc()
	case failed:
		d.m.attempts.WithLabelValues("failed").Inc()
	}
	if !o.Delivered && o.NextAttemptAt.IsZero() {
		d.m.givenUp.Inc()
		d.log.Warn("webhook delivery given up", "app", dl.Event.App, "room", dl.Event.Room, "url", dl.URL,
			"event", dl.Event.ID, "type", dl.Event.Type, "seq", dl.Event.Seq, "attempts", dl.Attempts, "err", o.Error)
	} else if failed {
		d.log.Debug("webhook delivery failed; will retry", "app", dl.Event.App, "room", dl.Event.Room, "url", dl.URL,
			"event", dl.Event.ID, "attempts", dl.Attempts, "next", o.NextAttemptAt, "err", o.Error)
	}
	// Recorded even while shutting down (the store closes after us); if it
	// fails, the lease runs out and the delivery is attempted again.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	if err := d.out.RecordWebhookAttempt(ctx, dl.ID, o); err != nil {
		d.m.storeErrs.WithLabelValues("record").Inc()
		d.log.Error("recording a webhook attempt failed; it will be retried when its lease ends",
			"delivery", dl.ID, "event", dl.Event.ID, "delivered", o.Delivered, "err", err)
	}
	cancel()
	d.finished(dl.URL, ok, failed)
}

// nextAttempt schedules the retry after the attempts-th attempt failed at
// now: MinBackoff doubled per earlier failure, capped at MaxBackoff, plus up
// to a quarter more at random (so receivers that come back are not hit by
// every queue at the same instant). The last retry is at the deadline;
// after the deadline it returns zero: give up.
func (d *Dispatcher) nextAttempt(attempts int, now, deadline time.Time) time.Time {
	if !now.Before(deadline) {
		return time.Time{}
	}
	b := d.cfg.MinBackoff
	for i := 1; i < attempts && b < d.cfg.MaxBackoff; i++ {
		b *= 2
	}
	b = min(b, d.cfg.MaxBackoff)
	next := now.Add(b + time.Duration(rand.Int64N(int64(b)/4+1)))
	if next.After(deadline) {
		next = deadline
	}
	return next
}

// post sends one delivery. A nil error means the receiver answered 2xx; an
// error says what went wrong (status and the start of the answer, or the
// transport error), with the status when there was one.
func (d *Dispatcher) post(a store.WebhookAttempt) (int, error) {
	ctx, cancel := context.WithTimeout(d.attemptCtx, d.cfg.Timeout)
	defer cancel()
	body := Body(a.Delivery.Event)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.Delivery.URL, bytes.NewReader(body))
	if err != nil {
		return 0, fmt.Errorf("bad URL: %v", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", d.ua)
	req.Header.Set(HeaderEventID, a.Delivery.Event.ID)
	req.Header.Set(HeaderEventType, a.Delivery.Event.Type)
	req.Header.Set(HeaderSignature, Sign(a.Secret, d.now(), body))
	resp, err := d.client.Do(req)
	if err != nil {
		if ctx.Err() == context.DeadlineExceeded && d.attemptCtx.Err() == nil {
			return 0, fmt.Errorf("no answer within webhook.timeout (%s)", d.cfg.Timeout)
		}
		return 0, err
	}
	defer resp.Body.Close()
	// Read a little of the answer: the start for the error message, the
	// rest (up to 64 KiB) so the connection can be reused.
	head, _ := io.ReadAll(io.LimitReader(resp.Body, 256))
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return resp.StatusCode, nil
	}
	msg := fmt.Sprintf("HTTP %d", resp.StatusCode)
	if resp.StatusCode >= 300 && resp.StatusCode < 400 {
		msg += " (redirects are not followed)"
	}
	if s := printable(head); s != "" {
		msg += ": " + s
	}
	return resp.StatusCode, fmt.Errorf("%s", msg)
}

// printable keeps an answer's start readable in listings and logs.
func printable(b []byte) string {
	s := strings.Map(func(r rune) rune {
		if r == unicode.ReplacementChar || unicode.IsControl(r) {
			return ' '
		}
		return r
	}, string(b))
	return strings.Join(strings.Fields(s), " ")
}
