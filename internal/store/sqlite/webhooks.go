package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/minirtc/minirtc/internal/store"
	"github.com/minirtc/minirtc/pkg/ids"
)

// WebhookSettings implements store.Webhooks.
func (d *DB) WebhookSettings(ctx context.Context, app ids.AppID) (store.WebhookSettings, error) {
	return webhookSettings(ctx, d.db, app)
}

func webhookSettings(ctx context.Context, q querier, app ids.AppID) (store.WebhookSettings, error) {
	s := store.WebhookSettings{App: app}
	var (
		urls    sql.NullString
		secret  sql.NullString
		updated sql.NullInt64
	)
	// LEFT JOIN: one query tells a missing app from an app without settings.
	err := q.QueryRowContext(ctx, `SELECT w.urls, w.secret, w.updated_at FROM apps a
		LEFT JOIN webhook_settings w ON w.app_id = a.id WHERE a.id = ?`, app).Scan(&urls, &secret, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return store.WebhookSettings{}, fmt.Errorf("webhook settings: app %q: %w", app, store.ErrNotFound)
	}
	if err != nil {
		return store.WebhookSettings{}, fmt.Errorf("webhook settings: %w", err)
	}
	if urls.Valid {
		if err := json.Unmarshal([]byte(urls.String), &s.URLs); err != nil {
			return store.WebhookSettings{}, fmt.Errorf("webhook settings of app %s: stored URLs: %w", app, err)
		}
	}
	s.Secret = secret.String
	s.UpdatedAt = fromNullMillis(updated)
	return s, nil
}

// PutWebhookSettings implements store.Webhooks.
func (d *DB) PutWebhookSettings(ctx context.Context, s store.WebhookSettings, now time.Time) (store.WebhookSettings, error) {
	if err := s.Validate(); err != nil {
		return store.WebhookSettings{}, err
	}
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return store.WebhookSettings{}, fmt.Errorf("put webhook settings: %w", err)
	}
	defer tx.Rollback()
	cur, err := webhookSettings(ctx, tx, s.App)
	if err != nil {
		return store.WebhookSettings{}, err
	}
	out := store.WebhookSettings{App: s.App, URLs: append([]string{}, s.URLs...), Secret: s.Secret, UpdatedAt: fromMillis(millis(now))}
	if out.Secret == "" {
		out.Secret = cur.Secret
	}
	if out.Secret == "" {
		out.Secret = store.NewSecret()
	}
	urls, _ := json.Marshal(out.URLs)
	if _, err := tx.ExecContext(ctx, `INSERT INTO webhook_settings (app_id, urls, secret, updated_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (app_id) DO UPDATE SET urls = excluded.urls, secret = excluded.secret, updated_at = excluded.updated_at`,
		s.App, string(urls), out.Secret, millis(now)); err != nil {
		return store.WebhookSettings{}, fmt.Errorf("put webhook settings: %w", err)
	}
	// Every pending delivery of a removed URL goes, so no promotion of a
	// next head is needed.
	if _, err := tx.ExecContext(ctx, `UPDATE webhook_deliveries
		SET state = 'failed', head = 0, next_attempt_at = NULL, done_at = ?, last_error = ?
		WHERE app_id = ? AND state = 'pending' AND url NOT IN (SELECT value FROM json_each(?))`,
		millis(now), store.ErrWebhookURLRemoved, s.App, string(urls)); err != nil {
		return store.WebhookSettings{}, fmt.Errorf("put webhook settings: fail deliveries to removed URLs: %w", err)
	}
	if err := tx.Commit(); err != nil {
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
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("enqueue webhook events: %w", err)
	}
	defer tx.Rollback()
	st, err := prepareEnqueue(ctx, tx)
	if err != nil {
		return nil, err
	}
	defer st.close()
	urlsOf := make(map[ids.AppID][]string)
	for i := range out {
		e := &out[i]
		e.Seq = 0
		err := st.existing.QueryRowContext(ctx, e.ID).Scan(&e.Seq)
		if err == nil {
			continue // already stored: idempotent retry
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return nil, fmt.Errorf("enqueue webhook events: %w", err)
		}
		urls, ok := urlsOf[e.App]
		if !ok {
			var raw string
			err := st.urls.QueryRowContext(ctx, e.App).Scan(&raw)
			switch {
			case errors.Is(err, sql.ErrNoRows):
			case err != nil:
				return nil, fmt.Errorf("enqueue webhook events: %w", err)
			default:
				if err := json.Unmarshal([]byte(raw), &urls); err != nil {
					return nil, fmt.Errorf("enqueue webhook events: stored URLs of app %s: %w", e.App, err)
				}
			}
			urlsOf[e.App] = urls
		}
		if len(urls) == 0 {
			continue
		}
		if err := st.seq.QueryRowContext(ctx, e.App, e.Room).Scan(&e.Seq); err != nil {
			return nil, fmt.Errorf("enqueue webhook events: sequence: %w", err)
		}
		if _, err := st.event.ExecContext(ctx, e.ID, e.App, e.Room, e.User, e.Type, e.Seq, millis(e.At), string(e.DataOrEmpty())); err != nil {
			return nil, fmt.Errorf("enqueue webhook events: %w", err)
		}
		for _, u := range urls {
			if _, err := st.delivery.ExecContext(ctx, e.ID, e.App, e.Room, u, e.App, e.Room, u, millis(now), millis(now)); err != nil {
				return nil, fmt.Errorf("enqueue webhook events: delivery: %w", err)
			}
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("enqueue webhook events: %w", err)
	}
	return out, nil
}

type enqueueStmts struct {
	existing, urls, seq, event, delivery *sql.Stmt
}

func prepareEnqueue(ctx context.Context, tx *sql.Tx) (*enqueueStmts, error) {
	st := &enqueueStmts{}
	for _, p := range []struct {
		s   **sql.Stmt
		sql string
	}{
		{&st.existing, `SELECT seq FROM webhook_events WHERE id = ?`},
		{&st.urls, `SELECT urls FROM webhook_settings WHERE app_id = ?`},
		{&st.seq, `INSERT INTO webhook_room_seq (app_id, room_id, last_seq) VALUES (?, ?, 1)
			ON CONFLICT (app_id, room_id) DO UPDATE SET last_seq = last_seq + 1 RETURNING last_seq`},
		{&st.event, `INSERT INTO webhook_events (id, app_id, room_id, user_id, type, seq, at, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`},
		// The new delivery heads its queue when the queue has nothing pending.
		{&st.delivery, `INSERT INTO webhook_deliveries (event_id, app_id, room_id, url, state, head, created_at, next_attempt_at)
			VALUES (?, ?, ?, ?, 'pending', NOT EXISTS (SELECT 1 FROM webhook_deliveries
				WHERE state = 'pending' AND app_id = ? AND room_id = ? AND url = ?), ?, ?)`},
	} {
		s, err := tx.PrepareContext(ctx, p.sql)
		if err != nil {
			st.close()
			return nil, fmt.Errorf("enqueue webhook events: prepare: %w", err)
		}
		*p.s = s
	}
	return st, nil
}

func (st *enqueueStmts) close() {
	for _, s := range []*sql.Stmt{st.existing, st.urls, st.seq, st.event, st.delivery} {
		if s != nil {
			s.Close()
		}
	}
}

// deliveryColumns are read by scanDelivery, in this order.
const deliveryColumns = `d.id, d.url, d.state, d.attempts, d.created_at, d.next_attempt_at, d.last_attempt_at,
	d.last_status, d.last_error, d.done_at,
	e.id, e.app_id, e.room_id, e.user_id, e.type, e.seq, e.at, e.data`

type rowScanner interface{ Scan(dest ...any) error }

func scanDelivery(r rowScanner, extra ...any) (store.WebhookDelivery, error) {
	var (
		dl               store.WebhookDelivery
		created, evAt    int64
		next, last, done sql.NullInt64
		data             string
		state            string
		e                = &dl.Event
	)
	dest := []any{&dl.ID, &dl.URL, &state, &dl.Attempts, &created, &next, &last, &dl.LastStatus, &dl.LastError, &done,
		&e.ID, &e.App, &e.Room, &e.User, &e.Type, &e.Seq, &evAt, &data}
	if err := r.Scan(append(dest, extra...)...); err != nil {
		return store.WebhookDelivery{}, err
	}
	dl.State = store.WebhookDeliveryState(state)
	dl.CreatedAt = fromMillis(created)
	dl.NextAttemptAt = fromNullMillis(next)
	dl.LastAttemptAt = fromNullMillis(last)
	dl.DoneAt = fromNullMillis(done)
	e.At = fromMillis(evAt)
	e.Data = json.RawMessage(data)
	return dl, nil
}

// ClaimWebhookDeliveries implements store.Webhooks.
func (d *DB) ClaimWebhookDeliveries(ctx context.Context, c store.WebhookClaim) ([]store.WebhookAttempt, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	limits, _ := json.Marshal(c.URLLimits)
	if c.URLLimits == nil {
		limits = []byte("{}")
	}
	now := millis(c.Now)
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("claim webhook deliveries: %w", err)
	}
	defer tx.Rollback()
	// Only heads are candidates, so this reads the due heads and nothing
	// behind them; the window ranks each URL's heads by due time.
	rows, err := tx.QueryContext(ctx, `SELECT id FROM (
			SELECT id, url, next_attempt_at, ROW_NUMBER() OVER (PARTITION BY url ORDER BY next_attempt_at, id) AS rn
			FROM webhook_deliveries
			WHERE state = 'pending' AND head = 1 AND next_attempt_at <= ?
		) c
		WHERE rn <= COALESCE((SELECT value FROM json_each(?) WHERE key = c.url), ?)
		ORDER BY next_attempt_at, id LIMIT ?`, now, string(limits), c.PerURL, c.Limit)
	if err != nil {
		return nil, fmt.Errorf("claim webhook deliveries: %w", err)
	}
	var idList []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, fmt.Errorf("claim webhook deliveries: %w", err)
		}
		idList = append(idList, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("claim webhook deliveries: %w", err)
	}
	if len(idList) == 0 {
		return nil, nil
	}
	out := make([]store.WebhookAttempt, 0, len(idList))
	for _, id := range idList {
		if _, err := tx.ExecContext(ctx, `UPDATE webhook_deliveries
			SET attempts = attempts + 1, last_attempt_at = ?, next_attempt_at = ? WHERE id = ?`,
			now, millis(c.Now.Add(c.Lease)), id); err != nil {
			return nil, fmt.Errorf("claim webhook deliveries: %w", err)
		}
		var secret string
		dl, err := scanDelivery(tx.QueryRowContext(ctx, `SELECT `+deliveryColumns+`, COALESCE(w.secret, '')
			FROM webhook_deliveries d JOIN webhook_events e ON e.id = d.event_id
			LEFT JOIN webhook_settings w ON w.app_id = d.app_id WHERE d.id = ?`, id), &secret)
		if err != nil {
			return nil, fmt.Errorf("claim webhook deliveries: %w", err)
		}
		out = append(out, store.WebhookAttempt{Delivery: dl, Secret: secret})
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("claim webhook deliveries: %w", err)
	}
	return out, nil
}

// RecordWebhookAttempt implements store.Webhooks.
func (d *DB) RecordWebhookAttempt(ctx context.Context, id int64, o store.WebhookOutcome) error {
	if o.At.IsZero() {
		return errors.New("record webhook attempt: outcome time (At) is not set")
	}
	state, next, done, lastErr := store.WebhookPending, nullMillis(o.NextAttemptAt), sql.NullInt64{}, store.TruncateUTF8(o.Error, store.MaxWebhookErrorLen)
	switch {
	case o.Delivered:
		state, next, done, lastErr = store.WebhookDelivered, sql.NullInt64{}, nullMillis(o.At), ""
	case o.NextAttemptAt.IsZero():
		state, done = store.WebhookFailed, nullMillis(o.At)
	}
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("record webhook attempt: %w", err)
	}
	defer tx.Rollback()
	var app, room, url string
	err = tx.QueryRowContext(ctx, `UPDATE webhook_deliveries
		SET state = ?, head = CASE WHEN ? = 'pending' THEN head ELSE 0 END,
			next_attempt_at = ?, done_at = ?, last_status = ?, last_error = ?
		WHERE id = ? AND state = 'pending' AND attempts = ?
		RETURNING app_id, room_id, url`,
		state, state, next, done, o.Status, lastErr, id, o.Attempt).Scan(&app, &room, &url)
	if errors.Is(err, sql.ErrNoRows) {
		var one int
		if err := tx.QueryRowContext(ctx, `SELECT 1 FROM webhook_deliveries WHERE id = ?`, id).Scan(&one); errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("record webhook attempt: delivery %d: %w", id, store.ErrNotFound)
		} else if err != nil {
			return fmt.Errorf("record webhook attempt: %w", err)
		}
		return nil // finished or re-claimed meanwhile: this outcome is stale
	}
	if err != nil {
		return fmt.Errorf("record webhook attempt: %w", err)
	}
	if state != store.WebhookPending {
		// The queue's next delivery becomes its head; it keeps its
		// NextAttemptAt (its enqueue time), so it is due at once.
		if _, err := tx.ExecContext(ctx, `UPDATE webhook_deliveries SET head = 1 WHERE id = (
				SELECT id FROM webhook_deliveries WHERE state = 'pending' AND app_id = ? AND room_id = ? AND url = ?
				ORDER BY id LIMIT 1)`, app, room, url); err != nil {
			return fmt.Errorf("record webhook attempt: next in queue: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("record webhook attempt: %w", err)
	}
	return nil
}

// ListWebhookDeliveries implements store.Webhooks.
func (d *DB) ListWebhookDeliveries(ctx context.Context, q store.WebhookDeliveryQuery) ([]store.WebhookDelivery, error) {
	if err := q.Validate(); err != nil {
		return nil, err
	}
	where := []string{"d.app_id = ?"}
	args := []any{q.App}
	add := func(cond string, v any) { where, args = append(where, cond), append(args, v) }
	if q.Room != "" {
		add("d.room_id = ?", q.Room)
	}
	if q.State != "" {
		add("d.state = ?", string(q.State))
	}
	if q.Type != "" {
		add("e.type = ?", q.Type)
	}
	if q.URL != "" {
		add("d.url = ?", q.URL)
	}
	if !q.From.IsZero() {
		add("e.at >= ?", millis(q.From))
	}
	if !q.To.IsZero() {
		add("e.at < ?", millis(q.To))
	}
	if q.BeforeID > 0 {
		add("d.id < ?", q.BeforeID)
	}
	args = append(args, q.EffectiveLimit())
	rows, err := d.db.QueryContext(ctx, `SELECT `+deliveryColumns+`
		FROM webhook_deliveries d JOIN webhook_events e ON e.id = d.event_id
		WHERE `+strings.Join(where, " AND ")+` ORDER BY d.id DESC LIMIT ?`, args...)
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
	rows, err := d.db.QueryContext(ctx, `SELECT state, COUNT(*) FROM webhook_deliveries WHERE app_id = ? GROUP BY state`, app)
	if err != nil {
		return store.WebhookCounts{}, fmt.Errorf("count webhook deliveries: %w", err)
	}
	defer rows.Close()
	var c store.WebhookCounts
	for rows.Next() {
		var (
			state string
			n     int64
		)
		if err := rows.Scan(&state, &n); err != nil {
			return store.WebhookCounts{}, fmt.Errorf("count webhook deliveries: %w", err)
		}
		switch store.WebhookDeliveryState(state) {
		case store.WebhookPending:
			c.Pending = n
		case store.WebhookDelivered:
			c.Delivered = n
		case store.WebhookFailed:
			c.Failed = n
		}
	}
	if err := rows.Err(); err != nil {
		return store.WebhookCounts{}, fmt.Errorf("count webhook deliveries: %w", err)
	}
	return c, nil
}

// PurgeWebhookDeliveries implements store.Webhooks.
func (d *DB) PurgeWebhookDeliveries(ctx context.Context, before time.Time) (int64, error) {
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("purge webhook deliveries: %w", err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `DELETE FROM webhook_deliveries WHERE state <> 'pending' AND done_at < ?`, millis(before))
	if err != nil {
		return 0, fmt.Errorf("purge webhook deliveries: %w", err)
	}
	n, _ := res.RowsAffected()
	if n > 0 {
		if _, err := tx.ExecContext(ctx, `DELETE FROM webhook_events WHERE NOT EXISTS (
				SELECT 1 FROM webhook_deliveries d WHERE d.event_id = webhook_events.id)`); err != nil {
			return 0, fmt.Errorf("purge webhook events: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("purge webhook deliveries: %w", err)
	}
	return n, nil
}
