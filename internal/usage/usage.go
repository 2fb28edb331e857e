// Package usage counts what apps use — online, publish, subscribe and call
// minutes (calls by resolution tier), rooms, users and peaks — per app and
// UTC hour, from the rooms' events, and writes the figures to the store
// incrementally. docs/usage.md defines every figure.
package usage

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/minirtc/minirtc/internal/room"
	"github.com/minirtc/minirtc/internal/store"
	"github.com/minirtc/minirtc/pkg/ids"
)

// Store is where figures go: store.Usage's write half.
type Store interface {
	ApplyUsage(ctx context.Context, b store.UsageBatch) error
}

// Options are the accountant's collaborators; all are optional.
type Options struct {
	// Clock defaults to the system clock.
	Clock Clock
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// Accountant turns room events into usage figures. Observe is its room
// observer; Start runs the periodic flush; Stop flushes a last time.
type Accountant struct {
	cfg   Config
	store Store
	clock Clock
	log   *slog.Logger

	mu     sync.Mutex // guards apps and ledger; held only for in-memory work
	apps   map[ids.AppID]*appState
	ledger ledger

	// flushMu serialises flushes; pending is a batch whose write failed
	// and is retried, unchanged, before anything newer.
	flushMu sync.Mutex
	pending *store.UsageBatch
	failing bool // the last flush failed (to log the recovery once)

	startOnce, stopOnce sync.Once
	cancel              context.CancelFunc
	done                chan struct{}
	stopErr             error
}

// New creates an accountant; it does not flush until Start.
func New(cfg Config, st Store, opts Options) (*Accountant, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if st == nil {
		return nil, errors.New("usage: no store")
	}
	a := &Accountant{cfg: cfg, store: st, clock: opts.Clock, log: opts.Logger, apps: map[ids.AppID]*appState{}, ledger: newLedger()}
	if a.clock == nil {
		a.clock = SystemClock{}
	}
	if a.log == nil {
		a.log = slog.Default()
	}
	return a, nil
}

// Observe is a room.Observer. It runs with the room's lock held, so it only
// updates counters in memory; writing is the flusher's job.
func (a *Accountant) Observe(ev *room.Event) {
	if ev == nil || !relevant(ev.Name) {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.clock.Now()
	s := a.apps[ev.App]
	if s == nil {
		s = newAppState(ev.App, now)
		a.apps[ev.App] = s
	}
	// Events of different rooms may reach here slightly out of clock order;
	// time never runs backwards for an app.
	if now.Before(s.last) {
		now = s.last
	}
	s.advance(&a.ledger, now)
	s.apply(&a.ledger, ev, now)
	if s.idle() {
		delete(a.apps, ev.App)
	}
}

// Start runs the periodic flush until Stop.
func (a *Accountant) Start() {
	a.startOnce.Do(func() {
		ctx, cancel := context.WithCancel(context.Background())
		a.cancel = cancel
		a.done = make(chan struct{})
		go a.run(ctx)
	})
}

func (a *Accountant) run(ctx context.Context) {
	defer close(a.done)
	t := a.clock.NewTicker(a.cfg.FlushInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C():
			// A store that hangs must not hold the figures hostage: give up
			// after one interval and retry at the next tick.
			fctx, cancel := context.WithTimeout(ctx, a.cfg.FlushInterval)
			_ = a.Flush(fctx) // logged by Flush; retried next tick
			cancel()
		}
	}
}

// Stop ends the periodic flush and flushes everything accrued up to now,
// for a server that is shutting down (rooms still open count up to this
// moment). Calling it again returns the first call's result.
func (a *Accountant) Stop(ctx context.Context) error {
	a.stopOnce.Do(func() {
		a.startOnce.Do(func() {}) // a Start after Stop starts nothing
		if a.cancel != nil {
			a.cancel()
			<-a.done
		}
		if err := a.Flush(ctx); err != nil {
			a.stopErr = fmt.Errorf("usage: final flush: %w; the figures since the last successful flush are lost", err)
			a.log.Error("usage figures lost at shutdown", "err", err)
		}
	})
	return a.stopErr
}

// Flush writes everything accrued up to now. After an error the unwritten
// batch is kept and retried first by the next Flush, with the same id, so
// that a write that did succeed (but whose answer was lost) is not counted
// twice.
func (a *Accountant) Flush(ctx context.Context) error {
	a.flushMu.Lock()
	defer a.flushMu.Unlock()
	err := a.flushLocked(ctx)
	switch {
	case errors.Is(err, context.Canceled):
		// Stop cancelled the periodic flush; its final flush retries the
		// batch at once and reports its own failure.
	case err != nil:
		a.failing = true
		a.log.Warn("usage flush failed; retrying at the next flush", "err", err,
			"batch", a.pending.ID, "items", len(a.pending.Deltas)+len(a.pending.Users))
	case a.failing:
		a.failing = false
		a.log.Info("usage flush succeeded again")
	}
	return err
}

func (a *Accountant) flushLocked(ctx context.Context) error {
	for {
		if a.pending == nil {
			a.pending = a.take()
			if a.pending == nil {
				return nil
			}
		}
		if err := a.store.ApplyUsage(ctx, *a.pending); err != nil {
			return err
		}
		a.pending = nil
	}
}

// take accrues every app up to now and moves at most MaxUsageBatchItems
// items out of the ledger into a new batch; nil when there is nothing.
func (a *Accountant) take() *store.UsageBatch {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.clock.Now()
	for _, s := range a.apps {
		if now.After(s.last) {
			s.advance(&a.ledger, now)
		}
	}
	if a.ledger.empty() {
		return nil
	}
	b := &store.UsageBatch{ID: newBatchID(), At: now.UTC()}
	// Deterministic order (hour, app) keeps batches readable in logs and
	// makes the split of a large flush predictable.
	dkeys := make([]deltaKey, 0, len(a.ledger.deltas))
	for k := range a.ledger.deltas {
		dkeys = append(dkeys, k)
	}
	sort.Slice(dkeys, func(i, j int) bool {
		if dkeys[i].hour != dkeys[j].hour {
			return dkeys[i].hour < dkeys[j].hour
		}
		return dkeys[i].app < dkeys[j].app
	})
	for _, k := range dkeys {
		if len(b.Deltas) == store.MaxUsageBatchItems {
			break
		}
		b.Deltas = append(b.Deltas, *a.ledger.deltas[k])
		delete(a.ledger.deltas, k)
	}
	for k := range a.ledger.users {
		if len(b.Deltas)+len(b.Users) == store.MaxUsageBatchItems {
			break
		}
		b.Users = append(b.Users, store.UsageUser{App: k.app, Hour: time.Unix(k.hour, 0).UTC(), Kind: k.kind, User: k.user})
		delete(a.ledger.users, k)
	}
	return b
}

func newBatchID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	return "ub_" + hex.EncodeToString(b[:])
}
