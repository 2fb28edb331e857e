package client

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minirtc/minirtc/internal/config"
	"github.com/minirtc/minirtc/internal/servertest"
	"github.com/minirtc/minirtc/pkg/protocol"
)

const testOperatorKey = "pkg-client-test-operator-key-0123456789"

// received is what bob's downlink got of alice's stream.
type received struct {
	mu     sync.Mutex
	audio  [][]byte
	videos int
	keys   []bool
}

func (r *received) add(f ReceivedFrame) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case !f.Video:
		r.audio = append(r.audio, f.Data)
	case !f.Config:
		r.videos++
		r.keys = append(r.keys, f.Key)
	}
}

// lastAudio reports whether the last n audio packets all equal want.
func (r *received) lastAudio(n int, want []byte) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.audio) < n {
		return false
	}
	for _, p := range r.audio[len(r.audio)-n:] {
		if !bytes.Equal(p, want) {
			return false
		}
	}
	return true
}

func (r *received) videoCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.videos
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// muteByAPI mutes or unmutes alice_main through the REST API, as an app
// server does.
func muteByAPI(t *testing.T, env *servertest.Env, body string) {
	t.Helper()
	url := env.HTTP + "/api/v1/apps/" + string(env.App.ID) + "/rooms/r1/streams/alice_main/mute"
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+testOperatorKey)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("POST %s %s: %s", url, body, res.Status)
	}
}

// TestForceMuteWebRTC: the app server mutes alice's WebRTC publication
// through the REST API. Alice's client receives force_mute and, with no
// help from the application, sends Opus silence in place of her packets
// and no video, which bob's downlink sees; after the unmute bob receives
// her packets and pictures again, starting with a keyframe.
func TestForceMuteWebRTC(t *testing.T) {
	env := servertest.Start(t, func(c *config.Config) { c.API.OperatorKey = testOperatorKey })
	checkLeaks(t)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	alice, arec := join(t, env, env.URL, "alice", "r1", nil)
	bob, brec := join(t, env, env.URL, "bob", "r1", nil)
	opts := WebRTCOptions{IncludeLoopback: true}

	pub, err := alice.PublishWebRTC(ctx, "", protocol.MediaAudioVideo, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	if err := pub.Connected(ctx); err != nil {
		t.Fatal(err)
	}
	sps, pps, picture := servertest.H264Fixture()
	var au []byte
	for _, n := range append([][]byte{sps, pps}, picture...) {
		au = append(append(au, 0, 0, 0, 1), n...)
	}
	voice := append([]byte{0xfc}, bytes.Repeat([]byte{0x5a}, 40)...) // TOC: CELT FB 20 ms stereo
	wctx, stop := context.WithCancel(ctx)
	var writers sync.WaitGroup
	writers.Go(func() {
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-wctx.Done():
				return
			case <-tick.C:
			}
			_ = pub.WriteAudio(voice, 20*time.Millisecond)
			if i%2 == 0 {
				_ = pub.WriteVideo(au, 40*time.Millisecond)
			}
		}
	})
	defer func() {
		stop()
		writers.Wait()
	}()

	brec.waitFor(t, 0, protocol.EvStreamPublished, nil)
	var got received
	if _, err := bob.SubscribeWebRTC(ctx, DownlinkOptions{WebRTCOptions: opts, OnFrame: got.add}, "alice_main"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "alice's voice at bob", func() bool { return got.lastAudio(5, voice) && got.videoCount() > 5 })

	muteByAPI(t, env, `{"audio_muted":true,"video_disabled":true}`)
	ev, _ := arec.waitFor(t, 0, protocol.EvForceMute, nil)
	var fm protocol.ForceMuteEvent
	if err := ev.Decode(&fm); err != nil {
		t.Fatal(err)
	}
	if !fm.Stream.AudioLocked || !fm.Stream.VideoLocked || fm.AudioMuted == nil || !*fm.AudioMuted {
		t.Fatalf("force_mute %+v", fm)
	}
	if a, v := pub.Locked(); !a || !v {
		t.Fatalf("Locked() = %v, %v after force_mute", a, v)
	}
	silence := opusSilence(20 * time.Millisecond)
	waitFor(t, "silence at bob", func() bool { return got.lastAudio(10, silence) })
	n := got.videoCount()
	time.Sleep(500 * time.Millisecond)
	if m := got.videoCount(); m > n+1 { // one may have been on its way
		t.Fatalf("bob received %d video frames while alice's video was locked", m-n)
	}

	muteByAPI(t, env, `{"audio_muted":false,"video_disabled":false}`)
	waitFor(t, "alice's voice and picture at bob again", func() bool { return got.lastAudio(5, voice) && got.videoCount() > n+5 })
	if a, v := pub.Locked(); a || v {
		t.Fatalf("Locked() = %v, %v after the unmute", a, v)
	}
	got.mu.Lock()
	first := got.keys[n]
	got.mu.Unlock()
	if !first {
		t.Fatal("the first video frame after the unlock is not a keyframe")
	}
}

// TestMediaLockVideo: frames are withheld while locked and after it until a
// keyframe; the first one sent says how many were withheld.
func TestMediaLockVideo(t *testing.T) {
	var l mediaLock
	if send, d := l.videoFrame(false); !send || d != 0 {
		t.Fatalf("unlocked: send %v dropped %d", send, d)
	}
	l.set(false, true)
	for _, key := range []bool{true, false} {
		if send, _ := l.videoFrame(key); send {
			t.Fatal("a frame went out while the video was locked")
		}
	}
	l.set(false, false)
	if send, _ := l.videoFrame(false); send {
		t.Fatal("a delta frame went out before a keyframe after the unlock")
	}
	if send, d := l.videoFrame(true); !send || d != 3 {
		t.Fatalf("the keyframe after the unlock: send %v dropped %d, want true 3", send, d)
	}
	// A force_mute that came before the publish answer wins over it.
	l.answer(true, true)
	if a, v := l.get(); a || v {
		t.Fatalf("the publish answer overrode a newer force_mute: %v %v", a, v)
	}
}

func TestOpusSilenceAndKeyframes(t *testing.T) {
	for _, d := range []time.Duration{2500 * time.Microsecond, 5 * time.Millisecond, 10 * time.Millisecond, 20 * time.Millisecond, 40 * time.Millisecond, 60 * time.Millisecond} {
		p := opusSilence(d)
		if len(p) < 3 || p[0]>>3 < 28 {
			t.Fatalf("%v: %x", d, p)
		}
	}
	if opusSilence(15*time.Millisecond) != nil {
		t.Fatal("15 ms is no Opus frame size")
	}
	if !bytes.Equal(opusSilence(20*time.Millisecond), []byte{0xf8, 0xff, 0xfe}) {
		t.Fatalf("20 ms silence %x", opusSilence(20*time.Millisecond))
	}
	sps, pps, picture := servertest.H264Fixture()
	var au []byte
	for _, n := range append([][]byte{sps, pps}, picture...) {
		au = append(append(au, 0, 0, 1), n...)
	}
	if !isKeyframe(au, false) {
		t.Fatal("the IDR fixture is not a keyframe")
	}
	if isKeyframe([]byte{0, 0, 0, 1, 0x41, 0x9a}, false) {
		t.Fatal("a non-IDR slice is a keyframe")
	}
	if !isKeyframe([]byte{0x10}, true) || isKeyframe([]byte{0x11}, true) {
		t.Fatal("VP8 key frame bit")
	}
}
