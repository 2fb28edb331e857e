package config

import (
	"fmt"
	"strings"
)

// Store drivers.
const (
	StoreSQLite   = "sqlite"   // one file in the data directory (default)
	StorePostgres = "postgres" // a PostgreSQL database, for several nodes
)

// StoreConfig chooses where minirtc keeps apps, reports, bans and the rest.
type StoreConfig struct {
	// Driver is "sqlite" (data/minirtc.db) or "postgres".
	Driver string `yaml:"driver"`
	// DSN is the PostgreSQL database: a postgres://user:password@host:5432/db
	// URL or libpq key=value pairs. Required with driver postgres, refused
	// with sqlite (so that a DSN meant for PostgreSQL is not silently unused).
	DSN string `yaml:"dsn"`
}

// DefaultStore is the store used when nothing is configured.
func DefaultStore() StoreConfig { return StoreConfig{Driver: StoreSQLite} }

// Validate checks the store section.
func (s StoreConfig) Validate() error {
	switch s.Driver {
	case StoreSQLite:
		if s.DSN != "" {
			return fmt.Errorf("store.dsn is set but store.driver is %q; set store.driver: postgres to use the DSN, or remove it", s.Driver)
		}
	case StorePostgres:
		if strings.TrimSpace(s.DSN) == "" {
			return fmt.Errorf("store.driver postgres needs store.dsn (or MINIRTC_STORE_DSN), e.g. postgres://minirtc:PASSWORD@db.example.com:5432/minirtc")
		}
	default:
		return fmt.Errorf("store.driver must be %s or %s, got %q", StoreSQLite, StorePostgres, s.Driver)
	}
	return nil
}
