package postgres

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/minirtc/minirtc/internal/store"
)

// ApplyUsage implements store.Usage.
//
// Two nodes may flush at once. Both upsert rows of usage_hours and
// usage_users, which lock them until commit; the rows are taken in a fixed
// order (sorted by key) so that two flushes cannot wait for each other in a
// circle.
func (d *DB) ApplyUsage(ctx context.Context, b store.UsageBatch) error {
	if err := b.Validate(); err != nil {
		return err
	}
	tx, err := d.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("apply usage: begin: %w", err)
	}
	defer tx.Rollback(ctx) // no-op after Commit

	// The id row goes in first: if it is already there, this batch was
	// applied by an earlier attempt whose answer got lost. A concurrent
	// attempt with the same id waits here for the first one's outcome.
	tag, err := tx.Exec(ctx, `INSERT INTO usage_batches (id, at) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING`, b.ID, ms(b.At))
	if err != nil {
		return fmt.Errorf("apply usage: record batch: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return nil
	}
	if _, err := tx.Exec(ctx, `DELETE FROM usage_batches WHERE at < $1`, ms(b.At.Add(-store.UsageBatchRetention))); err != nil {
		return fmt.Errorf("apply usage: prune batch ids: %w", err)
	}
	if err := applyDeltas(ctx, tx, b.Deltas); err != nil {
		return err
	}
	if err := applyUsers(ctx, tx, b.Users); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("apply usage: commit: %w", err)
	}
	return nil
}

func applyDeltas(ctx context.Context, tx pgx.Tx, deltas []store.UsageDelta) error {
	if len(deltas) == 0 {
		return nil
	}
	sorted := slices.Clone(deltas)
	slices.SortFunc(sorted, func(a, b store.UsageDelta) int {
		return cmp.Or(cmp.Compare(a.App, b.App), a.Hour.Compare(b.Hour))
	})
	var batch pgx.Batch
	for _, u := range sorted {
		c := u.Call
		batch.Queue(`INSERT INTO usage_hours AS h (app_id, hour,
			call_audio_s, call_360p_s, call_540p_s, call_720p_s, call_1080p_s, call_above_1080p_s,
			online_s, publish_s, subscribe_s, rooms_created, peak_rooms, peak_users, peak_call_users)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
			ON CONFLICT (app_id, hour) DO UPDATE SET
			call_audio_s       = h.call_audio_s + excluded.call_audio_s,
			call_360p_s        = h.call_360p_s + excluded.call_360p_s,
			call_540p_s        = h.call_540p_s + excluded.call_540p_s,
			call_720p_s        = h.call_720p_s + excluded.call_720p_s,
			call_1080p_s       = h.call_1080p_s + excluded.call_1080p_s,
			call_above_1080p_s = h.call_above_1080p_s + excluded.call_above_1080p_s,
			online_s           = h.online_s + excluded.online_s,
			publish_s          = h.publish_s + excluded.publish_s,
			subscribe_s        = h.subscribe_s + excluded.subscribe_s,
			rooms_created      = h.rooms_created + excluded.rooms_created,
			peak_rooms         = GREATEST(h.peak_rooms, excluded.peak_rooms),
			peak_users         = GREATEST(h.peak_users, excluded.peak_users),
			peak_call_users    = GREATEST(h.peak_call_users, excluded.peak_call_users)`,
			u.App, u.Hour.UTC(),
			c.Audio, c.P360, c.P540, c.P720, c.P1080, c.Above1080,
			u.OnlineSeconds, u.PublishSeconds, u.SubscribeSeconds, u.RoomsCreated,
			u.PeakRooms, u.PeakUsers, u.PeakCallUsers)
	}
	if err := tx.SendBatch(ctx, &batch).Close(); err != nil {
		return fmt.Errorf("apply usage: hours: %w", err)
	}
	return nil
}

func applyUsers(ctx context.Context, tx pgx.Tx, users []store.UsageUser) error {
	if len(users) == 0 {
		return nil
	}
	sorted := slices.Clone(users)
	slices.SortFunc(sorted, func(a, b store.UsageUser) int {
		return cmp.Or(cmp.Compare(a.App, b.App), a.Hour.Compare(b.Hour), cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.User, b.User))
	})
	var batch pgx.Batch
	for _, u := range sorted {
		batch.Queue(`INSERT INTO usage_users (app_id, hour, kind, user_id) VALUES ($1, $2, $3, $4)
			ON CONFLICT (app_id, hour, kind, user_id) DO NOTHING`, u.App, u.Hour.UTC(), string(u.Kind), u.User)
	}
	if err := tx.SendBatch(ctx, &batch).Close(); err != nil {
		return fmt.Errorf("apply usage: users: %w", err)
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
	slices.SortFunc(out, func(a, b store.UsagePeriod) int { return a.Start.Compare(b.Start) })
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
// period, numbered from 0 at q.From. The period of an hour is computed in
// whole milliseconds, as the SQLite store does, so both group alike.
func (d *DB) aggregateUsage(ctx context.Context, q store.UsageQuery, period time.Duration) (map[int64]*store.UsageFigures, error) {
	from, to, p := q.From.UTC(), q.To.UTC(), period.Milliseconds()
	const periodOf = `div((extract(epoch FROM hour) * 1000)::bigint - $1, $2)`
	out := map[int64]*store.UsageFigures{}
	get := func(i int64) *store.UsageFigures {
		if out[i] == nil {
			out[i] = &store.UsageFigures{}
		}
		return out[i]
	}
	rows, err := d.pool.Query(ctx, `SELECT `+periodOf+` AS p,
		SUM(call_audio_s)::bigint, SUM(call_360p_s)::bigint, SUM(call_540p_s)::bigint, SUM(call_720p_s)::bigint,
		SUM(call_1080p_s)::bigint, SUM(call_above_1080p_s)::bigint,
		SUM(online_s)::bigint, SUM(publish_s)::bigint, SUM(subscribe_s)::bigint, SUM(rooms_created)::bigint,
		MAX(peak_rooms), MAX(peak_users), MAX(peak_call_users)
		FROM usage_hours WHERE app_id = $3 AND hour >= $4 AND hour < $5 GROUP BY p`,
		from.UnixMilli(), p, q.App, from, to)
	if err != nil {
		return nil, fmt.Errorf("query usage: %w", err)
	}
	for rows.Next() {
		var i int64
		var f store.UsageFigures
		c := &f.Call
		if err := rows.Scan(&i, &c.Audio, &c.P360, &c.P540, &c.P720, &c.P1080, &c.Above1080,
			&f.OnlineSeconds, &f.PublishSeconds, &f.SubscribeSeconds, &f.RoomsCreated,
			&f.PeakRooms, &f.PeakUsers, &f.PeakCallUsers); err != nil {
			rows.Close()
			return nil, fmt.Errorf("query usage: %w", err)
		}
		*get(i) = f
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("query usage: %w", err)
	}

	urows, err := d.pool.Query(ctx, `SELECT `+periodOf+` AS p, kind, COUNT(DISTINCT user_id)
		FROM usage_users WHERE app_id = $3 AND hour >= $4 AND hour < $5 GROUP BY p, kind`,
		from.UnixMilli(), p, q.App, from, to)
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
