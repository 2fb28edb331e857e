// Package webhook tells app servers what happens in their rooms: it records
// room events in a durable outbox (the store) and POSTs each one, signed, to
// every URL the app configured, retrying with backoff until a receiver
// takes it or the event is too old. docs/webhooks.md is the receiver's side.
package webhook

import (
	"crypto/rand"
	"encoding/base32"
	"encoding/json"

	"github.com/minirtc/minirtc/internal/room"
	"github.com/minirtc/minirtc/internal/store"
	"github.com/minirtc/minirtc/pkg/ids"
	"github.com/minirtc/minirtc/pkg/protocol"
)

// Event types sent to webhooks: the room events an app server acts on.
const (
	TypeRoomCreated        = room.EvRoomCreated
	TypeRoomDestroyed      = room.EvRoomDestroyed
	TypeUserJoined         = protocol.EvUserJoined
	TypeUserLeft           = protocol.EvUserLeft
	TypeStreamPublished    = protocol.EvStreamPublished
	TypeStreamUnpublished  = protocol.EvStreamUnpublished
	TypeStreamStateChanged = protocol.EvStreamStateChanged
)

// Types lists every event type webhooks carry.
var Types = []string{
	TypeRoomCreated, TypeRoomDestroyed, TypeUserJoined, TypeUserLeft,
	TypeStreamPublished, TypeStreamUnpublished, TypeStreamStateChanged,
}

var sent = func() map[string]bool {
	m := make(map[string]bool, len(Types))
	for _, t := range Types {
		m[t] = true
	}
	return m
}()

// Headers of a delivery.
const (
	HeaderSignature = "Minirtc-Signature"
	HeaderEventID   = "Minirtc-Event-Id"
	HeaderEventType = "Minirtc-Event-Type"
)

// Payload is the JSON body of a delivery.
type Payload struct {
	ID   string     `json:"id"`
	Type string     `json:"type"`
	App  ids.AppID  `json:"app"`
	Room ids.RoomID `json:"room"`
	User ids.UserID `json:"user"` // "" for room_created and room_destroyed
	Seq  int64      `json:"seq"`
	At   int64      `json:"at"` // unix milliseconds
	// Data is the event's payload, as the signalling protocol sends it to
	// participants ({} for room events).
	Data json.RawMessage `json:"data"`
}

// Body encodes a stored event as a delivery body. Every attempt of a
// delivery sends the same bytes.
func Body(e store.WebhookEvent) []byte {
	b, err := json.Marshal(Payload{
		ID: e.ID, Type: e.Type, App: e.App, Room: e.Room, User: e.User, Seq: e.Seq,
		At: e.At.UnixMilli(), Data: e.DataOrEmpty(),
	})
	if err != nil {
		// Every field is a string, a number or JSON the store validated.
		panic("webhook: cannot encode event " + e.ID + ": " + err.Error())
	}
	return b
}

// fromRoom turns a room event into an outbox event, or reports false for
// events webhooks do not carry. It runs under the room's lock: no I/O.
func fromRoom(ev *room.Event) (store.WebhookEvent, bool) {
	if !sent[ev.Name] {
		return store.WebhookEvent{}, false
	}
	e := store.WebhookEvent{ID: newEventID(), App: ev.App, Room: ev.Room, Type: ev.Name, At: ev.At}
	switch d := ev.Data.(type) {
	case *protocol.UserJoinedEvent:
		e.User = d.User.UserID
	case *protocol.UserLeftEvent:
		e.User = d.UserID
	case *protocol.StreamEvent:
		e.User = d.Stream.UserID
	}
	if ev.Data != nil {
		e.Data = ev.Encoded() // encoded once for participants and us alike
	}
	return e, true
}

var eventIDEncoding = base32.NewEncoding("0123456789abcdefghijklmnopqrstuv").WithPadding(base32.NoPadding)

// newEventID returns "ev" and 26 random characters (128 bits): unique
// without coordination between servers.
func newEventID() string {
	var b [16]byte
	rand.Read(b[:]) // never fails (crashes the program instead)
	return "ev" + eventIDEncoding.EncodeToString(b[:])
}
