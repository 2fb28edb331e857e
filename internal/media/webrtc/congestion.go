package webrtc

import (
	"sync"
	"sync/atomic"
	"time"
)

// Congested subscribers. Writing RTP never blocks (it is UDP), so a
// subscriber whose network cannot carry the stream does not slow anything
// down here: its bottleneck queues the packets, delay grows, and then the
// network drops them, leaving the decoder with broken pictures until the
// next keyframe. What the subscriber reports is used instead: a REMB
// (receiver estimated maximum bitrate) from the client, which browsers
// send for streams that do not carry transport-wide sequence numbers, says
// how fast its network drains. The egress keeps a model of the bottleneck
// queue (a leaky bucket drained at that rate) and, rather than let the
// queue grow past maxNetworkDelay, drops video frames up to the next
// keyframe — whole dependency chains, so what is sent still decodes — and
// asks for a keyframe. Audio is never dropped: it is small, and losing it is
// what a user notices most.

// maxNetworkDelay is how much the model lets the subscriber's bottleneck
// queue hold (at the estimated rate) before video frames are dropped.
const maxNetworkDelay = 500 * time.Millisecond

// drainFactor: the model drains its queue this much faster than the
// estimate. A receiver's estimate follows what it receives and sits at or
// a little above it while the network keeps up, so a stream sent at about
// the estimated rate is a subscriber keeping up, not a congested one; it
// must not lose frames to the model's keyframe bursts. A subscriber whose
// estimate falls well below the stream's rate still fills the queue fast.
const drainFactor = 1.25

// estimateMaxAge: an estimate not refreshed for this long is forgotten
// (clients send REMB at least every second while they receive).
const estimateMaxAge = 5 * time.Second

// videoBudget is one video track's share of its subscriber's estimated
// bandwidth and the model of the queue it fills.
type videoBudget struct {
	mu       sync.Mutex
	bps      float64   // the estimate, bits per second; 0 = none
	bpsAt    time.Time // when it was reported
	queue    float64   // bytes in the modelled bottleneck queue
	at       time.Time // when queue was last drained
	skipping bool      // dropping until a keyframe
	dropped  atomic.Int64
}

// setEstimate records the subscriber's estimate for this track.
func (b *videoBudget) setEstimate(bps float64, now time.Time) {
	b.mu.Lock()
	b.bps, b.bpsAt = bps, now
	b.mu.Unlock()
}

// admit reports whether a video frame of n bytes goes out now, and whether
// refusing it started a skip (the caller then asks for a keyframe).
// Keyframes always go: without one a subscriber shows nothing, and at a
// rate too low for anything else, keyframes alone are the best picture.
func (b *videoBudget) admit(n int, key bool, now time.Time) (send, startedSkip bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.at.IsZero() && b.bps > 0 {
		b.queue = max(0, b.queue-now.Sub(b.at).Seconds()*b.bps/8*drainFactor)
	}
	b.at = now
	if b.bps <= 0 || now.Sub(b.bpsAt) > estimateMaxAge {
		b.bps, b.queue, b.skipping = 0, 0, false // no estimate: send everything
		return true, false
	}
	if key {
		b.skipping = false
		b.queue += float64(n)
		return true, false
	}
	if b.skipping {
		b.dropped.Add(1)
		return false, false
	}
	if b.queue+float64(n) > b.bps/8*maxNetworkDelay.Seconds() {
		b.skipping = true
		b.dropped.Add(1)
		return false, true
	}
	b.queue += float64(n)
	return true, false
}
