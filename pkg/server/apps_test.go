package server_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/minirtc/minirtc/internal/clienttest"
	"github.com/minirtc/minirtc/pkg/client"
	"github.com/minirtc/minirtc/pkg/ids"
	"github.com/minirtc/minirtc/pkg/protocol"
	"github.com/minirtc/minirtc/pkg/server"
)

// TestAppLifecycle walks an app through every app management call of an
// operator client, checking each change where it takes effect: tokens of
// the new app join, a rotated secret's overlap, a deleted app's rooms close.
func TestAppLifecycle(t *testing.T) {
	e := start(t, nil)
	ctx := ctx10(t)

	app, err := e.op.CreateApp(ctx, server.CreateAppRequest{Name: "Classroom", Limits: &server.LimitsRequest{MaxParticipants: new(2)}})
	must(t, err)
	if app.ID == "" || app.Secret == "" || app.Name != "Classroom" || app.Limits.MaxParticipants != 2 || app.CreatedAt == 0 {
		t.Fatalf("created %+v", app)
	}
	apps, err := e.op.ListApps(ctx)
	must(t, err)
	if len(apps) != 2 || apps[0].ID != e.App.ID || apps[1].ID != app.ID || apps[1].Secret != "" {
		t.Fatalf("apps = %+v; want the development app, then the new one, without secrets", apps)
	}
	got, err := e.op.GetApp(ctx, app.ID)
	must(t, err)
	if got.Name != "Classroom" || got.Secret != "" || got.CreatedAt.Time().IsZero() {
		t.Fatalf("get = %+v", got)
	}
	upd, err := e.op.UpdateApp(ctx, app.ID, server.UpdateAppRequest{Name: new("Classroom 2"), Limits: &server.LimitsRequest{MaxRooms: new(5)}})
	must(t, err)
	if upd.Name != "Classroom 2" || upd.Limits != (server.AppLimits{MaxParticipants: 2, MaxRooms: 5}) {
		t.Fatalf("updated %+v", upd)
	}

	// A client of the new app, from its secret: its tokens join, and the
	// app's participant limit (2) applies.
	ac := e.newClient(server.WithApp(app.ID, app.Secret))
	joinApp := func(c *server.Client, user string) (*client.Client, error) {
		tok, err := c.SignToken(server.Claims{User: ids.UserID("u" + user)})
		must(t, err)
		return client.Join(ctx, e.URL, tok, "r1", nil)
	}
	p1, err := joinApp(ac, "1")
	must(t, err)
	defer p1.Close()
	p2, err := joinApp(ac, "2")
	must(t, err)
	defer p2.Close()
	if p3, err := joinApp(ac, "3"); !isCode(err, protocol.CodeRoomFull) {
		if p3 != nil {
			p3.Close()
		}
		t.Fatalf("third join: %v, want room full", err)
	}

	// Rotate with an overlap: the old secret still works. Rotate again
	// with none: the secret before is dropped at once.
	rot, err := e.op.RotateSecret(ctx, app.ID, server.RotateSecretRequest{})
	must(t, err)
	if rot.Secret == "" || rot.Secret == app.Secret || rot.PreviousSecretExpiresAt.Time().Before(time.Now().Add(23*time.Hour)) {
		t.Fatalf("rotated %+v", rot)
	}
	if _, err := ac.ListRooms(ctx); err != nil {
		t.Fatalf("the old secret within its overlap: %v", err)
	}
	rot2, err := e.op.RotateSecret(ctx, app.ID, server.RotateSecretRequest{OverlapSeconds: new(int64(0))})
	must(t, err)
	if rot2.PreviousSecretExpiresAt != 0 {
		t.Fatalf("overlap 0: %+v", rot2)
	}
	old := e.newClient(server.WithApp(app.ID, app.Secret), server.WithAdminToken("fresh", time.Minute))
	_, err = old.ListRooms(ctx)
	wantAPIError(t, err, http.StatusUnauthorized, protocol.CodeTokenSignature, "")
	nc := e.newClient(server.WithApp(app.ID, rot2.Secret))
	rooms, err := nc.ListRooms(ctx)
	must(t, err)
	if len(rooms) != 1 || rooms[0].ID != "r1" || rooms[0].Participants != 2 {
		t.Fatalf("rooms = %+v", rooms)
	}

	// Delete: the room closes, the app is gone.
	must(t, e.op.DeleteApp(ctx, app.ID))
	clienttest.WaitDone(t, p1)
	_, err = e.op.GetApp(ctx, app.ID)
	wantAPIError(t, err, http.StatusNotFound, server.CodeNotFound, "")
	_, err = nc.ListRooms(ctx)
	wantAPIError(t, err, http.StatusUnauthorized, protocol.CodeUnknownApp, "")

	// Validation errors name the field.
	_, err = e.op.CreateApp(ctx, server.CreateAppRequest{Name: ""})
	wantAPIError(t, err, http.StatusBadRequest, protocol.CodeInvalidField, "name")
	_, err = e.op.UpdateApp(ctx, e.App.ID, server.UpdateAppRequest{Limits: &server.LimitsRequest{MaxRooms: new(-1)}})
	wantAPIError(t, err, http.StatusBadRequest, protocol.CodeInvalidField, "limits.max_rooms")
	// An app client cannot manage apps.
	_, err = e.app.ListApps(ctx)
	wantAPIError(t, err, http.StatusUnauthorized, server.CodeUnauthorized, "")
}
