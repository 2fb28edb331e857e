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

const ingestColumns = `id, app_id, room_id, user_id, stream_id, expires_at, created_at, revoked_at`

func scanIngest(row pgx.Row) (store.Ingest, error) {
	var (
		in               store.Ingest
		expires, created time.Time
		revoked          *time.Time
	)
	if err := row.Scan(&in.ID, &in.App, &in.Room, &in.User, &in.Stream, &expires, &created, &revoked); err != nil {
		return store.Ingest{}, err
	}
	in.ExpiresAt = fromDB(expires)
	in.CreatedAt = fromDB(created)
	in.RevokedAt = fromNullDB(revoked)
	return in, nil
}

// CreateIngest implements store.Ingests. The purge and the insert share a
// transaction, so a failed insert leaves the old rows alone.
func (d *DB) CreateIngest(ctx context.Context, in store.Ingest) (store.Ingest, error) {
	if err := in.Validate(); err != nil {
		return store.Ingest{}, err
	}
	in.ID = store.NewIngestID()
	in.CreatedAt = ms(in.CreatedAt)
	in.ExpiresAt = in.ExpiresAt.UTC()
	in.RevokedAt = time.Time{}
	tx, err := d.pool.Begin(ctx)
	if err != nil {
		return store.Ingest{}, fmt.Errorf("create ingest: %w", err)
	}
	defer tx.Rollback(ctx) // no-op after Commit
	if _, err := tx.Exec(ctx, `DELETE FROM ingests WHERE app_id = $1 AND expires_at < $2`,
		in.App, ms(in.CreatedAt.Add(-store.IngestRetention))); err != nil {
		return store.Ingest{}, fmt.Errorf("create ingest: purge: %w", err)
	}
	_, err = tx.Exec(ctx, `INSERT INTO ingests (id, app_id, room_id, user_id, stream_id, expires_at, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`, in.ID, in.App, in.Room, in.User, in.Stream, ms(in.ExpiresAt), in.CreatedAt)
	if isForeignKeyViolation(err) {
		return store.Ingest{}, fmt.Errorf("create ingest: app %q: %w", in.App, store.ErrNotFound)
	}
	if err != nil {
		return store.Ingest{}, fmt.Errorf("create ingest: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return store.Ingest{}, fmt.Errorf("create ingest: %w", err)
	}
	return in, nil
}

// GetIngest implements store.Ingests.
func (d *DB) GetIngest(ctx context.Context, app ids.AppID, id string) (store.Ingest, error) {
	in, err := scanIngest(d.pool.QueryRow(ctx, `SELECT `+ingestColumns+` FROM ingests WHERE app_id = $1 AND id = $2`, app, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return store.Ingest{}, fmt.Errorf("ingest %q: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return store.Ingest{}, fmt.Errorf("get ingest %q: %w", id, err)
	}
	return in, nil
}

// ListIngests implements store.Ingests.
func (d *DB) ListIngests(ctx context.Context, app ids.AppID, now time.Time) ([]store.Ingest, error) {
	rows, err := d.pool.Query(ctx, `SELECT `+ingestColumns+` FROM ingests
		WHERE app_id = $1 AND expires_at > $2 ORDER BY created_at DESC, id DESC LIMIT $3`,
		app, ms(now), store.MaxIngestList)
	if err != nil {
		return nil, fmt.Errorf("list ingests: %w", err)
	}
	defer rows.Close()
	var out []store.Ingest
	for rows.Next() {
		in, err := scanIngest(rows)
		if err != nil {
			return nil, fmt.Errorf("list ingests: %w", err)
		}
		out = append(out, in)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list ingests: %w", err)
	}
	return out, nil
}

// RevokeIngest implements store.Ingests. COALESCE keeps the first
// revocation time when the ingest is revoked again.
func (d *DB) RevokeIngest(ctx context.Context, app ids.AppID, id string, now time.Time) (store.Ingest, error) {
	in, err := scanIngest(d.pool.QueryRow(ctx, `UPDATE ingests SET revoked_at = COALESCE(revoked_at, $1)
		WHERE app_id = $2 AND id = $3 RETURNING `+ingestColumns, ms(now), app, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return store.Ingest{}, fmt.Errorf("revoke ingest: ingest %q: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return store.Ingest{}, fmt.Errorf("revoke ingest %q: %w", id, err)
	}
	return in, nil
}

// IngestRevoked implements store.Ingests.
func (d *DB) IngestRevoked(ctx context.Context, app ids.AppID, room ids.RoomID, stream ids.StreamID, user ids.UserID, expires time.Time) (bool, error) {
	var revoked bool
	err := d.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM ingests
		WHERE app_id = $1 AND room_id = $2 AND stream_id = $3 AND user_id = $4 AND expires_at = $5 AND revoked_at IS NOT NULL)`,
		app, room, stream, user, expires.Truncate(time.Second).UTC()).Scan(&revoked)
	if err != nil {
		return false, fmt.Errorf("check ingest revocation: %w", err)
	}
	return revoked, nil
}
