package storetest

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/minirtc/minirtc/internal/store"
	"github.com/minirtc/minirtc/pkg/ids"
)

// usageCases are the conformance cases of store.Usage, registered in Run.
var usageCases = []struct {
	name string
	fn   func(t *testing.T, s store.Store)
}{
	{"UsageHourlySumsAndPeaks", testUsageHourly},
	{"UsageRetriedBatchCountsOnce", testUsageRetry},
	{"UsageDailyAndTotalDistinctUsers", testUsageDaily},
	{"UsageAppsAreSeparate", testUsageApps},
	{"UsageRejectsInvalid", testUsageInvalid},
	{"UsageQueryValidation", testUsageQueryInvalid},
	{"UsageLargeBatch", testUsageLargeBatch},
}

// uday is midnight UTC of a day, so hours and days line up exactly.
var uday = time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)

func uhour(h int) time.Time { return uday.Add(time.Duration(h) * time.Hour) }

func applyUsage(t *testing.T, s store.Store, b store.UsageBatch) {
	t.Helper()
	if b.At.IsZero() {
		b.At = uday
	}
	if err := s.ApplyUsage(context.Background(), b); err != nil {
		t.Fatalf("ApplyUsage(%s): %v", b.ID, err)
	}
}

func queryUsage(t *testing.T, s store.Store, q store.UsageQuery) []store.UsagePeriod {
	t.Helper()
	got, err := s.QueryUsage(context.Background(), q)
	if err != nil {
		t.Fatalf("QueryUsage(%+v): %v", q, err)
	}
	return got
}

func wantPeriods(t *testing.T, got, want []store.UsagePeriod) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d periods, want %d:\n got %+v\nwant %+v", len(got), len(want), got, want)
	}
	for i := range want {
		if !got[i].Start.Equal(want[i].Start) || got[i].Start.Location() != time.UTC {
			t.Errorf("period %d starts at %v, want %v in UTC", i, got[i].Start, want[i].Start)
		}
		if got[i].UsageFigures != want[i].UsageFigures {
			t.Errorf("period %d (%s):\n got %+v\nwant %+v", i, want[i].Start.Format(time.RFC3339), got[i].UsageFigures, want[i].UsageFigures)
		}
	}
}

// testUsageHourly: sums add up over batches, peaks keep the maximum, users
// are counted once per hour, and only hours with something are returned.
func testUsageHourly(t *testing.T, s store.Store) {
	const app ids.AppID = "app1"
	applyUsage(t, s, store.UsageBatch{ID: "b1", Deltas: []store.UsageDelta{
		{App: app, Hour: uhour(10), Call: store.CallSeconds{Audio: 10, P720: 60}, OnlineSeconds: 100, PublishSeconds: 50,
			SubscribeSeconds: 70, RoomsCreated: 1, PeakRooms: 1, PeakUsers: 3, PeakCallUsers: 1},
		{App: app, Hour: uhour(12), OnlineSeconds: 5, PeakUsers: 1},
	}, Users: []store.UsageUser{
		{App: app, Hour: uhour(10), Kind: store.UsersOnline, User: "alice"},
		{App: app, Hour: uhour(10), Kind: store.UsersOnline, User: "bob"},
		{App: app, Hour: uhour(10), Kind: store.UsersInCall, User: "bob"},
		{App: app, Hour: uhour(12), Kind: store.UsersOnline, User: "alice"},
	}})
	applyUsage(t, s, store.UsageBatch{ID: "b2", Deltas: []store.UsageDelta{
		{App: app, Hour: uhour(10), Call: store.CallSeconds{P360: 1, P540: 2, P720: 3, P1080: 4, Above1080: 5},
			OnlineSeconds: 1, PublishSeconds: 2, SubscribeSeconds: 3, RoomsCreated: 2, PeakRooms: 2, PeakUsers: 1, PeakCallUsers: 4},
		// The same hour twice in one batch: both count.
		{App: app, Hour: uhour(10), OnlineSeconds: 1000},
	}, Users: []store.UsageUser{
		{App: app, Hour: uhour(10), Kind: store.UsersOnline, User: "alice"}, // again: still one
		{App: app, Hour: uhour(10), Kind: store.UsersOnline, User: "carol"},
		{App: app, Hour: uhour(10), Kind: store.UsersInCall, User: "bob"},
		{App: app, Hour: uhour(11), Kind: store.UsersInCall, User: "dave"}, // a user without a sums row
	}})

	got := queryUsage(t, s, store.UsageQuery{App: app, From: uhour(0), To: uhour(24), By: store.ByHour})
	wantPeriods(t, got, []store.UsagePeriod{
		{Start: uhour(10), UsageFigures: store.UsageFigures{
			Call:          store.CallSeconds{Audio: 10, P360: 1, P540: 2, P720: 63, P1080: 4, Above1080: 5},
			OnlineSeconds: 1101, PublishSeconds: 52, SubscribeSeconds: 73, RoomsCreated: 3,
			PeakRooms: 2, PeakUsers: 3, PeakCallUsers: 4, UniqueUsers: 3, UniqueCallUsers: 1}},
		{Start: uhour(11), UsageFigures: store.UsageFigures{UniqueCallUsers: 1}},
		{Start: uhour(12), UsageFigures: store.UsageFigures{OnlineSeconds: 5, PeakUsers: 1, UniqueUsers: 1}},
	})
	// [From, To): hour 12 is outside [10, 12), hour 10 outside [11, 13).
	wantPeriods(t, queryUsage(t, s, store.UsageQuery{App: app, From: uhour(11), To: uhour(12), By: store.ByHour}),
		[]store.UsagePeriod{{Start: uhour(11), UsageFigures: store.UsageFigures{UniqueCallUsers: 1}}})
	if got := queryUsage(t, s, store.UsageQuery{App: app, From: uhour(13), To: uhour(20), By: store.ByHour}); len(got) != 0 {
		t.Fatalf("empty hours returned %+v, want none", got)
	}
}

// testUsageRetry: a batch id applied before is ignored, whatever it carries,
// for at least the retention; other ids still apply.
func testUsageRetry(t *testing.T, s store.Store) {
	const app ids.AppID = "app1"
	b := store.UsageBatch{ID: "flush-1", At: uday, Deltas: []store.UsageDelta{
		{App: app, Hour: uhour(1), OnlineSeconds: 60, RoomsCreated: 1, PeakUsers: 2},
	}}
	applyUsage(t, s, b)
	applyUsage(t, s, b) // the retry of a flush whose answer was lost
	changed := b
	changed.Deltas = []store.UsageDelta{{App: app, Hour: uhour(1), OnlineSeconds: 1}}
	applyUsage(t, s, changed)
	// Later batches (days later, within the retention) do not make the
	// store forget the id.
	applyUsage(t, s, store.UsageBatch{ID: "flush-2", At: uday.Add(store.UsageBatchRetention - time.Hour),
		Deltas: []store.UsageDelta{{App: app, Hour: uhour(1), OnlineSeconds: 7}}})
	b.At = uday.Add(store.UsageBatchRetention - time.Hour)
	applyUsage(t, s, b)

	got, err := s.UsageTotal(context.Background(), store.UsageQuery{App: app, From: uday, To: uday.Add(24 * time.Hour), By: store.ByDay})
	if err != nil {
		t.Fatal(err)
	}
	if want := (store.UsageFigures{OnlineSeconds: 67, RoomsCreated: 1, PeakUsers: 2}); got != want {
		t.Fatalf("after retries: %+v, want %+v", got, want)
	}
}

// testUsageDaily: a day sums its hours, keeps the highest peak, and counts
// each user once however many hours it appears in; the total does the same
// over the whole range.
func testUsageDaily(t *testing.T, s store.Store) {
	const app ids.AppID = "app1"
	users := func(h int, kind store.UsageUserKind, names ...ids.UserID) []store.UsageUser {
		var out []store.UsageUser
		for _, n := range names {
			out = append(out, store.UsageUser{App: app, Hour: uhour(h), Kind: kind, User: n})
		}
		return out
	}
	var us []store.UsageUser
	us = append(us, users(0, store.UsersOnline, "a", "b")...)
	us = append(us, users(23, store.UsersOnline, "b", "c")...)
	us = append(us, users(23, store.UsersInCall, "b")...)
	us = append(us, users(24, store.UsersOnline, "c", "d")...)
	us = append(us, users(47, store.UsersInCall, "b", "d")...)
	applyUsage(t, s, store.UsageBatch{ID: "d1", Users: us, Deltas: []store.UsageDelta{
		{App: app, Hour: uhour(0), OnlineSeconds: 100, Call: store.CallSeconds{P360: 10}, PeakRooms: 1, PeakUsers: 2, RoomsCreated: 1},
		{App: app, Hour: uhour(23), OnlineSeconds: 200, Call: store.CallSeconds{P360: 5, Audio: 1}, PeakRooms: 3, PeakUsers: 1, PeakCallUsers: 1},
		{App: app, Hour: uhour(24), OnlineSeconds: 300, PeakRooms: 2, PeakUsers: 2, RoomsCreated: 4},
		{App: app, Hour: uhour(47), SubscribeSeconds: 9, PeakCallUsers: 2},
		{App: app, Hour: uhour(48), OnlineSeconds: 1000}, // the day after the range
	}})

	day0 := store.UsageFigures{OnlineSeconds: 300, Call: store.CallSeconds{P360: 15, Audio: 1}, PeakRooms: 3, PeakUsers: 2,
		PeakCallUsers: 1, RoomsCreated: 1, UniqueUsers: 3, UniqueCallUsers: 1}
	day1 := store.UsageFigures{OnlineSeconds: 300, SubscribeSeconds: 9, PeakRooms: 2, PeakUsers: 2, PeakCallUsers: 2,
		RoomsCreated: 4, UniqueUsers: 2, UniqueCallUsers: 2}
	q := store.UsageQuery{App: app, From: uday, To: uday.Add(48 * time.Hour), By: store.ByDay}
	wantPeriods(t, queryUsage(t, s, q), []store.UsagePeriod{{Start: uday, UsageFigures: day0}, {Start: uday.Add(24 * time.Hour), UsageFigures: day1}})

	total, err := s.UsageTotal(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	want := store.UsageFigures{OnlineSeconds: 600, SubscribeSeconds: 9, Call: store.CallSeconds{P360: 15, Audio: 1},
		PeakRooms: 3, PeakUsers: 2, PeakCallUsers: 2, RoomsCreated: 5, UniqueUsers: 4, UniqueCallUsers: 2}
	if total != want {
		t.Fatalf("total:\n got %+v\nwant %+v", total, want)
	}
	// Hour alignment is enough for a total; an empty range totals zero.
	total, err = s.UsageTotal(context.Background(), store.UsageQuery{App: app, From: uhour(23), To: uhour(25), By: store.ByHour})
	if err != nil {
		t.Fatal(err)
	}
	if want := (store.UsageFigures{OnlineSeconds: 500, Call: store.CallSeconds{P360: 5, Audio: 1}, PeakRooms: 3, PeakUsers: 2,
		PeakCallUsers: 1, RoomsCreated: 4, UniqueUsers: 3, UniqueCallUsers: 1}); total != want {
		t.Fatalf("total of hours 23-24:\n got %+v\nwant %+v", total, want)
	}
	if total, err = s.UsageTotal(context.Background(), store.UsageQuery{App: app, From: uhour(30), To: uhour(40), By: store.ByHour}); err != nil || !total.IsZero() {
		t.Fatalf("total of an empty range = %+v, %v", total, err)
	}
}

// testUsageApps: usage is per app, and an app need not exist in the apps
// table (usage outlives a deleted app).
func testUsageApps(t *testing.T, s store.Store) {
	a := mustApp(t, s, "a")
	const ghost ids.AppID = "app-deleted-long-ago"
	applyUsage(t, s, store.UsageBatch{ID: "x", Deltas: []store.UsageDelta{
		{App: a.ID, Hour: uhour(5), OnlineSeconds: 1},
		{App: ghost, Hour: uhour(5), OnlineSeconds: 2},
	}, Users: []store.UsageUser{
		{App: a.ID, Hour: uhour(5), Kind: store.UsersOnline, User: "u"},
		{App: ghost, Hour: uhour(5), Kind: store.UsersOnline, User: "u"},
		{App: ghost, Hour: uhour(5), Kind: store.UsersOnline, User: "v"},
	}})
	for app, want := range map[ids.AppID]store.UsageFigures{
		a.ID:  {OnlineSeconds: 1, UniqueUsers: 1},
		ghost: {OnlineSeconds: 2, UniqueUsers: 2},
		"b":   {},
	} {
		got := queryUsage(t, s, store.UsageQuery{App: app, From: uday, To: uday.Add(24 * time.Hour), By: store.ByDay})
		if want.IsZero() {
			if len(got) != 0 {
				t.Errorf("app %s: %+v, want nothing", app, got)
			}
			continue
		}
		wantPeriods(t, got, []store.UsagePeriod{{Start: uday, UsageFigures: want}})
	}
}

func testUsageInvalid(t *testing.T, s store.Store) {
	ctx := context.Background()
	good := store.UsageDelta{App: "app1", Hour: uhour(1), OnlineSeconds: 1}
	user := store.UsageUser{App: "app1", Hour: uhour(1), Kind: store.UsersOnline, User: "u"}
	tooMany := make([]store.UsageUser, store.MaxUsageBatchItems+1)
	for i := range tooMany {
		tooMany[i] = store.UsageUser{App: "app1", Hour: uhour(1), Kind: store.UsersOnline, User: ids.UserID(fmt.Sprint("u", i))}
	}
	bad := map[string]store.UsageBatch{
		"empty id":       {At: uday, Deltas: []store.UsageDelta{good}},
		"long id":        {ID: strings.Repeat("x", store.MaxUsageBatchIDLen+1), At: uday},
		"id with space":  {ID: "a b", At: uday},
		"no time":        {ID: "t"},
		"bad app":        {ID: "t", At: uday, Deltas: []store.UsageDelta{good, {App: "a/b", Hour: uhour(1)}}},
		"misaligned":     {ID: "t", At: uday, Deltas: []store.UsageDelta{{App: "app1", Hour: uhour(1).Add(time.Second)}}},
		"zero hour":      {ID: "t", At: uday, Deltas: []store.UsageDelta{{App: "app1"}}},
		"negative":       {ID: "t", At: uday, Deltas: []store.UsageDelta{{App: "app1", Hour: uhour(1), Call: store.CallSeconds{P540: -1}}}},
		"negative peak":  {ID: "t", At: uday, Deltas: []store.UsageDelta{{App: "app1", Hour: uhour(1), PeakUsers: -1}}},
		"bad kind":       {ID: "t", At: uday, Users: []store.UsageUser{user, {App: "app1", Hour: uhour(1), Kind: "speaking", User: "u"}}},
		"bad user":       {ID: "t", At: uday, Users: []store.UsageUser{{App: "app1", Hour: uhour(1), Kind: store.UsersOnline, User: ""}}},
		"misaligned usr": {ID: "t", At: uday, Users: []store.UsageUser{{App: "app1", Hour: uhour(1).Add(time.Minute), Kind: store.UsersOnline, User: "u"}}},
		"too many":       {ID: "t", At: uday, Users: tooMany},
	}
	for name, b := range bad {
		if err := s.ApplyUsage(ctx, b); err == nil {
			t.Errorf("%s: ApplyUsage accepted %+v", name, b.ID)
		}
	}
	// Nothing of the refused batches was applied, and their ids are free.
	if got := queryUsage(t, s, store.UsageQuery{App: "app1", From: uday, To: uday.Add(24 * time.Hour), By: store.ByDay}); len(got) != 0 {
		t.Fatalf("refused batches left %+v", got)
	}
	applyUsage(t, s, store.UsageBatch{ID: "t", Deltas: []store.UsageDelta{good}, Users: []store.UsageUser{user}})
	wantPeriods(t, queryUsage(t, s, store.UsageQuery{App: "app1", From: uday, To: uday.Add(24 * time.Hour), By: store.ByDay}),
		[]store.UsagePeriod{{Start: uday, UsageFigures: store.UsageFigures{OnlineSeconds: 1, UniqueUsers: 1}}})
}

func testUsageQueryInvalid(t *testing.T, s store.Store) {
	ctx := context.Background()
	bad := map[string]store.UsageQuery{
		"bad app":            {App: "", From: uday, To: uhour(1), By: store.ByHour},
		"bad by":             {App: "a", From: uday, To: uhour(1), By: "week"},
		"no from":            {App: "a", To: uhour(1), By: store.ByHour},
		"to before from":     {App: "a", From: uhour(2), To: uhour(1), By: store.ByHour},
		"empty range":        {App: "a", From: uhour(2), To: uhour(2), By: store.ByHour},
		"misaligned hour":    {App: "a", From: uhour(1).Add(time.Minute), To: uhour(2), By: store.ByHour},
		"day from at 1 am":   {App: "a", From: uhour(1), To: uhour(48), By: store.ByDay},
		"day to at noon":     {App: "a", From: uday, To: uhour(36), By: store.ByDay},
		"too many hours":     {App: "a", From: uday, To: uhour(store.MaxUsageHours + 1), By: store.ByHour},
		"too many days":      {App: "a", From: uday, To: uday.Add((store.MaxUsageDays + 1) * 24 * time.Hour), By: store.ByDay},
		"not UTC-aligned tz": {App: "a", From: time.Date(2025, 3, 1, 0, 0, 0, 0, time.FixedZone("UTC+0530", 5*3600+1800)), To: uday.Add(48 * time.Hour), By: store.ByDay},
	}
	for name, q := range bad {
		if _, err := s.QueryUsage(ctx, q); err == nil {
			t.Errorf("%s: QueryUsage accepted %+v", name, q)
		}
		if _, err := s.UsageTotal(ctx, q); err == nil {
			t.Errorf("%s: UsageTotal accepted %+v", name, q)
		}
	}
	// The limits themselves are fine.
	for _, q := range []store.UsageQuery{
		{App: "a", From: uday, To: uhour(store.MaxUsageHours), By: store.ByHour},
		{App: "a", From: uday, To: uday.Add(store.MaxUsageDays * 24 * time.Hour), By: store.ByDay},
	} {
		if _, err := s.QueryUsage(ctx, q); err != nil {
			t.Errorf("QueryUsage(%+v): %v", q, err)
		}
	}
}

// testUsageLargeBatch: a batch of MaxUsageBatchItems items applies whole.
func testUsageLargeBatch(t *testing.T, s store.Store) {
	var b store.UsageBatch
	b.ID = "big"
	for i := 0; i < store.MaxUsageBatchItems-2; i++ {
		b.Users = append(b.Users, store.UsageUser{App: "app1", Hour: uhour(i % 3), Kind: store.UsersOnline, User: ids.UserID(fmt.Sprint("u", i))})
	}
	b.Deltas = []store.UsageDelta{{App: "app1", Hour: uhour(0), OnlineSeconds: 1}, {App: "app1", Hour: uhour(1), OnlineSeconds: 2}}
	applyUsage(t, s, b)
	total, err := s.UsageTotal(context.Background(), store.UsageQuery{App: "app1", From: uday, To: uday.Add(24 * time.Hour), By: store.ByDay})
	if err != nil {
		t.Fatal(err)
	}
	if want := (store.UsageFigures{OnlineSeconds: 3, UniqueUsers: store.MaxUsageBatchItems - 2}); total != want {
		t.Fatalf("total %+v, want %+v", total, want)
	}
}
