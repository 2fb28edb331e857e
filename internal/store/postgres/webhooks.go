package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/minirtc/minirtc/internal/store"
	"github.com/minirtc/minirtc/pkg/ids"
)

// Concurrency. SQLite runs one writer at a time, which keeps its outbox
// simple. PostgreSQL runs transactions side by side (several nodes share
// one database), so the outbox keeps its rules — each queue has at most one
// head, its lowest pending delivery; no delivery is claimed twice — this way:
//
//   - Every transaction that adds deliveries, finishes one or fails some
//     (EnqueueWebhookEvents, RecordWebhookAttempt, PutWebhookSettings, and
//     DeleteApp's cascade) first takes the app's advisory lock
//     (lockWebhookApps): per app they run one at a time, as in SQLite.
//     Without it, an enqueue could read "the queue has a pending head" while
//     a concurrent completion promotes "the next pending delivery" without
//     seeing the new one, leaving a queue with no head for ever.
//   - Claims take no app lock. They lock their candidates with FOR UPDATE
//     and re-check that each is still a due head, so two claimers never take
//     the same delivery; the loser of a race returns fewer deliveries, not
//     wrong ones.
//   - App locks come before any row lock (several apps in sorted order),
//     and delivery rows are locked in ascending id order, so these
//     transactions cannot wait for each other in a circle.

// webhookLockClass is the first key of the two-key advisory locks that
// serialise one app's outbox changes; the second is hashtext(app id). A
// hash collision only makes two apps wait for each other.
const webhookLockClass int32 = 0x77686b73 // "whks"

// lockWebhookApps takes the webhook locks of apps (held until the
// transaction ends), in sorted order.
func lockWebhookApps(ctx context.Context, tx pgx.Tx, apps ...ids.AppID) error {
	apps = slices.Clone(apps)
	slices.Sort(apps)
	for _, a := range slices.Compact(apps) {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, hashtext($2))`, webhookLockClass, string(a)); err != nil {
			return fmt.Errorf("lock the webhooks of app %s: %w", a, err)
		}
	}
	return nil
}

// WebhookSettings implements store.Webhooks.
func (d *DB) WebhookSettings(ctx context.Context, app ids.AppID) (store.WebhookSettings, error) {
	return webhookSettings(ctx, d.pool, app)
}

// querier is what a pool and a transaction share.
type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

func webhookSettings(ctx context.Context, q querier, app ids.AppID) (store.WebhookSettings, error) {
	s := store.WebhookSettings{App: app}
	var (
		urls    []string
		secret  *string
		updated *time.Time
	)
	// LEFT JOIN: one query tells a missing app from an app without settings.
	err := q.QueryRow(ctx, `SELECT w.urls, w.secret, w.updated_at FROM apps a
		LEFT JOIN webhook_settings w ON w.app_id = a.id WHERE a.id = $1`, app).Scan(&urls, &secret, &updated)
	if errors.Is(err, pgx.ErrNoRows) {
		return store.WebhookSettings{}, fmt.Errorf("webhook settings: app %q: %w", app, store.ErrNotFound)
	}
	if err != nil {
		return store.WebhookSettings{}, fmt.Errorf("webhook settings: %w", err)
	}
	if updated != nil {
		s.URLs = append([]string{}, urls...)
		s.Secret = *secret
	}
	s.UpdatedAt = fromNullDB(updated)
	return s, nil
}

// PutWebhookSettings implements store.Webhooks.
func (d *DB) PutWebhookSettings(ctx context.Context, s store.WebhookSettings, now time.Time) (store.WebhookSettings, error) {
	if err := s.Validate(); err != nil {
		return store.WebhookSettings{}, err
	}
	tx, err := d.pool.Begin(ctx)
	if err != nil {
		return store.WebhookSettings{}, fmt.Errorf("put webhook settings: %w", err)
	}
	defer tx.Rollback(ctx)
	if err := lockWebhookApps(ctx, tx, s.App); err != nil {
		return store.WebhookSettings{}, fmt.Errorf("put webhook settings: %w", err)
	}
	cur, err := webhookSettings(ctx, tx, s.App)
	if err != nil {
		return store.WebhookSettings{}, err
	}
	out := store.WebhookSettings{App: s.App, URLs: append([]string{}, s.URLs...), Secret: s.Secret, UpdatedAt: ms(now)}
	if out.Secret == "" {
		out.Secret = cur.Secret
	}
	if out.Secret == "" {
		out.Secret = store.NewSecret()
	}
	if _, err := tx.Exec(ctx, `INSERT INTO webhook_settings (app_id, urls, secret, updated_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (app_id) DO UPDATE SET urls = excluded.urls, secret = excluded.secret, updated_at = excluded.updated_at`,
		s.App, out.URLs, out.Secret, out.UpdatedAt); err != nil {
		return store.WebhookSettings{}, fmt.Errorf("put webhook settings: %w", err)
	}
	// Every pending delivery of a removed URL goes, so no promotion of a
	// next head is needed.
	if _, err := tx.Exec(ctx, `UPDATE webhook_deliveries d
		SET state = 'failed', head = false, next_attempt_at = NULL, done_at = $1, last_error = $2
		FROM (SELECT id FROM webhook_deliveries WHERE app_id = $3 AND state = 'pending' AND NOT (url = ANY($4))
			ORDER BY id FOR UPDATE) l
		WHERE d.id = l.id`,
		out.UpdatedAt, store.ErrWebhookURLRemoved, s.App, out.URLs); err != nil {
		return store.WebhookSettings{}, fmt.Errorf("put webhook settings: fail deliveries to removed URLs: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return store.WebhookSettings{}, fmt.Errorf("put webhook settings: %w", err)
	}
	return out, nil
}

// EnqueueWebhookEvents implements store.Webhooks.
func (d *DB) EnqueueWebhookEvents(ctx context.Context, evs []store.WebhookEvent, now time.Time) ([]store.WebhookEvent, error) {
	for _, e := range evs {
		if err := e.Validate(); err != nil {
			return nil, err
		}
	}
	out := make([]store.WebhookEvent, len(evs))
	copy(out, evs)
	if len(evs) == 0 {
		return out, nil
	}
	tx, err := d.pool.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("enqueue webhook events: %w", err)
	}
	defer tx.Rollback(ctx)
	apps := make([]ids.AppID, len(out))
	for i, e := range out {
		apps[i] = e.App
	}
	if err := lockWebhookApps(ctx, tx, apps...); err != nil {
		return nil, fmt.Errorf("enqueue webhook events: %w", err)
	}
	nowMS := ms(now)
	urlsOf := make(map[ids.AppID][]string)
	for i := range out {
		e := &out[i]
		e.Seq = 0
		err := tx.QueryRow(ctx, `SELECT seq FROM webhook_events WHERE id = $1`, e.ID).Scan(&e.Seq)
		if err == nil {
			continue // already stored: idempotent retry
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return nil, fmt.Errorf("enqueue webhook events: %w", err)
		}
		urls, ok := urlsOf[e.App]
		if !ok {
			err := tx.QueryRow(ctx, `SELECT urls FROM webhook_settings WHERE app_id = $1`, e.App).Scan(&urls)
			if err != nil && !errors.Is(err, pgx.ErrNoRows) {
				return nil, fmt.Errorf("enqueue webhook events: %w", err)
			}
			urlsOf[e.App] = urls
		}
		if len(urls) == 0 {
			continue
		}
		if err := tx.QueryRow(ctx, `INSERT INTO webhook_room_seq AS s (app_id, room_id, last_seq) VALUES ($1, $2, 1)
			ON CONFLICT (app_id, room_id) DO UPDATE SET last_seq = s.last_seq + 1 RETURNING last_seq`,
			e.App, e.Room).Scan(&e.Seq); err != nil {
			return nil, fmt.Errorf("enqueue webhook events: sequence: %w", err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO webhook_events (id, app_id, room_id, user_id, type, seq, at, data)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
			e.ID, e.App, e.Room, e.User, e.Type, e.Seq, ms(e.At), []byte(e.DataOrEmpty())); err != nil {
			return nil, fmt.Errorf("enqueue webhook events: %w", err)
		}
		for _, u := range urls {
			// The new delivery heads its queue when the queue has nothing pending.
			if _, err := tx.Exec(ctx, `INSERT INTO webhook_deliveries
				(event_id, app_id, room_id, url, state, head, created_at, next_attempt_at)
				VALUES ($1, $2, $3, $4, 'pending', NOT EXISTS (SELECT 1 FROM webhook_deliveries
					WHERE state = 'pending' AND app_id = $2 AND room_id = $3 AND url = $4), $5, $5)`,
				e.ID, e.App, e.Room, u, nowMS); err != nil {
				return nil, fmt.Errorf("enqueue webhook events: delivery: %w", err)
			}
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, fmt.Errorf("enqueue webhook events: %w", err)
	}
	return out, nil
}

// deliveryColumns are read by scanDelivery, in this order.
const deliveryColumns = `d.id, d.url, d.state, d.attempts, d.created_at, d.next_attempt_at, d.last_attempt_at,
	d.last_status, d.last_error, d.done_at,
	e.id, e.app_id, e.room_id, e.user_id, e.type, e.seq, e.at, e.data`

func scanDelivery(r pgx.Row, extra ...any) (store.WebhookDelivery, error) {
	var (
		dl               store.WebhookDelivery
		created, evAt    time.Time
		next, last, done *time.Time
		data             []byte
		state            string
		e                = &dl.Event
	)
	dest := []any{&dl.ID, &dl.URL, &state, &dl.Attempts, &created, &next, &last, &dl.LastStatus, &dl.LastError, &done,
		&e.ID, &e.App, &e.Room, &e.User, &e.Type, &e.Seq, &evAt, &data}
	if err := r.Scan(append(dest, extra...)...); err != nil {
		return store.WebhookDelivery{}, err
	}
	dl.State = store.WebhookDeliveryState(state)
	dl.CreatedAt = fromDB(created)
	dl.NextAttemptAt = fromNullDB(next)
	dl.LastAttemptAt = fromNullDB(last)
	dl.DoneAt = fromNullDB(done)
	e.At = fromDB(evAt)
	e.Data = data
	return dl, nil
}

// ClaimWebhookDeliveries implements store.Webhooks.
func (d *DB) ClaimWebhookDeliveries(ctx context.Context, c store.WebhookClaim) ([]store.WebhookAttempt, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	// The per-URL limits go in as two arrays (never NULL: an empty map is
	// two empty arrays).
	limitURLs, limits := make([]string, 0, len(c.URLLimits)), make([]int32, 0, len(c.URLLimits))
	for u, n := range c.URLLimits {
		limitURLs, limits = append(limitURLs, u), append(limits, int32(n))
	}
	now := ms(c.Now)
	tx, err := d.pool.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("claim webhook deliveries: %w", err)
	}
	defer tx.Rollback(ctx)
	// Only heads are candidates, so this reads the due heads and nothing
	// behind them; the window ranks each URL's heads by due time.
	rows, err := tx.Query(ctx, `SELECT id FROM (
			SELECT id, url, next_attempt_at, row_number() OVER (PARTITION BY url ORDER BY next_attempt_at, id) AS rn
			FROM webhook_deliveries
			WHERE state = 'pending' AND head AND next_attempt_at <= $1
		) c
		WHERE rn <= COALESCE((SELECT l.n FROM unnest($2::text[], $3::int[]) AS l(url, n) WHERE l.url = c.url), $4)
		ORDER BY next_attempt_at, id LIMIT $5`, now, limitURLs, limits, c.PerURL, c.Limit)
	if err != nil {
		return nil, fmt.Errorf("claim webhook deliveries: %w", err)
	}
	candidates, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("claim webhook deliveries: %w", err)
	}
	if len(candidates) == 0 {
		return nil, nil
	}
	// Lock in id order and re-check: a candidate another claimer took (or a
	// completion finished) since the read above is left out.
	rows, err = tx.Query(ctx, `UPDATE webhook_deliveries d
		SET attempts = d.attempts + 1, last_attempt_at = $1, next_attempt_at = $2
		FROM (SELECT id FROM webhook_deliveries
			WHERE id = ANY($3) AND state = 'pending' AND head AND next_attempt_at <= $1 ORDER BY id FOR UPDATE) l
		WHERE d.id = l.id RETURNING d.id`, now, ms(c.Now.Add(c.Lease)), candidates)
	if err != nil {
		return nil, fmt.Errorf("claim webhook deliveries: %w", err)
	}
	taken, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("claim webhook deliveries: %w", err)
	}
	byID := make(map[int64]store.WebhookAttempt, len(taken))
	rows, err = tx.Query(ctx, `SELECT `+deliveryColumns+`, COALESCE(w.secret, '')
		FROM webhook_deliveries d JOIN webhook_events e ON e.id = d.event_id
		LEFT JOIN webhook_settings w ON w.app_id = d.app_id WHERE d.id = ANY($1)`, taken)
	if err != nil {
		return nil, fmt.Errorf("claim webhook deliveries: %w", err)
	}
	for rows.Next() {
		var secret string
		dl, err := scanDelivery(rows, &secret)
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("claim webhook deliveries: %w", err)
		}
		byID[dl.ID] = store.WebhookAttempt{Delivery: dl, Secret: secret}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("claim webhook deliveries: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, fmt.Errorf("claim webhook deliveries: %w", err)
	}
	var out []store.WebhookAttempt
	for _, id := range candidates { // earliest due first
		if at, ok := byID[id]; ok {
			out = append(out, at)
		}
	}
	return out, nil
}

// RecordWebhookAttempt implements store.Webhooks.
func (d *DB) RecordWebhookAttempt(ctx context.Context, id int64, o store.WebhookOutcome) error {
	if o.At.IsZero() {
		return errors.New("record webhook attempt: outcome time (At) is not set")
	}
	state, next, done, lastErr := store.WebhookPending, nullTime(o.NextAttemptAt), any(nil), store.TruncateUTF8(o.Error, store.MaxWebhookErrorLen)
	switch {
	case o.Delivered:
		state, next, done, lastErr = store.WebhookDelivered, nil, ms(o.At), ""
	case o.NextAttemptAt.IsZero():
		state, done = store.WebhookFailed, ms(o.At)
	}
	tx, err := d.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("record webhook attempt: %w", err)
	}
	defer tx.Rollback(ctx)
	var app ids.AppID
	err = tx.QueryRow(ctx, `SELECT app_id FROM webhook_deliveries WHERE id = $1`, id).Scan(&app)
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("record webhook attempt: delivery %d: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("record webhook attempt: %w", err)
	}
	if err := lockWebhookApps(ctx, tx, app); err != nil {
		return fmt.Errorf("record webhook attempt: %w", err)
	}
	var room, url string
	err = tx.QueryRow(ctx, `UPDATE webhook_deliveries
		SET state = $1, head = CASE WHEN $1 = 'pending' THEN head ELSE false END,
			next_attempt_at = $2, done_at = $3, last_status = $4, last_error = $5
		WHERE id = $6 AND state = 'pending' AND attempts = $7
		RETURNING room_id, url`,
		string(state), next, done, o.Status, lastErr, id, o.Attempt).Scan(&room, &url)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil // finished or re-claimed meanwhile (or its app deleted): this outcome is stale
	}
	if err != nil {
		return fmt.Errorf("record webhook attempt: %w", err)
	}
	if state != store.WebhookPending {
		// The queue's next delivery becomes its head; it keeps its
		// NextAttemptAt (its enqueue time), so it is due at once.
		if _, err := tx.Exec(ctx, `UPDATE webhook_deliveries SET head = true WHERE id = (
				SELECT id FROM webhook_deliveries WHERE state = 'pending' AND app_id = $1 AND room_id = $2 AND url = $3
				ORDER BY id LIMIT 1)`, app, room, url); err != nil {
			return fmt.Errorf("record webhook attempt: next in queue: %w", err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("record webhook attempt: %w", err)
	}
	return nil
}

// ListWebhookDeliveries implements store.Webhooks.
func (d *DB) ListWebhookDeliveries(ctx context.Context, q store.WebhookDeliveryQuery) ([]store.WebhookDelivery, error) {
	if err := q.Validate(); err != nil {
		return nil, err
	}
	var (
		where []string
		args  []any
	)
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, cond+" $"+strconv.Itoa(len(args)))
	}
	add("d.app_id =", q.App)
	if q.Room != "" {
		add("d.room_id =", q.Room)
	}
	if q.State != "" {
		add("d.state =", string(q.State))
	}
	if q.Type != "" {
		add("e.type =", q.Type)
	}
	if q.URL != "" {
		add("d.url =", q.URL)
	}
	if !q.From.IsZero() {
		add("e.at >=", ms(q.From))
	}
	if !q.To.IsZero() {
		add("e.at <", ms(q.To))
	}
	if q.BeforeID > 0 {
		add("d.id <", q.BeforeID)
	}
	args = append(args, q.EffectiveLimit())
	rows, err := d.pool.Query(ctx, `SELECT `+deliveryColumns+`
		FROM webhook_deliveries d JOIN webhook_events e ON e.id = d.event_id
		WHERE `+strings.Join(where, " AND ")+` ORDER BY d.id DESC LIMIT $`+strconv.Itoa(len(args)), args...)
	if err != nil {
		return nil, fmt.Errorf("list webhook deliveries: %w", err)
	}
	defer rows.Close()
	var out []store.WebhookDelivery
	for rows.Next() {
		dl, err := scanDelivery(rows)
		if err != nil {
			return nil, fmt.Errorf("list webhook deliveries: %w", err)
		}
		out = append(out, dl)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list webhook deliveries: %w", err)
	}
	return out, nil
}

// CountWebhookDeliveries implements store.Webhooks.
func (d *DB) CountWebhookDeliveries(ctx context.Context, app ids.AppID) (store.WebhookCounts, error) {
	var c store.WebhookCounts
	err := d.pool.QueryRow(ctx, `SELECT
			count(*) FILTER (WHERE state = 'pending'),
			count(*) FILTER (WHERE state = 'delivered'),
			count(*) FILTER (WHERE state = 'failed')
		FROM webhook_deliveries WHERE app_id = $1`, app).Scan(&c.Pending, &c.Delivered, &c.Failed)
	if err != nil {
		return store.WebhookCounts{}, fmt.Errorf("count webhook deliveries: %w", err)
	}
	return c, nil
}

// PurgeWebhookDeliveries implements store.Webhooks.
func (d *DB) PurgeWebhookDeliveries(ctx context.Context, before time.Time) (int64, error) {
	tx, err := d.pool.Begin(ctx)
	if err != nil {
		return 0, fmt.Errorf("purge webhook deliveries: %w", err)
	}
	defer tx.Rollback(ctx)
	rows, err := tx.Query(ctx, `DELETE FROM webhook_deliveries WHERE state <> 'pending' AND done_at < $1 RETURNING event_id`, ms(before))
	if err != nil {
		return 0, fmt.Errorf("purge webhook deliveries: %w", err)
	}
	events, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return 0, fmt.Errorf("purge webhook deliveries: %w", err)
	}
	if len(events) > 0 {
		// Only the events of the deleted deliveries can have been left
		// without any: a second statement, because within one statement
		// the deletions above would not be seen yet.
		slices.Sort(events)
		if _, err := tx.Exec(ctx, `DELETE FROM webhook_events e WHERE e.id = ANY($1)
			AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = e.id)`, slices.Compact(events)); err != nil {
			return 0, fmt.Errorf("purge webhook events: %w", err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, fmt.Errorf("purge webhook deliveries: %w", err)
	}
	return int64(len(events)), nil
}
