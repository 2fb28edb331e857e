package postgres

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/minirtc/minirtc/internal/store"
	"github.com/minirtc/minirtc/internal/store/pgtest"
)

// versions returns the rows of schema_migrations, oldest first.
func versions(t *testing.T, dsn string) (vs []int, applied []time.Time) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT version, applied_at FROM schema_migrations ORDER BY version`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			v  int
			at time.Time
		)
		if err := rows.Scan(&v, &at); err != nil {
			t.Fatal(err)
		}
		vs, applied = append(vs, v), append(applied, at)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return vs, applied
}

func checkCurrent(t *testing.T, dsn string) {
	t.Helper()
	vs, applied := versions(t, dsn)
	if len(vs) != latestVersion() || latestVersion() < 1 {
		t.Fatalf("schema_migrations has versions %v, want 1..%d", vs, latestVersion())
	}
	for i, v := range vs {
		if v != i+1 {
			t.Fatalf("schema_migrations has versions %v, want 1..%d once each", vs, latestVersion())
		}
		if time.Since(applied[i]) > 5*time.Minute {
			t.Fatalf("version %d applied at %v", v, applied[i])
		}
	}
}

func execSQL(t *testing.T, dsn, sql string, args ...any) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func TestFreshDatabaseMigrated(t *testing.T) {
	dsn := pgtest.DSN(t)
	d := openDSN(t, dsn)
	defer d.Close()
	checkCurrent(t, dsn)
}

func TestReopenIsIdempotent(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.DSN(t)
	d := openDSN(t, dsn)
	a, err := d.CreateApp(ctx, "keep me")
	if err != nil {
		t.Fatal(err)
	}
	d.Close()
	_, first := versions(t, dsn)
	for i := 0; i < 3; i++ {
		d = openDSN(t, dsn)
		got, err := d.GetApp(ctx, a.ID)
		if err != nil || got.Secret != a.Secret {
			t.Fatalf("after reopen %d: %+v, %v", i, got, err)
		}
		d.Close()
		checkCurrent(t, dsn)
		if _, again := versions(t, dsn); !again[0].Equal(first[0]) {
			t.Fatalf("reopen %d applied version 1 again", i)
		}
	}
}

func TestOpenExisting(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.DSN(t)
	if d, err := OpenExisting(ctx, dsn); !errors.Is(err, ErrNoSchema) {
		if d != nil {
			d.Close()
		}
		t.Fatalf("OpenExisting(empty database) = %v, want ErrNoSchema", err)
	}
	// It left the empty database alone.
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	var n int
	err = conn.QueryRow(ctx, `SELECT count(*) FROM pg_tables WHERE schemaname = 'public'`).Scan(&n)
	conn.Close(ctx)
	if err != nil || n != 0 {
		t.Fatalf("OpenExisting created %d tables (%v)", n, err)
	}
	openDSN(t, dsn).Close()
	d, err := OpenExisting(ctx, dsn)
	if err != nil {
		t.Fatalf("OpenExisting after Open: %v", err)
	}
	d.Close()
}

func TestNewerSchemaRefused(t *testing.T) {
	dsn := pgtest.DSN(t)
	openDSN(t, dsn).Close()
	future := latestVersion() + 1
	execSQL(t, dsn, `INSERT INTO schema_migrations (version, applied_at) VALUES ($1, now())`, future)
	for name, open := range map[string]func(context.Context, string) (*DB, error){"Open": Open, "OpenExisting": OpenExisting} {
		d, err := open(context.Background(), dsn)
		if err == nil {
			d.Close()
			t.Fatalf("%s of a database from a newer minirtc succeeded", name)
		}
		if d != nil {
			t.Fatalf("%s returned a DB along with the error", name)
		}
		for _, want := range []string{"schema version " + strconv.Itoa(future), "newer minirtc", `database "minirtc_test_`} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%s error %q does not mention %q", name, err, want)
			}
		}
	}
}

// TestFailedStepRollsBack: a migration that fails part-way leaves neither
// its earlier statements nor its schema_migrations row behind, and the
// steps before it stay applied.
func TestFailedStepRollsBack(t *testing.T) {
	dsn := pgtest.DSN(t)
	orig := migrations
	t.Cleanup(func() { migrations = orig })
	migrations = append(orig[:len(orig):len(orig)], migration{Version: len(orig) + 1, Name: "9999_broken.sql",
		SQL: `CREATE TABLE half_done (x INT); SELECT no_such_column FROM half_done;`})
	d, err := Open(context.Background(), dsn)
	if err == nil {
		d.Close()
		t.Fatal("Open with a broken migration succeeded")
	}
	if !strings.Contains(err.Error(), "9999_broken.sql") {
		t.Fatalf("error %q does not name the migration", err)
	}
	migrations = orig
	checkCurrent(t, dsn)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT to_regclass('half_done') IS NOT NULL`).Scan(&exists); err != nil || exists {
		t.Fatalf("half_done exists=%v (%v): the failed step was not rolled back", exists, err)
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

// TestConcurrentOpen opens one fresh database from many goroutines at once:
// without the migration lock they would race to create the same tables.
func TestConcurrentOpen(t *testing.T) {
	dsn := pgtest.DSN(t)
	const n = 8
	var (
		wg    sync.WaitGroup
		start = make(chan struct{})
		errs  = make(chan error, n)
	)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			d, err := Open(context.Background(), dsn)
			if err != nil {
				errs <- err
				return
			}
			d.Close()
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent Open: %v", err)
	}
	checkCurrent(t, dsn)
}

// envHelperDSN makes this test binary, re-executed, open a database and exit.
const envHelperDSN = "MINIRTC_POSTGRES_HELPER_DSN"

// TestTwoProcessesMigrate opens one fresh database from three processes
// (this test binary re-executed) and this one at the same moment, as a
// server and CLI commands starting together would.
func TestTwoProcessesMigrate(t *testing.T) {
	if dsn := os.Getenv(envHelperDSN); dsn != "" {
		d, err := Open(context.Background(), dsn)
		if err != nil {
			t.Fatalf("helper Open: %v", err)
		}
		d.Close()
		return
	}
	if testing.Short() {
		t.Skip("spawns processes")
	}
	dsn := pgtest.DSN(t)
	type result struct {
		out string
		err error
	}
	results := make(chan result, 3)
	for i := 0; i < 3; i++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestTwoProcessesMigrate$", "-test.count=1")
		cmd.Env = append(os.Environ(), envHelperDSN+"="+dsn)
		go func() {
			out, err := cmd.CombinedOutput()
			results <- result{string(out), err}
		}()
	}
	d := openDSN(t, dsn)
	d.Close()
	for i := 0; i < 3; i++ {
		if r := <-results; r.err != nil {
			t.Errorf("helper process: %v\n%s", r.err, r.out)
		}
	}
	checkCurrent(t, dsn)
}
