package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/minirtc/minirtc/internal/server"
	"github.com/minirtc/minirtc/pkg/ids"
	"github.com/minirtc/minirtc/pkg/protocol"
)

// benchRoom is one room of the run and its message accounting.
type benchRoom struct {
	id ids.RoomID

	mu      sync.Mutex
	members []roomMember // joined participants

	sent      atomic.Int64 // send_message requests written
	acked     atomic.Int64 // ... answered ok
	delivered atomic.Int64 // message events received by members
}

type roomMember struct {
	index int
	p     participant
}

func (b *benchRoom) add(index int, p participant) {
	b.mu.Lock()
	b.members = append(b.members, roomMember{index, p})
	b.mu.Unlock()
}

// sender is the joined member that joined first in the plan, and the
// number of joined members.
func (b *benchRoom) sender() (participant, int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	var s participant
	best := -1
	for _, m := range b.members {
		if best < 0 || m.index < best {
			s, best = m.p, m.index
		}
	}
	return s, len(b.members)
}

// signalRun is one execution of `bench signal`.
type signalRun struct {
	opts       signalOpts
	out        io.Writer
	errOut     io.Writer
	httpClient *http.Client
	probe      *serverProbe
	join       joinFunc
	rooms      []*benchRoom
	peers      []*peerInfo
	start      time.Time // the clock of message timestamps

	phase        atomic.Value // string, for progress lines
	stopping     atomic.Bool  // leaving: connection ends are expected
	pingInterval atomic.Int64

	mu   sync.Mutex
	all  []participant
	live []*rawPeer // raw participants, pinged by pingLoop

	joined      atomic.Int64
	joinFailed  atomic.Int64
	joinAborted atomic.Int64
	joinHist    histogram
	joinErrors  counters

	sent       atomic.Int64
	acked      atomic.Int64
	delivered  atomic.Int64
	sendErrors counters
	msgHist    histogram
	secondMax  atomic.Int64 // largest delivery latency since the last progress line

	disconnects counters
	pingErrors  counters
	otherEvents counters
}

// since is the message clock: time since the run started, monotonic.
func (r *signalRun) since() time.Duration { return time.Since(r.start) }

func (r *signalRun) notePingInterval(d time.Duration) {
	if d > 0 {
		r.pingInterval.CompareAndSwap(0, int64(d))
	}
}

func (r *signalRun) onMessage(room *benchRoom, latency time.Duration) {
	room.delivered.Add(1)
	r.delivered.Add(1)
	r.msgHist.record(latency)
	for {
		m := r.secondMax.Load()
		if int64(latency) <= m || r.secondMax.CompareAndSwap(m, int64(latency)) {
			return
		}
	}
}

func (r *signalRun) onSendResult(room *benchRoom, code protocol.Code) {
	if code == protocol.CodeOK {
		room.acked.Add(1)
		r.acked.Add(1)
		return
	}
	if code < 0 {
		r.sendErrors.add("connection failed")
		return
	}
	r.sendErrors.add(codeLabel(code))
}

func (r *signalRun) onDisconnect(cause string) { r.disconnects.add(cause) }

func codeLabel(c protocol.Code) string { return fmt.Sprintf("%d %s", int(c), c) }

var httpStatusRE = regexp.MustCompile(`status code 101 but got (\d+)`)

// joinErrorLabel groups join failures for the summary: protocol codes,
// HTTP refusals, timeouts and network errors.
func joinErrorLabel(err error) string {
	var pe *protocol.Error
	switch {
	case errors.As(err, &pe):
		return codeLabel(pe.Code)
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	}
	s := err.Error()
	if m := httpStatusRE.FindStringSubmatch(s); m != nil {
		return "HTTP " + m[1]
	}
	for _, known := range []string{"connection refused", "connection reset", "too many open files",
		"cannot assign requested address", "i/o timeout", "EOF"} {
		if strings.Contains(s, known) {
			return known
		}
	}
	if len(s) > 80 {
		s = s[:80] + "..."
	}
	return s
}

// execute runs the phases and prints the summary. Ctrl-C (ctx) cuts the
// current phase short; everyone still leaves and a partial summary is
// printed.
func (r *signalRun) execute(ctx context.Context) error {
	o := r.opts
	limit := raiseNoFile()
	if limit > 0 && limit < uint64(o.clients)+64 {
		fmt.Fprintf(r.errOut, "warning: the open files limit is %d, too low for %d clients; raise the hard limit (ulimit -Hn)\n", limit, o.clients)
	}
	sum := &signalSummary{
		URL: o.url, Client: o.kind, Clients: o.clients, RoomSize: o.roomSize, Rooms: len(r.rooms),
		CPU: map[string]phaseCPU{},
	}
	fmt.Fprintf(r.errOut, "bench signal: %d %s clients in %d rooms of %d, %g joins/s, server %s\n",
		o.clients, o.kind, len(r.rooms), o.roomSize, o.joinRate, o.url)

	before, heapErr := r.probe.heap(ctx)
	if heapErr != nil {
		sum.MemoryNote = memoryNote(heapErr)
		fmt.Fprintf(r.errOut, "note: %s\n", sum.MemoryNote)
	}

	r.start = time.Now()
	r.phase.Store("join")
	stopBG := make(chan struct{})
	var bg sync.WaitGroup
	bg.Go(func() { r.progressLoop(stopBG) })
	if o.kind == "raw" {
		bg.Go(func() { r.pingLoop(stopBG) })
	}
	defer func() {
		close(stopBG)
		bg.Wait()
		r.httpClient.CloseIdleConnections()
		r.probe.client.CloseIdleConnections()
	}()

	// 1. Joins.
	cpu := startCPU(ctx, r.probe)
	joinTime := r.joinAll(ctx)
	sum.CPU["join"] = cpu.stop(ctx)
	sum.Joins = r.joinSummary(joinTime)

	// 2. Idle, then the memory reading.
	if ctx.Err() == nil && r.joined.Load() > 0 {
		r.phase.Store("idle")
		cpu = startCPU(ctx, r.probe)
		sleepCtx(ctx, o.idle)
		if o.idle > 0 {
			sum.CPU["idle"] = cpu.stop(ctx)
		}
		if heapErr == nil && ctx.Err() == nil {
			after, err := r.probe.heap(ctx)
			if err != nil {
				sum.MemoryNote = memoryNote(err)
			} else {
				sum.Memory = memorySummary(before, after, int(r.joined.Load()), o.idle)
			}
		}
	}

	// 3. Messages.
	if ctx.Err() == nil && o.msgRate > 0 && o.duration > 0 && r.joined.Load() > 0 {
		r.phase.Store("messages")
		cpu = startCPU(ctx, r.probe)
		sum.Messages = r.messagePhase(ctx)
		sum.CPU["messages"] = cpu.stop(ctx)
	}

	// 4. Everyone leaves, whatever happened.
	r.phase.Store("leave")
	sum.Left, sum.Forced = r.leaveAll()
	sum.Interrupted = ctx.Err() != nil
	sum.Disconnects = r.disconnects.snapshot()
	sum.PingErrors = r.pingErrors.snapshot()
	sum.OtherEvents = r.otherEvents.snapshot()

	var err error
	if o.asJSON {
		err = writeIndentedJSON(r.out, sum)
	} else {
		sum.print(r.out)
	}
	switch {
	case err != nil:
		return err
	case sum.Interrupted:
		return errors.New("interrupted")
	case sum.Joins.OK == 0:
		return errors.New("no participant could join; see the join errors above")
	}
	return nil
}

func memoryNote(err error) string {
	if errors.Is(err, errNoDebug) {
		return "no memory reading: the server does not serve /debug/heap; start it with --debug-endpoints"
	}
	return fmt.Sprintf("no memory reading: /debug/heap is not reachable (%v); the server needs --debug-endpoints", err)
}

func sleepCtx(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// joinAll starts the joins at the target rate (open loop: a slow server
// does not slow the arrivals down) and waits for all of them to end.
func (r *signalRun) joinAll(ctx context.Context) time.Duration {
	interval := time.Duration(float64(time.Second) / r.opts.joinRate)
	t0 := time.Now()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	var wg sync.WaitGroup
	for i, info := range r.peers {
		if d := time.Until(t0.Add(time.Duration(i) * interval)); d > 0 {
			timer.Reset(d)
			select {
			case <-ctx.Done():
			case <-timer.C:
			}
		}
		if ctx.Err() != nil {
			break
		}
		wg.Go(func() { r.joinOne(ctx, info) })
	}
	wg.Wait()
	return time.Since(t0)
}

func (r *signalRun) joinOne(ctx context.Context, info *peerInfo) {
	jctx, cancel := context.WithTimeout(ctx, r.opts.joinTimeout)
	defer cancel()
	t := time.Now()
	p, at, err := r.join(jctx, r, info)
	if err != nil {
		if ctx.Err() != nil {
			r.joinAborted.Add(1)
			return
		}
		r.joinFailed.Add(1)
		r.joinErrors.add(joinErrorLabel(err))
		return
	}
	r.joinHist.record(at.Sub(t))
	info.room.add(info.index, p)
	r.mu.Lock()
	r.all = append(r.all, p)
	if rp, ok := p.(*rawPeer); ok {
		r.live = append(r.live, rp)
	}
	r.mu.Unlock()
	r.joined.Add(1)
}

func (r *signalRun) joinSummary(d time.Duration) joinsJSON {
	ok := int(r.joined.Load())
	j := joinsJSON{
		Target:     r.opts.clients,
		Attempted:  ok + int(r.joinFailed.Load()),
		OK:         ok,
		Failed:     int(r.joinFailed.Load()),
		Errors:     r.joinErrors.snapshot(),
		TargetRate: r.opts.joinRate,
		Seconds:    round2(d.Seconds()),
		Latency:    r.joinHist.summary(),
	}
	if d > 0 {
		j.Rate = round1(float64(ok) / d.Seconds())
	}
	return j
}

func memorySummary(before, after server.HeapStats, conns int, idle time.Duration) *memoryJSON {
	per := func(b, a uint64) float64 { return round2(float64(int64(a)-int64(b)) / float64(conns) / 1024) }
	return &memoryJSON{
		Conns:             conns,
		IdleSeconds:       round2(idle.Seconds()),
		HeapBeforeBytes:   before.HeapAllocBytes,
		HeapAfterBytes:    after.HeapAllocBytes,
		HeapPerConnKiB:    per(before.HeapAllocBytes, after.HeapAllocBytes),
		StackPerConnKiB:   per(before.StackInuse, after.StackInuse),
		GoroutinesBefore:  before.Goroutines,
		GoroutinesAfter:   after.Goroutines,
		GoroutinesPerConn: round2(float64(after.Goroutines-before.Goroutines) / float64(conns)),
	}
}

// pingLoop keeps every raw participant's session alive: one goroutine for
// all of them, spreading the pings evenly over the server's ping interval.
func (r *signalRun) pingLoop(stop <-chan struct{}) {
	const tick = 10 * time.Millisecond
	t := time.NewTicker(tick)
	defer t.Stop()
	var (
		buf    []byte
		id     uint64
		cursor int
		carry  float64
		last   = time.Now()
	)
	for {
		select {
		case <-stop:
			return
		case now := <-t.C:
			elapsed := now.Sub(last)
			last = now
			iv := time.Duration(r.pingInterval.Load())
			if iv <= 0 || r.stopping.Load() {
				continue
			}
			r.mu.Lock()
			peers := r.live
			r.mu.Unlock()
			if len(peers) == 0 {
				continue
			}
			carry += float64(len(peers)) * float64(elapsed) / float64(iv)
			k := min(int(carry), len(peers))
			carry -= float64(int(carry))
			for ; k > 0; k-- {
				if cursor >= len(peers) {
					cursor = 0
				}
				p := peers[cursor]
				cursor++
				if !p.leaving.Load() {
					id++
					buf = p.ping(buf, id)
				}
			}
		}
	}
}

// progressLoop prints one line a second.
func (r *signalRun) progressLoop(stop <-chan struct{}) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	var lastJoined, lastDelivered int64
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		j, d := r.joined.Load(), r.delivered.Load()
		errs := r.joinErrors.total() + r.disconnects.total() + r.sendErrors.total()
		line := fmt.Sprintf("[%4.0fs] %-8s joined %d/%d  errors %d  join rate %d/s  msgs delivered %d (+%d/s",
			r.since().Seconds(), r.phase.Load(), j, r.opts.clients, errs, j-lastJoined, d, d-lastDelivered)
		if worst := time.Duration(r.secondMax.Swap(0)); d > lastDelivered {
			line += fmt.Sprintf(", max latency %s", ms(float64(worst)/1e6))
		}
		fmt.Fprintln(r.errOut, line+")")
		lastJoined, lastDelivered = j, d
	}
}

// messagePhase has the first member of each room send at the message rate
// for the duration, then waits (up to --drain) for the deliveries still in
// flight.
func (r *signalRun) messagePhase(ctx context.Context) *messagesJSON {
	o := r.opts
	type roomPlan struct {
		room      *benchRoom
		sender    participant
		receivers int
	}
	var plans []roomPlan
	for _, rm := range r.rooms {
		if s, n := rm.sender(); n >= 2 {
			plans = append(plans, roomPlan{rm, s, n - 1})
		}
	}
	m := &messagesJSON{RatePerRoom: o.msgRate, Rooms: len(plans)}
	if len(plans) == 0 {
		return m
	}
	t0 := time.Now()
	end := t0.Add(o.duration)
	phaseCtx, cancel := context.WithDeadline(ctx, end)
	var wg sync.WaitGroup
	for _, pl := range plans {
		wg.Go(func() { r.sendLoop(phaseCtx, pl.room, pl.sender) })
	}
	wg.Wait()
	cancel()
	sendTime := time.Since(t0)

	// Wait for what is in flight: answers to the sends, and deliveries.
	expected := func() int64 {
		var n int64
		for _, pl := range plans {
			n += pl.room.acked.Load() * int64(pl.receivers)
		}
		return n
	}
	deadline := time.Now().Add(o.drain)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		answered := r.acked.Load() + int64(r.sendErrors.total())
		if answered >= r.sent.Load() && r.delivered.Load() >= expected() {
			break
		}
		sleepCtx(ctx, 10*time.Millisecond)
	}
	m.Seconds = round2(sendTime.Seconds())
	m.Sent = r.sent.Load()
	m.Acked = r.acked.Load()
	m.SendErrors = r.sendErrors.snapshot()
	m.Expected = expected()
	for _, pl := range plans {
		want := pl.room.acked.Load() * int64(pl.receivers)
		got := pl.room.delivered.Load()
		m.Delivered += got
		if got < want {
			m.Lost += want - got
		}
	}
	m.Latency = r.msgHist.summary()
	return m
}

// sendLoop sends one room's messages at the rate, starting at a random
// phase so that rooms do not all send at the same instant.
func (r *signalRun) sendLoop(ctx context.Context, room *benchRoom, sender participant) {
	interval := time.Duration(float64(time.Second) / r.opts.msgRate)
	next := time.Now().Add(rand.N(interval))
	timer := time.NewTimer(time.Until(next))
	defer timer.Stop()
	content := make([]byte, 0, max(24, r.opts.msgBytes))
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		content = fmt.Appendf(content[:0], "%019d", int64(r.since()))
		for len(content) < r.opts.msgBytes {
			content = append(content, 'x')
		}
		room.sent.Add(1)
		r.sent.Add(1)
		sender.send(content)
		next = next.Add(interval)
		if d := time.Until(next); d > 0 {
			timer.Reset(d)
		} else {
			timer.Reset(0) // behind: catch up, the schedule is the load
		}
	}
}

// leaveAll has every participant leave and waits (up to 10 s) for the
// server to close their connections; stragglers are closed. It returns how
// many left cleanly and how many had to be closed.
func (r *signalRun) leaveAll() (left, forced int) {
	r.stopping.Store(true)
	r.mu.Lock()
	all := r.all
	r.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	sem := make(chan struct{}, 256)
	var wg sync.WaitGroup
	for _, p := range all {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			p.leave(ctx)
		})
	}
	wg.Wait()
	for _, p := range all {
		select {
		case <-p.done():
			left++
			continue
		default:
		}
		select {
		case <-p.done():
			left++
		case <-ctx.Done():
			forced++
		}
	}
	for _, p := range all {
		p.close()
	}
	return left, forced
}
