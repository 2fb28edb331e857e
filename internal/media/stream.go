package media

import (
	"bytes"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/minirtc/minirtc/pkg/ids"
)

// Stream is one published stream: its current publisher (if any), codec
// configs, GOP cache and readers.
type Stream struct {
	h     *Hub
	key   Key
	owner ids.UserID
	log   *slog.Logger

	mu        sync.Mutex
	want      struct{ video, audio bool }
	pub       *Publisher
	grace     *time.Timer
	ended     bool
	live      bool
	info      Info
	announced *Info // what Hooks.Live last heard
	vcfg      *Frame
	acfg      *Frame
	sawKey    bool
	firstAt   time.Time
	lastDTS   int64 // newest DTS delivered, -1 before any
	gop       []*Frame
	gopBytes  int
	gopValid  bool
	readers   []*Reader // a slice: the fan-out walks it for every frame
	perProto  map[Protocol]int
	rate      rateWindow
	held      int           // frames queued to the readers without waking them
	flush     *time.Timer   // wakes the readers when held frames are due
	videoAt   time.Time     // when the last video frame arrived (coalescing)
	videoGap  time.Duration // the interval before it
	groups    []*writerGroup
	writers   sync.WaitGroup // the groups' goroutines
	alt       *rendition     // converted audio while readers need it (rendition.go)

	keyframeAskedAt time.Time // last keyframe request to the publisher

	dropped  atomic.Int64
	bytesIn  atomic.Int64
	bytesOut atomic.Int64
}

func newStream(h *Hub, tk PushTicket) *Stream {
	s := &Stream{h: h, key: tk.Key, owner: tk.User, lastDTS: -1, perProto: map[Protocol]int{}}
	s.want.video, s.want.audio = tk.Video, tk.Audio
	s.log = h.log.With("app", tk.App, "room", tk.Room, "stream", tk.Stream)
	return s
}

// hasVideo reports whether the stream carries video (a reader of an
// audio-only stream resumes on any frame). Called with s.mu held.
func (s *Stream) hasVideo() bool { return s.vcfg != nil }

// attach makes p the stream's publisher.
func (s *Stream) attach(tk PushTicket, remote string) (*Publisher, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended {
		return nil, Refuse(ReasonNotPublished, fmt.Sprintf("stream %s just ended; publish again", s.key.Stream))
	}
	if tk.User != s.owner {
		return nil, Refuse(ReasonBusy, fmt.Sprintf("stream %s belongs to %s", s.key.Stream, s.owner))
	}
	now := s.h.now()
	if old := s.pub; old != nil {
		if quiet := now.Sub(old.lastFrameAt()); quiet < s.h.lim.StaleAfter {
			return nil, Refuse(ReasonBusy, fmt.Sprintf("stream %s is being pushed from %s; one pusher per stream", s.key.Stream, old.remote))
		}
		s.log.Info("media: replacing a quiet pusher", "old_remote", old.remote, "new_remote", remote)
		old.cut()
	}
	if s.grace != nil {
		s.grace.Stop()
		s.grace = nil
		s.log.Info("media: pusher reconnected within the grace", "remote", remote)
	}
	s.want.video, s.want.audio = tk.Video, tk.Audio
	p := &Publisher{s: s, remote: remote, tl: NewTimeline(s.lastDTS), done: make(chan struct{})}
	p.touch(now)
	s.pub = p
	return p, nil
}

// detach is called when p's connection ends: the stream waits for the grace
// before it is over.
func (s *Stream) detach(p *Publisher) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pub != p || s.ended {
		return
	}
	s.pub = nil
	var t *time.Timer
	t = time.AfterFunc(s.h.lim.UnpublishGrace, func() {
		s.mu.Lock()
		// A reconnect that came and went again started a newer timer.
		stale := s.pub != nil || s.ended || s.grace != t
		s.mu.Unlock()
		if !stale {
			s.log.Info("media: push did not resume within the grace; stream ends", "grace", s.h.lim.UnpublishGrace)
			s.end(true)
		}
	})
	s.grace = t
}

// end finishes the stream: the publisher is cut, readers drain and get EOF.
// With notify, the rooms hear about it through Hooks.Ended.
func (s *Stream) end(notify bool) {
	s.mu.Lock()
	if s.ended {
		s.mu.Unlock()
		return
	}
	s.ended = true
	if s.grace != nil {
		s.grace.Stop()
		s.grace = nil
	}
	p := s.pub
	s.pub = nil
	readers := s.readers
	s.readers = nil
	s.perProto = map[Protocol]int{}
	s.gop = nil
	if s.flush != nil {
		s.flush.Stop()
	}
	for _, g := range s.groups {
		close(g.stop)
	}
	s.groups = nil
	s.stopRenditionLocked("the stream ended")
	s.mu.Unlock()
	s.writers.Wait()

	if p != nil {
		p.cut()
	}
	for _, r := range readers {
		r.end()
		s.h.readerGone()
	}
	s.h.forget(s)
	if notify {
		s.h.hooks.Ended(s.key, s.owner)
	}
}

// write takes one frame from the current publisher into the cache and every
// reader. It reports whether the stream just became live (or changed info),
// and the audio converter that must see f, if any.
func (s *Stream) write(p *Publisher, f *Frame) (announce bool, info Info, conv AudioConverter, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pub != p {
		return false, Info{}, nil, errCut
	}
	now := s.h.now()
	if s.firstAt.IsZero() {
		s.firstAt = now
	}
	if f.Config {
		old := s.acfg
		if err := s.setConfigLocked(f); err != nil {
			return false, Info{}, nil, err
		}
		if f.Kind == Audio && old != nil && !bytes.Equal(old.Payload, f.Payload) {
			defer s.restartRenditionLocked() // after f reached the readers
		}
	} else if (f.Kind == Video && s.vcfg == nil) || (f.Kind == Audio && s.acfg == nil) {
		p.noConfig++ // undecodable without its config: drop it
		return false, Info{}, nil, nil
	}
	if f.DTS > s.lastDTS {
		s.lastDTS = f.DTS
	}
	s.bytesIn.Add(int64(len(f.Payload)))
	s.cacheLocked(f)
	s.rate.add(now, f, s.bytesOut.Load())
	s.fanOutLocked(f)
	conv = s.converterFor(f)
	ready := (!s.want.video || (s.vcfg != nil && s.sawKey)) && (!s.want.audio || s.acfg != nil)
	if !ready && (s.vcfg != nil || s.acfg != nil) && now.Sub(s.firstAt) >= s.h.lim.LiveTimeout {
		ready = true // announce what we have: e.g. a pusher with its camera off
	}
	if ready && !s.live {
		s.live = true
		return true, s.info, conv, nil
	}
	if s.live && f.Config {
		return true, s.info, conv, nil // info may have changed; the hook compares
	}
	return false, Info{}, conv, nil
}

func (s *Stream) setConfigLocked(f *Frame) error {
	switch f.Kind {
	case Video:
		vi, err := ParseVideoConfig(f.Codec, f.Payload)
		if err != nil {
			return Refuse(ReasonBadMedia, err.Error())
		}
		s.info.Video = &vi
		if s.vcfg != nil && !bytes.Equal(s.vcfg.Payload, f.Payload) {
			s.gop, s.gopBytes, s.gopValid = nil, 0, false // the cached GOP needs the old config
		}
		s.vcfg = f
	case Audio:
		ai, err := ParseAudioConfig(f.Codec, f.Payload)
		if err != nil {
			return Refuse(ReasonBadMedia, err.Error())
		}
		s.info.Audio = &ai
		s.acfg = f
	}
	return nil
}

// cacheLocked keeps the frames since the last keyframe, within the limits.
func (s *Stream) cacheLocked(f *Frame) {
	if f.Config {
		return // configs are prepended to each new reader from vcfg/acfg
	}
	if f.Kind == Video {
		if f.Key {
			s.sawKey = true
			s.gop = append(s.gop[:0], f)
			clear(s.gop[1:cap(s.gop)])
			s.gopBytes = len(f.Payload)
			s.gopValid = true
			return
		}
	}
	if !s.gopValid {
		return
	}
	lim := &s.h.lim
	if len(s.gop) >= lim.GOPCacheFrames || s.gopBytes+len(f.Payload) > lim.GOPCacheBytes ||
		time.Duration(f.DTS-s.gop[0].DTS)*time.Millisecond > lim.GOPCacheDuration {
		s.gop, s.gopBytes, s.gopValid = nil, 0, false
		return
	}
	s.gop = append(s.gop, f)
	s.gopBytes += len(f.Payload)
}

// addReader attaches a reader that starts with the current configs and the
// cached GOP. needKey reports that no keyframe is cached: the reader waits
// for the next one, which the caller may ask the publisher for.
func (s *Stream) addReader(tk PlayTicket, t Target) (r *Reader, needKey bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended || !s.live {
		return nil, false, Refuse(ReasonNotLive, fmt.Sprintf("stream %s is not live", s.key.Stream))
	}
	if s.vcfg != nil && t.VideoCodecs != nil && !containsCodec(t.VideoCodecs, s.vcfg.Codec) {
		return nil, false, Refuse(ReasonCodec, fmt.Sprintf("stream %s has %s video, which %s players cannot take", s.key.Stream, s.vcfg.Codec, t.Protocol))
	}
	acfg, err := s.audioConfigForLocked(t.Audio)
	if err != nil {
		return nil, false, err
	}
	if acfg != nil && s.alt != nil && acfg == s.alt.cfg {
		s.alt.readers++
	}
	r = &Reader{s: s, proto: t.Protocol, viewer: tk.Viewer, remote: t.Remote, audio: t.Audio,
		notify: make(chan struct{}, 1), done: make(chan struct{})}
	start := s.lastDTS
	for i, f := range s.gop {
		if i == 0 || f.DTS < start {
			start = f.DTS // no frame of the GOP, of either kind, before the configs
		}
	}
	for _, c := range []*Frame{s.vcfg, acfg} {
		if c != nil {
			// Stamped at the GOP start: players derive timing from the
			// first tags, and a config from minutes ago would mislead them.
			if c.DTS != start {
				c = c.restamped(start)
			}
			r.q = append(r.q, c)
		}
	}
	switch {
	case s.vcfg != nil && s.gopValid:
		for _, f := range s.gop {
			if f.Kind == Audio && !s.wantsAudio(t.Audio, f) {
				continue
			}
			r.q = append(r.q, f)
		}
	case s.vcfg != nil:
		r.skipping = true // wait for the next keyframe; not a drop
		needKey = true
	}
	for _, f := range r.q {
		r.qBytes += len(f.Payload)
	}
	r.notify <- struct{}{}
	r.idx = len(s.readers)
	s.readers = append(s.readers, r)
	s.perProto[r.proto]++
	return r, needKey, nil
}

func containsCodec(list []Codec, c Codec) bool {
	for _, x := range list {
		if x == c {
			return true
		}
	}
	return false
}

func (s *Stream) removeReader(r *Reader) {
	s.mu.Lock()
	ok := r.idx >= 0 && r.idx < len(s.readers) && s.readers[r.idx] == r
	if ok {
		last := len(s.readers) - 1
		s.readers[r.idx] = s.readers[last]
		s.readers[r.idx].idx = r.idx
		s.readers[last] = nil
		s.readers = s.readers[:last]
		r.idx = -1
		s.perProto[r.proto]--
		if r.audio != 0 {
			s.releaseAudioLocked(r.audio)
		}
		r.mu.Lock()
		g := r.group
		r.mu.Unlock()
		if g != nil {
			g.remove(r)
		}
	}
	s.mu.Unlock()
	if ok {
		s.h.readerGone()
	}
}

func (s *Stream) closeViewer(viewer ids.UserID) {
	s.mu.Lock()
	var cut []*Reader
	for _, r := range s.readers {
		if r.viewer == viewer {
			cut = append(cut, r)
		}
	}
	s.mu.Unlock()
	for _, r := range cut {
		r.Close()
	}
}
