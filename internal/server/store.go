package server

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/minirtc/minirtc/internal/config"
	"github.com/minirtc/minirtc/internal/store"
	"github.com/minirtc/minirtc/internal/store/postgres"
	"github.com/minirtc/minirtc/internal/store/sqlite"
)

// openStore opens the store cfg.Store chooses — the SQLite file in the data
// directory, or a PostgreSQL database — applying any migrations it lacks.
// It logs which one, so that an operator can tell from the log which
// database a node writes to.
func openStore(ctx context.Context, cfg config.Config, log *slog.Logger) (store.Store, error) {
	switch cfg.Store.Driver {
	case config.StoreSQLite:
		db, err := sqlite.Open(ctx, sqlite.DefaultPath(cfg.Data))
		if err != nil {
			return nil, err
		}
		log.Info("store opened", "driver", cfg.Store.Driver, "path", db.Path())
		return db, nil
	case config.StorePostgres:
		db, err := postgres.Open(ctx, cfg.Store.DSN)
		if err != nil {
			return nil, err
		}
		log.Info("store opened", "driver", cfg.Store.Driver, "database", db.Path())
		return db, nil
	}
	// cfg.Validate refuses other drivers; this guards a caller that skipped it.
	return nil, fmt.Errorf("store.driver %q is not sqlite or postgres", cfg.Store.Driver)
}
