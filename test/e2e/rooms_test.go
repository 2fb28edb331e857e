// Package e2e tests minirtc end to end: a real server (in-process, or the
// built binary) and real clients over real sockets.
package e2e

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/minirtc/minirtc/internal/auth"
	"github.com/minirtc/minirtc/internal/clienttest"
	"github.com/minirtc/minirtc/internal/config"
	"github.com/minirtc/minirtc/internal/servertest"
	"github.com/minirtc/minirtc/pkg/client"
	"github.com/minirtc/minirtc/pkg/ids"
	"github.com/minirtc/minirtc/pkg/protocol"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestTwoHundredClientsInTwentyRooms runs 200 participants in 20 rooms at
// once: everyone joins, publishes, subscribes to everyone else and sends a
// message, and every participant must see exactly its own room's traffic.
func TestTwoHundredClientsInTwentyRooms(t *testing.T) {
	const rooms, perRoom = 20, 10
	env := servertest.Start(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	type member struct {
		c       *client.Client
		room    ids.RoomID
		user    ids.UserID
		pushURL string
	}
	members := make([]*member, rooms*perRoom)
	var wg sync.WaitGroup
	errs := make(chan error, len(members))
	for i := range members {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			room := ids.RoomID(fmt.Sprintf("room%02d", i%rooms))
			user := servertest.UserID(i)
			c, err := client.Join(ctx, env.URL, env.Token(t, user, room), room, nil)
			if err != nil {
				errs <- fmt.Errorf("join %s: %w", user, err)
				return
			}
			members[i] = &member{c: c, room: room, user: user}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	defer func() {
		for _, m := range members {
			m.c.Close()
		}
	}()
	if got := env.Server.Rooms().Counts(); got.Rooms != rooms || got.Participants != rooms*perRoom {
		t.Fatalf("server holds %+v", got)
	}

	// Each participant reads its events in the background, counting what
	// it sees, until it has the messages of all others in its room.
	type seen struct {
		joined, published map[ids.UserID]bool
		messages          map[string]ids.UserID
		foreign           []string
	}
	results := make([]*seen, len(members))
	var readers sync.WaitGroup
	for i, m := range members {
		s := &seen{joined: map[ids.UserID]bool{}, published: map[ids.UserID]bool{}, messages: map[string]ids.UserID{}}
		results[i] = s
		readers.Add(1)
		go func(m *member, s *seen) {
			defer readers.Done()
			for len(s.messages) < perRoom-1 {
				select {
				case ev := <-m.c.Events():
					switch ev.Name {
					case protocol.EvUserJoined:
						var e protocol.UserJoinedEvent
						ev.Decode(&e)
						s.joined[e.User.UserID] = true
					case protocol.EvStreamPublished:
						var e protocol.StreamEvent
						ev.Decode(&e)
						s.published[e.Stream.UserID] = true
					case protocol.EvMessage:
						var e protocol.MessageEvent
						ev.Decode(&e)
						if e.Content != string(m.room) {
							s.foreign = append(s.foreign, e.Content)
						}
						s.messages[e.ID] = e.From
					}
				case <-ctx.Done():
					return
				}
			}
		}(m, s)
	}

	// Everyone publishes, then subscribes to the streams of the room's
	// first participants and sends one message to the room.
	var actors sync.WaitGroup
	actErrs := make(chan error, len(members))
	for _, m := range members {
		actors.Add(1)
		go func(m *member) {
			defer actors.Done()
			pub, err := m.c.PublishURL(ctx, "", protocol.MediaAudioVideo)
			if err != nil {
				actErrs <- fmt.Errorf("%s publish: %w", m.user, err)
				return
			}
			m.pushURL = pub.PushURL
			if _, err := m.c.SendMessage(ctx, "hello", string(m.room)); err != nil {
				actErrs <- fmt.Errorf("%s message: %w", m.user, err)
			}
		}(m)
	}
	actors.Wait()
	close(actErrs)
	for err := range actErrs {
		t.Fatal(err)
	}
	readers.Wait()
	for i, s := range results {
		if len(s.messages) != perRoom-1 || len(s.foreign) > 0 {
			t.Fatalf("%s got %d messages (want %d), foreign %v", members[i].user, len(s.messages), perRoom-1, s.foreign)
		}
		for _, from := range s.messages {
			if from == members[i].user {
				t.Fatalf("%s got its own message back", members[i].user)
			}
		}
	}
	// Streams are pending until media flows: nobody saw them yet.
	for i, s := range results {
		if len(s.published) > 0 {
			t.Fatalf("%s saw streams published before any media: %v", members[i].user, s.published)
		}
	}
	// Subscriptions are tracked per user.
	m0 := members[0]
	other := ids.Stream(members[rooms].user, ids.DefaultTag) // same room as m0
	if _, err := m0.c.Subscribe(ctx, other); !isCode(err, protocol.CodeStreamNotFound) {
		t.Fatalf("subscribing to a stream with no media yet: %v", err)
	}
	env.GoLive(t, members[rooms].pushURL, protocol.MediaAudioVideo)
	clienttest.WaitEvent(t, m0.c, protocol.EvStreamPublished, nil)
	if _, err := m0.c.Subscribe(ctx, other); err != nil {
		t.Fatal(err)
	}
	st, _ := env.Server.Rooms().Room(env.App.ID, m0.room)
	if subs := st.Subscriptions[m0.user]; len(subs) != 1 || subs[0] != other {
		t.Fatalf("subscriptions = %v", subs)
	}
	if got := env.Server.Rooms().Counts(); got.Streams != 1 {
		t.Fatalf("streams = %d", got.Streams)
	}
	// Everyone leaves; the rooms empty out.
	var leavers sync.WaitGroup
	for _, m := range members {
		leavers.Add(1)
		go func(m *member) { defer leavers.Done(); m.c.Leave(ctx) }(m)
	}
	leavers.Wait()
	if got := env.Server.Rooms().Counts(); got.Participants != 0 || got.Streams != 0 {
		t.Fatalf("after leaving: %+v", got)
	}
}

func TestTokenExpiryAndRoomRestriction(t *testing.T) {
	env := servertest.Start(t, nil)
	ctx := context.Background()
	short := env.Mint(t, auth.Claims{User: "shorty", ExpiresAt: time.Now().Add(1500 * time.Millisecond)})
	c, err := client.Join(ctx, env.URL, short, "r1", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	time.Sleep(2 * time.Second)
	// A session outlives its token: tokens are checked at join.
	if _, err := c.SendMessage(ctx, "still", "here"); err != nil {
		t.Fatalf("live session refused after token expiry: %v", err)
	}
	_, err = client.Join(ctx, env.URL, short, "r1", nil)
	var pe *protocol.Error
	if !errors.As(err, &pe) || pe.Code != protocol.CodeTokenExpired {
		t.Fatalf("join with expired token: %v", err)
	}
	_, err = client.Join(ctx, env.URL, env.Token(t, "u", "r2"), "r1", nil)
	if !errors.As(err, &pe) || pe.Code != protocol.CodeRoomNotAllowed {
		t.Fatalf("join of another room: %v", err)
	}
	ok, err := client.Join(ctx, env.URL, env.Token(t, "u", "r2"), "r2", nil)
	if err != nil {
		t.Fatal(err)
	}
	ok.Close()
}

func TestPingTimeoutRemovesVanishedClient(t *testing.T) {
	env := servertest.Start(t, func(c *config.Config) {
		c.Signal.PingInterval = 200 * time.Millisecond
		c.Signal.SessionTimeout = 600 * time.Millisecond
	})
	ctx := context.Background()
	watcher, err := client.Join(ctx, env.URL, env.Token(t, "watcher", ""), "r1", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer watcher.Close()
	gone, err := client.Join(ctx, env.URL, env.Token(t, "gone", ""), "r1", nil)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := gone.PublishURL(ctx, "", protocol.MediaAudio)
	if err != nil {
		t.Fatal(err)
	}
	env.GoLive(t, pub.PushURL, protocol.MediaAudio)
	clienttest.WaitEvent(t, watcher, protocol.EvStreamPublished, nil)
	start := time.Now()
	gone.Close() // vanishes without leaving, like a phone losing the network
	clienttest.WaitEvent(t, watcher, protocol.EvStreamUnpublished, nil)
	ev := clienttest.WaitEvent(t, watcher, protocol.EvUserLeft, nil)
	var left protocol.UserLeftEvent
	ev.Decode(&left)
	if left.UserID != "gone" || left.Reason != protocol.ReasonTimeout {
		t.Fatalf("user_left = %+v", left)
	}
	if d := time.Since(start); d < 500*time.Millisecond || d > 3*time.Second {
		t.Fatalf("removed after %v, timeout is 600ms", d)
	}
}

func TestAdminKickBanAndCloseWithClients(t *testing.T) {
	env := servertest.Start(t, nil)
	ctx := context.Background()
	admin, err := client.Join(ctx, env.URL, env.Token(t, "teacher", "class", auth.GrantAdmin, auth.GrantData, auth.GrantPublish), "class", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	pupil, err := client.Join(ctx, env.URL, env.Token(t, "pupil", "class"), "class", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer pupil.Close()
	if err := pupil.Kick(ctx, "teacher", 0, ""); !errors.Is(err, protocol.NewError(protocol.CodePermission)) {
		t.Fatalf("pupil kicking: %v", err)
	}
	if err := admin.Kick(ctx, "pupil", 2*time.Second, "noise"); err != nil {
		t.Fatal(err)
	}
	ev := clienttest.WaitEvent(t, pupil, protocol.EvKickedOff, nil)
	var ko protocol.KickedOffEvent
	ev.Decode(&ko)
	if ko.By != "teacher" || ko.BanSeconds != 2 || ko.Message != "noise" {
		t.Fatalf("kicked_off = %+v", ko)
	}
	select {
	case <-pupil.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("kicked client did not stop")
	}
	_, err = client.Join(ctx, env.URL, env.Token(t, "pupil", "class"), "class", nil)
	if !errors.Is(err, protocol.NewError(protocol.CodeBanned)) {
		t.Fatalf("banned join: %v", err)
	}
	time.Sleep(2100 * time.Millisecond)
	back, err := client.Join(ctx, env.URL, env.Token(t, "pupil", "class"), "class", nil)
	if err != nil {
		t.Fatalf("join after the ban ended: %v", err)
	}
	defer back.Close()
	if err := admin.CloseRoom(ctx, "class is over"); err != nil {
		t.Fatal(err)
	}
	ev = clienttest.WaitEvent(t, back, protocol.EvRoomClosed, nil)
	var rc protocol.RoomClosedEvent
	ev.Decode(&rc)
	if rc.Reason != "class is over" || rc.By != "teacher" {
		t.Fatalf("room_closed = %+v", rc)
	}
	if _, ok := env.Server.Rooms().Room(env.App.ID, "class"); ok {
		t.Fatal("room still open")
	}
}
