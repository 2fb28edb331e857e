package media

import "sync"

// Direct writing. Waking one goroutine per player for every frame costs
// more than the write itself once a stream has thousands of players (see
// docs/benchmarks.md §11). A player whose egress offers a DirectWriter is
// therefore served, while its socket keeps up, by one of its stream's
// writer goroutines, each walking up to groupSize players per wake-up and
// writing to them without blocking. When a socket cannot take a whole batch
// (or fails), the writer hands the player back to its own goroutine, which
// finishes the batch with blocking writes under the write timeout and
// returns the player to the writers once its queue is empty again. A
// stalled player therefore never holds up a writer, and so never the
// others.

// groupSize is the most players one writer goroutine serves. Several
// groups let a stream with many players use several cores.
const groupSize = 256

// DirectWriter sends frames to a player without blocking. TryWrite
// reports how many bytes went out and whether all of them did; when not
// (the socket is full, or failed), the DirectWriter keeps the rest (or the
// error) and the player's egress writes it before its next batch.
type DirectWriter interface {
	TryWrite(frames []*Frame) (n int, complete bool)
}

// SetDirect lets the stream's writers serve r through w whenever r's queue
// runs empty in Read. Call it once, from the egress goroutine, after the
// first batch went out.
func (r *Reader) SetDirect(w DirectWriter) {
	if w == nil {
		return
	}
	s := r.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended || r.idx < 0 {
		return
	}
	g := s.groupWithRoomLocked()
	g.add(r)
	r.mu.Lock()
	r.dw, r.group = w, g
	r.mu.Unlock()
}

func (r *Reader) setDirectLocked(on bool) {
	r.direct = on
	r.isDirect.Store(on)
}

// reclaimLocked takes r back from the writers: at once if none is writing
// to it, else when that write ends (writeDirect wakes Read).
func (r *Reader) reclaimLocked() {
	r.dw = nil // never again: the stream ended or the reader is closing
	if r.writing {
		r.reclaim = true
		return
	}
	r.setDirectLocked(false)
}

// writeDirect sends r's queue through its DirectWriter. Called by r's
// group writer only.
func (r *Reader) writeDirect() {
	r.mu.Lock()
	if !r.direct || r.writing || len(r.q) == 0 || r.cut {
		r.mu.Unlock()
		return
	}
	batch := r.q
	r.q, r.qBytes = r.spare[:0], 0
	r.writing = true
	dw := r.dw
	r.mu.Unlock()

	n, complete := dw.TryWrite(batch)
	r.Sent(n)
	clear(batch)

	r.mu.Lock()
	r.spare = batch[:0]
	r.writing = false
	if complete && !r.reclaim {
		r.mu.Unlock()
		return
	}
	r.setDirectLocked(false)
	r.handback = r.handback || !complete
	r.reclaim = false
	r.mu.Unlock()
	r.wake()
}

// writerGroup is one writer goroutine and the players it serves.
type writerGroup struct {
	wakeCh chan struct{} // capacity 1
	stop   chan struct{} // closed when the stream ends

	mu      sync.Mutex
	readers []*Reader
	scratch []*Reader
}

// groupWithRoomLocked returns a group with room for one more player,
// starting a writer when all are full. Called with s.mu held.
func (s *Stream) groupWithRoomLocked() *writerGroup {
	for _, g := range s.groups {
		g.mu.Lock()
		n := len(g.readers)
		g.mu.Unlock()
		if n < groupSize {
			return g
		}
	}
	g := &writerGroup{wakeCh: make(chan struct{}, 1), stop: make(chan struct{})}
	s.groups = append(s.groups, g)
	s.writers.Add(1)
	go func() {
		defer s.writers.Done()
		g.run()
	}()
	return g
}

func (g *writerGroup) add(r *Reader) {
	g.mu.Lock()
	r.gidx = len(g.readers)
	g.readers = append(g.readers, r)
	g.mu.Unlock()
}

func (g *writerGroup) remove(r *Reader) {
	g.mu.Lock()
	defer g.mu.Unlock()
	i := r.gidx
	if i < 0 || i >= len(g.readers) || g.readers[i] != r {
		return
	}
	last := len(g.readers) - 1
	g.readers[i] = g.readers[last]
	g.readers[i].gidx = i
	g.readers[last] = nil
	g.readers = g.readers[:last]
	r.gidx = -1
}

func (g *writerGroup) wake() {
	select {
	case g.wakeCh <- struct{}{}:
	default:
	}
}

func (g *writerGroup) run() {
	for {
		select {
		case <-g.wakeCh:
		case <-g.stop:
			return
		}
		// Walk a copy: players come and go while the writes happen.
		g.mu.Lock()
		list := append(g.scratch[:0], g.readers...)
		g.mu.Unlock()
		for _, r := range list {
			r.writeDirect()
		}
		clear(list)
		g.scratch = list
	}
}
