package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4/pkg/media/oggreader"
	"github.com/pion/webrtc/v4/pkg/media/oggwriter"

	"github.com/minirtc/minirtc/internal/clienttest"
	"github.com/minirtc/minirtc/pkg/client"
	"github.com/minirtc/minirtc/pkg/protocol"
)

// Audio crosses between the two worlds through the hub's conversion:
// AAC from RTMP becomes Opus for WebRTC, Opus from WebRTC becomes AAC for
// RTMP and FLV.

// opusFile encodes a 1 kHz tone with libopus, one 20 ms packet per Ogg
// page, and returns the packets.
func opusFile(t *testing.T, seconds int) [][]byte {
	t.Helper()
	path := ffmpegFile(t, "tone.ogg",
		"-f", "lavfi", "-i", "sine=frequency=1000:sample_rate=48000", "-t", fmt.Sprint(seconds),
		"-c:a", "libopus", "-b:a", "48k", "-ac", "2", "-frame_duration", "20", "-page_duration", "20000")
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, _, err := oggreader.NewWith(f)
	if err != nil {
		t.Fatal(err)
	}
	var packets [][]byte
	for {
		p, _, err := r.ParseNextPage()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if bytes.HasPrefix(p, []byte("OpusTags")) {
			continue
		}
		packets = append(packets, p)
	}
	if len(packets) < seconds*40 {
		t.Fatalf("%d Opus packets for %d s", len(packets), seconds)
	}
	return packets
}

var meanVolume = regexp.MustCompile(`mean_volume: (-?[\d.]+) dB`)

// loudness decodes an audio file or URL with ffmpeg and returns its mean
// volume in dB (silence is about -91).
func loudness(t *testing.T, input string, extra ...string) float64 {
	t.Helper()
	args := append([]string{"-hide_banner", "-nostdin"}, extra...)
	args = append(args, "-i", input, "-vn", "-af", "volumedetect", "-f", "null", "-")
	out, err := exec.Command("ffmpeg", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("ffmpeg decoding audio: %v\n%s", err, out)
	}
	m := meanVolume.FindSubmatch(out)
	if m == nil {
		t.Fatalf("no volume from ffmpeg:\n%s", out)
	}
	v, _ := strconv.ParseFloat(string(m[1]), 64)
	return v
}

// TestRTMPAudioToWebRTC: ffmpeg pushes H.264 + AAC over RTMP; a WebRTC
// subscriber gets the audio as Opus, which decodes to the pushed tone.
func TestRTMPAudioToWebRTC(t *testing.T) {
	env := mediaEnv(t, time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	ls := startLiveStream(t, ctx, env, pushOpts{})

	var log frameLog
	var opus []client.ReceivedFrame
	var mu = &log.mu
	subAt := time.Now()
	d, err := ls.bob.SubscribeWebRTC(ctx, client.DownlinkOptions{WebRTCOptions: loopback, OnFrame: func(f client.ReceivedFrame) {
		log.add(f)
		if !f.Video {
			mu.Lock()
			opus = append(opus, f)
			mu.Unlock()
		}
	}}, "alice_main")
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	waitFor(t, 20*time.Second, "3 s of Opus audio and video over WebRTC", func() bool {
		c := d.Counts("alice_main")
		return c.Audio >= 150 && c.Video >= 50
	})
	c := d.Counts("alice_main")
	// Audio and video start together: the converter starts with the
	// subscriber, not after it.
	t.Logf("first video %s, first audio %s after subscribing; %d keyframes", c.FirstVideoAt.Sub(subAt), c.FirstAudioAt.Sub(subAt), c.Keyframes)
	if gap := c.FirstAudioAt.Sub(c.FirstVideoAt).Abs(); gap > 500*time.Millisecond {
		t.Errorf("first audio %s apart from first video", gap)
	}

	path := filepath.Join(t.TempDir(), "received.ogg")
	w, err := oggwriter.New(path, 48000, 2)
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	for i, f := range opus {
		p := &rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: uint16(i), Timestamp: uint32(f.DTS.Milliseconds() * 48)}, Payload: f.Data}
		if err := w.WriteRTP(p); err != nil {
			t.Fatal(err)
		}
	}
	mu.Unlock()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if v := loudness(t, path); v < -40 {
		t.Fatalf("the Opus audio received decodes to %.1f dB: silence, not the pushed tone", v)
	}
}

// firstPTS returns the first presentation time of each kind ffprobe
// decodes from url.
func firstPTS(t *testing.T, ctx context.Context, url string, seconds int) (video, audio float64) {
	t.Helper()
	out, err := exec.CommandContext(ctx, "ffprobe", "-hide_banner", "-loglevel", "error",
		"-read_intervals", fmt.Sprintf("%%+%d", seconds),
		"-show_entries", "frame=media_type,best_effort_timestamp_time", "-of", "csv=p=0", url).Output()
	if err != nil {
		t.Fatalf("ffprobe %s: %v", url, err)
	}
	video, audio = -1, -1
	for _, l := range strings.Split(string(out), "\n") {
		kind, ts, ok := strings.Cut(strings.TrimSpace(l), ",")
		if !ok {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSuffix(ts, ","), 64)
		if err != nil {
			continue
		}
		switch {
		case kind == "video" && video < 0:
			video = v
		case kind == "audio" && audio < 0:
			audio = v
		}
	}
	return video, audio
}

// TestWebRTCAudioToFLV: a WebRTC participant publishes H.264 + Opus; the
// FLV and RTMP play URLs deliver AAC that ffmpeg decodes to the tone, with
// audio starting within 500 ms of video.
func TestWebRTCAudioToFLV(t *testing.T) {
	env := mediaEnv(t, time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	alice, bob := join(t, env, "alice", "r1"), join(t, env, "bob", "r1")
	const fps = 25
	aus, packets := h264File(t, 4, fps), opusFile(t, 4)

	pub, err := alice.PublishWebRTC(ctx, "", protocol.MediaAudioVideo, loopback)
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	if err := pub.Connected(ctx); err != nil {
		t.Fatal(err)
	}
	pace(t, time.Second/fps, func(i int) error { return pub.WriteVideo(aus[i%len(aus)], time.Second/fps) })
	pace(t, 20*time.Millisecond, func(i int) error { return pub.WriteAudio(packets[i%len(packets)], 20*time.Millisecond) })

	ev := clienttest.WaitEvent(t, bob, protocol.EvStreamPublished, nil)
	st := streamEvent(t, ev)
	if st.Audio == nil || st.Audio.Codec != "opus" || st.Audio.SampleRate != 48000 {
		t.Fatalf("stream_published audio info %+v", st.Audio)
	}
	sub, err := bob.SubscribeURLs(ctx, "alice_main")
	if err != nil {
		t.Fatal(err)
	}
	urls := sub.URLs["alice_main"]
	for name, u := range map[string]string{"flv": urls.FLV, "rtmp": urls.RTMP} {
		r := probe(ctx, u, 3)
		if r.err != nil || r.video < 40 || r.audio < 80 || r.stderr != "" {
			t.Fatalf("%s: ffprobe decoded %d video and %d audio frames (err %v)\n%s", name, r.video, r.audio, r.err, r.stderr)
		}
		v, a := firstPTS(t, ctx, u, 2)
		if v < 0 || a < 0 || a-v > 0.5 || v-a > 0.5 {
			t.Errorf("%s: first video at %.3f s, first audio at %.3f s: more than 500 ms apart", name, v, a)
		}
	}
	if v := loudness(t, urls.FLV, "-t", "3"); v < -40 {
		t.Fatalf("the AAC from FLV decodes to %.1f dB: silence, not the published tone", v)
	}
}
