package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/minirtc/minirtc/internal/auth"
	"github.com/minirtc/minirtc/internal/store"
	"github.com/minirtc/minirtc/internal/store/sqlite"
	"github.com/minirtc/minirtc/pkg/ids"
)

// runCLI runs the minirtc command line in-process with --data dir appended.
func runCLI(t *testing.T, dir string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	if dir != "" {
		args = append(args, "--data", dir)
	}
	return runArgs(t, "", args...)
}

func runArgs(t *testing.T, stdin string, args ...string) (string, string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	root := newRootCmd()
	root.SetArgs(args)
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetIn(strings.NewReader(stdin))
	err := root.ExecuteContext(context.Background())
	return out.String(), errOut.String(), err
}

type createdApp struct {
	ID        ids.AppID `json:"id"`
	Name      string    `json:"name"`
	Secret    string    `json:"secret"`
	CreatedAt string    `json:"created_at"`
}

func createApp(t *testing.T, dir, name string) createdApp {
	t.Helper()
	out, _, err := runCLI(t, dir, "app", "create", "--name", name)
	if err != nil {
		t.Fatalf("app create: %v", err)
	}
	var a createdApp
	if err := json.Unmarshal([]byte(out), &a); err != nil {
		t.Fatalf("app create printed %q: %v", out, err)
	}
	return a
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return lines[len(lines)-1]
}

func verifyWith(t *testing.T, secret string, app ids.AppID, tok string) (auth.Claims, error) {
	t.Helper()
	v := &auth.Verifier{Apps: staticApps{ID: app, Secret: secret}}
	return v.Verify(context.Background(), tok)
}

type staticApps store.App

func (s staticApps) GetApp(_ context.Context, id ids.AppID) (store.App, error) {
	if id != s.ID {
		return store.App{}, store.ErrNotFound
	}
	return store.App(s), nil
}

func TestAppCreateAndList(t *testing.T) {
	dir := t.TempDir()
	a := createApp(t, dir, "My Demo")
	if err := a.ID.Validate(); err != nil || a.Name != "My Demo" || len(a.Secret) != 43 {
		t.Fatalf("created %+v (%v)", a, err)
	}
	if _, err := time.Parse(time.RFC3339, a.CreatedAt); err != nil {
		t.Fatalf("created_at %q: %v", a.CreatedAt, err)
	}
	b := createApp(t, dir, "Second")

	out, _, err := runCLI(t, dir, "app", "list")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "ID") || !strings.Contains(lines[0], "NAME") || !strings.Contains(lines[0], "CREATED") {
		t.Fatalf("app list table:\n%s", out)
	}
	if !strings.Contains(lines[1], string(a.ID)) || !strings.Contains(lines[1], "My Demo") || !strings.Contains(lines[2], string(b.ID)) {
		t.Fatalf("app list not oldest first with names:\n%s", out)
	}
	if strings.Contains(out, a.Secret) || strings.Contains(out, b.Secret) {
		t.Fatal("app list table shows a secret")
	}

	out, _, err = runCLI(t, dir, "app", "list", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var list []createdApp
	if err := json.Unmarshal([]byte(out), &list); err != nil || len(list) != 2 || list[0].ID != a.ID || list[0].Secret != "" {
		t.Fatalf("app list --json = %s (%v)", out, err)
	}
	out, _, err = runCLI(t, dir, "app", "list", "--json", "--show-secrets")
	if err != nil || !strings.Contains(out, a.Secret) {
		t.Fatalf("--show-secrets: %v\n%s", err, out)
	}
	if _, _, err := runCLI(t, dir, "app", "list", "--show-secrets"); err == nil {
		t.Fatal("--show-secrets without --json succeeded")
	}
}

func TestAppCreateRefusesBadNames(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{
		{"app", "create"},
		{"app", "create", "--name", ""},
		{"app", "create", "--name", "two\nlines"},
		{"app", "create", "--name", strings.Repeat("x", 129)},
	} {
		if _, _, err := runCLI(t, dir, args...); err == nil {
			t.Errorf("%q succeeded", args)
		}
	}
	_, _, err := runCLI(t, dir, "app", "create", "--name", "")
	if err == nil || !strings.Contains(err.Error(), "1 to 128") {
		t.Errorf("empty name error %v does not say what is allowed", err)
	}
}

func TestDataDirFromEnvAndMissingDatabase(t *testing.T) {
	dir := t.TempDir()
	// Read-only commands must not create a database in a wrong directory.
	empty := filepath.Join(dir, "nothing-here")
	for _, args := range [][]string{
		{"app", "list"},
		{"token", "verify", "x.y.z"},
		{"report", "list", "--app", "appx"},
		{"token", "create", "--app", "appx", "--user", "u"},
	} {
		_, _, err := runCLI(t, empty, args...)
		if err == nil || !strings.Contains(err.Error(), "no database") {
			t.Errorf("%q on an empty data dir: %v", args, err)
		}
		if errors.As(err, new(exitError)) {
			t.Errorf("%q: a missing database is not an invalid token", args)
		}
	}
	if _, err := os.Stat(empty); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("a read-only command created the data directory")
	}

	t.Setenv(envDataDir, filepath.Join(dir, "from-env"))
	a := createApp(t, "", "env app")
	if _, err := os.Stat(sqlite.DefaultPath(filepath.Join(dir, "from-env"))); err != nil {
		t.Fatalf("$%s not used: %v", envDataDir, err)
	}
	out, _, err := runArgs(t, "", "app", "list")
	if err != nil || !strings.Contains(out, string(a.ID)) {
		t.Fatalf("app list via $%s: %v\n%s", envDataDir, err, out)
	}
}

func TestTokenCreate(t *testing.T) {
	dir := t.TempDir()
	a := createApp(t, dir, "tokens")
	out, errOut, err := runCLI(t, dir, "token", "create", "--app", string(a.ID), "--user", "alice", "--room", "r1",
		"--name", "Alice", "--metadata", `{"seat":1}`, "--ttl", "2h")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Count(strings.TrimSpace(out), "\n") != 0 {
		t.Fatalf("stdout has more than the token:\n%s", out)
	}
	if !strings.Contains(errOut, "user alice") || !strings.Contains(errOut, "room r1") || !strings.Contains(errOut, "expires") {
		t.Fatalf("description on stderr: %q", errOut)
	}
	c, err := verifyWith(t, a.Secret, a.ID, lastLine(out))
	if err != nil {
		t.Fatalf("minted token does not verify: %v", err)
	}
	if c.User != "alice" || c.Room != "r1" || c.Name != "Alice" || c.Metadata != `{"seat":1}` ||
		!reflect.DeepEqual(c.Grants, auth.DefaultGrants()) {
		t.Fatalf("claims %+v", c)
	}
	if ttl := c.ExpiresAt.Sub(c.IssuedAt); ttl != 2*time.Hour {
		t.Fatalf("ttl %s, want 2h", ttl)
	}

	for flag, want := range map[string][]auth.Grant{
		"publish":                      {auth.GrantPublish},
		"subscribe,admin":              {auth.GrantSubscribe, auth.GrantAdmin},
		"":                             {},
		"publish,subscribe,data,admin": {auth.GrantPublish, auth.GrantSubscribe, auth.GrantData, auth.GrantAdmin},
	} {
		out, _, err := runCLI(t, dir, "token", "create", "--app", string(a.ID), "--user", "bob", "--grants", flag)
		if err != nil {
			t.Fatalf("--grants %q: %v", flag, err)
		}
		c, err := verifyWith(t, a.Secret, a.ID, lastLine(out))
		if err != nil || !reflect.DeepEqual(c.Grants, want) {
			t.Fatalf("--grants %q gave %v, %v; want %v", flag, c.Grants, err, want)
		}
	}
	// Defaults: one hour, any room.
	out, _, err = runCLI(t, dir, "token", "create", "--app", string(a.ID), "--user", "carol")
	if err != nil {
		t.Fatal(err)
	}
	c, _ = verifyWith(t, a.Secret, a.ID, lastLine(out))
	if c.Room != "" || c.ExpiresAt.Sub(c.IssuedAt) != time.Hour {
		t.Fatalf("defaults: room %q ttl %s", c.Room, c.ExpiresAt.Sub(c.IssuedAt))
	}
}

func TestTokenCreateRefuses(t *testing.T) {
	dir := t.TempDir()
	a := createApp(t, dir, "tokens")
	app := string(a.ID)
	cases := map[string]struct {
		args []string
		want string
	}{
		"bad user":      {[]string{"--app", app, "--user", "al ice"}, "--user"},
		"no user":       {[]string{"--app", app}, "user"},
		"bad room":      {[]string{"--app", app, "--user", "u", "--room", "r/1"}, "--room"},
		"unknown grant": {[]string{"--app", app, "--user", "u", "--grants", "publish,root"}, "allowed grants are publish, subscribe, data, admin"},
		"zero ttl":      {[]string{"--app", app, "--user", "u", "--ttl", "0s"}, "--ttl"},
		"negative ttl":  {[]string{"--app", app, "--user", "u", "--ttl", "-1h"}, "--ttl"},
		"ttl too long":  {[]string{"--app", app, "--user", "u", "--ttl", "721h"}, "30 days"},
		"unknown app":   {[]string{"--app", "appnosuchapp", "--user", "u"}, "not found"},
		"bad app":       {[]string{"--app", "a b", "--user", "u"}, "--app"},
		"control name":  {[]string{"--app", app, "--user", "u", "--name", "a\x01"}, "control character"},
		"long metadata": {[]string{"--app", app, "--user", "u", "--metadata", strings.Repeat("m", auth.MaxMetadataLen+1)}, "metadata"},
	}
	for name, c := range cases {
		out, _, err := runCLI(t, dir, append([]string{"token", "create"}, c.args...)...)
		if err == nil {
			t.Errorf("%s: succeeded with %q", name, out)
			continue
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %q does not mention %q", name, err, c.want)
		}
		if out != "" {
			t.Errorf("%s: printed %q on failure", name, out)
		}
	}
	if _, _, err := runCLI(t, dir, "token", "create", "--app", app, "--user", "u", "--ttl", "720h"); err != nil {
		t.Errorf("ttl of exactly 30 days: %v", err)
	}
}

func TestTokenVerify(t *testing.T) {
	dir := t.TempDir()
	a := createApp(t, dir, "verify")
	out, _, err := runCLI(t, dir, "token", "create", "--app", string(a.ID), "--user", "alice", "--room", "r1", "--grants", "publish")
	if err != nil {
		t.Fatal(err)
	}
	tok := lastLine(out)

	out, _, err = runCLI(t, dir, "token", "verify", tok)
	if err != nil {
		t.Fatalf("verify of a good token: %v", err)
	}
	var c auth.Claims
	if err := json.Unmarshal([]byte(out), &c); err != nil {
		t.Fatalf("verify printed %q: %v", out, err)
	}
	if c.App != a.ID || c.User != "alice" || c.Room != "r1" || !reflect.DeepEqual(c.Grants, []auth.Grant{auth.GrantPublish}) {
		t.Fatalf("claims %+v", c)
	}
	// From stdin, with the newline a pipe adds.
	if out, _, err := runArgs(t, tok+"\n", "token", "verify", "-", "--data", dir); err != nil || !strings.Contains(out, `"alice"`) {
		t.Fatalf("verify -: %v\n%s", err, out)
	}

	now := time.Now()
	mint := func(secret string, f func(c *auth.Claims)) string {
		c := auth.Claims{App: a.ID, User: "u", IssuedAt: now, ExpiresAt: now.Add(time.Hour)}
		f(&c)
		tok, err := auth.Mint(secret, c)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	bad := map[string]string{
		"malformed":     "not-a-token",
		"bad signature": mint("wrong-secret", func(*auth.Claims) {}),
		"token expired": mint(a.Secret, func(c *auth.Claims) { c.IssuedAt, c.ExpiresAt = now.Add(-2*time.Hour), now.Add(-time.Hour) }),
		"not yet valid": mint(a.Secret, func(c *auth.Claims) { c.NotBefore = now.Add(30 * time.Minute) }),
		"unknown app":   mint(a.Secret, func(c *auth.Claims) { c.App = "appnosuchapp" }),
	}
	for reason, tok := range bad {
		out, errOut, err := runCLI(t, dir, "token", "verify", tok)
		var ex exitError
		if !errors.As(err, &ex) || ex.code != 2 {
			t.Errorf("%s: error %v, want exit status 2", reason, err)
		}
		if !strings.HasPrefix(errOut, "invalid token: ") || !strings.Contains(errOut, reason) {
			t.Errorf("%s: stderr %q", reason, errOut)
		}
		if out != "" {
			t.Errorf("%s: stdout %q", reason, out)
		}
	}
	if _, _, err := runCLI(t, dir, "token", "verify"); err == nil {
		t.Error("verify without a token succeeded")
	}
}

func TestRotateSecret(t *testing.T) {
	dir := t.TempDir()
	a := createApp(t, dir, "rotate")
	out, _, err := runCLI(t, dir, "token", "create", "--app", string(a.ID), "--user", "u")
	if err != nil {
		t.Fatal(err)
	}
	oldTok := lastLine(out)

	type rotated struct {
		ID         ids.AppID `json:"id"`
		Secret     string    `json:"secret"`
		ValidUntil string    `json:"previous_secret_valid_until"`
	}
	rotate := func(args ...string) rotated {
		t.Helper()
		out, _, err := runCLI(t, dir, append([]string{"app", "rotate-secret", "--app", string(a.ID)}, args...)...)
		if err != nil {
			t.Fatalf("rotate-secret %q: %v", args, err)
		}
		var r rotated
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatalf("rotate-secret printed %q: %v", out, err)
		}
		return r
	}
	r := rotate()
	until, err := time.Parse(time.RFC3339, r.ValidUntil)
	if err != nil || r.ID != a.ID || r.Secret == a.Secret || len(r.Secret) != 43 {
		t.Fatalf("rotate-secret = %+v (%v)", r, err)
	}
	if d := time.Until(until); d < 23*time.Hour || d > 25*time.Hour {
		t.Fatalf("default overlap: old secret valid until %s", r.ValidUntil)
	}
	// During the overlap both old and new tokens verify.
	if _, _, err := runCLI(t, dir, "token", "verify", oldTok); err != nil {
		t.Fatalf("old token during overlap: %v", err)
	}
	out, _, _ = runCLI(t, dir, "token", "create", "--app", string(a.ID), "--user", "u")
	if _, err := verifyWith(t, r.Secret, a.ID, lastLine(out)); err != nil {
		t.Fatalf("token after rotation is not signed with the new secret: %v", err)
	}
	// Without overlap the old secret stops at once.
	rotate("--overlap", "0")
	_, errOut, err := runCLI(t, dir, "token", "verify", oldTok)
	if !errors.As(err, new(exitError)) || !strings.Contains(errOut, "bad signature") {
		t.Fatalf("old token after --overlap 0: %v %q", err, errOut)
	}

	for _, args := range [][]string{{"--overlap", "-1h"}, {"--overlap", "721h"}} {
		if _, _, err := runCLI(t, dir, append([]string{"app", "rotate-secret", "--app", string(a.ID)}, args...)...); err == nil {
			t.Errorf("rotate-secret %q succeeded", args)
		}
	}
	_, _, err = runCLI(t, dir, "app", "rotate-secret", "--app", "appnosuchapp")
	if err == nil || !strings.Contains(err.Error(), "not found") {
		t.Errorf("rotate of a missing app: %v", err)
	}
}

func TestReportList(t *testing.T) {
	dir := t.TempDir()
	a := createApp(t, dir, "reports")
	b := createApp(t, dir, "other")
	db, err := sqlite.Open(context.Background(), sqlite.DefaultPath(dir))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Millisecond)
	add := func(app ids.AppID, room ids.RoomID, user ids.UserID, ago time.Duration, data string) {
		if _, err := db.AddReport(context.Background(), store.Report{App: app, Room: room, User: user, Session: "s1",
			Kind: "pusher", Stream: ids.Stream(user, "main"), Data: json.RawMessage(data), At: now.Add(-ago)}); err != nil {
			t.Fatal(err)
		}
	}
	add(a.ID, "r1", "alice", 3*time.Hour, `{"code": 1002}`)
	add(a.ID, "r1", "bob", 30*time.Minute, `{"code": -1307, "long": "`+strings.Repeat("x", 300)+`"}`)
	add(a.ID, "r2", "alice", 10*time.Minute, `{"code": 1003}`)
	add(b.ID, "r1", "alice", time.Minute, `{"other": true}`)
	db.Close()

	list := func(args ...string) []store.Report {
		t.Helper()
		out, _, err := runCLI(t, dir, append([]string{"report", "list", "--app", string(a.ID), "--json"}, args...)...)
		if err != nil {
			t.Fatalf("report list %q: %v", args, err)
		}
		var rs []store.Report
		if err := json.Unmarshal([]byte(out), &rs); err != nil {
			t.Fatalf("report list printed %q: %v", out, err)
		}
		return rs
	}
	users := func(rs []store.Report) string {
		var s []string
		for _, r := range rs {
			s = append(s, string(r.Room)+"/"+string(r.User))
		}
		return strings.Join(s, " ")
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{nil, "r2/alice r1/bob r1/alice"},
		{[]string{"--room", "r1"}, "r1/bob r1/alice"},
		{[]string{"--user", "alice"}, "r2/alice r1/alice"},
		{[]string{"--since", "1h"}, "r2/alice r1/bob"},
		{[]string{"--limit", "1"}, "r2/alice"},
		{[]string{"--from", now.Add(-4 * time.Hour).Format(time.RFC3339), "--to", now.Add(-20 * time.Minute).Format(time.RFC3339)}, "r1/bob r1/alice"},
		{[]string{"--from", now.Add(-20 * time.Minute).Format(time.RFC3339)}, "r2/alice"},
		{[]string{"--user", "nobody"}, ""},
	} {
		if got := users(list(c.args...)); got != c.want {
			t.Errorf("report list %q = %q, want %q", c.args, got, c.want)
		}
	}
	rs := list("--room", "r2")
	var compact bytes.Buffer
	if len(rs) == 1 {
		json.Compact(&compact, rs[0].Data)
	}
	if len(rs) != 1 || compact.String() != `{"code":1003}` || rs[0].Stream != "alice_main" || rs[0].Kind != "pusher" {
		t.Fatalf("report JSON: %+v", rs)
	}
	if out, _, _ := runCLI(t, dir, "report", "list", "--app", string(a.ID), "--json", "--user", "nobody"); strings.TrimSpace(out) != "[]" {
		t.Errorf("empty JSON result is %q, want []", out)
	}

	out, _, err := runCLI(t, dir, "report", "list", "--app", string(a.ID))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[0], "AT") || !strings.Contains(lines[1], "alice_main") ||
		!strings.Contains(lines[2], `{"code":-1307`) || !strings.HasSuffix(lines[2], "…") {
		t.Fatalf("report table:\n%s", out)
	}

	for name, args := range map[string][]string{
		"no app":         {},
		"unknown app":    {"--app", "appnosuchapp"},
		"since and from": {"--app", string(a.ID), "--since", "1h", "--from", "2025-01-01T00:00:00Z"},
		"negative since": {"--app", string(a.ID), "--since", "-1h"},
		"bad from":       {"--app", string(a.ID), "--from", "yesterday"},
		"bad to":         {"--app", string(a.ID), "--to", "2025-13-01"},
		"from after to":  {"--app", string(a.ID), "--from", "2025-02-01T00:00:00Z", "--to", "2025-01-01T00:00:00Z"},
		"limit zero":     {"--app", string(a.ID), "--limit", "0"},
		"limit too big":  {"--app", string(a.ID), "--limit", "1001"},
		"bad room":       {"--app", string(a.ID), "--room", "a b"},
	} {
		if _, _, err := runCLI(t, dir, append([]string{"report", "list"}, args...)...); err == nil {
			t.Errorf("report list (%s) succeeded", name)
		}
	}
}
