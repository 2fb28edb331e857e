package e2e

import (
	"context"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/minirtc/minirtc/internal/auth"
	"github.com/minirtc/minirtc/internal/clienttest"
	"github.com/minirtc/minirtc/internal/server"
	"github.com/minirtc/minirtc/internal/servertest"
	"github.com/minirtc/minirtc/pkg/protocol"
)

// signedPlay signs play URLs directly with the app secret, as a tampering
// client or an app server would.
func signedPlay(env *servertest.Env, g auth.MediaGrant) protocol.PlayURLs {
	rtmpBase, flvBase := env.Server.MediaURLBases()
	return server.PlayURLsFor(rtmpBase, flvBase, env.App.Secret, g)
}

// refusedMetric reads minirtc_media_refused_total for a reason.
func refusedMetric(t *testing.T, env *servertest.Env, reason string) string {
	t.Helper()
	for _, l := range strings.Split(httpGet(t, env.HTTP+"/metrics"), "\n") {
		if strings.HasPrefix(l, `minirtc_media_refused_total{reason="`+reason+`"}`) {
			return strings.Fields(l)[1]
		}
	}
	return "0"
}

// TestMediaRefusals checks each refused push and play through the real
// server: RTMP closes the connection (ffmpeg fails), HTTP-FLV answers
// 401/403/404 with a JSON reason and CORS headers; the live stream is
// unaffected throughout.
func TestMediaRefusals(t *testing.T) {
	env := mediaEnv(t, time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	ls := startLiveStream(t, ctx, env, pushOpts{})
	pub, good := ls.pub, ls.urls
	t.Run("push refusals close the connection", func(t *testing.T) {
		tampered := strings.Replace(pub.PushURL, "user=alice", "user=bob", 1)
		carolPub := func() string { // someone else's push URL for alice's stream: impossible to sign, so tamper the path
			return strings.Replace(pub.PushURL, "/alice_main?", "/bob_main?", 1)
		}()
		for name, c := range map[string]struct{ url, reason string }{
			"tampered user":          {tampered, "bad_signature"},
			"someone else's stream":  {carolPub, "bad_signature"},
			"second pusher":          {pub.PushURL, "already_pushing"},
			"play URL used for push": {good.RTMP, "wrong_action"},
			"malformed path":         {strings.Replace(pub.PushURL, "/r1/", "/r1/x/", 1), "malformed_url"},
		} {
			before := refusedMetric(t, env, c.reason)
			p := startPush(t, c.url, pushOpts{seconds: 10})
			err, done := p.exited(5 * time.Second)
			if !done || err == nil {
				t.Errorf("%s: ffmpeg still pushing (or exited cleanly): %v", name, err)
			}
			if after := refusedMetric(t, env, c.reason); after == before {
				t.Errorf("%s: refusals{reason=%q} stayed %s", name, c.reason, after)
			}
		}
	})

	t.Run("flv refusals answer JSON", func(t *testing.T) {
		expired := signedPlay(env, auth.MediaGrant{Action: auth.ActionPlay, App: env.App.ID, Room: "r1", Stream: "alice_main", User: "bob", Expires: time.Now().Add(-time.Minute)})
		stranger := signedPlay(env, auth.MediaGrant{Action: auth.ActionPlay, App: env.App.ID, Room: "r1", Stream: "alice_main", User: "mallory", Expires: time.Now().Add(time.Minute)})
		unpublished := signedPlay(env, auth.MediaGrant{Action: auth.ActionView, App: env.App.ID, Room: "r1", Stream: "bob_main", Expires: time.Now().Add(time.Minute)})
		unsubscribed := signedPlay(env, auth.MediaGrant{Action: auth.ActionPlay, App: env.App.ID, Room: "r1", Stream: "alice_main", User: "alice", Expires: time.Now().Add(time.Minute)})
		badSig := good.FLV[:len(good.FLV)-3] + "AAA"
		pushAsPlay := strings.Replace(strings.Replace(pub.PushURL, "rtmp://", "http://", 1), "/"+string(env.App.ID)+"/", "/flv/"+string(env.App.ID)+"/", 1)
		pushAsPlay = strings.Replace(pushAsPlay, "/alice_main?", "/alice_main.flv?", 1)
		pushAsPlay = strings.Replace(pushAsPlay, pubHostPort(t, pub.PushURL), strings.TrimPrefix(env.HTTP, "http://"), 1)
		for name, c := range map[string]struct {
			url    string
			status int
			reason string
		}{
			"bad signature":    {badSig, http.StatusUnauthorized, "bad_signature"},
			"expired":          {expired.FLV, http.StatusUnauthorized, "expired"},
			"not in the room":  {stranger.FLV, http.StatusForbidden, "not_in_room"},
			"push URL to play": {pushAsPlay, http.StatusForbidden, "wrong_action"},
			"not live":         {unpublished.FLV, http.StatusNotFound, "not_live"},
			"not subscribed":   {unsubscribed.FLV, http.StatusForbidden, "not_subscribed"},
			"no signature":     {env.HTTP + "/flv/" + string(env.App.ID) + "/r1/alice_main.flv", http.StatusBadRequest, "malformed_url"},
		} {
			status, reason, cors := flvRefusal(t, c.url)
			if status != c.status || reason != c.reason {
				t.Errorf("%s: %d %q, want %d %q", name, status, reason, c.status, c.reason)
			}
			if cors == "" {
				t.Errorf("%s: no Access-Control-Allow-Origin on the refusal", name)
			}
		}
	})

	t.Run("rtmp play refusal", func(t *testing.T) {
		expired := signedPlay(env, auth.MediaGrant{Action: auth.ActionPlay, App: env.App.ID, Room: "r1", Stream: "alice_main", User: "bob", Expires: time.Now().Add(-time.Minute)})
		if r := probe(ctx, expired.RTMP, 1); r.err == nil || r.video > 0 {
			t.Errorf("expired RTMP play decoded %d frames, err %v", r.video, r.err)
		}
	})

	t.Run("garbage on the rtmp port", func(t *testing.T) {
		c, err := net.Dial("tcp", env.Server.RTMPAddr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_, _ = c.Write([]byte(strings.Repeat("GET / HTTP/1.1\r\n", 200)))
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		buf := make([]byte, 4096)
		for {
			if _, err := c.Read(buf); err != nil {
				if ne, ok := err.(net.Error); ok && ne.Timeout() {
					t.Fatal("the server kept a garbage connection open")
				}
				break
			}
		}
	})

	t.Run("a user who left", func(t *testing.T) {
		carol := join(t, env, "carol", "r1")
		cp, err := carol.PublishURL(ctx, "", protocol.MediaAudioVideo)
		if err != nil {
			t.Fatal(err)
		}
		if err := carol.Leave(ctx); err != nil {
			t.Fatal(err)
		}
		p := startPush(t, cp.PushURL, pushOpts{seconds: 10})
		if err, done := p.exited(5 * time.Second); !done || err == nil {
			t.Errorf("push after leaving: still running or clean exit (%v)", err)
		}
	})

	// Through all of that, the live stream never stopped.
	if r := probe(ctx, good.FLV, 2); r.err != nil || r.video < 45 || r.stderr != "" {
		t.Fatalf("the good stream after the refusals: %d frames, %v %s", r.video, r.err, r.stderr)
	}
}

func pubHostPort(t *testing.T, u string) string {
	t.Helper()
	rest := strings.TrimPrefix(u, "rtmp://")
	return rest[:strings.Index(rest, "/")]
}

// TestIngestAndView: an external encoder pushes with an ingest URL and
// appears in the room as a participant; an out-of-room viewer plays it; the
// pseudo-participant leaves when the push ends.
func TestIngestAndView(t *testing.T) {
	env := mediaEnv(t, time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	bob := join(t, env, "bob", "r1")
	rtmpBase, _ := env.Server.MediaURLBases()
	ingest := server.PushURLFor(rtmpBase, env.App.Secret, auth.MediaGrant{Action: auth.ActionIngest, App: env.App.ID, Room: "r1",
		Stream: "obs_main", User: "obs", Expires: time.Now().Add(time.Minute)})
	p := startPush(t, ingest, pushOpts{seconds: 4})
	clienttest.WaitEvent(t, bob, protocol.EvUserJoined, nil)
	if st := streamEvent(t, clienttest.WaitEvent(t, bob, protocol.EvStreamPublished, nil)); st.ID != "obs_main" || st.Video == nil {
		t.Fatalf("published %+v", st)
	}
	view := signedPlay(env, auth.MediaGrant{Action: auth.ActionView, App: env.App.ID, Room: "r1", Stream: "obs_main", Expires: time.Now().Add(time.Minute)})
	if r := probe(ctx, view.RTMP, 2); r.err != nil || r.video < 45 || r.stderr != "" {
		t.Fatalf("viewer: %d frames, %v %s", r.video, r.err, r.stderr)
	}
	if err, done := p.exited(10 * time.Second); !done || err != nil {
		t.Fatalf("ingest push: done %v err %v", done, err)
	}
	clienttest.WaitEvent(t, bob, protocol.EvStreamUnpublished, nil)
	clienttest.WaitEvent(t, bob, protocol.EvUserLeft, nil)
}
