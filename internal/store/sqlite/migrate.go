package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"time"

	"github.com/minirtc/minirtc/internal/store"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

type migration = store.Migration

// migrations is the list this binary knows, in order.
var migrations = store.MustLoadMigrations(migrationFiles)

// latestVersion is the schema version this binary produces.
func latestVersion() int { return len(migrations) }

// migrate brings the schema up to latestVersion. Each step runs in its own
// transaction together with its schema_migrations row. Transactions begin
// IMMEDIATE (see dsn), so when a CLI and a server open a fresh file at the
// same moment one waits for the other and then sees the step already applied.
func (d *DB) migrate(ctx context.Context) error {
	if _, err := d.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		applied_at TEXT NOT NULL
	)`); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	current, err := schemaVersion(ctx, d.db)
	if err != nil {
		return err
	}
	if err := d.checkNotNewer(current); err != nil {
		return err
	}
	for _, m := range migrations[min(current, len(migrations)):] {
		if err := d.apply(ctx, m); err != nil {
			return err
		}
	}
	return nil
}

func (d *DB) checkNotNewer(v int) error {
	if v > latestVersion() {
		return fmt.Errorf("database %s has schema version %d, but this minirtc only knows versions up to %d; "+
			"run a newer minirtc (or restore a backup made before the upgrade)", d.path, v, latestVersion())
	}
	return nil
}

func (d *DB) apply(ctx context.Context, m migration) error {
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("migration %s: begin: %w", m.Name, err)
	}
	defer tx.Rollback() // no-op after Commit

	// Another process may have migrated while we waited for the write lock.
	current, err := schemaVersion(ctx, tx)
	if err != nil {
		return err
	}
	if err := d.checkNotNewer(current); err != nil {
		return err
	}
	if current >= m.Version {
		return nil
	}
	if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
		return fmt.Errorf("migration %s: %w", m.Name, err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`,
		m.Version, time.Now().UTC().Format(time.RFC3339Nano)); err != nil {
		return fmt.Errorf("migration %s: record: %w", m.Name, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("migration %s: commit: %w", m.Name, err)
	}
	return nil
}

type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func schemaVersion(ctx context.Context, q querier) (int, error) {
	var v sql.NullInt64
	if err := q.QueryRowContext(ctx, `SELECT MAX(version) FROM schema_migrations`).Scan(&v); err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	return int(v.Int64), nil
}
