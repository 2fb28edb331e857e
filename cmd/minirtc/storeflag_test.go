package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/minirtc/minirtc/internal/auth"
	"github.com/minirtc/minirtc/internal/store/pgtest"
	"github.com/minirtc/minirtc/internal/store/postgres"
)

// TestCLIOnPostgres runs the store commands against PostgreSQL, with the
// store chosen by flags and by the environment.
func TestCLIOnPostgres(t *testing.T) {
	dsn := pgtest.DSN(t)
	pg := []string{"--store-driver", "postgres", "--store-dsn", dsn}
	// --data points nowhere: with postgres it must not matter.
	nowhere := t.TempDir() + "/none"

	out, _, err := runArgs(t, "", append([]string{"app", "create", "--name", "on postgres", "--data", nowhere}, pg...)...)
	if err != nil {
		t.Fatalf("app create: %v", err)
	}
	var a createdApp
	if err := json.Unmarshal([]byte(out), &a); err != nil || a.ID == "" || a.Secret == "" {
		t.Fatalf("app create printed %q (%v)", out, err)
	}
	// The app is in the database, as the server would read it.
	db, err := postgres.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	got, err := db.GetApp(context.Background(), a.ID)
	if err != nil || got.Secret != a.Secret || got.Name != "on postgres" {
		t.Fatalf("app in PostgreSQL = %+v, %v", got, err)
	}

	// The environment chooses the store as well as the flags do.
	t.Setenv(envStoreDriver, "postgres")
	t.Setenv(envStoreDSN, dsn)
	out, _, err = runArgs(t, "", "app", "list", "--json", "--data", nowhere)
	if err != nil || !strings.Contains(out, string(a.ID)) {
		t.Fatalf("app list from the environment = %q, %v", out, err)
	}
	tok, _, err := runArgs(t, "", "token", "create", "--app", string(a.ID), "--user", "alice", "--room", "r1")
	if err != nil {
		t.Fatalf("token create: %v", err)
	}
	claims, err := (&auth.Verifier{Apps: db}).Verify(context.Background(), strings.TrimSpace(tok))
	if err != nil || claims.App != a.ID || claims.User != "alice" {
		t.Fatalf("token from postgres app: %+v, %v", claims, err)
	}
	for _, args := range [][]string{
		{"ingest", "create", "--app", string(a.ID), "--room", "r1", "--user", "bob", "--field", "url"},
		{"url", "play", "--app", string(a.ID), "--room", "r1", "--stream", "bob_main", "--field", "flv"},
		{"app", "rotate-secret", "--app", string(a.ID), "--overlap", "0"},
	} {
		if out, _, err := runArgs(t, "", args...); err != nil || strings.TrimSpace(out) == "" {
			t.Fatalf("%s: %q, %v", strings.Join(args[:2], " "), out, err)
		}
	}
	// An unknown app names the database it looked in.
	if _, _, err := runArgs(t, "", "token", "create", "--app", "appnosuchapp", "--user", "u"); err == nil ||
		!strings.Contains(err.Error(), "minirtc_test_") {
		t.Fatalf("token create for a missing app: %v", err)
	}
}

// TestCLIPostgresEmptyDatabase: only app create gives a database minirtc's
// tables; other commands point at the DSN instead.
func TestCLIPostgresEmptyDatabase(t *testing.T) {
	dsn := pgtest.DSN(t)
	_, _, err := runArgs(t, "", "app", "list", "--store-driver", "postgres", "--store-dsn", dsn)
	if err == nil || !strings.Contains(err.Error(), "no minirtc tables") || !strings.Contains(err.Error(), "--store-dsn") {
		t.Fatalf("app list on an empty database: %v", err)
	}
	if _, _, err := runArgs(t, "", "app", "create", "--name", "first", "--store-driver", "postgres", "--store-dsn", dsn); err != nil {
		t.Fatalf("app create on an empty database: %v", err)
	}
	if _, _, err := runArgs(t, "", "app", "list", "--store-driver", "postgres", "--store-dsn", dsn); err != nil {
		t.Fatalf("app list after create: %v", err)
	}
}

func TestCLIStoreFlagErrors(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		env  map[string]string
		args []string
		want string
	}{
		{nil, []string{"--store-driver", "postgres"}, "needs --store-dsn"},
		{nil, []string{"--store-driver", "mysql"}, `got "mysql"`},
		{nil, []string{"--store-dsn", "postgres://db/minirtc"}, "store driver is sqlite"},
		{map[string]string{envStoreDSN: "postgres://db/minirtc"}, nil, "store driver is sqlite"},
		{map[string]string{envStoreDriver: "postgres"}, nil, "needs --store-dsn"},
	} {
		t.Run(c.want, func(t *testing.T) {
			for k, v := range c.env {
				t.Setenv(k, v)
			}
			_, _, err := runArgs(t, "", append([]string{"app", "create", "--name", "x", "--data", dir}, c.args...)...)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one containing %q", err, c.want)
			}
		})
	}
}

// TestCLIHelpHidesDSN: the DSN may hold a password; --help must not print
// the environment's value as the flag's default.
func TestCLIHelpHidesDSN(t *testing.T) {
	t.Setenv(envStoreDSN, "postgres://minirtc:hunter2secret@db/minirtc")
	out, _, err := runArgs(t, "", "app", "list", "--help")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "--store-dsn") || strings.Contains(out, "hunter2secret") {
		t.Fatalf("help:\n%s", out)
	}
}
