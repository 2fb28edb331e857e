package media

import (
	"time"
)

// Stats is a snapshot of one live stream.
type Stats struct {
	Key        Key
	Info       Info
	BitrateIn  int64   // bits per second received from the publisher, last second
	BitrateOut int64   // bits per second sent to all readers, last second
	FPS        float64 // video frames per second received, last second
	GOPFrames  int     // video frames in the last complete group of pictures
	GOPMillis  int64   // duration of the last complete group of pictures
	Readers    map[Protocol]int
	Dropped    int64 // frames readers lost to overflow, since the stream started
	BytesIn    int64
	BytesOut   int64
	Pushing    bool // a push connection is attached (false during the grace)
}

// rateWindow turns counters into per-second rates, updated as frames arrive.
type rateWindow struct {
	start       time.Time
	bytes       int64
	videoFrames int
	outAtStart  int64

	bitrateIn, bitrateOut int64
	fps                   float64

	pendingGOP, gopFrames int
	lastKey, gopMillis    int64
	haveKey               bool
	closed                bool // a window has closed: later windows count every frame
}

func (w *rateWindow) add(now time.Time, f *Frame, outTotal int64) {
	if w.start.IsZero() {
		w.start, w.outAtStart = now, outTotal
	}
	counted := w.closed || now.After(w.start) // windows are (start, start+1s]
	if counted {
		w.bytes += int64(len(f.Payload))
	}
	if f.Kind == Video && !f.Config {
		if counted {
			w.videoFrames++
		}
		w.pendingGOP++
		if f.Key {
			if w.haveKey {
				w.gopFrames = w.pendingGOP - 1
				w.gopMillis = f.DTS - w.lastKey
			}
			w.haveKey, w.lastKey, w.pendingGOP = true, f.DTS, 1
		}
	}
	if el := now.Sub(w.start); el >= time.Second {
		sec := el.Seconds()
		w.bitrateIn = int64(float64(w.bytes*8) / sec)
		w.bitrateOut = int64(float64((outTotal-w.outAtStart)*8) / sec)
		w.fps = float64(int(float64(w.videoFrames)/sec*10+0.5)) / 10
		w.start, w.bytes, w.videoFrames, w.outAtStart, w.closed = now, 0, 0, outTotal, true
	}
}

func (s *Stream) stats() (Stats, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.live || s.ended {
		return Stats{}, false
	}
	st := Stats{
		Key: s.key, Info: s.info,
		BitrateIn: s.rate.bitrateIn, BitrateOut: s.rate.bitrateOut, FPS: s.rate.fps,
		GOPFrames: s.rate.gopFrames, GOPMillis: s.rate.gopMillis,
		Readers: map[Protocol]int{RTMP: s.perProto[RTMP], FLV: s.perProto[FLV], WebRTC: s.perProto[WebRTC]},
		Dropped: s.dropped.Load(), BytesIn: s.bytesIn.Load(), BytesOut: s.bytesOut.Load(),
		Pushing: s.pub != nil,
	}
	if s.h.now().Sub(s.rate.start) > 3*time.Second {
		st.BitrateIn, st.BitrateOut, st.FPS = 0, 0, 0 // nothing arrived lately
	}
	return st, true
}
