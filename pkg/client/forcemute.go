package client

import (
	"encoding/json"
	"sync"
	"time"

	"github.com/minirtc/minirtc/pkg/ids"
	"github.com/minirtc/minirtc/pkg/protocol"
)

// The app server can mute a participant's stream through the REST API
// (docs/api.md): the owner then receives a force_mute event and must send
// silence / no picture until the app server unmutes it. A WebRTCPublication
// complies by itself (below). A stream pushed over RTMP to PublishURL's URL
// is pushed by the caller's own encoder, which the client cannot reach:
// the caller must watch Events() for protocol.EvForceMute (data
// protocol.ForceMuteEvent) and mute its encoder, as the app server kicks a
// participant that does not comply.

// mediaLock is what the app server keeps off for one stream.
type mediaLock struct {
	mu    sync.Mutex
	audio bool
	video bool
	// needKey: the video was off, so the next frame sent must be a
	// keyframe (the receiver has no reference for anything else).
	needKey bool
	// dropped counts the video frames withheld, so that the RTP timestamps
	// jump over the gap when sending resumes (pion's PrevDroppedPackets).
	dropped uint16
	// fromEvent: a force_mute set the lock, which is newer than the publish
	// answer (the server answers before it sends the event).
	fromEvent bool
}

func (l *mediaLock) set(audio, video bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.fromEvent = true
	l.setLocked(audio, video)
}

// answer sets the lock from the publish answer, unless a force_mute came
// meanwhile.
func (l *mediaLock) answer(audio, video bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.fromEvent {
		l.setLocked(audio, video)
	}
}

func (l *mediaLock) setLocked(audio, video bool) {
	l.audio = audio
	if video {
		l.needKey = true
	}
	l.video = video
}

// videoFrame decides about one video frame: send it or not, and how many frames
// were withheld before it.
func (l *mediaLock) videoFrame(key bool) (send bool, dropped uint16) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.video || (l.needKey && !key) {
		if l.dropped < 0xffff {
			l.dropped++
		}
		return false, 0
	}
	l.needKey = false
	dropped, l.dropped = l.dropped, 0
	return true, dropped
}

func (l *mediaLock) get() (audio, video bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.audio, l.video
}

// opusSilence returns an Opus packet of d of digital silence (RFC 6716
// TOC: CELT-only fullband, mono; each frame the 2-byte silent CELT frame
// libopus produces for zeros), or nil for a duration Opus frames cannot
// make. A muted publication keeps sending, so that the receiver's timeline
// and the transcoders downstream run on.
func opusSilence(d time.Duration) []byte {
	frame := []byte{0xff, 0xfe}
	one := func(config byte) []byte { return append([]byte{config << 3}, frame...) }
	switch d {
	case 2500 * time.Microsecond:
		return one(28)
	case 5 * time.Millisecond:
		return one(29)
	case 10 * time.Millisecond:
		return one(30)
	case 20 * time.Millisecond:
		return one(31)
	case 40 * time.Millisecond:
		// code 1: two frames of equal size.
		return append([]byte{31<<3 | 1}, append(append([]byte{}, frame...), frame...)...)
	case 60 * time.Millisecond:
		// code 3: a frame count byte (3, CBR, no padding), then the frames.
		return append([]byte{31<<3 | 3, 3}, append(append(append([]byte{}, frame...), frame...), frame...)...)
	}
	return nil
}

// isKeyframe reports whether an H.264 Annex-B access unit holds an IDR
// slice, or a VP8 frame is a key frame (RFC 6386 §9.1: bit 0 of the first
// byte is 0).
func isKeyframe(au []byte, vp8 bool) bool {
	if vp8 {
		return len(au) > 0 && au[0]&1 == 0
	}
	for _, nalu := range splitAnnexB(au) {
		if len(nalu) > 0 && nalu[0]&0x1f == 5 {
			return true
		}
	}
	return false
}

// splitAnnexB splits an Annex-B byte stream at its start codes.
func splitAnnexB(b []byte) [][]byte {
	var out [][]byte
	start := -1
	for i := 0; i+2 < len(b); i++ {
		if b[i] != 0 || b[i+1] != 0 || b[i+2] != 1 {
			continue
		}
		if start >= 0 {
			end := i
			if end > start && b[end-1] == 0 { // 4-byte start code
				end--
			}
			out = append(out, b[start:end])
		}
		start = i + 3
		i += 2
	}
	if start >= 0 && start <= len(b) {
		out = append(out, b[start:])
	}
	return out
}

// forceMuteLocked applies a force_mute event to the client's publication
// of that stream, if any (c.mu held, from handleEvent).
func (c *Client) forceMuteLocked(data json.RawMessage) {
	var ev protocol.ForceMuteEvent
	if json.Unmarshal(data, &ev) != nil {
		return
	}
	if l := c.locks[ev.Stream.ID]; l != nil {
		l.set(ev.Stream.AudioLocked, ev.Stream.VideoLocked)
	}
}

// trackLock registers the lock of a new publication of sid.
func (c *Client) trackLock(sid ids.StreamID) *mediaLock {
	l := &mediaLock{}
	c.mu.Lock()
	if c.locks == nil {
		c.locks = make(map[ids.StreamID]*mediaLock)
	}
	c.locks[sid] = l
	c.mu.Unlock()
	return l
}

func (c *Client) untrackLock(sid ids.StreamID, l *mediaLock) {
	c.mu.Lock()
	if c.locks[sid] == l {
		delete(c.locks, sid)
	}
	c.mu.Unlock()
}

// Locked reports what the app server keeps off on this publication
// (force_mute): while audio is locked WriteAudio sends Opus silence in
// place of the packets given; while video is locked WriteVideo sends
// nothing, and after the unlock it resumes at the next keyframe.
func (p *WebRTCPublication) Locked() (audio, video bool) {
	return p.lock.get()
}
