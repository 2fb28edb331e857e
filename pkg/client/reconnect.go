package client

import (
	"context"
	"math/rand/v2"
	"time"

	"github.com/minirtc/minirtc/pkg/protocol"
)

// Reconnect pacing.
const (
	backoffMin = 100 * time.Millisecond
	backoffMax = 5 * time.Second
	// maxRetryAfter caps the server's server_going_away hint, so that a
	// bogus value cannot park the client for hours.
	maxRetryAfter = 5 * time.Minute
)

// run is the supervisor: it owns the connection's life cycle. It waits for
// the current connection to end, decides whether that is the end of the
// client or a failure to recover from, and reconnects.
func (c *Client) run(cn *conn) {
	defer c.wg.Done()
	for {
		select {
		case <-cn.ctx.Done():
		case <-c.ctx.Done():
			cn.fail(ErrClosed)
		}
		// Wait for the reader to finish with the frames it has: the
		// events it queued define the seq a resume asks from.
		cn.wg.Wait()
		code, cause := cn.cause()

		c.mu.Lock()
		c.conn = nil
		finalSet, final := c.finalSet, c.final
		wait, goingAway := c.goingAway, c.goingAwaySet
		c.goingAwaySet = false
		c.mu.Unlock()

		switch {
		case c.ctx.Err() != nil:
			c.shutdown(nil)
			return
		case finalSet:
			c.shutdown(final)
			return
		}
		if err := terminalCloseError(code); err != nil {
			// The event announcing it got lost, but the close code
			// says the same.
			c.shutdown(err)
			return
		}
		if c.opts.DisableReconnect {
			c.shutdown(cause)
			return
		}
		c.log.Info("minirtc client: connection lost; reconnecting", "err", cause)
		c.mu.Lock()
		c.setStateLocked(StateReconnecting, cause)
		c.mu.Unlock()

		b := newBackoff()
		if !goingAway {
			wait = b.next()
		}
		if cn = c.reconnect(b, wait); cn == nil {
			return
		}
	}
}

// reconnect tries to connect after wait, then with backoff, until it
// succeeds (returning the new connection), the client is closed, or a rejoin
// is refused for good (both: shutdown, nil).
func (c *Client) reconnect(b *backoff, wait time.Duration) *conn {
	for {
		if !sleep(c.ctx, wait) {
			c.shutdown(nil)
			return nil
		}
		cn, err := c.connect(c.ctx)
		if err == nil {
			return cn
		}
		if c.ctx.Err() != nil {
			c.shutdown(nil)
			return nil
		}
		if fatalJoinError(err) {
			c.log.Warn("minirtc client: rejoin refused; giving up", "err", err)
			c.shutdown(err)
			return nil
		}
		c.mu.Lock()
		c.stateErr = err // the latest reason, for Err()
		c.mu.Unlock()
		wait = b.next()
		c.log.Info("minirtc client: reconnect failed", "err", err, "retry_in", wait)
	}
}

// connect makes one connection attempt: dial, then resume the session, or
// join again if the session is gone.
func (c *Client) connect(ctx context.Context) (*conn, error) {
	ctx, cancel := context.WithTimeout(ctx, c.opts.DialTimeout)
	defer cancel()
	ws, err := c.dial(ctx)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	rejoin, resume, last, token := c.needRejoin, c.resume, c.lastSeq, c.token
	c.mu.Unlock()

	if !rejoin {
		var rr protocol.ResumeResponse
		early, err := c.handshake(ctx, ws, protocol.OpResume, protocol.ResumeRequest{ResumeToken: resume, LastSeq: last}, &rr)
		if err == nil {
			c.log.Info("minirtc client: session resumed", "last_seq", last, "replayed", rr.Replayed)
			return c.start(ws, early, &rr, nil, false), nil
		}
		if !isProtocolError(err, protocol.CodeResumeFailed) {
			_ = ws.CloseNow()
			return nil, err
		}
		// Expired, or the server restarted. The failed resume left the
		// connection without a session, so join on it; should that not
		// work, the next attempt joins on a fresh one.
		c.log.Info("minirtc client: resume refused; joining again", "err", err)
		c.mu.Lock()
		c.needRejoin = true
		c.mu.Unlock()
	}
	var jr protocol.JoinResponse
	early, err := c.handshake(ctx, ws, protocol.OpJoin, protocol.JoinRequest{Token: token, Room: c.room}, &jr)
	if err != nil {
		_ = ws.CloseNow()
		return nil, err
	}
	c.log.Info("minirtc client: joined again", "session", jr.SessionID)
	return c.start(ws, early, nil, &jr, false), nil
}

// sleep waits d or until ctx ends; it reports whether the full wait passed.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// backoff yields reconnect delays: backoffMin doubling up to backoffMax,
// each drawn uniformly from its upper half, so that clients dropped
// together (a server restart) do not come back in lockstep.
type backoff struct {
	n    int
	rand func() float64 // [0,1); replaceable in tests
}

func newBackoff() *backoff { return &backoff{rand: rand.Float64} }

func (b *backoff) next() time.Duration {
	d := backoffMax
	if b.n < 16 { // beyond that the shift would only overflow towards the cap
		d = min(backoffMin<<b.n, backoffMax)
	}
	b.n++
	return d/2 + time.Duration(b.rand()*float64(d/2))
}

func clampRetryAfter(ms int64) time.Duration {
	if ms <= 0 {
		return 0
	}
	return min(time.Duration(ms)*time.Millisecond, maxRetryAfter)
}
