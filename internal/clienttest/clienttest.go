// Package clienttest holds test helpers around pkg/client participants:
// waiting for their events and decoding them. It is its own package because
// internal/servertest is imported by pkg/client's own tests.
package clienttest

import (
	"testing"
	"time"

	"github.com/minirtc/minirtc/pkg/client"
)

// eventWait bounds how long the helpers below wait for a client.
const eventWait = 10 * time.Second

// WaitEvent reads c's events until one named name matches ok (nil: any),
// failing the test after 10 s or when the events end.
func WaitEvent(t testing.TB, c *client.Client, name string, ok func(client.Event) bool) client.Event {
	t.Helper()
	timeout := time.After(eventWait)
	for {
		select {
		case ev, open := <-c.Events():
			if !open {
				t.Fatalf("events closed while waiting for %s (err %v)", name, c.Err())
			}
			if ev.Name == name && (ok == nil || ok(ev)) {
				return ev
			}
		case <-timeout:
			t.Fatalf("no %s event within %s", name, eventWait)
		}
	}
}

// DecodeEvent decodes an event's data as a T, failing the test if it cannot.
func DecodeEvent[T any](t testing.TB, ev client.Event) T {
	t.Helper()
	var v T
	if err := ev.Decode(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

// WaitDone waits (10 s at most) for c to be disconnected and returns its
// final error.
func WaitDone(t testing.TB, c *client.Client) error {
	t.Helper()
	select {
	case <-c.Done():
		return c.Err()
	case <-time.After(eventWait):
		t.Fatalf("client still connected %s later", eventWait)
		return nil
	}
}
