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

const appColumns = `id, name, secret, previous_secret, previous_secret_until, created_at, updated_at, max_participants, max_rooms`

func scanApp(row pgx.Row) (store.App, error) {
	var (
		a                  store.App
		until              *time.Time
		created, updatedAt time.Time
	)
	if err := row.Scan(&a.ID, &a.Name, &a.Secret, &a.PreviousSecret, &until, &created, &updatedAt,
		&a.Limits.MaxParticipants, &a.Limits.MaxRooms); err != nil {
		return store.App{}, err
	}
	a.PreviousSecretUntil = fromNullDB(until)
	a.CreatedAt = fromDB(created)
	a.UpdatedAt = fromDB(updatedAt)
	return a, nil
}

// CreateApp implements store.Apps.
func (d *DB) CreateApp(ctx context.Context, name string) (store.App, error) {
	if err := store.ValidateAppName(name); err != nil {
		return store.App{}, err
	}
	now := ms(time.Now())
	a := store.App{ID: store.NewAppID(), Name: name, Secret: store.NewSecret(), CreatedAt: now, UpdatedAt: now}
	_, err := d.pool.Exec(ctx, `INSERT INTO apps (id, name, secret, created_at, updated_at) VALUES ($1, $2, $3, $4, $5)`,
		a.ID, a.Name, a.Secret, now, now)
	if err != nil {
		return store.App{}, fmt.Errorf("create app: %w", err)
	}
	return a, nil
}

// GetApp implements store.Apps.
func (d *DB) GetApp(ctx context.Context, id ids.AppID) (store.App, error) {
	a, err := scanApp(d.pool.QueryRow(ctx, `SELECT `+appColumns+` FROM apps WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return store.App{}, fmt.Errorf("app %q: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return store.App{}, fmt.Errorf("get app %q: %w", id, err)
	}
	return a, nil
}

// ListApps implements store.Apps.
func (d *DB) ListApps(ctx context.Context) ([]store.App, error) {
	rows, err := d.pool.Query(ctx, `SELECT `+appColumns+` FROM apps ORDER BY created_at, seq`)
	if err != nil {
		return nil, fmt.Errorf("list apps: %w", err)
	}
	defer rows.Close()
	var apps []store.App
	for rows.Next() {
		a, err := scanApp(rows)
		if err != nil {
			return nil, fmt.Errorf("list apps: %w", err)
		}
		apps = append(apps, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list apps: %w", err)
	}
	return apps, nil
}

// RotateSecret implements store.Apps. It is one UPDATE (in which "secret" on
// the right-hand side is the old value), so concurrent rotations cannot lose
// a secret between a read and a write.
func (d *DB) RotateSecret(ctx context.Context, id ids.AppID, overlap time.Duration, now time.Time) (store.App, error) {
	if overlap < 0 {
		return store.App{}, fmt.Errorf("rotate secret: overlap %s is negative; use 0 to stop the old secret at once", overlap)
	}
	keepOld := overlap > 0
	var until any
	if keepOld {
		until = ms(now.Add(overlap))
	}
	a, err := scanApp(d.pool.QueryRow(ctx, `UPDATE apps SET
			previous_secret = CASE WHEN $1 THEN secret ELSE '' END,
			previous_secret_until = $2,
			secret = $3,
			updated_at = $4
		WHERE id = $5 RETURNING `+appColumns,
		keepOld, until, store.NewSecret(), ms(now), id))
	if errors.Is(err, pgx.ErrNoRows) {
		return store.App{}, fmt.Errorf("rotate secret: app %q: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return store.App{}, fmt.Errorf("rotate secret of app %q: %w", id, err)
	}
	return a, nil
}
