package rtpframe

// timeline maps a track's 32-bit RTP timestamps onto milliseconds from 0
// at the first frame delivered. Each timestamp is taken as a signed step
// from the previous one, so the clock survives its wrap (every 13 hours at
// 90 kHz, 25 hours at 48 kHz) and a slightly older timestamp stays older.
type timeline struct {
	clockRate int64
	started   bool
	last      uint32
	ext       int64 // last timestamp, unwrapped

	based bool
	base  int64  // unwrapped timestamp of DTS 0
	base0 uint32 // the same, as sent
}

// advance unwraps ts and returns it; every access unit goes through here,
// delivered or not, so that the steps stay small.
func (t *timeline) advance(ts uint32) int64 {
	if !t.started {
		t.started, t.ext = true, int64(ts)
	} else {
		t.ext += int64(int32(ts - t.last))
	}
	t.last = ts
	return t.ext
}

// dts returns the milliseconds of an unwrapped timestamp, making it DTS 0
// if it is the first delivered.
func (t *timeline) dts(ext int64) int64 {
	if !t.based {
		t.based, t.base, t.base0 = true, ext, uint32(ext)
	}
	d := (ext - t.base) * 1000
	if d < 0 { // round towards minus infinity, like the positive side
		return -((-d + t.clockRate - 1) / t.clockRate)
	}
	return d / t.clockRate
}
