package api_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/minirtc/minirtc/internal/auth"
	"github.com/minirtc/minirtc/internal/config"
	"github.com/minirtc/minirtc/internal/store"
	"github.com/minirtc/minirtc/pkg/ids"
	"github.com/minirtc/minirtc/pkg/protocol"
)

type usagePeriodBody struct {
	Start int64 `json:"start"`
	store.UsageFigures
}

type usageBody struct {
	App     ids.AppID              `json:"app"`
	From    int64                  `json:"from"`
	To      int64                  `json:"to"`
	By      store.UsageGranularity `json:"by"`
	Periods []usagePeriodBody      `json:"periods"`
	Total   store.UsageFigures     `json:"total"`
}

func (e *env) usage(query string) usageBody {
	e.t.Helper()
	var u usageBody
	e.ok(http.StatusOK, "GET", e.appPath("/usage"+query), e.admin, nil, &u)
	return u
}

// TestUsageKnownFigures puts known figures in the server's store and reads
// them back through the API: sums, peaks and unique users per period and
// over the range, empty periods listed as zeros.
func TestUsageKnownFigures(t *testing.T) {
	e := start(t, nil)
	h := func(day, hour int) time.Time { return time.Date(2025, 3, day, hour, 0, 0, 0, time.UTC) }
	app := e.App.ID
	users := func(hour time.Time, kind store.UsageUserKind, names ...ids.UserID) []store.UsageUser {
		var out []store.UsageUser
		for _, n := range names {
			out = append(out, store.UsageUser{App: app, Hour: hour, Kind: kind, User: n})
		}
		return out
	}
	b := store.UsageBatch{ID: "seed-1", At: time.Now(), Deltas: []store.UsageDelta{
		{App: app, Hour: h(1, 10), Call: store.CallSeconds{Audio: 60, P720: 120}, OnlineSeconds: 600, PublishSeconds: 300,
			SubscribeSeconds: 240, RoomsCreated: 2, PeakRooms: 2, PeakUsers: 3, PeakCallUsers: 2},
		{App: app, Hour: h(1, 11), Call: store.CallSeconds{P360: 30}, OnlineSeconds: 100, PublishSeconds: 50,
			SubscribeSeconds: 30, PeakRooms: 1, PeakUsers: 2, PeakCallUsers: 1},
		{App: app, Hour: h(2, 0), OnlineSeconds: 7, RoomsCreated: 1, PeakRooms: 1, PeakUsers: 1},
		// Another app's figures never show.
		{App: "appother", Hour: h(1, 10), OnlineSeconds: 99999, RoomsCreated: 50},
	}}
	b.Users = append(b.Users, users(h(1, 10), store.UsersOnline, "alice", "bob", "carol")...)
	b.Users = append(b.Users, users(h(1, 10), store.UsersInCall, "alice", "bob")...)
	b.Users = append(b.Users, users(h(1, 11), store.UsersOnline, "alice", "dave")...)
	b.Users = append(b.Users, users(h(1, 11), store.UsersInCall, "dave")...)
	b.Users = append(b.Users, users(h(2, 0), store.UsersOnline, "erin")...)
	must(t, e.Server.Store().ApplyUsage(context.Background(), b))

	hour10 := store.UsageFigures{Call: store.CallSeconds{Audio: 60, P720: 120}, OnlineSeconds: 600, PublishSeconds: 300,
		SubscribeSeconds: 240, RoomsCreated: 2, PeakRooms: 2, PeakUsers: 3, PeakCallUsers: 2, UniqueUsers: 3, UniqueCallUsers: 2}
	hour11 := store.UsageFigures{Call: store.CallSeconds{P360: 30}, OnlineSeconds: 100, PublishSeconds: 50,
		SubscribeSeconds: 30, PeakRooms: 1, PeakUsers: 2, PeakCallUsers: 1, UniqueUsers: 2, UniqueCallUsers: 1}
	// alice is in both hours: counted once.
	day1 := store.UsageFigures{Call: store.CallSeconds{Audio: 60, P360: 30, P720: 120}, OnlineSeconds: 700, PublishSeconds: 350,
		SubscribeSeconds: 270, RoomsCreated: 2, PeakRooms: 2, PeakUsers: 3, PeakCallUsers: 2, UniqueUsers: 4, UniqueCallUsers: 3}
	day2 := store.UsageFigures{OnlineSeconds: 7, RoomsCreated: 1, PeakRooms: 1, PeakUsers: 1, UniqueUsers: 1}
	both := day1
	both.OnlineSeconds, both.RoomsCreated, both.UniqueUsers = 707, 3, 5

	check := func(query string, by store.UsageGranularity, from, to time.Time, total store.UsageFigures, periods ...store.UsageFigures) {
		t.Helper()
		u := e.usage(query)
		if u.App != app || u.By != by || u.From != from.UnixMilli() || u.To != to.UnixMilli() || u.Total != total || len(u.Periods) != len(periods) {
			t.Fatalf("usage%s = %+v\nwant by %s, %s to %s, total %+v, %d periods", query, u, by, from, to, total, len(periods))
		}
		for i, p := range u.Periods {
			if start := from.Add(time.Duration(i) * by.Duration()); p.Start != start.UnixMilli() || p.UsageFigures != periods[i] {
				t.Fatalf("usage%s period %d = %+v, want start %s, %+v", query, i, p, start, periods[i])
			}
		}
	}
	check("?from=2025-03-01T10:00:00Z&to=2025-03-01T13:00:00Z&by=hour", store.ByHour, h(1, 10), h(1, 13), day1, hour10, hour11, store.UsageFigures{})
	check("?from=2025-03-01&to=2025-03-03", store.ByDay, h(1, 0), h(3, 0), both, day1, day2)
	check("?from=2025-03-01&to=2025-03-03&by=day", store.ByDay, h(1, 0), h(3, 0), both, day1, day2)
	check("?from=2025-03-02&to=2025-03-03", store.ByDay, h(2, 0), h(3, 0), day2, day2)
	// An offset is converted to UTC; unix milliseconds work too.
	check("?from="+url.QueryEscape("2025-03-01T11:00:00+01:00")+"&to="+fmt.Sprint(h(1, 11).UnixMilli())+"&by=hour",
		store.ByHour, h(1, 10), h(1, 11), hour10, hour10)

	// The longest ranges are served, every period listed.
	if u := e.usage("?from=2025-03-01&to=2025-04-01&by=hour"); len(u.Periods) != store.MaxUsageHours || u.Total != both {
		t.Fatalf("744 hours: %d periods, total %+v", len(u.Periods), u.Total)
	}
	if u := e.usage("?from=2025-01-01&to=2026-01-02"); len(u.Periods) != store.MaxUsageDays || u.Total != both {
		t.Fatalf("366 days: %d periods, total %+v", len(u.Periods), u.Total)
	}
	// The operator key may read it too; a token of one room may not.
	e.ok(http.StatusOK, "GET", e.appPath("/usage?from=2025-03-01&to=2025-03-02"), operatorKey, nil, nil)
	e.fails(403, 2005, "", "GET", e.appPath("/usage?from=2025-03-01&to=2025-03-02"), e.Token(t, "boss", "r1", auth.GrantAdmin), nil)
}

// TestUsageOfARealCall runs a call through the server (two participants, a
// live stream, a subscription), lets the accountant write its figures, and
// checks that the API answers exactly what the store holds, and that the
// figures are those of the call.
func TestUsageOfARealCall(t *testing.T) {
	e := start(t, func(c *config.Config) { c.Usage.FlushInterval = time.Second })
	alice := e.join("alice", "r1")
	bob := e.join("bob", "r1")
	s := e.publishLive(alice, protocol.MediaAudioVideo)
	_, err := bob.Subscribe(ctx10(t), s.ID)
	must(t, err)
	time.Sleep(2200 * time.Millisecond)
	must(t, bob.Leave(ctx10(t)))
	must(t, alice.Leave(ctx10(t)))

	// Yesterday to tomorrow: the call is inside, also across a midnight.
	today := time.Now().UTC().Truncate(24 * time.Hour)
	byHour := store.UsageQuery{App: e.App.ID, From: today.Add(-24 * time.Hour), To: today.Add(24 * time.Hour), By: store.ByHour}
	byDay := byHour
	byDay.By = store.ByDay
	db := e.Server.Store()
	read := func(q store.UsageQuery) ([]store.UsagePeriod, store.UsageFigures) {
		t.Helper()
		ps, err := db.QueryUsage(context.Background(), q)
		must(t, err)
		tot, err := db.UsageTotal(context.Background(), q)
		must(t, err)
		return ps, tot
	}
	// Everyone has left: once a flush has written the call, the figures
	// stop changing.
	var total store.UsageFigures
	eventually(t, "the call's figures written and settled", func() (bool, string) {
		_, before := read(byHour)
		if before.UniqueCallUsers != 1 || before.OnlineSeconds < 4 {
			return false, fmt.Sprintf("%+v", before)
		}
		time.Sleep(1500 * time.Millisecond) // past the next flush
		_, total = read(byHour)
		return total == before, fmt.Sprintf("%+v, then %+v", before, total)
	})
	t.Logf("the call's figures: %+v", total)
	want := store.UsageFigures{RoomsCreated: 1, PeakRooms: 1, PeakUsers: 2, PeakCallUsers: 1, UniqueUsers: 2, UniqueCallUsers: 1}
	got := total
	got.Call, got.OnlineSeconds, got.PublishSeconds, got.SubscribeSeconds = store.CallSeconds{}, 0, 0, 0
	if got != want {
		t.Fatalf("counts of the call = %+v, want %+v", got, want)
	}
	// Times: both were in the room over 2.2 s, the stream live and
	// subscribed for over 2 s; one subscriber of one 64x48 stream is in a
	// call exactly while it subscribes, in the 360p tier.
	if total.OnlineSeconds < 4 || total.PublishSeconds < 2 || total.SubscribeSeconds < 2 || total.OnlineSeconds > 60 ||
		total.Call.Total() != total.SubscribeSeconds || total.Call.P360 < 1 {
		t.Fatalf("times of the call = %+v", total)
	}

	for _, q := range []store.UsageQuery{byHour, byDay} {
		query := fmt.Sprintf("?from=%s&to=%s&by=%s", q.From.Format(time.RFC3339), q.To.Format(time.RFC3339), q.By)
		u := e.usage(query)
		sparse, tot := read(q)
		if u.Total != tot {
			t.Fatalf("usage%s total = %+v, store %+v", query, u.Total, tot)
		}
		have := map[int64]store.UsageFigures{}
		for _, p := range sparse {
			have[p.Start.UnixMilli()] = p.UsageFigures
		}
		if n := int(q.To.Sub(q.From) / q.By.Duration()); len(u.Periods) != n || len(sparse) == 0 {
			t.Fatalf("usage%s: %d periods (store: %d with figures), want %d", query, len(u.Periods), len(sparse), n)
		}
		for _, p := range u.Periods {
			if p.UsageFigures != have[p.Start] {
				t.Fatalf("usage%s period %d = %+v, store %+v", query, p.Start, p.UsageFigures, have[p.Start])
			}
		}
	}
}

func TestUsageBadInput(t *testing.T) {
	e := start(t, nil)
	for q, field := range map[string]string{
		"":                                                   "from",
		"?to=2025-03-02":                                     "from",
		"?from=2025-03-01":                                   "to",
		"?from=2025-13-01&to=2025-03-02":                     "from",
		"?from=yesterday&to=2025-03-02":                      "from",
		"?from=2025-03-01&to=2025-03-01":                     "to",
		"?from=2025-03-02&to=2025-03-01":                     "to",
		"?from=2025-03-01&to=2025-03-02&by=week":             "by",
		"?from=2025-03-01&to=2025-03-02&by=":                 "by",
		"?from=2025-03-01T10:00:00Z&to=2025-03-02":           "from",
		"?from=2025-03-01&to=2025-03-02T01:00:00Z":           "to",
		"?from=2025-03-01T10:30:00Z&to=2025-03-02&by=hour":   "from",
		"?from=2025-03-01&to=2025-03-01T10:00:00.5Z&by=hour": "to",
		"?from=2025-03-01&to=2025-04-01T01:00:00Z&by=hour":   "to",
		"?from=2025-01-01&to=2026-01-03":                     "to",
		"?from=1969-12-31&to=2025-03-01":                     "from",
		"?from=-3600000&to=2025-03-01":                       "from",
		"?from=2025-03-01&to=99999-01-01":                    "to",
		"?from=2025-03-01&to=2025-03-02&app=x":               "app",
		"?from=2025-03-01&from=2025-03-02&to=2025-03-03":     "from",
	} {
		e.fails(400, 1003, field, "GET", e.appPath("/usage"+q), e.admin, nil)
	}
	ok := "/usage?from=2025-03-01&to=2025-03-02"
	e.failsRaw(400, 1001, "", e.raw("GET", e.appPath(ok), e.admin, "application/json", []byte(`{"from":"2025-03-01"}`)))
	e.fails(401, 4001, "", "GET", e.appPath(ok), "", nil)
	forged, err := auth.Mint("not-the-app-secret-0123456789", auth.Claims{App: e.App.ID, User: "boss", Grants: []auth.Grant{auth.GrantAdmin},
		ExpiresAt: time.Now().Add(time.Hour)})
	must(t, err)
	e.fails(401, 2002, "", "GET", e.appPath(ok), forged, nil)
	e.fails(403, 2006, "", "GET", e.appPath(ok), e.Token(t, "alice", ""), nil)
	var other appBody
	e.ok(http.StatusCreated, "POST", "/apps", operatorKey, map[string]any{"name": "other"}, &other)
	e.fails(404, 4004, "", "GET", e.appPath(ok), mintFor(t, other, "boss", "", auth.GrantAdmin), nil)
	e.fails(404, 4004, "", "GET", "/apps/appnosuchapp0000"+ok, operatorKey, nil)
	e.failsRaw(405, 4005, "", e.do("POST", e.appPath(ok), e.admin, map[string]any{}))
}
