package media

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"sort"
	"sync"
	"time"

	"github.com/minirtc/minirtc/pkg/ids"
)

// Key names a stream: streams of different apps and rooms never meet.
type Key struct {
	App    ids.AppID
	Room   ids.RoomID
	Stream ids.StreamID
}

func (k Key) String() string { return string(k.App) + "/" + string(k.Room) + "/" + string(k.Stream) }

// Target is what a push or play request asks for, as the protocol received
// it: Path is "/{app}/{room}/{stream}" and Query holds the URL signature.
type Target struct {
	Path     string
	Query    url.Values
	Protocol Protocol
	Remote   string
	// Audio is the only audio codec a player takes (AAC for RTMP and FLV,
	// Opus for WebRTC); 0 takes the audio as published. A stream published
	// with the other codec is converted for it (rendition.go).
	Audio Codec
	// VideoCodecs, when not nil, are the video codecs a player takes; a
	// stream with another one is refused (ReasonCodec).
	VideoCodecs []Codec
}

// PushTicket is an admitted push.
type PushTicket struct {
	Key
	User         ids.UserID
	Video, Audio bool // what the publisher declared
}

// PlayTicket is an admitted play.
type PlayTicket struct {
	Key
	Viewer ids.UserID // "" for anonymous out-of-room viewers
}

// Admission decides who may push and play. The server implements it on top
// of signed URLs and the rooms; its errors should be Refusals.
type Admission interface {
	AdmitPush(ctx context.Context, t Target) (PushTicket, error)
	AdmitPlay(ctx context.Context, t Target) (PlayTicket, error)
}

// Hooks tell the rooms what the media plane saw. They are called without any
// hub lock held, from the publisher's goroutine or the grace timer.
type Hooks interface {
	// Live: media with codec info arrived (first time), or the info changed.
	Live(k Key, user ids.UserID, info Info)
	// Ended: the push stopped and did not come back within the grace.
	Ended(k Key, user ids.UserID)
}

// Hub holds every stream of the server.
type Hub struct {
	lim   Limits
	adm   Admission
	hooks Hooks
	log   *slog.Logger
	now   func() time.Time

	convert ConvertFunc

	mu      sync.Mutex
	streams map[Key]*Stream
	readers int
	closed  bool
	refused map[Reason]int64
}

// Options are the hub's collaborators.
type Options struct {
	Admission Admission
	Hooks     Hooks
	Logger    *slog.Logger
	Now       func() time.Time
	// Convert makes audio converters between AAC and Opus (internal/transcode);
	// without it, a player that needs the other audio codec is refused.
	Convert ConvertFunc
}

// NewHub makes an empty hub.
func NewHub(lim Limits, opts Options) (*Hub, error) {
	if err := lim.Validate(); err != nil {
		return nil, err
	}
	if opts.Admission == nil || opts.Hooks == nil {
		return nil, errors.New("media: NewHub needs Admission and Hooks")
	}
	h := &Hub{lim: lim.WithDefaults(), adm: opts.Admission, hooks: opts.Hooks, log: opts.Logger, now: opts.Now, convert: opts.Convert, streams: map[Key]*Stream{}}
	if h.log == nil {
		h.log = slog.Default()
	}
	if h.now == nil {
		h.now = time.Now
	}
	return h, nil
}

// Limits are the hub's effective limits.
func (h *Hub) Limits() Limits { return h.lim }

// StartPush admits a push and attaches a publisher to its stream: a new
// stream, one in its unpublish grace (a reconnect: same stream, timestamps
// continue), or one whose current pusher went quiet (it is cut).
func (h *Hub) StartPush(ctx context.Context, t Target) (*Publisher, error) {
	tk, err := h.adm.AdmitPush(ctx, t)
	if err != nil {
		return nil, h.countRefusal(err)
	}
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil, Refuse(ReasonUnavailable, "the server is shutting down")
	}
	s := h.streams[tk.Key]
	if s == nil {
		s = newStream(h, tk)
		h.streams[tk.Key] = s
	}
	h.mu.Unlock()
	p, err := s.attach(tk, t.Remote)
	if err != nil {
		return nil, h.countRefusal(err)
	}
	return p, nil
}

// StartPlay admits a play and attaches a reader that starts at the last
// keyframe.
func (h *Hub) StartPlay(ctx context.Context, t Target) (*Reader, error) {
	tk, err := h.adm.AdmitPlay(ctx, t)
	if err != nil {
		return nil, h.countRefusal(err)
	}
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil, Refuse(ReasonUnavailable, "the server is shutting down")
	}
	s := h.streams[tk.Key]
	if s == nil {
		h.mu.Unlock()
		return nil, h.countRefusal(Refuse(ReasonNotLive, fmt.Sprintf("stream %s is not live", tk.Stream)))
	}
	if h.readers >= h.lim.MaxReaders {
		h.mu.Unlock()
		return nil, h.countRefusal(Refuse(ReasonLimit, fmt.Sprintf("the server already has %d players, the limit", h.lim.MaxReaders)))
	}
	h.readers++
	h.mu.Unlock()
	r, needKey, err := s.addReader(tk, t)
	if err != nil {
		h.mu.Lock()
		h.readers--
		h.mu.Unlock()
		return nil, h.countRefusal(err)
	}
	if needKey {
		s.RequestKeyframe()
	}
	return r, nil
}

// Close ends a stream because the room withdrew it (unpublish, leave, kick,
// room closed): its push connection is cut and its players get EOF. Hooks
// are not called: the room already knows.
func (h *Hub) Close(k Key) {
	h.mu.Lock()
	s := h.streams[k]
	h.mu.Unlock()
	if s != nil {
		s.end(false)
	}
}

// CloseViewer disconnects every player of stream k that user viewer opened
// (the viewer left the room or unsubscribed). An empty stream id means all
// streams of the room.
func (h *Hub) CloseViewer(k Key, viewer ids.UserID) {
	for _, s := range h.roomStreams(k.App, k.Room) {
		if k.Stream == "" || s.key.Stream == k.Stream {
			s.closeViewer(viewer)
		}
	}
}

func (h *Hub) roomStreams(app ids.AppID, room ids.RoomID) []*Stream {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []*Stream
	for k, s := range h.streams {
		if k.App == app && k.Room == room {
			out = append(out, s)
		}
	}
	return out
}

// Stats returns the stats of the given streams of a room (all when none are
// named), sorted by stream id. Only live streams have stats.
func (h *Hub) Stats(app ids.AppID, room ids.RoomID, only ...ids.StreamID) []Stats {
	var out []Stats
	for _, s := range h.roomStreams(app, room) {
		if len(only) > 0 && !containsStream(only, s.key.Stream) {
			continue
		}
		if st, ok := s.stats(); ok {
			out = append(out, st)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key.Stream < out[j].Key.Stream })
	return out
}

// AllStats returns the stats of every live stream (for /metrics).
func (h *Hub) AllStats() []Stats {
	h.mu.Lock()
	all := make([]*Stream, 0, len(h.streams))
	for _, s := range h.streams {
		all = append(all, s)
	}
	h.mu.Unlock()
	out := make([]Stats, 0, len(all))
	for _, s := range all {
		if st, ok := s.stats(); ok {
			out = append(out, st)
		}
	}
	return out
}

// Shutdown ends every stream, without hooks: the rooms are going away too.
func (h *Hub) Shutdown() {
	h.mu.Lock()
	h.closed = true
	all := make([]*Stream, 0, len(h.streams))
	for _, s := range h.streams {
		all = append(all, s)
	}
	h.mu.Unlock()
	for _, s := range all {
		s.end(false)
	}
}

// forget removes an ended stream.
func (h *Hub) forget(s *Stream) {
	h.mu.Lock()
	if h.streams[s.key] == s {
		delete(h.streams, s.key)
	}
	h.mu.Unlock()
}

func (h *Hub) readerGone() {
	h.mu.Lock()
	h.readers--
	h.mu.Unlock()
}

// CountRefusal counts a refusal an egress or ingest decided on its own (an
// unsupported codec) in minirtc_media_refused_total, and returns err.
func (h *Hub) CountRefusal(err error) error { return h.countRefusal(err) }

// countRefusal counts err by reason (for /metrics) and returns it.
func (h *Hub) countRefusal(err error) error {
	r := AsRefusal(err)
	h.mu.Lock()
	if h.refused == nil {
		h.refused = map[Reason]int64{}
	}
	h.refused[r.Reason]++
	h.mu.Unlock()
	return err
}

func (h *Hub) refusals() map[Reason]int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make(map[Reason]int64, len(h.refused))
	for k, v := range h.refused {
		out[k] = v
	}
	return out
}

func containsStream(list []ids.StreamID, s ids.StreamID) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
