package webrtc

import "github.com/minirtc/minirtc/internal/media"

// Audio/video sync of a WebRTC publisher. Each track's RTP timestamps
// start at a random value on their own clock, so the ingest first lines
// the tracks up by the arrival time of their first frames: that lets audio
// flow from the first packet, but it is off by however much longer one
// track's first frame took to arrive (a video encoder's delay, a large
// keyframe, network jitter — often 50–300 ms). RTCP sender reports fix it:
// each maps an RTP timestamp of one track to the sender's wall clock, so
// once both tracks have reported, we know when each track's DTS 0 was
// captured, and so how far apart the tracks' timelines must be.

// syncTolerance is the misalignment left alone: smaller corrections would
// only make audio jump for no audible gain (lip sync errors under ~20 ms are
// imperceptible), and successive reports jitter by a few ms.
const syncTolerance = 15 // ms

// maxSyncStep bounds a correction. A report that asks for more is taken
// for a broken sender clock and ignored, so one bad report cannot throw the
// stream's timeline seconds away.
const maxSyncStep = 5000 // ms

// avSync keeps what the sender reports say about each track.
type avSync struct {
	tracks [3]syncTrack // indexed by media.Kind
}

type syncTrack struct {
	ssrc  uint32
	clock int64                 // RTP clock rate, Hz
	base  func() (uint32, bool) // the RTP timestamp of the track's DTS 0, once known
	zero  int64                 // sender wall clock at DTS 0, µs since the NTP epoch
	known bool                  // zero is set
}

// addTrack registers a track: its SSRC, clock rate and where its
// depacketizer's DTS 0 is.
func (s *avSync) addTrack(k media.Kind, ssrc uint32, clock uint32, base func() (uint32, bool)) {
	if int(k) >= len(s.tracks) || clock == 0 {
		return
	}
	s.tracks[k] = syncTrack{ssrc: ssrc, clock: int64(clock), base: base}
}

// senderReport takes one report and, once both audio and video have
// reported, returns how many milliseconds after the video's DTS 0 the
// audio's DTS 0 was captured.
func (s *avSync) senderReport(ssrc uint32, ntp uint64, rtpTime uint32) (audioAfterVideo int64, ok bool) {
	for k := range s.tracks {
		t := &s.tracks[k]
		if t.base == nil || t.ssrc != ssrc {
			continue
		}
		base, based := t.base()
		if !based {
			return 0, false // no frame delivered yet: DTS 0 is not placed
		}
		// The report's timestamp as a signed distance from DTS 0, which
		// survives the 32-bit wrap as long as they are within half of it
		// (hours at any clock rate).
		ticks := int64(int32(rtpTime - base))
		t.zero = ntpMicros(ntp) - ticks*1_000_000/t.clock
		t.known = true
	}
	a, v := &s.tracks[media.Audio], &s.tracks[media.Video]
	if !a.known || !v.known {
		return 0, false
	}
	return roundDiv(a.zero-v.zero, 1000), true
}

// ntpMicros converts a 64-bit NTP timestamp (seconds, then a 32-bit
// fraction) to microseconds.
func ntpMicros(ntp uint64) int64 {
	sec := int64(ntp >> 32)
	frac := int64(ntp & 0xffffffff)
	return sec*1_000_000 + (frac*1_000_000)>>32
}

// roundDiv divides rounding to the nearest integer, halves away from zero.
func roundDiv(a, b int64) int64 {
	if a < 0 {
		return -((-a + b/2) / b)
	}
	return (a + b/2) / b
}
