package e2e

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"

	pionwebrtc "github.com/pion/webrtc/v4"

	"github.com/minirtc/minirtc/internal/clienttest"
	"github.com/minirtc/minirtc/internal/config"
	"github.com/minirtc/minirtc/internal/media/rtpframe"
	"github.com/minirtc/minirtc/internal/servertest"
	"github.com/minirtc/minirtc/pkg/client"
	"github.com/minirtc/minirtc/pkg/ids"
	"github.com/minirtc/minirtc/pkg/protocol"
)

// The WebRTC paths with Go participants (pkg/client over pion) and ffmpeg
// as the mini-program side. Browsers are tested in sdk/web.

var loopback = client.WebRTCOptions{IncludeLoopback: true}

// frameLog collects what a downlink received of one stream.
type frameLog struct {
	mu     sync.Mutex
	config []byte
	aus    [][]byte
	audio  int
}

func (l *frameLog) add(f client.ReceivedFrame) {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case f.Video && f.Config:
		l.config = f.Data
	case f.Video:
		l.aus = append(l.aus, f.Data)
	default:
		l.audio++
	}
}

// annexB is what the downlink received as an H.264 elementary stream.
func (l *frameLog) annexB(t *testing.T) []byte {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	cfg, err := rtpframe.ParseAVCConfig(l.config)
	if err != nil {
		t.Fatalf("received config record: %v", err)
	}
	var out bytes.Buffer
	start := []byte{0, 0, 0, 1}
	for _, ps := range append(append([][]byte{}, cfg.SPS...), cfg.PPS...) {
		out.Write(start)
		out.Write(ps)
	}
	for _, au := range l.aus {
		for len(au) >= 4 {
			n := int(binary.BigEndian.Uint32(au))
			if n > len(au)-4 {
				t.Fatalf("bad AVCC length %d", n)
			}
			out.Write(start)
			out.Write(au[4 : 4+n])
			au = au[4+n:]
		}
	}
	return out.Bytes()
}

var decodedFrames = regexp.MustCompile(`frame=\s*(\d+)`)

// decodeH264 decodes an elementary stream with ffmpeg and returns the
// number of pictures it produced; any decode error fails the test.
func decodeH264(t *testing.T, es []byte) int {
	t.Helper()
	cmd := exec.Command("ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-stats", "-f", "h264", "-i", "pipe:0", "-f", "null", "-")
	cmd.Stdin = bytes.NewReader(es)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("ffmpeg could not decode what WebRTC delivered: %v\n%s", err, out)
	}
	m := decodedFrames.FindAllSubmatch(out, -1)
	if len(m) == 0 {
		t.Fatalf("no frame count from ffmpeg:\n%s", out)
	}
	n, _ := strconv.Atoi(string(m[len(m)-1][1]))
	if bytes.Contains(bytes.ToLower(out), []byte("error")) {
		t.Fatalf("ffmpeg reported decode errors:\n%s", out)
	}
	return n
}

// pace calls write(0), write(1), ... every interval on a goroutine, as a
// camera or microphone would, until write fails or the test ends.
func pace(t *testing.T, every time.Duration, write func(i int) error) {
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(every)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			if write(i) != nil {
				return
			}
		}
	}()
	t.Cleanup(func() { close(stop); <-done })
}

func waitFor(t *testing.T, d time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestRTMPToWebRTC: ffmpeg pushes RTMP (as live-pusher would); a WebRTC
// subscriber receives the H.264 repacketized (never re-encoded) and ffmpeg
// decodes what it received. Run over UDP and over ICE-TCP only.
func TestRTMPToWebRTC(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts client.WebRTCOptions
	}{
		{"udp", loopback},
		{"tcp-only", client.WebRTCOptions{IncludeLoopback: true, TCPOnly: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := mediaEnv(t, time.Second)
			ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
			defer cancel()
			alice, bob := join(t, env, "alice", "r1"), join(t, env, "bob", "r1")
			if bob.Joined().WebRTC == nil {
				t.Fatal("join response has no webrtc section")
			}
			pub, err := alice.PublishURL(ctx, "", protocol.MediaVideo)
			if err != nil {
				t.Fatal(err)
			}
			startPush(t, pub.PushURL, pushOpts{size: "640x360", noAudio: true})
			clienttest.WaitEvent(t, bob, protocol.EvStreamPublished, nil)

			var log frameLog
			d, err := bob.SubscribeWebRTC(ctx, client.DownlinkOptions{WebRTCOptions: tc.opts, OnFrame: log.add}, "alice_main")
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			if err := d.Connected(ctx); err != nil {
				t.Fatal(err)
			}
			waitFor(t, 20*time.Second, "50 video frames over WebRTC", func() bool { return d.Counts("alice_main").Video >= 50 })
			c := d.Counts("alice_main")
			// A video-only stream comes as a video track alone.
			if tr := d.Tracks("alice_main"); len(tr) != 1 || tr[0] != "video" {
				t.Errorf("tracks of a video-only stream: %v", tr)
			}
			if c.Keyframes == 0 {
				t.Fatal("no keyframe received")
			}
			n := decodeH264(t, log.annexB(t))
			t.Logf("received %d AUs (%d keyframes), ffmpeg decoded %d", c.Video, c.Keyframes, n)
			if n < 45 {
				t.Fatalf("ffmpeg decoded %d pictures of the %d access units received", n, c.Video)
			}
		})
	}
}

// ffmpegFile runs ffmpeg with args (inputs and codecs) writing a new file
// named name, and returns its path.
func ffmpegFile(t *testing.T, name string, args ...string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	args = append([]string{"-hide_banner", "-nostdin", "-loglevel", "error"}, append(args, path)...)
	if out, err := exec.Command("ffmpeg", args...).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg making %s: %v\n%s", name, err, out)
	}
	return path
}

// h264File encodes a test pattern as an H.264 elementary stream with access
// unit delimiters (so that it splits into access units without parsing
// slices) and returns its access units in Annex-B form.
func h264File(t *testing.T, seconds, fps int) [][]byte {
	t.Helper()
	path := ffmpegFile(t, "pattern.h264",
		"-f", "lavfi", "-i", fmt.Sprintf("testsrc=size=640x360:rate=%d", fps), "-t", fmt.Sprint(seconds),
		"-c:v", "libx264", "-profile:v", "baseline", "-pix_fmt", "yuv420p", "-preset", "ultrafast", "-tune", "zerolatency",
		"-g", fmt.Sprint(fps), "-x264-params", "aud=1", "-f", "h264")
	es, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	aud := []byte{0, 0, 0, 1, 0x09}
	var aus [][]byte
	for len(es) > 0 {
		next := bytes.Index(es[len(aud):], aud)
		if next < 0 {
			aus = append(aus, es)
			break
		}
		aus = append(aus, es[:next+len(aud)])
		es = es[next+len(aud):]
	}
	return aus
}

// TestWebRTCToFLVAndRTMP: a Go participant publishes H.264 over WebRTC;
// another subscribes with play URLs, and ffprobe decodes the stream from
// both the FLV and the RTMP URL.
func TestWebRTCToFLVAndRTMP(t *testing.T) {
	env := mediaEnv(t, time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	alice, bob := join(t, env, "alice", "r1"), join(t, env, "bob", "r1")
	const fps = 25
	aus := h264File(t, 4, fps)

	pub, err := alice.PublishWebRTC(ctx, "cam", protocol.MediaVideo, loopback)
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	if pub.Stream.ID != ids.StreamID("alice_cam") {
		t.Fatalf("stream id %s", pub.Stream.ID)
	}
	if err := pub.Connected(ctx); err != nil {
		t.Fatal(err)
	}
	pace(t, time.Second/fps, func(i int) error { return pub.WriteVideo(aus[i%len(aus)], time.Second/fps) })

	ev := clienttest.WaitEvent(t, bob, protocol.EvStreamPublished, nil)
	st := streamEvent(t, ev)
	if st.Video == nil || st.Video.Codec != "h264" || st.Video.Width != 640 || st.Video.Height != 360 {
		t.Fatalf("stream_published video info %+v", st.Video)
	}
	sub, err := bob.SubscribeURLs(ctx, "alice_cam")
	if err != nil {
		t.Fatal(err)
	}
	urls := sub.URLs["alice_cam"]
	for name, u := range map[string]string{"flv": urls.FLV, "rtmp": urls.RTMP} {
		r := probe(ctx, u, 3)
		if r.err != nil || r.video < 40 || r.stderr != "" {
			t.Fatalf("%s: ffprobe decoded %d video frames (err %v)\n%s", name, r.video, r.err, r.stderr)
		}
	}
}

// TestWebRTCThatNeverConnects: a client sends an offer and vanishes. The
// server closes the peer connection after webrtc.connect_timeout, tells the
// session with webrtc_closed, leaks nothing (goleak in TestMain), and the
// tag can be published again.
func TestWebRTCThatNeverConnects(t *testing.T) {
	needFFmpeg(t)
	env := servertest.Start(t, func(c *config.Config) { c.WebRTC.ConnectTimeout = time.Second })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	alice := join(t, env, "alice", "r1")

	pc, err := pionwebrtc.NewPeerConnection(pionwebrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pc.AddTransceiverFromKind(pionwebrtc.RTPCodecTypeAudio, pionwebrtc.RTPTransceiverInit{Direction: pionwebrtc.RTPTransceiverDirectionSendonly}); err != nil {
		t.Fatal(err)
	}
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	_ = pc.Close() // the answer will never be applied: no ICE
	var resp protocol.PublishResponse
	if err := alice.Do(ctx, protocol.OpPublish, &protocol.PublishRequest{Tag: "cam", Media: protocol.MediaAudio, Transport: protocol.TransportWebRTC, Offer: offer.SDP}, &resp); err != nil {
		t.Fatal(err)
	}
	if resp.Answer == "" || resp.PushURL != "" {
		t.Fatalf("publish over WebRTC answered %+v", resp)
	}
	start := time.Now()
	ev := clienttest.WaitEvent(t, alice, protocol.EvWebRTCClosed, nil)
	var closed protocol.WebRTCClosedEvent
	if err := ev.Decode(&closed); err != nil {
		t.Fatal(err)
	}
	if closed.Target != "cam" || closed.Reason == "" {
		t.Fatalf("webrtc_closed %+v", closed)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("closed after %s, the timeout is 1 s", d)
	}
	// Publishing the tag again (as the SDKs do after webrtc_closed) works.
	if err := alice.Unpublish(ctx, "cam"); err != nil {
		t.Fatal(err)
	}
	pub, err := alice.PublishWebRTC(ctx, "cam", protocol.MediaAudio, loopback)
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	if err := pub.Connected(ctx); err != nil {
		t.Fatal(err)
	}
}
