package sqlite

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/minirtc/minirtc/internal/store"
	"github.com/minirtc/minirtc/internal/store/storetest"
	"github.com/minirtc/minirtc/pkg/ids"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		return openTemp(t, filepath.Join(t.TempDir(), "minirtc.db"))
	})
}

func openTemp(t *testing.T, path string) *DB {
	t.Helper()
	d, err := Open(context.Background(), path)
	if err != nil {
		t.Fatalf("Open(%s): %v", path, err)
	}
	return d
}

func TestDefaultPath(t *testing.T) {
	if got, want := DefaultPath("data"), filepath.Join("data", "minirtc.db"); got != want {
		t.Fatalf("DefaultPath = %q, want %q", got, want)
	}
}

func TestOpenCreatesPrivateFileAndDirs(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a", "b", "minirtc.db")
	d := openTemp(t, path)
	defer d.Close()
	for p, want := range map[string]os.FileMode{path: 0o600, filepath.Dir(path): 0o700} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got&^want != 0 {
			t.Errorf("%s has mode %v, want at most %v", p, got, want)
		}
	}
	var mode string
	if err := d.db.QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
		t.Fatalf("journal_mode = %q, %v; want wal", mode, err)
	}
	var fk, busy int
	if err := d.db.QueryRow(`PRAGMA foreign_keys`).Scan(&fk); err != nil || fk != 1 {
		t.Fatalf("foreign_keys = %d, %v; want 1", fk, err)
	}
	if err := d.db.QueryRow(`PRAGMA busy_timeout`).Scan(&busy); err != nil || busy != 5000 {
		t.Fatalf("busy_timeout = %d, %v; want 5000", busy, err)
	}
}

func TestOpenOddPath(t *testing.T) {
	// Characters that mean something in a URI must still name the file.
	path := filepath.Join(t.TempDir(), "we?ird #dir%20", "x?y=1#z.db")
	d := openTemp(t, path)
	if _, err := d.CreateApp(context.Background(), "odd"); err != nil {
		t.Fatal(err)
	}
	d.Close()
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("database not at the path given: %v", err)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), "x?y=1#z.db") {
			t.Errorf("unexpected file %q next to the database", e.Name())
		}
	}
}

func TestOpenErrors(t *testing.T) {
	if _, err := Open(context.Background(), ""); err == nil {
		t.Fatal("Open(\"\") succeeded")
	}
	notDB := filepath.Join(t.TempDir(), "not.db")
	if err := os.WriteFile(notDB, []byte(strings.Repeat("this is not a database ", 100)), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(context.Background(), notDB); err == nil {
		t.Fatal("Open of a non-database file succeeded")
	}
}

func TestMigrationsRecorded(t *testing.T) {
	d := openTemp(t, filepath.Join(t.TempDir(), "m.db"))
	defer d.Close()
	rows, err := d.db.Query(`SELECT version, applied_at FROM schema_migrations ORDER BY version`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var (
			v  int
			at string
		)
		if err := rows.Scan(&v, &at); err != nil {
			t.Fatal(err)
		}
		n++
		if v != n {
			t.Fatalf("schema_migrations has version %d at position %d", v, n)
		}
		if ts, err := time.Parse(time.RFC3339Nano, at); err != nil || time.Since(ts) > time.Minute {
			t.Fatalf("applied_at %q: %v", at, err)
		}
	}
	if n != latestVersion() || n < 1 {
		t.Fatalf("%d migrations recorded, want %d", n, latestVersion())
	}
}

func TestReopenIsIdempotent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.db")
	d := openTemp(t, path)
	a, err := d.CreateApp(context.Background(), "keep me")
	if err != nil {
		t.Fatal(err)
	}
	d.Close()
	for i := 0; i < 3; i++ {
		d = openTemp(t, path)
		got, err := d.GetApp(context.Background(), a.ID)
		if err != nil || got.Secret != a.Secret {
			t.Fatalf("after reopen %d: %+v, %v", i, got, err)
		}
		var n int
		if err := d.db.QueryRow(`SELECT COUNT(*) FROM schema_migrations`).Scan(&n); err != nil || n != latestVersion() {
			t.Fatalf("after reopen %d: %d migration rows, %v", i, n, err)
		}
		d.Close()
	}
}

func TestNewerSchemaRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.db")
	d := openTemp(t, path)
	future := latestVersion() + 1
	if _, err := d.db.Exec(`INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`, future, "2099-01-01T00:00:00Z"); err != nil {
		t.Fatal(err)
	}
	d.Close()
	d2, err := Open(context.Background(), path)
	if err == nil {
		d2.Close()
		t.Fatal("Open of a database from a newer minirtc succeeded")
	}
	if d2 != nil {
		t.Fatal("Open returned a DB along with the error")
	}
	for _, want := range []string{"schema version " + strconv.Itoa(future), "newer minirtc"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

func TestLoadMigrationsRejectsBadSets(t *testing.T) {
	for name, fsys := range map[string]fstest.MapFS{
		"gap":      {"migrations/0001_a.sql": {}, "migrations/0003_c.sql": {}},
		"repeat":   {"migrations/0001_a.sql": {}, "migrations/001_b.sql": {}},
		"bad name": {"migrations/init.sql": {}},
		"zero":     {"migrations/0000_a.sql": {}},
	} {
		if _, err := store.LoadMigrations(fsys); err == nil {
			t.Errorf("%s: loadMigrations succeeded", name)
		}
	}
	ms, err := store.LoadMigrations(fstest.MapFS{"migrations/0002_b.sql": {Data: []byte("B")}, "migrations/0001_a.sql": {Data: []byte("A")}})
	if err != nil || len(ms) != 2 || ms[0].SQL != "A" || ms[1].Version != 2 {
		t.Fatalf("loadMigrations = %+v, %v", ms, err)
	}
}

// TestTwoHandlesOneFile stands in for the CLI and a running server sharing the file.
func TestTwoHandlesOneFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "shared.db")
	ctx := context.Background()
	// Open both at once on a file that does not exist yet: both must migrate cleanly.
	var (
		wg   sync.WaitGroup
		dbs  [2]*DB
		errs [2]error
	)
	for i := range dbs {
		wg.Add(1)
		go func() { defer wg.Done(); dbs[i], errs[i] = Open(ctx, path) }()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("concurrent Open %d: %v", i, err)
		}
		defer dbs[i].Close()
	}
	cli, server := dbs[0], dbs[1]

	a, err := cli.CreateApp(ctx, "shared")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := server.GetApp(ctx, a.ID); err != nil || got.Secret != a.Secret {
		t.Fatalf("server does not see the app the CLI created: %+v, %v", got, err)
	}
	r, err := cli.RotateSecret(ctx, a.ID, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := server.GetApp(ctx, a.ID); got.Secret != r.Secret || got.PreviousSecret != a.Secret {
		t.Fatal("server does not see the rotated secret")
	}
	// Both write at once; busy_timeout must absorb the lock contention.
	const n = 100
	for _, d := range []*DB{cli, server} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < n; i++ {
				if _, err := d.AddReport(ctx, store.Report{App: a.ID, Room: "r", User: "u", Kind: "k", At: time.Now()}); err != nil {
					t.Errorf("AddReport: %v", err)
					return
				}
			}
		}()
	}
	wg.Wait()
	got, err := cli.QueryReports(ctx, store.ReportQuery{App: a.ID, Limit: 1000})
	if err != nil || len(got) != 2*n {
		t.Fatalf("cli sees %d reports, %v; want %d", len(got), err, 2*n)
	}
}

// TestTwoProcessesOneFile runs a second process (this test binary, re-executed)
// writing to the same file while this one writes too.
func TestTwoProcessesOneFile(t *testing.T) {
	if path := os.Getenv("MINIRTC_SQLITE_HELPER_DB"); path != "" {
		helperWrite(t, path, ids.AppID(os.Getenv("MINIRTC_SQLITE_HELPER_APP")))
		return
	}
	if testing.Short() {
		t.Skip("spawns a process")
	}
	path := filepath.Join(t.TempDir(), "shared.db")
	ctx := context.Background()
	d := openTemp(t, path)
	defer d.Close()
	a, err := d.CreateApp(ctx, "shared")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestTwoProcessesOneFile$", "-test.count=1")
	cmd.Env = append(os.Environ(), "MINIRTC_SQLITE_HELPER_DB="+path, "MINIRTC_SQLITE_HELPER_APP="+string(a.ID))
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < helperReports; i++ {
		if _, err := d.AddReport(ctx, store.Report{App: a.ID, Room: "r", User: "parent", Kind: "k", At: time.Now()}); err != nil {
			t.Fatalf("parent AddReport: %v", err)
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("helper process: %v\n%s", err, out.String())
	}
	for _, u := range []ids.UserID{"parent", "child"} {
		got, err := d.QueryReports(ctx, store.ReportQuery{App: a.ID, User: u, Limit: 1000})
		if err != nil || len(got) != helperReports {
			t.Fatalf("reports by %s: %d, %v; want %d", u, len(got), err, helperReports)
		}
	}
}

const helperReports = 200

func helperWrite(t *testing.T, path string, app ids.AppID) {
	d, err := Open(context.Background(), path)
	if err != nil {
		t.Fatalf("helper Open: %v", err)
	}
	defer d.Close()
	for i := 0; i < helperReports; i++ {
		if _, err := d.AddReport(context.Background(), store.Report{App: app, Room: "r", User: "child", Kind: "k", At: time.Now(),
			Data: []byte(fmt.Sprintf(`{"i":%d}`, i))}); err != nil {
			t.Fatalf("helper AddReport %d: %v", i, err)
		}
	}
}
