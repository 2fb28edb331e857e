package room

import (
	"slices"
	"testing"

	"github.com/minirtc/minirtc/pkg/ids"
	"github.com/minirtc/minirtc/pkg/protocol"
)

// subscriptionEvents returns the subscribed/unsubscribed events observed so
// far, as "name user streams" strings, and checks nobody was sent them.
func subscriptionEvents(t *testing.T, observed []*Event) []string {
	t.Helper()
	var out []string
	for _, ev := range observed {
		if ev.Name != EvSubscribed && ev.Name != EvUnsubscribed {
			continue
		}
		if ev.Only == nil || len(ev.Only) != 0 {
			t.Errorf("%s is addressed to participants (Only=%v); it is for observers only", ev.Name, ev.Only)
		}
		d, ok := ev.Data.(*SubscriptionEvent)
		if !ok {
			t.Fatalf("%s data is %T", ev.Name, ev.Data)
		}
		s := ev.Name + " " + string(d.User)
		for _, sid := range d.Streams {
			s += " " + string(sid)
		}
		out = append(out, s)
		_ = ev.Encoded() // must encode (webhooks and logs may serialise any event)
	}
	return out
}

func TestSubscriptionEventsForObserversOnly(t *testing.T) {
	m, observed := newManager(t, Config{})
	alice, _, _ := join(t, m, "alice", "r1", all)
	bob, brec, _ := join(t, m, "bob", "r1", all)
	for _, tag := range []ids.Tag{"main", "screen"} {
		if _, err := alice.Publish(tag, protocol.MediaAudioVideo); err != nil {
			t.Fatal(err)
		}
	}
	before := len(brec.names())

	// Only streams whose subscription begins are reported; a repeat or a
	// duplicate in the request is not.
	if _, err := bob.Subscribe([]ids.StreamID{"alice_main", "alice_main"}); err != nil {
		t.Fatal(err)
	}
	if _, err := bob.Subscribe([]ids.StreamID{"alice_main", "alice_screen"}); err != nil {
		t.Fatal(err)
	}
	// A refused subscribe changes nothing and reports nothing.
	if _, err := bob.Subscribe([]ids.StreamID{"alice_nope"}); err == nil {
		t.Fatal("subscribing to an unknown stream succeeded")
	}
	// Unsubscribing reports only what was subscribed.
	if _, err := bob.Unsubscribe([]ids.StreamID{"alice_screen", "alice_nope"}); err != nil {
		t.Fatal(err)
	}
	if _, err := bob.Unsubscribe([]ids.StreamID{"alice_screen"}); err != nil {
		t.Fatal(err)
	}
	got := subscriptionEvents(t, *observed)
	want := []string{
		"subscribed bob alice_main",
		"subscribed bob alice_screen",
		"unsubscribed bob alice_screen",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("observed %q, want %q", got, want)
	}
	if after := brec.names(); len(after) != before {
		t.Fatalf("bob was sent %v; subscription events are for observers only", after[before:])
	}

	// Events keep the room's sequence: each seq is the previous plus one.
	var last uint64
	for _, ev := range *observed {
		if ev.Room != "r1" {
			continue
		}
		if last != 0 && ev.Seq != last+1 {
			t.Fatalf("event %s has seq %d after %d", ev.Name, ev.Seq, last)
		}
		last = ev.Seq
	}
}
