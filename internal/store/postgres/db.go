// Package postgres is the store for deployments that run several minirtc
// nodes, or that want the database managed apart from the server: the same
// store.Store as internal/store/sqlite, kept in a PostgreSQL database.
//
// It talks to PostgreSQL through pgx's own pool (pgxpool) rather than
// database/sql with pgx/stdlib: the SQL differs from SQLite's anyway, so the
// common database/sql interface would buy nothing, while the native pool
// gives typed PostgreSQL errors (pgconn.PgError codes), cached prepared
// statements and transactions that hold advisory locks without the
// database/sql connection juggling.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/minirtc/minirtc/internal/store"
)

// DB is a store.Store backed by one PostgreSQL database.
type DB struct {
	pool  *pgxpool.Pool
	where string // the database and server, for messages; never the password
}

var _ store.Store = (*DB)(nil)

// ErrNoSchema is returned (wrapped) by OpenExisting when the database has no
// minirtc tables yet.
var ErrNoSchema = errors.New("the database has no minirtc tables")

// defaultConnectTimeout bounds each connection attempt when the DSN sets no
// connect_timeout: pgx would otherwise wait up to two minutes for a server
// that drops packets, and a server start should fail faster than that.
const defaultConnectTimeout = 10 * time.Second

// Open connects to the database named by dsn (a postgres:// URL or
// "key=value" pairs, as libpq and pgx accept; pool settings such as
// pool_max_conns work too) and applies any migrations it lacks, creating the
// tables in an empty database. It refuses a database migrated by a newer
// minirtc.
func Open(ctx context.Context, dsn string) (*DB, error) { return open(ctx, dsn, true) }

// OpenExisting is Open for a database that must already hold minirtc's
// tables (it still applies newer migrations): the CLI uses it, so that a
// wrong DSN reports ErrNoSchema instead of filling an unrelated database.
func OpenExisting(ctx context.Context, dsn string) (*DB, error) { return open(ctx, dsn, false) }

func open(ctx context.Context, dsn string, create bool) (*DB, error) {
	if strings.TrimSpace(dsn) == "" {
		return nil, errors.New("postgres: the DSN is empty; give a postgres://user:password@host:5432/dbname URL or key=value pairs")
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// pgx masks the password in its parse errors.
		return nil, fmt.Errorf("postgres: %w", err)
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = defaultConnectTimeout
	}
	d := &DB{where: describe(cfg.ConnConfig.Config)}
	d.pool, err = pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %s: %w", d.where, err)
	}
	// The pool connects lazily; connect now so that a wrong DSN or a
	// server that is down fails the start rather than the first request.
	if err := d.pool.Ping(ctx); err != nil {
		d.pool.Close()
		return nil, fmt.Errorf("postgres: connecting to %s: %w", d.where, err)
	}
	if err := d.migrate(ctx, create); err != nil {
		d.pool.Close()
		return nil, fmt.Errorf("postgres: %w", err)
	}
	return d, nil
}

// describe names the database and server of cfg for messages and logs,
// e.g. `database "minirtc" on db.example.com:5432`.
func describe(cfg pgconn.Config) string {
	host := cfg.Host
	if !strings.HasPrefix(host, "/") { // a unix socket directory has no port worth showing
		host = net.JoinHostPort(host, strconv.Itoa(int(cfg.Port)))
	} else {
		host = "socket " + host
	}
	return fmt.Sprintf("database %q on %s", cfg.Database, host)
}

// Path describes where the data lives — the database and the server, never
// the password. It is named like sqlite.DB.Path so that the CLI can name the
// store in its messages whichever driver is in use.
func (d *DB) Path() string { return d.where }

// Close closes every connection of the pool. It waits for connections in
// use to be released.
func (d *DB) Close() error {
	d.pool.Close()
	return nil
}

// Ping checks that the database answers a query (for /healthz).
func (d *DB) Ping(ctx context.Context) error {
	var one int
	if err := d.pool.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	return nil
}

// PostgreSQL error codes (SQLSTATE) the store maps to its own errors.
const codeForeignKeyViolation = "23503"

func isForeignKeyViolation(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == codeForeignKeyViolation
}

// Times are stored as timestamptz at millisecond precision, like the SQLite
// store (which keeps unix milliseconds), so both give back the same
// instants; NULL stands for the zero time. Truncation rounds down, as
// time.UnixMilli does, so that bounds compare alike in both stores.

func ms(t time.Time) time.Time { return t.Truncate(time.Millisecond).UTC() }

// nullTime is the query argument for t: NULL for the zero time.
func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return ms(t)
}

// fromDB converts a scanned timestamptz to UTC (pgx scans into time.Local).
func fromDB(t time.Time) time.Time { return t.UTC() }

// fromNullDB converts a scanned nullable timestamptz; NULL is the zero time.
func fromNullDB(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}
