package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"time"

	"github.com/minirtc/minirtc/internal/store"
)

// ApplyUsage implements store.Usage.
func (d *DB) ApplyUsage(ctx context.Context, b store.UsageBatch) error {
	if err := b.Validate(); err != nil {
		return err
	}
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("apply usage: begin: %w", err)
	}
	defer tx.Rollback() // no-op after Commit

	// The id row goes in first: if it is already there, this batch was
	// applied by an earlier attempt whose answer got lost.
	res, err := tx.ExecContext(ctx, `INSERT INTO usage_batches (id, at) VALUES (?, ?) ON CONFLICT (id) DO NOTHING`,
		b.ID, millis(b.At))
	if err != nil {
		return fmt.Errorf("apply usage: record batch: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("apply usage: %w", err)
	} else if n == 0 {
		return nil
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM usage_batches WHERE at < ?`,
		millis(b.At.Add(-store.UsageBatchRetention))); err != nil {
		return fmt.Errorf("apply usage: prune batch ids: %w", err)
	}
	if err := applyDeltas(ctx, tx, b.Deltas); err != nil {
		return err
	}
	if err := applyUsers(ctx, tx, b.Users); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("apply usage: commit: %w", err)
	}
	return nil
}

func applyDeltas(ctx context.Context, tx *sql.Tx, deltas []store.UsageDelta) error {
	if len(deltas) == 0 {
		return nil
	}
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO usage_hours (app_id, hour,
		call_audio_s, call_360p_s, call_540p_s, call_720p_s, call_1080p_s, call_above_1080p_s,
		online_s, publish_s, subscribe_s, rooms_created, peak_rooms, peak_users, peak_call_users)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (app_id, hour) DO UPDATE SET
		call_audio_s       = call_audio_s + excluded.call_audio_s,
		call_360p_s        = call_360p_s + excluded.call_360p_s,
		call_540p_s        = call_540p_s + excluded.call_540p_s,
		call_720p_s        = call_720p_s + excluded.call_720p_s,
		call_1080p_s       = call_1080p_s + excluded.call_1080p_s,
		call_above_1080p_s = call_above_1080p_s + excluded.call_above_1080p_s,
		online_s           = online_s + excluded.online_s,
		publish_s          = publish_s + excluded.publish_s,
		subscribe_s        = subscribe_s + excluded.subscribe_s,
		rooms_created      = rooms_created + excluded.rooms_created,
		peak_rooms         = MAX(peak_rooms, excluded.peak_rooms),
		peak_users         = MAX(peak_users, excluded.peak_users),
		peak_call_users    = MAX(peak_call_users, excluded.peak_call_users)`)
	if err != nil {
		return fmt.Errorf("apply usage: %w", err)
	}
	defer stmt.Close()
	for _, u := range deltas {
		c := u.Call
		if _, err := stmt.ExecContext(ctx, u.App, millis(u.Hour),
			c.Audio, c.P360, c.P540, c.P720, c.P1080, c.Above1080,
			u.OnlineSeconds, u.PublishSeconds, u.SubscribeSeconds, u.RoomsCreated,
			u.PeakRooms, u.PeakUsers, u.PeakCallUsers); err != nil {
			return fmt.Errorf("apply usage: app %s hour %s: %w", u.App, u.Hour.UTC().Format(time.RFC3339), err)
		}
	}
	return nil
}

func applyUsers(ctx context.Context, tx *sql.Tx, users []store.UsageUser) error {
	if len(users) == 0 {
		return nil
	}
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO usage_users (app_id, hour, kind, user_id) VALUES (?, ?, ?, ?)
		ON CONFLICT (app_id, hour, kind, user_id) DO NOTHING`)
	if err != nil {
		return fmt.Errorf("apply usage: %w", err)
	}
	defer stmt.Close()
	for _, u := range users {
		if _, err := stmt.ExecContext(ctx, u.App, millis(u.Hour), string(u.Kind), u.User); err != nil {
			return fmt.Errorf("apply usage: user %s: %w", u.User, err)
		}
	}
	return nil
}

// QueryUsage implements store.Usage.
func (d *DB) QueryUsage(ctx context.Context, q store.UsageQuery) ([]store.UsagePeriod, error) {
	if err := q.Validate(); err != nil {
		return nil, err
	}
	byIndex, err := d.aggregateUsage(ctx, q, q.By.Duration())
	if err != nil {
		return nil, err
	}
	out := make([]store.UsagePeriod, 0, len(byIndex))
	for i, f := range byIndex {
		out = append(out, store.UsagePeriod{Start: q.From.Add(time.Duration(i) * q.By.Duration()).UTC(), UsageFigures: *f})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Start.Before(out[j].Start) })
	return out, nil
}

// UsageTotal implements store.Usage.
func (d *DB) UsageTotal(ctx context.Context, q store.UsageQuery) (store.UsageFigures, error) {
	if err := q.Validate(); err != nil {
		return store.UsageFigures{}, err
	}
	byIndex, err := d.aggregateUsage(ctx, q, q.To.Sub(q.From))
	if err != nil || byIndex[0] == nil {
		return store.UsageFigures{}, err
	}
	return *byIndex[0], nil
}

// aggregateUsage groups the hours of [q.From, q.To) into periods of length
// period, numbered from 0 at q.From.
func (d *DB) aggregateUsage(ctx context.Context, q store.UsageQuery, period time.Duration) (map[int64]*store.UsageFigures, error) {
	from, to, p := millis(q.From), millis(q.To), period.Milliseconds()
	out := map[int64]*store.UsageFigures{}
	get := func(i int64) *store.UsageFigures {
		if out[i] == nil {
			out[i] = &store.UsageFigures{}
		}
		return out[i]
	}
	rows, err := d.db.QueryContext(ctx, `SELECT (hour - ?) / ? AS p,
		SUM(call_audio_s), SUM(call_360p_s), SUM(call_540p_s), SUM(call_720p_s), SUM(call_1080p_s), SUM(call_above_1080p_s),
		SUM(online_s), SUM(publish_s), SUM(subscribe_s), SUM(rooms_created),
		MAX(peak_rooms), MAX(peak_users), MAX(peak_call_users)
		FROM usage_hours WHERE app_id = ? AND hour >= ? AND hour < ? GROUP BY p`, from, p, q.App, from, to)
	if err != nil {
		return nil, fmt.Errorf("query usage: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var i int64
		var f store.UsageFigures
		c := &f.Call
		if err := rows.Scan(&i, &c.Audio, &c.P360, &c.P540, &c.P720, &c.P1080, &c.Above1080,
			&f.OnlineSeconds, &f.PublishSeconds, &f.SubscribeSeconds, &f.RoomsCreated,
			&f.PeakRooms, &f.PeakUsers, &f.PeakCallUsers); err != nil {
			return nil, fmt.Errorf("query usage: %w", err)
		}
		*get(i) = f
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("query usage: %w", err)
	}
	rows.Close()

	urows, err := d.db.QueryContext(ctx, `SELECT (hour - ?) / ? AS p, kind, COUNT(DISTINCT user_id)
		FROM usage_users WHERE app_id = ? AND hour >= ? AND hour < ? GROUP BY p, kind`, from, p, q.App, from, to)
	if err != nil {
		return nil, fmt.Errorf("query usage users: %w", err)
	}
	defer urows.Close()
	for urows.Next() {
		var (
			i, n int64
			kind string
		)
		if err := urows.Scan(&i, &kind, &n); err != nil {
			return nil, fmt.Errorf("query usage users: %w", err)
		}
		switch store.UsageUserKind(kind) {
		case store.UsersOnline:
			get(i).UniqueUsers = n
		case store.UsersInCall:
			get(i).UniqueCallUsers = n
		}
	}
	if err := urows.Err(); err != nil {
		return nil, fmt.Errorf("query usage users: %w", err)
	}
	return out, nil
}
