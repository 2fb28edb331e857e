package room

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/minirtc/minirtc/internal/store"
	"github.com/minirtc/minirtc/pkg/ids"
	"github.com/minirtc/minirtc/pkg/protocol"
)

// Tests of admin.go: what the app server does through the REST API.

func newManagerWith(t *testing.T, cfg Config, opts Options) *Manager {
	t.Helper()
	opts.Logger = quiet
	m, err := NewManager(cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Shutdown)
	return m
}

// eventsNamed returns the data of rec's events called name.
func eventsNamed[T any](rec *recorder, name string) []T {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	var out []T
	for _, ev := range rec.events {
		if ev.Name == name {
			out = append(out, ev.Data.(T))
		}
	}
	return out
}

func TestAppLimitsLowerTheServers(t *testing.T) {
	lim := map[ids.AppID]store.AppLimits{
		app:    {MaxParticipants: 2, MaxRooms: 1},
		"big":  {MaxParticipants: 500, MaxRooms: 500}, // above the server's: the server's apply
		"zero": {},
	}
	var calls int
	var mu sync.Mutex
	m := newManagerWith(t, Config{MaxParticipants: 3, MaxRoomsPerApp: 2}, Options{
		Limits: func(_ context.Context, a ids.AppID) (store.AppLimits, error) {
			mu.Lock()
			calls++
			mu.Unlock()
			if a == "broken" {
				return store.AppLimits{}, errors.New("database on fire")
			}
			l, ok := lim[a]
			if !ok {
				return store.AppLimits{}, fmt.Errorf("app %s: %w", a, store.ErrNotFound)
			}
			return l, nil
		},
	})
	joinAs := func(a ids.AppID, u ids.UserID, r ids.RoomID) error {
		_, err := m.Join(context.Background(), Identity{App: a, User: u, Grants: all}, r, &recorder{})
		return err
	}
	for _, u := range []ids.UserID{"a", "b"} {
		if err := joinAs(app, u, "r1"); err != nil {
			t.Fatal(err)
		}
	}
	wantCode(t, joinAs(app, "c", "r1"), protocol.CodeRoomFull)
	if err := joinAs(app, "a", "r1"); err != nil { // replacing oneself does not count twice
		t.Fatalf("rejoin at the app's limit: %v", err)
	}
	wantCode(t, joinAs(app, "d", "r2"), protocol.CodeTooManyRooms)
	for _, a := range []ids.AppID{"big", "zero"} {
		for i := range 3 {
			if err := joinAs(a, ids.UserID(fmt.Sprint("u", i)), "r1"); err != nil {
				t.Fatalf("%s: join %d: %v", a, i, err)
			}
		}
		wantCode(t, joinAs(a, "u9", "r1"), protocol.CodeRoomFull)
		if err := joinAs(a, "u0", "r2"); err != nil {
			t.Fatal(err)
		}
		wantCode(t, joinAs(a, "u0", "r3"), protocol.CodeTooManyRooms)
	}
	wantCode(t, joinAs("gone", "u", "r1"), protocol.CodeUnknownApp)
	if err := joinAs("broken", "u", "r1"); err == nil || !strings.Contains(err.Error(), "database on fire") {
		t.Fatalf("join with a failing limits lookup = %v", err)
	}
	if len(m.Rooms("gone")) != 0 || len(m.Rooms("broken")) != 0 {
		t.Fatal("a refused join created a room")
	}
	mu.Lock()
	defer mu.Unlock()
	if calls < 10 {
		t.Fatalf("limits looked up %d times; want once per join", calls)
	}
}

func TestSystemAttributesReachEveryone(t *testing.T) {
	m, _ := newManager(t, Config{MaxAttributes: 2})
	_, arec, _ := join(t, m, "alice", "r1", all)
	_, brec, _ := join(t, m, "bob", "r1", GrantSubscribe)
	got, err := m.SetAttributes(app, "r1", map[string]string{"topic": "maths"}, &protocol.Notification{Name: "topic", Content: "now maths"})
	if err != nil || got["topic"] != "maths" {
		t.Fatalf("SetAttributes = %v, %v", got, err)
	}
	for _, rec := range []*recorder{arec, brec} {
		evs := eventsNamed[*protocol.AttributesChangedEvent](rec, protocol.EvAttributesChanged)
		if len(evs) != 1 || evs[0].By != "" || evs[0].Set["topic"] != "maths" || evs[0].Notify.Content != "now maths" {
			t.Fatalf("attributes_changed seen = %+v", evs)
		}
	}
	if a, err := m.Attributes(app, "r1"); err != nil || len(a) != 1 || a["topic"] != "maths" {
		t.Fatalf("Attributes = %v, %v", a, err)
	}
	_, err = m.SetAttributes(app, "r1", map[string]string{"x": "1", "y": "2"}, nil)
	wantCode(t, err, protocol.CodeAttributeLimit)
	_, err = m.SetAttributes(app, "r1", map[string]string{"bad\nkey": "1"}, nil)
	wantCode(t, err, protocol.CodeInvalidField)
	left, err := m.DeleteAttributes(app, "r1", []string{"topic", "absent"}, nil)
	if err != nil || len(left) != 0 {
		t.Fatalf("DeleteAttributes = %v, %v", left, err)
	}
	evs := eventsNamed[*protocol.AttributesChangedEvent](brec, protocol.EvAttributesChanged)
	if len(evs) != 2 || !slices.Equal(evs[1].Deleted, []string{"topic"}) || evs[1].By != "" {
		t.Fatalf("delete seen as %+v", evs)
	}
	for _, err := range []error{
		func() error { _, err := m.SetAttributes(app, "nope", map[string]string{"a": "b"}, nil); return err }(),
		func() error { _, err := m.DeleteAttributes(app, "nope", []string{"a"}, nil); return err }(),
		func() error { _, err := m.Attributes(app, "nope"); return err }(),
		func() error { _, err := m.Attributes("app2", "r1"); return err }(), // another app's room of the same name
	} {
		wantCode(t, err, protocol.CodeRoomClosed)
	}
}

func TestSystemMessages(t *testing.T) {
	m, _ := newManager(t, Config{})
	_, arec, _ := join(t, m, "alice", "r1", all)
	_, brec, _ := join(t, m, "bob", "r1", 0) // no grants at all: still receives
	_, crec, _ := join(t, m, "carol", "r1", all)
	id, err := m.SendMessage(app, "r1", "notice", "class starts", nil)
	if err != nil || id == "" {
		t.Fatalf("SendMessage = %q, %v", id, err)
	}
	for _, rec := range []*recorder{arec, brec, crec} {
		evs := eventsNamed[*protocol.MessageEvent](rec, protocol.EvMessage)
		if len(evs) != 1 || evs[0].ID != id || evs[0].From != "" || evs[0].Private || evs[0].Content != "class starts" {
			t.Fatalf("message seen = %+v", evs)
		}
	}
	if _, err := m.SendMessage(app, "r1", "dm", "just you two", []ids.UserID{"alice", "bob"}); err != nil {
		t.Fatal(err)
	}
	if n := len(eventsNamed[*protocol.MessageEvent](crec, protocol.EvMessage)); n != 1 {
		t.Fatalf("carol got %d messages, want only the broadcast", n)
	}
	if evs := eventsNamed[*protocol.MessageEvent](brec, protocol.EvMessage); len(evs) != 2 || !evs[1].Private {
		t.Fatalf("bob's messages = %+v", evs)
	}
	_, err = m.SendMessage(app, "r1", "dm", "x", []ids.UserID{"alice", "nobody"})
	wantCode(t, err, protocol.CodeUserNotFound)
	_, err = m.SendMessage(app, "r1", "", "x", nil)
	wantCode(t, err, protocol.CodeInvalidField)
	_, err = m.SendMessage(app, "r9", "n", "x", nil)
	wantCode(t, err, protocol.CodeRoomClosed)
}

func TestUpdateParticipantLive(t *testing.T) {
	m, observed := newManager(t, Config{})
	alice, arec, _ := join(t, m, "alice", "r1", all)
	bob, brec, _ := join(t, m, "bob", "r1", all)
	if _, err := alice.Publish("", protocol.MediaAudioVideo); err != nil {
		t.Fatal(err)
	}
	if _, err := bob.Subscribe([]ids.StreamID{"alice_main"}); err != nil {
		t.Fatal(err)
	}
	name, meta := "Alice (teacher)", `{"role":"teacher"}`
	self, err := m.UpdateParticipant(app, "r1", "alice", ParticipantUpdate{Name: &name, Metadata: &meta})
	if err != nil {
		t.Fatal(err)
	}
	if self.Name != name || self.Metadata != meta || strings.Join(self.Grants, ",") != "publish,subscribe,data" || len(self.Streams) != 1 {
		t.Fatalf("UpdateParticipant = %+v", self)
	}
	seenByBob := eventsNamed[*protocol.ParticipantUpdatedEvent](brec, protocol.EvParticipantUpdated)
	if len(seenByBob) != 1 || seenByBob[0].User.Name != name || seenByBob[0].User.Grants != nil {
		t.Fatalf("bob saw %+v; want the new name and no grants", seenByBob)
	}
	seenByAlice := eventsNamed[*protocol.ParticipantUpdatedEvent](arec, protocol.EvParticipantUpdated)
	if len(seenByAlice) != 1 || seenByAlice[0].User.Metadata != meta || len(seenByAlice[0].User.Grants) != 3 {
		t.Fatalf("alice saw %+v; want her update with grants", seenByAlice)
	}
	// The same values again: nothing to tell.
	if _, err := m.UpdateParticipant(app, "r1", "alice", ParticipantUpdate{Name: &name}); err != nil {
		t.Fatal(err)
	}
	if n := len(eventsNamed[*protocol.ParticipantUpdatedEvent](brec, protocol.EvParticipantUpdated)); n != 1 {
		t.Fatalf("an update that changed nothing was announced (%d events)", n)
	}

	// Taking publish away unpublishes alice's stream for everyone, alice too.
	g := GrantSubscribe | GrantData
	if _, err := m.UpdateParticipant(app, "r1", "alice", ParticipantUpdate{Grants: &g}); err != nil {
		t.Fatal(err)
	}
	for who, rec := range map[string]*recorder{"alice": arec, "bob": brec} {
		names := rec.names()
		i := slices.Index(names, protocol.EvStreamUnpublished)
		if i < 0 || names[len(names)-1] != protocol.EvParticipantUpdated || i > len(names)-2 {
			t.Fatalf("%s got %v; want stream_unpublished then participant_updated", who, names)
		}
	}
	if subs, _ := bob.Subscriptions(); len(subs) != 0 {
		t.Fatalf("bob still subscribed to %v", subs)
	}
	_, err = alice.Publish("", protocol.MediaAudio)
	wantCode(t, err, protocol.CodePermission)

	// Taking subscribe away ends bob's subscriptions; observers hear of it.
	if _, err := alice.SetAttributes(map[string]string{"k": "v"}, nil); err != nil {
		t.Fatal("data grant kept, but set_attributes failed:", err)
	}
	carol, _, _ := join(t, m, "carol", "r1", all)
	if _, err := carol.Publish("", protocol.MediaAudio); err != nil {
		t.Fatal(err)
	}
	if _, err := bob.Subscribe([]ids.StreamID{"carol_main"}); err != nil {
		t.Fatal(err)
	}
	g = GrantPublish
	if _, err := m.UpdateParticipant(app, "r1", "bob", ParticipantUpdate{Grants: &g}); err != nil {
		t.Fatal(err)
	}
	if subs, _ := bob.Subscriptions(); len(subs) != 0 {
		t.Fatalf("bob without subscribe still subscribed to %v", subs)
	}
	_, err = bob.Subscribe([]ids.StreamID{"carol_main"})
	wantCode(t, err, protocol.CodePermission)
	unsub := false
	for _, ev := range *observed {
		if d, ok := ev.Data.(*SubscriptionEvent); ok && ev.Name == EvUnsubscribed && d.User == "bob" && slices.Equal(d.Streams, []ids.StreamID{"carol_main"}) {
			unsub = true
		}
	}
	if !unsub {
		t.Fatal("observers were not told bob's subscription ended")
	}

	// The room remembers: alice joining again keeps the update, not her token's values.
	alice.Leave(protocol.ReasonLeft)
	_, _, j := join(t, m, "alice", "r1", all)
	if j.Self.Name != name || j.Self.Metadata != meta || strings.Join(j.Self.Grants, ",") != "subscribe,data" {
		t.Fatalf("alice rejoined as %+v; want the app server's name, metadata and grants", j.Self)
	}
}

func TestUpdateParticipantErrors(t *testing.T) {
	m, _ := newManager(t, Config{})
	join(t, m, "alice", "r1", all)
	long := strings.Repeat("x", MaxNameBytes+1)
	bad := "a\nb"
	badMeta := "\xff"
	bigMeta := strings.Repeat("m", MaxMetadataBytes+1)
	unknown := Grants(0x80)
	for _, u := range []ParticipantUpdate{{}, {Name: &long}, {Name: &bad}, {Metadata: &badMeta}, {Metadata: &bigMeta}, {Grants: &unknown}} {
		_, err := m.UpdateParticipant(app, "r1", "alice", u)
		wantCode(t, err, protocol.CodeInvalidField)
	}
	name := "x"
	_, err := m.UpdateParticipant(app, "r1", "bob", ParticipantUpdate{Name: &name})
	wantCode(t, err, protocol.CodeUserNotFound)
	_, err = m.UpdateParticipant(app, "r2", "alice", ParticipantUpdate{Name: &name})
	wantCode(t, err, protocol.CodeRoomClosed)
	// Updating a user who is not in the room leaves nothing behind for a later join.
	_, _, j := join(t, m, "bob", "r1", all)
	if j.Self.Name != "name-bob" {
		t.Fatalf("bob joined as %q", j.Self.Name)
	}
}

func TestMuteStreamLocksUntilUnmuted(t *testing.T) {
	m, _ := newManager(t, Config{})
	alice, arec, _ := join(t, m, "alice", "r1", all)
	_, brec, _ := join(t, m, "bob", "r1", all)
	if _, err := alice.Publish("", protocol.MediaAudioVideo); err != nil {
		t.Fatal(err)
	}
	tr, fa := true, false
	st, err := m.MuteStream(app, "r1", "alice_main", &tr, nil)
	if err != nil || !st.AudioMuted || !st.AudioLocked || st.VideoDisabled || st.VideoLocked {
		t.Fatalf("MuteStream = %+v, %v", st, err)
	}
	names := arec.names()
	if len(names) < 2 || names[len(names)-2] != protocol.EvForceMute || names[len(names)-1] != protocol.EvStreamStateChanged {
		t.Fatalf("alice got %v; want force_mute then stream_state_changed", names)
	}
	fm := eventsNamed[*protocol.ForceMuteEvent](arec, protocol.EvForceMute)[0]
	if fm.AudioMuted == nil || !*fm.AudioMuted || fm.VideoDisabled != nil || !fm.Stream.AudioLocked {
		t.Fatalf("force_mute = %+v", fm)
	}
	if len(eventsNamed[*protocol.ForceMuteEvent](brec, protocol.EvForceMute)) != 0 {
		t.Fatal("force_mute went to someone other than the owner")
	}
	changed := eventsNamed[*protocol.StreamEvent](brec, protocol.EvStreamStateChanged)
	if len(changed) != 1 || !changed[0].Stream.AudioMuted || !changed[0].Stream.AudioLocked {
		t.Fatalf("bob saw %+v", changed)
	}
	// The owner cannot undo it, but may change what is not locked.
	_, err = alice.Mute("", &fa, nil)
	wantCode(t, err, protocol.CodePermission)
	if _, err := alice.Mute("", &tr, &tr); err != nil {
		t.Fatalf("muting further or disabling video: %v", err)
	}
	// Same again: no events.
	before := len(brec.names())
	if _, err := m.MuteStream(app, "r1", "alice_main", &tr, nil); err != nil {
		t.Fatal(err)
	}
	if len(brec.names()) != before {
		t.Fatal("a mute that changed nothing was announced")
	}
	// Republishing keeps the lock while the room lives.
	if err := alice.Unpublish(""); err != nil {
		t.Fatal(err)
	}
	st, err = alice.Publish("", protocol.MediaAudioVideo)
	if err != nil || !st.AudioMuted || !st.AudioLocked || st.VideoDisabled {
		t.Fatalf("republished stream = %+v, %v; want audio muted and locked", st, err)
	}
	// The app server unmutes: unlocked, and the owner hears it.
	st, err = m.MuteStream(app, "r1", "alice_main", &fa, nil)
	if err != nil || st.AudioMuted || st.AudioLocked {
		t.Fatalf("unmute = %+v, %v", st, err)
	}
	fms := eventsNamed[*protocol.ForceMuteEvent](arec, protocol.EvForceMute)
	if last := fms[len(fms)-1]; last.AudioMuted == nil || *last.AudioMuted {
		t.Fatalf("last force_mute = %+v; want audio_muted false", last)
	}
	if _, err := alice.Mute("", &tr, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := alice.Mute("", &fa, nil); err != nil {
		t.Fatalf("owner unmuting after the app server unlocked: %v", err)
	}
	// Video locks too.
	if _, err := m.MuteStream(app, "r1", "alice_main", nil, &tr); err != nil {
		t.Fatal(err)
	}
	_, err = alice.Mute("", nil, &fa)
	wantCode(t, err, protocol.CodePermission)
}

func TestMuteStreamErrors(t *testing.T) {
	m, _ := newManager(t, Config{})
	alice, _, _ := join(t, m, "alice", "r1", all)
	if _, err := alice.Publish("cam", protocol.MediaVideo); err != nil {
		t.Fatal(err)
	}
	tr := true
	_, err := m.MuteStream(app, "r1", "alice_cam", nil, nil)
	wantCode(t, err, protocol.CodeInvalidField)
	_, err = m.MuteStream(app, "r1", "alice_cam", &tr, nil)
	wantCode(t, err, protocol.CodeInvalidField)
	_, err = m.MuteStream(app, "r1", "alice_main", &tr, nil)
	wantCode(t, err, protocol.CodeStreamNotFound)
	_, err = m.MuteStream(app, "r2", "alice_cam", nil, &tr)
	wantCode(t, err, protocol.CodeRoomClosed)
}

// fakePlane is a MediaPlane that records what it is told.
type fakePlane struct {
	mu      sync.Mutex
	removed []ids.StreamID
	gone    []string
}

func (f *fakePlane) StreamRemoved(_ ids.AppID, _ ids.RoomID, s ids.StreamID) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.removed = append(f.removed, s)
}

func (f *fakePlane) ViewerGone(_ ids.AppID, _ ids.RoomID, u ids.UserID, streams []ids.StreamID) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.gone = append(f.gone, fmt.Sprint(u, streams))
}

func TestAdminWithMediaPlane(t *testing.T) {
	plane := &fakePlane{}
	m := newManagerWith(t, Config{}, Options{Media: plane})
	alice, arec, _ := join(t, m, "alice", "r1", all)
	bob, brec, _ := join(t, m, "bob", "r1", all)
	if _, err := alice.Publish("", protocol.MediaAudioVideo); err != nil { // pending until media
		t.Fatal(err)
	}
	tr := true
	st, err := m.MuteStream(app, "r1", "alice_main", nil, &tr)
	if err != nil || !st.VideoDisabled {
		t.Fatalf("MuteStream(pending) = %+v, %v", st, err)
	}
	if n := len(eventsNamed[*protocol.ForceMuteEvent](arec, protocol.EvForceMute)); n != 1 {
		t.Fatalf("owner got %d force_mute", n)
	}
	if slices.Contains(brec.names(), protocol.EvStreamStateChanged) {
		t.Fatal("others were told about a pending stream")
	}
	if err := m.StreamLive(app, "r1", "alice_main", &protocol.VideoInfo{Codec: "h264"}, nil); err != nil {
		t.Fatal(err)
	}
	pub := eventsNamed[*protocol.StreamEvent](brec, protocol.EvStreamPublished)
	if len(pub) != 1 || !pub[0].Stream.VideoDisabled || !pub[0].Stream.VideoLocked {
		t.Fatalf("stream went live as %+v; want video disabled and locked", pub)
	}
	if _, err := bob.Subscribe([]ids.StreamID{"alice_main"}); err != nil {
		t.Fatal(err)
	}
	// Revoking grants cuts the media: alice's push, bob's players.
	none := Grants(0)
	if _, err := m.UpdateParticipant(app, "r1", "bob", ParticipantUpdate{Grants: &none}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.UpdateParticipant(app, "r1", "alice", ParticipantUpdate{Grants: &none}); err != nil {
		t.Fatal(err)
	}
	plane.mu.Lock()
	defer plane.mu.Unlock()
	if !slices.Contains(plane.removed, "alice_main") {
		t.Fatalf("media plane not told alice's stream was removed: %v", plane.removed)
	}
	if !slices.Contains(plane.gone, "bob[alice_main]") {
		t.Fatalf("media plane not told bob's players are gone: %v", plane.gone)
	}
}

func TestCloseApp(t *testing.T) {
	m, _ := newManager(t, Config{})
	_, r1, _ := join(t, m, "alice", "r1", all)
	_, r2, _ := join(t, m, "bob", "r2", all)
	rec := &recorder{}
	if _, err := m.Join(context.Background(), Identity{App: "app2", User: "carol", Grants: all}, "r1", rec); err != nil {
		t.Fatal(err)
	}
	if n := m.CloseApp(app, "app deleted"); n != 2 {
		t.Fatalf("CloseApp closed %d rooms, want 2", n)
	}
	for _, r := range []*recorder{r1, r2} {
		evs := eventsNamed[*protocol.RoomClosedEvent](r, protocol.EvRoomClosed)
		if len(evs) != 1 || evs[0].Reason != "app deleted" || !r.isRemoved() {
			t.Fatalf("member of a deleted app got %v", r.names())
		}
	}
	if len(m.Rooms(app)) != 0 {
		t.Fatal("rooms of a deleted app remain")
	}
	_, err := m.Join(context.Background(), Identity{App: app, User: "alice", Grants: all}, "r1", &recorder{})
	wantCode(t, err, protocol.CodeUnknownApp)
	if rec.isRemoved() || len(m.Rooms("app2")) != 1 {
		t.Fatal("closing one app's rooms touched another app's")
	}
}
