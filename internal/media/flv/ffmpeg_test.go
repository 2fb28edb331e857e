package flv

import (
	"context"
	"os/exec"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/minirtc/minirtc/internal/media"
)

// TestFFmpegPlays has ffmpeg, a player nobody here wrote, play and decode
// what the handler serves: real H.264 and AAC frames (from an ffmpeg-made
// FLV, through our demuxer) published into the hub in a loop. The second
// case starts the stream clock a second before 2^32 ms, so ffmpeg sees
// extended timestamps and the FLV timestamp wrap while it plays.
func TestFFmpegPlays(t *testing.T) {
	ffmpeg, err := exec.LookPath("ffmpeg")
	if err != nil {
		t.Skip("ffmpeg is not on PATH")
	}
	if testing.Short() {
		t.Skip("starts ffmpeg")
	}
	t.Run("from 0", func(t *testing.T) { ffmpegPlays(t, ffmpeg, 0) })
	t.Run("across the 2^32 ms wrap", func(t *testing.T) { ffmpegPlays(t, ffmpeg, 1<<32-1000) })
}

func ffmpegPlays(t *testing.T, ffmpeg string, base uint32) {
	e := newEnv(t, media.Limits{}, Options{})
	src := loadTestsrc(t)
	period := src[len(src)-1].TS + 40
	p := e.push(t, "u_main", "")

	// Configs first, then (with no player yet) move the clock to base in
	// steps the hub takes at face value; those frames are never played.
	first := 0
	for ; src[first].Config; first++ {
		write(t, p, src[first].Frame(), 0)
	}
	for ts := uint64(media.JumpLimit); ts < uint64(base); ts += media.JumpLimit {
		write(t, p, aframe(0), uint32(ts))
	}
	// Publish the first second (a GOP) so the stream is live, then keep
	// going in the background at four times real time.
	for ; first < len(src) && src[first].TS < 1000; first++ {
		write(t, p, src[first].Frame(), base+src[first].TS)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		start := time.Now()
		for loop := uint32(0); ; loop++ {
			for _, f := range src[first:] {
				if f.Config && loop > 0 {
					continue
				}
				ts := base + f.TS + loop*period
				if ahead := time.Duration(ts)*time.Millisecond/4 - time.Since(start); ahead > 0 {
					select {
					case <-ctx.Done():
						return
					case <-time.After(ahead):
					}
				}
				if err := p.WriteFrame(f.Frame(), ts); err != nil {
					t.Errorf("WriteFrame: %v", err)
					return
				}
			}
			first = 0
		}
	}()
	defer func() {
		cancel()
		wg.Wait()
	}()

	run, stop := context.WithTimeout(context.Background(), 60*time.Second)
	defer stop()
	cmd := exec.CommandContext(run, ffmpeg, "-nostdin", "-hide_banner", "-xerror",
		"-i", e.url("u_main", "ok=1&viewer=ffmpeg"), "-t", "2", "-f", "null", "-")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, out)
	}
	for _, want := range []string{"Video: h264", "160x120", "Audio: aac", "48000 Hz, mono"} {
		if !regexp.MustCompile(regexp.QuoteMeta(want)).Match(out) {
			t.Errorf("ffmpeg did not see %q:\n%s", want, out)
		}
	}
	m := regexp.MustCompile(`frame=\s*(\d+)`).FindAllSubmatch(out, -1)
	if len(m) == 0 {
		t.Fatalf("no frame count in ffmpeg's output:\n%s", out)
	}
	if n, _ := strconv.Atoi(string(m[len(m)-1][1])); n < 45 {
		t.Fatalf("ffmpeg decoded %d frames of 2 s at 25 fps:\n%s", n, out)
	}
	eventually(t, "ffmpeg's reader to be released", func() bool { return flvReaders(e.hub) == 0 })
}
