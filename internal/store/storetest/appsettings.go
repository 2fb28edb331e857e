package storetest

import (
	"context"
	"errors"
	"regexp"
	"testing"
	"time"

	"github.com/minirtc/minirtc/internal/store"
	"github.com/minirtc/minirtc/pkg/ids"
)

// Conformance cases for store.AppSettings and store.Ingests (appsettings.go).

func ptr[T any](v T) *T { return &v }

func testUpdateApp(t *testing.T, s store.Store) {
	ctx := context.Background()
	a := mustApp(t, s, "before")
	if a.Limits != (store.AppLimits{}) {
		t.Fatalf("new app has limits %+v, want zero (the server's)", a.Limits)
	}
	other := mustApp(t, s, "other")

	got, err := s.UpdateApp(ctx, a.ID, store.AppUpdate{Name: ptr("after 改名"), MaxParticipants: ptr(8)}, base)
	if err != nil {
		t.Fatalf("UpdateApp: %v", err)
	}
	want := a
	want.Name, want.Limits.MaxParticipants, want.UpdatedAt = "after 改名", 8, base
	if !sameApp(got, want) {
		t.Fatalf("UpdateApp = %+v, want %+v", got, want)
	}
	// Only the fields set change: max_rooms now, name and participants kept.
	got, err = s.UpdateApp(ctx, a.ID, store.AppUpdate{MaxRooms: ptr(3)}, base.Add(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	want.Limits.MaxRooms, want.UpdatedAt = 3, base.Add(time.Second)
	if !sameApp(got, want) {
		t.Fatalf("second UpdateApp = %+v, want %+v", got, want)
	}
	// Zero puts the server's limit back.
	got, err = s.UpdateApp(ctx, a.ID, store.AppUpdate{MaxParticipants: ptr(0)}, base.Add(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	want.Limits.MaxParticipants, want.UpdatedAt = 0, base.Add(2*time.Second)
	if !sameApp(got, want) {
		t.Fatalf("reset UpdateApp = %+v, want %+v", got, want)
	}
	for _, read := range []func() (store.App, error){
		func() (store.App, error) { return s.GetApp(ctx, a.ID) },
		func() (store.App, error) {
			apps, err := s.ListApps(ctx)
			for _, x := range apps {
				if x.ID == a.ID {
					return x, err
				}
			}
			return store.App{}, err
		},
	} {
		if stored, err := read(); err != nil || !sameApp(stored, want) {
			t.Fatalf("stored app = %+v, %v; want %+v", stored, err, want)
		}
	}
	// An empty update changes nothing, not even UpdatedAt.
	if got, err := s.UpdateApp(ctx, a.ID, store.AppUpdate{}, base.Add(time.Hour)); err != nil || !sameApp(got, want) {
		t.Fatalf("empty UpdateApp = %+v, %v; want %+v", got, err, want)
	}
	// Rotation keeps the limits.
	r, err := s.RotateSecret(ctx, a.ID, 0, base.Add(3*time.Second))
	if err != nil || r.Limits != want.Limits {
		t.Fatalf("after rotation limits = %+v, %v; want %+v", r.Limits, err, want.Limits)
	}
	if o, _ := s.GetApp(ctx, other.ID); !sameApp(o, other) {
		t.Fatalf("updating one app changed another: %+v", o)
	}
}

func testUpdateAppErrors(t *testing.T, s store.Store) {
	ctx := context.Background()
	a := mustApp(t, s, "name")
	bad := map[string]store.AppUpdate{
		"empty name":              {Name: ptr("")},
		"control name":            {Name: ptr("a\nb"), MaxRooms: ptr(2)},
		"negative participants":   {MaxParticipants: ptr(-1)},
		"participants over limit": {MaxParticipants: ptr(store.MaxAppLimit + 1)},
		"negative rooms":          {Name: ptr("fine"), MaxRooms: ptr(-5)},
	}
	for name, u := range bad {
		if _, err := s.UpdateApp(ctx, a.ID, u, base); err == nil {
			t.Errorf("UpdateApp(%s) succeeded, want an error", name)
		}
	}
	if got, _ := s.GetApp(ctx, a.ID); !sameApp(got, a) {
		t.Fatalf("refused updates changed the app: %+v, want %+v", got, a)
	}
	if _, err := s.UpdateApp(ctx, a.ID, store.AppUpdate{MaxRooms: ptr(store.MaxAppLimit)}, base); err != nil {
		t.Fatalf("UpdateApp at MaxAppLimit: %v", err)
	}
	for _, u := range []store.AppUpdate{{Name: ptr("x")}, {}} {
		if _, err := s.UpdateApp(ctx, "appnosuchapp", u, base); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("UpdateApp(missing, %+v) = %v, want ErrNotFound", u, err)
		}
	}
}

func testDeleteApp(t *testing.T, s store.Store) {
	ctx := context.Background()
	a, b := mustApp(t, s, "doomed"), mustApp(t, s, "kept")
	for _, app := range []store.App{a, b} {
		addReports(t, s, report(app.ID, "room", "user", base))
		if err := s.PutBan(ctx, store.Ban{App: app.ID, Room: "room", User: "user"}); err != nil {
			t.Fatal(err)
		}
	}
	ina := mustIngest(t, s, ingest(a.ID, "room", "enc", base))
	inb := mustIngest(t, s, ingest(b.ID, "room", "enc", base))

	if err := s.DeleteApp(ctx, a.ID); err != nil {
		t.Fatalf("DeleteApp: %v", err)
	}
	if _, err := s.GetApp(ctx, a.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetApp after DeleteApp = %v, want ErrNotFound", err)
	}
	if apps, err := s.ListApps(ctx); err != nil || len(apps) != 1 || apps[0].ID != b.ID {
		t.Fatalf("ListApps after DeleteApp = %+v, %v; want only %s", apps, err, b.ID)
	}
	if got, err := s.QueryReports(ctx, store.ReportQuery{App: a.ID}); err != nil || len(got) != 0 {
		t.Fatalf("reports of a deleted app = %d, %v; want none", len(got), err)
	}
	if _, ok, err := s.ActiveBan(ctx, a.ID, "room", "user", base); ok || err != nil {
		t.Fatalf("ban of a deleted app = %v, %v; want none", ok, err)
	}
	if _, err := s.GetIngest(ctx, a.ID, ina.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("ingest of a deleted app: %v, want ErrNotFound", err)
	}
	// The other app keeps everything.
	if got, _ := s.QueryReports(ctx, store.ReportQuery{App: b.ID}); len(got) != 1 {
		t.Fatalf("other app's reports = %d, want 1", len(got))
	}
	if _, ok, _ := s.ActiveBan(ctx, b.ID, "room", "user", base); !ok {
		t.Fatal("other app's ban is gone")
	}
	if _, err := s.GetIngest(ctx, b.ID, inb.ID); err != nil {
		t.Fatalf("other app's ingest: %v", err)
	}
	if err := s.DeleteApp(ctx, a.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("second DeleteApp = %v, want ErrNotFound", err)
	}
	if _, err := s.RotateSecret(ctx, a.ID, 0, base); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("RotateSecret of a deleted app = %v, want ErrNotFound", err)
	}
}

func ingest(app ids.AppID, room ids.RoomID, user ids.UserID, created time.Time) store.Ingest {
	return store.Ingest{App: app, Room: room, User: user, Stream: ids.Stream(user, "main"),
		CreatedAt: created, ExpiresAt: created.Add(time.Hour)}
}

func mustIngest(t *testing.T, s store.Store, in store.Ingest) store.Ingest {
	t.Helper()
	got, err := s.CreateIngest(context.Background(), in)
	if err != nil {
		t.Fatalf("CreateIngest(%+v): %v", in, err)
	}
	return got
}

var ingestIDPattern = regexp.MustCompile(`^ing[0-9a-v]{16}$`)

func testIngestsRoundTrip(t *testing.T, s store.Store) {
	ctx := context.Background()
	a := mustApp(t, s, "i")
	in := ingest(a.ID, "live", "obs", base.Add(1234567*time.Microsecond).In(time.FixedZone("X", 3600)))
	in.ExpiresAt = base.Add(2 * time.Hour)
	in.ID, in.RevokedAt = "ignored", base // ignored by CreateIngest
	got := mustIngest(t, s, in)
	if !ingestIDPattern.MatchString(got.ID) {
		t.Fatalf("ingest id %q, want ing + 16 base32hex characters", got.ID)
	}
	want := in
	want.ID, want.RevokedAt, want.CreatedAt = got.ID, time.Time{}, base.Add(1234*time.Millisecond)
	if !sameIngest(got, want) {
		t.Fatalf("CreateIngest = %+v, want %+v", got, want)
	}
	stored, err := s.GetIngest(ctx, a.ID, got.ID)
	if err != nil || !sameIngest(stored, want) || stored.CreatedAt.Location() != time.UTC {
		t.Fatalf("GetIngest = %+v, %v; want %+v in UTC", stored, err, want)
	}
	if second := mustIngest(t, s, in); second.ID == got.ID {
		t.Fatal("two ingests share an id")
	}
	b := mustApp(t, s, "other")
	if _, err := s.GetIngest(ctx, b.ID, got.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetIngest with another app = %v, want ErrNotFound", err)
	}
	if _, err := s.GetIngest(ctx, a.ID, "ingnosuchingest0000"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetIngest(missing) = %v, want ErrNotFound", err)
	}
}

func testIngestsInvalid(t *testing.T, s store.Store) {
	ctx := context.Background()
	a := mustApp(t, s, "i")
	good := ingest(a.ID, "r", "u", base)
	mod := func(f func(in *store.Ingest)) store.Ingest { in := good; f(&in); return in }
	for name, in := range map[string]store.Ingest{
		"no app":           mod(func(in *store.Ingest) { in.App = "" }),
		"bad room":         mod(func(in *store.Ingest) { in.Room = "a b" }),
		"bad user":         mod(func(in *store.Ingest) { in.User = "u!" }),
		"other's stream":   mod(func(in *store.Ingest) { in.Stream = "v_main" }),
		"no tag":           mod(func(in *store.Ingest) { in.Stream = "u_" }),
		"no creation time": mod(func(in *store.Ingest) { in.CreatedAt = time.Time{} }),
		"no expiry":        mod(func(in *store.Ingest) { in.ExpiresAt = time.Time{} }),
		"fractional exp":   mod(func(in *store.Ingest) { in.ExpiresAt = in.ExpiresAt.Add(time.Millisecond) }),
		"expires first":    mod(func(in *store.Ingest) { in.ExpiresAt = in.CreatedAt.Add(-time.Hour) }),
	} {
		if _, err := s.CreateIngest(ctx, in); err == nil {
			t.Errorf("CreateIngest(%s) succeeded, want an error", name)
		}
	}
	if _, err := s.CreateIngest(ctx, mod(func(in *store.Ingest) { in.App = "appnosuchapp" })); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("CreateIngest for a missing app = %v, want ErrNotFound", err)
	}
	if got, err := s.ListIngests(ctx, a.ID, base); err != nil || len(got) != 0 {
		t.Fatalf("refused ingests were stored: %+v, %v", got, err)
	}
}

func testIngestsListAndPurge(t *testing.T, s store.Store) {
	ctx := context.Background()
	a, b := mustApp(t, s, "a"), mustApp(t, s, "b")
	old := mustIngest(t, s, store.Ingest{App: a.ID, Room: "r", User: "u0", Stream: "u0_main",
		CreatedAt: base.Add(-3 * time.Hour), ExpiresAt: base.Add(-2 * time.Hour)}) // expired
	var made []store.Ingest
	for i, u := range []ids.UserID{"u1", "u2", "u3"} {
		made = append(made, mustIngest(t, s, ingest(a.ID, "r", u, base.Add(time.Duration(i)*time.Minute))))
	}
	mustIngest(t, s, ingest(b.ID, "r", "u1", base))
	if _, err := s.RevokeIngest(ctx, a.ID, made[1].ID, base.Add(5*time.Minute)); err != nil {
		t.Fatal(err)
	}
	got, err := s.ListIngests(ctx, a.ID, base.Add(10*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[0].ID != made[2].ID || got[1].ID != made[1].ID || got[2].ID != made[0].ID {
		t.Fatalf("ListIngests = %+v; want the three unexpired ones, newest first", got)
	}
	if !got[1].Revoked() || got[0].Revoked() {
		t.Fatal("ListIngests lost or invented a revocation")
	}
	// At exactly its expiry an ingest is no longer listed.
	if got, _ := s.ListIngests(ctx, a.ID, made[0].ExpiresAt); len(got) != 2 {
		t.Fatalf("ListIngests at the first expiry returned %d, want 2", len(got))
	}
	// The expired ingest is still there (expired 2 h ago, retention 24 h)...
	if _, err := s.GetIngest(ctx, a.ID, old.ID); err != nil {
		t.Fatalf("recently expired ingest: %v", err)
	}
	// ...until a creation more than IngestRetention after its expiry purges it.
	later := base.Add(-2*time.Hour + store.IngestRetention + time.Minute)
	fresh := mustIngest(t, s, ingest(a.ID, "r", "u4", later))
	if _, err := s.GetIngest(ctx, a.ID, old.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("ingest expired beyond retention: %v, want purged (ErrNotFound)", err)
	}
	for _, keep := range append(made, fresh) {
		if _, err := s.GetIngest(ctx, a.ID, keep.ID); err != nil {
			t.Fatalf("purge removed %s: %v", keep.ID, err)
		}
	}
	if got, _ := s.ListIngests(ctx, b.ID, base); len(got) != 1 || got[0].App != b.ID {
		t.Fatalf("other app's ingests = %+v", got)
	}
}

func testIngestsRevoke(t *testing.T, s store.Store) {
	ctx := context.Background()
	a := mustApp(t, s, "a")
	in := mustIngest(t, s, ingest(a.ID, "r", "enc", base))
	revoked := func(app ids.AppID, room ids.RoomID, stream ids.StreamID, user ids.UserID, exp time.Time) bool {
		t.Helper()
		ok, err := s.IngestRevoked(ctx, app, room, stream, user, exp)
		if err != nil {
			t.Fatalf("IngestRevoked: %v", err)
		}
		return ok
	}
	if revoked(a.ID, "r", in.Stream, "enc", in.ExpiresAt) {
		t.Fatal("ingest revoked before RevokeIngest")
	}
	r, err := s.RevokeIngest(ctx, a.ID, in.ID, base.Add(time.Minute))
	if err != nil || !r.RevokedAt.Equal(base.Add(time.Minute)) {
		t.Fatalf("RevokeIngest = %+v, %v", r, err)
	}
	again, err := s.RevokeIngest(ctx, a.ID, in.ID, base.Add(time.Hour))
	if err != nil || !again.RevokedAt.Equal(base.Add(time.Minute)) {
		t.Fatalf("second RevokeIngest = %+v, %v; want the first revocation time kept", again, err)
	}
	if got, _ := s.GetIngest(ctx, a.ID, in.ID); !got.RevokedAt.Equal(base.Add(time.Minute)) {
		t.Fatalf("stored RevokedAt = %v", got.RevokedAt)
	}
	if !revoked(a.ID, "r", in.Stream, "enc", in.ExpiresAt) {
		t.Fatal("revoked ingest not reported revoked")
	}
	// Sub-second parts of the expiry are ignored, as URLs carry seconds.
	if !revoked(a.ID, "r", in.Stream, "enc", in.ExpiresAt.Add(300*time.Millisecond)) {
		t.Fatal("revocation not found with a sub-second expiry")
	}
	b := mustApp(t, s, "b")
	for name, c := range map[string]struct {
		app    ids.AppID
		room   ids.RoomID
		stream ids.StreamID
		user   ids.UserID
		exp    time.Time
	}{
		"other expiry": {a.ID, "r", in.Stream, "enc", in.ExpiresAt.Add(time.Second)},
		"other room":   {a.ID, "r2", in.Stream, "enc", in.ExpiresAt},
		"other stream": {a.ID, "r", "enc_screen", "enc", in.ExpiresAt},
		"other user":   {a.ID, "r", in.Stream, "enc2", in.ExpiresAt},
		"other app":    {b.ID, "r", in.Stream, "enc", in.ExpiresAt},
	} {
		if revoked(c.app, c.room, c.stream, c.user, c.exp) {
			t.Errorf("%s: reported revoked; only the exact fields are", name)
		}
	}
	if _, err := s.RevokeIngest(ctx, b.ID, in.ID, base); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("RevokeIngest with another app = %v, want ErrNotFound", err)
	}
	if _, err := s.RevokeIngest(ctx, a.ID, "ingnosuchingest0000", base); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("RevokeIngest(missing) = %v, want ErrNotFound", err)
	}
}

func sameIngest(a, b store.Ingest) bool {
	return a.ID == b.ID && a.App == b.App && a.Room == b.Room && a.User == b.User && a.Stream == b.Stream &&
		a.ExpiresAt.Equal(b.ExpiresAt) && a.CreatedAt.Equal(b.CreatedAt) && a.RevokedAt.Equal(b.RevokedAt)
}

// appSettingsCases are the conformance cases of store.AppSettings and
// store.Ingests, registered in Run.
var appSettingsCases = []struct {
	name string
	fn   func(t *testing.T, s store.Store)
}{
	{"UpdateApp", testUpdateApp},
	{"UpdateAppErrors", testUpdateAppErrors},
	{"DeleteAppRemovesEverything", testDeleteApp},
	{"IngestsRoundTrip", testIngestsRoundTrip},
	{"IngestsRejectInvalid", testIngestsInvalid},
	{"IngestsListAndPurge", testIngestsListAndPurge},
	{"IngestsRevoke", testIngestsRevoke},
}
