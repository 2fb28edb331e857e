package webhook

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/minirtc/minirtc/internal/room"
	"github.com/minirtc/minirtc/internal/store"
	"github.com/minirtc/minirtc/pkg/ids"
	"github.com/minirtc/minirtc/pkg/protocol"
)

// TestRetryWithBackoffThenDeliver: 500s are retried with growing waits;
// every attempt carries the same body and a fresh valid signature.
func TestRetryWithBackoffThenDeliver(t *testing.T) {
	cfg := fastConfig()
	cfg.MinBackoff, cfg.MaxBackoff = 40*time.Millisecond, 10*time.Second
	e := newEnv(t, cfg)
	rcv := newReceiver(t, func(n int, _ hit, w http.ResponseWriter) {
		if n < 4 {
			http.Error(w, "database is down\nretry later", http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	})
	app, secret := e.app(t, rcv.URL())
	e.d.Start()
	observe(e.d, app, "r1", room.EvRoomCreated, nil)
	waitFor(t, "five attempts", func() bool { return rcv.count() == 5 })
	hs := rcv.all()
	verify(t, secret, hs)
	for i := 1; i < len(hs); i++ {
		if string(hs[i].body) != string(hs[0].body) {
			t.Fatal("a retry sent a different body")
		}
		gap, nominal := hs[i].at.Sub(hs[i-1].at), cfg.MinBackoff<<(i-1)
		// Backoff is nominal..1.25*nominal after the answer; allow for the
		// poll interval and a loaded machine on the high side.
		if gap < nominal || gap > nominal*5/4+cfg.PollInterval+500*time.Millisecond {
			t.Errorf("wait before attempt %d: %s, want %s to %s", i+1, gap, nominal, nominal*5/4)
		}
	}
	waitFor(t, "delivered", func() bool { return len(e.deliveries(t, app, store.WebhookDelivered)) == 1 })
	d := e.deliveries(t, app, "")[0]
	if d.Attempts != 5 || d.LastStatus != http.StatusAccepted || d.LastError != "" {
		t.Fatalf("delivery %+v", d)
	}
	if got := e.metric(e.d.m.attempts.WithLabelValues("failed")); got != 4 {
		t.Fatalf("failed attempts metric %v, want 4", got)
	}
}

// TestBadReceiversAreRetried: a receiver that answers garbage bytes, one
// that resets the connection, one too slow, one redirecting and one not
// listening are all retried, with the reason recorded; once they behave,
// the events are delivered.
func TestBadReceiversAreRetried(t *testing.T) {
	cfg := fastConfig()
	cfg.Timeout = 300 * time.Millisecond
	cfg.Workers, cfg.PerURLWorkers = 16, 4
	e := newEnv(t, cfg)
	var healed atomic.Bool

	garbage := rawServer(t, func(c net.Conn) {
		c.Write([]byte("\x00\x01garbage, not HTTP\r\n\r\n"))
	}, &healed)
	reset := rawServer(t, func(c net.Conn) {
		c.(*net.TCPConn).SetLinger(0) // close with RST
	}, &healed)
	slow := newReceiver(t, func(_ int, _ hit, w http.ResponseWriter) {
		if !healed.Load() {
			time.Sleep(time.Second)
		}
		w.WriteHeader(http.StatusOK)
	})
	redirect := newReceiver(t, func(_ int, _ hit, w http.ResponseWriter) {
		if !healed.Load() {
			w.Header().Set("Location", "http://example.com/")
			w.WriteHeader(http.StatusFound)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	// Not listening yet: a port we reserve and release.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	downAddr := ln.Addr().String()
	ln.Close()

	urls := map[string]string{
		"garbage":  "http://" + garbage + "/h",
		"reset":    "http://" + reset + "/h",
		"slow":     slow.URL(),
		"redirect": redirect.URL(),
		"down":     "http://" + downAddr + "/h",
	}
	app, _ := e.app(t, urls["garbage"], urls["reset"], urls["slow"], urls["redirect"], urls["down"])
	e.d.Start()
	observe(e.d, app, "r1", room.EvRoomCreated, nil)

	wantErr := map[string]string{
		"garbage":  "malformed HTTP",
		"reset":    "", // EOF or connection reset, depending on timing
		"slow":     "no answer within webhook.timeout",
		"redirect": "HTTP 302 (redirects are not followed)",
		"down":     "connection refused",
	}
	waitFor(t, "a second attempt everywhere", func() bool {
		ds := e.deliveries(t, app, "")
		if len(ds) != len(urls) {
			return false
		}
		for _, d := range ds {
			if d.Attempts < 2 || d.LastError == "" {
				return false
			}
		}
		return true
	})
	for _, d := range e.deliveries(t, app, "") {
		for name, u := range urls {
			if d.URL == u && !strings.Contains(d.LastError, wantErr[name]) {
				t.Errorf("%s receiver: last error %q, want it to mention %q", name, d.LastError, wantErr[name])
			}
		}
		if want := map[bool]int{true: http.StatusFound, false: 0}[d.URL == urls["redirect"]]; d.LastStatus != want {
			t.Errorf("%s: last status %d, want %d", d.URL, d.LastStatus, want)
		}
		if d.State != store.WebhookPending {
			t.Errorf("%s: state %s, want pending (retrying)", d.URL, d.State)
		}
	}
	// They all come right (the down one starts listening).
	healed.Store(true)
	ln2, err := net.Listen("tcp", downAddr)
	if err != nil {
		t.Skipf("cannot listen again on %s: %v", downAddr, err)
	}
	up := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })}
	go up.Serve(ln2)
	defer up.Close()
	waitFor(t, "all delivered", func() bool { return len(e.deliveries(t, app, store.WebhookDelivered)) == 5 })
}

// rawServer accepts TCP connections; until healed, bad handles each one (and
// the connection is closed); then it answers 200 to one HTTP request.
func rawServer(t *testing.T, bad func(net.Conn), healed *atomic.Bool) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				c.SetDeadline(time.Now().Add(5 * time.Second))
				buf := make([]byte, 64<<10)
				c.Read(buf) // the request (small enough for one read here)
				if !healed.Load() {
					bad(c)
					return
				}
				c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"))
			}()
		}
	}()
	return ln.Addr().String()
}

// TestGiveUpAfterMaxAgeThenQueueMovesOn: an event refused until it is too
// old is given up; the next event of the room is not sent before that and
// is delivered after.
func TestGiveUpAfterMaxAgeThenQueueMovesOn(t *testing.T) {
	cfg := fastConfig()
	cfg.MaxAge = 400 * time.Millisecond
	e := newEnv(t, cfg)
	rcv := newReceiver(t, func(_ int, h hit, w http.ResponseWriter) {
		if h.ev.Type == TypeRoomCreated {
			http.Error(w, "no", http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	app, _ := e.app(t, rcv.URL())
	e.d.Start()
	observe(e.d, app, "r1", room.EvRoomCreated, nil)
	// Later, so that it is still young when room_created is given up.
	time.Sleep(cfg.MaxAge / 2)
	observe(e.d, app, "r1", protocol.EvUserJoined, &protocol.UserJoinedEvent{User: protocol.Participant{UserID: "u"}})
	waitFor(t, "user_joined delivered", func() bool { return len(e.deliveries(t, app, store.WebhookDelivered)) == 1 })
	hs := rcv.all()
	last := hs[len(hs)-1]
	if last.ev.Type != TypeUserJoined || len(hs) < 3 {
		t.Fatalf("%d requests, last %s", len(hs), last.ev.Type)
	}
	for _, h := range hs[:len(hs)-1] {
		if h.ev.Type != TypeRoomCreated {
			t.Fatalf("user_joined sent while room_created was still pending")
		}
	}
	failed := e.deliveries(t, app, store.WebhookFailed)
	if len(failed) != 1 || failed[0].Event.Type != TypeRoomCreated || failed[0].LastStatus != http.StatusServiceUnavailable ||
		failed[0].Attempts != len(hs)-1 {
		t.Fatalf("failed deliveries %+v", failed)
	}
	// The last attempt was at the deadline (give or take the poll interval).
	if d := hs[len(hs)-2].at.Sub(time.UnixMilli(hs[0].ev.At)); d < cfg.MaxAge || d > cfg.MaxAge+300*time.Millisecond {
		t.Errorf("last attempt %s after the event, want about max_age %s", d, cfg.MaxAge)
	}
	if e.metric(e.d.m.givenUp) != 1 {
		t.Fatalf("given-up metric %v", e.metric(e.d.m.givenUp))
	}
}

// TestOrderPerRoomWhileRoomsRunInParallel: a room whose delivery hangs
// holds back only itself (its first request is answered only once every
// other room is through); within a room, never two requests at once, and
// seq order.
func TestOrderPerRoomWhileRoomsRunInParallel(t *testing.T) {
	cfg := fastConfig()
	cfg.Workers, cfg.PerURLWorkers = 8, 8
	cfg.Timeout = 20 * time.Second
	e := newEnv(t, cfg)
	const n = 10 // users per room: each room has room_created + n user_joined
	var (
		mu       sync.Mutex
		inRoom   = map[ids.RoomID]int{}
		lastSeq  = map[ids.RoomID]int64{}
		problems []string
		maxPar   int
		par      int
		fastDone = make(chan struct{})
	)
	fastRoomsDone := func() bool { // with mu held
		for r := range 4 {
			if lastSeq[ids.RoomID(fmt.Sprint("fast", r))] != n+1 {
				return false
			}
		}
		return true
	}
	rcv := newReceiver(t, func(_ int, h hit, w http.ResponseWriter) {
		r := h.ev.Room
		mu.Lock()
		inRoom[r]++
		par++
		maxPar = max(maxPar, par)
		if inRoom[r] > 1 {
			problems = append(problems, fmt.Sprintf("room %s: two requests at once", r))
		}
		if h.ev.Seq != lastSeq[r]+1 {
			problems = append(problems, fmt.Sprintf("room %s: seq %d after %d", r, h.ev.Seq, lastSeq[r]))
		}
		lastSeq[r] = h.ev.Seq
		mu.Unlock()
		if r == "slow" && h.ev.Seq == 1 {
			select {
			case <-fastDone:
			case <-time.After(10 * time.Second):
				mu.Lock()
				problems = append(problems, "the other rooms did not get through while one room's delivery hung")
				mu.Unlock()
			}
		}
		mu.Lock()
		inRoom[r]--
		par--
		if r != "slow" && fastRoomsDone() {
			select {
			case <-fastDone:
			default:
				close(fastDone)
			}
		}
		mu.Unlock()
		w.WriteHeader(http.StatusOK)
	})
	app, _ := e.app(t, rcv.URL())
	m := e.rooms(t, room.Config{})
	for i := range n {
		join(t, m, app, ids.UserID(fmt.Sprint("u", i)), "slow")
		for r := range 4 {
			join(t, m, app, ids.UserID(fmt.Sprint("u", i)), ids.RoomID(fmt.Sprint("fast", r)))
		}
	}
	e.d.Start()
	waitFor(t, "every room", func() bool { mu.Lock(); defer mu.Unlock(); return lastSeq["slow"] == n+1 && fastRoomsDone() })
	mu.Lock()
	defer mu.Unlock()
	for _, p := range problems {
		t.Error(p)
	}
	if maxPar < 2 {
		t.Errorf("at most %d requests at once: rooms were not delivered in parallel", maxPar)
	}
}

// TestHangingReceiverDoesNotBlockOtherApps: one app's receiver never
// answers; with many of its rooms pending, another app's events still go
// out at once, and the hanging URL never has more than its share in flight.
func TestHangingReceiverDoesNotBlockOtherApps(t *testing.T) {
	cfg := fastConfig()
	cfg.Workers, cfg.PerURLWorkers = 4, 2
	cfg.Timeout = 2 * time.Second
	e := newEnv(t, cfg)
	var hanging, maxHanging atomic.Int32
	stop := make(chan struct{})
	bad := newReceiver(t, func(_ int, _ hit, w http.ResponseWriter) {
		n := hanging.Add(1)
		for {
			m := maxHanging.Load()
			if n <= m || maxHanging.CompareAndSwap(m, n) {
				break
			}
		}
		select {
		case <-stop:
		case <-time.After(5 * time.Second):
		}
		hanging.Add(-1)
	})
	defer close(stop)
	good := newReceiver(t, nil)
	badApp, _ := e.app(t, bad.URL())
	goodApp, _ := e.app(t, good.URL())
	e.d.Start()
	for r := range 20 {
		observe(e.d, badApp, ids.RoomID(fmt.Sprint("r", r)), room.EvRoomCreated, nil)
	}
	waitFor(t, "the bad receiver busy", func() bool { return hanging.Load() >= 1 })
	start := time.Now()
	for r := range 5 {
		observe(e.d, goodApp, ids.RoomID(fmt.Sprint("g", r)), room.EvRoomCreated, nil)
	}
	waitFor(t, "the good app's events", func() bool { return good.count() == 5 })
	if took := time.Since(start); took > time.Second {
		t.Errorf("the good app waited %s behind a hanging receiver", took)
	}
	if m := maxHanging.Load(); m > int32(cfg.PerURLWorkers) {
		t.Errorf("%d requests at once to one URL, the limit is %d", m, cfg.PerURLWorkers)
	}
}

func TestDenyPrivateNetworks(t *testing.T) {
	cfg := fastConfig()
	cfg.DenyPrivateNetworks = true
	e := newEnv(t, cfg)
	rcv := newReceiver(t, nil)
	app, _ := e.app(t, rcv.URL())
	e.d.Start()
	observe(e.d, app, "r1", room.EvRoomCreated, nil)
	waitFor(t, "a refused attempt", func() bool {
		ds := e.deliveries(t, app, "")
		return len(ds) == 1 && strings.Contains(ds[0].LastError, "non-public address 127.0.0.1")
	})
	if rcv.count() != 0 {
		t.Fatal("a private address was reached")
	}
	for addr, public := range map[string]bool{
		"127.0.0.1:80": false, "10.1.2.3:443": false, "172.16.0.1:80": false, "192.168.1.1:80": false,
		"169.254.169.254:80": false, "100.64.0.1:80": false, "0.0.0.0:80": false, "[::1]:80": false,
		"[fe80::1]:80": false, "[fc00::1]:80": false, "[::ffff:127.0.0.1]:80": false, "[64:ff9b::a00:1]:80": false,
		"224.0.0.1:80": false, "8.8.8.8:443": true, "[2606:4700::1111]:443": true, "93.184.216.34:80": true,
	} {
		if err := checkPublic(addr); (err == nil) != public {
			t.Errorf("checkPublic(%s) = %v, want public=%v", addr, err, public)
		}
	}
}

func TestNextAttemptSchedule(t *testing.T) {
	d := &Dispatcher{cfg: Defaults()} // 1 s doubling, capped at 10 min, max age 24 h
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	deadline := now.Add(24 * time.Hour)
	for attempts, nominal := range map[int]time.Duration{
		1: time.Second, 2: 2 * time.Second, 3: 4 * time.Second, 10: 512 * time.Second, 11: 10 * time.Minute, 60: 10 * time.Minute,
	} {
		for range 200 {
			got := d.nextAttempt(attempts, now, deadline).Sub(now)
			if got < nominal || got > nominal+nominal/4 {
				t.Fatalf("after %d attempts: wait %s, want %s to %s", attempts, got, nominal, nominal*5/4)
			}
		}
	}
	// The last retry is at the deadline; at or after it, give up.
	if got := d.nextAttempt(20, deadline.Add(-time.Second), deadline); !got.Equal(deadline) {
		t.Fatalf("near the deadline: next %s, want the deadline", got)
	}
	if got := d.nextAttempt(1, deadline, deadline); !got.IsZero() {
		t.Fatalf("at the deadline: next %s, want zero (give up)", got)
	}
}

// TestPurgeRemovesOldFinishedDeliveries runs the purger with a tiny retention.
func TestPurgeRemovesOldFinishedDeliveries(t *testing.T) {
	cfg := fastConfig()
	cfg.Retention = 100 * time.Millisecond // purges every second
	e := newEnv(t, cfg)
	rcv := newReceiver(t, nil)
	app, _ := e.app(t, rcv.URL())
	e.d.Start()
	observe(e.d, app, "r1", room.EvRoomCreated, nil)
	waitFor(t, "delivery", func() bool { return len(e.deliveries(t, app, store.WebhookDelivered)) == 1 })
	waitFor(t, "purge", func() bool {
		c, _ := e.db.CountWebhookDeliveries(context.Background(), app)
		return c == store.WebhookCounts{}
	})
	// Numbering survives the purge.
	observe(e.d, app, "r1", room.EvRoomDestroyed, nil)
	waitFor(t, "second event", func() bool { return rcv.count() == 2 })
	if s := rcv.all()[1].ev.Seq; s != 2 {
		t.Fatalf("seq after purge %d, want 2", s)
	}
}

// TestGiveUpAfterADayOnAClock: with the default one-day max_age, a clock
// moved forward a day makes the next failure the last one.
func TestGiveUpAfterADayOnAClock(t *testing.T) {
	cfg := fastConfig()
	cfg.MaxAge = Defaults().MaxAge
	var offset atomic.Int64
	clock := func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
	db := newEnv(t, cfg).db // the store only; the dispatcher below has the clock
	d, err := New(cfg, db, Options{Logger: testLogger(), Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close(context.Background())
	rcv := newReceiver(t, func(_ int, _ hit, w http.ResponseWriter) { http.Error(w, "down", http.StatusBadGateway) })
	e := &env{db: db, d: d}
	app, _ := e.app(t, rcv.URL())
	d.Start()
	d.Observe(&room.Event{App: app, Room: "r1", Name: room.EvRoomCreated, At: clock()})
	waitFor(t, "a few failures", func() bool { return rcv.count() >= 3 })
	if len(e.deliveries(t, app, store.WebhookFailed)) != 0 {
		t.Fatal("given up within seconds of a one-day max age")
	}
	offset.Store(int64(24*time.Hour + time.Second))
	waitFor(t, "give-up", func() bool { return len(e.deliveries(t, app, store.WebhookFailed)) == 1 })
	f := e.deliveries(t, app, store.WebhookFailed)[0]
	if f.LastStatus != http.StatusBadGateway || !strings.Contains(f.LastError, "HTTP 502: down") {
		t.Fatalf("given-up delivery %+v", f)
	}
}
