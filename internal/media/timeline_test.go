package media

import "testing"

type step struct {
	kind Kind
	in   uint32
	want int64
}

func runSteps(t *testing.T, tl *Timeline, steps []step) {
	t.Helper()
	for i, s := range steps {
		if got := tl.Map(s.kind, s.in); got != s.want {
			t.Fatalf("step %d: Map(%s, %d) = %d, want %d", i, s.kind, s.in, got, s.want)
		}
	}
}

func TestTimelineStartsAtZero(t *testing.T) {
	tl := NewTimeline(-1)
	if tl.Last() != -1 {
		t.Fatalf("Last before any frame = %d", tl.Last())
	}
	runSteps(t, tl, []step{{Video, 5000, 0}, {Audio, 5000, 0}, {Video, 5040, 40}, {Audio, 5023, 23}, {Video, 5080, 80}})
	if tl.Last() != 80 || tl.Clamped != 0 || tl.Rebased != 0 {
		t.Fatalf("Last %d, Clamped %d, Rebased %d", tl.Last(), tl.Clamped, tl.Rebased)
	}
}

func TestTimelineWraps(t *testing.T) {
	tl := NewTimeline(-1)
	start := uint32(0xFFFFFF00)
	steps := []step{{Video, start, 0}, {Audio, start, 0}}
	for i := 1; i < 20; i++ { // crosses 2^32 after 7 frames of 40 ms
		in := start + uint32(40*i)
		steps = append(steps, step{Video, in, int64(40 * i)}, step{Audio, in - 15, int64(40*i - 15)})
	}
	runSteps(t, tl, steps)
	if tl.Clamped != 0 || tl.Rebased != 0 || tl.Last() != 40*19 {
		t.Fatalf("Clamped %d, Rebased %d, Last %d across the wrap", tl.Clamped, tl.Rebased, tl.Last())
	}
}

func TestTimelineReconnectContinues(t *testing.T) {
	tl := NewTimeline(12345)
	runSteps(t, tl, []step{
		{Video, 0, 12345 + resumeGap},
		{Audio, 0, 12345 + resumeGap},
		{Audio, 23, 12345 + resumeGap + 23},
		{Video, 40, 12345 + resumeGap + 40},
	})
	// A session whose clock did not restart continues the same way.
	tl = NewTimeline(100)
	runSteps(t, tl, []step{{Video, 90_000, 120}, {Audio, 90_010, 130}, {Video, 90_040, 160}})
}

func TestTimelineJumpIsRebased(t *testing.T) {
	for _, tc := range []struct {
		name string
		jump int64
	}{{"forward", JumpLimit + 1}, {"backward", -(JumpLimit + 1)}, {"far forward", 1 << 30}, {"restart at 0", -2000_000}} {
		t.Run(tc.name, func(t *testing.T) {
			tl := NewTimeline(-1)
			base := uint32(3_000_000)
			runSteps(t, tl, []step{{Video, base, 0}, {Audio, base + 10, 10}, {Video, base + 40, 40}})
			j := uint32(int64(base+40) + tc.jump)
			runSteps(t, tl, []step{{Video, j, 40 + resumeGap}, {Audio, j + 5, 45 + resumeGap}, {Video, j + 40, 80 + resumeGap}})
			if tl.Rebased != 1 || tl.Clamped != 0 {
				t.Fatalf("Rebased %d, Clamped %d", tl.Rebased, tl.Clamped)
			}
		})
	}
	// A step of exactly JumpLimit is taken at face value.
	tl := NewTimeline(-1)
	runSteps(t, tl, []step{{Video, 0, 0}, {Video, JumpLimit, JumpLimit}})
	if tl.Rebased != 0 {
		t.Fatal("a JumpLimit step was rebased")
	}
}

func TestTimelineClampsSmallStepBack(t *testing.T) {
	tl := NewTimeline(-1)
	runSteps(t, tl, []step{
		{Video, 1000, 0}, {Video, 1040, 40},
		{Video, 1030, 40}, // 10 ms back on video: clamped
		{Video, 1080, 80},
		{Audio, 1000, 0}, {Audio, 990, 0}, // clamped
		{Audio, 1021, 21},
	})
	if tl.Clamped != 2 || tl.Rebased != 0 {
		t.Fatalf("Clamped %d, Rebased %d; want 2, 0", tl.Clamped, tl.Rebased)
	}
}

// Audio running a little behind video is normal interleaving: neither kind
// goes back on its own, so nothing is clamped or rebased.
func TestTimelineInterleavedAudioBehindVideo(t *testing.T) {
	tl := NewTimeline(-1)
	tl.Map(Video, 500)
	tl.Map(Audio, 500)
	for i := 1; i < 100; i++ {
		v := uint32(40 * i)
		if got := tl.Map(Video, 500+v); got != int64(v) {
			t.Fatalf("video %d -> %d", v, got)
		}
		// Up to a whole video frame behind the video just written.
		if got := tl.Map(Audio, 500+v-39); got != int64(v)-39 {
			t.Fatalf("audio %d -> %d", v-39, got)
		}
	}
	if tl.Clamped != 0 || tl.Rebased != 0 {
		t.Fatalf("Clamped %d, Rebased %d", tl.Clamped, tl.Rebased)
	}
}

// The stream timeline starts at 0 and never goes backwards per kind, also
// for the first frame of a kind: a session whose first frame is audio
// stamped after its first video frame must not produce negative DTS (FLV and
// RTMP timestamps are unsigned), and after a reconnect must not go before
// what the stream already delivered.
func TestTimelineFirstFrameOfEachKindNotBeforeStart(t *testing.T) {
	tl := NewTimeline(-1)
	tl.Map(Audio, 1060)
	if got := tl.Map(Video, 1000); got < 0 {
		t.Errorf("fresh stream: video DTS %d, before the start of the timeline", got)
	}
	tl = NewTimeline(960) // the stream delivered video up to 960
	tl.Map(Audio, 5060)
	if got := tl.Map(Video, 5000); got < 960 {
		t.Errorf("reconnect: video DTS %d, before the stream's last DTS 960", got)
	}
}
