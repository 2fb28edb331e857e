package webhook

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/minirtc/minirtc/internal/room"
	"github.com/minirtc/minirtc/internal/store"
)

// Outbox is the part of the store the dispatcher works with (store.Webhooks).
type Outbox interface {
	EnqueueWebhookEvents(ctx context.Context, evs []store.WebhookEvent, now time.Time) ([]store.WebhookEvent, error)
	ClaimWebhookDeliveries(ctx context.Context, c store.WebhookClaim) ([]store.WebhookAttempt, error)
	RecordWebhookAttempt(ctx context.Context, id int64, o store.WebhookOutcome) error
	PurgeWebhookDeliveries(ctx context.Context, before time.Time) (int64, error)
}

// Options are the dispatcher's collaborators; all are optional.
type Options struct {
	Logger *slog.Logger
	// Registerer receives the minirtc_webhook_* metrics.
	Registerer prometheus.Registerer
	// Now is the clock of event ages, backoff and claims; nil: time.Now.
	Now func() time.Time
	// Client sends deliveries; nil: one built from the Config (timeouts,
	// no redirects, DenyPrivateNetworks).
	Client *http.Client
	// UserAgent of deliveries; "" means "minirtc-webhooks".
	UserAgent string
}

// maxBatch bounds one outbox write. Batches are whatever is queued when the
// writer gets to them (never a wait to fill one), so under light load a
// batch is one event written at once.
const maxBatch = 500

// Dispatcher records room events in the outbox and delivers them. Observe
// feeds it (as the rooms' Observer); Start runs it; Close stops it.
//
// Durability: an event is durable once its batch is committed. Until then it
// sits in a bounded in-memory queue (Config.QueueSize) that the writer
// empties continuously, so a crash loses at most the events of the last few
// milliseconds; past the bound, events are dropped and counted rather than
// slowing down the rooms.
type Dispatcher struct {
	cfg    Config
	out    Outbox
	log    *slog.Logger
	now    func() time.Time
	client *http.Client
	own    *http.Transport // closed at Close when we built it
	ua     string
	m      *metrics

	queue    chan store.WebhookEvent
	stopping atomic.Bool
	dropLog  atomic.Int64 // unix nanoseconds of the last drop log line
	wake     chan struct{}

	startOnce, closeOnce sync.Once
	started              atomic.Bool
	closeCtx             context.Context // the writer's last flush runs under it
	writerStop           chan struct{}
	writerDone           chan struct{}
	runCtx               context.Context // claims and purges
	runCancel            context.CancelFunc
	attemptCtx           context.Context // HTTP requests
	attemptCancel        context.CancelFunc
	loops                sync.WaitGroup
	attempts             sync.WaitGroup

	mu       sync.Mutex
	inFlight int
	urls     map[string]*urlState
}

// urlState is what the scheduler knows about one receiver URL.
type urlState struct {
	inFlight int
	failing  bool // the last attempt failed: one at a time until one succeeds
}

// New makes a dispatcher; cfg must be valid. Nothing runs before Start.
func New(cfg Config, out Outbox, opts Options) (*Dispatcher, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if out == nil {
		return nil, errors.New("webhook: no outbox")
	}
	d := &Dispatcher{
		cfg: cfg, out: out, log: opts.Logger, now: opts.Now, client: opts.Client, ua: opts.UserAgent,
		queue:      make(chan store.WebhookEvent, cfg.QueueSize),
		wake:       make(chan struct{}, 1),
		writerStop: make(chan struct{}),
		writerDone: make(chan struct{}),
		urls:       make(map[string]*urlState),
	}
	if d.log == nil {
		d.log = slog.Default()
	}
	d.log = d.log.With("component", "webhook")
	if d.now == nil {
		d.now = time.Now
	}
	if d.ua == "" {
		d.ua = "minirtc-webhooks"
	}
	if d.client == nil {
		d.own = newTransport(cfg)
		d.client = &http.Client{
			Transport: d.own,
			// A redirect is an answer other than 2xx: the receiver's URL is
			// wrong, and following it could lead anywhere.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	d.runCtx, d.runCancel = context.WithCancel(context.Background())
	d.attemptCtx, d.attemptCancel = context.WithCancel(context.Background())
	d.m = newMetrics(d.inFlightGauge, func() float64 { return float64(len(d.queue)) })
	if opts.Registerer != nil {
		for _, c := range d.m.collectors() {
			if err := opts.Registerer.Register(c); err != nil {
				return nil, fmt.Errorf("webhook: registering metrics: %w", err)
			}
		}
	}
	return d, nil
}

// Collectors are the minirtc_webhook_* metrics, for a registry that exists
// only after the dispatcher (Options.Registerer is the other way).
func (d *Dispatcher) Collectors() []prometheus.Collector { return d.m.collectors() }

func (d *Dispatcher) inFlightGauge() float64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return float64(d.inFlight)
}

// Observe takes a room event (it is a room.Observer). It runs under the
// room's lock, so it never blocks: the event goes into the in-memory queue,
// or is dropped and counted when the queue is full or the dispatcher is
// closing. Events observed before Start wait in the queue.
func (d *Dispatcher) Observe(ev *room.Event) {
	if !d.cfg.Enabled {
		return
	}
	e, ok := fromRoom(ev)
	if !ok {
		return
	}
	if d.stopping.Load() {
		d.drop(dropStopped, e)
		return
	}
	select {
	case d.queue <- e:
		d.m.observed.Inc()
	default:
		d.drop(dropQueueFull, e)
	}
}

// drop counts a lost event and logs at most one line per 10 s, so that a
// flood of drops under a room lock costs no I/O.
func (d *Dispatcher) drop(reason string, e store.WebhookEvent) {
	d.m.dropped.WithLabelValues(reason).Inc()
	now := time.Now().UnixNano()
	last := d.dropLog.Load()
	if now-last >= int64(10*time.Second) && d.dropLog.CompareAndSwap(last, now) {
		d.log.Warn("webhook event dropped (further drops within 10 s are only counted in minirtc_webhook_events_dropped_total)",
			"reason", reason, "app", e.App, "room", e.Room, "type", e.Type, "event", e.ID, "queue_size", d.cfg.QueueSize)
	}
}

// Start runs the outbox writer, the delivery scheduler and the purger.
// Deliveries left pending by an earlier run (even one killed mid-attempt)
// are picked up: at once if due, else when their retry time or lease comes.
func (d *Dispatcher) Start() {
	if !d.cfg.Enabled || d.stopping.Load() {
		return
	}
	d.startOnce.Do(func() {
		d.started.Store(true)
		go d.writeLoop()
		d.loops.Add(2)
		go d.scheduleLoop()
		go d.purgeLoop()
	})
}

// Close stops the dispatcher. Events observed before it are written to the
// outbox (within ctx). Attempts in flight are given until ctx ends to finish;
// then they are cut off and recorded as due again at once, so the next start
// retries them. Close returns ctx's error if it had to cut anything off.
// Calling it again does nothing.
func (d *Dispatcher) Close(ctx context.Context) error {
	var err error
	d.closeOnce.Do(func() {
		d.stopping.Store(true)
		if !d.started.Load() {
			d.runCancel()
			d.attemptCancel()
			return
		}
		d.closeCtx = ctx
		close(d.writerStop)
		<-d.writerDone
		d.runCancel()
		d.loops.Wait()
		done := make(chan struct{})
		go func() { d.attempts.Wait(); close(done) }()
		select {
		case <-done:
		case <-ctx.Done():
			err = ctx.Err()
			d.attemptCancel()
			<-done
		}
		d.attemptCancel()
		if d.own != nil {
			d.own.CloseIdleConnections()
		}
	})
	return err
}

// writeLoop moves events from the queue to the outbox: it takes whatever is
// queued (up to maxBatch) and writes it in one transaction, without waiting
// for more, so an event spends only the time of a write in memory.
func (d *Dispatcher) writeLoop() {
	defer close(d.writerDone)
	batch := make([]store.WebhookEvent, 0, maxBatch)
	for {
		select {
		case e := <-d.queue:
			batch = d.gather(append(batch[:0], e))
		case <-d.writerStop:
			d.finalFlush(batch[:0])
			return
		}
		if !d.write(context.Background(), batch, d.writerStop) {
			d.finalFlush(batch)
			return
		}
	}
}

// gather appends what is already queued, up to maxBatch, dropping events
// the store would refuse (so one bad event cannot fail a whole batch).
func (d *Dispatcher) gather(batch []store.WebhookEvent) []store.WebhookEvent {
	for len(batch) < maxBatch {
		select {
		case e := <-d.queue:
			batch = append(batch, e)
			continue
		default:
		}
		break
	}
	kept := batch[:0]
	for _, e := range batch {
		if err := e.Validate(); err != nil {
			d.m.dropped.WithLabelValues(dropInvalid).Inc()
			d.log.Error("webhook event cannot be stored", "app", e.App, "room", e.Room, "type", e.Type, "err", err)
			continue
		}
		kept = append(kept, e)
	}
	return kept
}

// write stores batch, retrying with backoff while the store fails, until
// stop is closed or ctx ends (then it reports false and the batch is not
// stored). The outbox ignores events it already has, so retrying a write
// whose commit was in doubt stores nothing twice.
func (d *Dispatcher) write(ctx context.Context, batch []store.WebhookEvent, stop <-chan struct{}) bool {
	if len(batch) == 0 {
		return true
	}
	for wait := 50 * time.Millisecond; ; wait = min(2*wait, 5*time.Second) {
		out, err := d.out.EnqueueWebhookEvents(ctx, batch, d.now())
		if err == nil {
			n := 0
			for _, e := range out {
				if e.Seq > 0 {
					n++
				}
			}
			if n > 0 {
				d.m.stored.Add(float64(n))
				d.poke()
			}
			return true
		}
		d.m.storeErrs.WithLabelValues("enqueue").Inc()
		d.log.Error("writing webhook events to the outbox failed; retrying", "events", len(batch), "retry_in", wait, "err", err)
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-stop:
			t.Stop()
			return false
		case <-ctx.Done():
			t.Stop()
			return false
		}
	}
}

// finalFlush writes what is left (the unwritten batch and the queue) under
// Close's context.
func (d *Dispatcher) finalFlush(batch []store.WebhookEvent) {
	for {
		select {
		case e := <-d.queue:
			batch = append(batch, e)
			continue
		default:
		}
		break
	}
	for len(batch) > 0 {
		n := min(len(batch), maxBatch)
		chunk := d.gather(batch[:n:n])
		if !d.write(d.closeCtx, chunk, nil) {
			lost := len(batch)
			d.m.dropped.WithLabelValues(dropStore).Add(float64(lost))
			d.log.Error("webhook events lost at shutdown: the outbox could not be written in time", "events", lost)
			return
		}
		batch = batch[n:]
	}
}

// poke wakes the scheduler (new events, a free worker).
func (d *Dispatcher) poke() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// purgeLoop deletes finished deliveries older than the retention, at start
// and then every hour (or half the retention, if shorter).
func (d *Dispatcher) purgeLoop() {
	defer d.loops.Done()
	every := min(time.Hour, d.cfg.Retention/2)
	t := time.NewTicker(max(every, time.Second))
	defer t.Stop()
	for {
		n, err := d.out.PurgeWebhookDeliveries(d.runCtx, d.now().Add(-d.cfg.Retention))
		switch {
		case err != nil && d.runCtx.Err() == nil:
			d.m.storeErrs.WithLabelValues("purge").Inc()
			d.log.Error("purging old webhook deliveries failed", "err", err)
		case n > 0:
			d.log.Debug("purged old webhook deliveries", "deliveries", n)
		}
		select {
		case <-d.runCtx.Done():
			return
		case <-t.C:
		}
	}
}
