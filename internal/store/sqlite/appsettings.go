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
	a, err := scanApp(d.db.QueryRowContext(ctx, `UPDATE apps SET
			name = COALESCE(?, name),
			max_participants = COALESCE(?, max_participants),
			max_rooms = COALESCE(?, max_rooms),
			updated_at = ?
		WHERE id = ? RETURNING `+appColumns,
		nullString(u.Name), nullInt(u.MaxParticipants), nullInt(u.MaxRooms), millis(now), id))
	if errors.Is(err, sql.ErrNoRows) {
		return store.App{}, fmt.Errorf("update app: app %q: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return store.App{}, fmt.Errorf("update app %q: %w", id, err)
	}
	return a, nil
}

// DeleteApp implements store.AppSettings. The tables of what goes with the
// app reference apps(id) with ON DELETE CASCADE, so one DELETE removes it
// all; usage tables have no such reference and keep their rows.
func (d *DB) DeleteApp(ctx context.Context, id ids.AppID) error {
	res, err := d.db.ExecContext(ctx, `DELETE FROM apps WHERE id = ?`, id)
	if err != nil {
		return fmt.Errorf("delete app %q: %w", id, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("delete app %q: %w", id, err)
	}
	if n == 0 {
		return fmt.Errorf("delete app: app %q: %w", id, store.ErrNotFound)
	}
	return nil
}

func nullString(p *string) sql.NullString {
	if p == nil {
		return sql.NullString{}
	}
	return sql.NullString{String: *p, Valid: true}
}

func nullInt(p *int) sql.NullInt64 {
	if p == nil {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: int64(*p), Valid: true}
}
