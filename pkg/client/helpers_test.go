package client

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/minirtc/minirtc/internal/servertest"
	"github.com/minirtc/minirtc/pkg/ids"
	"github.com/minirtc/minirtc/pkg/protocol"
)

const waitTimeout = 10 * time.Second

// checkLeaks verifies, when the test ends (after the clients it creates
// later are closed, before the server stops), that no goroutine started
// after this call is left.
func checkLeaks(t *testing.T) {
	t.Helper()
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, ignore) })
}

// join joins with a fresh token for user and closes the client when the
// test ends.
func join(t *testing.T, env *servertest.Env, url string, user ids.UserID, room ids.RoomID, opts *Options) (*Client, *recorder) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), waitTimeout)
	defer cancel()
	c, err := Join(ctx, url, env.Token(t, user, room), room, opts)
	if err != nil {
		t.Fatalf("join %s: %v", user, err)
	}
	rec := record(c)
	t.Cleanup(func() {
		_ = c.Close()
		<-rec.done
	})
	return c, rec
}

func proxyURL(p *proxy) string { return "ws://" + p.addr() + "/ws" }

// serverAddr is host:port of a ws:// URL.
func serverAddr(wsURL string) string {
	s := strings.TrimPrefix(wsURL, "ws://")
	return s[:strings.IndexByte(s, '/')]
}

// recorder keeps every event a client delivers.
type recorder struct {
	mu      sync.Mutex
	events  []Event
	changed chan struct{} // closed and replaced on every new event
	done    chan struct{} // closed when Events() is closed
}

func record(c *Client) *recorder {
	r := &recorder{changed: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(r.done)
		for ev := range c.Events() {
			r.mu.Lock()
			r.events = append(r.events, ev)
			close(r.changed)
			r.changed = make(chan struct{})
			r.mu.Unlock()
		}
	}()
	return r
}

func (r *recorder) all() []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Event(nil), r.events...)
}

// waitFor waits for the first event from index from on named name for which
// match (nil: any) is true, and returns it with its index.
func (r *recorder) waitFor(t *testing.T, from int, name string, match func(Event) bool) (Event, int) {
	t.Helper()
	deadline := time.After(waitTimeout)
	for {
		r.mu.Lock()
		for i := from; i < len(r.events); i++ {
			ev := r.events[i]
			if ev.Name == name && (match == nil || match(ev)) {
				r.mu.Unlock()
				return ev, i
			}
		}
		ch := r.changed
		r.mu.Unlock()
		select {
		case <-ch:
		case <-r.done:
			// Look once more: the last events may have come with the close.
			r.mu.Lock()
			for i := from; i < len(r.events); i++ {
				if ev := r.events[i]; ev.Name == name && (match == nil || match(ev)) {
					r.mu.Unlock()
					return ev, i
				}
			}
			r.mu.Unlock()
			t.Fatalf("events closed without %s; got %s", name, names(r.all()))
		case <-deadline:
			t.Fatalf("no %s event within %s; got %s", name, waitTimeout, names(r.all()))
		}
	}
}

// waitState waits for a connection_state event with state s.
func (r *recorder) waitState(t *testing.T, from int, s State) (StateChange, int) {
	t.Helper()
	ev, i := r.waitFor(t, from, EvConnectionState, func(ev Event) bool {
		var sc StateChange
		return ev.Decode(&sc) == nil && sc.State == s
	})
	var sc StateChange
	_ = ev.Decode(&sc)
	return sc, i
}

// serverEvents are the events from the server, in delivery order.
func (r *recorder) serverEvents() []Event {
	var out []Event
	for _, ev := range r.all() {
		if ev.Seq != 0 {
			out = append(out, ev)
		}
	}
	return out
}

func (r *recorder) count(name string, match func(Event) bool) int {
	n := 0
	for _, ev := range r.all() {
		if ev.Name == name && (match == nil || match(ev)) {
			n++
		}
	}
	return n
}

func names(evs []Event) string {
	var b strings.Builder
	for _, ev := range evs {
		if b.Len() > 0 {
			b.WriteString(", ")
		}
		b.WriteString(ev.Name)
		if ev.Name == EvConnectionState {
			var sc StateChange
			_ = ev.Decode(&sc)
			b.WriteString("(" + string(sc.State) + ")")
		}
	}
	return b.String()
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), waitTimeout)
	t.Cleanup(cancel)
	return ctx
}

func isCode(err error, code protocol.Code) bool { return isProtocolError(err, code) }

func ptr[T any](v T) *T { return &v }
