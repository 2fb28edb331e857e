package signal_test

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"go.uber.org/goleak"

	"github.com/minirtc/minirtc/internal/auth"
	"github.com/minirtc/minirtc/internal/config"
	"github.com/minirtc/minirtc/internal/servertest"
	"github.com/minirtc/minirtc/pkg/ids"
	"github.com/minirtc/minirtc/pkg/protocol"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func roomID(s string) ids.RoomID { return ids.RoomID(s) }

func TestJoinPublishAndEventsBetweenTwoUsers(t *testing.T) {
	env := servertest.Start(t, nil)
	alice := dialRaw(t, env.URL)
	ja := alice.join(env.Token(t, "alice", ""), "r1")
	if ja.SessionID == "" || ja.ResumeToken == "" || ja.PingIntervalMs != 5000 || ja.SessionTimeoutMs != 15000 {
		t.Fatalf("join response = %+v", ja)
	}
	if ja.Protocol != protocol.Version || len(ja.Participants) != 0 || ja.Self.UserID != "alice" {
		t.Fatalf("join response = %+v", ja)
	}
	var pub protocol.PublishResponse
	alice.ok(protocol.OpPublish, protocol.PublishRequest{Media: protocol.MediaAudioVideo}, &pub)
	if pub.Stream.ID != "alice_main" || pub.PushURL == "" {
		t.Fatalf("publish answered %+v", pub)
	}
	env.GoLive(t, pub.PushURL, protocol.MediaAudioVideo)
	// The owner hears its stream go live: its media arrived.
	if ev := alice.event(); ev.Event != protocol.EvStreamPublished || ev.Seq != 1 {
		t.Fatalf("alice got %+v", ev)
	}

	bob := dialRaw(t, env.URL)
	jb := bob.join(env.Token(t, "bob", "r1"), "r1")
	if len(jb.Participants) != 1 || len(jb.Participants[0].Streams) != 1 || jb.Participants[0].Streams[0].ID != "alice_main" {
		t.Fatalf("bob's view = %+v", jb.Participants)
	}
	ev := alice.event()
	if ev.Event != protocol.EvUserJoined || ev.Seq != 2 {
		t.Fatalf("alice got %+v", ev)
	}
	var sub protocol.SubscribeResponse
	bob.ok(protocol.OpSubscribe, protocol.SubscribeRequest{Streams: []ids.StreamID{"alice_main"}}, &sub)
	tr := true
	alice.ok(protocol.OpMute, protocol.MuteRequest{AudioMuted: &tr}, nil)
	ev = bob.event()
	var se protocol.StreamEvent
	json.Unmarshal(ev.Data, &se)
	if ev.Event != protocol.EvStreamStateChanged || !se.Stream.AudioMuted || ev.Seq != 1 {
		t.Fatalf("bob got %+v", ev)
	}
	bob.ok(protocol.OpSendMessage, protocol.SendMessageRequest{Name: "chat", Content: "hello"}, nil)
	ev = alice.event()
	var msg protocol.MessageEvent
	json.Unmarshal(ev.Data, &msg)
	if ev.Event != protocol.EvMessage || msg.Content != "hello" || msg.From != "bob" || ev.Seq != 3 {
		t.Fatalf("alice got %+v", ev)
	}
	bob.ok(protocol.OpSetAttributes, protocol.SetAttributesRequest{Attributes: map[string]string{"k": "v"}, Notify: &protocol.Notification{Name: "n", Content: "c"}}, nil)
	ev = alice.eventNamed(protocol.EvAttributesChanged)
	var ac protocol.AttributesChangedEvent
	json.Unmarshal(ev.Data, &ac)
	if ac.Set["k"] != "v" || ac.Notify == nil || ac.Notify.Name != "n" {
		t.Fatalf("attributes event = %+v", ac)
	}
	var got protocol.AttributesResponse
	alice.ok(protocol.OpGetAttributes, protocol.GetAttributesRequest{Keys: []string{"k", "missing"}}, &got)
	if len(got.Attributes) != 1 || got.Attributes["k"] != "v" {
		t.Fatalf("get_attributes = %+v", got)
	}
	var rep protocol.ReportResponse
	bob.ok(protocol.OpReport, map[string]any{"kind": "player", "stream": "alice_main", "data": map[string]any{"code": 2004, "videoFPS": 15}}, &rep)
	if rep.ReportID == 0 {
		t.Fatal("no report id")
	}
	bob.ok(protocol.OpLeave, nil, nil)
	if code := bob.closedWith(); code != websocket.StatusNormalClosure {
		t.Fatalf("leave closed with %d", code)
	}
	ev = alice.eventNamed(protocol.EvUserLeft)
	var ul protocol.UserLeftEvent
	json.Unmarshal(ev.Data, &ul)
	if ul.UserID != "bob" || ul.Reason != protocol.ReasonLeft {
		t.Fatalf("user_left = %+v", ul)
	}
}

func TestBadFramesKeepTheConnectionUsable(t *testing.T) {
	env := servertest.Start(t, nil)
	c := dialRaw(t, env.URL)
	cases := []struct {
		frame string
		code  protocol.Code
	}{
		{`not json`, protocol.CodeMalformed},
		{`[1,2]`, protocol.CodeMalformed},
		{`{"id":"1","op":"ping"`, protocol.CodeMalformed},
		{`{"op":"ping"}`, protocol.CodeInvalidField},
		{`{"id":7,"op":"ping"}`, protocol.CodeInvalidField},
		{`{"id":"","op":"ping"}`, protocol.CodeInvalidField},
		{`{"id":"x","op":42}`, protocol.CodeInvalidField},
		{`{"id":"x","op":"ping","data":[1]}`, protocol.CodeInvalidField},
		{`{"id":"x","op":"fly"}`, protocol.CodeUnknownOp},
		{`{"id":"x","op":"publish","data":{}}`, protocol.CodeNotJoined},
		{`{"id":"x","op":"join","data":{"token":5,"room":"r"}}`, protocol.CodeInvalidField},
		{`{"id":"x","op":"join","data":{"token":"t","room":"bad room"}}`, protocol.CodeInvalidField},
		{`{"id":"x","op":"join","data":{"token":"","room":"r"}}`, protocol.CodeInvalidField},
		{`{"id":"x","op":"join","data":{"token":"t","room":"r","protocol":9}}`, protocol.CodeBadVersion},
		{`{"id":"` + strings.Repeat("i", 65) + `","op":"ping"}`, protocol.CodeInvalidField},
	}
	for _, tc := range cases {
		c.sendFrame([]byte(tc.frame))
		f := c.read()
		if f.Code != tc.code {
			t.Errorf("%s: want code %d, got %d (%s)", tc.frame, tc.code, f.Code, f.Msg)
		}
		if f.Msg == "" || !strings.Contains(f.Msg, tc.code.String()) {
			t.Errorf("%s: message %q does not say what went wrong", tc.frame, f.Msg)
		}
	}
	// Binary frames are refused too.
	c.ws.Write(t.Context(), websocket.MessageBinary, []byte{1, 2, 3})
	if f := c.read(); f.Code != protocol.CodeMalformed {
		t.Errorf("binary frame: code %d", f.Code)
	}
	// A frame over the limit is refused; the connection lives on.
	big := `{"id":"big","op":"ping","data":{"pad":"` + strings.Repeat("x", protocol.MaxFrameBytes) + `"}}`
	c.sendFrame([]byte(big))
	if f := c.read(); f.Code != protocol.CodeFrameTooLarge || f.ID != "big" {
		t.Errorf("big frame: code %d, id %q", f.Code, f.ID)
	}
	c.join(env.Token(t, "u1", ""), "r1")
	c.wantCode(protocol.OpJoin, protocol.JoinRequest{Token: env.Token(t, "u1", ""), Room: "r1"}, protocol.CodeAlreadyJoined)
	f := c.wantCode(protocol.OpPublish, map[string]any{"media": 5}, protocol.CodeInvalidField)
	if !strings.Contains(f.Msg, `"media"`) {
		t.Errorf("message does not name the field: %s", f.Msg)
	}
	c.wantCode(protocol.OpPublish, protocol.PublishRequest{Media: "smell"}, protocol.CodeInvalidField)
	c.ok(protocol.OpPublish, protocol.PublishRequest{Media: protocol.MediaAudio}, nil)
	c.wantCode(protocol.OpPublish, protocol.PublishRequest{Media: protocol.MediaAudio}, protocol.CodeStreamExists)
	c.wantCode(protocol.OpUnpublish, protocol.UnpublishRequest{Tag: "screen"}, protocol.CodeStreamNotFound)
	c.wantCode(protocol.OpSubscribe, protocol.SubscribeRequest{Streams: []ids.StreamID{"ghost_main"}}, protocol.CodeStreamNotFound)
	c.wantCode(protocol.OpReport, map[string]any{"kind": "pusher", "data": "nope"}, protocol.CodeInvalidField)
	c.wantCode(protocol.OpReport, map[string]any{"kind": "bad kind", "data": map[string]any{}}, protocol.CodeInvalidField)
	c.ok(protocol.OpPing, nil, nil)

	// Past the hard limit the server stops reading: close 1009.
	huge := make([]byte, protocol.HardFrameBytes+10)
	for i := range huge {
		huge[i] = ' '
	}
	c.ws.Write(t.Context(), websocket.MessageText, huge)
	if code := c.closedWith(); code != websocket.StatusMessageTooBig {
		t.Errorf("huge frame: close %d", code)
	}
}

func TestTokenRefusals(t *testing.T) {
	env := servertest.Start(t, nil)
	valid := env.Token(t, "u1", "")
	parts := strings.Split(valid, ".")
	tampered := parts[0] + "." + parts[1] + "." + strings.Repeat("A", len(parts[2]))
	expired := env.Mint(t, auth.Claims{User: "u1", IssuedAt: time.Now().Add(-2 * time.Hour), ExpiresAt: time.Now().Add(-time.Hour)})
	foreign, err := auth.Mint("some-other-secret", auth.Claims{App: "appnotonthisserver", User: "u1", ExpiresAt: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	otherRoom := env.Token(t, "u1", "r2")
	viewer := env.Token(t, "v", "", auth.GrantSubscribe)
	cases := []struct {
		name, token string
		code        protocol.Code
	}{
		{"garbage", "not-a-jwt", protocol.CodeTokenInvalid},
		{"tampered", tampered, protocol.CodeTokenSignature},
		{"expired", expired, protocol.CodeTokenExpired},
		{"unknown app", foreign, protocol.CodeUnknownApp},
		{"other room", otherRoom, protocol.CodeRoomNotAllowed},
	}
	c := dialRaw(t, env.URL)
	for _, tc := range cases {
		f := c.call(protocol.OpJoin, protocol.JoinRequest{Token: tc.token, Room: "r1"})
		if f.Code != tc.code {
			t.Errorf("%s: want %d, got %d (%s)", tc.name, tc.code, f.Code, f.Msg)
		}
	}
	// The connection is still usable after refusals.
	c.join(viewer, "r1")
	c.wantCode(protocol.OpPublish, protocol.PublishRequest{Media: protocol.MediaAudio}, protocol.CodePermission)
	c.wantCode(protocol.OpSendMessage, protocol.SendMessageRequest{Name: "x"}, protocol.CodePermission)
	c.wantCode(protocol.OpKick, protocol.KickRequest{User: "x"}, protocol.CodePermission)
}

func TestRateLimits(t *testing.T) {
	env := servertest.Start(t, func(c *config.Config) {
		c.Signal.MessageRate = 5
		c.Signal.MessageBurst = 5
	})
	c := dialRaw(t, env.URL)
	c.join(env.Token(t, "u1", ""), "r1")
	var ids []string
	for i := 0; i < 20; i++ {
		ids = append(ids, c.send(protocol.OpSendMessage, protocol.SendMessageRequest{Name: "flood", Content: "x"}))
	}
	okCount, limited := 0, 0
	for _, id := range ids {
		switch f := c.response(id); f.Code {
		case 0:
			okCount++
		case protocol.CodeRateLimited:
			limited++
		default:
			t.Fatalf("unexpected code %d", f.Code)
		}
	}
	if okCount < 5 || okCount > 7 || limited == 0 {
		t.Fatalf("ok %d, limited %d", okCount, limited)
	}
	c.ok(protocol.OpPing, nil, nil) // pings are not messages
}

func TestJoinTimeoutClosesIdleConnections(t *testing.T) {
	env := servertest.Start(t, func(c *config.Config) { c.Signal.JoinTimeout = 200 * time.Millisecond })
	c := dialRaw(t, env.URL)
	if code := c.closedWith(); code != websocket.StatusPolicyViolation {
		t.Fatalf("closed with %d", code)
	}
}

func TestSilentSessionTimesOut(t *testing.T) {
	env := servertest.Start(t, func(c *config.Config) {
		c.Signal.PingInterval = 100 * time.Millisecond
		c.Signal.SessionTimeout = 400 * time.Millisecond
	})
	watcher := dialRaw(t, env.URL)
	watcher.join(env.Token(t, "watcher", ""), "r1")
	silent := dialRaw(t, env.URL)
	silent.join(env.Token(t, "silent", ""), "r1")
	watcher.eventNamed(protocol.EvUserJoined)
	// The watcher keeps pinging; the silent one says nothing.
	deadline := time.Now().Add(3 * time.Second)
	var left protocol.UserLeftEvent
	for time.Now().Before(deadline) {
		id := watcher.send(protocol.OpPing, nil)
		watcher.response(id)
		found := false
		for _, ev := range watcher.events {
			if ev.Event == protocol.EvUserLeft {
				json.Unmarshal(ev.Data, &left)
				found = true
			}
		}
		if found {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if left.UserID != "silent" || left.Reason != protocol.ReasonTimeout {
		t.Fatalf("watcher saw %+v", left)
	}
	ev := silent.eventNamed(protocol.EvKickedOff)
	var ko protocol.KickedOffEvent
	json.Unmarshal(ev.Data, &ko)
	if ko.Reason != protocol.ReasonTimeout {
		t.Fatalf("kicked_off = %+v", ko)
	}
	if code := silent.closedWith(); code != 4003 {
		t.Fatalf("closed with %d", code)
	}
}

func TestResumeReplaysMissedEventsOnceInOrder(t *testing.T) {
	env := servertest.Start(t, nil)
	a := dialRaw(t, env.URL)
	ja := a.join(env.Token(t, "a", ""), "r1")
	b := dialRaw(t, env.URL)
	b.join(env.Token(t, "b", ""), "r1")
	first := a.event() // user_joined, seq 1
	if first.Seq != 1 {
		t.Fatalf("first seq %d", first.Seq)
	}
	// Leave a request unanswered-looking: send it, then drop the connection
	// before reading its response.
	a.sendWithID("inflight", protocol.OpSendMessage, protocol.SendMessageRequest{Name: "n", Content: "before cut"})
	a.ws.CloseNow()
	for i := 0; i < 5; i++ {
		b.ok(protocol.OpSendMessage, protocol.SendMessageRequest{Name: "n", Content: string(rune('0' + i))}, nil)
	}
	a2 := dialRaw(t, env.URL)
	var rr protocol.ResumeResponse
	a2.ok(protocol.OpResume, protocol.ResumeRequest{ResumeToken: ja.ResumeToken, LastSeq: 1}, &rr)
	if rr.SessionID != ja.SessionID || rr.Replayed != 5 {
		t.Fatalf("resume = %+v", rr)
	}
	for i := 0; i < 5; i++ {
		ev := a2.event()
		var m protocol.MessageEvent
		json.Unmarshal(ev.Data, &m)
		if ev.Seq != uint64(2+i) || m.Content != string(rune('0'+i)) {
			t.Fatalf("replayed %d: seq %d content %q", i, ev.Seq, m.Content)
		}
	}
	// Re-sending the in-flight request gets the original answer, and b
	// received the message exactly once.
	a2.sendWithID("inflight", protocol.OpSendMessage, protocol.SendMessageRequest{Name: "n", Content: "before cut"})
	if f := a2.response("inflight"); f.Code != 0 {
		t.Fatalf("retry: %+v", f)
	}
	b.ok(protocol.OpPing, nil, nil)
	count := 0
	for _, ev := range b.events {
		var m protocol.MessageEvent
		json.Unmarshal(ev.Data, &m)
		if m.Content == "before cut" {
			count++
		}
	}
	if count != 1 {
		t.Fatalf("b got the in-flight message %d times", count)
	}
	// New events continue the sequence.
	b.ok(protocol.OpSendMessage, protocol.SendMessageRequest{Name: "n", Content: "after"}, nil)
	if ev := a2.event(); ev.Seq != 7 {
		t.Fatalf("next seq %d", ev.Seq)
	}
	// Bad resumes.
	a3 := dialRaw(t, env.URL)
	a3.wantCode(protocol.OpResume, protocol.ResumeRequest{ResumeToken: "nope"}, protocol.CodeResumeFailed)
	a3.wantCode(protocol.OpResume, protocol.ResumeRequest{ResumeToken: ja.ResumeToken + "x"}, protocol.CodeResumeFailed)
	a3.wantCode(protocol.OpResume, protocol.ResumeRequest{ResumeToken: ja.ResumeToken, LastSeq: 99}, protocol.CodeResumeFailed)
}

func TestResumeTakesOverALiveConnection(t *testing.T) {
	env := servertest.Start(t, nil)
	a := dialRaw(t, env.URL)
	ja := a.join(env.Token(t, "a", ""), "r1")
	a2 := dialRaw(t, env.URL)
	a2.ok(protocol.OpResume, protocol.ResumeRequest{ResumeToken: ja.ResumeToken}, nil)
	if code := a.closedWith(); code != 4005 {
		t.Fatalf("old connection closed with %d", code)
	}
	a2.ok(protocol.OpPing, nil, nil)
}

func TestReplaceAndKickAndBan(t *testing.T) {
	env := servertest.Start(t, nil)
	admin := dialRaw(t, env.URL)
	admin.join(env.Token(t, "admin", "", auth.GrantAdmin, auth.GrantData), "r1")
	old := dialRaw(t, env.URL)
	old.join(env.Token(t, "u", ""), "r1")
	newer := dialRaw(t, env.URL)
	newer.join(env.Token(t, "u", ""), "r1")
	ev := old.eventNamed(protocol.EvKickedOff)
	var ko protocol.KickedOffEvent
	json.Unmarshal(ev.Data, &ko)
	if ko.Reason != protocol.ReasonReplaced {
		t.Fatalf("old got %+v", ko)
	}
	if code := old.closedWith(); code != 4002 {
		t.Fatalf("old closed with %d", code)
	}
	admin.ok(protocol.OpKick, protocol.KickRequest{User: "u", BanSeconds: 60, Reason: "rude"}, nil)
	ev = newer.eventNamed(protocol.EvKickedOff)
	json.Unmarshal(ev.Data, &ko)
	if ko.Reason != protocol.ReasonKicked || ko.BanSeconds != 60 || ko.By != "admin" {
		t.Fatalf("kicked_off = %+v", ko)
	}
	if code := newer.closedWith(); code != 4001 {
		t.Fatalf("kicked closed with %d", code)
	}
	again := dialRaw(t, env.URL)
	f := again.wantCode(protocol.OpJoin, protocol.JoinRequest{Token: env.Token(t, "u", ""), Room: "r1"}, protocol.CodeBanned)
	if !strings.Contains(f.Msg, "until") {
		t.Fatalf("ban message %q", f.Msg)
	}
	// The ban is stored: it is in the database, not just in memory.
	if _, banned, err := env.Server.Store().ActiveBan(t.Context(), env.App.ID, "r1", "u", time.Now()); err != nil || !banned {
		t.Fatalf("ban not stored: %v %v", banned, err)
	}
	admin.ok(protocol.OpCloseRoom, protocol.CloseRoomRequest{Reason: "done"}, nil)
	admin.eventNamed(protocol.EvRoomClosed)
	if code := admin.closedWith(); code != 4004 {
		t.Fatalf("room close closed with %d", code)
	}
}

func TestShutdownSaysGoingAway(t *testing.T) {
	env := servertest.Start(t, nil)
	c := dialRaw(t, env.URL)
	c.join(env.Token(t, "u", ""), "r1")
	done := make(chan error)
	go func() { done <- env.Server.Shutdown(t.Context()) }()
	ev := c.eventNamed(protocol.EvGoingAway)
	var ga protocol.GoingAwayEvent
	json.Unmarshal(ev.Data, &ga)
	if ga.RetryAfterMs <= 0 {
		t.Fatalf("going away = %+v", ga)
	}
	if code := c.closedWith(); code != websocket.StatusGoingAway {
		t.Fatalf("closed with %d", code)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// New connections are refused.
	if _, err := net.DialTimeout("tcp", strings.TrimPrefix(env.HTTP, "http://"), time.Second); err == nil {
		t.Log("listener still accepting TCP (refused at HTTP level)")
	}
}

// An operation that ends the caller's own session (close_room, leave) must
// still deliver its response before the connection closes.
func TestSelfEndingOperationsAlwaysAnswer(t *testing.T) {
	env := servertest.Start(t, nil)
	for i := 0; i < 40; i++ {
		room := "r" + string(rune('a'+i%26)) + strings.Repeat("x", i/26)
		c := dialRaw(t, env.URL)
		c.join(env.Token(t, "admin", "", auth.GrantAdmin), room)
		if i%2 == 0 {
			c.ok(protocol.OpCloseRoom, nil, nil)
			if code := c.closedWith(); code != 4004 {
				t.Fatalf("close_room: closed with %d", code)
			}
		} else {
			c.ok(protocol.OpLeave, nil, nil)
			if code := c.closedWith(); code != websocket.StatusNormalClosure {
				t.Fatalf("leave: closed with %d", code)
			}
		}
	}
}

// A client that stops reading must not hold up anyone else: its writes
// time out, the server drops its connection (the session stays resumable),
// and the sender's requests are answered as fast as before.
func TestStalledReaderIsDroppedWithoutSlowingOthers(t *testing.T) {
	env := servertest.Start(t, func(c *config.Config) {
		c.Signal.WriteTimeout = 300 * time.Millisecond
		c.Signal.MessageRate = 1000
		c.Signal.MessageBurst = 1000
		c.Signal.RequestRate = 1000
		c.Signal.RequestBurst = 1000
		c.Room.MaxMessageContentBytes = 60 << 10
	})
	stalled := dialRaw(t, env.URL)
	stalled.join(env.Token(t, "stalled", ""), "r1")
	sender := dialRaw(t, env.URL)
	sender.join(env.Token(t, "sender", ""), "r1")
	// From here on the stalled client reads nothing.
	content := strings.Repeat("x", 60<<10-200)
	deadline := time.Now().Add(20 * time.Second)
	dropped := false
	var slowest time.Duration
	for !dropped && time.Now().Before(deadline) {
		start := time.Now()
		sender.ok(protocol.OpSendMessage, protocol.SendMessageRequest{Name: "n", Content: content}, nil)
		slowest = max(slowest, time.Since(start))
		dropped = strings.Contains(metricsText(t, env), "minirtc_connections 1\n")
	}
	if !dropped {
		t.Fatal("the stalled connection was never dropped")
	}
	if slowest > 250*time.Millisecond {
		t.Fatalf("a send took %v while the other client stalled", slowest)
	}
	// The session survives the dropped connection until its timeout.
	if !strings.Contains(metricsText(t, env), "minirtc_sessions 2\n") {
		t.Fatal("stalled session removed at once; it should wait for a resume")
	}
}

func metricsText(t *testing.T, env *servertest.Env) string {
	t.Helper()
	resp, err := http.Get(env.HTTP + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}
