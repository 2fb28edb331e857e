package media

// Timeline maps one push session's 32-bit millisecond timestamps (RTMP's)
// onto the stream's timeline, which is 64-bit, starts at 0 and never goes
// backwards per kind:
//
//   - the 32-bit clock is unwrapped by taking each timestamp as a signed
//     delta from the previous one, so it survives the wrap after 49.7 days;
//   - a new session (live-pusher reconnecting, its clock restarting at 0)
//     continues right after the last frame the stream delivered, with audio
//     and video shifted by the same amount so they stay in sync;
//   - a jump of more than JumpLimit either way is a discontinuity (an
//     encoder restart without reconnecting): the clock is re-based the same
//     way as a new session;
//   - a smaller step back on one kind is clamped to that kind's previous
//     DTS and counted, because FLV and RTMP players need non-decreasing DTS.
type Timeline struct {
	started  bool
	lastIn   uint32
	ext      int64 // last input, unwrapped
	offset   int64 // output = ext + offset
	last     [3]int64
	seen     [3]bool
	maxOut   int64
	Clamped  int // frames whose DTS was raised to keep the kind monotonic
	Rebased  int // discontinuities handled
	resumeAt int64
}

// JumpLimit is the largest timestamp step taken at face value.
const JumpLimit = 10_000

// resumeGap is how far after the last delivered frame a new session starts:
// about one video frame, so players see no overlap.
const resumeGap = 20

// NewTimeline starts a session whose first frame lands just after last, the
// stream's newest DTS (or at 0 when the stream has no frames yet: last < 0).
func NewTimeline(last int64) *Timeline {
	t := &Timeline{}
	if last >= 0 {
		t.resumeAt = last + resumeGap
		t.maxOut = last
	}
	for _, k := range []Kind{Video, Audio} {
		t.last[k], t.seen[k] = max(last, 0), true // no kind goes before what the stream delivered
	}
	return t
}

// Map returns the stream DTS for a frame of kind k stamped in by the publisher.
func (t *Timeline) Map(k Kind, in uint32) int64 {
	switch {
	case !t.started:
		t.started = true
		t.ext = int64(in)
		t.offset = t.resumeAt - t.ext
	default:
		d := int64(int32(in - t.lastIn))
		t.ext += d
		if d > JumpLimit || d < -JumpLimit {
			t.Rebased++
			t.offset = t.maxOut + resumeGap - t.ext
		}
	}
	t.lastIn = in
	out := t.ext + t.offset
	if t.seen[k] && out < t.last[k] {
		t.Clamped++
		out = t.last[k]
	}
	t.seen[k] = true
	t.last[k] = out
	if out > t.maxOut {
		t.maxOut = out
	}
	return out
}

// Last is the newest DTS the timeline produced, -1 before any.
func (t *Timeline) Last() int64 {
	if !t.started {
		return -1
	}
	return t.maxOut
}
