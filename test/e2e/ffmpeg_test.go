package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// needFFmpeg skips a test when ffmpeg is missing; `make test` installs it, so
// a skip only happens when running `go test` by hand on a bare machine.
func needFFmpeg(t testing.TB) {
	t.Helper()
	for _, bin := range []string{"ffmpeg", "ffprobe"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("%s not found (make test installs it): %v", bin, err)
		}
	}
}

// pushOpts describe the test pattern ffmpeg pushes.
type pushOpts struct {
	size       string // WxH
	rate       int    // video fps
	sampleRate int    // AAC sample rate
	gop        int    // frames per GOP
	seconds    int    // 0: until stopped
	noAudio    bool   // video only
}

func (o pushOpts) withDefaults() pushOpts {
	if o.size == "" {
		o.size = "320x240"
	}
	if o.rate == 0 {
		o.rate = 25
	}
	if o.sampleRate == 0 {
		o.sampleRate = 48000
	}
	if o.gop == 0 {
		o.gop = o.rate
	}
	return o
}

// pusher is a running ffmpeg that pushes H.264 baseline + AAC mono over
// RTMP in real time, as live-pusher would.
type pusher struct {
	cmd    *exec.Cmd
	stderr *syncBuffer
	done   chan error
}

func startPush(t *testing.T, url string, o pushOpts) *pusher {
	t.Helper()
	o = o.withDefaults()
	args := []string{"-hide_banner", "-nostdin", "-loglevel", "error", "-re",
		"-f", "lavfi", "-i", fmt.Sprintf("testsrc=size=%s:rate=%d", o.size, o.rate),
		"-f", "lavfi", "-i", fmt.Sprintf("sine=frequency=440:sample_rate=%d", o.sampleRate)}
	if o.seconds > 0 {
		args = append(args, "-t", fmt.Sprint(o.seconds))
	}
	args = append(args, "-c:v", "libx264", "-profile:v", "baseline", "-preset", "ultrafast", "-tune", "zerolatency",
		"-g", fmt.Sprint(o.gop), "-pix_fmt", "yuv420p")
	if o.noAudio {
		args = append(args, "-an")
	} else {
		args = append(args, "-c:a", "aac", "-ac", "1", "-ar", fmt.Sprint(o.sampleRate), "-b:a", "64k")
	}
	args = append(args, "-f", "flv", url)
	p := &pusher{cmd: exec.Command("ffmpeg", args...), stderr: &syncBuffer{}, done: make(chan error, 1)}
	p.cmd.Stderr = p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("starting ffmpeg push: %v", err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(p.stop)
	return p
}

// stop kills the pusher (like a phone losing its network) and waits for it.
func (p *pusher) stop() {
	if p.cmd.ProcessState == nil {
		_ = p.cmd.Process.Kill()
	}
	select {
	case err := <-p.done:
		p.done <- err
	case <-time.After(5 * time.Second):
	}
}

// exited returns the push's result once ffmpeg ended, or false.
func (p *pusher) exited(within time.Duration) (error, bool) {
	select {
	case err := <-p.done:
		p.done <- err
		return err, true
	case <-time.After(within):
		return nil, false
	}
}

// probed is what ffprobe decoded from a play URL.
type probed struct {
	video, audio int
	stderr       string
	err          error
}

// probe decodes seconds of a live URL with ffprobe and counts the decoded
// frames per kind; decode errors show up in stderr (loglevel error).
func probe(ctx context.Context, url string, seconds int) probed {
	cmd := exec.CommandContext(ctx, "ffprobe", "-hide_banner", "-loglevel", "error",
		"-analyzeduration", "100000",
		"-read_intervals", fmt.Sprintf("%%+%d", seconds),
		"-show_entries", "frame=media_type", "-of", "csv=p=0", url)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	var out bytes.Buffer
	cmd.Stdout = &out
	err := cmd.Run()
	var r probed
	for _, l := range strings.Split(out.String(), "\n") {
		switch strings.TrimSpace(strings.TrimSuffix(l, ",")) {
		case "video":
			r.video++
		case "audio":
			r.audio++
		}
	}
	r.stderr, r.err = stderr.String(), err
	return r
}

// timeToFirstFrame runs ffprobe on a live URL until it has decoded one video
// frame and returns how long that took from process start: the player's
// view of "first picture", including connecting and probing. It also
// checks that the first frame is a keyframe.
func timeToFirstFrame(ctx context.Context, url string) (time.Duration, error) {
	start := time.Now()
	cmd := exec.CommandContext(ctx, "ffprobe", "-hide_banner", "-loglevel", "error",
		"-analyzeduration", "100000", // not nobuffer: it drops the probed keyframe
		"-read_intervals", "%+#1", "-select_streams", "v", "-show_entries", "frame=key_frame", "-of", "csv=p=0", url)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("%v: %s", err, out)
	}
	d := time.Since(start)
	if first, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n"); strings.TrimSuffix(first, ",") != "1" {
		return d, fmt.Errorf("first frame is not a keyframe: %q", out)
	}
	return d, nil
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
