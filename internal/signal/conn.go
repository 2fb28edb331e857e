package signal

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/minirtc/minirtc/internal/room"
	"github.com/minirtc/minirtc/pkg/protocol"
)

// maxEventsPerWake bounds how many events one writer pass takes, so a long
// backlog does not hold a big slice.
const maxEventsPerWake = 256

// conn is one WebSocket connection. Its read loop (the goroutine that
// called serve) runs requests one at a time, in order; its writer goroutine
// sends queued responses first, then the session's events, so a join or
// resume response always precedes the events that follow it.
type conn struct {
	h      *Handler
	ws     *websocket.Conn
	log    atomic.Pointer[slog.Logger] // gains session fields at join; read by several goroutines
	ctx    context.Context
	cancel context.CancelFunc
	wakeCh chan struct{}
	done   chan struct{} // closed when the writer has finished
	// watchdog closes the socket when one write takes longer than
	// WriteTimeout. One reusable timer instead of a context per frame:
	// per-frame contexts (and the AfterFunc the WebSocket library
	// registers for each cancellable one) were three quarters of the
	// server's garbage under message load, and the GC cycles they caused
	// were the p99 (docs/benchmarks.md §4).
	watchdog *time.Timer

	// Used by the read loop only.
	requests bucket
	messages bucket
	limited  int // consecutive rate-limited requests

	mu      sync.Mutex
	session *session
	out     [][]byte
	// busy is set while the read loop runs a request: a close requested
	// meanwhile (the request removed its own session: leave, close_room)
	// waits for the request's response to be queued.
	busy      bool
	closing   bool
	closeCode websocket.StatusCode
	closeMsg  string
}

func newConn(h *Handler, ws *websocket.Conn, log *slog.Logger) *conn {
	ctx, cancel := context.WithCancel(context.Background())
	now := h.now()
	c := &conn{
		h:        h,
		ws:       ws,
		ctx:      ctx,
		cancel:   cancel,
		wakeCh:   make(chan struct{}, 1),
		done:     make(chan struct{}),
		watchdog: time.AfterFunc(time.Hour, func() { _ = ws.CloseNow() }),
		requests: newBucket(h.cfg.RequestRate, h.cfg.RequestBurst, now),
		messages: newBucket(h.cfg.MessageRate, h.cfg.MessageBurst, now),
	}
	c.watchdog.Stop()
	c.log.Store(log)
	// Reads and writes use context.Background (see watchdog); cancelling
	// the connection's context unblocks them by closing the socket.
	context.AfterFunc(ctx, func() { _ = ws.CloseNow() })
	return c
}

func (c *conn) logger() *slog.Logger { return c.log.Load() }

func (c *conn) wake() {
	select {
	case c.wakeCh <- struct{}{}:
	default:
	}
}

// enqueue queues a response frame.
func (c *conn) enqueue(frame []byte) {
	c.mu.Lock()
	c.out = append(c.out, frame)
	c.mu.Unlock()
	c.wake()
}

// closeAfterFlush closes the connection with code once everything queued
// (responses and events) has been written.
func (c *conn) closeAfterFlush(code websocket.StatusCode, msg string) {
	c.mu.Lock()
	if !c.closing {
		c.closing, c.closeCode, c.closeMsg = true, code, msg
	}
	c.mu.Unlock()
	c.wake()
}

func (c *conn) currentSession() *session {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.session
}

func (c *conn) setSession(s *session) {
	c.mu.Lock()
	c.session = s
	c.mu.Unlock()
}

// serve runs the connection until it ends.
func (c *conn) serve() {
	go c.writeLoop()
	joinTimer := time.AfterFunc(c.h.cfg.JoinTimeout, func() {
		if c.currentSession() == nil {
			c.logger().Info("closing connection that did not join in time", "timeout", c.h.cfg.JoinTimeout)
			c.closeAfterFlush(websocket.StatusPolicyViolation, "join timeout")
		}
	})
	defer joinTimer.Stop()
	c.readLoop()
	c.cancel()
	<-c.done
	c.ws.CloseNow()
	if s := c.currentSession(); s != nil {
		s.detach(c)
	}
}

func (c *conn) readLoop() {
	buf := new(bytes.Buffer)
	for {
		typ, frame, err := c.readFrame(buf)
		if err != nil {
			c.logReadEnd(err)
			return
		}
		if !c.handleFrame(typ, frame) {
			return
		}
		if buf.Cap() > 64<<10 {
			buf = new(bytes.Buffer) // do not keep what one big frame grew
		}
	}
}

// readFrame reads one message into buf, reusing its memory: nothing keeps a
// reference to a frame once it has been handled (decoding copies).
func (c *conn) readFrame(buf *bytes.Buffer) (websocket.MessageType, []byte, error) {
	typ, r, err := c.ws.Reader(context.Background())
	if err != nil {
		return 0, nil, err
	}
	buf.Reset()
	if _, err := buf.ReadFrom(r); err != nil {
		return 0, nil, err
	}
	return typ, buf.Bytes(), nil
}

// handleFrame applies the rate limit, decodes and runs one request. It
// returns false when the connection must end.
func (c *conn) handleFrame(typ websocket.MessageType, frame []byte) bool {
	now := c.h.now()
	if s := c.currentSession(); s != nil {
		s.touch(now)
	}
	if typ != websocket.MessageText {
		c.reply("", nil, protocol.Errorf(protocol.CodeMalformed, "binary frames are not part of the protocol; send JSON text"))
		return true
	}
	if !c.requests.take(now) {
		c.limited++
		if c.limited > 4*c.h.cfg.RequestBurst {
			c.logger().Warn("closing connection that keeps exceeding the request rate")
			_ = c.ws.Close(websocket.StatusPolicyViolation, "rate limit exceeded")
			return false
		}
		req, _ := protocol.DecodeRequest(frame)
		c.reply(req.ID, nil, protocol.Errorf(protocol.CodeRateLimited, "more than %g requests per second", c.h.cfg.RequestRate))
		return true
	}
	c.limited = 0
	req, perr := protocol.DecodeRequest(frame)
	if perr != nil {
		c.reply(req.ID, nil, perr)
		return true
	}
	c.setBusy(true)
	c.dispatch(req)
	c.setBusy(false)
	return true
}

func (c *conn) setBusy(b bool) {
	c.mu.Lock()
	c.busy = b
	c.mu.Unlock()
	if !b {
		c.wake()
	}
}

func (c *conn) logReadEnd(err error) {
	switch {
	case websocket.CloseStatus(err) == websocket.StatusNormalClosure, websocket.CloseStatus(err) == websocket.StatusGoingAway:
		c.logger().Debug("connection closed by client")
	case errors.Is(err, context.Canceled):
		c.logger().Debug("connection closed by server")
	default:
		c.logger().Debug("connection ended", "err", err)
	}
}

// reply sends a response that no session caches (before join, or for
// frames that could not be read as a request).
func (c *conn) reply(id string, data any, err *protocol.Error) {
	c.enqueue(c.h.encodeResponse(id, data, err))
}

func (c *conn) writeLoop() {
	defer close(c.done)
	for {
		select {
		case <-c.wakeCh:
		case <-c.ctx.Done():
			return
		}
		for {
			wrote, err := c.writePending()
			if err != nil {
				c.logger().Debug("write failed; dropping connection", "err", err)
				c.cancel()
				return
			}
			if wrote {
				continue
			}
			if code, msg, ok := c.readyToClose(); ok {
				// Close does the WebSocket close handshake; the read loop
				// sees the peer's close frame and ends.
				_ = c.ws.Close(code, msg)
				c.cancel()
				return
			}
			break
		}
	}
}

// writePending writes queued responses, then pending events. It reports
// whether it wrote anything.
func (c *conn) writePending() (bool, error) {
	c.mu.Lock()
	out := c.out
	c.out = nil
	s := c.session
	c.mu.Unlock()
	for _, frame := range out {
		if err := c.write(frame); err != nil {
			return true, err
		}
	}
	if s == nil {
		return len(out) > 0, nil
	}
	events, seq := s.pendingEvents(c, maxEventsPerWake)
	if len(events) == 0 {
		return len(out) > 0, nil
	}
	buf := getBuf()
	defer putBuf(buf)
	for i, ev := range events {
		*buf = protocol.AppendEvent((*buf)[:0], seq+uint64(i), ev.Name, ev.Encoded())
		if err := c.write(*buf); err != nil {
			return true, err
		}
	}
	c.h.metrics.Events.Add(float64(len(events)))
	return true, nil
}

func (c *conn) write(frame []byte) error {
	c.watchdog.Reset(c.h.cfg.WriteTimeout)
	err := c.ws.Write(context.Background(), websocket.MessageText, frame)
	c.watchdog.Stop()
	return err
}

// readyToClose reports whether a requested close may happen now: nothing is
// left to write and no join/resume response is still to come.
func (c *conn) readyToClose() (websocket.StatusCode, string, bool) {
	c.mu.Lock()
	closing, code, msg, s, queued, busy := c.closing, c.closeCode, c.closeMsg, c.session, len(c.out), c.busy
	c.mu.Unlock()
	if !closing || busy || queued > 0 || (s != nil && !s.idle(c)) {
		return 0, "", false
	}
	return code, msg, true
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

func getBuf() *[]byte { return bufPool.Get().(*[]byte) }

func putBuf(b *[]byte) {
	if cap(*b) <= 64<<10 {
		bufPool.Put(b)
	}
}

// sessionEvent builds an event that comes from the server rather than the
// room (server_going_away).
func sessionEvent(name string, data any) *room.Event {
	return &room.Event{Name: name, Data: data}
}
