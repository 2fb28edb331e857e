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

// PutBan implements store.Bans.
func (d *DB) PutBan(ctx context.Context, b store.Ban) error {
	if err := b.Validate(); err != nil {
		return err
	}
	_, err := d.pool.Exec(ctx, `INSERT INTO bans (app_id, room_id, user_id, until, banned_by, reason)
		VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (app_id, room_id, user_id) DO UPDATE SET
			until = excluded.until, banned_by = excluded.banned_by, reason = excluded.reason`,
		b.App, b.Room, b.User, nullTime(b.Until), b.By, b.Reason)
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
	var until *time.Time
	err := d.pool.QueryRow(ctx, `SELECT until, banned_by, reason FROM bans
		WHERE app_id = $1 AND room_id = $2 AND user_id = $3 AND (until IS NULL OR until > $4)`,
		app, room, user, ms(now)).Scan(&until, &b.By, &b.Reason)
	if errors.Is(err, pgx.ErrNoRows) {
		return store.Ban{}, false, nil
	}
	if err != nil {
		return store.Ban{}, false, fmt.Errorf("check ban: %w", err)
	}
	b.Until = fromNullDB(until)
	return b, true, nil
}

// DeleteBan implements store.Bans.
func (d *DB) DeleteBan(ctx context.Context, app ids.AppID, room ids.RoomID, user ids.UserID) error {
	if _, err := d.pool.Exec(ctx, `DELETE FROM bans WHERE app_id = $1 AND room_id = $2 AND user_id = $3`, app, room, user); err != nil {
		return fmt.Errorf("delete ban: %w", err)
	}
	return nil
}
