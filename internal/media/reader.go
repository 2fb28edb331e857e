package media

import (
	"context"
	"errors"
	"io"
	"sync"
	"sync/atomic"

	"github.com/minirtc/minirtc/pkg/ids"
)

// Protocol names the egress a reader uses; stats count readers per protocol.
type Protocol string

// Egress protocols.
const (
	RTMP   Protocol = "rtmp"
	FLV    Protocol = "flv"
	WebRTC Protocol = "webrtc"
)

// Reader is one player's view of a stream: a bounded queue that the stream
// fills as frames arrive and the egress drains with Read. Filling never
// blocks; a reader that falls QueueFrames or QueueBytes behind loses its
// queue and skips to the next keyframe, and the lost frames are counted.
type Reader struct {
	s      *Stream
	proto  Protocol
	viewer ids.UserID
	remote string
	audio  Codec // Target.Audio: the audio rendition this reader takes
	idx    int   // position in the stream's readers; -1 once removed

	notify chan struct{} // capacity 1: "the queue is not empty"
	done   chan struct{} // closed by Close or when the stream ends

	mu        sync.Mutex
	q         []*Frame
	qBytes    int
	skipping  bool // dropping media until the next keyframe
	countSkip bool // the skip is an overflow (counted), not the initial wait
	ended     bool // the stream ended: Read returns io.EOF once q is empty
	cut       bool // Close was called: Read returns ErrClosed at once
	closeOnce sync.Once

	// Direct writing (direct.go); all under mu except isDirect, which the
	// stream reads while waking readers.
	dw       DirectWriter
	group    *writerGroup
	gidx     int  // position in group.readers
	direct   bool // the group's writer serves the queue, not Read
	isDirect atomic.Bool
	writing  bool     // the group's writer is in TryWrite for this reader
	reclaim  bool     // Read wants the reader back once that write is over
	handback bool     // TryWrite stopped short: Read returns an empty batch
	spare    []*Frame // the writer's batch buffer

	dropped atomic.Int64
	sent    atomic.Int64
}

// Protocol is the reader's egress.
func (r *Reader) Protocol() Protocol { return r.proto }

// Viewer is the user the play URL was issued to ("" for anonymous viewers).
func (r *Reader) Viewer() ids.UserID { return r.viewer }

// Key is the stream being read.
func (r *Reader) Key() Key { return r.s.key }

// Info is what the stream carries now (codecs, size, sample rate).
func (r *Reader) Info() Info {
	r.s.mu.Lock()
	defer r.s.mu.Unlock()
	return r.s.info
}

// RequestKeyframe asks the stream's publisher for a keyframe (a WebRTC
// subscriber's PLI); requests are spaced, and an RTMP publisher cannot
// honour them.
func (r *Reader) RequestKeyframe() { r.s.RequestKeyframe() }

// Dropped is how many frames this reader lost to overflow, or that its
// egress chose not to send (CountDropped).
func (r *Reader) Dropped() int64 { return r.dropped.Load() }

// CountDropped adds frames the egress dropped itself (a WebRTC subscriber
// whose network cannot take them) to the reader's and the stream's drops.
func (r *Reader) CountDropped(n int) {
	r.dropped.Add(int64(n))
	r.s.dropped.Add(int64(n))
}

// Sent adds n bytes to what the egress wrote for this reader (bitrate out).
func (r *Reader) Sent(n int) {
	r.sent.Add(int64(n))
	r.s.bytesOut.Add(int64(n))
}

// BytesSent is what the egress (and the stream's writers) sent to this
// player.
func (r *Reader) BytesSent() int64 { return r.sent.Load() }

// Done is closed when the reader is closed or its stream ended.
func (r *Reader) Done() <-chan struct{} { return r.done }

// Read waits until frames are queued and returns all of them, appended to
// buf[:0]: hand the slice from the previous Read back as buf, so that
// reading allocates nothing in the steady state. It returns io.EOF after the
// last frame of an ended stream, and ctx's error if ctx ends first.
//
// After SetDirect, an empty queue hands the reader to the stream's writers
// (see direct.go) and Read waits until they give it back. It may then
// return an empty batch with a nil error: the DirectWriter kept bytes it
// could not send, which the egress must write before anything else.
func (r *Reader) Read(ctx context.Context, buf []*Frame) ([]*Frame, error) {
	done := r.done
	for {
		r.mu.Lock()
		switch {
		case r.cut:
			r.mu.Unlock()
			return buf[:0], ErrClosed
		case r.direct:
			// Served by a writer; wait for it to hand back.
		case r.handback:
			r.handback = false
			r.mu.Unlock()
			return buf[:0], nil
		case len(r.q) > 0:
			out := r.q
			clear(buf[:cap(buf)]) // drop references to frames delivered last time
			r.q = buf[:0]
			r.qBytes = 0
			r.mu.Unlock()
			return out, nil
		case r.ended:
			r.mu.Unlock()
			return buf[:0], io.EOF
		case r.dw != nil:
			r.setDirectLocked(true)
		}
		r.mu.Unlock()
		select {
		case <-r.notify:
		case <-done:
			// Pick up anything queued before the end (or see the cut),
			// taking the reader back from the writers.
			done = nil
			r.mu.Lock()
			r.ended = true
			r.reclaimLocked()
			r.mu.Unlock()
		case <-ctx.Done():
			return buf[:0], ctx.Err()
		}
	}
}

// Pending reports whether frames are queued, without waiting: an egress can
// use it to merge a little more into one write.
func (r *Reader) Pending() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.q) > 0
}

// ErrClosed is returned by Read after Close: the player was cut (its
// viewer left or unsubscribed, or the egress gave up); unlike the end of
// the stream, queued frames are not delivered.
var ErrClosed = errors.New("media: player closed")

// Close detaches the reader from its stream and makes Read return ErrClosed
// without draining. It is safe to call more than once.
func (r *Reader) Close() {
	r.s.removeReader(r)
	r.mu.Lock()
	r.cut = true
	r.q = nil
	r.mu.Unlock()
	r.finish()
}

func (r *Reader) finish() {
	r.closeOnce.Do(func() { close(r.done) })
}

// push queues f; wake tells the reader's egress about it. It is called
// with the stream locked, for every frame.
func (r *Reader) push(f *Frame, lim *Limits) {
	r.mu.Lock()
	if r.skipping {
		switch {
		case f.Config:
			// Configs are never skipped: a decoder needs the current one.
		case f.Kind == Video && f.Key, f.Kind == Audio && !r.s.hasVideo():
			r.skipping = false
		default:
			if r.countSkip {
				r.dropped.Add(1)
				r.s.dropped.Add(1)
			}
			r.mu.Unlock()
			return
		}
	}
	if len(r.q) >= lim.ReaderQueueFrames || r.qBytes+len(f.Payload) > lim.ReaderQueueBytes {
		r.overflowLocked()
		if !f.Config && !(f.Kind == Video && f.Key) {
			r.dropped.Add(1)
			r.s.dropped.Add(1)
			r.mu.Unlock()
			return
		}
		if f.Kind == Video && f.Key {
			r.skipping = false // a config that overflowed keeps the skip
		}
	}
	r.q = append(r.q, f)
	r.qBytes += len(f.Payload)
	r.mu.Unlock()
}

// wake tells a waiting Read that frames are queued. The stream calls it
// after push, except for frames it holds back to coalesce (see
// Stream.wakeLocked).
func (r *Reader) wake() {
	select {
	case r.notify <- struct{}{}:
	default:
	}
}

// overflowLocked drops the queue except configuration records and starts
// skipping to the next keyframe.
func (r *Reader) overflowLocked() {
	kept := r.q[:0]
	var lost int64
	for _, f := range r.q {
		if f.Config {
			kept = append(kept, f)
		} else {
			lost++
		}
	}
	clear(r.q[len(kept):])
	r.q = kept
	r.qBytes = 0
	for _, f := range kept {
		r.qBytes += len(f.Payload)
	}
	r.dropped.Add(lost)
	r.s.dropped.Add(lost)
	r.skipping, r.countSkip = true, true
}

// end marks the stream over: Read drains the queue, then returns io.EOF.
func (r *Reader) end() {
	r.mu.Lock()
	r.ended = true
	r.mu.Unlock()
	r.finish()
}
