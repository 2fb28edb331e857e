package e2e

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/pion/webrtc/v4/pkg/media/ivfreader"

	"github.com/minirtc/minirtc/internal/clienttest"
	"github.com/minirtc/minirtc/pkg/client"
	"github.com/minirtc/minirtc/pkg/protocol"
)

// vp8File encodes a test pattern with libvpx and returns its frames.
func vp8File(t *testing.T, seconds, fps int) [][]byte {
	t.Helper()
	path := ffmpegFile(t, "pattern.ivf",
		"-f", "lavfi", "-i", fmt.Sprintf("testsrc=size=320x240:rate=%d", fps), "-t", fmt.Sprint(seconds),
		"-c:v", "libvpx", "-deadline", "realtime", "-cpu-used", "8", "-g", fmt.Sprint(fps), "-b:v", "300k", "-f", "ivf")
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, _, err := ivfreader.NewWith(f)
	if err != nil {
		t.Fatal(err)
	}
	var frames [][]byte
	for {
		frame, _, err := r.ParseNextFrame()
		if errors.Is(err, io.EOF) {
			return frames
		}
		if err != nil {
			t.Fatal(err)
		}
		frames = append(frames, frame)
	}
}

// ivf wraps VP8 frames in an IVF file for ffmpeg.
func ivf(width, height int, frames [][]byte) []byte {
	var b bytes.Buffer
	h := make([]byte, 32)
	copy(h, "DKIF")
	binary.LittleEndian.PutUint16(h[6:], 32)
	copy(h[8:], "VP80")
	binary.LittleEndian.PutUint16(h[12:], uint16(width))
	binary.LittleEndian.PutUint16(h[14:], uint16(height))
	binary.LittleEndian.PutUint32(h[16:], 25)
	binary.LittleEndian.PutUint32(h[20:], 1)
	binary.LittleEndian.PutUint32(h[24:], uint32(len(frames)))
	b.Write(h)
	for i, f := range frames {
		fh := make([]byte, 12)
		binary.LittleEndian.PutUint32(fh, uint32(len(f)))
		binary.LittleEndian.PutUint64(fh[4:], uint64(i))
		b.Write(fh)
		b.Write(f)
	}
	return b.Bytes()
}

// TestVP8BetweenWebRTCUsers: a WebRTC publisher sends VP8; a WebRTC
// subscriber receives it and ffmpeg decodes what arrived; play URLs for it
// are refused with 3011, since RTMP and FLV cannot carry VP8.
func TestVP8BetweenWebRTCUsers(t *testing.T) {
	env := mediaEnv(t, time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	alice, bob := join(t, env, "alice", "r1"), join(t, env, "bob", "r1")
	const fps = 25
	frames := vp8File(t, 3, fps)

	opts := loopback
	opts.VP8 = true
	pub, err := alice.PublishWebRTC(ctx, "", protocol.MediaVideo, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	if err := pub.Connected(ctx); err != nil {
		t.Fatal(err)
	}
	pace(t, time.Second/fps, func(i int) error { return pub.WriteVideo(frames[i%len(frames)], time.Second/fps) })

	st := streamEvent(t, clienttest.WaitEvent(t, bob, protocol.EvStreamPublished, nil))
	if st.Video == nil || st.Video.Codec != "vp8" || st.Video.Width != 320 || st.Video.Height != 240 {
		t.Fatalf("stream_published video %+v", st.Video)
	}
	if _, err := bob.SubscribeURLs(ctx, "alice_main"); !isCode(err, protocol.CodeCodec) {
		t.Fatalf("play URLs for a VP8 stream: %v, want code %d", err, protocol.CodeCodec)
	}

	var mu sync.Mutex
	var got [][]byte
	d, err := bob.SubscribeWebRTC(ctx, client.DownlinkOptions{WebRTCOptions: loopback, OnFrame: func(f client.ReceivedFrame) {
		if f.Video && !f.Config {
			mu.Lock()
			got = append(got, f.Data)
			mu.Unlock()
		}
	}}, "alice_main")
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	waitFor(t, 20*time.Second, "40 VP8 frames over WebRTC", func() bool { return d.Counts("alice_main").Video >= 40 })
	if d.Counts("alice_main").Keyframes == 0 {
		t.Fatal("no VP8 keyframe received")
	}
	mu.Lock()
	file := ivf(320, 240, got)
	mu.Unlock()
	cmd := exec.Command("ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-stats", "-f", "ivf", "-i", "pipe:0", "-f", "null", "-")
	cmd.Stdin = bytes.NewReader(file)
	out, err := cmd.CombinedOutput()
	if err != nil || bytes.Contains(bytes.ToLower(out), []byte("error")) {
		t.Fatalf("ffmpeg decoding the VP8 received: %v\n%s", err, out)
	}
	m := decodedFrames.FindAllSubmatch(out, -1)
	if len(m) == 0 || string(m[len(m)-1][1]) == "0" {
		t.Fatalf("ffmpeg decoded nothing:\n%s", out)
	}
}
