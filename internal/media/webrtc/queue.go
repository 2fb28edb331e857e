package webrtc

import "sync"

// maxQueuedEvents bounds a peer's undelivered callbacks; past it events are
// dropped (a callback that blocks must not make the peer hold memory).
const maxQueuedEvents = 1024

// events runs a peer's user callbacks one at a time, in order, on a
// goroutine of their own. Pion calls its handlers from its internal
// goroutines, some of which Close waits for; running user code there would
// deadlock a callback that closes the peer, and would let state changes
// arrive out of order (pion starts a goroutine per state change).
type events struct {
	mu     sync.Mutex
	queue  []func()
	closed bool
	wake   chan struct{}
	exited chan struct{}
}

func newEvents() *events {
	return &events{wake: make(chan struct{}, 1), exited: make(chan struct{})}
}

// push queues f; false when the queue is closed or full.
func (e *events) push(f func()) bool {
	e.mu.Lock()
	if e.closed || len(e.queue) >= maxQueuedEvents {
		e.mu.Unlock()
		return false
	}
	e.queue = append(e.queue, f)
	e.mu.Unlock()
	select {
	case e.wake <- struct{}{}:
	default:
	}
	return true
}

// close lets run deliver what is queued and return; push fails after it.
func (e *events) close() {
	e.mu.Lock()
	e.closed = true
	e.mu.Unlock()
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

func (e *events) run() {
	defer close(e.exited)
	for {
		e.mu.Lock()
		q, closed := e.queue, e.closed
		e.queue = nil
		e.mu.Unlock()
		for _, f := range q {
			f()
		}
		if closed && len(q) == 0 {
			return
		}
		if len(q) == 0 {
			<-e.wake
		}
	}
}

// tasks counts the goroutines a peer must outlive (track readers, RTCP
// readers). Pion starts OnTrack handlers on goroutines it does not wait for,
// so the peer counts them itself; once closing, no new task starts.
type tasks struct {
	mu      sync.Mutex
	n       int
	closing bool
	idle    chan struct{}
}

// enter registers a running task; false once the peer is closing.
func (t *tasks) enter() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closing {
		return false
	}
	t.n++
	return true
}

func (t *tasks) leave() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.n--
	if t.n == 0 && t.idle != nil {
		close(t.idle)
		t.idle = nil
	}
}

// goTask runs f on a new goroutine as a task; false once closing.
func (t *tasks) goTask(f func()) bool {
	if !t.enter() {
		return false
	}
	go func() {
		defer t.leave()
		f()
	}()
	return true
}

// closeAndWait stops new tasks and waits for the running ones.
func (t *tasks) closeAndWait() {
	t.mu.Lock()
	t.closing = true
	if t.n == 0 {
		t.mu.Unlock()
		return
	}
	idle := make(chan struct{})
	t.idle = idle
	t.mu.Unlock()
	<-idle
}
