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

	"github.com/minirtc/minirtc/internal/store/sqlite"
)

// envDataDir names the environment variable that sets --data's default, so a
// shell (or a container) can point every command at the server's directory once.
const envDataDir = "MINIRTC_DATA"

// addDataDirFlag adds --data to cmd and its subcommands.
func addDataDirFlag(cmd *cobra.Command, dir *string) {
	def := os.Getenv(envDataDir)
	if def == "" {
		def = "./data"
	}
	cmd.PersistentFlags().StringVar(dir, "data", def,
		"data directory holding minirtc.db, the same one the server uses (default from $"+envDataDir+")")
}

// openDataStore opens the database in dir. Only commands that create data
// (app create) may create it: for the others a missing file almost always
// means a wrong --data, which an empty new database would hide.
func openDataStore(ctx context.Context, dir string, create bool) (*sqlite.DB, error) {
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
	return sqlite.Open(ctx, path)
}

// writeIndentedJSON prints v as indented JSON followed by a newline.
func writeIndentedJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// cliTime formats a time for people and scripts alike: RFC 3339 in UTC.
func cliTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }
