package usage

import (
	"context"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/minirtc/minirtc/internal/room"
	"github.com/minirtc/minirtc/internal/store"
	"github.com/minirtc/minirtc/internal/store/sqlite"
	"github.com/minirtc/minirtc/pkg/ids"
	"github.com/minirtc/minirtc/pkg/protocol"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fakeClock is a Clock the test moves by hand; its tickers fire when the
// time passes their next tick, dropping ticks nobody read (as time.Ticker).
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	tickers []*fakeTicker
}

type fakeTicker struct {
	clk     *fakeClock
	c       chan time.Time
	every   time.Duration
	next    time.Time
	stopped bool
}

func (t *fakeTicker) C() <-chan time.Time { return t.c }
func (t *fakeTicker) Stop() {
	t.clk.mu.Lock()
	defer t.clk.mu.Unlock()
	t.stopped = true
}

func newFakeClock(t time.Time) *fakeClock { return &fakeClock{now: t} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) NewTicker(d time.Duration) Ticker {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTicker{clk: c, c: make(chan time.Time, 1), every: d, next: c.now.Add(d)}
	c.tickers = append(c.tickers, t)
	return t
}

func (c *fakeClock) tickerCount() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.tickers)
}

// set moves the clock to t (never backwards) and fires due tickers.
func (c *fakeClock) set(tb testing.TB, t time.Time) {
	tb.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	if t.Before(c.now) {
		tb.Fatalf("fake clock: %v is before %v", t, c.now)
	}
	c.now = t
	for _, tk := range c.tickers {
		if tk.stopped || tk.next.After(t) {
			continue
		}
		select {
		case tk.c <- t:
		default:
		}
		for !tk.next.After(t) {
			tk.next = tk.next.Add(tk.every)
		}
	}
}

func (c *fakeClock) add(tb testing.TB, d time.Duration) { c.set(tb, c.Now().Add(d)) }

var quiet = slog.New(slog.DiscardHandler)

func openDB(t *testing.T, path string) *sqlite.DB {
	t.Helper()
	db, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func tempDB(t *testing.T) *sqlite.DB {
	t.Helper()
	db := openDB(t, filepath.Join(t.TempDir(), "minirtc.db"))
	t.Cleanup(func() { db.Close() })
	return db
}

func newAccountant(t *testing.T, st Store, clk Clock, interval time.Duration) *Accountant {
	t.Helper()
	a, err := New(Config{FlushInterval: interval}, st, Options{Clock: clk, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// noMedia is a media plane that cuts nothing: with one, a published stream
// stays pending until StreamLive reports its video size, as in the server.
type noMedia struct{}

func (noMedia) StreamRemoved(ids.AppID, ids.RoomID, ids.StreamID)            {}
func (noMedia) ViewerGone(ids.AppID, ids.RoomID, ids.UserID, []ids.StreamID) {}

type discard struct{}

func (discard) Deliver(*room.Event) {}
func (discard) Removed()            {}

// rooms is a real room manager on the fake clock, observed by a.
func rooms(t *testing.T, clk *fakeClock, obs room.Observer) *room.Manager {
	t.Helper()
	m, err := room.NewManager(room.Config{}, room.Options{Observer: obs, Media: noMedia{}, Now: clk.Now, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Shutdown)
	return m
}

const testApp ids.AppID = "app1"

const allGrants = room.GrantPublish | room.GrantSubscribe | room.GrantData

func joinRoom(t *testing.T, m *room.Manager, user ids.UserID, r ids.RoomID) *room.Member {
	t.Helper()
	j, err := m.Join(context.Background(), room.Identity{App: testApp, User: user, Grants: allGrants}, r, discard{})
	if err != nil {
		t.Fatalf("%s joins %s: %v", user, r, err)
	}
	return j.Member
}

// goLive publishes a stream and reports media of the given video size
// (0x0: no video info, as for an audio-only stream).
func goLive(t *testing.T, m *room.Manager, mem *room.Member, tag ids.Tag, media protocol.MediaType, w, h int) {
	t.Helper()
	st, err := mem.Publish(tag, media)
	if err != nil {
		t.Fatalf("publish %s: %v", tag, err)
	}
	var video *protocol.VideoInfo
	if w > 0 {
		video = &protocol.VideoInfo{Codec: "h264", Width: w, Height: h}
	}
	var audio *protocol.AudioInfo
	if media.HasAudio() {
		audio = &protocol.AudioInfo{Codec: "aac", SampleRate: 48000, Channels: 1}
	}
	if err := m.StreamLive(mem.App(), mem.RoomID(), st.ID, video, audio); err != nil {
		t.Fatalf("stream %s live: %v", st.ID, err)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func flush(t *testing.T, a *Accountant) {
	t.Helper()
	if err := a.Flush(context.Background()); err != nil {
		t.Fatalf("flush: %v", err)
	}
}

func query(t *testing.T, db store.Usage, from, to time.Time, by store.UsageGranularity) []store.UsagePeriod {
	t.Helper()
	got, err := db.QueryUsage(context.Background(), store.UsageQuery{App: testApp, From: from, To: to, By: by})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func total(t *testing.T, db store.Usage, from, to time.Time) store.UsageFigures {
	t.Helper()
	got, err := db.UsageTotal(context.Background(), store.UsageQuery{App: testApp, From: from, To: to, By: store.ByHour})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func wantFigures(t *testing.T, what string, got, want store.UsageFigures) {
	t.Helper()
	if got != want {
		t.Errorf("%s:\n got %+v\nwant %+v", what, got, want)
	}
}

func wantPeriods(t *testing.T, what string, got []store.UsagePeriod, want map[time.Time]store.UsageFigures) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d periods, want %d: %+v", what, len(got), len(want), got)
	}
	for _, p := range got {
		w, ok := want[p.Start]
		if !ok {
			t.Errorf("%s: unexpected period %s: %+v", what, p.Start.Format(time.RFC3339), p.UsageFigures)
			continue
		}
		wantFigures(t, what+" "+p.Start.Format(time.RFC3339), p.UsageFigures, w)
	}
}
