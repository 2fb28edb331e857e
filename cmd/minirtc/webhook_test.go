package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/minirtc/minirtc/internal/store"
	"github.com/minirtc/minirtc/internal/store/sqlite"
)

func webhookCLI(t *testing.T, dir string, args ...string) webhookJSON {
	t.Helper()
	out, _, err := runCLI(t, dir, append([]string{"app", "webhook"}, args...)...)
	if err != nil {
		t.Fatalf("app webhook %v: %v", args, err)
	}
	var j webhookJSON
	if err := json.Unmarshal([]byte(out), &j); err != nil {
		t.Fatalf("app webhook %v printed %q: %v", args, out, err)
	}
	return j
}

func TestAppWebhookSetShow(t *testing.T) {
	dir := t.TempDir()
	a := createApp(t, dir, "hooks")
	app := string(a.ID)

	shown := webhookCLI(t, dir, "show", "--app", app)
	if len(shown.URLs) != 0 || shown.Secret != "" || shown.Counts == nil || *shown.Counts != (store.WebhookCounts{}) {
		t.Fatalf("before any set: %+v", shown)
	}
	set := webhookCLI(t, dir, "set", "--app", app, "--url", "https://hooks.example.com/a,b", "--url", "http://127.0.0.1:8080/h")
	if strings.Join(set.URLs, " ") != "https://hooks.example.com/a,b http://127.0.0.1:8080/h" || len(set.Secret) != 43 || set.UpdatedAt == "" {
		t.Fatalf("set printed %+v (a comma inside a URL must not split it)", set)
	}
	again := webhookCLI(t, dir, "set", "--app", app, "--url", "https://hooks.example.com/only")
	if again.Secret != set.Secret || len(again.URLs) != 1 {
		t.Fatalf("second set %+v: the secret must be kept", again)
	}
	rotated := webhookCLI(t, dir, "set", "--app", app, "--url", "https://hooks.example.com/only", "--rotate-secret")
	if rotated.Secret == set.Secret || len(rotated.Secret) != 43 {
		t.Fatalf("rotate gave %q", rotated.Secret)
	}
	own := webhookCLI(t, dir, "set", "--app", app, "--url", "https://hooks.example.com/only", "--secret", "my-webhook-secret-42")
	if own.Secret != "my-webhook-secret-42" {
		t.Fatalf("--secret gave %q", own.Secret)
	}

	// Deliveries show up in show --recent.
	db, err := sqlite.Open(context.Background(), sqlite.DefaultPath(dir))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if _, err := db.EnqueueWebhookEvents(context.Background(), []store.WebhookEvent{
		{ID: "evcli1", App: a.ID, Room: "r1", Type: "room_created", At: now},
		{ID: "evcli2", App: a.ID, Room: "r1", Type: "user_joined", User: "u", At: now},
	}, now); err != nil {
		t.Fatal(err)
	}
	db.Close()
	shown = webhookCLI(t, dir, "show", "--app", app, "--recent", "1")
	if shown.Counts.Pending != 2 || len(shown.Recent) != 1 || shown.Recent[0].Event != "evcli2" || shown.Recent[0].Seq != 2 ||
		shown.Recent[0].State != "pending" || shown.Recent[0].NextAttempt == "" || shown.Secret != "my-webhook-secret-42" {
		t.Fatalf("show --recent 1: %+v", shown)
	}

	cleared := webhookCLI(t, dir, "set", "--app", app, "--clear")
	if len(cleared.URLs) != 0 || cleared.Secret != "my-webhook-secret-42" {
		t.Fatalf("--clear: %+v", cleared)
	}
	if shown = webhookCLI(t, dir, "show", "--app", app); shown.Counts.Failed != 2 || shown.Counts.Pending != 0 {
		t.Fatalf("after --clear the pending deliveries must be given up: %+v", shown.Counts)
	}
}

func TestAppWebhookErrors(t *testing.T) {
	dir := t.TempDir()
	a := createApp(t, dir, "hooks")
	app := string(a.ID)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"set", "--app", app}, "at least one --url"},
		{[]string{"set", "--app", app, "--url", "http://h/x", "--clear"}, "do not go together"},
		{[]string{"set", "--app", app, "--url", "ftp://h/x"}, "--url: webhook URL"},
		{[]string{"set", "--app", app, "--url", "http://user:pw@h/x"}, "user information"},
		{[]string{"set", "--app", app, "--url", "http://h/1", "--url", "http://h/2", "--url", "http://h/3", "--url", "http://h/4",
			"--url", "http://h/5", "--url", "http://h/6"}, "at most 5"},
		{[]string{"set", "--app", app, "--url", "http://h/x", "--secret", "short"}, "--secret: webhook secret must be 16 to 256"},
		{[]string{"set", "--app", app, "--url", "http://h/x", "--secret", "long-enough-secret-1", "--rotate-secret"}, "do not go together"},
		{[]string{"set", "--app", "appnosuchapp", "--url", "http://h/x"}, "not found"},
		{[]string{"set", "--app", "bad app", "--url", "http://h/x"}, "--app"},
		{[]string{"show", "--app", "appnosuchapp"}, "not found"},
		{[]string{"show", "--app", app, "--recent", "-1"}, "--recent"},
	} {
		_, _, err := runCLI(t, dir, append([]string{"app", "webhook"}, c.args...)...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("app webhook %v: error %v, want one mentioning %q", c.args, err, c.want)
		}
	}
	if _, _, err := runCLI(t, t.TempDir(), "app", "webhook", "show", "--app", app); err == nil || !strings.Contains(err.Error(), "no database") {
		t.Errorf("show on an empty data dir: %v", err)
	}
}
