package client

import "sync"

// queue is an unbounded FIFO with a single consumer. Producers (the
// connection reader, the reconnect loop) never block on it: a slow
// application must not stall reading the socket, or the server would see a
// dead client. The memory cost of an application that never drains Events is
// the application's to bear, as documented on Events.
type queue[T any] struct {
	mu       sync.Mutex
	items    []T
	head     int
	finished bool
	wake     chan struct{} // capacity 1: "something changed"
}

func newQueue[T any]() *queue[T] {
	return &queue[T]{wake: make(chan struct{}, 1)}
}

// push appends v. It reports false (and drops v) once the queue is finished.
func (q *queue[T]) push(v T) bool {
	q.mu.Lock()
	if q.finished {
		q.mu.Unlock()
		return false
	}
	q.items = append(q.items, v)
	q.mu.Unlock()
	q.signal()
	return true
}

// finish says no more items will come; next returns false once the queued
// ones are consumed.
func (q *queue[T]) finish() {
	q.mu.Lock()
	q.finished = true
	q.mu.Unlock()
	q.signal()
}

func (q *queue[T]) signal() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// next returns the oldest item, waiting for one. It returns false when the
// queue is finished and empty, or when stop is closed.
func (q *queue[T]) next(stop <-chan struct{}) (T, bool) {
	for {
		q.mu.Lock()
		if q.head < len(q.items) {
			v := q.items[q.head]
			var zero T
			q.items[q.head] = zero // let the consumed item be collected
			q.head++
			if q.head == len(q.items) {
				// Reuse the backing array: the common case is a
				// queue that is almost always empty.
				q.items = q.items[:0]
				q.head = 0
			}
			q.mu.Unlock()
			return v, true
		}
		done := q.finished
		q.mu.Unlock()
		if done {
			var zero T
			return zero, false
		}
		select {
		case <-q.wake:
		case <-stop:
			var zero T
			return zero, false
		}
	}
}

// len is the number of queued items (for tests).
func (q *queue[T]) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.items) - q.head
}
