package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/minirtc/minirtc/internal/store"
	"github.com/minirtc/minirtc/internal/store/sqlite"
	"github.com/minirtc/minirtc/pkg/ids"
)

// seedUsage writes known figures into the SQLite file of dir: two hours of
// 2025-06-01 and one of 2025-06-02, with users seen in several hours.
func seedUsage(t *testing.T, dir string, app ids.AppID) {
	t.Helper()
	db, err := sqlite.Open(context.Background(), sqlite.DefaultPath(dir))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	h := func(d, hh int) time.Time { return time.Date(2025, 6, d, hh, 0, 0, 0, time.UTC) }
	users := func(hour time.Time, kind store.UsageUserKind, names ...ids.UserID) []store.UsageUser {
		var out []store.UsageUser
		for _, n := range names {
			out = append(out, store.UsageUser{App: app, Hour: hour, Kind: kind, User: n})
		}
		return out
	}
	b := store.UsageBatch{ID: "seed", At: h(2, 1), Deltas: []store.UsageDelta{
		{App: app, Hour: h(1, 22), OnlineSeconds: 210, PublishSeconds: 60, SubscribeSeconds: 50, Call: store.CallSeconds{P720: 50},
			RoomsCreated: 1, PeakRooms: 1, PeakUsers: 2, PeakCallUsers: 1},
		{App: app, Hour: h(1, 23), OnlineSeconds: 10200, PublishSeconds: 7200, SubscribeSeconds: 5380,
			Call: store.CallSeconds{Audio: 60, P360: 600, P540: 600, P720: 3520, P1080: 3, Above1080: 90}, RoomsCreated: 1, PeakRooms: 2, PeakUsers: 4, PeakCallUsers: 2},
		{App: app, Hour: h(2, 0), OnlineSeconds: 330, PublishSeconds: 300, SubscribeSeconds: 30, Call: store.CallSeconds{P720: 30},
			PeakRooms: 2, PeakUsers: 4, PeakCallUsers: 1},
	}}
	b.Users = append(b.Users, users(h(1, 22), store.UsersOnline, "alice", "bob")...)
	b.Users = append(b.Users, users(h(1, 22), store.UsersInCall, "bob")...)
	b.Users = append(b.Users, users(h(1, 23), store.UsersOnline, "alice", "bob", "carol", "dave")...)
	b.Users = append(b.Users, users(h(1, 23), store.UsersInCall, "bob", "dave")...)
	b.Users = append(b.Users, users(h(2, 0), store.UsersOnline, "alice", "bob", "carol", "erin")...)
	b.Users = append(b.Users, users(h(2, 0), store.UsersInCall, "bob")...)
	if err := db.ApplyUsage(context.Background(), b); err != nil {
		t.Fatal(err)
	}
}

func TestUsageTableByDay(t *testing.T) {
	dir := t.TempDir()
	app := createApp(t, dir, "billing")
	seedUsage(t, dir, app.ID)
	out, stderr, err := runCLI(t, dir, "usage", "--app", string(app.ID), "--from", "2025-05-31", "--to", "2025-06-03")
	if err != nil {
		t.Fatalf("usage: %v\n%s", err, stderr)
	}
	want := "app " + string(app.ID) + ", 2025-05-31T00:00:00Z to 2025-06-03T00:00:00Z (UTC), by day; ONLINE to CALL_ABOVE_1080P in minutes\n" +
		"PERIOD (UTC)  ONLINE  PUBLISH  SUBSCRIBE  CALL_AUDIO  CALL_360P  CALL_540P  CALL_720P  CALL_1080P  CALL_ABOVE_1080P  ROOMS  PEAK_ROOMS  USERS  CALL_USERS  PEAK_USERS  PEAK_CALL_USERS\n" +
		"2025-05-31      0.00     0.00       0.00        0.00       0.00       0.00       0.00        0.00              0.00      0           0      0           0           0                0\n" +
		"2025-06-01    173.50   121.00      90.50        1.00      10.00      10.00      59.50        0.05              1.50      2           2      4           2           4                2\n" +
		"2025-06-02      5.50     5.00       0.50        0.00       0.00       0.00       0.50        0.00              0.00      0           2      4           1           4                1\n" +
		"TOTAL         179.00   126.00      91.00        1.00      10.00      10.00      60.00        0.05              1.50      2           2      5           2           4                2\n"
	if out != want {
		t.Fatalf("table:\n%s\nwant:\n%s", out, want)
	}
	if stderr != "" {
		t.Errorf("stderr: %q", stderr)
	}
}

func TestUsageJSONByHour(t *testing.T) {
	dir := t.TempDir()
	app := createApp(t, dir, "billing")
	seedUsage(t, dir, app.ID)
	out, _, err := runCLI(t, dir, "usage", "--app", string(app.ID), "--from", "2025-06-01T22:00:00Z", "--to", "2025-06-02T02:00:00+01:00",
		"--by", "hour", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		App     string `json:"app"`
		From    string `json:"from"`
		To      string `json:"to"`
		By      string `json:"by"`
		Periods []struct {
			Start            string           `json:"start"`
			OnlineSeconds    int64            `json:"online_seconds"`
			CallSeconds      map[string]int64 `json:"call_seconds"`
			UniqueUsers      int64            `json:"unique_users"`
			UniqueCallUsers  int64            `json:"unique_call_users"`
			PeakRooms        int64            `json:"peak_rooms"`
			SubscribeSeconds int64            `json:"subscribe_seconds"`
		} `json:"periods"`
		Total struct {
			OnlineSeconds int64 `json:"online_seconds"`
			UniqueUsers   int64 `json:"unique_users"`
		} `json:"total"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	// +01:00 is converted: the range ends at 01:00 UTC.
	if rep.App != string(app.ID) || rep.By != "hour" || rep.From != "2025-06-01T22:00:00Z" || rep.To != "2025-06-02T01:00:00Z" || len(rep.Periods) != 3 {
		t.Fatalf("report header %+v", rep)
	}
	p := rep.Periods[1]
	if p.Start != "2025-06-01T23:00:00Z" || p.OnlineSeconds != 10200 || p.SubscribeSeconds != 5380 || p.UniqueUsers != 4 || p.UniqueCallUsers != 2 || p.PeakRooms != 2 {
		t.Errorf("23:00 = %+v", p)
	}
	wantCall := map[string]int64{"audio": 60, "360p": 600, "540p": 600, "720p": 3520, "1080p": 3, "above_1080p": 90}
	for k, v := range wantCall {
		if p.CallSeconds[k] != v {
			t.Errorf("call_seconds[%s] = %d, want %d (all: %v)", k, p.CallSeconds[k], v, p.CallSeconds)
		}
	}
	if rep.Total.OnlineSeconds != 10740 || rep.Total.UniqueUsers != 5 {
		t.Errorf("total %+v", rep.Total)
	}
}

func TestUsageRefusals(t *testing.T) {
	dir := t.TempDir()
	app := createApp(t, dir, "billing")
	a := string(app.ID)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--app", a, "--from", "2025-06-01", "--to", "2025-06-01"}, "--to is exclusive"},
		{[]string{"--app", a, "--from", "2025-06-02", "--to", "2025-06-01"}, "must be after --from"},
		{[]string{"--app", a, "--from", "June 1", "--to", "2025-06-02"}, `--from "June 1" is neither a date`},
		{[]string{"--app", a, "--from", "2025-06-01T10:00:00Z", "--to", "2025-06-02"}, "not midnight UTC"},
		{[]string{"--app", a, "--from", "2025-06-01T10:30:00Z", "--to", "2025-06-02T00:00:00Z", "--by", "hour"}, "not the start of an hour"},
		{[]string{"--app", a, "--from", "2025-01-01", "--to", "2025-03-01", "--by", "hour"}, "use --by day"},
		{[]string{"--app", a, "--from", "2024-01-01", "--to", "2025-03-01"}, "at most 366"},
		{[]string{"--app", a, "--from", "2025-06-01", "--to", "2025-06-02", "--by", "week"}, `--by "week"`},
		{[]string{"--app", "bad app", "--from", "2025-06-01", "--to", "2025-06-02"}, "--app"},
		{[]string{"--from", "2025-06-01", "--to", "2025-06-02"}, `"app" not set`},
	} {
		_, _, err := runCLI(t, dir, append([]string{"usage"}, c.args...)...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("usage %v: error %v, want one containing %q", c.args, err, c.want)
		}
	}
	// No database: the usual hint rather than an empty table.
	if _, _, err := runCLI(t, t.TempDir(), "usage", "--app", a, "--from", "2025-06-01", "--to", "2025-06-02"); err == nil || !strings.Contains(err.Error(), "no database") {
		t.Errorf("usage without a database: %v", err)
	}
	// An app that is not (or no longer) in the store: its usage, and a note.
	out, stderr, err := runCLI(t, dir, "usage", "--app", "gone", "--from", "2025-06-01", "--to", "2025-06-02")
	if err != nil || !strings.Contains(stderr, `app "gone" is not in`) || !strings.Contains(out, "TOTAL") {
		t.Errorf("usage of an unknown app: %v, stdout %q, stderr %q", err, out, stderr)
	}
}
