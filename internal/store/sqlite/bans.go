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

// PutBan implements store.Bans.
func (d *DB) PutBan(ctx context.Context, b store.Ban) error {
	if err := b.Validate(); err != nil {
		return err
	}
	_, err := d.db.ExecContext(ctx, `INSERT INTO bans (app_id, room_id, user_id, until, banned_by, reason)
		VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (app_id, room_id, user_id) DO UPDATE SET
			until = excluded.until, banned_by = excluded.banned_by, reason = excluded.reason`,
		b.App, b.Room, b.User, nullMillis(b.Until), b.By, b.Reason)
	if isForeignKeyViolation(err) {
		return fmt.Errorf("put ban: app %q: %w", b.App, store.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("put ban: %w", err)
	}
	return nil
}

// ActiveBan implements store.Bans.
func (d *DB) ActiveBan(ctx context.Context, app ids.AppID, room ids.RoomID, user ids.UserID, now time.Time) (store.Ban, bool, error) {
	b := store.Ban{App: app, Room: room, User: user}
	var until sql.NullInt64
	err := d.db.QueryRowContext(ctx, `SELECT until, banned_by, reason FROM bans
		WHERE app_id = ? AND room_id = ? AND user_id = ? AND (until IS NULL OR until > ?)`,
		app, room, user, millis(now)).Scan(&until, &b.By, &b.Reason)
	if errors.Is(err, sql.ErrNoRows) {
		return store.Ban{}, false, nil
	}
	if err != nil {
		return store.Ban{}, false, fmt.Errorf("check ban: %w", err)
	}
	b.Until = fromNullMillis(until)
	return b, true, nil
}

// DeleteBan implements store.Bans.
func (d *DB) DeleteBan(ctx context.Context, app ids.AppID, room ids.RoomID, user ids.UserID) error {
	if _, err := d.db.ExecContext(ctx, `DELETE FROM bans WHERE app_id = ? AND room_id = ? AND user_id = ?`, app, room, user); err != nil {
		return fmt.Errorf("delete ban: %w", err)
	}
	return nil
}
