package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/minirtc/minirtc/internal/config"
	"github.com/minirtc/minirtc/internal/store"
	"github.com/minirtc/minirtc/internal/store/postgres"
	"github.com/minirtc/minirtc/internal/store/sqlite"
)

// Environment variables that set the defaults of --data, --store-driver and
// --store-dsn, so a shell (or a container) can point every command at the
// server's store once. The store ones are the server's own (store.driver,
// store.dsn), so one setting serves both.
const (
	envDataDir     = "MINIRTC_DATA"
	envStoreDriver = "MINIRTC_STORE_DRIVER"
	envStoreDSN    = "MINIRTC_STORE_DSN"
)

// storeFlags are the store options of one command tree.
type storeFlags struct {
	driver, dsn string
}

// storeFlagsKey carries a command's *storeFlags in its context, from the
// PersistentPreRunE addDataDirFlag installs to openDataStore.
type storeFlagsKey struct{}

// addDataDirFlag adds --data, --store-driver and --store-dsn to cmd and its
// subcommands.
func addDataDirFlag(cmd *cobra.Command, dir *string) {
	def := os.Getenv(envDataDir)
	if def == "" {
		def = "./data"
	}
	cmd.PersistentFlags().StringVar(dir, "data", def,
		"data directory holding minirtc.db, the same one the server uses (default from $"+envDataDir+"; sqlite only)")
	sf := &storeFlags{}
	driver := os.Getenv(envStoreDriver)
	if driver == "" {
		driver = config.StoreSQLite
	}
	cmd.PersistentFlags().StringVar(&sf.driver, "store-driver", driver,
		"store the server uses: sqlite (the file in --data) or postgres (default from $"+envStoreDriver+")")
	// The DSN's default is read at open time rather than shown here: --help
	// would otherwise print the password it may contain.
	cmd.PersistentFlags().StringVar(&sf.dsn, "store-dsn", "",
		"PostgreSQL DSN, as the server's store.dsn, for --store-driver postgres (default $"+envStoreDSN+")")
	prev := cmd.PersistentPreRunE
	cmd.PersistentPreRunE = func(c *cobra.Command, args []string) error {
		c.SetContext(context.WithValue(c.Context(), storeFlagsKey{}, sf))
		if prev != nil {
			return prev(c, args)
		}
		return nil
	}
}

// dataStore is what the commands use: the store, and where it is for
// messages (the SQLite file, or the PostgreSQL database and server).
type dataStore interface {
	store.Store
	Path() string
}

// openDataStore opens the store the command's flags choose: the database
// in dir, or PostgreSQL. Only commands that create data (app create) may
// create it: for the others a missing SQLite file or a PostgreSQL database
// without minirtc's tables almost always means a wrong --data or DSN, which
// an empty new store would hide.
func openDataStore(ctx context.Context, dir string, create bool) (dataStore, error) {
	sf, _ := ctx.Value(storeFlagsKey{}).(*storeFlags)
	if sf == nil {
		sf = &storeFlags{driver: config.StoreSQLite}
	}
	dsn := sf.dsn
	if dsn == "" {
		dsn = os.Getenv(envStoreDSN)
	}
	switch sf.driver {
	case config.StoreSQLite:
		if dsn != "" {
			return nil, fmt.Errorf("a PostgreSQL DSN is set (--store-dsn or $%s) but the store driver is sqlite: "+
				"pass --store-driver postgres (or set $%s=postgres), or unset the DSN", envStoreDSN, envStoreDriver)
		}
		return openSQLite(ctx, dir, create)
	case config.StorePostgres:
		if dsn == "" {
			return nil, fmt.Errorf("--store-driver postgres needs --store-dsn (or $%s), the server's store.dsn", envStoreDSN)
		}
		open := postgres.OpenExisting
		if create {
			open = postgres.Open
		}
		db, err := open(ctx, dsn)
		if errors.Is(err, postgres.ErrNoSchema) {
			return nil, fmt.Errorf("%w: pass the server's DSN with --store-dsn (or $%s), "+
				"or create an app first with \"minirtc app create --name NAME\"", err, envStoreDSN)
		}
		if err != nil {
			return nil, err
		}
		return db, nil
	}
	return nil, fmt.Errorf("--store-driver must be %s or %s, got %q", config.StoreSQLite, config.StorePostgres, sf.driver)
}

func openSQLite(ctx context.Context, dir string, create bool) (dataStore, error) {
	if dir == "" {
		return nil, errors.New("--data is empty; give the data directory (default ./data)")
	}
	path := sqlite.DefaultPath(dir)
	if !create {
		if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("no database at %s: pass the server's data directory with --data (or $%s), "+
				"or create an app first with \"minirtc app create --name NAME\"", path, envDataDir)
		}
	}
	db, err := sqlite.Open(ctx, path)
	if err != nil {
		return nil, err
	}
	return db, nil
}

// writeIndentedJSON prints v as indented JSON followed by a newline.
func writeIndentedJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// cliTime formats a time for people and scripts alike: RFC 3339 in UTC.
func cliTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }
