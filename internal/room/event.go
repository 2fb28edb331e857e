package room

import (
	"encoding/json"
	"slices"
	"sync"
	"time"

	"github.com/minirtc/minirtc/pkg/ids"
)

// Event is one change in a room. Data is the protocol payload
// (protocol.UserJoinedEvent, protocol.StreamEvent, ...), so adapters can send
// it as is.
type Event struct {
	App  ids.AppID
	Room ids.RoomID
	// Seq numbers the room's events from 1, in the order they happened.
	Seq  uint64
	Name string
	Data any
	At   time.Time

	// Delivery: to Only when set; otherwise to everyone but Except.
	Only   []ids.UserID
	Except ids.UserID

	once    sync.Once
	encoded json.RawMessage
}

// Encoded returns Data as JSON, encoding it once however many sessions
// deliver the event.
func (e *Event) Encoded() json.RawMessage {
	e.once.Do(func() {
		b, err := json.Marshal(e.Data)
		if err != nil {
			// Data is always one of our own payload structs; failing to
			// encode one is a programming error worth a loud failure.
			panic("room: cannot encode event " + e.Name + ": " + err.Error())
		}
		e.encoded = b
	})
	return e.encoded
}

// For reports whether the event is to be delivered to user u.
func (e *Event) For(u ids.UserID) bool {
	if e.Only != nil {
		return slices.Contains(e.Only, u)
	}
	return u != e.Except
}

// Sink receives a participant's events. The room calls it with its lock held,
// in room order; implementations must not block and must not call back into
// the room.
type Sink interface {
	// Deliver hands over one event addressed to this participant.
	Deliver(ev *Event)
	// Removed tells the sink that the room removed its participant (left,
	// kicked, replaced, timed out, room closed). Any final event (kicked_off,
	// room_closed) was delivered before. No event follows.
	Removed()
}

// Observer sees every event of every room, in each room's order, with the
// room's lock held: it must not block. Metrics, webhooks and usage
// accounting hang off it.
type Observer func(ev *Event)
