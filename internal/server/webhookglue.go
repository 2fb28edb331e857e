package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/minirtc/minirtc/internal/config"
	"github.com/minirtc/minirtc/internal/store"
	"github.com/minirtc/minirtc/internal/webhook"
)

// newWebhooks makes the webhook dispatcher: it observes every room (chained
// with the other observers in build) and delivers from the store's outbox.
func newWebhooks(cfg config.Config, db store.Store, log *slog.Logger) (*webhook.Dispatcher, error) {
	d, err := webhook.New(cfg.Webhook, db, webhook.Options{Logger: log, UserAgent: "minirtc-webhooks/" + Version})
	if err != nil {
		return nil, fmt.Errorf("webhooks: %w", err)
	}
	return d, nil
}

// webhookCloseTimeout bounds the webhook shutdown: writing the last events
// to the outbox and letting attempts in flight finish. Like the usage flush
// it does not come out of shutdown_timeout, which slow clients may have used
// up; attempts still running after it are retried at the next start.
const webhookCloseTimeout = 5 * time.Second

// stopWebhooks runs after the rooms have ended (their last events observed)
// and before the store closes.
func (s *Server) stopWebhooks(ctx context.Context) {
	if s.webhooks == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), webhookCloseTimeout)
	defer cancel()
	if err := s.webhooks.Close(ctx); errors.Is(err, context.DeadlineExceeded) {
		s.log.Warn("webhook attempts still running at shutdown were cut off; they are retried at the next start")
	}
}
