package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/minirtc/minirtc/internal/store"
	"github.com/minirtc/minirtc/pkg/ids"
)

// UpdateApp implements store.AppSettings. It is one UPDATE in which every
// column keeps its value unless the update sets it (COALESCE of a NULL
// parameter), so concurrent updates of different fields never undo each
// other.
func (d *DB) UpdateApp(ctx context.Context, id ids.AppID, u store.AppUpdate, now time.Time) (store.App, error) {
	if err := u.Validate(); err != nil {
		return store.App{}, err
	}
	if u.Empty() {
		return d.GetApp(ctx, id)
	}
	a, err := scanApp(d.pool.QueryRow(ctx, `UPDATE apps SET
			name = COALESCE($1, name),
			max_participants = COALESCE($2, max_participants),
			max_rooms = COALESCE($3, max_rooms),
			updated_at = $4
		WHERE id = $5 RETURNING `+appColumns,
		u.Name, u.MaxParticipants, u.MaxRooms, ms(now), id))
	if errors.Is(err, pgx.ErrNoRows) {
		return store.App{}, fmt.Errorf("update app: app %q: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return store.App{}, fmt.Errorf("update app %q: %w", id, err)
	}
	return a, nil
}

// DeleteApp implements store.AppSettings. Every table holding per-app rows
// (usage aside, which outlives its app) references apps(id) with ON DELETE
// CASCADE, so one DELETE removes it all. It takes the app's webhook lock
// first, like every change to the app's outbox (webhooks.go), so that the
// cascade cannot deadlock with one.
func (d *DB) DeleteApp(ctx context.Context, id ids.AppID) error {
	tx, err := d.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("delete app %q: %w", id, err)
	}
	defer tx.Rollback(ctx)
	if err := lockWebhookApps(ctx, tx, id); err != nil {
		return fmt.Errorf("delete app %q: %w", id, err)
	}
	tag, err := tx.Exec(ctx, `DELETE FROM apps WHERE id = $1`, id)
	if err != nil {
		return fmt.Errorf("delete app %q: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("delete app: app %q: %w", id, store.ErrNotFound)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("delete app %q: %w", id, err)
	}
	return nil
}
