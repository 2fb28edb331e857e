package client

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/minirtc/minirtc/pkg/protocol"
)

const (
	// readLimit bounds one server frame. Responses and events are small,
	// but a join snapshot of a big room is not; the limit only protects
	// against a runaway peer.
	readLimit = 16 << 20
	// writeTimeout bounds one frame write. A write that takes longer means
	// the connection is as good as dead.
	writeTimeout = 10 * time.Second
	// minPingInterval keeps a nonsensical server value from spinning the
	// ping loop.
	minPingInterval = 10 * time.Millisecond
	// defaultPingInterval applies if the server did not say.
	defaultPingInterval = 10 * time.Second
)

// conn is one WebSocket connection carrying the session. The client has at
// most one at a time; a reconnect makes a new one. Its goroutines (reader,
// pinger, delayed re-sends) are tracked by wg and end when ctx is cancelled,
// which happens on the first failure from any side.
type conn struct {
	ws           *websocket.Conn
	ctx          context.Context
	cancel       context.CancelFunc
	wg           sync.WaitGroup
	pingInterval time.Duration
	lastRecv     atomic.Int64 // unix nanoseconds of the last frame read

	mu        sync.Mutex
	err       error                // the first failure
	closeCode websocket.StatusCode // close code the server sent, or -1
}

func newConn(ws *websocket.Conn, pingInterval time.Duration) *conn {
	ctx, cancel := context.WithCancel(context.Background())
	cn := &conn{ws: ws, ctx: ctx, cancel: cancel, pingInterval: pingInterval, closeCode: -1}
	cn.touch()
	return cn
}

func (cn *conn) touch() { cn.lastRecv.Store(time.Now().UnixNano()) }

func (cn *conn) silentFor() time.Duration {
	return time.Duration(time.Now().UnixNano() - cn.lastRecv.Load())
}

// fail ends the connection. The first error is kept as its cause.
func (cn *conn) fail(err error) {
	cn.mu.Lock()
	if cn.err == nil {
		cn.err = err
	}
	cn.mu.Unlock()
	cn.cancel()
	// CloseNow rather than Close: a close handshake can wait seconds on a
	// dead network, and whoever called fail has given up on this
	// connection anyway.
	_ = cn.ws.CloseNow()
}

// cause returns the close code the server sent (-1 if none) and the error
// that ended the connection.
func (cn *conn) cause() (websocket.StatusCode, error) {
	cn.mu.Lock()
	defer cn.mu.Unlock()
	return cn.closeCode, cn.err
}

// send writes one frame; a failure ends the connection (the reconnect will
// re-send what is pending).
func (cn *conn) send(frame []byte) error {
	ctx, cancel := context.WithTimeout(cn.ctx, writeTimeout)
	defer cancel()
	if err := cn.ws.Write(ctx, websocket.MessageText, frame); err != nil {
		err = fmt.Errorf("client: write: %w", err)
		cn.fail(err)
		return err
	}
	return nil
}

// dial opens a WebSocket to the server, offering the protocol's subprotocol.
func (c *Client) dial(ctx context.Context) (*websocket.Conn, error) {
	ws, _, err := websocket.Dial(ctx, c.url, &websocket.DialOptions{
		HTTPClient:   c.httpClient,
		Subprotocols: []string{protocol.Subprotocol},
	})
	if err != nil {
		return nil, fmt.Errorf("client: dial %s: %w", c.url, err)
	}
	ws.SetReadLimit(readLimit)
	return ws, nil
}

// handshake sends the first request of a connection (join or resume) and
// reads until its response, before any reader goroutine exists: what the
// response says (a new session, or where the resumed one stands) must be
// applied before the events that follow it are judged. Events that arrive
// before the response (the protocol does not send any, but a lenient client
// costs nothing here) are returned for processing in order afterwards.
// A refusal is returned as *protocol.Error.
func (c *Client) handshake(ctx context.Context, ws *websocket.Conn, op string, req, out any) ([]protocol.Frame, error) {
	num := c.nextID.Add(1)
	id := strconv.FormatUint(num, 10)
	frame, err := buildRequest(id, op, req)
	if err != nil {
		return nil, err
	}
	if err := ws.Write(ctx, websocket.MessageText, frame); err != nil {
		return nil, fmt.Errorf("client: %s: write: %w", op, err)
	}
	var early []protocol.Frame
	for {
		_, b, err := ws.Read(ctx)
		if err != nil {
			if code := websocket.CloseStatus(err); code != -1 {
				return nil, fmt.Errorf("client: %s: server closed the connection (code %d): %w", op, code, err)
			}
			return nil, fmt.Errorf("client: %s: read: %w", op, err)
		}
		f, err := protocol.DecodeFrame(b)
		if err != nil {
			return nil, fmt.Errorf("client: %s: %w", op, err)
		}
		if f.IsEvent() {
			if len(early) >= 1024 {
				return nil, fmt.Errorf("client: %s: no response after %d events", op, len(early))
			}
			early = append(early, f)
			continue
		}
		if f.ID != id {
			continue // not ours: nothing else is in flight on a new connection
		}
		cl := call{op: op, resp: f}
		if err := cl.result(out); err != nil {
			return nil, err
		}
		return early, nil
	}
}

// readLoop reads frames until the connection fails.
func (c *Client) readLoop(cn *conn) {
	defer cn.wg.Done()
	for {
		_, b, err := cn.ws.Read(cn.ctx)
		if err != nil {
			code := websocket.CloseStatus(err)
			cn.mu.Lock()
			cn.closeCode = code
			cn.mu.Unlock()
			if code != -1 {
				err = fmt.Errorf("client: server closed the connection (code %d): %w", code, err)
			} else {
				err = fmt.Errorf("client: read: %w", err)
			}
			cn.fail(err)
			return
		}
		cn.touch()
		f, err := protocol.DecodeFrame(b)
		if err != nil {
			// A frame we cannot parse may be the response someone waits
			// for; starting over with a resume is the only way to get
			// it again.
			c.log.Warn("minirtc client: bad frame from server; reconnecting", "err", err)
			cn.fail(fmt.Errorf("client: %w", err))
			return
		}
		if f.IsEvent() {
			if !c.handleEvent(cn, f) {
				return
			}
			continue
		}
		c.handleResponse(cn, f)
	}
}

// handleResponse completes the call the response answers. Responses to
// calls nobody waits for any more (pings of the ping loop, requests whose
// context ended) are dropped.
func (c *Client) handleResponse(cn *conn, f protocol.Frame) {
	c.mu.Lock()
	cl := c.pending[f.ID]
	if cl == nil {
		c.mu.Unlock()
		return
	}
	delete(c.pending, f.ID)
	if f.Code == protocol.CodeOK {
		// The server closes the connection next: that is the end, not
		// a failure to recover from. (The closer of a room may get no
		// room_closed event: it caused it.)
		switch cl.op {
		case protocol.OpLeave:
			c.setFinalLocked(nil)
		case protocol.OpCloseRoom:
			c.setFinalLocked(fmt.Errorf("%w: closed by this client", ErrRoomClosed))
		}
	}
	c.mu.Unlock()
	cl.complete(f, nil)
}

// pingLoop keeps the session alive and the connection honest: every ping
// interval it sends a ping acknowledging the events processed so far, and it
// declares the connection dead when nothing at all has arrived for two
// intervals (a live server answers every ping).
func (c *Client) pingLoop(cn *conn) {
	defer cn.wg.Done()
	t := time.NewTicker(cn.pingInterval)
	defer t.Stop()
	for {
		select {
		case <-cn.ctx.Done():
			return
		case <-t.C:
		}
		if silent := cn.silentFor(); silent > 2*cn.pingInterval {
			c.log.Warn("minirtc client: server silent; reconnecting", "silent", silent)
			cn.fail(errPingTimeout)
			return
		}
		// Acknowledge what is queued for the application, not what it
		// has read: the queue survives reconnects, so the server need
		// not keep those events for a resume.
		c.mu.Lock()
		last := c.lastSeq
		c.mu.Unlock()
		// Not registered as pending: the answer only matters as a sign
		// of life (any frame counts), and is dropped as unknown.
		id := strconv.FormatUint(c.nextID.Add(1), 10)
		frame, err := buildRequest(id, protocol.OpPing, protocol.PingRequest{LastSeq: last})
		if err != nil {
			continue // cannot happen: a fixed small frame
		}
		if cn.send(frame) != nil {
			return
		}
	}
}

func pingInterval(ms int64) time.Duration {
	if ms <= 0 {
		return defaultPingInterval
	}
	return max(time.Duration(ms)*time.Millisecond, minPingInterval)
}

// isProtocolError reports whether err is a refusal from the server with the
// given code.
func isProtocolError(err error, code protocol.Code) bool {
	var pe *protocol.Error
	return errors.As(err, &pe) && pe.Code == code
}
