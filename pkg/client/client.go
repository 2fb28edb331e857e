package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/minirtc/minirtc/pkg/ids"
	"github.com/minirtc/minirtc/pkg/protocol"
)

// Options tune a Client. The zero value (or nil) is fine.
type Options struct {
	// HTTPClient is used to dial the WebSocket (e.g. a custom TLS
	// configuration or a test transport). Default: a private client with
	// a clone of http.DefaultTransport.
	HTTPClient *http.Client
	// Logger receives the client's diagnostics (reconnects and their
	// causes). Default: discard.
	Logger *slog.Logger
	// DisableReconnect makes the first connection failure final: state
	// StateDisconnected with the failure as error. By default the client
	// reconnects and resumes (or rejoins) until Close.
	DisableReconnect bool
	// DialTimeout bounds one connection attempt: dialling plus the join or
	// resume exchange. Default 10 s.
	DialTimeout time.Duration
	// OnState, if set, is called with every change of connection state and
	// the error that caused it, in order, on a goroutine of its own (so a
	// slow callback delays neither the connection nor the events). The last
	// call reports StateDisconnected. Close and Leave wait for the
	// callbacks to finish, except when called from one. The same changes
	// are also delivered as EvConnectionState events.
	OnState func(State, error)
}

const (
	defaultDialTimeout = 10 * time.Second
	// leaveCloseWait bounds how long Leave waits for the server to close
	// the connection after answering leave, before closing it itself.
	leaveCloseWait = 2 * time.Second
)

// Client is a participant in one room. All methods are safe for concurrent
// use. Create it with Join; release it with Leave or Close.
type Client struct {
	url        string
	token      string // read under mu once the client runs
	room       ids.RoomID
	opts       Options
	log        *slog.Logger
	httpClient *http.Client
	ownHTTP    bool

	// ctx ends with Close; every goroutine of the client watches it.
	ctx       context.Context
	cancel    context.CancelFunc
	closeOnce sync.Once
	wg        sync.WaitGroup // supervisor and dispatcher

	events     chan Event
	evq        *queue[Event]
	rtc        rtcState          // WebRTC downlink (webrtc.go)
	stq        *queue[stateNote] // nil without OnState
	notifyDone chan struct{}     // closed when the OnState goroutine ends
	notifier   atomic.Uint64     // goroutine id of the OnState goroutine
	stopped    chan struct{}     // closed by shutdown

	nextID atomic.Uint64 // request ids; never reused, across connections and sessions

	mu       sync.Mutex
	state    State
	stateErr error
	conn     *conn            // the live connection; nil unless StateConnected
	pending  map[string]*call // requests waiting for a response, by id
	lastSeq  uint64           // last server event queued for delivery
	joined   protocol.JoinResponse
	resume   string // resume token of the current session
	// needRejoin: the session is known gone (resume refused); the next
	// connection joins instead of resuming.
	needRejoin bool
	// finalSet: the session ended for good (kicked, room closed, left);
	// when the connection goes, the client stops with final as its error.
	finalSet bool
	final    error
	// goingAway: the server announced a shutdown; reconnect after this.
	goingAwaySet bool
	goingAway    time.Duration
	// locks: what the app server keeps off on our WebRTC publications
	// (force_mute, forcemute.go), by stream id.
	locks map[ids.StreamID]*mediaLock
	// done: shutdown happened; requests fail with doneErr.
	done    bool
	doneErr error
}

// Join dials url (ws://host:port/ws or wss://...), joins room with token, and
// returns the live client. A refusal by the server (bad token, banned, room
// full...) is returned as *protocol.Error; no retry is made. ctx bounds only
// the joining, not the client's life.
func Join(ctx context.Context, url, token string, room ids.RoomID, opts *Options) (*Client, error) {
	c := newClient(url, token, room, opts)
	cn, err := c.firstJoin(ctx)
	if err != nil {
		c.cancel()
		c.shutdown(err)
		if c.notifyDone != nil {
			<-c.notifyDone
		}
		c.closeHTTP()
		return nil, err
	}
	c.wg.Add(2)
	go c.dispatch()
	go c.run(cn)
	return c, nil
}

func newClient(url, token string, room ids.RoomID, opts *Options) *Client {
	c := &Client{
		url:     url,
		token:   token,
		room:    room,
		events:  make(chan Event),
		evq:     newQueue[Event](),
		stopped: make(chan struct{}),
		pending: make(map[string]*call),
	}
	if opts != nil {
		c.opts = *opts
	}
	if c.opts.DialTimeout <= 0 {
		c.opts.DialTimeout = defaultDialTimeout
	}
	c.log = c.opts.Logger
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	c.httpClient = c.opts.HTTPClient
	if c.httpClient == nil {
		// A private transport, so that Close can release whatever it
		// keeps without touching the rest of the process.
		if t, ok := http.DefaultTransport.(*http.Transport); ok {
			c.httpClient = &http.Client{Transport: t.Clone()}
			c.ownHTTP = true
		} else {
			c.httpClient = &http.Client{}
		}
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	if c.opts.OnState != nil {
		c.stq = newQueue[stateNote]()
		c.notifyDone = make(chan struct{})
		go c.notify()
	}
	c.mu.Lock()
	c.setStateLocked(StateConnecting, nil)
	c.mu.Unlock()
	return c
}

func (c *Client) firstJoin(ctx context.Context) (*conn, error) {
	ctx, cancel := context.WithTimeout(ctx, c.opts.DialTimeout)
	defer cancel()
	ws, err := c.dial(ctx)
	if err != nil {
		return nil, err
	}
	var jr protocol.JoinResponse
	early, err := c.handshake(ctx, ws, protocol.OpJoin, protocol.JoinRequest{Token: c.token, Room: c.room}, &jr)
	if err != nil {
		_ = ws.CloseNow()
		return nil, err
	}
	return c.start(ws, early, nil, &jr, true), nil
}

// start makes ws the session's connection after a successful join (jr) or
// resume (rr): it applies the response, re-sends the pending requests and
// starts the reader and the ping loop.
func (c *Client) start(ws *websocket.Conn, early []protocol.Frame, rr *protocol.ResumeResponse, jr *protocol.JoinResponse, first bool) *conn {
	var cn *conn
	c.mu.Lock()
	if jr != nil {
		cn = newConn(ws, pingInterval(jr.PingIntervalMs))
		c.joined = *jr
		c.resume = jr.ResumeToken
		c.lastSeq = 0 // a new session numbers its events from 1
		c.needRejoin = false
		if !first {
			// Requests already handed to the old session may or may
			// not have run there; the new session must not run them
			// as if nothing happened. Those never sent can go to the
			// new session: the caller asked for them with no session
			// in particular in mind.
			for id, cl := range c.pending {
				if cl.sends > 0 {
					delete(c.pending, id)
					cl.complete(protocol.Frame{}, ErrSessionChanged)
				}
			}
			data, _ := json.Marshal(jr) // cannot fail: plain data
			c.evq.push(Event{Name: EvRejoined, Data: data})
		}
	} else {
		cn = newConn(ws, pingInterval(rr.PingIntervalMs))
	}
	resend := make([]*call, 0, len(c.pending))
	for _, cl := range c.pending {
		cl.sends++
		resend = append(resend, cl)
	}
	c.conn = cn
	c.setStateLocked(StateConnected, nil)
	c.mu.Unlock()

	for _, f := range early {
		if !c.handleEvent(cn, f) {
			break
		}
	}
	cn.wg.Add(2)
	go c.readLoop(cn)
	go c.pingLoop(cn)
	// Issue order, so that the server sees dependent requests (publish,
	// then mute) as the application made them.
	slices.SortFunc(resend, func(a, b *call) int { return cmpUint(a.num, b.num) })
	for _, cl := range resend {
		if cn.send(cl.frame) != nil {
			break // still pending: the next connection sends them
		}
	}
	return cn
}

func cmpUint(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// setFinalLocked records that the session is over for good; the first
// reason wins.
func (c *Client) setFinalLocked(err error) {
	if c.finalSet {
		return
	}
	c.finalSet, c.final = true, err
}

// shutdown stops the client for good: pending and future requests fail,
// the state becomes StateDisconnected with err, and the event and state
// queues are finished (so the dispatcher closes Events once drained).
func (c *Client) shutdown(err error) {
	reqErr := err
	if reqErr == nil {
		reqErr = ErrClosed
	}
	c.mu.Lock()
	if c.done {
		c.mu.Unlock()
		return
	}
	c.done, c.doneErr = true, reqErr
	c.conn = nil
	pending := c.pending
	c.pending = make(map[string]*call)
	c.setStateLocked(StateDisconnected, err)
	c.mu.Unlock()
	for _, cl := range pending {
		cl.complete(protocol.Frame{}, reqErr)
	}
	// Done before Events closes: whoever sees the end of the events
	// finds the client stopped.
	close(c.stopped)
	c.evq.finish()
	if c.stq != nil {
		c.stq.finish()
	}
}

// Joined returns the latest join snapshot: the room, its attributes and the
// participants with their streams when the client joined (or rejoined). It
// is not updated by events; keep a view of the room current by applying
// them. The result shares maps and slices with the client: do not modify.
func (c *Client) Joined() protocol.JoinResponse {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.joined
}

// SessionID returns the id of the current session (it changes on rejoin).
func (c *Client) SessionID() ids.SessionID {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.joined.SessionID
}

// State returns the connection state.
func (c *Client) State() State {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state
}

// Err returns the error that caused the current state: the last connection
// failure while reconnecting, the final error once disconnected (nil after
// Leave or Close).
func (c *Client) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stateErr
}

// Done is closed when the client has stopped for good (see State).
func (c *Client) Done() <-chan struct{} { return c.stopped }

// Events returns the session's events: the server's, each exactly once and
// in order across reconnects, interleaved with local ones (EvConnectionState,
// EvRejoined). Events are queued without bound so that a slow reader never
// holds up the connection: the application must drain the channel. The
// channel is closed after the client stops by itself (once every event is
// delivered) or when Close or Leave is called (undelivered events are
// dropped). The same channel is returned on every call.
func (c *Client) Events() <-chan Event { return c.events }

// Close closes the connection without leaving: the server keeps the session
// until it times out, as if the network had failed. Pending requests fail
// with ErrClosed, and all the client's goroutines have ended when Close
// returns. Close is idempotent; it returns nil.
func (c *Client) Close() error {
	c.closeOnce.Do(c.cancel)
	c.wg.Wait()
	// From inside an OnState callback, waiting for the goroutine running
	// it would never end; it ends right after the callback returns.
	if c.notifyDone != nil && goroutineID() != c.notifier.Load() {
		<-c.notifyDone
	}
	c.closeHTTP()
	return nil
}

func (c *Client) closeHTTP() {
	if c.ownHTTP {
		c.httpClient.CloseIdleConnections()
	}
}

// Leave leaves the room: it sends leave, waits for the answer (through
// reconnects, bounded by ctx) and closes the client. The server then tells
// the others at once, instead of after the session timeout as with Close.
func (c *Client) Leave(ctx context.Context) error {
	err := c.do(ctx, protocol.OpLeave, nil, nil)
	if errors.Is(err, ErrSessionChanged) {
		// The leave went to a session that is gone; leave the new one.
		err = c.do(ctx, protocol.OpLeave, nil, nil)
	}
	if err == nil {
		// The server closes the connection after answering; let it, so
		// that its side ends cleanly rather than by our abrupt close.
		t := time.NewTimer(leaveCloseWait)
		select {
		case <-c.stopped:
		case <-ctx.Done():
		case <-t.C:
		}
		t.Stop()
	}
	_ = c.Close()
	if err != nil {
		return fmt.Errorf("client: leave: %w", err)
	}
	return nil
}
