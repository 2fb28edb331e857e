package media

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// errCut is returned to a publisher that is no longer the stream's.
var errCut = errors.New("media: the push was closed by the server")

// ErrCut reports whether err means the server cut the push (unpublish, kick,
// leave, replaced by a newer pusher) rather than a protocol failure.
func ErrCut(err error) bool { return errors.Is(err, errCut) }

// Publisher is one push connection's handle on its stream. Only the
// connection's goroutine calls WriteFrame.
type Publisher struct {
	s      *Stream
	remote string
	tl     *Timeline

	done       chan struct{}
	onKeyframe func() // asks the encoder for a keyframe; nil if it cannot
	cutOnce    sync.Once
	lastAt     atomic.Int64 // unix nanos of the last frame
	noConfig   int          // frames dropped because their config had not come
}

// Key is the stream being pushed.
func (p *Publisher) Key() Key { return p.s.key }

// Done is closed when the server cuts the push: the connection must close.
func (p *Publisher) Done() <-chan struct{} { return p.done }

// Timeline is the session's timestamp mapper (its counters are for logs).
func (p *Publisher) Timeline() *Timeline { return p.tl }

// WriteFrame stamps f with the stream DTS for the publisher's 32-bit
// timestamp ts and hands it to the stream. f must not be modified afterwards.
// An error means the push must end: a Refusal for bad media, or ErrCut.
func (p *Publisher) WriteFrame(f *Frame, ts uint32) error {
	if len(f.Payload) > p.s.h.lim.MaxFrameBytes {
		return p.s.h.countRefusal(Refuse(ReasonBadMedia, fmt.Sprintf("a %s frame of %d bytes; the limit is %d", f.Kind, len(f.Payload), p.s.h.lim.MaxFrameBytes)))
	}
	if f.Kind != Video && f.Kind != Audio {
		return Refuse(ReasonBadMedia, "frame of unknown kind")
	}
	f.DTS = p.tl.Map(f.Kind, ts)
	p.touch(p.s.h.now())
	announce, info, conv, err := p.s.write(p, f)
	if err != nil {
		if !ErrCut(err) {
			p.s.h.countRefusal(err)
		}
		return err
	}
	if conv != nil {
		p.convert(conv, f)
	}
	if announce {
		p.s.announce(info)
	}
	return nil
}

// OnKeyframeRequest sets how to ask the publisher's encoder for a keyframe
// (WebRTC: a PLI), used when a new player finds no keyframe cached. Call it
// before the first WriteFrame.
func (p *Publisher) OnKeyframeRequest(fn func()) {
	p.s.mu.Lock()
	p.onKeyframe = fn
	p.s.mu.Unlock()
}

// Close is called when the push connection ended for any reason: the stream
// stays published for the grace, waiting for a reconnect.
func (p *Publisher) Close() {
	p.s.detach(p)
	p.cut()
}

// DroppedBeforeConfig is how many frames came before their codec config.
func (p *Publisher) DroppedBeforeConfig() int { return p.noConfig }

func (p *Publisher) cut() { p.cutOnce.Do(func() { close(p.done) }) }

func (p *Publisher) touch(t time.Time) { p.lastAt.Store(t.UnixNano()) }

func (p *Publisher) lastFrameAt() time.Time { return time.Unix(0, p.lastAt.Load()) }

// announce calls Hooks.Live when the info is new; called without locks.
func (s *Stream) announce(info Info) {
	s.mu.Lock()
	if s.announced != nil && s.announced.Equal(info) {
		s.mu.Unlock()
		return
	}
	s.announced = &info
	s.mu.Unlock()
	s.log.Info("media: stream live", "info", info.String())
	s.h.hooks.Live(s.key, s.owner, info)
}

// String is a compact description for logs.
func (i Info) String() string {
	out := ""
	if v := i.Video; v != nil {
		out = fmt.Sprintf("%s %dx%d@%g", v.Codec, v.Width, v.Height, v.FPS)
	}
	if a := i.Audio; a != nil {
		if out != "" {
			out += " + "
		}
		out += fmt.Sprintf("%s %dHz/%dch", a.Codec, a.SampleRate, a.Channels)
	}
	return out
}
