package sqlite

import (
	"context"
	"fmt"
	"strings"

	"github.com/minirtc/minirtc/internal/store"
)

// AddReport implements store.Reports.
func (d *DB) AddReport(ctx context.Context, r store.Report) (int64, error) {
	if err := r.Validate(); err != nil {
		return 0, err
	}
	res, err := d.db.ExecContext(ctx, `INSERT INTO reports
		(app_id, room_id, user_id, session_id, kind, stream_id, data, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		r.App, r.Room, r.User, r.Session, r.Kind, r.Stream, string(r.DataOrEmpty()), millis(r.At))
	if isForeignKeyViolation(err) {
		return 0, fmt.Errorf("add report: app %q: %w", r.App, store.ErrNotFound)
	}
	if err != nil {
		return 0, fmt.Errorf("add report: %w", err)
	}
	return res.LastInsertId()
}

// QueryReports implements store.Reports.
func (d *DB) QueryReports(ctx context.Context, q store.ReportQuery) ([]store.Report, error) {
	if err := q.Validate(); err != nil {
		return nil, err
	}
	where := []string{"app_id = ?"}
	args := []any{q.App}
	if q.Room != "" {
		where, args = append(where, "room_id = ?"), append(args, q.Room)
	}
	if q.User != "" {
		where, args = append(where, "user_id = ?"), append(args, q.User)
	}
	if !q.From.IsZero() {
		where, args = append(where, "at >= ?"), append(args, millis(q.From))
	}
	if !q.To.IsZero() {
		where, args = append(where, "at < ?"), append(args, millis(q.To))
	}
	args = append(args, q.EffectiveLimit())
	rows, err := d.db.QueryContext(ctx, `SELECT id, app_id, room_id, user_id, session_id, kind, stream_id, data, at
		FROM reports WHERE `+strings.Join(where, " AND ")+` ORDER BY at DESC, id DESC LIMIT ?`, args...)
	if err != nil {
		return nil, fmt.Errorf("query reports: %w", err)
	}
	defer rows.Close()
	var out []store.Report
	for rows.Next() {
		var (
			r    store.Report
			data string
			at   int64
		)
		if err := rows.Scan(&r.ID, &r.App, &r.Room, &r.User, &r.Session, &r.Kind, &r.Stream, &data, &at); err != nil {
			return nil, fmt.Errorf("query reports: %w", err)
		}
		r.Data = []byte(data)
		r.At = fromMillis(at)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("query reports: %w", err)
	}
	return out, nil
}
