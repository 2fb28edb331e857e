package client

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/minirtc/minirtc/internal/auth"
	"github.com/minirtc/minirtc/internal/config"
	"github.com/minirtc/minirtc/internal/server"
	"github.com/minirtc/minirtc/internal/servertest"
	"github.com/minirtc/minirtc/pkg/protocol"
)

// A cut connection is resumed: the events alice missed (some lost in flight,
// some produced while she had no connection at all) arrive once and in
// order, and a request whose response was lost completes exactly once.
func TestResumeAfterCut(t *testing.T) {
	env := servertest.Start(t, nil)
	p := newProxy(t, serverAddr(env.URL))
	checkLeaks(t)
	ctx := ctxT(t)

	var stMu sync.Mutex
	var states []State
	alice, arec := join(t, env, proxyURL(p), "alice", "r1", &Options{OnState: func(s State, _ error) {
		stMu.Lock()
		states = append(states, s)
		stMu.Unlock()
	}})
	bob, brec := join(t, env, env.URL, "bob", "r1", nil)
	arec.waitFor(t, 0, protocol.EvUserJoined, nil)
	session := alice.SessionID()

	// Phase 1: the server's bytes to alice are lost. Her message reaches
	// the server (bob gets it) but the response does not reach her.
	p.deafen(true)
	type result struct {
		id  string
		err error
	}
	sent := make(chan result, 1)
	go func() {
		id, err := alice.SendMessage(ctx, "chat", "across the cut")
		sent <- result{id, err}
	}()
	ev, _ := brec.waitFor(t, 0, protocol.EvMessage, nil)
	var me protocol.MessageEvent
	_ = ev.Decode(&me)
	for i := range 3 {
		if _, err := bob.SetAttributes(ctx, map[string]string{"k": fmt.Sprint(i)}, nil); err != nil {
			t.Fatal(err)
		}
	}
	// Phase 2: no connection at all, and more happens meanwhile.
	p.block(true)
	p.cut()
	p.deafen(false)
	arec.waitState(t, 0, StateReconnecting)
	if alice.State() != StateReconnecting {
		t.Fatalf("state %s", alice.State())
	}
	for i := 3; i < 6; i++ {
		if _, err := bob.SetAttributes(ctx, map[string]string{"k": fmt.Sprint(i)}, nil); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case r := <-sent:
		t.Fatalf("request completed without a connection: %+v", r)
	default:
	}
	p.block(false)

	r := <-sent
	if r.err != nil || r.id != me.ID {
		t.Fatalf("message across the cut: id %q err %v; bob saw id %q", r.id, r.err, me.ID)
	}
	arec.waitFor(t, 0, protocol.EvAttributesChanged, func(ev Event) bool {
		var ac protocol.AttributesChangedEvent
		return ev.Decode(&ac) == nil && ac.Set["k"] == "5"
	})
	if alice.SessionID() != session || arec.count(EvRejoined, nil) != 0 {
		t.Fatal("the session was not resumed")
	}
	// One more round trip, so that a duplicate execution would have shown.
	if _, err := bob.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := alice.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	if n := brec.count(protocol.EvMessage, nil); n != 1 {
		t.Fatalf("bob got the message %d times", n)
	}

	evs := arec.serverEvents()
	checkSeqs(t, evs)
	var ks []string
	for _, ev := range evs {
		var ac protocol.AttributesChangedEvent
		if ev.Name == protocol.EvAttributesChanged && ev.Decode(&ac) == nil {
			ks = append(ks, ac.Set["k"])
		}
	}
	if want := []string{"0", "1", "2", "3", "4", "5"}; !slices.Equal(ks, want) {
		t.Fatalf("attribute changes seen by alice: %v, want %v", ks, want)
	}
	_ = alice.Close()
	stMu.Lock()
	defer stMu.Unlock()
	want := []State{StateConnecting, StateConnected, StateReconnecting, StateConnected, StateDisconnected}
	if !slices.Equal(states, want) {
		t.Fatalf("OnState saw %v, want %v", states, want)
	}
}

// Requests made while reconnecting wait for the connection and then go
// through.
func TestRequestWhileReconnecting(t *testing.T) {
	env := servertest.Start(t, nil)
	p := newProxy(t, serverAddr(env.URL))
	checkLeaks(t)
	ctx := ctxT(t)
	alice, arec := join(t, env, proxyURL(p), "alice", "r1", nil)
	_, brec := join(t, env, env.URL, "bob", "r1", nil)

	p.block(true)
	p.cut()
	arec.waitState(t, 0, StateReconnecting)
	done := make(chan error, 1)
	var pub protocol.PublishResponse
	go func() {
		var err error
		pub, err = alice.PublishURL(ctx, "main", protocol.MediaAudio)
		done <- err
	}()
	time.Sleep(300 * time.Millisecond)
	select {
	case err := <-done:
		t.Fatalf("publish returned while disconnected: %v", err)
	default:
	}
	p.block(false)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	env.GoLive(t, pub.PushURL, protocol.MediaAudio)
	brec.waitFor(t, 0, protocol.EvStreamPublished, nil)
}

// When the resume is refused, the client joins again: a "rejoined" event
// with the new snapshot, a new session numbering its events from 1, and
// requests that went to the old session fail with ErrSessionChanged.
func TestRejoinAfterResumeRefused(t *testing.T) {
	env := servertest.Start(t, nil)
	p := newProxy(t, serverAddr(env.URL))
	checkLeaks(t)
	ctx := ctxT(t)
	alice, arec := join(t, env, proxyURL(p), "alice", "r1", nil)
	bob, brec := join(t, env, env.URL, "bob", "r1", nil)
	arec.waitFor(t, 0, protocol.EvUserJoined, nil)
	old := alice.SessionID()

	// A request reaches the old session, its answer does not reach alice.
	p.deafen(true)
	inflight := make(chan error, 1)
	go func() {
		_, err := alice.SendMessage(ctx, "chat", "lost")
		inflight <- err
	}()
	brec.waitFor(t, 0, protocol.EvMessage, nil)
	// Make the resume fail as after a server restart: the server does
	// not know the token.
	alice.mu.Lock()
	alice.resume = "s-unknown.nope"
	alice.mu.Unlock()
	p.cut()
	p.deafen(false)

	ev, i := arec.waitFor(t, 0, EvRejoined, nil)
	var jr protocol.JoinResponse
	if err := ev.Decode(&jr); err != nil || jr.SessionID == "" || jr.SessionID == old {
		t.Fatalf("rejoined: %+v %v", jr, err)
	}
	if err := <-inflight; !errors.Is(err, ErrSessionChanged) {
		t.Fatalf("in-flight request: %v", err)
	}
	if alice.SessionID() != jr.SessionID || alice.Joined().SessionID != jr.SessionID {
		t.Fatal("snapshot not updated")
	}
	if len(jr.Participants) != 1 || jr.Participants[0].UserID != "bob" {
		t.Fatalf("participants after rejoin: %+v", jr.Participants)
	}
	arec.waitState(t, i, StateConnected)

	// The new session works and numbers from 1.
	if _, err := bob.SetAttributes(ctx, map[string]string{"after": "rejoin"}, nil); err != nil {
		t.Fatal(err)
	}
	arec.waitFor(t, i, protocol.EvAttributesChanged, nil)
	var after []Event
	for _, ev := range arec.all()[i:] {
		if ev.Seq != 0 {
			after = append(after, ev)
		}
	}
	checkSeqs(t, after)
	if _, err := alice.SendMessage(ctx, "chat", "new session"); err != nil {
		t.Fatal(err)
	}
}

// A session that timed out on the server (the client was away too long)
// cannot be resumed: the client rejoins with its original token.
func TestRejoinAfterSessionTimeout(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for a session timeout")
	}
	env := servertest.Start(t, func(c *config.Config) {
		c.Signal.PingInterval = 3 * time.Second
		c.Signal.SessionTimeout = 3 * time.Second
	})
	p := newProxy(t, serverAddr(env.URL))
	checkLeaks(t)
	alice, arec := join(t, env, proxyURL(p), "alice", "r1", nil)
	_, brec := join(t, env, env.URL, "bob", "r1", nil)
	arec.waitFor(t, 0, protocol.EvUserJoined, nil)
	old := alice.SessionID()

	p.block(true)
	p.cut()
	ev, _ := brec.waitFor(t, 0, protocol.EvUserLeft, nil)
	var ul protocol.UserLeftEvent
	if err := ev.Decode(&ul); err != nil || ul.Reason != protocol.ReasonTimeout {
		t.Fatalf("user_left: %+v %v", ul, err)
	}
	p.block(false)
	ev, _ = arec.waitFor(t, 0, EvRejoined, nil)
	var jr protocol.JoinResponse
	if err := ev.Decode(&jr); err != nil || jr.SessionID == old {
		t.Fatalf("rejoined: %+v %v", jr, err)
	}
	brec.waitFor(t, 1, protocol.EvUserJoined, nil)
}

// If the rejoin is refused for a token reason, the client stops with that
// error instead of retrying forever.
func TestRejoinRefusedStops(t *testing.T) {
	env := servertest.Start(t, nil)
	p := newProxy(t, serverAddr(env.URL))
	checkLeaks(t)
	ctx := ctxT(t)
	alice, arec := join(t, env, proxyURL(p), "alice", "r1", nil)
	alice.mu.Lock()
	alice.resume = "s-unknown.nope"
	alice.token = "no-longer-valid"
	alice.mu.Unlock()
	p.cut()
	sc, _ := arec.waitState(t, 0, StateDisconnected)
	<-arec.done
	if !isCode(alice.Err(), protocol.CodeTokenInvalid) || sc.Error == "" {
		t.Fatalf("err %v, state change %+v", alice.Err(), sc)
	}
	if _, err := alice.Ping(ctx); !isCode(err, protocol.CodeTokenInvalid) {
		t.Fatalf("request after: %v", err)
	}
	select {
	case <-alice.Done():
	default:
		t.Fatal("Done not closed")
	}
}

// Kicked, the client stops for good: no reconnect, requests fail with
// ErrKicked, Events closes once drained.
func TestKickedStops(t *testing.T) {
	env := servertest.Start(t, nil)
	p := newProxy(t, serverAddr(env.URL))
	checkLeaks(t)
	ctx := ctxT(t)
	alice, arec := join(t, env, proxyURL(p), "alice", "r1", nil)
	admin, err := Join(ctx, env.URL, env.Token(t, "admin", "r1", auth.GrantAdmin), "r1", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	go func() {
		for range admin.Events() {
		}
	}()
	if err := admin.Kick(ctx, "alice", 1500*time.Millisecond, "spam"); err != nil {
		t.Fatal(err)
	}
	ev, _ := arec.waitFor(t, 0, protocol.EvKickedOff, nil)
	var ko protocol.KickedOffEvent
	if err := ev.Decode(&ko); err != nil || ko.Reason != protocol.ReasonKicked || ko.BanSeconds != 2 || ko.By != "admin" {
		t.Fatalf("kicked_off: %+v %v", ko, err)
	}
	arec.waitState(t, 0, StateDisconnected)
	<-arec.done
	if !errors.Is(alice.Err(), ErrKicked) {
		t.Fatalf("err %v", alice.Err())
	}
	if _, err := alice.Ping(ctx); !errors.Is(err, ErrKicked) {
		t.Fatalf("request after kick: %v", err)
	}
	accepts := p.acceptCount()
	time.Sleep(300 * time.Millisecond)
	if p.acceptCount() != accepts {
		t.Fatal("reconnected after being kicked")
	}
	// Banned: joining again is refused.
	if _, err := Join(ctx, env.URL, env.Token(t, "alice", "r1"), "r1", nil); !isCode(err, protocol.CodeBanned) {
		t.Fatalf("join while banned: %v", err)
	}
}

// The same user joining elsewhere replaces the first session.
func TestReplacedStops(t *testing.T) {
	env := servertest.Start(t, nil)
	checkLeaks(t)
	first, frec := join(t, env, env.URL, "alice", "r1", nil)
	join(t, env, env.URL, "alice", "r1", nil)
	ev, _ := frec.waitFor(t, 0, protocol.EvKickedOff, nil)
	var ko protocol.KickedOffEvent
	if err := ev.Decode(&ko); err != nil || ko.Reason != protocol.ReasonReplaced {
		t.Fatalf("kicked_off: %+v %v", ko, err)
	}
	<-frec.done
	if !errors.Is(first.Err(), ErrKicked) || first.State() != StateDisconnected {
		t.Fatalf("first: %s %v", first.State(), first.Err())
	}
}

// Closing the room stops everyone, the closer included.
func TestCloseRoomStops(t *testing.T) {
	env := servertest.Start(t, nil)
	checkLeaks(t)
	ctx := ctxT(t)
	bob, brec := join(t, env, env.URL, "bob", "r1", nil)
	admin, err := Join(ctx, env.URL, env.Token(t, "admin", "r1", auth.GrantAdmin), "r1", nil)
	if err != nil {
		t.Fatal(err)
	}
	arec := record(admin)
	defer func() { _ = admin.Close(); <-arec.done }()
	if err := admin.CloseRoom(ctx, "show is over"); err != nil {
		t.Fatal(err)
	}
	ev, _ := brec.waitFor(t, 0, protocol.EvRoomClosed, nil)
	var rc protocol.RoomClosedEvent
	if err := ev.Decode(&rc); err != nil || rc.Reason != "show is over" {
		t.Fatalf("room_closed: %+v %v", rc, err)
	}
	<-brec.done
	<-arec.done
	if !errors.Is(bob.Err(), ErrRoomClosed) || !errors.Is(admin.Err(), ErrRoomClosed) {
		t.Fatalf("bob %v, admin %v", bob.Err(), admin.Err())
	}
}

// Close without leave: the others see the user leave only after the session
// timeout. Close is idempotent and leaves nothing running.
func TestCloseWithoutLeave(t *testing.T) {
	env := servertest.Start(t, nil)
	checkLeaks(t)
	ctx := ctxT(t)
	alice, arec := join(t, env, env.URL, "alice", "r1", nil)
	_, brec := join(t, env, env.URL, "bob", "r1", nil)
	arec.waitFor(t, 0, protocol.EvUserJoined, nil)
	pending := make(chan error, 1)
	go func() {
		// Waits for nothing in particular; Close must end it.
		_, err := alice.SendMessage(ctx, "chat", "hi")
		pending <- err
	}()
	_ = alice.Close()
	_ = alice.Close()
	<-arec.done
	if alice.State() != StateDisconnected || alice.Err() != nil {
		t.Fatalf("after close: %s %v", alice.State(), alice.Err())
	}
	if err := <-pending; err != nil && !errors.Is(err, ErrClosed) {
		t.Fatalf("pending request: %v", err)
	}
	if _, err := alice.Ping(ctx); !errors.Is(err, ErrClosed) {
		t.Fatalf("after close: %v", err)
	}
	if err := alice.Leave(ctx); !errors.Is(err, ErrClosed) {
		t.Fatalf("leave after close: %v", err)
	}
	time.Sleep(100 * time.Millisecond)
	if n := brec.count(protocol.EvUserLeft, nil); n != 0 {
		t.Fatal("close announced a leave")
	}
}

// A server restart: server_going_away, then, once the server is back (same
// data, so the same app and token secret, but no sessions), the resume fails
// and the client joins again.
func TestServerRestart(t *testing.T) {
	dir := t.TempDir()
	srv1 := startServer(t, dir)
	app := *srv1.DevApp
	shut1 := false
	t.Cleanup(func() {
		if !shut1 { // the test failed before it shut the server down
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = srv1.Shutdown(sctx)
		}
	})
	p := newProxy(t, srv1.HTTPAddr().String())
	checkLeaks(t)
	ctx := ctxT(t)
	token, err := auth.Mint(app.Secret, auth.Claims{App: app.ID, User: "alice", ExpiresAt: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	alice, err := Join(ctx, proxyURL(p), token, "r1", nil)
	if err != nil {
		t.Fatal(err)
	}
	arec := record(alice)
	defer func() { _ = alice.Close(); <-arec.done }()
	old := alice.SessionID()

	sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	shut1 = true
	if err := srv1.Shutdown(sctx); err != nil {
		t.Fatal(err)
	}
	ev, _ := arec.waitFor(t, 0, protocol.EvGoingAway, nil)
	var ga protocol.GoingAwayEvent
	if err := ev.Decode(&ga); err != nil || ga.RetryAfterMs <= 0 {
		t.Fatalf("going away: %+v %v", ga, err)
	}
	arec.waitState(t, 0, StateReconnecting)

	srv2 := startServer(t, dir)
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv2.Shutdown(sctx)
	}()
	p.retarget(srv2.HTTPAddr().String())

	ev, i := arec.waitFor(t, 0, EvRejoined, nil)
	var jr protocol.JoinResponse
	if err := ev.Decode(&jr); err != nil || jr.SessionID == old || jr.Room.ID != "r1" {
		t.Fatalf("rejoined: %+v %v", jr, err)
	}
	arec.waitState(t, i, StateConnected)
	if _, err := alice.Publish(ctx, "main", protocol.MediaAudio); err != nil {
		t.Fatal(err)
	}
}

// startServer runs a real server on a data directory of the test's choice
// (servertest insists on a fresh one), so that it can be restarted on it.
// The caller shuts it down.
func startServer(t *testing.T, dir string) *server.Server {
	t.Helper()
	cfg := config.Default()
	cfg.Data = dir
	cfg.HTTP = "127.0.0.1:0"
	cfg.Host = "127.0.0.1"
	cfg.ShutdownTimeout = 5 * time.Second
	srv, err := server.New(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	return srv
}
