package rtmp

import (
	"bytes"
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"
)

func needFFmpeg(t *testing.T) {
	t.Helper()
	for _, tool := range []string{"ffmpeg", "ffprobe"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not on PATH (scripts/deps.sh test installs it)", tool)
		}
	}
}

// ffmpegPush starts ffmpeg pushing a live test pattern and tone for
// seconds; args go before the output (codec choices).
func ffmpegPush(ctx context.Context, t *testing.T, url string, seconds string, args ...string) (*exec.Cmd, *bytes.Buffer) {
	t.Helper()
	all := []string{"-hide_banner", "-v", "error", "-re",
		"-f", "lavfi", "-i", "testsrc=size=320x240:rate=25", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
		"-t", seconds}
	all = append(all, args...)
	all = append(all, "-f", "flv", url)
	cmd := exec.CommandContext(ctx, "ffmpeg", all...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { // after the test's deferred Wait: stderr is complete
		if t.Failed() {
			t.Logf("ffmpeg push stderr:\n%s", stderr.String())
		}
	})
	return cmd, &stderr
}

// x264 is the brief's encoder settings; testsrc is RGB, which baseline
// cannot carry, hence the pixel format.
var x264 = []string{"-c:v", "libx264", "-profile:v", "baseline", "-pix_fmt", "yuv420p", "-preset", "ultrafast", "-g", "25",
	"-c:a", "aac", "-ac", "1"}

func TestFFmpegPushAndPlay(t *testing.T) {
	needFFmpeg(t)
	e := newEnv(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	url := e.url("/a/r/u_main?ok=1")
	push, pushErr := ffmpegPush(ctx, t, url, "8", x264...)
	defer push.Wait()
	defer cancel()

	info := e.hooks.waitLive(t, "u_main")
	if v, a := info.Video, info.Audio; v == nil || a == nil || v.Width != 320 || v.Height != 240 || a.SampleRate != 48000 || a.Channels != 1 {
		t.Fatalf("Live info = %s, want 320x240 video and 48 kHz mono audio", info)
	}

	// ffmpeg plays 3 s and decodes everything; framecrc lists every frame.
	play := exec.CommandContext(ctx, "ffmpeg", "-hide_banner", "-v", "error", "-i", url, "-t", "3", "-map", "0", "-f", "framecrc", "-")
	var out, playErr bytes.Buffer
	play.Stdout, play.Stderr = &out, &playErr
	if err := play.Run(); err != nil {
		t.Fatalf("ffmpeg play: %v\n%s", err, playErr.String())
	}
	if s := strings.TrimSpace(playErr.String()); s != "" {
		t.Errorf("ffmpeg play reported errors:\n%s", s)
	}
	video, audio := 0, 0
	for _, l := range strings.Split(out.String(), "\n") {
		switch {
		case strings.HasPrefix(l, "0,"):
			video++
		case strings.HasPrefix(l, "1,"):
			audio++
		}
	}
	// 3 s at 25 fps, and AAC at 48 kHz (1024 samples a frame).
	if video < 60 || audio < 100 {
		t.Errorf("ffmpeg decoded %d video and %d audio frames in 3 s", video, audio)
	}

	// ffprobe sees the codecs and the size (from the configs and onMetaData).
	probe := exec.CommandContext(ctx, "ffprobe", "-v", "error", "-show_entries", "stream=codec_name,width,height,sample_rate",
		"-of", "compact", url)
	pout, err := probe.CombinedOutput()
	if err != nil {
		t.Fatalf("ffprobe: %v\n%s", err, pout)
	}
	for _, want := range []string{"codec_name=h264", "width=320", "height=240", "codec_name=aac", "sample_rate=48000"} {
		if !strings.Contains(string(pout), want) {
			t.Errorf("ffprobe output lacks %s:\n%s", want, pout)
		}
	}

	if err := push.Wait(); err != nil {
		t.Errorf("ffmpeg push: %v\n%s", err, pushErr.String())
	}
	e.waitLog(t, "rtmp: push ended", "reason=ended")
}

func TestFFmpegUnsupportedCodecIsRefused(t *testing.T) {
	needFFmpeg(t)
	e := newEnv(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	push, _ := ffmpegPush(ctx, t, e.url("/a/r/u_alaw?ok=1"), "3",
		"-c:v", "libx264", "-pix_fmt", "yuv420p", "-preset", "ultrafast", "-c:a", "pcm_alaw", "-ar", "8000", "-ac", "1")
	err := push.Wait()
	if err == nil {
		t.Error("ffmpeg pushing G.711 succeeded")
	}
	line := e.waitLog(t, "rtmp: push ended", "reason=unsupported_codec")
	if !strings.Contains(line, "G.711 A-law") {
		t.Errorf("log line does not name the codec: %s", line)
	}
	checkHealthy(t, e)
}
