package room

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/minirtc/minirtc/pkg/ids"
	"github.com/minirtc/minirtc/pkg/protocol"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// recorder is a Sink that remembers what it was given.
type recorder struct {
	mu      sync.Mutex
	events  []*Event
	removed bool
}

func (r *recorder) Deliver(ev *Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.removed {
		panic("event delivered after Removed: " + ev.Name)
	}
	r.events = append(r.events, ev)
}

func (r *recorder) Removed() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.removed = true
}

func (r *recorder) names() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, e := range r.events {
		out = append(out, e.Name)
	}
	return out
}

func (r *recorder) last() *Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.events) == 0 {
		return nil
	}
	return r.events[len(r.events)-1]
}

func (r *recorder) isRemoved() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.removed
}

const app ids.AppID = "app1"

var quiet = slog.New(slog.DiscardHandler)

var all = GrantPublish | GrantSubscribe | GrantData

func newManager(t *testing.T, cfg Config) (*Manager, *[]*Event) {
	t.Helper()
	var mu sync.Mutex
	var observed []*Event
	m, err := NewManager(cfg, Options{Logger: quiet, Observer: func(ev *Event) {
		mu.Lock()
		observed = append(observed, ev)
		mu.Unlock()
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Shutdown)
	return m, &observed
}

func join(t *testing.T, m *Manager, user ids.UserID, room ids.RoomID, g Grants) (*Member, *recorder, Joined) {
	t.Helper()
	rec := &recorder{}
	j, err := m.Join(context.Background(), Identity{App: app, User: user, Name: "name-" + string(user), Grants: g}, room, rec)
	if err != nil {
		t.Fatalf("join %s: %v", user, err)
	}
	return j.Member, rec, j
}

func wantCode(t *testing.T, err error, code protocol.Code) {
	t.Helper()
	var pe *protocol.Error
	if !errors.As(err, &pe) {
		t.Fatalf("want code %d, got error %v", code, err)
	}
	if pe.Code != code {
		t.Fatalf("want code %d, got %d (%s)", code, pe.Code, pe.Msg)
	}
}

func TestJoinSeesOthersAndTheirStreams(t *testing.T) {
	m, _ := newManager(t, Config{})
	alice, arec, _ := join(t, m, "alice", "r1", all)
	if _, err := alice.Publish("", protocol.MediaAudioVideo); err != nil {
		t.Fatal(err)
	}
	if err := func() error { _, err := alice.SetAttributes(map[string]string{"topic": "maths"}, nil); return err }(); err != nil {
		t.Fatal(err)
	}
	_, _, j := join(t, m, "bob", "r1", all)
	if len(j.Others) != 1 || j.Others[0].UserID != "alice" {
		t.Fatalf("others = %+v", j.Others)
	}
	if got := j.Others[0].Streams; len(got) != 1 || got[0].ID != "alice_main" || got[0].Media != protocol.MediaAudioVideo {
		t.Fatalf("alice's streams = %+v", got)
	}
	if j.Room.Attributes["topic"] != "maths" {
		t.Fatalf("attributes = %v", j.Room.Attributes)
	}
	if strings.Join(j.Self.Grants, ",") != "publish,subscribe,data" {
		t.Fatalf("self grants = %v", j.Self.Grants)
	}
	ev := arec.last()
	if ev.Name != protocol.EvUserJoined || ev.Data.(*protocol.UserJoinedEvent).User.UserID != "bob" {
		t.Fatalf("alice got %v", arec.names())
	}
	if ev.Data.(*protocol.UserJoinedEvent).User.Grants != nil {
		t.Fatal("grants leaked to other participants")
	}
}

func TestAppsAreIsolated(t *testing.T) {
	m, _ := newManager(t, Config{})
	join(t, m, "alice", "r1", all)
	rec := &recorder{}
	j, err := m.Join(context.Background(), Identity{App: "app2", User: "bob", Grants: all}, "r1", rec)
	if err != nil {
		t.Fatal(err)
	}
	if len(j.Others) != 0 {
		t.Fatalf("app2 sees app1's users: %+v", j.Others)
	}
	if got := m.Rooms("app2"); len(got) != 1 || got[0].Participants != 1 {
		t.Fatalf("rooms of app2 = %+v", got)
	}
}

func TestEventsAreOrderedAndNotEchoed(t *testing.T) {
	m, observed := newManager(t, Config{})
	alice, arec, _ := join(t, m, "alice", "r1", all)
	bob, brec, _ := join(t, m, "bob", "r1", all)
	if _, err := bob.Publish("cam", protocol.MediaVideo); err != nil {
		t.Fatal(err)
	}
	tr := true
	if _, err := bob.Mute("cam", nil, &tr); err != nil {
		t.Fatal(err)
	}
	if _, err := bob.Mute("cam", nil, &tr); err != nil { // no change: no event
		t.Fatal(err)
	}
	if _, err := alice.SendMessage("chat", "hi", nil); err != nil {
		t.Fatal(err)
	}
	if err := bob.Unpublish("cam"); err != nil {
		t.Fatal(err)
	}
	bob.Leave(protocol.ReasonLeft)

	want := []string{"user_joined", "stream_published", "stream_state_changed", "stream_unpublished", "user_left"}
	if got := arec.names(); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("alice got %v, want %v", got, want)
	}
	if got := brec.names(); strings.Join(got, " ") != "message" {
		t.Fatalf("bob got %v", got)
	}
	if !brec.isRemoved() {
		t.Fatal("bob's sink not told it was removed")
	}
	var last uint64
	for _, ev := range *observed {
		if ev.Seq != last+1 {
			t.Fatalf("observer saw seq %d after %d", ev.Seq, last)
		}
		last = ev.Seq
	}
	if (*observed)[0].Name != EvRoomCreated {
		t.Fatalf("first event %s", (*observed)[0].Name)
	}
	st := arec.events[2].Data.(*protocol.StreamEvent).Stream
	if !st.VideoDisabled || st.AudioMuted {
		t.Fatalf("state = %+v", st)
	}
}

func TestPublishErrors(t *testing.T) {
	m, _ := newManager(t, Config{MaxStreamsPerParticipant: 2})
	alice, _, _ := join(t, m, "alice", "r1", all)
	_, err := alice.Publish("main", "hologram")
	wantCode(t, err, protocol.CodeInvalidField)
	_, err = alice.Publish("bad tag", protocol.MediaAudio)
	wantCode(t, err, protocol.CodeInvalidField)
	if _, err := alice.Publish("", protocol.MediaAudio); err != nil {
		t.Fatal(err)
	}
	_, err = alice.Publish("main", protocol.MediaVideo)
	wantCode(t, err, protocol.CodeStreamExists)
	if _, err := alice.Publish("screen", protocol.MediaVideo); err != nil {
		t.Fatal(err)
	}
	_, err = alice.Publish("third", protocol.MediaVideo)
	wantCode(t, err, protocol.CodeTooManyStreams)
	wantCode(t, alice.Unpublish("nope"), protocol.CodeStreamNotFound)
	f := false
	_, err = alice.Mute("main", nil, &f)
	wantCode(t, err, protocol.CodeInvalidField) // audio-only stream has no video
	_, err = alice.Mute("main", nil, nil)
	wantCode(t, err, protocol.CodeInvalidField)
	_, err = alice.Mute("nope", &f, nil)
	wantCode(t, err, protocol.CodeStreamNotFound)
}

func TestGrantsEnforced(t *testing.T) {
	m, _ := newManager(t, Config{})
	viewer, _, _ := join(t, m, "viewer", "r1", GrantSubscribe)
	pub, _, _ := join(t, m, "pub", "r1", GrantPublish)
	if _, err := pub.Publish("", protocol.MediaAudio); err != nil {
		t.Fatal(err)
	}
	_, err := viewer.Publish("", protocol.MediaAudio)
	wantCode(t, err, protocol.CodePermission)
	_, err = pub.Subscribe([]ids.StreamID{"pub_main"})
	wantCode(t, err, protocol.CodePermission)
	_, err = viewer.SendMessage("x", "y", nil)
	wantCode(t, err, protocol.CodePermission)
	_, err = viewer.SetAttributes(map[string]string{"a": "b"}, nil)
	wantCode(t, err, protocol.CodePermission)
	_, err = viewer.DeleteAttributes([]string{"a"}, nil)
	wantCode(t, err, protocol.CodePermission)
	wantCode(t, viewer.Kick(context.Background(), "pub", 0, ""), protocol.CodePermission)
	wantCode(t, viewer.CloseRoom(""), protocol.CodePermission)
	if _, err := viewer.Subscribe([]ids.StreamID{"pub_main"}); err != nil {
		t.Fatal(err)
	}
	if _, err := viewer.GetAttributes(nil); err != nil {
		t.Fatal("reading attributes needs no grant:", err)
	}
}

func TestSubscriptionsTrackedAndDroppedOnUnpublish(t *testing.T) {
	m, _ := newManager(t, Config{})
	pub, _, _ := join(t, m, "pub", "r1", all)
	sub, _, _ := join(t, m, "sub", "r1", all)
	pub.Publish("", protocol.MediaAudioVideo)
	pub.Publish("screen", protocol.MediaVideo)
	_, err := sub.Subscribe([]ids.StreamID{"pub_main", "pub_nope"})
	wantCode(t, err, protocol.CodeStreamNotFound)
	st, _ := m.Room(app, "r1")
	if len(st.Subscriptions["sub"]) != 0 {
		t.Fatal("failed subscribe was partly applied")
	}
	got, err := sub.Subscribe([]ids.StreamID{"pub_main", "pub_screen"})
	if err != nil || len(got) != 2 {
		t.Fatalf("subscribe = %v, %v", got, err)
	}
	pub.Unpublish("screen")
	st, _ = m.Room(app, "r1")
	if s := st.Subscriptions["sub"]; len(s) != 1 || s[0] != "pub_main" {
		t.Fatalf("subscriptions after unpublish = %v", s)
	}
	got, _ = sub.Unsubscribe([]ids.StreamID{"pub_main", "pub_main"})
	if len(got) != 0 {
		t.Fatalf("after unsubscribe = %v", got)
	}
}

func TestAttributesLimitsAndNotification(t *testing.T) {
	m, _ := newManager(t, Config{MaxAttributes: 3, MaxAttributeValueBytes: 10, MaxAttributesBytes: 30})
	a, _, _ := join(t, m, "a", "r1", all)
	_, brec, _ := join(t, m, "b", "r1", all)
	n := &protocol.Notification{Name: "hand", Content: "up"}
	if _, err := a.SetAttributes(map[string]string{"k1": "v1"}, n); err != nil {
		t.Fatal(err)
	}
	ev := brec.last().Data.(*protocol.AttributesChangedEvent)
	if ev.Set["k1"] != "v1" || ev.Notify.Name != "hand" || ev.By != "a" {
		t.Fatalf("event = %+v", ev)
	}
	_, err := a.SetAttributes(map[string]string{"k2": strings.Repeat("x", 11)}, nil)
	wantCode(t, err, protocol.CodeAttributeLimit)
	_, err = a.SetAttributes(map[string]string{"k2": "1", "k3": "1", "k4": "1"}, nil)
	wantCode(t, err, protocol.CodeAttributeLimit)
	_, err = a.SetAttributes(map[string]string{"": "x"}, nil)
	wantCode(t, err, protocol.CodeInvalidField)
	_, err = a.SetAttributes(map[string]string{"a\nb": "x"}, nil)
	wantCode(t, err, protocol.CodeInvalidField)
	got, _ := a.GetAttributes(nil)
	if len(got) != 1 {
		t.Fatalf("rejected sets changed state: %v", got)
	}
	before := len(brec.names())
	if _, err := a.DeleteAttributes([]string{"missing"}, nil); err != nil {
		t.Fatal(err)
	}
	if len(brec.names()) != before {
		t.Fatal("deleting nothing emitted an event")
	}
	left, err := a.DeleteAttributes([]string{"k1", "missing"}, nil)
	if err != nil || len(left) != 0 {
		t.Fatalf("delete = %v, %v", left, err)
	}
	if d := brec.last().Data.(*protocol.AttributesChangedEvent).Deleted; len(d) != 1 || d[0] != "k1" {
		t.Fatalf("deleted = %v", d)
	}
}

func TestAttributeTotalBytes(t *testing.T) {
	m, _ := newManager(t, Config{MaxAttributesBytes: 20})
	a, _, _ := join(t, m, "a", "r1", all)
	if _, err := a.SetAttributes(map[string]string{"k1": "0123456789"}, nil); err != nil { // 12 bytes
		t.Fatal(err)
	}
	_, err := a.SetAttributes(map[string]string{"k2": "01234567"}, nil) // 12+10 = 22
	wantCode(t, err, protocol.CodeAttributeLimit)
	if _, err := a.SetAttributes(map[string]string{"k1": "0"}, nil); err != nil { // replace shrinks to 3
		t.Fatal(err)
	}
	if _, err := a.SetAttributes(map[string]string{"k2": "01234567"}, nil); err != nil { // 3+10 = 13
		t.Fatal(err)
	}
}

func TestPrivateMessages(t *testing.T) {
	m, _ := newManager(t, Config{})
	a, arec, _ := join(t, m, "a", "r1", all)
	_, brec, _ := join(t, m, "b", "r1", all)
	_, crec, _ := join(t, m, "c", "r1", all)
	id, err := a.SendMessage("dm", "psst", []ids.UserID{"b"})
	if err != nil || id == "" {
		t.Fatal(id, err)
	}
	msg := brec.last().Data.(*protocol.MessageEvent)
	if msg.ID != id || !msg.Private || msg.From != "a" || msg.Content != "psst" {
		t.Fatalf("b got %+v", msg)
	}
	if l := crec.last(); l != nil && l.Name == protocol.EvMessage {
		t.Fatal("private message leaked")
	}
	if arec.last().Name == protocol.EvMessage {
		t.Fatal("private message leaked")
	}
	_, err = a.SendMessage("dm", "x", []ids.UserID{"b", "ghost"})
	wantCode(t, err, protocol.CodeUserNotFound)
	_, err = a.SendMessage("", "x", nil)
	wantCode(t, err, protocol.CodeInvalidField)
	_, err = a.SendMessage("n", strings.Repeat("x", 16<<10+1), nil)
	wantCode(t, err, protocol.CodeMessageTooLarge)
}

func TestRoomFullAndRoomLimit(t *testing.T) {
	m, _ := newManager(t, Config{MaxParticipants: 2, MaxRoomsPerApp: 1})
	join(t, m, "a", "r1", all)
	join(t, m, "b", "r1", all)
	_, err := m.Join(context.Background(), Identity{App: app, User: "c", Grants: all}, "r1", &recorder{})
	wantCode(t, err, protocol.CodeRoomFull)
	// The same user re-joining a full room replaces itself: not "full".
	join(t, m, "b", "r1", all)
	_, err = m.Join(context.Background(), Identity{App: app, User: "c", Grants: all}, "r2", &recorder{})
	wantCode(t, err, protocol.CodeTooManyRooms)
	_, err = m.Join(context.Background(), Identity{App: app, User: "bad user", Grants: all}, "r1", &recorder{})
	wantCode(t, err, protocol.CodeInvalidField)
}

func TestReplaceKicksOffTheOldSession(t *testing.T) {
	m, _ := newManager(t, Config{})
	_, arec, _ := join(t, m, "a", "r1", all)
	old, oldRec, _ := join(t, m, "b", "r1", all)
	old.Publish("", protocol.MediaAudio)
	_, _, j := join(t, m, "b", "r1", all)
	if got := oldRec.names(); got[len(got)-1] != protocol.EvKickedOff || !oldRec.isRemoved() {
		t.Fatalf("old session got %v", got)
	}
	if r := oldRec.last().Data.(*protocol.KickedOffEvent).Reason; r != protocol.ReasonReplaced {
		t.Fatalf("reason %s", r)
	}
	want := "user_joined stream_published stream_unpublished user_left user_joined"
	if got := strings.Join(arec.names(), " "); got != want {
		t.Fatalf("a got %s", got)
	}
	left := arec.events[3].Data.(*protocol.UserLeftEvent)
	if left.Reason != protocol.ReasonReplaced {
		t.Fatalf("left reason %s", left.Reason)
	}
	if len(j.Self.Streams) != 0 {
		t.Fatal("new session inherited streams")
	}
	_, err := old.Publish("x", protocol.MediaAudio)
	wantCode(t, err, protocol.CodeNotJoined)
}

func TestKickAndBan(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	m, err := NewManager(Config{}, Options{Now: clock, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Shutdown()
	admin, _, _ := join(t, m, "admin", "r1", all|GrantAdmin)
	_, vrec, _ := join(t, m, "victim", "r1", all)
	wantCode(t, admin.Kick(context.Background(), "admin", 0, ""), protocol.CodeInvalidField)
	wantCode(t, admin.Kick(context.Background(), "ghost", 0, ""), protocol.CodeUserNotFound)
	wantCode(t, admin.Kick(context.Background(), "victim", 31*24*time.Hour, ""), protocol.CodeInvalidField)
	if err := admin.Kick(context.Background(), "victim", time.Minute, "spam"); err != nil {
		t.Fatal(err)
	}
	ko := vrec.last().Data.(*protocol.KickedOffEvent)
	if ko.Reason != protocol.ReasonKicked || ko.By != "admin" || ko.BanSeconds != 60 || ko.Message != "spam" {
		t.Fatalf("kicked_off = %+v", ko)
	}
	_, err = m.Join(context.Background(), Identity{App: app, User: "victim", Grants: all}, "r1", &recorder{})
	wantCode(t, err, protocol.CodeBanned)
	// Banned from r1 only.
	join(t, m, "victim", "r2", all)
	mu.Lock()
	now = now.Add(61 * time.Second)
	mu.Unlock()
	join(t, m, "victim", "r1", all)
	if err := m.Kick(context.Background(), app, "r1", "victim", 0, "", ""); err != nil {
		t.Fatal(err)
	}
	if err := m.Kick(context.Background(), app, "r1", "victim", time.Hour, "", ""); err != nil {
		t.Fatal("banning an absent user must work:", err)
	}
	if err := m.Unban(context.Background(), app, "r1", "victim"); err != nil {
		t.Fatal(err)
	}
	join(t, m, "victim", "r1", all)
}

func TestCloseRoom(t *testing.T) {
	m, observed := newManager(t, Config{})
	admin, adminRec, _ := join(t, m, "admin", "r1", all|GrantAdmin)
	u, urec, _ := join(t, m, "u", "r1", all)
	u.Publish("", protocol.MediaAudio)
	if err := admin.CloseRoom("lesson over"); err != nil {
		t.Fatal(err)
	}
	for _, rec := range []*recorder{adminRec, urec} {
		if rec.last().Name != protocol.EvRoomClosed || !rec.isRemoved() {
			t.Fatalf("got %v", rec.names())
		}
	}
	_, err := u.SendMessage("x", "y", nil)
	wantCode(t, err, protocol.CodeRoomClosed)
	if _, ok := m.Room(app, "r1"); ok {
		t.Fatal("closed room still listed")
	}
	// Observers get the per-user record.
	var names []string
	for _, ev := range *observed {
		names = append(names, ev.Name)
	}
	tail := strings.Join(names[len(names)-5:], " ")
	if !strings.Contains(tail, "room_closed") || !strings.HasSuffix(tail, "user_left room_destroyed") {
		t.Fatalf("observed tail %s", tail)
	}
	// The name can be used again at once.
	_, _, j := join(t, m, "u", "r1", all)
	if len(j.Others) != 0 || len(j.Room.Attributes) != 0 {
		t.Fatal("new room inherited state")
	}
}

func TestEmptyRoomGraceKeepsAttributesThenDestroys(t *testing.T) {
	m, observed := newManager(t, Config{EmptyGrace: 50 * time.Millisecond})
	a, _, _ := join(t, m, "a", "r1", all)
	a.SetAttributes(map[string]string{"k": "v"}, nil)
	a.Leave(protocol.ReasonLeft)
	_, _, j := join(t, m, "a", "r1", all) // within grace: same room
	if j.Room.Attributes["k"] != "v" {
		t.Fatal("attributes lost within grace")
	}
	j.Member.Leave(protocol.ReasonLeft)
	deadline := time.Now().Add(2 * time.Second)
	for {
		if _, ok := m.Room(app, "r1"); !ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("empty room not destroyed after grace")
		}
		time.Sleep(10 * time.Millisecond)
	}
	last := (*observed)[len(*observed)-1]
	if last.Name != EvRoomDestroyed {
		t.Fatalf("last observed %s", last.Name)
	}
	_, _, j = join(t, m, "a", "r1", all)
	if len(j.Room.Attributes) != 0 {
		t.Fatal("destroyed room's attributes survived")
	}
}

func TestTimeoutLeaveTellsTheMember(t *testing.T) {
	m, _ := newManager(t, Config{})
	_, arec, _ := join(t, m, "a", "r1", all)
	b, brec, _ := join(t, m, "b", "r1", all)
	b.Leave(protocol.ReasonTimeout)
	b.Leave(protocol.ReasonLeft) // twice is harmless
	if brec.last().Data.(*protocol.KickedOffEvent).Reason != protocol.ReasonTimeout {
		t.Fatal("no kicked_off(timeout)")
	}
	if arec.last().Data.(*protocol.UserLeftEvent).Reason != protocol.ReasonTimeout {
		t.Fatal("others did not see the timeout")
	}
}

func TestConcurrentUse(t *testing.T) {
	m, _ := newManager(t, Config{MaxParticipants: 100})
	var wg sync.WaitGroup
	for i := 0; i < 40; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			room := ids.RoomID(fmt.Sprintf("r%d", i%4))
			rec := &recorder{}
			j, err := m.Join(context.Background(), Identity{App: app, User: ids.UserID(fmt.Sprintf("u%d", i)), Grants: all}, room, rec)
			if err != nil {
				t.Error(err)
				return
			}
			mem := j.Member
			mem.Publish("", protocol.MediaAudioVideo)
			mem.SendMessage("n", "c", nil)
			mem.SetAttributes(map[string]string{fmt.Sprint(i % 7): "v"}, nil)
			if i%2 == 0 {
				mem.Leave(protocol.ReasonLeft)
			}
		}(i)
	}
	wg.Wait()
	c := m.Counts()
	if c.Rooms != 4 || c.Participants != 20 || c.Streams != 20 {
		t.Fatalf("counts = %+v", c)
	}
}

func TestStreamIDCollisionBetweenUsers(t *testing.T) {
	m, _ := newManager(t, Config{})
	a, _, _ := join(t, m, "a", "r1", all)
	ab, _, _ := join(t, m, "a_b", "r1", all)
	if _, err := a.Publish("b_c", protocol.MediaAudio); err != nil {
		t.Fatal(err)
	}
	_, err := ab.Publish("c", protocol.MediaAudio)
	wantCode(t, err, protocol.CodeStreamExists)
	if !strings.Contains(err.Error(), "taken by user a") {
		t.Fatalf("message does not explain: %v", err)
	}
}

func TestPrivateMessageNeverReturnsToSender(t *testing.T) {
	m, _ := newManager(t, Config{})
	a, arec, _ := join(t, m, "a", "r1", all)
	_, brec, _ := join(t, m, "b", "r1", all)
	if _, err := a.SendMessage("dm", "x", []ids.UserID{"a", "b"}); err != nil {
		t.Fatal(err)
	}
	if brec.last().Name != protocol.EvMessage {
		t.Fatal("b did not get the message")
	}
	if l := arec.last(); l.Name == protocol.EvMessage {
		t.Fatal("sender got its own message")
	}
	_, err := a.SendMessage("dm", "x", []ids.UserID{"a"})
	wantCode(t, err, protocol.CodeInvalidField)
}

func TestLimitCodes(t *testing.T) {
	m, _ := newManager(t, Config{MaxSubscriptions: 1})
	a, _, _ := join(t, m, "a", "r1", all|GrantAdmin)
	b, _, _ := join(t, m, "b", "r1", all)
	b.Publish("", protocol.MediaAudio)
	b.Publish("x", protocol.MediaAudio)
	if _, err := a.Subscribe([]ids.StreamID{"b_main"}); err != nil {
		t.Fatal(err)
	}
	_, err := a.Subscribe([]ids.StreamID{"b_x"})
	wantCode(t, err, protocol.CodeTooManySubs)
	_, err = a.SendMessage(strings.Repeat("n", 129), "", nil)
	wantCode(t, err, protocol.CodeMessageTooLarge)
	_, err = a.SetAttributes(map[string]string{strings.Repeat("k", 129): "v"}, nil)
	wantCode(t, err, protocol.CodeAttributeLimit)
	wantCode(t, a.Kick(context.Background(), "b", time.Minute, "bad\x00reason"), protocol.CodeInvalidField)
	wantCode(t, a.CloseRoom(strings.Repeat("r", 257)), protocol.CodeInvalidField)
	if _, ok := m.Room(app, "r1"); !ok {
		t.Fatal("refused close closed the room")
	}
}
