package server

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/minirtc/minirtc/internal/config"
	"github.com/minirtc/minirtc/internal/room"
	"github.com/minirtc/minirtc/internal/store"
	"github.com/minirtc/minirtc/internal/usage"
)

// newUsage makes the usage accountant: it observes every room and writes
// its figures to the server's store every usage.flush_interval.
func newUsage(cfg config.Config, db store.Store, log *slog.Logger) (*usage.Accountant, error) {
	a, err := usage.New(cfg.Usage, db, usage.Options{Logger: log.With("component", "usage")})
	if err != nil {
		return nil, fmt.Errorf("usage accounting: %w", err)
	}
	return a, nil
}

// finalFlushTimeout bounds the last usage flush at shutdown. It does not
// come out of shutdown_timeout: slow clients may have used all of that, and
// losing the last interval's billing figures to them would be wrong.
const finalFlushTimeout = 10 * time.Second

// stopUsage flushes the figures accrued up to the shutdown; it runs before
// the store closes.
func (s *Server) stopUsage(ctx context.Context) error {
	if s.usage == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), finalFlushTimeout)
	defer cancel()
	return s.usage.Stop(ctx)
}

// chainObservers makes one room observer of several (usage accounting,
// webhooks, ...), called in order; nil ones are skipped. Each must follow
// room.Observer's rule: the room's lock is held, so no blocking.
func chainObservers(obs ...room.Observer) room.Observer {
	var list []room.Observer
	for _, o := range obs {
		if o != nil {
			list = append(list, o)
		}
	}
	switch len(list) {
	case 0:
		return nil
	case 1:
		return list[0]
	}
	return func(ev *room.Event) {
		for _, o := range list {
			o(ev)
		}
	}
}
