package config_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/minirtc/minirtc/internal/config"
)

// TestDeploymentDocListsEveryKey keeps docs/deployment.md in step with the
// configuration: every key must have a row of the keys table naming both its
// YAML path and its environment variable, each in backquotes.
func TestDeploymentDocListsEveryKey(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "docs", "deployment.md"))
	if err != nil {
		t.Fatalf("reading the deployment document: %v", err)
	}
	var rows []string
	for _, l := range strings.Split(string(b), "\n") {
		if l = strings.TrimSpace(l); strings.HasPrefix(l, "|") {
			rows = append(rows, l)
		}
	}
	keys := config.Keys()
	if len(keys) == 0 {
		t.Fatal("config.Keys() is empty")
	}
	for _, k := range keys {
		path, env := "`"+k.Path+"`", "`"+k.Env+"`"
		if !slices.ContainsFunc(rows, func(r string) bool { return strings.Contains(r, path) && strings.Contains(r, env) }) {
			t.Errorf("docs/deployment.md has no table row with both %s and %s: add the key with its default and meaning", path, env)
		}
	}
}
