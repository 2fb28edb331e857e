package media_test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/minirtc/minirtc/internal/auth"
	"github.com/minirtc/minirtc/internal/media"
)

// The media plane is documented for people in docs/media.md. These tests
// keep the document and the code from drifting apart: every refusal reason
// has a row of the refusals table with its HTTP status, and the worked
// signature example gives the signature the code computes.

func readMediaDoc(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "docs", "media.md"))
	if err != nil {
		t.Fatalf("reading the media document: %v", err)
	}
	return strings.Split(string(b), "\n")
}

// tableCells splits a markdown table row into its trimmed cells.
func tableCells(row string) []string {
	row = strings.TrimSpace(row)
	row = strings.TrimPrefix(row, "|")
	row = strings.TrimSuffix(row, "|")
	cells := strings.Split(row, "|")
	for i := range cells {
		cells[i] = strings.TrimSpace(cells[i])
	}
	return cells
}

func TestDocListsEveryRefusalReason(t *testing.T) {
	lines := readMediaDoc(t)
	for _, r := range media.Reasons {
		first := "`" + string(r) + "`"
		var row []string
		for _, l := range lines {
			if c := tableCells(l); strings.HasPrefix(strings.TrimSpace(l), "|") && len(c) >= 2 && c[0] == first {
				row = c
				break
			}
		}
		if row == nil {
			t.Errorf("docs/media.md has no refusals table row starting %q for reason %q: document when it happens, its HTTP status and what RTMP clients see", "| "+first+" |", r)
			continue
		}
		if want := strconv.Itoa(r.Status()); row[1] != want {
			t.Errorf("docs/media.md gives reason %q HTTP status %q, the code answers %s", r, row[1], want)
		}
	}
}

// TestDocSignatureExample checks the worked example of "Signing a URL": the
// signatures printed there must be what the server computes.
func TestDocSignatureExample(t *testing.T) {
	doc := strings.Join(readMediaDoc(t), "\n")
	const secret = "iCiTgsUdNQhHMhZWjCuR_13iopDyBwXX_HMc8fniwr8"
	for _, g := range []auth.MediaGrant{
		{Action: auth.ActionPush, App: "appgsvp81pp4ocrmh8c", Room: "demo", Stream: "alice_main", User: "alice", Expires: time.Unix(1795251262, 0)},
		{Action: auth.ActionView, App: "appgsvp81pp4ocrmh8c", Room: "demo", Stream: "alice_main", Expires: time.Unix(1795254563, 0)},
	} {
		q := auth.SignMedia(secret, g)
		if !strings.Contains(doc, q) {
			t.Errorf("docs/media.md's signature example for a %q URL should show the query %q", g.Action, q)
		}
	}
	if !strings.Contains(doc, secret) {
		t.Errorf("docs/media.md's signature example should use the secret %q", secret)
	}
}
