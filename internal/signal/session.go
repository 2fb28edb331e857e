package signal

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/minirtc/minirtc/internal/room"
	"github.com/minirtc/minirtc/pkg/ids"
	"github.com/minirtc/minirtc/pkg/protocol"
)

// WebSocket close codes the server uses besides the standard ones (1000
// normal, 1001 going away, 1008 policy, 1009 too big). Documented in
// docs/protocol.md.
const (
	closeKicked     websocket.StatusCode = 4001
	closeReplaced   websocket.StatusCode = 4002
	closeTimeout    websocket.StatusCode = 4003
	closeRoomClosed websocket.StatusCode = 4004
	closeResumed    websocket.StatusCode = 4005 // the session moved to a newer connection
)

// responseCacheSize is how many recent responses a session keeps so that a
// client re-sending a request after a resume gets the original answer
// instead of a second execution.
const responseCacheSize = 64

// session is one join: it outlives its connection for up to the session
// timeout so the client can resume, and it is the room member's Sink.
type session struct {
	h        *Handler
	id       ids.SessionID
	secret   string // second half of the resume token
	identity room.Identity
	roomID   ids.RoomID
	member   *room.Member // set once, before the session is registered (setMember)
	lastSeen atomic.Int64 // unix nanoseconds of the last frame from the client

	mu sync.Mutex
	// conn is the attached connection, nil while the client is away.
	conn *conn
	// events are the numbered events not yet acknowledged by the client:
	// events[i] has seq firstSeq+i. lastSeq is the newest seq assigned.
	events   []*room.Event
	firstSeq uint64
	lastSeq  uint64
	// sentSeq is the newest seq written to the attached connection.
	sentSeq uint64
	// hold keeps events back until a join/resume response has been queued.
	hold bool
	// removed: the room took the member out; no events follow, and the
	// connection closes with closeCode once everything is written.
	removed   bool
	closeCode websocket.StatusCode
	closeMsg  string
	// overflowed: a connected client fell ReplayEvents behind; the session
	// is expired rather than buffering without bound.
	overflowed bool
	respIDs    []string
	resp       map[string][]byte
	inflight   map[string]bool
}

func newSession(h *Handler, identity room.Identity, roomID ids.RoomID, c *conn) *session {
	s := &session{
		h:        h,
		id:       ids.SessionID(randomID("s", 12)),
		secret:   randomID("", 24),
		identity: identity,
		roomID:   roomID,
		conn:     c,
		firstSeq: 1,
		hold:     true,
		// resp and inflight are made on first use: most sessions of an
		// idle room never need them.
	}
	s.touch(h.now())
	return s
}

func (s *session) resumeToken() string { return string(s.id) + "." + s.secret }

func (s *session) touch(now time.Time) { s.lastSeen.Store(now.UnixNano()) }

func (s *session) silentFor(now time.Time) time.Duration {
	return now.Sub(time.Unix(0, s.lastSeen.Load()))
}

// Deliver numbers an event for this session and wakes the writer. It is
// called with the room's lock held: it only appends.
func (s *session) Deliver(ev *room.Event) {
	s.mu.Lock()
	if s.removed {
		s.mu.Unlock()
		return
	}
	switch d := ev.Data.(type) {
	case *protocol.KickedOffEvent:
		s.closeCode, s.closeMsg = closeCodeFor(d.Reason), string(d.Reason)
	case *protocol.RoomClosedEvent:
		s.closeCode, s.closeMsg = closeRoomClosed, "room closed"
	}
	s.lastSeq++
	s.events = append(s.events, ev)
	if len(s.events) > s.h.cfg.ReplayEvents {
		if s.firstSeq <= s.sentSeq {
			// The oldest event was sent; forgetting it only means a resume
			// from before it is no longer possible.
			s.events[0] = nil
			s.events = s.events[1:]
			s.firstSeq++
		} else if !s.overflowed {
			// The client has not even received that much: it is stuck.
			s.overflowed = true
			go s.h.expire(s, "replay buffer overflow")
		}
	}
	c := s.conn
	s.mu.Unlock()
	if c != nil {
		c.wake()
	}
}

func closeCodeFor(r protocol.LeaveReason) websocket.StatusCode {
	switch r {
	case protocol.ReasonKicked:
		return closeKicked
	case protocol.ReasonReplaced:
		return closeReplaced
	case protocol.ReasonTimeout:
		return closeTimeout
	}
	return websocket.StatusNormalClosure
}

// Removed is called by the room once the member is out.
func (s *session) Removed() {
	s.mu.Lock()
	s.removed = true
	if s.closeCode == 0 {
		s.closeCode, s.closeMsg = websocket.StatusNormalClosure, "left"
	}
	c := s.conn
	code, msg := s.closeCode, s.closeMsg
	s.mu.Unlock()
	if c != nil {
		c.closeAfterFlush(code, msg)
	}
	s.h.sessionRemoved(s)
}

// ack forgets events up to seq, which the client has processed.
func (s *session) ack(seq uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ackLocked(seq)
}

func (s *session) ackLocked(seq uint64) {
	if seq > s.lastSeq {
		seq = s.lastSeq
	}
	for s.firstSeq <= seq && len(s.events) > 0 {
		s.events[0] = nil
		s.events = s.events[1:]
		s.firstSeq++
	}
	if len(s.events) == 0 {
		s.events = nil // let the backing array go
	}
}

// release lets held events flow after the join/resume response was queued.
func (s *session) release() {
	s.mu.Lock()
	s.hold = false
	c := s.conn
	s.mu.Unlock()
	if c != nil {
		c.wake()
	}
}

// pendingEvents takes the events c has not been sent yet, at most max.
func (s *session) pendingEvents(c *conn, max int) ([]*room.Event, uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn != c || s.hold || s.sentSeq >= s.lastSeq {
		return nil, 0
	}
	from := s.sentSeq + 1
	if from < s.firstSeq {
		from = s.firstSeq // cannot happen while attached; be safe
	}
	n := int(s.lastSeq - from + 1)
	if n > max {
		n = max
	}
	start := int(from - s.firstSeq)
	out := make([]*room.Event, n)
	copy(out, s.events[start:start+n])
	s.sentSeq = from + uint64(n) - 1
	return out, from
}

// idle reports whether c has nothing left to send from this session.
func (s *session) idle(c *conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conn != c || (!s.hold && s.sentSeq >= s.lastSeq)
}

// begin marks a request id as being processed. It returns a cached response
// to send instead, or skip=true when the same id is being processed now
// (its response will go to whatever connection is attached when it ends).
func (s *session) begin(id string) (cached []byte, skip bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if b, ok := s.resp[id]; ok {
		return b, false
	}
	if s.inflight[id] {
		return nil, true
	}
	if s.inflight == nil {
		s.inflight = make(map[string]bool)
	}
	s.inflight[id] = true
	return nil, false
}

// abandon forgets a request begun but not run (refused before running).
func (s *session) abandon(id string) {
	s.mu.Lock()
	delete(s.inflight, id)
	s.mu.Unlock()
}

// respond caches a response and sends it on the attached connection (if
// any: a client that is away gets it by re-sending the request).
func (s *session) respond(id string, frame []byte) {
	s.mu.Lock()
	delete(s.inflight, id)
	if _, ok := s.resp[id]; !ok {
		if s.resp == nil {
			s.resp = make(map[string][]byte)
		}
		if len(s.respIDs) >= responseCacheSize {
			delete(s.resp, s.respIDs[0])
			s.respIDs = s.respIDs[1:]
		}
		s.respIDs = append(s.respIDs, id)
		s.resp[id] = frame
	}
	c := s.conn
	s.mu.Unlock()
	if c != nil {
		c.enqueue(frame)
	}
}

// attach moves the session to connection c for a resume from lastSeq.
// It fails when the events after lastSeq are no longer all kept.
func (s *session) attach(c *conn, lastSeq uint64) (old *conn, replayed int, err *protocol.Error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.removed:
		return nil, 0, protocol.Errorf(protocol.CodeResumeFailed, "the session has ended; join again")
	case s.overflowed:
		return nil, 0, protocol.Errorf(protocol.CodeResumeFailed, "the session fell too far behind; join again")
	case lastSeq > s.lastSeq:
		return nil, 0, protocol.Errorf(protocol.CodeResumeFailed, "last_seq %d is ahead of the session's last event %d", lastSeq, s.lastSeq)
	case lastSeq+1 < s.firstSeq:
		return nil, 0, protocol.Errorf(protocol.CodeResumeFailed,
			"events after %d are no longer kept (oldest kept is %d); join again", lastSeq, s.firstSeq)
	}
	old = s.conn
	s.conn = c
	s.hold = true
	s.ackLocked(lastSeq)
	s.sentSeq = lastSeq
	return old, int(s.lastSeq - lastSeq), nil
}

// detach is called when c ends; the session waits for a resume.
func (s *session) detach(c *conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn == c {
		s.conn = nil
	}
}

// setMember records the room member once the join succeeded. The read
// loop that joined uses s.member directly afterwards; other goroutines
// (the reaper, overflow handling) go through memberOf.
func (s *session) setMember(m *room.Member) {
	s.mu.Lock()
	s.member = m
	s.mu.Unlock()
}

func (s *session) memberOf() *room.Member {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.member
}

func (s *session) isRemoved() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.removed
}
