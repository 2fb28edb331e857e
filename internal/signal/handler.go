package signal

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base32"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/minirtc/minirtc/internal/auth"
	"github.com/minirtc/minirtc/internal/metrics"
	"github.com/minirtc/minirtc/internal/room"
	"github.com/minirtc/minirtc/internal/store"
	"github.com/minirtc/minirtc/pkg/ids"
	"github.com/minirtc/minirtc/pkg/protocol"
)

// TokenVerifier checks join tokens (auth.Verifier in a server).
type TokenVerifier interface {
	Verify(ctx context.Context, token string) (auth.Claims, error)
}

// ReportStore keeps client reports (the store in a server).
type ReportStore interface {
	AddReport(ctx context.Context, r store.Report) (int64, error)
}

// MediaURLs signs media URLs and reports stream stats (the media plane, in a
// server). Without it, publish and subscribe return no URLs and
// get_stream_stats returns nothing.
type MediaURLs interface {
	PushURL(ctx context.Context, app ids.AppID, room ids.RoomID, stream ids.StreamID, user ids.UserID) (url string, expires time.Time, err error)
	PlayURLs(ctx context.Context, app ids.AppID, room ids.RoomID, stream ids.StreamID, viewer ids.UserID) (protocol.PlayURLs, error)
	StreamStats(app ids.AppID, room ids.RoomID, streams []ids.StreamID) []protocol.StreamStats
	// CheckPlayURLs refuses (3011) streams that RTMP and FLV cannot carry
	// (VP8 from a WebRTC publisher).
	CheckPlayURLs(app ids.AppID, room ids.RoomID, streams []ids.StreamID) error
}

// Deps are the Handler's collaborators. Logger, Now and Media are optional.
type Deps struct {
	Rooms   *room.Manager
	Tokens  TokenVerifier
	Reports ReportStore
	Media   MediaURLs
	WebRTC  WebRTC // optional
	Metrics *metrics.Metrics
	Logger  *slog.Logger
	Now     func() time.Time
}

// Handler serves the signalling WebSocket. Mount it at /ws.
type Handler struct {
	cfg     Config
	rooms   *room.Manager
	tokens  TokenVerifier
	reports ReportStore
	media   MediaURLs
	webrtc  WebRTC
	metrics *metrics.Metrics
	log     *slog.Logger
	now     func() time.Time

	mu       sync.Mutex
	sessions map[ids.SessionID]*session
	conns    map[*conn]struct{}
	closing  bool
	connWG   sync.WaitGroup

	stopReaper chan struct{}
	reaperDone chan struct{}
}

// New creates a Handler and starts its session reaper; Shutdown stops it.
func New(cfg Config, d Deps) (*Handler, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validateRest(); err != nil {
		return nil, err
	}
	h := &Handler{
		cfg:        cfg,
		rooms:      d.Rooms,
		tokens:     d.Tokens,
		reports:    d.Reports,
		media:      d.Media,
		webrtc:     d.WebRTC,
		metrics:    d.Metrics,
		log:        d.Logger,
		now:        d.Now,
		sessions:   make(map[ids.SessionID]*session),
		conns:      make(map[*conn]struct{}),
		stopReaper: make(chan struct{}),
		reaperDone: make(chan struct{}),
	}
	if h.log == nil {
		h.log = slog.Default()
	}
	if h.now == nil {
		h.now = time.Now
	}
	go h.reap()
	return h, nil
}

// Config returns the configuration in force (defaults filled in).
func (h *Handler) Config() Config { return h.cfg }

// ServeHTTP upgrades the request to a WebSocket and serves it until it ends.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	switch {
	case h.closing:
		h.mu.Unlock()
		http.Error(w, `{"code":5002,"msg":"server going away"}`, http.StatusServiceUnavailable)
		return
	case h.cfg.MaxConnections > 0 && len(h.conns) >= h.cfg.MaxConnections:
		h.mu.Unlock()
		h.log.Warn("refusing connection: connection limit reached", "limit", h.cfg.MaxConnections, "remote", r.RemoteAddr)
		http.Error(w, `{"code":5001,"msg":"internal error: connection limit reached"}`, http.StatusServiceUnavailable)
		return
	}
	h.connWG.Add(1)
	h.mu.Unlock()
	defer h.connWG.Done()

	ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{
		Subprotocols:    []string{protocol.Subprotocol},
		OriginPatterns:  h.cfg.AllowedOrigins,
		CompressionMode: websocket.CompressionDisabled,
	})
	if err != nil {
		h.log.Debug("websocket upgrade failed", "remote", r.RemoteAddr, "err", err)
		return // Accept has answered the request
	}
	ws.SetReadLimit(protocol.HardFrameBytes)
	c := newConn(h, ws, h.log.With("remote", r.RemoteAddr))
	h.mu.Lock()
	h.conns[c] = struct{}{}
	h.mu.Unlock()
	h.metrics.Connections.Inc()
	defer func() {
		h.mu.Lock()
		delete(h.conns, c)
		h.mu.Unlock()
		h.metrics.Connections.Dec()
	}()
	c.serve()
}

// register makes a joined session findable for resume.
func (h *Handler) register(s *session) {
	h.mu.Lock()
	h.sessions[s.id] = s
	h.mu.Unlock()
	h.metrics.Sessions.Inc()
}

// sessionRemoved forgets a session the room has removed.
func (h *Handler) sessionRemoved(s *session) {
	h.mu.Lock()
	_, ok := h.sessions[s.id]
	delete(h.sessions, s.id)
	h.mu.Unlock()
	if ok {
		h.metrics.Sessions.Dec()
	}
	if h.webrtc != nil {
		h.webrtc.SessionEnded(s.id)
	}
}

// lookup finds a session by resume token.
func (h *Handler) lookup(token string) *session {
	id, secret, ok := strings.Cut(token, ".")
	if !ok {
		return nil
	}
	h.mu.Lock()
	s := h.sessions[ids.SessionID(id)]
	h.mu.Unlock()
	if s == nil || subtle.ConstantTimeCompare([]byte(secret), []byte(s.secret)) != 1 {
		return nil
	}
	return s
}

// reap removes sessions that stayed silent for the session timeout.
func (h *Handler) reap() {
	defer close(h.reaperDone)
	every := min(time.Second, h.cfg.SessionTimeout/4)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-h.stopReaper:
			return
		case <-t.C:
		}
		now := h.now()
		h.mu.Lock()
		var expired, gone []*session
		for _, s := range h.sessions {
			if s.silentFor(now) > h.cfg.SessionTimeout {
				expired = append(expired, s)
			}
		}
		h.mu.Unlock()
		for _, s := range expired {
			h.expire(s, "no ping within the session timeout")
		}
		h.mu.Lock()
		for _, s := range h.sessions {
			if s.isRemoved() {
				gone = append(gone, s)
			}
		}
		h.mu.Unlock()
		for _, s := range gone {
			h.sessionRemoved(s)
		}
	}
}

// expire removes a session's member with reason timeout.
func (h *Handler) expire(s *session, why string) {
	m := s.memberOf()
	if m == nil || s.isRemoved() {
		return // not joined yet (an overflow during the join) or already out
	}
	h.log.Info("session expired", "session", s.id, "app", s.identity.App, "room", s.roomID, "user", s.identity.User, "why", why)
	h.metrics.Timeouts.Inc()
	m.Leave(protocol.ReasonTimeout)
}

// Shutdown tells every client the server is going away, closes their
// connections once that is written, and waits for them (until ctx ends).
func (h *Handler) Shutdown(ctx context.Context) error {
	h.mu.Lock()
	if h.closing {
		h.mu.Unlock()
		return nil
	}
	h.closing = true
	sessions := make([]*session, 0, len(h.sessions))
	for _, s := range h.sessions {
		sessions = append(sessions, s)
	}
	conns := make([]*conn, 0, len(h.conns))
	for c := range h.conns {
		conns = append(conns, c)
	}
	h.mu.Unlock()
	close(h.stopReaper)
	<-h.reaperDone

	bye := &protocol.GoingAwayEvent{Reason: "server shutting down", RetryAfterMs: 1000}
	for _, s := range sessions {
		s.Deliver(sessionEvent(protocol.EvGoingAway, bye))
	}
	for _, c := range conns {
		c.closeAfterFlush(websocket.StatusGoingAway, "server shutting down")
	}
	done := make(chan struct{})
	go func() { h.connWG.Wait(); close(done) }()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = ctx.Err()
		for _, c := range conns {
			c.cancel() // stop waiting for slow clients
		}
		<-done
	}
	h.rooms.Shutdown()
	return err
}

// encodeResponse builds a response frame and counts errors.
func (h *Handler) encodeResponse(id string, data any, perr *protocol.Error) []byte {
	r := protocol.Response{ID: id, Code: protocol.CodeOK, Msg: "ok"}
	if perr != nil {
		r.Code, r.Msg = perr.Code, perr.Msg
		h.metrics.Error(perr.Code)
	} else if data != nil {
		b, err := json.Marshal(data)
		if err != nil {
			h.log.Error("cannot encode response", "err", err)
			r.Code, r.Msg = protocol.CodeInternal, protocol.CodeInternal.String()
			h.metrics.Error(protocol.CodeInternal)
		}
		r.Data = b
	}
	b, _ := json.Marshal(r) // only strings, ints and valid raw JSON: cannot fail
	return b
}

var idEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// randomID returns prefix + n random bytes in lowercase base32.
func randomID(prefix string, n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails on supported platforms
	return prefix + idEncoding.EncodeToString(b)
}
