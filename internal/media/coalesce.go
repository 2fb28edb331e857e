package media

import "time"

// Coalescing: with many players on one stream, most of a media core goes
// into waking each player and making one write per frame (see
// docs/benchmarks.md §11). A stream with video carries about two audio
// frames per video frame (AAC at 48 kHz is 47 frames a second against 15-30
// pictures), so once a stream has Limits.CoalesceReaders players its audio
// frames are queued without waking anyone when the next video frame is due
// within Limits.CoalesceDelay: they leave with it, in the same write, or
// after CoalesceDelay at the latest.
// Below the threshold every frame wakes its players at once, which keeps
// the added latency of small rooms at a few milliseconds.

// wakeLocked wakes the readers for f, or holds f back to go out with the
// next frame that does. Called with s.mu held, after f was pushed.
func (s *Stream) wakeLocked(f *Frame) {
	if s.holdLocked(f) {
		s.held++
		if s.held == 1 {
			s.armFlushLocked()
		}
		return
	}
	s.wakeAllLocked()
}

// holdLocked reports whether f may wait for the next video frame: only
// when that frame is due within CoalesceDelay, judging by the interval
// between the last two video frames. An audio frame that would wait longer
// goes at once: holding it would only add latency.
func (s *Stream) holdLocked(f *Frame) bool {
	lim := &s.h.lim
	now := time.Now()
	if f.Kind == Video && !f.Config {
		if !s.videoAt.IsZero() {
			s.videoGap = now.Sub(s.videoAt)
		}
		s.videoAt = now
		return false
	}
	if lim.CoalesceReaders <= 0 || len(s.readers) < lim.CoalesceReaders ||
		f.Kind != Audio || f.Config || s.vcfg == nil || s.videoGap <= 0 {
		return false
	}
	due := s.videoAt.Add(s.videoGap)
	// Overdue by more than a whole interval: the camera is off or stalled.
	return due.Sub(now) <= lim.CoalesceDelay && now.Sub(due) < s.videoGap
}

func (s *Stream) wakeAllLocked() {
	if s.held > 0 {
		s.held = 0
		if s.flush != nil {
			s.flush.Stop()
		}
	}
	for _, r := range s.readers {
		if !r.isDirect.Load() {
			r.wake()
		}
	}
	for _, g := range s.groups {
		g.wake()
	}
}

// armFlushLocked starts the timer that sends held frames when no video
// frame came to take them along (a paused camera, a slow frame rate).
func (s *Stream) armFlushLocked() {
	d := s.h.lim.CoalesceDelay
	if s.flush == nil {
		s.flush = time.AfterFunc(d, s.flushHeld)
		return
	}
	s.flush.Reset(d)
}

func (s *Stream) flushHeld() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.held > 0 && !s.ended {
		s.wakeAllLocked()
	}
}
