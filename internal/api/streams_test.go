package api_test

import (
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/minirtc/minirtc/internal/clienttest"
	"github.com/minirtc/minirtc/pkg/client"
	"github.com/minirtc/minirtc/pkg/protocol"
)

type streamEntry struct {
	protocol.Stream
	Stats *struct {
		BitrateIn int64          `json:"bitrate_in"`
		Readers   map[string]int `json:"readers"`
		Pushing   bool           `json:"pushing"`
	} `json:"stats"`
}

func TestStreamsWithStatsAndServerMute(t *testing.T) {
	e := start(t, nil)
	alice := e.join("alice", "r1")
	bob := e.join("bob", "r1")
	var list struct {
		Streams []streamEntry `json:"streams"`
	}
	e.ok(http.StatusOK, "GET", e.appPath("/rooms/r1/streams"), e.admin, nil, &list)
	if len(list.Streams) != 0 {
		t.Fatalf("streams before any publish: %+v", list.Streams)
	}
	st := e.publishLive(alice, protocol.MediaAudioVideo)
	clienttest.WaitEvent(t, bob, protocol.EvStreamPublished, nil)

	e.ok(http.StatusOK, "GET", e.appPath("/rooms/r1/streams"), e.admin, nil, &list)
	if len(list.Streams) != 1 || list.Streams[0].ID != st.ID || list.Streams[0].Video == nil || list.Streams[0].Audio == nil {
		t.Fatalf("streams = %+v", list.Streams)
	}
	if s := list.Streams[0].Stats; s == nil || !s.Pushing || s.Readers == nil {
		t.Fatalf("stats of a live pushed stream = %+v", s)
	}

	// Server-side mute: the publisher is told and locked; everyone sees the state.
	var one struct {
		Stream protocol.Stream `json:"stream"`
	}
	e.ok(http.StatusOK, "POST", e.appPath("/rooms/r1/streams/"+string(st.ID)+"/mute"), e.admin, map[string]any{"audio_muted": true}, &one)
	if !one.Stream.AudioMuted || !one.Stream.AudioLocked || one.Stream.VideoDisabled {
		t.Fatalf("mute answered %+v", one.Stream)
	}
	fm := clienttest.DecodeEvent[protocol.ForceMuteEvent](t, clienttest.WaitEvent(t, alice, protocol.EvForceMute, nil))
	if fm.AudioMuted == nil || !*fm.AudioMuted || fm.VideoDisabled != nil || fm.Stream.ID != st.ID || !fm.Stream.AudioLocked {
		t.Fatalf("force_mute = %+v", fm)
	}
	for who, c := range map[string]*client.Client{"alice": alice, "bob": bob} {
		sc := clienttest.DecodeEvent[protocol.StreamEvent](t, clienttest.WaitEvent(t, c, protocol.EvStreamStateChanged, nil))
		if !sc.Stream.AudioMuted || !sc.Stream.AudioLocked {
			t.Fatalf("%s saw %+v", who, sc.Stream)
		}
	}
	f := false
	if _, err := alice.Mute(ctx10(t), "", &f, nil); !errors.Is(err, protocol.NewError(protocol.CodePermission)) {
		t.Fatalf("publisher unmuting a server mute: %v, want 2006", err)
	}
	e.ok(http.StatusOK, "GET", e.appPath("/rooms/r1/streams"), e.admin, nil, &list)
	if !list.Streams[0].AudioLocked {
		t.Fatal("the listing does not show the lock")
	}
	// Unmute: unlocked, and the publisher may unmute and mute itself again.
	e.ok(http.StatusOK, "POST", e.appPath("/rooms/r1/streams/"+string(st.ID)+"/mute"), e.admin, map[string]any{"audio_muted": false, "video_disabled": true}, &one)
	if one.Stream.AudioMuted || one.Stream.AudioLocked || !one.Stream.VideoDisabled || !one.Stream.VideoLocked {
		t.Fatalf("unmute answered %+v", one.Stream)
	}
	fm = clienttest.DecodeEvent[protocol.ForceMuteEvent](t, clienttest.WaitEvent(t, alice, protocol.EvForceMute, nil))
	if fm.AudioMuted == nil || *fm.AudioMuted || fm.VideoDisabled == nil || !*fm.VideoDisabled {
		t.Fatalf("second force_mute = %+v", fm)
	}
	tr := true
	if _, err := alice.Mute(ctx10(t), "", &tr, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := alice.Mute(ctx10(t), "", &f, nil); err != nil {
		t.Fatalf("unmuting herself after the server unlocked: %v", err)
	}

	e.fails(400, 1003, "audio_muted", "POST", e.appPath("/rooms/r1/streams/"+string(st.ID)+"/mute"), e.admin, map[string]any{})
	e.fails(400, 1003, "audio_muted", "POST", e.appPath("/rooms/r1/streams/"+string(st.ID)+"/mute"), e.admin, map[string]any{"audio_muted": "yes"})
	e.fails(404, 3005, "", "POST", e.appPath("/rooms/r1/streams/bob_main/mute"), e.admin, map[string]any{"audio_muted": true})
	e.fails(404, 4004, "", "POST", e.appPath("/rooms/r9/streams/"+string(st.ID)+"/mute"), e.admin, map[string]any{"audio_muted": true})
	e.fails(400, 1003, "stream", "POST", e.appPath("/rooms/r1/streams/nounderscore/mute"), e.admin, map[string]any{"audio_muted": true})
	e.fails(404, 4004, "", "GET", e.appPath("/rooms/r9/streams"), e.admin, nil)

	// A video-only stream has no audio to mute.
	cam := e.join("cam", "r1")
	pr, err := cam.PublishURL(ctx10(t), "", protocol.MediaVideo)
	must(t, err)
	e.fails(400, 1003, "audio_muted", "POST", e.appPath("/rooms/r1/streams/"+string(pr.Stream.ID)+"/mute"), e.admin, map[string]any{"audio_muted": true})
}

func TestAttributesAsTheSystem(t *testing.T) {
	e := start(t, nil)
	alice := e.join("alice", "r1")
	bob := e.join("bob", "r1", "subscribe") // no data grant: still told

	var attrs struct {
		Attributes map[string]string `json:"attributes"`
	}
	e.ok(http.StatusOK, "GET", e.appPath("/rooms/r1/attributes"), e.admin, nil, &attrs)
	if attrs.Attributes == nil || len(attrs.Attributes) != 0 {
		t.Fatalf("attributes of a new room = %v", attrs.Attributes)
	}
	e.ok(http.StatusOK, "PATCH", e.appPath("/rooms/r1/attributes"), e.admin, map[string]any{
		"attributes": map[string]string{"topic": "maths", "floor": "alice"}, "notify": map[string]string{"name": "topic", "content": "maths now"},
	}, &attrs)
	if attrs.Attributes["topic"] != "maths" || attrs.Attributes["floor"] != "alice" {
		t.Fatalf("after set %v", attrs.Attributes)
	}
	for _, c := range []*client.Client{alice, bob} {
		ev := clienttest.DecodeEvent[protocol.AttributesChangedEvent](t, clienttest.WaitEvent(t, c, protocol.EvAttributesChanged, nil))
		if ev.By != "" || ev.Set["topic"] != "maths" || ev.Notify == nil || ev.Notify.Content != "maths now" {
			t.Fatalf("attributes_changed = %+v", ev)
		}
	}
	if got, err := alice.GetAttributes(ctx10(t)); err != nil || got["floor"] != "alice" {
		t.Fatalf("a participant reads %v, %v", got, err)
	}
	e.ok(http.StatusOK, "POST", e.appPath("/rooms/r1/attributes/delete"), e.admin, map[string]any{"keys": []string{"floor", "absent"}}, &attrs)
	if len(attrs.Attributes) != 1 || attrs.Attributes["topic"] != "maths" {
		t.Fatalf("after delete %v", attrs.Attributes)
	}
	for _, c := range []*client.Client{alice, bob} {
		del := clienttest.DecodeEvent[protocol.AttributesChangedEvent](t, clienttest.WaitEvent(t, c, protocol.EvAttributesChanged, nil))
		if !slices.Equal(del.Deleted, []string{"floor"}) || del.Set != nil {
			t.Fatalf("delete seen as %+v", del)
		}
	}

	e.fails(400, 1003, "attributes", "PATCH", e.appPath("/rooms/r1/attributes"), e.admin, map[string]any{"attributes": map[string]string{}})
	e.fails(400, 1003, "attributes", "PATCH", e.appPath("/rooms/r1/attributes"), e.admin, map[string]any{})
	e.fails(400, 1003, "attributes", "PATCH", e.appPath("/rooms/r1/attributes"), e.admin, map[string]any{"attributes": map[string]string{"a\tb": "v"}})
	e.fails(400, 3006, "attributes", "PATCH", e.appPath("/rooms/r1/attributes"), e.admin, map[string]any{"attributes": map[string]string{strings.Repeat("k", 129): "v"}})
	e.fails(400, 3006, "attributes", "PATCH", e.appPath("/rooms/r1/attributes"), e.admin, map[string]any{"attributes": map[string]string{"k": strings.Repeat("v", 4097)}})
	e.fails(400, 1003, "attributes", "PATCH", e.appPath("/rooms/r1/attributes"), e.admin, map[string]any{"attributes": map[string]int{"k": 1}})
	e.fails(400, 1003, "notify.name", "PATCH", e.appPath("/rooms/r1/attributes"), e.admin, map[string]any{"attributes": map[string]string{"k": "v"}, "notify": map[string]string{"content": "x"}})
	e.fails(400, 3007, "notify.content", "PATCH", e.appPath("/rooms/r1/attributes"), e.admin, map[string]any{"attributes": map[string]string{"k": "v"}, "notify": map[string]string{"name": "n", "content": strings.Repeat("c", 16385)}})
	e.fails(400, 1003, "keys", "POST", e.appPath("/rooms/r1/attributes/delete"), e.admin, map[string]any{"keys": []string{}})
	e.fails(404, 4004, "", "PATCH", e.appPath("/rooms/r9/attributes"), e.admin, map[string]any{"attributes": map[string]string{"k": "v"}})
	e.fails(404, 4004, "", "GET", e.appPath("/rooms/r9/attributes"), e.admin, nil)
	// Room-wide limits are enforced by the room: 64 keys at most.
	many := map[string]string{}
	for i := range 64 {
		many[string(rune('A'+i%26))+strings.Repeat("x", i/26+1)] = "v"
	}
	e.fails(400, 3006, "attributes", "PATCH", e.appPath("/rooms/r1/attributes"), e.admin, map[string]any{"attributes": many})
}

func TestMessagesAsTheSystem(t *testing.T) {
	e := start(t, nil)
	alice := e.join("alice", "r1")
	bob := e.join("bob", "r1")
	carol := e.join("carol", "r1")

	var sent struct {
		MessageID string `json:"message_id"`
	}
	e.ok(http.StatusOK, "POST", e.appPath("/rooms/r1/messages"), e.admin, map[string]any{"name": "notice", "content": "class starts"}, &sent)
	for _, c := range []*client.Client{alice, bob, carol} {
		m := clienttest.DecodeEvent[protocol.MessageEvent](t, clienttest.WaitEvent(t, c, protocol.EvMessage, nil))
		if m.ID != sent.MessageID || m.From != "" || m.Private || m.Name != "notice" || m.Content != "class starts" {
			t.Fatalf("message = %+v", m)
		}
	}
	e.ok(http.StatusOK, "POST", e.appPath("/rooms/r1/messages"), e.admin, map[string]any{"name": "dm", "content": "for bob", "to": []string{"bob"}}, &sent)
	m := clienttest.DecodeEvent[protocol.MessageEvent](t, clienttest.WaitEvent(t, bob, protocol.EvMessage, nil))
	if !m.Private || m.Content != "for bob" {
		t.Fatalf("private message = %+v", m)
	}
	// Alice did not get it: the next message she sees is the one after.
	e.ok(http.StatusOK, "POST", e.appPath("/rooms/r1/messages"), e.admin, map[string]any{"name": "notice", "content": "second"}, nil)
	if m := clienttest.DecodeEvent[protocol.MessageEvent](t, clienttest.WaitEvent(t, alice, protocol.EvMessage, nil)); m.Content != "second" {
		t.Fatalf("alice got %q; the private message leaked", m.Content)
	}

	e.fails(404, 3003, "", "POST", e.appPath("/rooms/r1/messages"), e.admin, map[string]any{"name": "dm", "to": []string{"bob", "zed"}})
	e.fails(400, 1003, "to[1]", "POST", e.appPath("/rooms/r1/messages"), e.admin, map[string]any{"name": "dm", "to": []string{"bob", "z z"}})
	e.fails(400, 1003, "name", "POST", e.appPath("/rooms/r1/messages"), e.admin, map[string]any{"content": "x"})
	e.fails(400, 3007, "name", "POST", e.appPath("/rooms/r1/messages"), e.admin, map[string]any{"name": strings.Repeat("n", 129)})
	e.fails(400, 3007, "content", "POST", e.appPath("/rooms/r1/messages"), e.admin, map[string]any{"name": "n", "content": strings.Repeat("c", 16385)})
	e.fails(400, 1003, "to", "POST", e.appPath("/rooms/r1/messages"), e.admin, map[string]any{"name": "n", "to": "bob"})
	e.fails(404, 4004, "", "POST", e.appPath("/rooms/r9/messages"), e.admin, map[string]any{"name": "n"})
}
