package client

import (
	"bytes"
	"encoding/json"
	"fmt"
	"runtime"
	"strconv"

	"github.com/minirtc/minirtc/pkg/protocol"
)

// Local events: produced by the client itself, with Seq 0, in order with the
// server's events.
const (
	// EvConnectionState reports a change of State; its data is a
	// StateChange.
	EvConnectionState = "connection_state"
	// EvRejoined reports that the session was lost and the client joined
	// again; its data is the new protocol.JoinResponse. Events of the new
	// session follow it. The application should rebuild its view of the
	// room from it, as after the first join.
	EvRejoined = "rejoined"
)

// Event is one event of the session: an event from the server (Seq ≥ 1, in
// order, each exactly once, across reconnects) or a local one (Seq 0:
// EvConnectionState, EvRejoined). After a rejoin the server's numbering
// starts again at 1.
type Event struct {
	Seq  uint64
	Name string
	Data json.RawMessage
}

// Decode unmarshals the event's data into v, e.g. a protocol.MessageEvent
// for a "message" event. An event without data leaves v unchanged.
func (e Event) Decode(v any) error {
	if len(e.Data) == 0 {
		return nil
	}
	if err := json.Unmarshal(e.Data, v); err != nil {
		return fmt.Errorf("client: decoding %s event: %w", e.Name, err)
	}
	return nil
}

// State is the connection state of a Client.
type State string

// Connection states.
const (
	// StateConnecting: Join is dialling and joining.
	StateConnecting State = "connecting"
	// StateConnected: the session is live; requests go out at once.
	StateConnected State = "connected"
	// StateReconnecting: the connection was lost; the client is trying to
	// resume (or rejoin). Requests wait.
	StateReconnecting State = "reconnecting"
	// StateDisconnected: final. The error says why, nil after Leave or
	// Close.
	StateDisconnected State = "disconnected"
)

// StateChange is the data of an EvConnectionState event.
type StateChange struct {
	State State `json:"state"`
	// Error is why the state was entered: the connection failure for
	// StateReconnecting, the final error for StateDisconnected.
	Error string `json:"error,omitempty"`
}

type stateNote struct {
	state State
	err   error
}

// seqVerdict is what to do with an incoming server event, judged by its
// sequence number against the last one delivered.
type seqVerdict int

const (
	seqDeliver    seqVerdict = iota // the next one: deliver it
	seqDuplicate                    // already delivered (a replay overlap): drop it
	seqGap                          // one or more missing: the connection is broken
	seqUnnumbered                   // seq 0: the server did not number it; deliver as is
)

func judgeSeq(last, seq uint64) seqVerdict {
	switch {
	case seq == 0:
		return seqUnnumbered
	case seq <= last:
		return seqDuplicate
	case seq == last+1:
		return seqDeliver
	default:
		return seqGap
	}
}

// handleEvent takes one event frame from cn. It reports false when the
// frame broke the connection (a sequence gap), so the reader stops.
func (c *Client) handleEvent(cn *conn, f protocol.Frame) bool {
	c.mu.Lock()
	switch judgeSeq(c.lastSeq, f.Seq) {
	case seqDuplicate:
		c.mu.Unlock()
		return true
	case seqGap:
		last := c.lastSeq
		c.mu.Unlock()
		// Nothing after a gap may be delivered: the resume asks the
		// server again for everything after last.
		c.log.Warn("minirtc client: event sequence gap; reconnecting", "last", last, "got", f.Seq, "event", f.Event)
		cn.fail(fmt.Errorf("%w: expected %d, got %d", errGap, last+1, f.Seq))
		return false
	case seqDeliver:
		c.lastSeq = f.Seq
	}
	switch f.Event {
	case protocol.EvKickedOff:
		// The server closes the connection next; remember not to come back.
		var ev protocol.KickedOffEvent
		_ = json.Unmarshal(f.Data, &ev) // a bad payload still means kicked
		reason := string(ev.Reason)
		if reason == "" {
			reason = "unknown reason"
		}
		c.setFinalLocked(fmt.Errorf("%w: %s", ErrKicked, reason))
	case protocol.EvRoomClosed:
		var ev protocol.RoomClosedEvent
		_ = json.Unmarshal(f.Data, &ev)
		err := ErrRoomClosed
		if ev.Reason != "" {
			err = fmt.Errorf("%w: %s", ErrRoomClosed, ev.Reason)
		}
		c.setFinalLocked(err)
	case protocol.EvForceMute:
		// Before delivery: a WebRTCPublication complies at once, whoever
		// reads the events.
		c.forceMuteLocked(f.Data)
	case protocol.EvWebRTCOffer:
		var ev protocol.WebRTCOfferEvent
		if json.Unmarshal(f.Data, &ev) == nil {
			c.handleOffer(ev)
		}
	case protocol.EvGoingAway:
		var ev protocol.GoingAwayEvent
		if json.Unmarshal(f.Data, &ev) == nil {
			c.goingAway = clampRetryAfter(ev.RetryAfterMs)
			c.goingAwaySet = true
		}
	}
	// Queued under c.mu: the order of the queue is the order of seq, and
	// local events pushed under the same lock fall in between correctly.
	c.evq.push(Event{Seq: f.Seq, Name: f.Event, Data: f.Data})
	c.mu.Unlock()
	return true
}

// setStateLocked records a state change and announces it, both as an event
// (in order with the others, since c.mu is held) and to Options.OnState.
// Repeating the current state announces nothing.
func (c *Client) setStateLocked(s State, err error) {
	if c.state == s {
		return
	}
	c.state = s
	c.stateErr = err
	sc := StateChange{State: s}
	if err != nil {
		sc.Error = err.Error()
	}
	data, _ := json.Marshal(sc) // cannot fail: two strings
	c.evq.push(Event{Name: EvConnectionState, Data: data})
	if c.stq != nil {
		c.stq.push(stateNote{state: s, err: err})
	}
}

// dispatch moves events from the unbounded queue to the Events channel. It
// ends when the queue is finished and drained (the client stopped by itself)
// or when Close is called (undelivered events are dropped), and then closes
// the channel.
func (c *Client) dispatch() {
	defer c.wg.Done()
	defer close(c.events)
	stop := c.ctx.Done()
	for {
		ev, ok := c.evq.next(stop)
		if !ok {
			return
		}
		select {
		case c.events <- ev:
		case <-stop:
			return
		}
	}
}

// notify calls Options.OnState for each state change, in order, on its own
// goroutine so that a slow callback delays neither the connection nor the
// events.
func (c *Client) notify() {
	defer close(c.notifyDone)
	c.notifier.Store(goroutineID())
	for {
		n, ok := c.stq.next(nil)
		if !ok {
			return
		}
		c.opts.OnState(n.state, n.err)
	}
}

// goroutineID returns the id of the calling goroutine, parsed from the
// header line of its stack trace ("goroutine 42 [running]:"), the format
// goleak and the runtime's own tracebacks rely on. Close uses it for one
// thing only: to tell whether it runs inside an OnState callback, where
// waiting for the callback's goroutine would deadlock.
func goroutineID() uint64 {
	var buf [64]byte
	b := buf[:runtime.Stack(buf[:], false)]
	b = bytes.TrimPrefix(b, []byte("goroutine "))
	if i := bytes.IndexByte(b, ' '); i > 0 {
		b = b[:i]
	}
	id, err := strconv.ParseUint(string(b), 10, 64)
	if err != nil {
		return 0
	}
	return id
}
