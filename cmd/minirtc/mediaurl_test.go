package main

import (
	"context"
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/minirtc/minirtc/internal/auth"
	"github.com/minirtc/minirtc/pkg/ids"
)

// verifyMediaURL checks URLs the CLI printed the way the server does.
func verifyMediaURL(t *testing.T, app createdApp, raw, prefix, suffix string) auth.MediaGrant {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	path := strings.TrimSuffix(strings.TrimPrefix(u.Path, prefix), suffix)
	v := &auth.Verifier{Apps: staticApps{ID: app.ID, Secret: app.Secret}}
	g, err := v.VerifyMedia(context.Background(), path, u.Query())
	if err != nil {
		t.Fatalf("%s does not verify: %v", raw, err)
	}
	return g
}

func TestIngestCreate(t *testing.T) {
	dir := t.TempDir()
	a := createApp(t, dir, "media")
	out, _, err := runCLI(t, dir, "ingest", "create", "--app", string(a.ID), "--room", "r1", "--user", "obs", "--tag", "cam")
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		URL, Stream, User, Room string
		ExpiresAt               string `json:"expires_at"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("%q: %v", out, err)
	}
	if !strings.HasPrefix(got.URL, "rtmp://localhost:1935/"+string(a.ID)+"/r1/obs_cam?") || got.Stream != "obs_cam" || got.ExpiresAt == "" {
		t.Fatalf("ingest create printed %+v", got)
	}
	g := verifyMediaURL(t, a, got.URL, "", "")
	if g.Action != auth.ActionIngest || g.User != "obs" || g.Stream != ids.Stream("obs", "cam") {
		t.Fatalf("grant %+v", g)
	}

	// --field prints one value; the server's config decides host and ports.
	cfg := filepath.Join(dir, "minirtc.yaml")
	if err := os.WriteFile(cfg, []byte("host: media.example.com\nrtmp: \":1999\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, _, err = runCLI(t, dir, "ingest", "create", "--app", string(a.ID), "--room", "r1", "--user", "obs", "--config", cfg, "--field", "url")
	if err != nil || !strings.HasPrefix(out, "rtmp://media.example.com:1999/") || strings.Count(out, "\n") != 1 {
		t.Fatalf("--field url printed %q, %v", out, err)
	}

	for _, bad := range [][]string{
		{"--room", "r1", "--user", "obs"},                                      // no app
		{"--app", string(a.ID), "--room", "r 1", "--user", "obs"},              // bad room
		{"--app", string(a.ID), "--room", "r1", "--user", "o/bs"},              // bad user
		{"--app", string(a.ID), "--room", "r1", "--user", "obs", "--ttl", "0"}, // bad ttl
		{"--app", "nope", "--room", "r1", "--user", "obs"},                     // unknown app
		{"--app", string(a.ID), "--room", "r1", "--user", "obs", "--field", "nope"},
	} {
		if _, _, err := runCLI(t, dir, append([]string{"ingest", "create"}, bad...)...); err == nil {
			t.Errorf("ingest create %v: accepted", bad)
		}
	}
}

func TestURLPlay(t *testing.T) {
	dir := t.TempDir()
	a := createApp(t, dir, "media")
	out, _, err := runCLI(t, dir, "url", "play", "--app", string(a.ID), "--room", "r1", "--stream", "alice_main")
	if err != nil {
		t.Fatal(err)
	}
	var got struct{ RTMP, FLV string }
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("%q: %v", out, err)
	}
	if g := verifyMediaURL(t, a, got.RTMP, "", ""); g.Action != auth.ActionView || g.Stream != "alice_main" || g.User != "" {
		t.Fatalf("rtmp grant %+v", g)
	}
	if !strings.HasPrefix(got.FLV, "http://localhost:7880/flv/") {
		t.Fatalf("flv url %s", got.FLV)
	}
	if g := verifyMediaURL(t, a, got.FLV, "/flv", ".flv"); g.Action != auth.ActionView {
		t.Fatalf("flv grant %+v", g)
	}
	if _, _, err := runCLI(t, dir, "url", "play", "--app", string(a.ID), "--room", "r1", "--stream", "a b"); err == nil {
		t.Error("a bad stream id was accepted")
	}
}
