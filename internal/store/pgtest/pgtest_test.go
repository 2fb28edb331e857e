package pgtest

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"go.uber.org/goleak"
)

// No Wrap here: the tests below exercise both the per-test clusters DSN
// starts without it and Wrap itself.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// query runs a one-value query on dsn.
func query[T any](t *testing.T, dsn, sql string, args ...any) T {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect %s: %v", dsn, err)
	}
	defer conn.Close(ctx)
	var v T
	if err := conn.QueryRow(ctx, sql, args...).Scan(&v); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return v
}

func databaseExists(t *testing.T, adminDSN, name string) bool {
	return query[bool](t, adminDSN, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, name)
}

// TestPerTestCluster: without Wrap, DSN starts a cluster for the test and
// stops and removes it at the test's end; stale directories of dead test
// binaries are swept at the start.
func TestPerTestCluster(t *testing.T) {
	// A directory as a killed test binary leaves it: its owner is gone.
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	stale, err := os.MkdirTemp(socketBase(), dirPrefix)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(stale, "owner"), []byte(strconv.Itoa(dead.Process.Pid)), 0o644); err != nil {
		t.Fatal(err)
	}
	if cred, _ := credential(); cred != nil {
		os.Chown(stale, int(cred.Uid), int(cred.Gid))
	}
	// One whose owner (this process) lives must stay.
	live, err := os.MkdirTemp(socketBase(), dirPrefix)
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(live)
	if err := os.WriteFile(filepath.Join(live, "owner"), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		t.Fatal(err)
	}
	if cred, _ := credential(); cred != nil {
		os.Chown(live, int(cred.Uid), int(cred.Gid))
	}

	var dir string
	t.Run("inner", func(t *testing.T) {
		dsn := DSN(t)
		cfg, err := pgx.ParseConfig(dsn)
		if err != nil {
			t.Fatal(err)
		}
		dir = cfg.Host
		if !strings.HasPrefix(filepath.Base(dir), dirPrefix) {
			t.Fatalf("DSN %s is not on a throwaway cluster", dsn)
		}
		if !strings.HasPrefix(cfg.Database, "minirtc_test_") {
			t.Fatalf("database %q", cfg.Database)
		}
		if n := query[int](t, dsn, `SELECT count(*) FROM pg_tables WHERE schemaname = 'public'`); n != 0 {
			t.Fatalf("new database has %d tables", n)
		}
		// Reachable only through the socket.
		if la := query[string](t, dsn, `SHOW listen_addresses`); la != "" {
			t.Fatalf("listen_addresses = %q, want none", la)
		}
		if fsync := query[string](t, dsn, `SHOW fsync`); fsync != "off" {
			t.Fatalf("fsync = %q", fsync)
		}
		// As root, the server runs as the postgres user (it refuses root).
		if cred, _ := credential(); cred != nil {
			pid, ok := readPID(filepath.Join(dir, "data", "postmaster.pid"))
			fi, err := os.Stat("/proc/" + strconv.Itoa(pid))
			if !ok || err != nil || fi.Sys().(*syscall.Stat_t).Uid != cred.Uid {
				t.Fatalf("postmaster %d (%v) does not run as uid %d", pid, err, cred.Uid)
			}
		}
	})
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("cluster directory %s still there after the test (%v)", dir, err)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("stale directory %s was not swept (%v)", stale, err)
	}
	if _, err := os.Stat(live); err != nil {
		t.Errorf("directory of a live test binary was swept: %v", err)
	}
}

type fakeM func() int

func (f fakeM) Run() int { return f() }

// TestWrapSharesOneCluster: under Wrap every DSN call uses one cluster,
// each gets its own database, dropped at its test's end, and the cluster is
// gone once Run returns. It also points EnvDSN at that cluster, as a CI
// with its own server would.
func TestWrapSharesOneCluster(t *testing.T) {
	var dirs []string
	var admin string
	code := Wrap(fakeM(func() int {
		var names []string
		for i := 0; i < 2; i++ {
			t.Run("db"+strconv.Itoa(i), func(t *testing.T) {
				cfg, err := pgx.ParseConfig(DSN(t))
				if err != nil {
					t.Fatal(err)
				}
				dirs, names = append(dirs, cfg.Host), append(names, cfg.Database)
			})
		}
		if len(dirs) != 2 || dirs[0] != dirs[1] || names[0] == names[1] {
			t.Errorf("DSN under Wrap gave hosts %v and databases %v; want one host, two databases", dirs, names)
			return 1
		}
		sharedMu.Lock()
		admin = shared.dsn("postgres")
		sharedMu.Unlock()
		for _, n := range names {
			if databaseExists(t, admin, n) {
				t.Errorf("database %s not dropped at its test's end", n)
			}
		}
		// EnvDSN: databases are made on that server instead, in both DSN forms.
		for _, env := range []string{admin, "host=" + dirs[0] + " port=5432 user=postgres dbname=postgres sslmode=disable"} {
			t.Run("env", func(t *testing.T) {
				t.Setenv(EnvDSN, env)
				cfg, err := pgx.ParseConfig(DSN(t))
				if err != nil {
					t.Fatal(err)
				}
				if cfg.Host != dirs[0] || !databaseExists(t, admin, cfg.Database) {
					t.Errorf("with %s set, DSN gave database %q on %s", EnvDSN, cfg.Database, cfg.Host)
				}
			})
		}
		return 0
	})).Run()
	if code != 0 {
		t.Fatalf("Run = %d", code)
	}
	if _, err := os.Stat(dirs[0]); !os.IsNotExist(err) {
		t.Fatalf("shared cluster directory %s still there after Run (%v)", dirs[0], err)
	}
	if wrapped.Load() || shared != nil {
		t.Fatal("Wrap left its state behind")
	}
}

func TestWithDatabase(t *testing.T) {
	for in, want := range map[string]string{
		"postgres://u:p@h:5432/postgres?sslmode=disable": "postgres://u:p@h:5432/x?sslmode=disable",
		"postgresql://h/":               "postgresql://h/x",
		"host=h user=u dbname=postgres": "host=h user=u dbname=postgres dbname=x",
	} {
		if got := withDatabase(in, "x"); got != want {
			t.Errorf("withDatabase(%q) = %q, want %q", in, got, want)
		}
	}
	// The later dbname wins in key=value form.
	cfg, err := pgx.ParseConfig(withDatabase("host=/tmp user=u dbname=postgres", "x"))
	if err != nil || cfg.Database != "x" {
		t.Fatalf("parsed database %q, %v", cfg.Database, err)
	}
}

// envHelper makes this test binary, re-executed, start a cluster, print its
// directory and wait to be killed.
const envHelper = "MINIRTC_PGTEST_HELPER"

// TestKilledTestBinary: when a test binary dies without stopping its
// cluster (kill -9, a test timeout), the server stops too, and the next
// start sweeps the directory away.
func TestKilledTestBinary(t *testing.T) {
	if os.Getenv(envHelper) != "" {
		c, err := startCluster()
		if err != nil {
			t.Fatal(err)
		}
		os.Stdout.WriteString(c.dir + "\n")
		time.Sleep(time.Minute)
		t.Fatal("helper was not killed")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestKilledTestBinary$", "-test.count=1")
	cmd.Env = append(os.Environ(), envHelper+"=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer cmd.Process.Kill()
	var dir string
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if l := sc.Text(); strings.Contains(l, dirPrefix) {
			dir = strings.TrimSpace(l)
			break
		}
	}
	if dir == "" {
		t.Fatal("helper printed no cluster directory")
	}
	pm, ok := readPID(filepath.Join(dir, "data", "postmaster.pid"))
	if !ok || !processExists(pm) {
		t.Fatalf("no running postmaster in %s", dir)
	}
	cmd.Process.Kill()
	cmd.Wait()
	deadline := time.Now().Add(15 * time.Second)
	for processExists(pm) {
		if time.Now().After(deadline) {
			syscall.Kill(pm, syscall.SIGKILL)
			t.Fatalf("postmaster %d still running 15 s after its test binary was killed", pm)
		}
		time.Sleep(50 * time.Millisecond)
	}
	owner := uint32(os.Geteuid())
	if cred, _ := credential(); cred != nil {
		owner = cred.Uid
	}
	sweepStale(socketBase(), owner)
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		os.RemoveAll(dir)
		t.Fatalf("directory %s of the killed binary was not swept (%v)", dir, err)
	}
}
