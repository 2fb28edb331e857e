package api_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/minirtc/minirtc/internal/auth"
	"github.com/minirtc/minirtc/internal/clienttest"
	"github.com/minirtc/minirtc/internal/config"
	"github.com/minirtc/minirtc/pkg/client"
	"github.com/minirtc/minirtc/pkg/ids"
	"github.com/minirtc/minirtc/pkg/protocol"
)

type appBody struct {
	ID     ids.AppID `json:"id"`
	Name   string    `json:"name"`
	Limits struct {
		MaxParticipants int `json:"max_participants"`
		MaxRooms        int `json:"max_rooms"`
	} `json:"limits"`
	Secret                  string `json:"secret"`
	PreviousSecretExpiresAt int64  `json:"previous_secret_expires_at"`
	CreatedAt               int64  `json:"created_at"`
	UpdatedAt               int64  `json:"updated_at"`
}

// mintFor signs a token for an app created through the API.
func mintFor(t *testing.T, app appBody, user ids.UserID, room ids.RoomID, grants ...auth.Grant) string {
	t.Helper()
	c := auth.Claims{App: app.ID, User: user, Room: room, ExpiresAt: time.Now().Add(time.Hour)}
	if len(grants) > 0 {
		c.Grants = grants
	}
	tok, err := auth.Mint(app.Secret, c)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestAppsLifecycle(t *testing.T) {
	e := start(t, nil)
	var created appBody
	e.ok(http.StatusCreated, "POST", "/apps", operatorKey, map[string]any{"name": "Classroom 教室", "limits": map[string]int{"max_rooms": 5}}, &created)
	if created.Name != "Classroom 教室" || created.Secret == "" || created.Limits.MaxRooms != 5 || created.Limits.MaxParticipants != 0 {
		t.Fatalf("created %+v", created)
	}

	var list struct{ Apps []appBody }
	e.ok(http.StatusOK, "GET", "/apps", operatorKey, nil, &list)
	if len(list.Apps) != 2 || list.Apps[0].ID != e.App.ID || list.Apps[1].ID != created.ID {
		t.Fatalf("apps = %+v; want the development app then the new one", list.Apps)
	}
	for _, a := range list.Apps {
		if a.Secret != "" {
			t.Fatal("a listing shows a secret")
		}
	}
	var got appBody
	e.ok(http.StatusOK, "GET", "/apps/"+string(created.ID), operatorKey, nil, &got)
	if got.ID != created.ID || got.Secret != "" || got.CreatedAt != created.CreatedAt {
		t.Fatalf("get = %+v", got)
	}

	// Rename, then limits alone: each keeps the other.
	e.ok(http.StatusOK, "PATCH", "/apps/"+string(created.ID), operatorKey, map[string]any{"name": "Renamed"}, &got)
	if got.Name != "Renamed" || got.Limits.MaxRooms != 5 {
		t.Fatalf("after rename %+v", got)
	}
	e.ok(http.StatusOK, "PATCH", "/apps/"+string(created.ID), operatorKey, map[string]any{"limits": map[string]int{"max_participants": 2}}, &got)
	if got.Name != "Renamed" || got.Limits.MaxRooms != 5 || got.Limits.MaxParticipants != 2 {
		t.Fatalf("after limits %+v", got)
	}
	// An empty change is no change.
	e.ok(http.StatusOK, "PATCH", "/apps/"+string(created.ID), operatorKey, map[string]any{}, &got)
	if got.Name != "Renamed" {
		t.Fatalf("after an empty PATCH %+v", got)
	}

	e.fails(400, 1003, "name", "POST", "/apps", operatorKey, map[string]any{"name": ""})
	e.fails(400, 1003, "name", "POST", "/apps", operatorKey, map[string]any{"name": "a\nb"})
	e.fails(400, 1003, "name", "POST", "/apps", operatorKey, map[string]any{"name": strings.Repeat("é", 129)})
	e.fails(400, 1003, "limits.max_participants", "POST", "/apps", operatorKey, map[string]any{"name": "x", "limits": map[string]int{"max_participants": 51}})
	e.fails(400, 1003, "limits.max_rooms", "PATCH", "/apps/"+string(created.ID), operatorKey, map[string]any{"limits": map[string]int{"max_rooms": -1}})
	e.fails(400, 1003, "limits.max_rooms", "PATCH", "/apps/"+string(created.ID), operatorKey, map[string]any{"limits": map[string]any{"max_rooms": "3"}})
	e.fails(400, 1003, "limits.max_rooms", "PATCH", "/apps/"+string(created.ID), operatorKey, map[string]any{"limits": map[string]any{"max_rooms": 1.5}})
	e.fails(400, 1003, "secret", "PATCH", "/apps/"+string(created.ID), operatorKey, map[string]any{"secret": "mine"})
	e.fails(404, 4004, "", "GET", "/apps/appnosuchapp0000", operatorKey, nil)
	e.fails(404, 4004, "", "PATCH", "/apps/appnosuchapp0000", operatorKey, map[string]any{"name": "x"})
	e.fails(404, 4004, "", "DELETE", "/apps/appnosuchapp0000", operatorKey, nil)
	e.fails(404, 4004, "", "POST", "/apps/appnosuchapp0000/rotate_secret", operatorKey, nil)
	e.fails(404, 4004, "", "GET", "/apps/bad%20id", operatorKey, nil)
	if len(list.Apps) != 2 {
		t.Fatal("refused creations made apps")
	}

	// App management is the operator's alone.
	admin := mintFor(t, created, "boss", "", auth.GrantAdmin)
	e.fails(401, 4001, "", "GET", "/apps", admin, nil)
	e.fails(401, 4001, "", "GET", "/apps/"+string(created.ID), admin, nil)
	e.fails(401, 4001, "", "POST", "/apps/"+string(created.ID)+"/rotate_secret", admin, nil)
	e.fails(401, 4001, "", "DELETE", "/apps/"+string(created.ID), "not-the-operator-key-at-all", nil)
}

func TestAppLimitsAreEnforced(t *testing.T) {
	e := start(t, nil)
	var app appBody
	e.ok(http.StatusCreated, "POST", "/apps", operatorKey, map[string]any{"name": "small", "limits": map[string]int{"max_participants": 2, "max_rooms": 1}}, &app)
	joinApp := func(user ids.UserID, room ids.RoomID) (*client.Client, error) {
		c, err := client.Join(ctx10(t), e.URL, mintFor(t, app, user, room), room, nil)
		if err == nil {
			t.Cleanup(func() { c.Close() })
		}
		return c, err
	}
	for _, u := range []ids.UserID{"a", "b"} {
		if _, err := joinApp(u, "r1"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := joinApp("c", "r1"); !errors.Is(err, protocol.NewError(protocol.CodeRoomFull)) {
		t.Fatalf("third join = %v, want room full (3001)", err)
	}
	if _, err := joinApp("d", "r2"); !errors.Is(err, protocol.NewError(protocol.CodeTooManyRooms)) {
		t.Fatalf("second room = %v, want too many rooms (3002)", err)
	}
	// Raised limits apply to the next join at once.
	e.ok(http.StatusOK, "PATCH", "/apps/"+string(app.ID), operatorKey, map[string]any{"limits": map[string]int{"max_participants": 0, "max_rooms": 0}}, nil)
	if _, err := joinApp("c", "r1"); err != nil {
		t.Fatalf("join after raising the limit: %v", err)
	}
	if _, err := joinApp("d", "r2"); err != nil {
		t.Fatalf("second room after raising the limit: %v", err)
	}
	// Other apps keep the server's limits.
	e.join("x", "r1")
}

func TestRotateSecretWithOverlap(t *testing.T) {
	e := start(t, nil)
	var app appBody
	e.ok(http.StatusCreated, "POST", "/apps", operatorKey, map[string]any{"name": "rot"}, &app)
	oldAdmin := mintFor(t, app, "boss", "", auth.GrantAdmin)
	oldUser := mintFor(t, app, "u1", "r")

	var rotated appBody
	e.ok(http.StatusOK, "POST", "/apps/"+string(app.ID)+"/rotate_secret", operatorKey, map[string]any{"overlap_seconds": 600}, &rotated)
	if rotated.Secret == "" || rotated.Secret == app.Secret {
		t.Fatal("no new secret")
	}
	if d := time.UnixMilli(rotated.PreviousSecretExpiresAt).Sub(time.Now()); d < 590*time.Second || d > 610*time.Second {
		t.Fatalf("previous secret expires in %s, want about 600 s", d)
	}
	// During the overlap, old and new tokens both work, on the API and in rooms.
	e.ok(http.StatusOK, "GET", "/apps/"+string(app.ID)+"/rooms", oldAdmin, nil, nil)
	e.ok(http.StatusOK, "GET", "/apps/"+string(app.ID)+"/rooms", mintFor(t, rotated, "boss", "", auth.GrantAdmin), nil, nil)
	if c, err := client.Join(ctx10(t), e.URL, oldUser, "r", nil); err != nil {
		t.Fatalf("old token during the overlap: %v", err)
	} else {
		c.Close()
	}

	// Without overlap the old secret stops at once.
	rotated = appBody{}
	e.ok(http.StatusOK, "POST", "/apps/"+string(app.ID)+"/rotate_secret", operatorKey, map[string]any{"overlap_seconds": 0}, &rotated)
	if rotated.PreviousSecretExpiresAt != 0 {
		t.Fatalf("previous_secret_expires_at = %d after a rotation without overlap", rotated.PreviousSecretExpiresAt)
	}
	e.fails(401, 2002, "", "GET", "/apps/"+string(app.ID)+"/rooms", oldAdmin, nil)
	if _, err := client.Join(ctx10(t), e.URL, oldUser, "r2", nil); !errors.Is(err, protocol.NewError(protocol.CodeTokenSignature)) {
		t.Fatalf("old token after rotation without overlap: %v, want 2002", err)
	}
	e.fails(400, 1003, "overlap_seconds", "POST", "/apps/"+string(app.ID)+"/rotate_secret", operatorKey, map[string]any{"overlap_seconds": -1})
	e.fails(400, 1003, "overlap_seconds", "POST", "/apps/"+string(app.ID)+"/rotate_secret", operatorKey, map[string]any{"overlap_seconds": 2592001})
	// No body: the default overlap (one day).
	e.ok(http.StatusOK, "POST", "/apps/"+string(app.ID)+"/rotate_secret", operatorKey, nil, &rotated)
	if d := time.UnixMilli(rotated.PreviousSecretExpiresAt).Sub(time.Now()); d < 23*time.Hour || d > 25*time.Hour {
		t.Fatalf("default overlap %s, want a day", d)
	}
}

func TestDeleteAppEndsEverything(t *testing.T) {
	e := start(t, func(c *config.Config) { c.Room.EmptyGrace = time.Minute })
	var app appBody
	e.ok(http.StatusCreated, "POST", "/apps", operatorKey, map[string]any{"name": "doomed"}, &app)
	admin := mintFor(t, app, "boss", "", auth.GrantAdmin)
	c1, err := client.Join(ctx10(t), e.URL, mintFor(t, app, "u1", "r1"), "r1", nil)
	must(t, err)
	defer c1.Close()
	c2, err := client.Join(ctx10(t), e.URL, mintFor(t, app, "u2", "r2"), "r2", nil)
	must(t, err)
	defer c2.Close()
	other := e.join("bystander", "r1") // the development app's room of the same name

	e.ok(http.StatusNoContent, "DELETE", "/apps/"+string(app.ID), operatorKey, nil, nil)
	for _, c := range []*client.Client{c1, c2} {
		ev := clienttest.WaitEvent(t, c, protocol.EvRoomClosed, nil)
		if d := clienttest.DecodeEvent[protocol.RoomClosedEvent](t, ev); d.Reason == "" {
			t.Fatal("room_closed without a reason")
		}
		if err := clienttest.WaitDone(t, c); !errors.Is(err, client.ErrRoomClosed) {
			t.Fatalf("client ended with %v, want room closed", err)
		}
	}
	if n := len(e.Server.Rooms().Rooms(app.ID)); n != 0 {
		t.Fatalf("%d rooms of the deleted app remain", n)
	}
	// Its tokens stop working at once, on the API and for joins.
	e.fails(401, 2004, "", "GET", "/apps/"+string(app.ID)+"/rooms", admin, nil)
	if _, err := client.Join(ctx10(t), e.URL, mintFor(t, app, "u1", "r1"), "r1", nil); !errors.Is(err, protocol.NewError(protocol.CodeUnknownApp)) {
		t.Fatalf("join after deletion = %v, want unknown app (2004)", err)
	}
	e.fails(404, 4004, "", "GET", "/apps/"+string(app.ID), operatorKey, nil)
	e.fails(404, 4004, "", "GET", "/apps/"+string(app.ID)+"/rooms", operatorKey, nil)
	// Another app is untouched.
	if other.State() != client.StateConnected {
		t.Fatalf("a participant of another app was disconnected: %v", other.Err())
	}
}

func TestNoOperatorKeyConfigured(t *testing.T) {
	e := start(t, func(c *config.Config) { c.API.OperatorKey = "" })
	ae := e.fails(401, 4001, "", "GET", "/apps", operatorKey, nil)
	if !strings.Contains(ae.Error.Message, "api.operator_key") {
		t.Fatalf("message %q does not say how to set the key", ae.Error.Message)
	}
	e.fails(401, 4001, "", "POST", "/apps", "", map[string]any{"name": "x"})
	// App tokens still work.
	e.ok(http.StatusOK, "GET", e.appPath("/rooms"), e.admin, nil, nil)
}
