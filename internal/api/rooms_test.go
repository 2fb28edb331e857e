package api_test

import (
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/minirtc/minirtc/internal/auth"
	"github.com/minirtc/minirtc/internal/clienttest"
	"github.com/minirtc/minirtc/pkg/client"
	"github.com/minirtc/minirtc/pkg/ids"
	"github.com/minirtc/minirtc/pkg/protocol"
)

type tokenBody struct {
	Token     string     `json:"token"`
	ID        string     `json:"id"`
	App       ids.AppID  `json:"app"`
	User      ids.UserID `json:"user"`
	Room      ids.RoomID `json:"room"`
	Grants    []string   `json:"grants"`
	ExpiresAt int64      `json:"expires_at"`
}

func TestMintToken(t *testing.T) {
	e := start(t, nil)
	var tok tokenBody
	e.ok(http.StatusCreated, "POST", e.appPath("/tokens"), e.admin, map[string]any{
		"user": "alice", "room": "r1", "grants": []string{"publish", "publish"}, "name": "Alice 爱丽丝", "metadata": `{"seat":3}`, "ttl_seconds": 120,
	}, &tok)
	if tok.App != e.App.ID || tok.User != "alice" || tok.Room != "r1" || !slices.Equal(tok.Grants, []string{"publish"}) || tok.ID == "" {
		t.Fatalf("token = %+v", tok)
	}
	if d := time.Until(time.UnixMilli(tok.ExpiresAt)); d < 115*time.Second || d > 121*time.Second {
		t.Fatalf("expires in %s, want 120 s", d)
	}
	claims, err := (&auth.Verifier{Apps: e.Server.Store()}).Verify(ctx10(t), tok.Token)
	if err != nil || claims.ID != tok.ID || claims.Name != "Alice 爱丽丝" || claims.Metadata != `{"seat":3}` || claims.ExpiresAt.UnixMilli() != tok.ExpiresAt {
		t.Fatalf("the token verifies as %+v, %v", claims, err)
	}
	c := e.joinWith(tok.Token, "r1")
	if self := c.Joined().Self; self.Name != "Alice 爱丽丝" || !slices.Equal(self.Grants, []string{"publish"}) {
		t.Fatalf("joined as %+v", self)
	}
	if _, err := client.Join(ctx10(t), e.URL, tok.Token, "r2", nil); !errors.Is(err, protocol.NewError(protocol.CodeRoomNotAllowed)) {
		t.Fatalf("token for r1 joining r2: %v, want 2005", err)
	}

	// Defaults: every room, the default grants, one hour.
	tok = tokenBody{}
	e.ok(http.StatusCreated, "POST", e.appPath("/tokens"), e.admin, map[string]any{"user": "bob"}, &tok)
	if tok.Room != "" || !slices.Equal(tok.Grants, []string{"publish", "subscribe", "data"}) {
		t.Fatalf("default token = %+v", tok)
	}
	if d := time.Until(time.UnixMilli(tok.ExpiresAt)); d < 59*time.Minute || d > time.Hour {
		t.Fatalf("default lifetime %s", d)
	}
	// An empty list: no grants at all.
	e.ok(http.StatusCreated, "POST", e.appPath("/tokens"), e.admin, map[string]any{"user": "carol", "grants": []string{}}, &tok)
	if len(tok.Grants) != 0 {
		t.Fatalf("grants %v, want none", tok.Grants)
	}
	// The operator key mints too.
	e.ok(http.StatusCreated, "POST", e.appPath("/tokens"), operatorKey, map[string]any{"user": "dave", "grants": []string{"admin"}}, nil)

	for _, c := range []struct {
		field string
		body  map[string]any
	}{
		{"user", map[string]any{}},
		{"user", map[string]any{"user": "a b"}},
		{"room", map[string]any{"user": "a", "room": "r/1"}},
		{"grants[1]", map[string]any{"user": "a", "grants": []string{"data", "fly"}}},
		{"ttl_seconds", map[string]any{"user": "a", "ttl_seconds": 0}},
		{"ttl_seconds", map[string]any{"user": "a", "ttl_seconds": 2592001}},
		{"name", map[string]any{"user": "a", "name": "tab\there"}},
		{"name", map[string]any{"user": "a", "name": strings.Repeat("n", 257)}},
		{"metadata", map[string]any{"user": "a", "metadata": strings.Repeat("m", 4097)}},
		{"grants", map[string]any{"user": "a", "grants": "admin"}},
	} {
		e.fails(400, 1003, c.field, "POST", e.appPath("/tokens"), e.admin, c.body)
	}
	// Tokens of one room, or without admin, cannot mint.
	e.fails(403, 2005, "", "POST", e.appPath("/tokens"), e.Token(t, "boss", "r1", auth.GrantAdmin), map[string]any{"user": "x"})
	e.fails(403, 2006, "", "POST", e.appPath("/tokens"), e.Token(t, "boss", ""), map[string]any{"user": "x"})
}

type participantBody struct {
	UserID        ids.UserID        `json:"user_id"`
	Name          string            `json:"name"`
	Metadata      string            `json:"metadata"`
	Grants        []string          `json:"grants"`
	JoinedAt      int64             `json:"joined_at"`
	Streams       []protocol.Stream `json:"streams"`
	Subscriptions []ids.StreamID    `json:"subscriptions"`
}

type roomBody struct {
	ID           ids.RoomID        `json:"id"`
	CreatedAt    int64             `json:"created_at"`
	Attributes   map[string]string `json:"attributes"`
	Participants []participantBody `json:"participants"`
}

func TestRoomsParticipantsAndClose(t *testing.T) {
	e := start(t, nil)
	alice := e.join("alice", "r1")
	bob := e.join("bob", "r1")
	carol := e.join("carol", "r2")
	st := e.publishLive(alice, protocol.MediaAudioVideo)
	if _, err := bob.Subscribe(ctx10(t), st.ID); err != nil {
		t.Fatal(err)
	}

	var rooms struct {
		Rooms []struct {
			ID           ids.RoomID `json:"id"`
			Participants int        `json:"participants"`
			Streams      int        `json:"streams"`
			CreatedAt    int64      `json:"created_at"`
		} `json:"rooms"`
	}
	e.ok(http.StatusOK, "GET", e.appPath("/rooms"), e.admin, nil, &rooms)
	if len(rooms.Rooms) != 2 || rooms.Rooms[0].ID != "r1" || rooms.Rooms[0].Participants != 2 || rooms.Rooms[0].Streams != 1 ||
		rooms.Rooms[1].ID != "r2" || rooms.Rooms[1].Participants != 1 || rooms.Rooms[1].Streams != 0 {
		t.Fatalf("rooms = %+v", rooms.Rooms)
	}

	var r roomBody
	e.ok(http.StatusOK, "GET", e.appPath("/rooms/r1"), e.admin, nil, &r)
	if r.ID != "r1" || r.CreatedAt != alice.Joined().Room.CreatedAt || len(r.Participants) != 2 {
		t.Fatalf("room = %+v", r)
	}
	a, b := r.Participants[0], r.Participants[1]
	if a.UserID != "alice" || a.Name != "user alice" || len(a.Streams) != 1 || a.Streams[0].ID != st.ID ||
		a.Streams[0].Video == nil || a.Streams[0].Audio == nil || !slices.Equal(a.Grants, []string{"publish", "subscribe", "data"}) {
		t.Fatalf("alice = %+v", a)
	}
	if b.UserID != "bob" || !slices.Equal(b.Subscriptions, []ids.StreamID{st.ID}) || len(b.Streams) != 0 {
		t.Fatalf("bob = %+v", b)
	}
	var p participantBody
	e.ok(http.StatusOK, "GET", e.appPath("/rooms/r1/participants/bob"), e.admin, nil, &p)
	if p.UserID != "bob" || !slices.Equal(p.Subscriptions, []ids.StreamID{st.ID}) {
		t.Fatalf("bob = %+v", p)
	}
	e.fails(404, 3003, "", "GET", e.appPath("/rooms/r1/participants/carol"), e.admin, nil)
	e.fails(404, 4004, "", "GET", e.appPath("/rooms/nope/participants/bob"), e.admin, nil)
	e.fails(404, 4004, "", "GET", e.appPath("/rooms/nope"), e.admin, nil)
	e.fails(400, 1003, "room", "GET", e.appPath("/rooms/bad.room"), e.admin, nil)
	e.fails(400, 1003, "user", "GET", e.appPath("/rooms/r1/participants/"+strings.Repeat("u", 129)), e.admin, nil)

	// Close r2: carol is told, the room is gone.
	e.ok(http.StatusNoContent, "POST", e.appPath("/rooms/r2/close"), e.admin, map[string]string{"reason": "lesson over"}, nil)
	ev := clienttest.WaitEvent(t, carol, protocol.EvRoomClosed, nil)
	if d := clienttest.DecodeEvent[protocol.RoomClosedEvent](t, ev); d.Reason != "lesson over" || d.By != "" {
		t.Fatalf("room_closed = %+v", d)
	}
	if err := clienttest.WaitDone(t, carol); !errors.Is(err, client.ErrRoomClosed) {
		t.Fatalf("carol ended with %v", err)
	}
	e.fails(404, 4004, "", "GET", e.appPath("/rooms/r2"), e.admin, nil)
	e.fails(404, 4004, "", "POST", e.appPath("/rooms/r2/close"), e.admin, nil)
	e.fails(400, 1003, "reason", "POST", e.appPath("/rooms/r1/close"), e.admin, map[string]string{"reason": strings.Repeat("r", 257)})
}

func TestUpdateParticipantLive(t *testing.T) {
	e := start(t, nil)
	alice := e.join("alice", "r1")
	bob := e.join("bob", "r1")
	st := e.publishLive(alice, protocol.MediaAudio)
	clienttest.WaitEvent(t, bob, protocol.EvStreamPublished, nil)

	var p participantBody
	e.ok(http.StatusOK, "PATCH", e.appPath("/rooms/r1/participants/alice"), e.admin,
		map[string]any{"name": "Alice (teacher)", "metadata": `{"role":"teacher"}`}, &p)
	if p.Name != "Alice (teacher)" || p.Metadata != `{"role":"teacher"}` || len(p.Grants) != 3 || len(p.Streams) != 1 {
		t.Fatalf("PATCH answered %+v", p)
	}
	seen := clienttest.DecodeEvent[protocol.ParticipantUpdatedEvent](t, clienttest.WaitEvent(t, bob, protocol.EvParticipantUpdated, nil))
	if seen.User.UserID != "alice" || seen.User.Name != "Alice (teacher)" || seen.User.Grants != nil {
		t.Fatalf("bob saw %+v; want the new name without grants", seen.User)
	}
	self := clienttest.DecodeEvent[protocol.ParticipantUpdatedEvent](t, clienttest.WaitEvent(t, alice, protocol.EvParticipantUpdated, nil))
	if self.User.Metadata != `{"role":"teacher"}` || len(self.User.Grants) != 3 {
		t.Fatalf("alice saw %+v; want her update with her grants", self.User)
	}

	// Taking publish away unpublishes her stream; she can no longer publish.
	e.ok(http.StatusOK, "PATCH", e.appPath("/rooms/r1/participants/alice"), e.admin, map[string]any{"grants": []string{"subscribe", "data"}}, &p)
	if !slices.Equal(p.Grants, []string{"subscribe", "data"}) || len(p.Streams) != 0 {
		t.Fatalf("after revoking publish %+v", p)
	}
	un := clienttest.DecodeEvent[protocol.StreamEvent](t, clienttest.WaitEvent(t, bob, protocol.EvStreamUnpublished, nil))
	if un.Stream.ID != st.ID {
		t.Fatalf("bob saw %s unpublished", un.Stream.ID)
	}
	clienttest.WaitEvent(t, alice, protocol.EvStreamUnpublished, nil)
	upd := clienttest.DecodeEvent[protocol.ParticipantUpdatedEvent](t, clienttest.WaitEvent(t, alice, protocol.EvParticipantUpdated, nil))
	if !slices.Equal(upd.User.Grants, []string{"subscribe", "data"}) {
		t.Fatalf("alice was told grants %v", upd.User.Grants)
	}
	if _, err := alice.Publish(ctx10(t), "", protocol.MediaAudio); !errors.Is(err, protocol.NewError(protocol.CodePermission)) {
		t.Fatalf("publish without the grant: %v, want 2006", err)
	}

	e.fails(404, 3003, "", "PATCH", e.appPath("/rooms/r1/participants/nobody"), e.admin, map[string]any{"name": "x"})
	e.fails(404, 4004, "", "PATCH", e.appPath("/rooms/r9/participants/alice"), e.admin, map[string]any{"name": "x"})
	e.fails(400, 1003, "name", "PATCH", e.appPath("/rooms/r1/participants/alice"), e.admin, map[string]any{})
	e.fails(400, 1003, "name", "PATCH", e.appPath("/rooms/r1/participants/alice"), e.admin, map[string]any{"name": "a\x01"})
	e.fails(400, 1003, "metadata", "PATCH", e.appPath("/rooms/r1/participants/alice"), e.admin, map[string]any{"metadata": strings.Repeat("m", 4097)})
	e.fails(400, 1003, "grants[0]", "PATCH", e.appPath("/rooms/r1/participants/alice"), e.admin, map[string]any{"grants": []string{"root"}})
}

func TestKickBanUnban(t *testing.T) {
	e := start(t, nil)
	alice := e.join("alice", "r1")
	bob := e.join("bob", "r1")

	e.ok(http.StatusNoContent, "POST", e.appPath("/rooms/r1/participants/bob/kick"), e.admin, map[string]any{"ban_seconds": 60, "reason": "spam"}, nil)
	ko := clienttest.DecodeEvent[protocol.KickedOffEvent](t, clienttest.WaitEvent(t, bob, protocol.EvKickedOff, nil))
	if ko.Reason != protocol.ReasonKicked || ko.BanSeconds != 60 || ko.Message != "spam" || ko.By != "" {
		t.Fatalf("kicked_off = %+v", ko)
	}
	if err := clienttest.WaitDone(t, bob); !errors.Is(err, client.ErrKicked) {
		t.Fatalf("bob ended with %v", err)
	}
	left := clienttest.DecodeEvent[protocol.UserLeftEvent](t, clienttest.WaitEvent(t, alice, protocol.EvUserLeft, nil))
	if left.UserID != "bob" || left.Reason != protocol.ReasonKicked {
		t.Fatalf("alice saw %+v", left)
	}
	var ban struct {
		Room   ids.RoomID `json:"room"`
		User   ids.UserID `json:"user"`
		Until  int64      `json:"until"`
		Reason string     `json:"reason"`
	}
	e.ok(http.StatusOK, "GET", e.appPath("/rooms/r1/bans/bob"), e.admin, nil, &ban)
	if d := time.Until(time.UnixMilli(ban.Until)); ban.User != "bob" || ban.Reason != "spam" || d < 55*time.Second || d > 61*time.Second {
		t.Fatalf("ban = %+v (in %s)", ban, d)
	}
	if _, err := client.Join(ctx10(t), e.URL, e.Token(t, "bob", "r1"), "r1", nil); !errors.Is(err, protocol.NewError(protocol.CodeBanned)) {
		t.Fatalf("banned rejoin = %v, want 2007", err)
	}
	e.ok(http.StatusNoContent, "DELETE", e.appPath("/rooms/r1/bans/bob"), e.admin, nil, nil)
	e.ok(http.StatusNoContent, "DELETE", e.appPath("/rooms/r1/bans/bob"), e.admin, nil, nil) // idempotent
	e.fails(404, 4004, "", "GET", e.appPath("/rooms/r1/bans/bob"), e.admin, nil)
	e.join("bob", "r1")

	// Without a ban, someone absent is 404; with one, the ban is stored anyway.
	e.fails(404, 3003, "", "POST", e.appPath("/rooms/r1/participants/zed/kick"), e.admin, nil)
	e.fails(404, 3003, "", "POST", e.appPath("/rooms/closed/participants/zed/kick"), e.admin, nil)
	e.ok(http.StatusNoContent, "POST", e.appPath("/rooms/later/participants/zed/kick"), e.admin, map[string]any{"ban_seconds": 30}, nil)
	e.ok(http.StatusOK, "GET", e.appPath("/rooms/later/bans/zed"), e.admin, nil, nil)
	if _, err := client.Join(ctx10(t), e.URL, e.Token(t, "zed", "later"), "later", nil); !errors.Is(err, protocol.NewError(protocol.CodeBanned)) {
		t.Fatalf("join of a user banned ahead = %v, want 2007", err)
	}

	e.fails(400, 1003, "ban_seconds", "POST", e.appPath("/rooms/r1/participants/alice/kick"), e.admin, map[string]any{"ban_seconds": -1})
	e.fails(400, 1003, "ban_seconds", "POST", e.appPath("/rooms/r1/participants/alice/kick"), e.admin, map[string]any{"ban_seconds": 2592001})
	e.fails(400, 1003, "reason", "POST", e.appPath("/rooms/r1/participants/alice/kick"), e.admin, map[string]any{"reason": strings.Repeat("x", 300)})
	if alice.State() != client.StateConnected {
		t.Fatal("a refused kick removed alice")
	}
}
