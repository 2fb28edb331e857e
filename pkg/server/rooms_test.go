package server_test

import (
	"errors"
	"maps"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/minirtc/minirtc/internal/clienttest"
	"github.com/minirtc/minirtc/pkg/client"
	"github.com/minirtc/minirtc/pkg/ids"
	"github.com/minirtc/minirtc/pkg/protocol"
	"github.com/minirtc/minirtc/pkg/server"
)

// TestRoomCalls drives a room with two real participants through the
// room, participant, attribute, message, kick, ban and close calls of an
// app-scoped client, and checks what the participants see.
func TestRoomCalls(t *testing.T) {
	e := start(t, nil)
	ctx := ctx10(t)
	alice := e.join("alice", "class")
	bob := e.join("bob", "class")

	rooms, err := e.app.ListRooms(ctx)
	must(t, err)
	if len(rooms) != 1 || rooms[0].ID != "class" || rooms[0].Participants != 2 || rooms[0].Streams != 0 || rooms[0].CreatedAt == 0 {
		t.Fatalf("rooms = %+v", rooms)
	}
	room, err := e.app.GetRoom(ctx, "class")
	must(t, err)
	if len(room.Participants) != 2 || room.Participants[0].UserID != "alice" || room.Participants[1].UserID != "bob" ||
		room.Participants[0].Name != "user alice" || !slices.Equal(room.Participants[0].Grants, server.DefaultGrants()) {
		t.Fatalf("room = %+v", room)
	}
	p, err := e.app.GetParticipant(ctx, "class", "bob")
	must(t, err)
	if p.UserID != "bob" || p.JoinedAt.Time().IsZero() || p.Streams == nil || p.Subscriptions == nil {
		t.Fatalf("bob = %+v", p)
	}

	// Update bob live: everyone sees it; a grant taken away applies.
	p, err = e.app.UpdateParticipant(ctx, "class", "bob", server.UpdateParticipantRequest{
		Name: new("Bob B."), Metadata: new(`{"hand":"up"}`), Grants: []server.Grant{server.GrantSubscribe}})
	must(t, err)
	if p.Name != "Bob B." || p.Metadata != `{"hand":"up"}` || !slices.Equal(p.Grants, []server.Grant{server.GrantSubscribe}) {
		t.Fatalf("updated bob = %+v", p)
	}
	for _, c := range []*client.Client{alice, bob} {
		ev := clienttest.WaitEvent(t, c, protocol.EvParticipantUpdated, nil)
		if u := clienttest.DecodeEvent[protocol.ParticipantUpdatedEvent](t, ev); u.User.UserID != "bob" || u.User.Name != "Bob B." {
			t.Fatalf("participant_updated = %+v", u)
		}
	}
	if _, err := bob.SendMessage(ctx, "hi", "x"); !isCode(err, protocol.CodePermission) {
		t.Fatalf("bob without data sends a message: %v", err)
	}
	// Grants: [] takes them all; nil keeps them.
	p, err = e.app.UpdateParticipant(ctx, "class", "bob", server.UpdateParticipantRequest{Grants: []server.Grant{}})
	must(t, err)
	if len(p.Grants) != 0 {
		t.Fatalf("grants after [] = %v", p.Grants)
	}
	p, err = e.app.UpdateParticipant(ctx, "class", "bob", server.UpdateParticipantRequest{Name: new("")})
	must(t, err)
	if len(p.Grants) != 0 || p.Name != "" || p.Metadata != `{"hand":"up"}` {
		t.Fatalf("after a name change only: %+v", p)
	}

	// Attributes with a notification.
	attrs, err := e.app.SetAttributes(ctx, "class", server.SetAttributesRequest{
		Attributes: map[string]string{"topic": "maths", "board": "1"}, Notify: &server.Notification{Name: "topic", Content: "maths now"}})
	must(t, err)
	if !maps.Equal(attrs, map[string]string{"topic": "maths", "board": "1"}) {
		t.Fatalf("attributes = %v", attrs)
	}
	ev := clienttest.DecodeEvent[protocol.AttributesChangedEvent](t, clienttest.WaitEvent(t, alice, protocol.EvAttributesChanged, nil))
	if ev.By != "" || ev.Set["topic"] != "maths" || ev.Notify == nil || ev.Notify.Content != "maths now" {
		t.Fatalf("attributes_changed = %+v", ev)
	}
	attrs, err = e.app.DeleteAttributes(ctx, "class", server.DeleteAttributesRequest{Keys: []string{"board", "nothing"}})
	must(t, err)
	if !maps.Equal(attrs, map[string]string{"topic": "maths"}) {
		t.Fatalf("after delete = %v", attrs)
	}
	ev = clienttest.DecodeEvent[protocol.AttributesChangedEvent](t, clienttest.WaitEvent(t, alice, protocol.EvAttributesChanged, nil))
	if !slices.Equal(ev.Deleted, []string{"board"}) {
		t.Fatalf("attributes_changed = %+v", ev)
	}
	attrs, err = e.app.GetAttributes(ctx, "class")
	must(t, err)
	if !maps.Equal(attrs, map[string]string{"topic": "maths"}) {
		t.Fatalf("get attributes = %v", attrs)
	}
	_, err = e.app.SetAttributes(ctx, "class", server.SetAttributesRequest{Attributes: map[string]string{"": "x"}})
	wantAPIError(t, err, http.StatusBadRequest, protocol.CodeInvalidField, "attributes")

	// A private message to bob only.
	id, err := e.app.SendMessage(ctx, "class", server.MessageRequest{Name: "notice", Content: "stay", To: []ids.UserID{"bob"}})
	must(t, err)
	msg := clienttest.DecodeEvent[protocol.MessageEvent](t, clienttest.WaitEvent(t, bob, protocol.EvMessage, nil))
	if msg.ID != id || msg.From != "" || msg.Name != "notice" || msg.Content != "stay" || !msg.Private {
		t.Fatalf("message = %+v (id %q)", msg, id)
	}
	_, err = e.app.SendMessage(ctx, "class", server.MessageRequest{Name: "notice", To: []ids.UserID{"zed"}})
	wantAPIError(t, err, http.StatusNotFound, protocol.CodeUserNotFound, "")

	// Kick bob with a ban: he is told, the ban is there, he cannot come
	// back until unbanned.
	must(t, e.app.Kick(ctx, "class", "bob", server.KickRequest{BanSeconds: 600, Reason: "spam"}))
	ko := clienttest.DecodeEvent[protocol.KickedOffEvent](t, clienttest.WaitEvent(t, bob, protocol.EvKickedOff, nil))
	if ko.BanSeconds != 600 || ko.Message != "spam" {
		t.Fatalf("kicked_off = %+v", ko)
	}
	if err := clienttest.WaitDone(t, bob); !errors.Is(err, client.ErrKicked) {
		t.Fatalf("bob ended with %v", err)
	}
	ban, err := e.app.GetBan(ctx, "class", "bob")
	must(t, err)
	if ban.Room != "class" || ban.User != "bob" || ban.Reason != "spam" || ban.Until.Time().Before(time.Now().Add(9*time.Minute)) {
		t.Fatalf("ban = %+v", ban)
	}
	tok, err := e.app.SignToken(server.Claims{User: "bob", Room: "class"})
	must(t, err)
	if c, err := client.Join(ctx, e.URL, tok, "class", nil); !isCode(err, protocol.CodeBanned) {
		if c != nil {
			c.Close()
		}
		t.Fatalf("banned join: %v", err)
	}
	must(t, e.app.Unban(ctx, "class", "bob"))
	must(t, e.app.Unban(ctx, "class", "bob")) // no ban: not an error
	_, err = e.app.GetBan(ctx, "class", "bob")
	if !server.IsNotFound(err) || server.CodeOf(err) != server.CodeNotFound {
		t.Fatalf("ban after unban: %v", err)
	}
	bob = e.joinWith(tok, "class")
	// Without a ban, kicking someone not in the room is 3003.
	err = e.app.Kick(ctx, "class", "nobody", server.KickRequest{})
	wantAPIError(t, err, http.StatusNotFound, protocol.CodeUserNotFound, "")

	// Close the room: everyone is told and disconnected; it is gone.
	must(t, e.app.CloseRoom(ctx, "class", "lesson over"))
	rc := clienttest.DecodeEvent[protocol.RoomClosedEvent](t, clienttest.WaitEvent(t, alice, protocol.EvRoomClosed, nil))
	if rc.Reason != "lesson over" || rc.By != "" {
		t.Fatalf("room_closed = %+v", rc)
	}
	for _, c := range []*client.Client{alice, bob} {
		if err := clienttest.WaitDone(t, c); !errors.Is(err, client.ErrRoomClosed) {
			t.Fatalf("ended with %v", err)
		}
	}
	_, err = e.app.GetRoom(ctx, "class")
	wantAPIError(t, err, http.StatusNotFound, server.CodeNotFound, "")
	_, err = e.app.GetParticipant(ctx, "class", "alice")
	if !server.IsNotFound(err) {
		t.Fatalf("participant of a closed room: %v", err)
	}
}
