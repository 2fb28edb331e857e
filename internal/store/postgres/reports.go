package postgres

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/minirtc/minirtc/internal/store"
)

// AddReport implements store.Reports.
func (d *DB) AddReport(ctx context.Context, r store.Report) (int64, error) {
	if err := r.Validate(); err != nil {
		return 0, err
	}
	var id int64
	err := d.pool.QueryRow(ctx, `INSERT INTO reports
		(app_id, room_id, user_id, session_id, kind, stream_id, data, at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
		RETURNING id`,
		r.App, r.Room, r.User, r.Session, r.Kind, r.Stream, []byte(r.DataOrEmpty()), ms(r.At)).Scan(&id)
	if isForeignKeyViolation(err) {
		return 0, fmt.Errorf("add report: app %q: %w", r.App, store.ErrNotFound)
	}
	if err != nil {
		return 0, fmt.Errorf("add report: %w", err)
	}
	return id, nil
}

// QueryReports implements store.Reports.
func (d *DB) QueryReports(ctx context.Context, q store.ReportQuery) ([]store.Report, error) {
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
	add("app_id =", q.App)
	if q.Room != "" {
		add("room_id =", q.Room)
	}
	if q.User != "" {
		add("user_id =", q.User)
	}
	if !q.From.IsZero() {
		add("at >=", ms(q.From))
	}
	if !q.To.IsZero() {
		add("at <", ms(q.To))
	}
	args = append(args, q.EffectiveLimit())
	rows, err := d.pool.Query(ctx, `SELECT id, app_id, room_id, user_id, session_id, kind, stream_id, data, at
		FROM reports WHERE `+strings.Join(where, " AND ")+` ORDER BY at DESC, id DESC LIMIT $`+strconv.Itoa(len(args)), args...)
	if err != nil {
		return nil, fmt.Errorf("query reports: %w", err)
	}
	defer rows.Close()
	var out []store.Report
	for rows.Next() {
		var (
			r    store.Report
			data []byte
			at   time.Time
		)
		if err := rows.Scan(&r.ID, &r.App, &r.Room, &r.User, &r.Session, &r.Kind, &r.Stream, &data, &at); err != nil {
			return nil, fmt.Errorf("query reports: %w", err)
		}
		r.Data = data
		r.At = fromDB(at)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("query reports: %w", err)
	}
	return out, nil
}
