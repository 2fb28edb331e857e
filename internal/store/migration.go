package store

import (
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
)

// Migration is one schema step of a store implementation. Each
// implementation embeds its own SQL files (migrations/NNNN_description.sql);
// versions run 1, 2, 3, ... with no gaps, and the same number means the same
// step in every implementation.
type Migration struct {
	Version int
	Name    string // the file name
	SQL     string
}

// MustLoadMigrations is LoadMigrations for a package's embedded files,
// loaded at init: a misnamed file is a build defect that then fails every
// test at once, rather than a user's upgrade.
func MustLoadMigrations(fsys fs.FS) []Migration {
	ms, err := LoadMigrations(fsys)
	if err != nil {
		panic(err)
	}
	return ms
}

// LoadMigrations reads migrations/*.sql from fsys, in version order.
func LoadMigrations(fsys fs.FS) ([]Migration, error) {
	names, err := fs.Glob(fsys, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	var ms []Migration
	for _, name := range names {
		base := path.Base(name)
		num, _, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("migration file %s: name must be NNNN_description.sql", name)
		}
		body, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, err
		}
		ms = append(ms, Migration{Version: v, Name: base, SQL: string(body)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].Version < ms[j].Version })
	for i, m := range ms {
		if m.Version != i+1 {
			return nil, fmt.Errorf("migration %s: expected version %d; versions must run 1, 2, 3, ... without gaps or repeats", m.Name, i+1)
		}
	}
	return ms, nil
}
