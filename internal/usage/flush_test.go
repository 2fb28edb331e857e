package usage

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/minirtc/minirtc/internal/room"
	"github.com/minirtc/minirtc/internal/store"
	"github.com/minirtc/minirtc/pkg/ids"
	"github.com/minirtc/minirtc/pkg/protocol"
)

// TestRestartAndCrash: figures survive a clean restart (the final flush
// counts rooms still open up to the shutdown), and a crash loses only what
// accrued since the last flush.
func TestRestartAndCrash(t *testing.T) {
	start := time.Date(2025, 6, 1, 10, 0, 0, 0, time.UTC)
	path := filepath.Join(t.TempDir(), "minirtc.db")
	clk := newFakeClock(start)

	// First process: alice is still in r1 when it shuts down at 10:00:50.
	db := openDB(t, path)
	a := newAccountant(t, db, clk, time.Minute)
	m := rooms(t, clk, a.Observe)
	joinRoom(t, m, "alice", "r1")
	clk.set(t, start.Add(30*time.Second))
	flush(t, a)
	clk.set(t, start.Add(50*time.Second))
	must(t, a.Stop(context.Background()))
	m.Shutdown()
	must(t, db.Close())

	// Second process: alice rejoins for 20 s (flushed at 10:01:30), then
	// joins r3 at 10:01:40 and the process dies at 10:01:55 without a flush.
	db = openDB(t, path)
	defer db.Close()
	b := newAccountant(t, db, clk, time.Minute)
	m = rooms(t, clk, b.Observe)
	clk.set(t, start.Add(60*time.Second))
	alice := joinRoom(t, m, "alice", "r2")
	clk.set(t, start.Add(80*time.Second))
	alice.Leave(protocol.ReasonLeft)
	clk.set(t, start.Add(90*time.Second))
	flush(t, b)
	clk.set(t, start.Add(100*time.Second))
	joinRoom(t, m, "alice", "r3")
	clk.set(t, start.Add(115*time.Second))
	// (no Stop: the crash)

	wantFigures(t, "after the crash", total(t, db, start, start.Add(time.Hour)), store.UsageFigures{
		OnlineSeconds: 70, RoomsCreated: 2, PeakRooms: 1, PeakUsers: 1, UniqueUsers: 1,
	})
}

// flaky wraps a store: failBefore makes the next writes fail without
// writing; failAfter makes them write and then report an error, as when the
// connection drops before the answer arrives.
type flaky struct {
	inner      Store
	mu         sync.Mutex
	failBefore int
	failAfter  int
	ids        []string
}

func (f *flaky) ApplyUsage(ctx context.Context, b store.UsageBatch) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ids = append(f.ids, b.ID)
	if f.failBefore > 0 {
		f.failBefore--
		return errors.New("database is locked")
	}
	if err := f.inner.ApplyUsage(ctx, b); err != nil {
		return err
	}
	if f.failAfter > 0 {
		f.failAfter--
		return errors.New("connection reset after commit")
	}
	return nil
}

func TestFailedFlushIsRetriedWithoutDoubleCounting(t *testing.T) {
	start := time.Date(2025, 6, 1, 10, 0, 0, 0, time.UTC)
	clk := newFakeClock(start)
	db := tempDB(t)
	st := &flaky{inner: db}
	a := newAccountant(t, st, clk, time.Minute)
	m := rooms(t, clk, a.Observe)

	alice := joinRoom(t, m, "alice", "r1")
	clk.set(t, start.Add(time.Minute))
	st.failAfter = 1
	if err := a.Flush(context.Background()); err == nil {
		t.Fatal("flush reported success though the store failed")
	}
	clk.set(t, start.Add(2*time.Minute))
	st.failBefore = 1
	if err := a.Flush(context.Background()); err == nil {
		t.Fatal("flush reported success though the store failed")
	}
	clk.set(t, start.Add(3*time.Minute))
	flush(t, a) // the same batch once more (ignored: it was applied), then the rest
	clk.set(t, start.Add(3*time.Minute+30*time.Second))
	alice.Leave(protocol.ReasonLeft)
	clk.set(t, start.Add(4*time.Minute))
	must(t, a.Stop(context.Background()))

	if len(st.ids) != 5 || st.ids[0] != st.ids[1] || st.ids[1] != st.ids[2] || st.ids[3] == st.ids[2] || st.ids[4] == st.ids[3] {
		t.Errorf("batch ids written: %v; want the failed one three times, then new ones", st.ids)
	}
	wantFigures(t, "total", total(t, db, start, start.Add(time.Hour)), store.UsageFigures{
		OnlineSeconds: 210, RoomsCreated: 1, PeakRooms: 1, PeakUsers: 1, UniqueUsers: 1,
	})
}

// TestFinalFlushFailure: Stop reports that figures were lost.
func TestFinalFlushFailure(t *testing.T) {
	clk := newFakeClock(time.Date(2025, 6, 1, 10, 0, 0, 0, time.UTC))
	st := &flaky{inner: tempDB(t), failBefore: 100}
	a := newAccountant(t, st, clk, time.Minute)
	m := rooms(t, clk, a.Observe)
	joinRoom(t, m, "alice", "r1")
	clk.add(t, time.Second)
	if err := a.Stop(context.Background()); err == nil {
		t.Fatal("Stop succeeded though the store refused the final flush")
	}
	if err := a.Stop(context.Background()); err == nil {
		t.Fatal("a second Stop forgot the first one's failure")
	}
}

// TestPeriodicFlush: Start flushes every flush interval by itself.
func TestPeriodicFlush(t *testing.T) {
	start := time.Date(2025, 6, 1, 10, 0, 0, 0, time.UTC)
	clk := newFakeClock(start)
	db := tempDB(t)
	a := newAccountant(t, db, clk, 10*time.Second)
	m := rooms(t, clk, a.Observe)
	a.Start()
	defer a.Stop(context.Background())
	for deadline := time.Now().Add(5 * time.Second); clk.tickerCount() == 0; {
		if time.Now().After(deadline) {
			t.Fatal("the flush loop made no ticker")
		}
		time.Sleep(time.Millisecond)
	}
	joinRoom(t, m, "alice", "r1")
	clk.set(t, start.Add(9*time.Second))
	time.Sleep(50 * time.Millisecond)
	if got := total(t, db, start, start.Add(time.Hour)); !got.IsZero() {
		t.Fatalf("flushed before the interval: %+v", got)
	}
	clk.set(t, start.Add(10*time.Second))
	want := store.UsageFigures{OnlineSeconds: 10, RoomsCreated: 1, PeakRooms: 1, PeakUsers: 1, UniqueUsers: 1}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		got := total(t, db, start, start.Add(time.Hour))
		if got == want {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no periodic flush: %+v, want %+v", got, want)
		}
	}
}

// TestLargeFlushIsSplit: more items than one batch may hold go in several.
func TestLargeFlushIsSplit(t *testing.T) {
	start := time.Date(2025, 6, 1, 10, 0, 0, 0, time.UTC)
	clk := newFakeClock(start)
	db := tempDB(t)
	st := &flaky{inner: db}
	a := newAccountant(t, st, clk, time.Minute)
	const n = store.MaxUsageBatchItems + 500
	for i := range n {
		// Synthetic events: more participants than a room holds.
		r := ids.RoomID(fmt.Sprint("r", i/100))
		if i%100 == 0 {
			a.Observe(&room.Event{App: testApp, Room: r, Name: room.EvRoomCreated})
		}
		a.Observe(&room.Event{App: testApp, Room: r, Name: protocol.EvUserJoined,
			Data: &protocol.UserJoinedEvent{User: protocol.Participant{UserID: ids.UserID(fmt.Sprint("u", i))}}})
	}
	clk.add(t, time.Second)
	must(t, a.Stop(context.Background()))
	if len(st.ids) != 2 {
		t.Errorf("%d items went in %d batches, want 2", n, len(st.ids))
	}
	wantFigures(t, "total", total(t, db, start, start.Add(time.Hour)), store.UsageFigures{
		OnlineSeconds: n, RoomsCreated: n / 100, PeakRooms: n / 100, PeakUsers: n, UniqueUsers: n,
	})
}

// TestTimeNeverRunsBackwards: an event stamped before the previous one (two
// rooms racing for the accountant) is counted at the previous time.
func TestTimeNeverRunsBackwards(t *testing.T) {
	start := time.Date(2025, 6, 1, 10, 0, 0, 0, time.UTC)
	clk := &steppedClock{times: []time.Time{start, start.Add(10 * time.Second), start.Add(5 * time.Second), start.Add(20 * time.Second)}}
	db := tempDB(t)
	a := newAccountant(t, db, clk, time.Minute)
	join := func(u ids.UserID) {
		a.Observe(&room.Event{App: testApp, Room: "r1", Name: protocol.EvUserJoined,
			Data: &protocol.UserJoinedEvent{User: protocol.Participant{UserID: u}}})
	}
	a.Observe(&room.Event{App: testApp, Room: "r1", Name: room.EvRoomCreated}) // 0 s
	join("alice")                                                              // 10 s
	join("bob")                                                                // "5 s": taken as 10 s
	must(t, a.Stop(context.Background()))                                      // 20 s
	wantFigures(t, "total", total(t, db, start, start.Add(time.Hour)), store.UsageFigures{
		OnlineSeconds: 20, RoomsCreated: 1, PeakRooms: 1, PeakUsers: 2, UniqueUsers: 2,
	})
}

// steppedClock returns its times one per Now call.
type steppedClock struct {
	mu    sync.Mutex
	times []time.Time
}

func (c *steppedClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.times[0]
	if len(c.times) > 1 {
		c.times = c.times[1:]
	}
	return t
}

func (c *steppedClock) NewTicker(time.Duration) Ticker { panic("not used") }

func TestStartAfterStopStartsNothing(t *testing.T) {
	clk := newFakeClock(time.Date(2025, 6, 1, 10, 0, 0, 0, time.UTC))
	a := newAccountant(t, tempDB(t), clk, time.Minute)
	must(t, a.Stop(context.Background()))
	a.Start() // goleak in TestMain catches a loop left running
	if clk.tickerCount() != 0 {
		t.Fatal("Start after Stop started the flush loop")
	}
}

func TestConfig(t *testing.T) {
	if err := Defaults().Validate(); err != nil || Defaults().FlushInterval != time.Minute {
		t.Fatalf("defaults %+v: %v", Defaults(), err)
	}
	for _, d := range []time.Duration{0, -time.Second, 999 * time.Millisecond, time.Hour + time.Second} {
		if err := (Config{FlushInterval: d}).Validate(); err == nil {
			t.Errorf("flush_interval %s accepted", d)
		}
		if _, err := New(Config{FlushInterval: d}, tempDB(t), Options{}); err == nil {
			t.Errorf("New with flush_interval %s succeeded", d)
		}
	}
	for _, d := range []time.Duration{MinFlushInterval, MaxFlushInterval} {
		if err := (Config{FlushInterval: d}).Validate(); err != nil {
			t.Errorf("flush_interval %s: %v", d, err)
		}
	}
	if _, err := New(Defaults(), nil, Options{}); err == nil {
		t.Error("New without a store succeeded")
	}
}

func TestTierOf(t *testing.T) {
	for _, c := range []struct {
		w, h int
		want store.Tier
	}{
		{0, 0, store.TierAudio},
		{1, 1, store.Tier360p},
		{640, 360, store.Tier360p},
		{360, 640, store.Tier360p},
		{641, 360, store.Tier540p},
		{640, 480, store.Tier540p},
		{960, 540, store.Tier540p},
		{961, 540, store.Tier720p},
		{1280, 720, store.Tier720p},
		{1281, 720, store.Tier1080p},
		{1920, 1080, store.Tier1080p},
		{1080, 1920, store.Tier1080p},
		{1921, 1080, store.TierAbove1080p},
		{3840, 2160, store.TierAbove1080p},
	} {
		if got := TierOf(int64(c.w) * int64(c.h)); got != c.want {
			t.Errorf("%dx%d: tier %s, want %s", c.w, c.h, got, c.want)
		}
	}
	on, off := true, false
	v := &protocol.VideoInfo{Codec: "h264", Width: 1280, Height: 720}
	for _, c := range []struct {
		st   protocol.Stream
		want int64
	}{
		{protocol.Stream{Media: protocol.MediaAudioVideo, Video: v}, 921600},
		{protocol.Stream{Media: protocol.MediaVideo, Video: v, VideoDisabled: off}, 921600},
		{protocol.Stream{Media: protocol.MediaAudioVideo, Video: v, VideoDisabled: on}, 0},
		{protocol.Stream{Media: protocol.MediaAudio, Video: v}, 0},
		{protocol.Stream{Media: protocol.MediaAudioVideo}, 0},
		{protocol.Stream{Media: protocol.MediaVideo, Video: &protocol.VideoInfo{Width: -5, Height: 10}}, 0},
		{protocol.Stream{Media: protocol.MediaVideo, Video: &protocol.VideoInfo{Width: 1 << 30, Height: 1 << 30}}, maxStreamPixels},
	} {
		if got := streamPixels(c.st); got != c.want {
			t.Errorf("streamPixels(%+v) = %d, want %d", c.st, got, c.want)
		}
	}
}
