package room

import (
	"strings"
	"testing"
	"time"

	"github.com/minirtc/minirtc/pkg/ids"
	"github.com/minirtc/minirtc/pkg/protocol"
)

// observedNames renders observed events of one room as "name" or
// "name:user" (user_left: "name:user:reason"), skipping event names not in
// keep (all when keep is empty).
func observedNames(observed []*Event, room ids.RoomID, keep ...string) string {
	var out []string
	for _, ev := range observed {
		if ev.Room != room || (len(keep) > 0 && !containsName(keep, ev.Name)) {
			continue
		}
		s := ev.Name
		switch d := ev.Data.(type) {
		case *protocol.UserJoinedEvent:
			s += ":" + string(d.User.UserID)
		case *protocol.UserLeftEvent:
			s += ":" + string(d.UserID) + ":" + string(d.Reason)
		case *protocol.StreamEvent:
			s += ":" + string(d.Stream.ID)
		}
		out = append(out, s)
	}
	return strings.Join(out, " ")
}

func containsName(names []string, n string) bool {
	for _, x := range names {
		if x == n {
			return true
		}
	}
	return false
}

var lifecycle = []string{EvRoomCreated, EvRoomDestroyed, protocol.EvUserJoined, protocol.EvUserLeft,
	protocol.EvStreamPublished, protocol.EvStreamUnpublished}

// TestRoomLifecycleEventsForObserversOnly: room_created comes before the
// first join's user_joined, room_destroyed after the last record, both only
// to observers, with the room's sequence numbers; a room re-created under
// the same name starts a new story.
func TestRoomLifecycleEventsForObserversOnly(t *testing.T) {
	m, observed := newManager(t, Config{EmptyGrace: 20 * time.Millisecond})
	a, arec, _ := join(t, m, "a", "r1", all)
	_, brec, _ := join(t, m, "b", "r1", all)
	if _, err := a.Publish("", protocol.MediaAudio); err != nil {
		t.Fatal(err)
	}
	a.Leave(protocol.ReasonLeft)
	m.Kick(t.Context(), app, "r1", "b", 0, "", "")
	waitDestroyed(t, m, "r1")

	want := "room_created user_joined:a user_joined:b stream_published:a_main stream_unpublished:a_main user_left:a:left " +
		"user_left:b:kicked room_destroyed"
	if got := observedNames(*observed, "r1", lifecycle...); got != want {
		t.Fatalf("observed\n %s\nwant\n %s", got, want)
	}
	for _, rec := range []*recorder{arec, brec} {
		for _, n := range rec.names() {
			if n == EvRoomCreated || n == EvRoomDestroyed {
				t.Fatalf("a participant received %s", n)
			}
		}
	}
	for i, ev := range *observed {
		if ev.Seq != uint64(i+1) {
			t.Fatalf("event %d (%s) has seq %d", i, ev.Name, ev.Seq)
		}
		if (ev.Name == EvRoomCreated || ev.Name == EvRoomDestroyed) && (ev.Only == nil || len(ev.Only) != 0 || ev.App != app) {
			t.Fatalf("%s: Only=%v App=%s; want observers only", ev.Name, ev.Only, ev.App)
		}
		_ = ev.Encoded() // observers may serialise any event
	}

	// Same name again: a new room, a new room_created, numbering from 1.
	n := len(*observed)
	join(t, m, "a", "r1", all)
	again := (*observed)[n:]
	if again[0].Name != EvRoomCreated || again[0].Seq != 1 || again[1].Name != protocol.EvUserJoined {
		t.Fatalf("re-created room began with %s seq %d", again[0].Name, again[0].Seq)
	}
}

// TestShutdownEndsRoomsForObservers: a stopping server leaves no room open
// in the observers' view; participants are not sent anything.
func TestShutdownEndsRoomsForObservers(t *testing.T) {
	m, observed := newManager(t, Config{})
	a, arec, _ := join(t, m, "a", "r1", all)
	join(t, m, "b", "r1", all)
	join(t, m, "c", "r2", all)
	if _, err := a.Publish("cam", protocol.MediaVideo); err != nil {
		t.Fatal(err)
	}
	// A room closed before the shutdown is not ended twice.
	join(t, m, "d", "r3", all)
	if err := m.CloseRoom(app, "r3", "", "done"); err != nil {
		t.Fatal(err)
	}
	before := len(arec.names())

	m.Shutdown()
	if got, want := observedNames(*observed, "r1", lifecycle...),
		"room_created user_joined:a user_joined:b stream_published:a_cam stream_unpublished:a_cam user_left:a:server_shutdown user_left:b:server_shutdown room_destroyed"; got != want {
		t.Fatalf("r1 observed\n %s\nwant\n %s", got, want)
	}
	if got, want := observedNames(*observed, "r2", lifecycle...), "room_created user_joined:c user_left:c:server_shutdown room_destroyed"; got != want {
		t.Fatalf("r2 observed %s, want %s", got, want)
	}
	if got := strings.Count(observedNames(*observed, "r3"), EvRoomDestroyed); got != 1 {
		t.Fatalf("closed room destroyed %d times", got)
	}
	if len(arec.names()) != before || arec.isRemoved() {
		t.Fatalf("a participant was sent %v at shutdown", arec.names()[before:])
	}
	if _, ok := m.Room(app, "r1"); ok {
		// The room is still indexed (nothing is forgotten at shutdown), but
		// it is closed: its state is gone.
		t.Fatal("room state still readable after shutdown")
	}
	n := len(*observed)
	m.Shutdown() // again: nothing more
	if len(*observed) != n {
		t.Fatal("a second shutdown emitted events")
	}
	if _, err := a.SendMessage("x", "y", nil); err == nil {
		t.Fatal("a member acted in a room ended by shutdown")
	}
}

func waitDestroyed(t *testing.T, m *Manager, room ids.RoomID) {
	t.Helper()
	for deadline := time.Now().Add(2 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if _, ok := m.Room(app, room); !ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("room %s not destroyed", room)
		}
	}
}
