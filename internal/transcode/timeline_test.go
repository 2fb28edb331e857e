package transcode

import (
	"math"
	"testing"
)

// feed gives tl n frames of 1024 samples at rate, PTS from ptsOf, and
// stamps every 960-sample output packet that is complete, like the
// pipeline does. It returns the stamps and how often tl re-anchored.
func feed(tl *timeline, n, rate int, ptsOf func(i int) int64, stamps []int64) ([]int64, int) {
	re := 0
	per := 1024.0 * OutputRate / float64(rate)
	for i := range n {
		if tl.input(ptsOf(i), per) {
			re++
		}
		for next := float64(len(stamps) * 960); next+960 <= tl.pos; next += 960 {
			stamps = append(stamps, tl.stamp(next))
		}
	}
	return stamps, re
}

func TestTimelineSteadyStreamNeverReanchors(t *testing.T) {
	for _, rate := range []int{8000, 16000, 44100, 48000} {
		var tl timeline
		// Ten minutes of RTMP-style whole-millisecond PTS.
		n := 600 * rate / 1024
		stamps, re := feed(&tl, n, rate, func(i int) int64 {
			return 42 + int64(math.Round(float64(i)*1024*1000/float64(rate)))
		}, nil)
		if re != 0 {
			t.Errorf("%d Hz: re-anchored %d times on a steady stream", rate, re)
		}
		for i, s := range stamps {
			if s != 42+int64(20*i) {
				t.Fatalf("%d Hz: packet %d stamped %d, want %d", rate, i, s, 42+20*i)
			}
		}
		if len(tl.anchors) != 1 {
			t.Errorf("%d Hz: %d anchors kept", rate, len(tl.anchors))
		}
	}
}

func TestTimelineReanchorsOnJumps(t *testing.T) {
	var tl timeline
	pts := func(i int) int64 { return int64(i) * 64 } // 16 kHz: 64 ms frames
	stamps, _ := feed(&tl, 10, 16000, pts, nil)
	// Two frames lost: the next frame's PTS is 128 ms late for its samples.
	stamps, re := feed(&tl, 10, 16000, func(i int) int64 { return pts(i + 12) }, stamps)
	if re != 1 {
		t.Fatalf("re-anchored %d times after a gap, want 1", re)
	}
	// Position 10*3072 (10 frames in) now maps to 768 ms, not 640.
	if got := tl.msAt(10 * 3072); got != 768 {
		t.Errorf("first sample after the gap at %.1f ms, want 768", got)
	}
	// Stamps before the gap are untouched; those after it jump by 128 ms.
	for i := 1; i < len(stamps); i++ {
		if d := stamps[i] - stamps[i-1]; d != 20 && d != 148 {
			t.Errorf("stamp %d follows %d by %d ms", stamps[i], stamps[i-1], d)
		}
	}

	// The publisher's clock restarts: PTS go back a second.
	_, re = feed(&tl, 5, 16000, func(i int) int64 { return 400 + int64(i)*64 }, stamps)
	if re != 1 {
		t.Errorf("re-anchored %d times after a backward jump, want 1", re)
	}
	if got := tl.msAt(tl.pos); got != 400+5*64 {
		t.Errorf("after the jump the timeline is at %.1f ms, want %d", got, 400+5*64)
	}
}

// A publisher whose PTS clock runs 0.2% fast against its sample clock:
// output stamps follow the PTS within half a frame instead of drifting.
func TestTimelineFollowsClockDrift(t *testing.T) {
	var tl timeline
	const n = 3 * 60 * 48000 / 1024 // three minutes
	ptsOf := func(i int) int64 { return int64(math.Round(float64(i) * 1024 * 1000 / 48000 * 1.002)) }
	stamps, re := feed(&tl, n, 48000, ptsOf, nil)
	if re < 10 || re > 40 {
		t.Errorf("re-anchored %d times in 3 minutes of 0.2%% drift (360 ms), want about 34", re)
	}
	for i, s := range stamps {
		want := float64(i) * 20 * 1.002
		if math.Abs(float64(s)-want) > 11 {
			t.Fatalf("packet %d stamped %d, input clock says %.1f", i, s, want)
		}
	}
	if len(tl.anchors) > 2 {
		t.Errorf("%d anchors kept", len(tl.anchors))
	}
}

func TestTimelineStampBeforeFirstAnchor(t *testing.T) {
	var tl timeline
	if got := tl.stamp(0); got != 0 {
		t.Errorf("stamp with no anchors = %d", got)
	}
	tl.input(1000, 960)
	// Encoder padding can put a position before the first input sample.
	if got := tl.stamp(-480); got != 990 {
		t.Errorf("stamp(-480) = %d, want 990", got)
	}
}
