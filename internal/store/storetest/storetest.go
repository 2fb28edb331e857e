// Package storetest is a conformance suite for store.Store implementations.
// Every implementation's tests call Run with a function that opens a fresh,
// empty store; Run closes the stores it opens.
package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/minirtc/minirtc/internal/store"
	"github.com/minirtc/minirtc/pkg/ids"
)

// Run runs the conformance suite against the stores open returns.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"CreateGetApp", testCreateGetApp},
		{"CreateAppRejectsBadNames", testCreateAppBadNames},
		{"GetAppNotFound", testGetAppNotFound},
		{"ListAppsOldestFirst", testListApps},
		{"RotateSecretWithOverlap", testRotateOverlap},
		{"RotateSecretWithoutOverlap", testRotateNoOverlap},
		{"RotateSecretErrors", testRotateErrors},
		{"ReportsRoundTrip", testReportsRoundTrip},
		{"ReportsFilters", testReportsFilters},
		{"ReportsOrderAndLimit", testReportsOrderAndLimit},
		{"ReportsRejectInvalid", testReportsInvalid},
		{"BansUpsertExpireDelete", testBans},
		{"BansRejectInvalid", testBansInvalid},
		{"AppsAreIsolated", testIsolation},
		{"Webhooks", testWebhooks}, // webhooks.go
	}
	tests = append(tests, usageCases...) // usage.go
	tests = append(tests, appSettingsCases...)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			t.Cleanup(func() {
				if err := s.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			})
			tc.fn(t, s)
		})
	}
}

// base is a fixed, millisecond-aligned instant so expectations are exact.
var base = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func mustApp(t *testing.T, s store.Store, name string) store.App {
	t.Helper()
	a, err := s.CreateApp(context.Background(), name)
	if err != nil {
		t.Fatalf("CreateApp(%q): %v", name, err)
	}
	return a
}

func testCreateGetApp(t *testing.T, s store.Store) {
	ctx := context.Background()
	before := time.Now().Add(-time.Second)
	a := mustApp(t, s, "Demo app ✓")
	if err := a.ID.Validate(); err != nil {
		t.Fatalf("created app id: %v", err)
	}
	if a.Name != "Demo app ✓" || len(a.Secret) != 43 || a.PreviousSecret != "" || !a.PreviousSecretUntil.IsZero() {
		t.Fatalf("created app = %+v", a)
	}
	if a.CreatedAt.Before(before) || a.CreatedAt.After(time.Now().Add(time.Second)) {
		t.Fatalf("CreatedAt = %v, want about now", a.CreatedAt)
	}
	got, err := s.GetApp(ctx, a.ID)
	if err != nil {
		t.Fatalf("GetApp: %v", err)
	}
	if !sameApp(got, a) {
		t.Fatalf("GetApp = %+v, want %+v", got, a)
	}
	b := mustApp(t, s, "Demo app ✓") // names need not be unique
	if b.ID == a.ID || b.Secret == a.Secret {
		t.Fatal("two apps share an id or a secret")
	}
}

func testCreateAppBadNames(t *testing.T, s store.Store) {
	long := make([]rune, store.MaxAppNameLen+1)
	for i := range long {
		long[i] = 'é'
	}
	for _, name := range []string{"", "a\nb", "tab\there", "\x7f", string(long), "bad\xffutf8"} {
		if _, err := s.CreateApp(context.Background(), name); err == nil {
			t.Errorf("CreateApp(%q) succeeded, want an error", name)
		}
	}
	// Exactly the limit (in characters, not bytes) is fine.
	if _, err := s.CreateApp(context.Background(), string(long[1:])); err != nil {
		t.Errorf("CreateApp(%d characters): %v", store.MaxAppNameLen, err)
	}
	apps, err := s.ListApps(context.Background())
	if err != nil || len(apps) != 1 {
		t.Fatalf("ListApps = %d apps, %v; want only the valid one", len(apps), err)
	}
}

func testGetAppNotFound(t *testing.T, s store.Store) {
	_, err := s.GetApp(context.Background(), "appnosuchapp")
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetApp(missing) error = %v, want ErrNotFound", err)
	}
}

func testListApps(t *testing.T, s store.Store) {
	ctx := context.Background()
	apps, err := s.ListApps(ctx)
	if err != nil || len(apps) != 0 {
		t.Fatalf("ListApps on an empty store = %v, %v", apps, err)
	}
	var want []ids.AppID
	for _, n := range []string{"first", "second", "third"} {
		want = append(want, mustApp(t, s, n).ID)
		time.Sleep(2 * time.Millisecond) // distinct creation times
	}
	apps, err = s.ListApps(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(apps) != len(want) {
		t.Fatalf("ListApps returned %d apps, want %d", len(apps), len(want))
	}
	for i, a := range apps {
		if a.ID != want[i] {
			t.Fatalf("ListApps[%d] = %s, want %s (oldest first)", i, a.ID, want[i])
		}
		if a.Secret == "" {
			t.Fatalf("ListApps[%d] has no secret", i)
		}
	}
}

func testRotateOverlap(t *testing.T, s store.Store) {
	ctx := context.Background()
	a := mustApp(t, s, "rotating")
	r, err := s.RotateSecret(ctx, a.ID, time.Hour, base)
	if err != nil {
		t.Fatalf("RotateSecret: %v", err)
	}
	if r.Secret == a.Secret || r.Secret == "" || r.PreviousSecret != a.Secret {
		t.Fatalf("after rotation secret=%q previous=%q, want new secret and previous=%q", r.Secret, r.PreviousSecret, a.Secret)
	}
	if !r.PreviousSecretUntil.Equal(base.Add(time.Hour)) || !r.UpdatedAt.Equal(base) {
		t.Fatalf("PreviousSecretUntil=%v UpdatedAt=%v, want %v and %v", r.PreviousSecretUntil, r.UpdatedAt, base.Add(time.Hour), base)
	}
	if !r.CreatedAt.Equal(a.CreatedAt) || r.Name != a.Name {
		t.Fatalf("rotation changed name or creation time: %+v", r)
	}
	if !r.PreviousSecretValid(base.Add(59*time.Minute)) || r.PreviousSecretValid(base.Add(time.Hour)) {
		t.Fatal("previous secret must be valid before PreviousSecretUntil and not at it")
	}
	got, err := s.GetApp(ctx, a.ID)
	if err != nil || !sameApp(got, r) {
		t.Fatalf("GetApp after rotation = %+v, %v; want %+v", got, err, r)
	}
	// A second rotation keeps only the secret just replaced.
	r2, err := s.RotateSecret(ctx, a.ID, time.Minute, base.Add(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if r2.PreviousSecret != r.Secret || r2.Secret == r.Secret || r2.Secret == a.Secret {
		t.Fatalf("second rotation: previous=%q secret=%q", r2.PreviousSecret, r2.Secret)
	}
	if !r2.PreviousSecretUntil.Equal(base.Add(time.Second + time.Minute)) {
		t.Fatalf("second rotation PreviousSecretUntil = %v", r2.PreviousSecretUntil)
	}
}

func testRotateNoOverlap(t *testing.T, s store.Store) {
	ctx := context.Background()
	a := mustApp(t, s, "rotating")
	if _, err := s.RotateSecret(ctx, a.ID, time.Hour, base); err != nil {
		t.Fatal(err)
	}
	r, err := s.RotateSecret(ctx, a.ID, 0, base)
	if err != nil {
		t.Fatalf("RotateSecret(overlap 0): %v", err)
	}
	if r.Secret == a.Secret || r.PreviousSecret != "" || !r.PreviousSecretUntil.IsZero() || r.PreviousSecretValid(base) {
		t.Fatalf("overlap 0 must drop the old secret at once: %+v", r)
	}
	got, err := s.GetApp(ctx, a.ID)
	if err != nil || !sameApp(got, r) {
		t.Fatalf("GetApp = %+v, %v; want %+v", got, err, r)
	}
}

func testRotateErrors(t *testing.T, s store.Store) {
	ctx := context.Background()
	if _, err := s.RotateSecret(ctx, "appnosuchapp", time.Hour, base); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("RotateSecret(missing) = %v, want ErrNotFound", err)
	}
	a := mustApp(t, s, "x")
	if _, err := s.RotateSecret(ctx, a.ID, -time.Second, base); err == nil {
		t.Fatal("RotateSecret with a negative overlap succeeded")
	}
	if got, _ := s.GetApp(ctx, a.ID); got.Secret != a.Secret {
		t.Fatal("a refused rotation changed the secret")
	}
}

func report(app ids.AppID, room ids.RoomID, user ids.UserID, at time.Time) store.Report {
	return store.Report{App: app, Room: room, User: user, Session: "s1", Kind: "quality",
		Data: json.RawMessage(`{"rtt":42}`), At: at}
}

func addReports(t *testing.T, s store.Store, rs ...store.Report) []int64 {
	t.Helper()
	var out []int64
	for _, r := range rs {
		id, err := s.AddReport(context.Background(), r)
		if err != nil {
			t.Fatalf("AddReport(%+v): %v", r, err)
		}
		out = append(out, id)
	}
	return out
}

func testReportsRoundTrip(t *testing.T, s store.Store) {
	ctx := context.Background()
	a := mustApp(t, s, "r")
	in := store.Report{App: a.ID, Room: "room1", User: "alice", Session: "sess-1", Kind: "pusher",
		Stream: "alice_main", Data: json.RawMessage(`{"code": 1002, "msg":"已经连接推流服务器"}`),
		At: base.Add(1234567 * time.Microsecond).In(time.FixedZone("X", 3600))}
	id := addReports(t, s, in, store.Report{App: a.ID, Room: "room1", User: "bob", Kind: "player", At: base})
	got, err := s.QueryReports(ctx, store.ReportQuery{App: a.ID})
	if err != nil || len(got) != 2 {
		t.Fatalf("QueryReports = %v, %v; want 2 reports", got, err)
	}
	r := got[0]
	want := in
	want.ID = id[0]
	want.At = base.Add(1234 * time.Millisecond) // millisecond precision, UTC
	if r.ID != want.ID || r.App != want.App || r.Room != want.Room || r.User != want.User || r.Session != want.Session ||
		r.Kind != want.Kind || r.Stream != want.Stream || string(r.Data) != string(want.Data) ||
		!r.At.Equal(want.At) || r.At.Location() != time.UTC {
		t.Fatalf("report round trip:\n got %+v\nwant %+v", r, want)
	}
	if string(got[1].Data) != "{}" || got[1].Session != "" || got[1].Stream != "" {
		t.Fatalf("report without data/session/stream came back as %+v", got[1])
	}
	if id[1] <= id[0] {
		t.Fatalf("report ids not increasing: %v", id)
	}
}

func testReportsFilters(t *testing.T, s store.Store) {
	ctx := context.Background()
	a := mustApp(t, s, "r")
	rid := addReports(t, s,
		report(a.ID, "r1", "alice", base),                    // 0
		report(a.ID, "r1", "bob", base.Add(time.Minute)),     // 1
		report(a.ID, "r2", "alice", base.Add(2*time.Minute)), // 2
		report(a.ID, "r2", "carol", base.Add(3*time.Minute)), // 3
		report(a.ID, "r1", "alice", base.Add(4*time.Minute)), // 4
	)
	cases := []struct {
		name string
		q    store.ReportQuery
		want []int // indexes into ids, newest first
	}{
		{"all", store.ReportQuery{App: a.ID}, []int{4, 3, 2, 1, 0}},
		{"room", store.ReportQuery{App: a.ID, Room: "r1"}, []int{4, 1, 0}},
		{"user", store.ReportQuery{App: a.ID, User: "alice"}, []int{4, 2, 0}},
		{"room+user", store.ReportQuery{App: a.ID, Room: "r2", User: "alice"}, []int{2}},
		{"from inclusive", store.ReportQuery{App: a.ID, From: base.Add(2 * time.Minute)}, []int{4, 3, 2}},
		{"to exclusive", store.ReportQuery{App: a.ID, To: base.Add(2 * time.Minute)}, []int{1, 0}},
		{"window", store.ReportQuery{App: a.ID, From: base.Add(time.Minute), To: base.Add(4 * time.Minute)}, []int{3, 2, 1}},
		{"window+room", store.ReportQuery{App: a.ID, Room: "r1", From: base.Add(time.Minute), To: base.Add(4 * time.Minute)}, []int{1}},
		{"no match", store.ReportQuery{App: a.ID, User: "nobody"}, nil},
		{"other app", store.ReportQuery{App: "appother"}, nil},
	}
	for _, c := range cases {
		got, err := s.QueryReports(ctx, c.q)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if len(got) != len(c.want) {
			t.Fatalf("%s: got %d reports, want %d", c.name, len(got), len(c.want))
		}
		for i, w := range c.want {
			if got[i].ID != rid[w] {
				t.Fatalf("%s: report %d has id %d, want %d", c.name, i, got[i].ID, rid[w])
			}
		}
	}
	bad := []store.ReportQuery{
		{},                                // no app
		{App: "bad app"},                  // invalid app id
		{App: a.ID, Room: "a/b"},          // invalid room id
		{App: a.ID, User: "x y"},          // invalid user id
		{App: a.ID, From: base, To: base}, // empty window
	}
	for _, q := range bad {
		if _, err := s.QueryReports(ctx, q); err == nil {
			t.Errorf("QueryReports(%+v) succeeded, want an error", q)
		}
	}
}

func testReportsOrderAndLimit(t *testing.T, s store.Store) {
	ctx := context.Background()
	a := mustApp(t, s, "r")
	// Same timestamp: the later insert (higher id) comes first.
	same := addReports(t, s, report(a.ID, "r", "u", base), report(a.ID, "r", "u", base))
	got, err := s.QueryReports(ctx, store.ReportQuery{App: a.ID})
	if err != nil || len(got) != 2 || got[0].ID != same[1] || got[1].ID != same[0] {
		t.Fatalf("tie order: got %v, %v; want ids %d then %d", got, err, same[1], same[0])
	}
	// Inserted out of time order: results still newest first.
	for i := 0; i < 1100; i++ {
		at := base.Add(time.Duration((i*7919)%1100+1) * time.Second)
		addReports(t, s, report(a.ID, "r", "u", at))
	}
	check := func(limit, want int) []store.Report {
		t.Helper()
		got, err := s.QueryReports(ctx, store.ReportQuery{App: a.ID, Limit: limit})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != want {
			t.Fatalf("limit %d: got %d reports, want %d", limit, len(got), want)
		}
		for i := 1; i < len(got); i++ {
			if got[i].At.After(got[i-1].At) {
				t.Fatalf("limit %d: report %d (%v) is newer than report %d (%v)", limit, i, got[i].At, i-1, got[i-1].At)
			}
		}
		return got
	}
	check(0, store.DefaultReportLimit)
	check(-5, store.DefaultReportLimit)
	check(5000, store.MaxReportLimit)
	top := check(3, 3)
	if !top[0].At.Equal(base.Add(1100 * time.Second)) {
		t.Fatalf("newest report at %v, want %v", top[0].At, base.Add(1100*time.Second))
	}
}

func testReportsInvalid(t *testing.T, s store.Store) {
	ctx := context.Background()
	a := mustApp(t, s, "r")
	good := report(a.ID, "r", "u", base)
	mod := func(f func(r *store.Report)) store.Report { r := good; f(&r); return r }
	bad := map[string]store.Report{
		"no app":       mod(func(r *store.Report) { r.App = "" }),
		"bad room":     mod(func(r *store.Report) { r.Room = "a b" }),
		"no user":      mod(func(r *store.Report) { r.User = "" }),
		"bad session":  mod(func(r *store.Report) { r.Session = "s/1" }),
		"bad stream":   mod(func(r *store.Report) { r.Stream = "nounderscore" }),
		"no kind":      mod(func(r *store.Report) { r.Kind = "" }),
		"no time":      mod(func(r *store.Report) { r.At = time.Time{} }),
		"data array":   mod(func(r *store.Report) { r.Data = json.RawMessage(`[1]`) }),
		"data invalid": mod(func(r *store.Report) { r.Data = json.RawMessage(`{"a":`) }),
		"data too long": mod(func(r *store.Report) {
			r.Data = json.RawMessage(`{"a":"` + string(make([]byte, store.MaxReportDataLen)) + `"}`)
		}),
	}
	for name, r := range bad {
		if _, err := s.AddReport(ctx, r); err == nil {
			t.Errorf("AddReport(%s) succeeded, want an error", name)
		}
	}
	if _, err := s.AddReport(ctx, mod(func(r *store.Report) { r.App = "appnosuchapp" })); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("AddReport for a missing app = %v, want ErrNotFound", err)
	}
	if got, _ := s.QueryReports(ctx, store.ReportQuery{App: a.ID}); len(got) != 0 {
		t.Fatalf("refused reports were stored: %v", got)
	}
}

func testBans(t *testing.T, s store.Store) {
	ctx := context.Background()
	a := mustApp(t, s, "b")
	if _, ok, err := s.ActiveBan(ctx, a.ID, "r", "u", base); ok || err != nil {
		t.Fatalf("ActiveBan before any ban = %v, %v", ok, err)
	}
	b := store.Ban{App: a.ID, Room: "r", User: "u", Until: base.Add(time.Hour), By: "admin", Reason: "spam 垃圾"}
	if err := s.PutBan(ctx, b); err != nil {
		t.Fatalf("PutBan: %v", err)
	}
	got, ok, err := s.ActiveBan(ctx, a.ID, "r", "u", base)
	if err != nil || !ok || !sameBan(got, b) {
		t.Fatalf("ActiveBan = %+v, %v, %v; want %+v", got, ok, err, b)
	}
	if _, ok, _ := s.ActiveBan(ctx, a.ID, "r", "u", base.Add(time.Hour-time.Millisecond)); !ok {
		t.Fatal("ban not active just before Until")
	}
	if _, ok, _ := s.ActiveBan(ctx, a.ID, "r", "u", base.Add(time.Hour)); ok {
		t.Fatal("ban still active at Until")
	}
	// The ban is for that room and that user only.
	if _, ok, _ := s.ActiveBan(ctx, a.ID, "other", "u", base); ok {
		t.Fatal("ban leaked to another room")
	}
	if _, ok, _ := s.ActiveBan(ctx, a.ID, "r", "other", base); ok {
		t.Fatal("ban leaked to another user")
	}
	// Upsert: the second PutBan replaces the first.
	b2 := store.Ban{App: a.ID, Room: "r", User: "u", Until: base.Add(2 * time.Hour)}
	if err := s.PutBan(ctx, b2); err != nil {
		t.Fatal(err)
	}
	got, ok, err = s.ActiveBan(ctx, a.ID, "r", "u", base.Add(90*time.Minute))
	if err != nil || !ok || !sameBan(got, b2) {
		t.Fatalf("after upsert ActiveBan = %+v, %v, %v; want %+v", got, ok, err, b2)
	}
	// An expired ban can be renewed.
	if err := s.PutBan(ctx, store.Ban{App: a.ID, Room: "r", User: "u", Until: base.Add(4 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := s.ActiveBan(ctx, a.ID, "r", "u", base.Add(3*time.Hour)); !ok {
		t.Fatal("renewed ban not active")
	}
	// Zero Until: in force until deleted.
	forever := store.Ban{App: a.ID, Room: "r", User: "v"}
	if err := s.PutBan(ctx, forever); err != nil {
		t.Fatal(err)
	}
	got, ok, err = s.ActiveBan(ctx, a.ID, "r", "v", base.AddDate(100, 0, 0))
	if err != nil || !ok || !got.Until.IsZero() {
		t.Fatalf("permanent ban: %+v, %v, %v", got, ok, err)
	}
	for _, u := range []ids.UserID{"u", "v"} {
		if err := s.DeleteBan(ctx, a.ID, "r", u); err != nil {
			t.Fatalf("DeleteBan: %v", err)
		}
		if _, ok, _ := s.ActiveBan(ctx, a.ID, "r", u, base); ok {
			t.Fatalf("ban on %s still active after DeleteBan", u)
		}
	}
	if err := s.DeleteBan(ctx, a.ID, "r", "u"); err != nil {
		t.Fatalf("DeleteBan of a missing ban = %v, want nil", err)
	}
}

func testBansInvalid(t *testing.T, s store.Store) {
	ctx := context.Background()
	a := mustApp(t, s, "b")
	for name, b := range map[string]store.Ban{
		"no room":        {App: a.ID, User: "u"},
		"bad user":       {App: a.ID, Room: "r", User: "u!"},
		"bad by":         {App: a.ID, Room: "r", User: "u", By: "a b"},
		"control reason": {App: a.ID, Room: "r", User: "u", Reason: "x\x00"},
		"long reason":    {App: a.ID, Room: "r", User: "u", Reason: string(make([]byte, store.MaxBanReasonLen+1))},
	} {
		if err := s.PutBan(ctx, b); err == nil {
			t.Errorf("PutBan(%s) succeeded, want an error", name)
		}
	}
	if err := s.PutBan(ctx, store.Ban{App: "appnosuchapp", Room: "r", User: "u"}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("PutBan for a missing app = %v, want ErrNotFound", err)
	}
}

func testIsolation(t *testing.T, s store.Store) {
	ctx := context.Background()
	a, b := mustApp(t, s, "a"), mustApp(t, s, "b")
	addReports(t, s, report(a.ID, "room", "user", base), report(a.ID, "room", "user", base.Add(time.Second)),
		report(b.ID, "room", "user", base))
	for _, c := range []struct {
		app  ids.AppID
		want int
	}{{a.ID, 2}, {b.ID, 1}} {
		got, err := s.QueryReports(ctx, store.ReportQuery{App: c.app, Room: "room", User: "user"})
		if err != nil || len(got) != c.want {
			t.Fatalf("reports of %s: %d, %v; want %d", c.app, len(got), err, c.want)
		}
		for _, r := range got {
			if r.App != c.app {
				t.Fatalf("query for %s returned a report of %s", c.app, r.App)
			}
		}
	}
	if err := s.PutBan(ctx, store.Ban{App: a.ID, Room: "room", User: "user"}); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := s.ActiveBan(ctx, b.ID, "room", "user", base); ok {
		t.Fatal("a ban in one app applies to the same room and user of another")
	}
	if err := s.DeleteBan(ctx, b.ID, "room", "user"); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := s.ActiveBan(ctx, a.ID, "room", "user", base); !ok {
		t.Fatal("deleting another app's ban lifted this app's ban")
	}
	if _, err := s.RotateSecret(ctx, a.ID, 0, base); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.GetApp(ctx, b.ID); got.Secret != b.Secret {
		t.Fatal("rotating one app's secret changed another's")
	}
}

func sameApp(a, b store.App) bool {
	return a.ID == b.ID && a.Name == b.Name && a.Secret == b.Secret && a.PreviousSecret == b.PreviousSecret &&
		a.PreviousSecretUntil.Equal(b.PreviousSecretUntil) && a.CreatedAt.Equal(b.CreatedAt) && a.UpdatedAt.Equal(b.UpdatedAt) &&
		a.Limits == b.Limits
}

func sameBan(a, b store.Ban) bool {
	return a.App == b.App && a.Room == b.Room && a.User == b.User && a.Until.Equal(b.Until) && a.By == b.By && a.Reason == b.Reason
}
