package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/minirtc/minirtc/internal/store"
	"github.com/minirtc/minirtc/internal/store/pgtest"
	"github.com/minirtc/minirtc/internal/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return openTemp(t) })
}

// openTemp opens a fresh database; the test closes it (storetest.Run does).
func openTemp(t *testing.T) *DB {
	t.Helper()
	return openDSN(t, pgtest.DSN(t))
}

func openDSN(t *testing.T, dsn string) *DB {
	t.Helper()
	d, err := Open(context.Background(), dsn)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return d
}

// withParam adds a parameter to dsn, a URL or key=value pairs (either can
// come from MINIRTC_TEST_POSTGRES_DSN).
func withParam(t *testing.T, dsn, key, value string) string {
	t.Helper()
	if !strings.Contains(dsn, "://") {
		return dsn + " " + key + "=" + value
	}
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set(key, value)
	u.RawQuery = q.Encode()
	return u.String()
}

func TestOpenErrors(t *testing.T) {
	ctx := context.Background()
	if _, err := Open(ctx, "  "); err == nil || !strings.Contains(err.Error(), "DSN is empty") {
		t.Fatalf("Open(blank) = %v, want a DSN is empty error", err)
	}
	if _, err := Open(ctx, "postgres://u:pw@localhost:notaport/db"); err == nil {
		t.Fatal("Open of an unparsable DSN succeeded")
	}
	// Nobody listens in an empty directory: the error names the database
	// and the server, and never the password.
	dsn := "host=" + t.TempDir() + " user=minirtc password=s3cretpw dbname=nowhere connect_timeout=5"
	start := time.Now()
	_, err := Open(ctx, dsn)
	if err == nil {
		t.Fatal("Open with no server succeeded")
	}
	if strings.Contains(err.Error(), "s3cretpw") {
		t.Fatalf("error shows the password: %v", err)
	}
	if !strings.Contains(err.Error(), `database "nowhere"`) {
		t.Fatalf("error %q does not name the database", err)
	}
	if time.Since(start) > 10*time.Second {
		t.Fatalf("Open took %s to fail", time.Since(start))
	}
}

func TestPathAndPing(t *testing.T) {
	d := openTemp(t)
	defer d.Close()
	if p := d.Path(); !strings.HasPrefix(p, `database "minirtc_test_`) || strings.Contains(p, "password") {
		t.Fatalf("Path = %q", p)
	}
	if err := d.Ping(context.Background()); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	d.Close()
	if err := d.Ping(context.Background()); err == nil {
		t.Fatal("Ping after Close succeeded")
	}
}

// TestReportDataVerbatim stores bytes that are not UTF-8 inside a JSON
// string (Go's JSON validation allows them): they come back unchanged, as
// they do from SQLite, rather than being refused or rewritten.
func TestReportDataVerbatim(t *testing.T) {
	ctx := context.Background()
	d := openTemp(t)
	defer d.Close()
	a, err := d.CreateApp(ctx, "verbatim")
	if err != nil {
		t.Fatal(err)
	}
	data := json.RawMessage("{\"b\" : \"\xff\xfe\",  \"a\":1}")
	if _, err := d.AddReport(ctx, store.Report{App: a.ID, Room: "r", User: "u", Kind: "k", Data: data, At: time.Now()}); err != nil {
		t.Fatal(err)
	}
	got, err := d.QueryReports(ctx, store.ReportQuery{App: a.ID})
	if err != nil || len(got) != 1 || string(got[0].Data) != string(data) {
		t.Fatalf("QueryReports = %+v, %v; want data %q", got, err, data)
	}
}

// TestTimesInAnotherTimeZone: a session time zone other than UTC changes
// neither the instants stored nor the UTC location of those read back.
func TestTimesInAnotherTimeZone(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.DSN(t)
	d := openDSN(t, withParam(t, dsn, "timezone", "Asia/Shanghai"))
	defer d.Close()
	a, err := d.CreateApp(ctx, "tz")
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2025, 1, 2, 3, 4, 5, 678_900_000, time.FixedZone("X", -7*3600))
	if _, err := d.AddReport(ctx, store.Report{App: a.ID, Room: "r", User: "u", Kind: "k", At: at}); err != nil {
		t.Fatal(err)
	}
	got, err := d.QueryReports(ctx, store.ReportQuery{App: a.ID, From: at.Add(-time.Millisecond), To: at.Add(time.Millisecond)})
	if err != nil || len(got) != 1 {
		t.Fatalf("QueryReports = %v, %v", got, err)
	}
	if want := at.Truncate(time.Millisecond).UTC(); !got[0].At.Equal(want) || got[0].At.Location() != time.UTC {
		t.Fatalf("At = %v, want %v in UTC", got[0].At, want)
	}
	if err := d.PutBan(ctx, store.Ban{App: a.ID, Room: "r", User: "u", Until: at}); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := d.ActiveBan(ctx, a.ID, "r", "u", at.Add(-time.Millisecond)); !ok || err != nil {
		t.Fatalf("ban not active just before Until: %v, %v", ok, err)
	}
	if _, ok, _ := d.ActiveBan(ctx, a.ID, "r", "u", at.Truncate(time.Millisecond).Add(500*time.Microsecond)); ok {
		t.Fatal("ban active after Until (sub-millisecond instants compare as their millisecond)")
	}
}

func TestNotFoundIsWrapped(t *testing.T) {
	d := openTemp(t)
	defer d.Close()
	_, err := d.GetApp(context.Background(), "appnosuchapp")
	if !errors.Is(err, store.ErrNotFound) || !strings.Contains(err.Error(), "appnosuchapp") {
		t.Fatalf("GetApp(missing) = %v", err)
	}
}

// TestSearchPath: with search_path in the DSN the tables, schema_migrations
// included, go into that schema.
func TestSearchPath(t *testing.T) {
	dsn := pgtest.DSN(t)
	execSQL(t, dsn, `CREATE SCHEMA minirtc`)
	d := openDSN(t, withParam(t, dsn, "search_path", "minirtc"))
	defer d.Close()
	if _, err := d.CreateApp(context.Background(), "in a schema"); err != nil {
		t.Fatal(err)
	}
	var schema string
	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if err := conn.QueryRow(context.Background(), `SELECT schemaname FROM pg_tables WHERE tablename = 'schema_migrations'`).Scan(&schema); err != nil || schema != "minirtc" {
		t.Fatalf("schema_migrations is in schema %q (%v), want minirtc", schema, err)
	}
}

// TestReconnectsAfterConnectionsEnd: when the server ends the pool's
// connections (a restart, a failover), the store carries on with new ones.
func TestReconnectsAfterConnectionsEnd(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.DSN(t)
	d := openDSN(t, dsn)
	defer d.Close()
	a, err := d.CreateApp(ctx, "survivor")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	execSQL(t, dsn, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()`, cfg.Database)
	// The pool checks a connection idle for over a second before handing it out.
	time.Sleep(1100 * time.Millisecond)
	if err := d.Ping(ctx); err != nil {
		t.Fatalf("Ping after the connections ended: %v", err)
	}
	if got, err := d.GetApp(ctx, a.ID); err != nil || got.Name != "survivor" {
		t.Fatalf("GetApp after the connections ended: %+v, %v", got, err)
	}
}
