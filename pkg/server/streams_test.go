package server_test

import (
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/minirtc/minirtc/internal/clienttest"
	"github.com/minirtc/minirtc/pkg/protocol"
	"github.com/minirtc/minirtc/pkg/server"
)

// TestStreamCalls: a participant publishes over RTMP; the app server sees
// the stream with statistics and mutes it; the publisher is told and the
// room sees the state change.
func TestStreamCalls(t *testing.T) {
	e := start(t, nil)
	ctx := ctx10(t)
	alice := e.join("alice", "class")
	bob := e.join("bob", "class")
	pr, err := alice.PublishURL(ctx, "", protocol.MediaAudioVideo)
	must(t, err)
	e.GoLive(t, pr.PushURL, protocol.MediaAudioVideo)

	streams, err := e.app.ListStreams(ctx, "class")
	must(t, err)
	if len(streams) != 1 || streams[0].ID != "alice_main" || streams[0].Media != protocol.MediaAudioVideo ||
		streams[0].Video == nil || streams[0].Video.Width != 64 || streams[0].Stats == nil || !streams[0].Stats.Pushing {
		t.Fatalf("streams = %+v", streams)
	}

	st, err := e.app.MuteStream(ctx, "class", "alice_main", server.MuteRequest{AudioMuted: new(true)})
	must(t, err)
	if !st.AudioMuted || !st.AudioLocked || st.VideoDisabled {
		t.Fatalf("muted stream = %+v", st)
	}
	fm := clienttest.DecodeEvent[protocol.ForceMuteEvent](t, clienttest.WaitEvent(t, alice, protocol.EvForceMute, nil))
	if fm.AudioMuted == nil || !*fm.AudioMuted || fm.Stream.ID != "alice_main" {
		t.Fatalf("force_mute = %+v", fm)
	}
	sc := clienttest.DecodeEvent[protocol.StreamEvent](t, clienttest.WaitEvent(t, bob, protocol.EvStreamStateChanged, nil))
	if !sc.Stream.AudioMuted || !sc.Stream.AudioLocked {
		t.Fatalf("stream_state_changed = %+v", sc)
	}
	// The publisher cannot undo it; the app server can.
	if _, err := alice.Mute(ctx, "", new(false), nil); !isCode(err, protocol.CodePermission) {
		t.Fatalf("alice unmutes herself: %v", err)
	}
	st, err = e.app.MuteStream(ctx, "class", "alice_main", server.MuteRequest{AudioMuted: new(false), VideoDisabled: new(true)})
	must(t, err)
	if st.AudioMuted || st.AudioLocked || !st.VideoDisabled || !st.VideoLocked {
		t.Fatalf("after unmute audio, disable video: %+v", st)
	}
	_, err = e.app.MuteStream(ctx, "class", "bob_main", server.MuteRequest{AudioMuted: new(true)})
	wantAPIError(t, err, http.StatusNotFound, protocol.CodeStreamNotFound, "")
	_, err = e.app.MuteStream(ctx, "class", "alice_main", server.MuteRequest{})
	wantAPIError(t, err, http.StatusBadRequest, protocol.CodeInvalidField, "audio_muted")
}

// TestReportsAndIngests: a report a client sends is found by QueryReports;
// an ingest URL made by CreateIngest publishes into the room, and
// RevokeIngest ends the push.
func TestReportsAndIngests(t *testing.T) {
	e := start(t, nil)
	ctx := ctx10(t)
	alice := e.join("alice", "class")
	before := time.Now().Add(-time.Second)
	id, err := alice.Report(ctx, "quality", "", map[string]any{"rtt_ms": 42})
	must(t, err)
	reports, err := e.app.QueryReports(ctx, server.ReportQuery{Room: "class", User: "alice", From: before, To: time.Now().Add(time.Second), Limit: 10})
	must(t, err)
	if len(reports) != 1 || reports[0].ID != id || reports[0].Kind != "quality" || string(reports[0].Data) != `{"rtt_ms":42}` ||
		reports[0].Session != alice.SessionID() {
		t.Fatalf("reports = %+v", reports)
	}
	if reports, err = e.app.QueryReports(ctx, server.ReportQuery{User: "bob"}); err != nil || len(reports) != 0 {
		t.Fatalf("bob's reports = %+v, %v", reports, err)
	}
	_, err = e.app.QueryReports(ctx, server.ReportQuery{Limit: 1001})
	wantAPIError(t, err, http.StatusBadRequest, protocol.CodeInvalidField, "limit")

	in, err := e.app.CreateIngest(ctx, server.IngestRequest{Room: "class", User: "obs", TTLSeconds: 600})
	must(t, err)
	if in.ID == "" || in.URL == "" || in.Stream != "obs_main" || in.ExpiresAt.Time().Before(time.Now().Add(9*time.Minute)) {
		t.Fatalf("ingest = %+v", in)
	}
	e.GoLive(t, in.URL, protocol.MediaAudioVideo)
	joined := clienttest.DecodeEvent[protocol.UserJoinedEvent](t, clienttest.WaitEvent(t, alice, protocol.EvUserJoined, nil))
	if joined.User.UserID != "obs" {
		t.Fatalf("user_joined = %+v", joined)
	}
	got, err := e.app.GetIngest(ctx, in.ID)
	must(t, err)
	if got.URL != "" || got.Room != "class" || got.RevokedAt != 0 {
		t.Fatalf("get ingest = %+v", got)
	}
	list, err := e.app.ListIngests(ctx)
	must(t, err)
	if len(list) != 1 || list[0].ID != in.ID {
		t.Fatalf("ingests = %+v", list)
	}
	rev, err := e.app.RevokeIngest(ctx, in.ID)
	must(t, err)
	if rev.RevokedAt == 0 {
		t.Fatalf("revoked = %+v", rev)
	}
	left := clienttest.DecodeEvent[protocol.UserLeftEvent](t, clienttest.WaitEvent(t, alice, protocol.EvUserLeft, nil))
	if left.UserID != "obs" || left.Reason != protocol.ReasonKicked {
		t.Fatalf("user_left = %+v", left)
	}
	_, err = e.app.GetIngest(ctx, "ing-none")
	wantAPIError(t, err, http.StatusNotFound, server.CodeNotFound, "")
}

// TestMintTokenCall: the server mints a token with what was asked; it
// joins; a token with no grants can be asked for.
func TestMintTokenCall(t *testing.T) {
	e := start(t, nil)
	ctx := ctx10(t)
	for _, c := range []*server.Client{e.app, e.op.ForApp(e.App.ID)} {
		tok, err := c.MintToken(ctx, server.MintTokenRequest{User: "alice", Room: "r1", Name: "Alice", TTLSeconds: 60})
		must(t, err)
		if tok.App != e.App.ID || tok.User != "alice" || tok.Room != "r1" || !slices.Equal(tok.Grants, server.DefaultGrants()) ||
			tok.ExpiresAt.Time().After(time.Now().Add(61*time.Second)) {
			t.Fatalf("token = %+v", tok)
		}
		cl := e.joinWith(tok.Token, "r1")
		if cl.Joined().Self.Name != "Alice" {
			t.Fatalf("joined as %+v", cl.Joined().Self)
		}
		cl.Close()
	}
	tok, err := e.app.MintToken(ctx, server.MintTokenRequest{User: "watcher", Grants: []server.Grant{}})
	must(t, err)
	if tok.Grants == nil || len(tok.Grants) != 0 {
		t.Fatalf("grants of a no-grant token = %#v", tok.Grants)
	}
	_, err = e.app.MintToken(ctx, server.MintTokenRequest{User: "alice", TTLSeconds: 2592001})
	wantAPIError(t, err, http.StatusBadRequest, protocol.CodeInvalidField, "ttl_seconds")
}
