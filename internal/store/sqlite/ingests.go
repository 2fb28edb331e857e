package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/minirtc/minirtc/internal/store"
	"github.com/minirtc/minirtc/pkg/ids"
)

const ingestColumns = `id, app_id, room_id, user_id, stream_id, expires_at, created_at, revoked_at`

func scanIngest(s scanner) (store.Ingest, error) {
	var (
		in               store.Ingest
		expires, created int64
		revoked          sql.NullInt64
	)
	if err := s.Scan(&in.ID, &in.App, &in.Room, &in.User, &in.Stream, &expires, &created, &revoked); err != nil {
		return store.Ingest{}, err
	}
	in.ExpiresAt = fromMillis(expires)
	in.CreatedAt = fromMillis(created)
	in.RevokedAt = fromNullMillis(revoked)
	return in, nil
}

// CreateIngest implements store.Ingests. The purge and the insert share a
// transaction, so a failed insert leaves the old rows alone.
func (d *DB) CreateIngest(ctx context.Context, in store.Ingest) (store.Ingest, error) {
	if err := in.Validate(); err != nil {
		return store.Ingest{}, err
	}
	in.ID = store.NewIngestID()
	in.CreatedAt = in.CreatedAt.UTC().Truncate(time.Millisecond)
	in.ExpiresAt = in.ExpiresAt.UTC()
	in.RevokedAt = time.Time{}
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return store.Ingest{}, fmt.Errorf("create ingest: %w", err)
	}
	defer tx.Rollback() // no-op after Commit
	if _, err := tx.ExecContext(ctx, `DELETE FROM ingests WHERE app_id = ? AND expires_at < ?`,
		in.App, millis(in.CreatedAt.Add(-store.IngestRetention))); err != nil {
		return store.Ingest{}, fmt.Errorf("create ingest: purge: %w", err)
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO ingests (id, app_id, room_id, user_id, stream_id, expires_at, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, in.ID, in.App, in.Room, in.User, in.Stream, millis(in.ExpiresAt), millis(in.CreatedAt))
	if isForeignKeyViolation(err) {
		return store.Ingest{}, fmt.Errorf("create ingest: app %q: %w", in.App, store.ErrNotFound)
	}
	if err != nil {
		return store.Ingest{}, fmt.Errorf("create ingest: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return store.Ingest{}, fmt.Errorf("create ingest: %w", err)
	}
	return in, nil
}

// GetIngest implements store.Ingests.
func (d *DB) GetIngest(ctx context.Context, app ids.AppID, id string) (store.Ingest, error) {
	in, err := scanIngest(d.db.QueryRowContext(ctx, `SELECT `+ingestColumns+` FROM ingests WHERE app_id = ? AND id = ?`, app, id))
	if errors.Is(err, sql.ErrNoRows) {
		return store.Ingest{}, fmt.Errorf("ingest %q: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return store.Ingest{}, fmt.Errorf("get ingest %q: %w", id, err)
	}
	return in, nil
}

// ListIngests implements store.Ingests.
func (d *DB) ListIngests(ctx context.Context, app ids.AppID, now time.Time) ([]store.Ingest, error) {
	rows, err := d.db.QueryContext(ctx, `SELECT `+ingestColumns+` FROM ingests
		WHERE app_id = ? AND expires_at > ? ORDER BY created_at DESC, id DESC LIMIT ?`,
		app, millis(now), store.MaxIngestList)
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
	in, err := scanIngest(d.db.QueryRowContext(ctx, `UPDATE ingests SET revoked_at = COALESCE(revoked_at, ?)
		WHERE app_id = ? AND id = ? RETURNING `+ingestColumns, millis(now), app, id))
	if errors.Is(err, sql.ErrNoRows) {
		return store.Ingest{}, fmt.Errorf("revoke ingest: ingest %q: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return store.Ingest{}, fmt.Errorf("revoke ingest %q: %w", id, err)
	}
	return in, nil
}

// IngestRevoked implements store.Ingests.
func (d *DB) IngestRevoked(ctx context.Context, app ids.AppID, room ids.RoomID, stream ids.StreamID, user ids.UserID, expires time.Time) (bool, error) {
	var one int
	err := d.db.QueryRowContext(ctx, `SELECT 1 FROM ingests
		WHERE app_id = ? AND room_id = ? AND stream_id = ? AND user_id = ? AND expires_at = ? AND revoked_at IS NOT NULL LIMIT 1`,
		app, room, stream, user, millis(expires.Truncate(time.Second))).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("check ingest revocation: %w", err)
	}
	return true, nil
}
