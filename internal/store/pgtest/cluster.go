package pgtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// A throwaway cluster lives in one temporary directory:
//
//	DIR/owner          pid of the test binary that started it
//	DIR/data/          the cluster (initdb)
//	DIR/.s.PGSQL.5432  its only way in: a unix socket (no TCP listener)
//	DIR/postgres.log   the server's log, quoted when it fails to start
const (
	dirPrefix  = "minirtc-pgtest-"
	socketPort = 5432
	// superuser is the role initdb creates; trust authentication means
	// anyone who can reach the socket (in a 0700 directory) is let in.
	superuser = "postgres"
	// startTimeout bounds initdb plus the server becoming ready.
	startTimeout = 60 * time.Second
	// stopTimeout bounds a fast shutdown before the server is killed.
	stopTimeout = 30 * time.Second
)

// serverSettings trade durability for speed: a crash loses a throwaway
// cluster anyway. max_connections leaves room for parallel tests, each
// with its own pool.
var serverSettings = []string{
	"listen_addresses=", // unix socket only
	"fsync=off",
	"synchronous_commit=off",
	"full_page_writes=off",
	"max_connections=200",
	"shared_buffers=32MB",
	"log_min_messages=warning",
}

type cluster struct {
	dir     string
	proc    *exec.Cmd
	exited  chan struct{} // closed once proc has been waited for
	waitErr error         // proc's exit, valid after exited is closed
}

// dsn is the URL of database name in the cluster.
func (c *cluster) dsn(name string) string {
	u := url.URL{Scheme: "postgres", User: url.User(superuser), Path: "/" + name,
		RawQuery: url.Values{"host": {c.dir}, "port": {strconv.Itoa(socketPort)}, "sslmode": {"disable"}}.Encode()}
	return u.String()
}

// startCluster runs initdb in a new temporary directory and starts the
// server; it returns once the server accepts connections.
func startCluster() (c *cluster, err error) {
	bin, err := findBinaries()
	if err != nil {
		return nil, err
	}
	cred, err := credential()
	if err != nil {
		return nil, err
	}
	base := socketBase()
	owner := uint32(os.Geteuid())
	if cred != nil {
		owner = cred.Uid
	}
	sweepStale(base, owner)
	dir, err := os.MkdirTemp(base, dirPrefix)
	if err != nil {
		return nil, fmt.Errorf("creating the cluster directory: %w", err)
	}
	c = &cluster{dir: dir}
	defer func() {
		if err != nil {
			c.stop()
		}
	}()
	if err := os.WriteFile(filepath.Join(dir, "owner"), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		return nil, err
	}
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			return nil, fmt.Errorf("giving %s to the postgres user: %w", dir, err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()

	initdb := exec.CommandContext(ctx, filepath.Join(bin, "initdb"), "-D", filepath.Join(dir, "data"),
		"-U", superuser, "--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync")
	initdb.Dir, initdb.Env, initdb.SysProcAttr = dir, childEnv(), &syscall.SysProcAttr{Credential: cred}
	if out, err := initdb.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("initdb: %w\n%s", err, out)
	}

	logFile, err := os.OpenFile(filepath.Join(dir, "postgres.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer logFile.Close() // the child has its own descriptor
	args := []string{"-D", filepath.Join(dir, "data"), "-k", dir, "-p", strconv.Itoa(socketPort)}
	for _, s := range serverSettings {
		args = append(args, "-c", s)
	}
	c.proc = exec.Command(filepath.Join(bin, "postgres"), args...)
	c.proc.Dir, c.proc.Env, c.proc.Stdout, c.proc.Stderr = dir, childEnv(), logFile, logFile
	// The server gets SIGQUIT (immediate shutdown) if the test binary dies
	// without stopping it, e.g. on a test timeout. Go applies Pdeathsig after
	// switching to Credential, so the switch does not clear it. Running the
	// binaries this way (rather than through runuser or setpriv) keeps the
	// server our direct child, which both need.
	c.proc.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGQUIT}
	if err := c.proc.Start(); err != nil {
		c.proc = nil
		return nil, fmt.Errorf("starting postgres: %w", err)
	}
	c.exited = make(chan struct{})
	go func() {
		c.waitErr = c.proc.Wait()
		close(c.exited)
	}()
	if err := c.waitReady(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

// waitReady polls until the server accepts a connection, exits, or ctx ends.
func (c *cluster) waitReady(ctx context.Context) error {
	for {
		attempt, cancel := context.WithTimeout(ctx, 2*time.Second)
		conn, err := pgx.Connect(attempt, c.dsn("postgres"))
		cancel()
		if err == nil {
			return conn.Close(context.Background())
		}
		select {
		case <-c.exited:
			return fmt.Errorf("postgres exited at start (%v); its log:\n%s", c.waitErr, c.logTail())
		case <-ctx.Done():
			return fmt.Errorf("postgres not ready after %s (last error: %v); its log:\n%s", startTimeout, err, c.logTail())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (c *cluster) logTail() string {
	b, _ := os.ReadFile(filepath.Join(c.dir, "postgres.log"))
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// stop shuts the server down (fast shutdown: sessions are ended, not
// waited for) and removes the directory.
func (c *cluster) stop() error {
	var errs []error
	if c.proc != nil {
		select {
		case <-c.exited:
		default:
			if err := c.proc.Process.Signal(syscall.SIGINT); err != nil {
				errs = append(errs, fmt.Errorf("signalling postgres: %w", err))
			}
			select {
			case <-c.exited:
			case <-time.After(stopTimeout):
				c.proc.Process.Kill()
				<-c.exited
				errs = append(errs, fmt.Errorf("postgres did not stop within %s; killed it", stopTimeout))
			}
		}
	}
	if err := os.RemoveAll(c.dir); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// findBinaries returns the directory holding initdb and postgres: the one
// initdb on PATH resolves to, else the newest /usr/lib/postgresql/N/bin
// (Debian keeps the server binaries off PATH).
func findBinaries() (string, error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil && isExecutable(filepath.Join(filepath.Dir(real), "postgres")) {
			return filepath.Dir(real), nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return versionOf(dirs[i]) > versionOf(dirs[j]) })
	for _, d := range dirs {
		if isExecutable(filepath.Join(d, "initdb")) && isExecutable(filepath.Join(d, "postgres")) {
			return d, nil
		}
	}
	return "", fmt.Errorf("PostgreSQL's initdb and postgres were found neither on PATH nor in /usr/lib/postgresql/*/bin: "+
		"install Debian's postgresql package (apt-get install postgresql; `make test` installs it), "+
		"or set %s to a server on which the tests may create databases", EnvDSN)
}

// versionOf is N of /usr/lib/postgresql/N/bin (0 if it is not a number).
func versionOf(binDir string) float64 {
	v, _ := strconv.ParseFloat(filepath.Base(filepath.Dir(binDir)), 64)
	return v
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}

// credential is the user to run initdb and postgres as: nil (ourselves)
// unless we are root, which both refuse to run as; then the postgres user
// Debian's package creates.
func credential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("running as root, which initdb and postgres refuse, and there is no postgres user to run them as "+
			"(Debian's postgresql package creates it; `make test` installs it): %w", err)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err1 != nil || err2 != nil {
		return nil, fmt.Errorf("postgres user has uid %q gid %q", u.Uid, u.Gid)
	}
	// No Groups: root's supplementary groups are dropped.
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

// socketBase is the directory for cluster directories: the system's
// temporary directory unless its path would push the socket's path past
// the 107 bytes a unix socket address holds.
func socketBase() string {
	base := os.TempDir()
	if len(base)+len("/"+dirPrefix+"1234567890/.s.PGSQL.5432") > 100 {
		return "/tmp"
	}
	return base
}

// childEnv is our environment without PG* variables (which would steer
// initdb and postgres) and with the C locale.
func childEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "PG") || strings.HasPrefix(kv, "LC_") || strings.HasPrefix(kv, "LANG=") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, "LC_ALL=C", "LANG=C")
}

// sweepStale removes cluster directories left by test binaries that died
// without stopping their cluster (a killed `go test`), stopping a server
// still running in one. Only directories owned by uid (the user clusters
// run as) are touched: anyone can create a directory in /tmp.
func sweepStale(base string, uid uint32) {
	dirs, _ := filepath.Glob(filepath.Join(base, dirPrefix+"*"))
	for _, d := range dirs {
		if fi, err := os.Lstat(d); err != nil || !fi.IsDir() || fi.Sys().(*syscall.Stat_t).Uid != uid {
			continue
		}
		owner, ok := readPID(filepath.Join(d, "owner"))
		if !ok || processExists(owner) {
			continue // being set up, or its test binary still runs
		}
		if pm, ok := readPID(filepath.Join(d, "data", "postmaster.pid")); ok && processExists(pm) {
			syscall.Kill(pm, syscall.SIGQUIT)
		}
		os.RemoveAll(d)
	}
}

// readPID reads a pid from the first line of a file.
func readPID(path string) (int, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	line, _, _ := bytes.Cut(b, []byte("\n"))
	pid, err := strconv.Atoi(strings.TrimSpace(string(line)))
	return pid, err == nil && pid > 0
}

func processExists(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
