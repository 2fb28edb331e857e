// Package pgtest gives tests a real PostgreSQL: DSN returns the address of a
// fresh, empty database that is dropped when the test ends.
//
// The server is the one MINIRTC_TEST_POSTGRES_DSN names, when it is set (the
// DSN's role must be allowed to create databases). Otherwise pgtest starts a
// throwaway cluster from Debian's postgresql package (initdb and postgres
// from PATH or /usr/lib/postgresql/*/bin) in a temporary directory, reachable
// only through a unix socket in that directory, with durability switched off
// for speed. A package whose TestMain calls Main (or runs its tests through
// Wrap) shares one cluster among all its tests and stops it when they end;
// without that, each test that asks gets a cluster of its own, stopped at
// its cleanup, which is correct but slower.
//
// Missing binaries fail the test (they never skip it): `make test` installs
// the postgresql package.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"go.uber.org/goleak"
)

// EnvDSN names the environment variable that points the tests at an
// existing server instead of a throwaway cluster.
const EnvDSN = "MINIRTC_TEST_POSTGRES_DSN"

// adminTimeout bounds creating and dropping a test database.
const adminTimeout = 30 * time.Second

// TestingM is what Wrap wraps and returns: *testing.M, and what
// goleak.VerifyTestMain accepts.
type TestingM interface{ Run() int }

var (
	// wrapped is set while tests run under Wrap: the shared cluster is
	// then stopped by Wrap, so DSN may start it.
	wrapped atomic.Bool

	sharedMu  sync.Mutex
	shared    *cluster
	sharedErr error // a failed start is not retried by every test
)

// Main is a TestMain for packages whose tests use DSN: it runs the tests,
// stops the shared cluster, then checks for leaked goroutines as
// goleak.VerifyTestMain does, and exits.
func Main(m *testing.M, opts ...goleak.Option) { goleak.VerifyTestMain(Wrap(m), opts...) }

// Wrap returns m with a Run that lets the package's tests share one
// throwaway cluster (started by the first DSN call) and stops it once m's
// tests have run, so that cleanup happens before any leak check wrapping
// the result.
func Wrap(m TestingM) TestingM { return wrapper{m} }

type wrapper struct{ m TestingM }

func (w wrapper) Run() int {
	wrapped.Store(true)
	code := w.m.Run()
	wrapped.Store(false)
	sharedMu.Lock()
	c := shared
	shared, sharedErr = nil, nil
	sharedMu.Unlock()
	if c != nil {
		if err := c.stop(); err != nil {
			fmt.Fprintf(os.Stderr, "pgtest: stopping the throwaway PostgreSQL: %v\n", err)
			if code == 0 {
				code = 1
			}
		}
	}
	return code
}

// DSN returns the DSN of a new, empty database, dropped (with any
// connections still open to it) when t ends. It fails t when no server can
// be had.
func DSN(t testing.TB) string {
	t.Helper()
	admin, forDB := server(t)
	name := "minirtc_test_" + randomHex(8)
	ctx, cancel := context.WithTimeout(context.Background(), adminTimeout)
	defer cancel()
	if err := adminExec(ctx, admin, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatalf("pgtest: creating database %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), adminTimeout)
		defer cancel()
		// FORCE ends connections a test left open (PostgreSQL 13 or newer).
		if err := adminExec(ctx, admin, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			t.Errorf("pgtest: dropping database %s: %v", name, err)
		}
	})
	return forDB(name)
}

// server returns the DSN of a database to run CREATE/DROP DATABASE in and
// a function giving the DSN of another database on the same server.
func server(t testing.TB) (admin string, forDB func(name string) string) {
	t.Helper()
	if dsn := strings.TrimSpace(os.Getenv(EnvDSN)); dsn != "" {
		return dsn, func(name string) string { return withDatabase(dsn, name) }
	}
	c := clusterFor(t)
	return c.dsn("postgres"), c.dsn
}

// clusterFor returns the shared cluster under Wrap, starting it on first
// use, and otherwise a cluster for t alone.
func clusterFor(t testing.TB) *cluster {
	t.Helper()
	if !wrapped.Load() {
		t.Logf("pgtest: starting a PostgreSQL cluster for %s alone; call pgtest.Main from TestMain to share one", t.Name())
		c, err := startCluster()
		if err != nil {
			t.Fatalf("pgtest: %v", err)
		}
		t.Cleanup(func() {
			if err := c.stop(); err != nil {
				t.Errorf("pgtest: stopping the throwaway PostgreSQL: %v", err)
			}
		})
		return c
	}
	sharedMu.Lock()
	defer sharedMu.Unlock()
	if shared == nil && sharedErr == nil {
		shared, sharedErr = startCluster()
	}
	if sharedErr != nil {
		t.Fatalf("pgtest: %v", sharedErr)
	}
	return shared
}

// withDatabase returns dsn (a URL or key=value pairs) with its database
// replaced by name.
func withDatabase(dsn, name string) string {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		if u, err := url.Parse(dsn); err == nil {
			u.Path, u.RawPath = "/"+name, ""
			return u.String()
		}
	}
	// In key=value form a later key overrides an earlier one.
	return dsn + " dbname=" + name
}

func adminExec(ctx context.Context, dsn, sql string) error {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, sql)
	return err
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
