package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minirtc/minirtc/internal/auth"
	"github.com/minirtc/minirtc/internal/clienttest"
	"github.com/minirtc/minirtc/internal/config"
	"github.com/minirtc/minirtc/internal/servertest"
	"github.com/minirtc/minirtc/pkg/client"
	"github.com/minirtc/minirtc/pkg/ids"
	"github.com/minirtc/minirtc/pkg/protocol"
)

// mediaEnv starts a server with a short unpublish grace so tests run fast.
func mediaEnv(t *testing.T, grace time.Duration) *servertest.Env {
	t.Helper()
	needFFmpeg(t)
	return servertest.Start(t, func(c *config.Config) { c.Media.UnpublishGrace = grace })
}

func join(t *testing.T, env *servertest.Env, user ids.UserID, room ids.RoomID) *client.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Join(ctx, env.URL, env.Token(t, user, room), room, nil)
	if err != nil {
		t.Fatalf("%s joins: %v", user, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// liveStream is the common start of the media tests: alice and bob in room
// r1, alice publishing and pushing a test pattern with ffmpeg, bob having
// seen it go live and subscribed.
type liveStream struct {
	alice, bob *client.Client
	pub        protocol.PublishResponse
	urls       protocol.PlayURLs
	pusher     *pusher
}

func startLiveStream(t *testing.T, ctx context.Context, env *servertest.Env, o pushOpts) liveStream {
	t.Helper()
	ls := liveStream{alice: join(t, env, "alice", "r1"), bob: join(t, env, "bob", "r1")}
	var err error
	if ls.pub, err = ls.alice.PublishURL(ctx, "", protocol.MediaAudioVideo); err != nil {
		t.Fatal(err)
	}
	ls.pusher = startPush(t, ls.pub.PushURL, o)
	clienttest.WaitEvent(t, ls.bob, protocol.EvStreamPublished, nil)
	sub, err := ls.bob.SubscribeURLs(ctx, "alice_main")
	if err != nil {
		t.Fatal(err)
	}
	ls.urls = sub.URLs["alice_main"]
	return ls
}

func streamEvent(t *testing.T, ev client.Event) protocol.Stream {
	t.Helper()
	var se protocol.StreamEvent
	if err := ev.Decode(&se); err != nil {
		t.Fatalf("decoding %s: %v", ev.Name, err)
	}
	return se.Stream
}

// TestPushAndPlayThroughRoom is the mini-program flow: publish returns a push
// URL, ffmpeg pushes like live-pusher, the room announces the stream with
// its codec info, a subscriber gets play URLs and ffmpeg decodes both.
func TestPushAndPlayThroughRoom(t *testing.T) {
	for _, tc := range []struct {
		name       string
		sampleRate int
		minAudio   int // decoded AAC frames in 3 s (1024 samples each)
	}{
		{"aac48k", 48000, 100},
		{"aac16k", 16000, 30},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := mediaEnv(t, time.Second)
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			alice := join(t, env, "alice", "r1")
			bob := join(t, env, "bob", "r1")

			pub, err := alice.PublishURL(ctx, "", protocol.MediaAudioVideo)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(pub.PushURL, "rtmp://127.0.0.1:") || pub.PushURLExpiresAt <= time.Now().UnixMilli() {
				t.Fatalf("publish answered push_url %q expiring %d", pub.PushURL, pub.PushURLExpiresAt)
			}
			// Not live yet: nobody can subscribe.
			if _, err := bob.Subscribe(ctx, pub.Stream.ID); !isCode(err, protocol.CodeStreamNotFound) {
				t.Fatalf("subscribing before media: %v, want code %d", err, protocol.CodeStreamNotFound)
			}

			pusher := startPush(t, pub.PushURL, pushOpts{sampleRate: tc.sampleRate})
			st := streamEvent(t, clienttest.WaitEvent(t, bob, protocol.EvStreamPublished, nil))
			if st.ID != "alice_main" || st.Video == nil || st.Audio == nil {
				t.Fatalf("stream_published without codec info: %+v", st)
			}
			if *st.Video != (protocol.VideoInfo{Codec: "h264", Width: 320, Height: 240, FPS: 25}) {
				t.Errorf("video info %+v", *st.Video)
			}
			if *st.Audio != (protocol.AudioInfo{Codec: "aac", SampleRate: tc.sampleRate, Channels: 1}) {
				t.Errorf("audio info %+v", *st.Audio)
			}

			sub, err := bob.SubscribeURLs(ctx, st.ID)
			if err != nil {
				t.Fatal(err)
			}
			urls := sub.URLs[st.ID]
			if !strings.HasPrefix(urls.RTMP, "rtmp://") || !strings.HasPrefix(urls.FLV, "http://") {
				t.Fatalf("play urls %+v", urls)
			}
			var wg sync.WaitGroup
			results := map[string]*probed{"rtmp": nil, "flv": nil}
			var mu sync.Mutex
			for name, u := range map[string]string{"rtmp": urls.RTMP, "flv": urls.FLV} {
				wg.Add(1)
				go func() {
					defer wg.Done()
					r := probe(ctx, u, 3)
					mu.Lock()
					results[name] = &r
					mu.Unlock()
				}()
			}
			wg.Wait()
			for name, r := range results {
				if r.err != nil || r.stderr != "" {
					t.Errorf("%s: ffprobe %v: %s", name, r.err, r.stderr)
				}
				if r.video < 70 || r.audio < tc.minAudio {
					t.Errorf("%s: decoded %d video and %d audio frames in 3 s, want >= 70 and >= %d", name, r.video, r.audio, tc.minAudio)
				}
				t.Logf("%s: %d video, %d audio frames", name, r.video, r.audio)
				d, err := timeToFirstFrame(ctx, map[string]string{"rtmp": urls.RTMP, "flv": urls.FLV}[name])
				if err != nil || d > time.Second {
					t.Errorf("%s: first decoded frame after %v (%v), want < 1 s", name, d, err)
				}
				t.Logf("%s: first decoded frame %v after starting ffmpeg", name, d)
			}

			stats, err := bob.StreamStats(ctx)
			if err != nil || len(stats) != 1 {
				t.Fatalf("stream stats %+v, %v", stats, err)
			}
			if s := stats[0]; s.BitrateIn <= 0 || s.FPS < 20 || s.FPS > 30 || s.GOPFrames != 25 || !s.Pushing {
				t.Errorf("stats %+v", s)
			}
			body := httpGet(t, env.HTTP+"/metrics")
			if !strings.Contains(body, `minirtc_stream_fps{app="`+string(env.App.ID)+`",room="r1",stream="alice_main"}`) {
				t.Errorf("/metrics has no per-stream fps")
			}

			// Unpublish cuts the push; everyone sees the stream go.
			if err := alice.Unpublish(ctx, ""); err != nil {
				t.Fatal(err)
			}
			if st := streamEvent(t, clienttest.WaitEvent(t, bob, protocol.EvStreamUnpublished, nil)); st.ID != "alice_main" {
				t.Fatalf("unpublished %s", st.ID)
			}
			if _, done := pusher.exited(5 * time.Second); !done {
				t.Fatal("ffmpeg kept pushing after unpublish")
			}
		})
	}
}

// TestPusherReconnectWithinGrace: live-pusher reconnects after a network
// change with the same URL and timestamps from 0; the room sees nothing.
func TestPusherReconnectWithinGrace(t *testing.T) {
	env := mediaEnv(t, 3*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	alice := join(t, env, "alice", "r1")
	bob := join(t, env, "bob", "r1")
	pub, err := alice.PublishURL(ctx, "", protocol.MediaAudioVideo)
	if err != nil {
		t.Fatal(err)
	}
	first := startPush(t, pub.PushURL, pushOpts{})
	clienttest.WaitEvent(t, bob, protocol.EvStreamPublished, nil)
	time.Sleep(time.Second)
	first.stop()
	time.Sleep(500 * time.Millisecond)
	startPush(t, pub.PushURL, pushOpts{})

	// For longer than the grace: no unpublish, and the stream still plays.
	sub, err := bob.SubscribeURLs(ctx, "alice_main")
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.After(4 * time.Second)
	for waiting := true; waiting; {
		select {
		case ev := <-bob.Events():
			if ev.Name == protocol.EvStreamUnpublished || ev.Name == protocol.EvStreamPublished {
				t.Fatalf("the room saw %s during a reconnect within the grace", ev.Name)
			}
		case <-deadline:
			waiting = false
		}
	}
	if r := probe(ctx, sub.URLs["alice_main"].FLV, 2); r.err != nil || r.video < 45 || r.stderr != "" {
		t.Fatalf("after the reconnect: %d video frames, %v %s", r.video, r.err, r.stderr)
	}
}

// TestKickClosesPushAndPlay: a kicked publisher's push connection is cut,
// and so are the players of a kicked viewer.
func TestKickClosesPushAndPlay(t *testing.T) {
	env := mediaEnv(t, time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	teacher, err := client.Join(ctx, env.URL, env.Token(t, "teacher", "r1", auth.GrantAdmin, auth.GrantPublish, auth.GrantSubscribe), "r1", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer teacher.Close()
	alice := join(t, env, "alice", "r1")
	pub, err := alice.PublishURL(ctx, "", protocol.MediaAudioVideo)
	if err != nil {
		t.Fatal(err)
	}
	pusher := startPush(t, pub.PushURL, pushOpts{})
	clienttest.WaitEvent(t, teacher, protocol.EvStreamPublished, nil)
	bob := join(t, env, "bob", "r1")
	sub, err := bob.SubscribeURLs(ctx, "alice_main")
	if err != nil {
		t.Fatal(err)
	}
	// bob watches for 20 s unless cut; kicking bob must end his player.
	watch := make(chan probed, 1)
	go func() { watch <- probe(ctx, sub.URLs["alice_main"].FLV, 20) }()
	time.Sleep(time.Second)
	start := time.Now()
	if err := teacher.Kick(ctx, "bob", 0, "test"); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-watch:
		if r.video == 0 {
			t.Errorf("bob's player got nothing before the kick: %+v", r)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("bob's player still running 5 s after bob was kicked")
	}
	if err := teacher.Kick(ctx, "alice", 0, "test"); err != nil {
		t.Fatal(err)
	}
	if _, done := pusher.exited(5 * time.Second); !done {
		t.Fatal("alice's ffmpeg kept pushing after alice was kicked")
	}
	t.Logf("players and pushes cut within %v of the kicks", time.Since(start))
}

// TestFiftyFLVReaders: fifty ffmpeg players of one stream all decode.
func TestFiftyFLVReaders(t *testing.T) {
	env := mediaEnv(t, time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	ls := startLiveStream(t, ctx, env, pushOpts{size: "160x120"})
	const readers = 50
	var wg sync.WaitGroup
	res := make([]probed, readers)
	for i := range readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res[i] = probe(ctx, ls.urls.FLV, 2)
		}()
	}
	wg.Wait()
	for i, r := range res {
		if r.err != nil || r.stderr != "" || r.video < 45 || r.audio < 90 {
			t.Errorf("reader %d: %d video, %d audio, %v %s", i, r.video, r.audio, r.err, r.stderr)
		}
	}
}

func isCode(err error, code protocol.Code) bool {
	var pe *protocol.Error
	return errors.As(err, &pe) && pe.Code == code
}

func httpGet(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// flvRefusal GETs an FLV URL and returns the status, reason and CORS header.
func flvRefusal(t *testing.T, url string) (int, string, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("Origin", "https://example.com")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Error struct{ Reason, Message string }
	}
	if resp.StatusCode != http.StatusOK {
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
			t.Fatalf("refusal body of %s is not JSON: %v", url, err)
		}
	}
	return resp.StatusCode, body.Error.Reason, resp.Header.Get("Access-Control-Allow-Origin")
}

// TestShutdownWithMediaFlowing: SIGTERM-style shutdown with a pusher and
// RTMP and FLV players attached ends them all promptly (goleak in TestMain
// checks nothing is left behind).
func TestShutdownWithMediaFlowing(t *testing.T) {
	env := mediaEnv(t, time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ls := startLiveStream(t, ctx, env, pushOpts{})
	players := make(chan probed, 2)
	for _, u := range []string{ls.urls.RTMP, ls.urls.FLV} {
		go func() { players <- probe(ctx, u, 30) }()
	}
	time.Sleep(1500 * time.Millisecond)
	start := time.Now()
	sctx, scancel := context.WithTimeout(ctx, 10*time.Second)
	defer scancel()
	if err := env.Server.Shutdown(sctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	for range 2 {
		select {
		case r := <-players:
			if r.video == 0 {
				t.Errorf("a player got nothing before the shutdown: %+v", r)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("a player still running 5 s after shutdown")
		}
	}
	if _, done := ls.pusher.exited(5 * time.Second); !done {
		t.Fatal("ffmpeg still pushing 5 s after shutdown")
	}
	t.Logf("shutdown with media flowing took %v", time.Since(start))
}
