package client

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/minirtc/minirtc/internal/auth"
	"github.com/minirtc/minirtc/internal/servertest"
	"github.com/minirtc/minirtc/pkg/ids"
	"github.com/minirtc/minirtc/pkg/protocol"
)

// Two participants: every operation answers, and the other side sees the
// matching event.
func TestRoomOperations(t *testing.T) {
	env := servertest.Start(t, nil)
	checkLeaks(t)
	ctx := ctxT(t)

	alice, arec := join(t, env, env.URL, "alice", "r1", nil)
	bob, brec := join(t, env, env.URL, "bob", "r1", nil)

	if alice.State() != StateConnected || alice.SessionID() == "" {
		t.Fatalf("alice: state %s session %q", alice.State(), alice.SessionID())
	}
	jb := bob.Joined()
	if jb.Room.ID != "r1" || jb.Self.UserID != "bob" || len(jb.Participants) != 1 || jb.Participants[0].UserID != "alice" {
		t.Fatalf("bob's snapshot: %+v", jb)
	}
	ev, _ := arec.waitFor(t, 0, protocol.EvUserJoined, nil)
	var uj protocol.UserJoinedEvent
	if err := ev.Decode(&uj); err != nil || uj.User.UserID != "bob" {
		t.Fatalf("user_joined: %+v %v", uj, err)
	}

	pub, err := alice.PublishURL(ctx, "", protocol.MediaAudioVideo)
	if err != nil {
		t.Fatal(err)
	}
	if st := pub.Stream; st.ID != "alice_main" || st.Tag != "main" || st.Media != protocol.MediaAudioVideo || pub.PushURL == "" {
		t.Fatalf("publish answered %+v", pub)
	}
	if _, err := alice.Publish(ctx, "main", protocol.MediaAudio); !isCode(err, protocol.CodeStreamExists) {
		t.Fatalf("second publish: %v", err)
	}
	env.GoLive(t, pub.PushURL, protocol.MediaAudioVideo) // the stream is announced when media flows
	ev, _ = brec.waitFor(t, 0, protocol.EvStreamPublished, nil)
	var se protocol.StreamEvent
	if err := ev.Decode(&se); err != nil || se.Stream.ID != "alice_main" {
		t.Fatalf("stream_published: %+v %v", se, err)
	}

	subs, err := bob.Subscribe(ctx, "alice_main")
	if err != nil || !slices.Equal(subs, []ids.StreamID{"alice_main"}) {
		t.Fatalf("subscribe: %v %v", subs, err)
	}

	st, err := alice.Mute(ctx, "main", ptr(true), nil)
	if err != nil || !st.AudioMuted || st.VideoDisabled {
		t.Fatalf("mute: %+v %v", st, err)
	}
	brec.waitFor(t, 0, protocol.EvStreamStateChanged, func(ev Event) bool {
		var se protocol.StreamEvent
		return ev.Decode(&se) == nil && se.Stream.AudioMuted
	})

	attrs, err := alice.SetAttributes(ctx, map[string]string{"topic": "go", "mode": "quiet"}, &protocol.Notification{Name: "hand", Content: "up"})
	if err != nil || attrs["topic"] != "go" || attrs["mode"] != "quiet" {
		t.Fatalf("set attributes: %v %v", attrs, err)
	}
	ev, _ = brec.waitFor(t, 0, protocol.EvAttributesChanged, nil)
	var ac protocol.AttributesChangedEvent
	if err := ev.Decode(&ac); err != nil || ac.By != "alice" || ac.Set["topic"] != "go" || ac.Notify == nil || ac.Notify.Name != "hand" {
		t.Fatalf("attributes_changed: %+v %v", ac, err)
	}
	got, err := bob.GetAttributes(ctx, "topic")
	if err != nil || len(got) != 1 || got["topic"] != "go" {
		t.Fatalf("get attributes: %v %v", got, err)
	}
	if got, err = bob.GetAttributes(ctx); err != nil || len(got) != 2 {
		t.Fatalf("get all attributes: %v %v", got, err)
	}
	if got, err = alice.DeleteAttributes(ctx, []string{"mode"}, nil); err != nil || len(got) != 1 {
		t.Fatalf("delete attributes: %v %v", got, err)
	}
	brec.waitFor(t, 0, protocol.EvAttributesChanged, func(ev Event) bool {
		var ac protocol.AttributesChangedEvent
		return ev.Decode(&ac) == nil && slices.Equal(ac.Deleted, []string{"mode"})
	})

	mid, err := alice.SendMessage(ctx, "chat", "hello room")
	if err != nil || mid == "" {
		t.Fatalf("send message: %q %v", mid, err)
	}
	ev, _ = brec.waitFor(t, 0, protocol.EvMessage, nil)
	var me protocol.MessageEvent
	if err := ev.Decode(&me); err != nil || me.ID != mid || me.From != "alice" || me.Content != "hello room" || me.Private {
		t.Fatalf("message: %+v %v", me, err)
	}
	if _, err := bob.SendMessage(ctx, "chat", "psst", "alice"); err != nil {
		t.Fatal(err)
	}
	arec.waitFor(t, 0, protocol.EvMessage, func(ev Event) bool {
		var me protocol.MessageEvent
		return ev.Decode(&me) == nil && me.Private && me.Content == "psst" && me.From == "bob"
	})

	rid, err := alice.Report(ctx, "pusher_state", "alice_main", map[string]any{"code": 1002})
	if err != nil || rid <= 0 {
		t.Fatalf("report: %d %v", rid, err)
	}
	if rid, err = alice.Report(ctx, "net_status", "", json.RawMessage(`{"fps":25}`)); err != nil || rid <= 0 {
		t.Fatalf("raw report: %d %v", rid, err)
	}

	at, err := alice.Ping(ctx)
	if err != nil || time.Since(at).Abs() > time.Minute {
		t.Fatalf("ping: %v %v", at, err)
	}

	if subs, err = bob.Unsubscribe(ctx, "alice_main"); err != nil || len(subs) != 0 {
		t.Fatalf("unsubscribe: %v %v", subs, err)
	}
	if err := alice.Unpublish(ctx, "main"); err != nil {
		t.Fatal(err)
	}
	brec.waitFor(t, 0, protocol.EvStreamUnpublished, nil)
	if err := alice.Unpublish(ctx, "main"); !isCode(err, protocol.CodeStreamNotFound) {
		t.Fatalf("second unpublish: %v", err)
	}

	// Not an admin.
	if err := bob.Kick(ctx, "alice", 0, "x"); !isCode(err, protocol.CodePermission) {
		t.Fatalf("kick without admin: %v", err)
	}
	// Generic requests: an unknown op is the server's to refuse.
	if err := bob.Do(ctx, "frobnicate", nil, nil); !isCode(err, protocol.CodeUnknownOp) {
		t.Fatalf("unknown op: %v", err)
	}
	var ar protocol.AttributesResponse
	if err := bob.Do(ctx, protocol.OpGetAttributes, protocol.GetAttributesRequest{}, &ar); err != nil || ar.Attributes["topic"] != "go" {
		t.Fatalf("Do: %+v %v", ar, err)
	}
	for _, op := range []string{protocol.OpJoin, protocol.OpResume, protocol.OpLeave} {
		if err := bob.Do(ctx, op, nil, nil); !errors.Is(err, ErrReservedOp) {
			t.Fatalf("Do(%s): %v", op, err)
		}
	}

	if err := bob.Leave(ctx); err != nil {
		t.Fatal(err)
	}
	if bob.State() != StateDisconnected || bob.Err() != nil {
		t.Fatalf("bob after leave: %s %v", bob.State(), bob.Err())
	}
	ev, _ = arec.waitFor(t, 0, protocol.EvUserLeft, nil)
	var ul protocol.UserLeftEvent
	if err := ev.Decode(&ul); err != nil || ul.UserID != "bob" || ul.Reason != protocol.ReasonLeft {
		t.Fatalf("user_left: %+v %v", ul, err)
	}
	<-brec.done // Events is closed after Leave
	if _, err := bob.GetAttributes(ctx); !errors.Is(err, ErrClosed) {
		t.Fatalf("request after leave: %v", err)
	}
	if err := bob.Close(); err != nil {
		t.Fatal(err)
	}
	checkSeqs(t, arec.serverEvents())
}

// checkSeqs asserts that server events came numbered 1, 2, 3... (restarting
// at 1 only right after a rejoin, which this helper is not for).
func checkSeqs(t *testing.T, evs []Event) {
	t.Helper()
	for i, ev := range evs {
		if ev.Seq != uint64(i+1) {
			t.Fatalf("event %d (%s) has seq %d; all: %v", i, ev.Name, ev.Seq, seqsOf(evs))
		}
	}
}

func seqsOf(evs []Event) []uint64 {
	out := make([]uint64, len(evs))
	for i, ev := range evs {
		out[i] = ev.Seq
	}
	return out
}

func TestJoinRefused(t *testing.T) {
	env := servertest.Start(t, nil)
	checkLeaks(t)
	ctx := ctxT(t)
	cases := []struct {
		name  string
		token string
		room  ids.RoomID
		code  protocol.Code
	}{
		{"garbage", "not-a-token", "r1", protocol.CodeTokenInvalid},
		{"bad signature", env.Token(t, "u1", "r1") + "x", "r1", protocol.CodeTokenSignature},
		{"other room", env.Token(t, "u1", "r2"), "r1", protocol.CodeRoomNotAllowed},
		{"expired", env.Mint(t, auth.Claims{User: "u1", IssuedAt: time.Now().Add(-2 * time.Hour), ExpiresAt: time.Now().Add(-time.Hour)}), "r1", protocol.CodeTokenExpired},
	}
	for _, tc := range cases {
		c, err := Join(ctx, env.URL, tc.token, tc.room, nil)
		var pe *protocol.Error
		if c != nil || !errors.As(err, &pe) || pe.Code != tc.code {
			t.Errorf("%s: client %v err %v, want code %d", tc.name, c, err, tc.code)
		}
	}
	// Nothing listening: a plain error, quickly.
	_, err := Join(ctx, "ws://127.0.0.1:1/ws", env.Token(t, "u1", "r1"), "r1", &Options{DialTimeout: 2 * time.Second})
	var pe *protocol.Error
	if err == nil || errors.As(err, &pe) {
		t.Errorf("dial to nowhere: %v", err)
	}
	// A token error is reported to OnState too.
	var states []State
	_, err = Join(ctx, env.URL, "not-a-token", "r1", &Options{OnState: func(s State, _ error) { states = append(states, s) }})
	if !isCode(err, protocol.CodeTokenInvalid) || !slices.Equal(states, []State{StateConnecting, StateDisconnected}) {
		t.Errorf("OnState on refusal: %v %v", states, err)
	}
}

// An oversized request fails locally with the server's code, and the
// connection is unaffected.
func TestFrameTooLargeLocally(t *testing.T) {
	env := servertest.Start(t, nil)
	checkLeaks(t)
	ctx := ctxT(t)
	alice, _ := join(t, env, env.URL, "alice", "r1", nil)
	_, err := alice.SendMessage(ctx, "chat", strings.Repeat("x", protocol.MaxFrameBytes))
	if !isCode(err, protocol.CodeFrameTooLarge) {
		t.Fatalf("err = %v", err)
	}
	if _, err := alice.Ping(ctx); err != nil || alice.State() != StateConnected {
		t.Fatalf("after: %v %s", err, alice.State())
	}
	// Cancelled contexts are honoured before anything is sent.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := alice.Ping(cctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
}
