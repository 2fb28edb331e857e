// Package sqlite is the default store: one SQLite file (pure Go driver,
// modernc.org/sqlite) that the server and the CLI may open at the same time.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"modernc.org/sqlite"

	"github.com/minirtc/minirtc/internal/store"
)

// DefaultPath is where the database lives inside a data directory.
func DefaultPath(dataDir string) string { return filepath.Join(dataDir, "minirtc.db") }

// DB is a store.Store backed by one SQLite file.
type DB struct {
	db   *sql.DB
	path string
}

var _ store.Store = (*DB)(nil)

// connParams are applied by the driver to every pooled connection:
//   - busy_timeout: a writer waits up to 5 s for another process (CLI vs
//     server) instead of failing with SQLITE_BUSY at once;
//   - WAL: readers never block the writer and vice versa;
//   - synchronous NORMAL: with WAL this never corrupts the file and survives
//     a process crash; only a power cut can lose the last commits, a fair
//     price for not syncing on every report;
//   - foreign keys: SQLite leaves them off unless asked, per connection;
//   - _txlock=immediate: transactions take the write lock when they begin, so
//     two processes never both read and then deadlock upgrading to write.
const connParams = "_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=foreign_keys(1)&_txlock=immediate"

// Open opens (creating if needed) the database at path and applies any
// migrations it lacks. It refuses a database written by a newer minirtc.
func Open(ctx context.Context, path string) (*DB, error) {
	if path == "" {
		return nil, errors.New("sqlite: database path is empty")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("sqlite: database path %q: %w", path, err)
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o700); err != nil {
		return nil, fmt.Errorf("sqlite: create data directory: %w", err)
	}
	// Create the file ourselves so it is private: it holds app secrets, and
	// SQLite gives its -wal and -shm files the same permissions.
	f, err := os.OpenFile(abs, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open database file: %w", err)
	}
	f.Close()

	sqlDB, err := sql.Open("sqlite", dsn(abs))
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", abs, err)
	}
	d := &DB{db: sqlDB, path: abs}
	if err := d.firstConnect(ctx); err != nil {
		sqlDB.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", abs, err)
	}
	if err := d.migrate(ctx); err != nil {
		sqlDB.Close()
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	return d, nil
}

// firstConnect opens the first connection. On a new file that connection
// switches the journal to WAL, which needs an exclusive lock SQLite does not
// wait for with busy_timeout: when the CLI and the server open a fresh file
// at the same moment, one of them gets SQLITE_BUSY. It retries for up to
// about 5 s, like busy_timeout would.
func (d *DB) firstConnect(ctx context.Context) error {
	deadline := time.Now().Add(5 * time.Second)
	for wait := 5 * time.Millisecond; ; wait = min(2*wait, 200*time.Millisecond) {
		err := d.db.PingContext(ctx)
		if err == nil || !isBusy(err) || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
}

// isBusy reports SQLITE_BUSY or SQLITE_LOCKED (any extended variant).
func isBusy(err error) bool {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return false
	}
	primary := se.Code() & 0xff
	return primary == 5 || primary == 6
}

// dsn builds a file: URI so that any character in the path ('?', '#', '%',
// spaces) is escaped rather than taken for the start of the parameters.
func dsn(abs string) string {
	u := url.URL{Path: filepath.ToSlash(abs)}
	return "file:" + u.EscapedPath() + "?" + connParams
}

// Path is the absolute path of the database file.
func (d *DB) Path() string { return d.path }

// Close closes the database.
func (d *DB) Close() error { return d.db.Close() }

// Ping checks that the database answers a query (for /healthz).
func (d *DB) Ping(ctx context.Context) error {
	var one int
	return d.db.QueryRowContext(ctx, "SELECT 1").Scan(&one)
}

// sqliteConstraintForeignKey is SQLITE_CONSTRAINT_FOREIGNKEY, the extended
// result code the driver reports when a row names an app that does not exist.
const sqliteConstraintForeignKey = 787

func isForeignKeyViolation(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code() == sqliteConstraintForeignKey
}

// Times are stored as unix milliseconds; NULL stands for the zero time.

func millis(t time.Time) int64 { return t.UnixMilli() }

func nullMillis(t time.Time) sql.NullInt64 {
	if t.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: t.UnixMilli(), Valid: true}
}

func fromMillis(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

func fromNullMillis(ms sql.NullInt64) time.Time {
	if !ms.Valid {
		return time.Time{}
	}
	return fromMillis(ms.Int64)
}
