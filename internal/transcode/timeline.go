package transcode

import "math"

// timeline maps positions in the transcoder's sample stream to milliseconds
// on the input's clock.
//
// A position counts 48 kHz samples since the transcoder started: an input
// frame of n samples at rate r advances it by n*48000/r, an output packet
// sits at the position of its first sample. Output PTS come from sample
// counts, not from the input PTS of whichever frame happened to complete a
// packet, so they are evenly spaced and exact; the input PTS only anchor the
// count to the input's clock. When an input PTS strays from where the count
// says it should be (a gap, a jump, or clock drift) by more than half a
// frame, the timeline re-anchors there instead of drifting away from the
// video it must stay in sync with.
type timeline struct {
	// anchors pair a position with the input PTS found there, in position
	// order; anchors[i] is in force from its position up to anchors[i+1].
	anchors []anchor
	// pos is where the next input frame's first sample lands.
	pos float64
}

type anchor struct {
	pos float64
	ms  int64
}

// minTolerance keeps millisecond rounding of input PTS (RTMP timestamps are
// whole milliseconds) from re-anchoring streams of very short frames.
const minTolerance = 3.0 // ms

// input records an input frame of samples48 (in 48 kHz samples) whose first
// sample has PTS ptsMs, and reports whether the timeline re-anchored.
func (tl *timeline) input(ptsMs int64, samples48 float64) bool {
	re := false
	if len(tl.anchors) == 0 {
		tl.anchors = append(tl.anchors, anchor{pos: tl.pos, ms: ptsMs})
	} else {
		want := tl.msAt(tl.pos)
		tol := math.Max(samples48*1000/OutputRate/2, minTolerance)
		if math.Abs(float64(ptsMs)-want) > tol {
			tl.anchors = append(tl.anchors, anchor{pos: tl.pos, ms: ptsMs})
			re = true
		}
	}
	tl.pos += samples48
	return re
}

// continued records samples that follow the previous ones without a PTS of
// their own (a second frame decoded from one packet).
func (tl *timeline) continued(samples48 float64) { tl.pos += samples48 }

// msAt is the input-clock time, in fractional milliseconds, of position pos.
func (tl *timeline) msAt(pos float64) float64 {
	a := tl.anchors[tl.find(pos)]
	return float64(a.ms) + (pos-a.pos)*1000/OutputRate
}

// find returns the index of the anchor in force at pos: the last one at or
// before it, or the first one for a position before every anchor (encoder
// padding can put the first packets there).
func (tl *timeline) find(pos float64) int {
	i := len(tl.anchors) - 1
	for i > 0 && tl.anchors[i].pos > pos {
		i--
	}
	return i
}

// stamp returns the PTS of an output packet starting at pos. Packets are
// stamped in position order, so anchors before the one in force are never
// needed again and are dropped, which keeps the list short however long
// the stream runs.
func (tl *timeline) stamp(pos float64) int64 {
	if len(tl.anchors) == 0 {
		return 0
	}
	i := tl.find(pos)
	ms := tl.msAt(pos)
	tl.anchors = tl.anchors[i:]
	return int64(math.Round(ms))
}
