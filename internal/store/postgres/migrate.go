package postgres

import (
	"context"
	"embed"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/minirtc/minirtc/internal/store"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

type migration = store.Migration

// migrations is the list this binary knows, in order.
var migrations = store.MustLoadMigrations(migrationFiles)

// latestVersion is the schema version this binary produces.
func latestVersion() int { return len(migrations) }

// migrationLock is the pg_advisory_xact_lock key every minirtc takes before
// it reads or changes the schema: the bytes of "minirtc" as an integer.
// Advisory locks are per database, so it only serialises processes
// migrating the same database.
const migrationLock int64 = 0x6d696e69727463

// migrate brings the schema up to latestVersion, one step per transaction
// (the step and its schema_migrations row commit together). Each
// transaction first takes migrationLock, so when two processes open a
// database at once the second waits, then sees the step already applied.
// With create false, a database without schema_migrations is refused with
// ErrNoSchema rather than given the tables.
func (d *DB) migrate(ctx context.Context, create bool) error {
	for {
		done, err := d.step(ctx, create)
		if err != nil || done {
			return err
		}
	}
}

// step applies the next migration, if any; done reports that the schema is
// now current.
func (d *DB) step(ctx context.Context, create bool) (done bool, err error) {
	tx, err := d.pool.Begin(ctx)
	if err != nil {
		return false, fmt.Errorf("migrate: begin: %w", err)
	}
	defer tx.Rollback(ctx) // a no-op after Commit; also releases the lock on error

	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, migrationLock); err != nil {
		return false, fmt.Errorf("migrate: take the migration lock: %w", err)
	}
	// Test for the table before creating it: CREATE TABLE IF NOT EXISTS
	// needs the CREATE privilege even when the table is there, and a
	// deployment may run the server as a role without it once migrated.
	var exists bool
	if err := tx.QueryRow(ctx, `SELECT to_regclass('schema_migrations') IS NOT NULL`).Scan(&exists); err != nil {
		return false, fmt.Errorf("migrate: look for schema_migrations: %w", err)
	}
	if !exists {
		if !create {
			return false, fmt.Errorf("%s: %w (no schema_migrations table)", d.where, ErrNoSchema)
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE schema_migrations (
			version    INTEGER     PRIMARY KEY,
			applied_at TIMESTAMPTZ NOT NULL
		)`); err != nil {
			return false, fmt.Errorf("create schema_migrations: %w", err)
		}
	}
	current, err := schemaVersion(ctx, tx)
	if err != nil {
		return false, err
	}
	if err := d.checkNotNewer(current); err != nil {
		return false, err
	}
	if current < latestVersion() {
		m := migrations[current]
		if _, err := tx.Exec(ctx, m.SQL); err != nil {
			return false, fmt.Errorf("migration %s: %w", m.Name, err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES ($1, now())`, m.Version); err != nil {
			return false, fmt.Errorf("migration %s: record: %w", m.Name, err)
		}
		current = m.Version
	}
	if err := tx.Commit(ctx); err != nil {
		return false, fmt.Errorf("migrate: commit: %w", err)
	}
	return current >= latestVersion(), nil
}

func (d *DB) checkNotNewer(v int) error {
	if v > latestVersion() {
		return fmt.Errorf("%s has schema version %d, but this minirtc only knows versions up to %d; "+
			"run a newer minirtc (or restore a backup made before the upgrade)", d.where, v, latestVersion())
	}
	return nil
}

func schemaVersion(ctx context.Context, tx pgx.Tx) (int, error) {
	var v *int
	if err := tx.QueryRow(ctx, `SELECT MAX(version) FROM schema_migrations`).Scan(&v); err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	if v == nil {
		return 0, nil
	}
	return *v, nil
}
