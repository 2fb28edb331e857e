package api_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/minirtc/minirtc/internal/api"
	"github.com/minirtc/minirtc/internal/auth"
)

// Bad credentials and bad requests, through the running server.

func TestCredentials(t *testing.T) {
	e := start(t, nil)
	e.join("alice", "r1")
	rooms := e.appPath("/rooms")

	for _, h := range []string{"", "Basic dXNlcjpwYXNz", "Bearer", "Bearer    ", "token abc"} {
		req, _ := http.NewRequest("GET", e.HTTP+"/api/v1"+rooms, nil)
		if h != "" {
			req.Header.Set("Authorization", h)
		}
		res, err := e.http.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 401 || res.Header.Get("WWW-Authenticate") == "" {
			t.Errorf("Authorization %q: status %d, want 401 with WWW-Authenticate", h, res.StatusCode)
		}
	}
	e.fails(401, 4001, "", "GET", rooms, "", nil)
	e.fails(401, 2001, "", "GET", rooms, "not-a-token", nil)
	e.fails(401, 2002, "", "GET", rooms, mustMint(t, "wrong-secret", auth.Claims{App: e.App.ID, User: "x", Grants: []auth.Grant{auth.GrantAdmin}}), nil)
	e.fails(401, 2003, "", "GET", rooms, mustMint(t, e.App.Secret, auth.Claims{App: e.App.ID, User: "x", Grants: []auth.Grant{auth.GrantAdmin},
		IssuedAt: time.Now().Add(-2 * time.Hour), ExpiresAt: time.Now().Add(-time.Hour)}), nil)
	e.fails(401, 2004, "", "GET", "/apps/appnosuchapp0000/rooms", mustMint(t, "s", auth.Claims{App: "appnosuchapp0000", User: "x", Grants: []auth.Grant{auth.GrantAdmin}}), nil)

	// A valid token without admin is refused; the operator key is accepted.
	e.fails(403, 2006, "", "GET", rooms, e.Token(t, "alice", ""), nil)
	e.ok(http.StatusOK, "GET", rooms, operatorKey, nil, nil)
	e.fails(404, 4004, "", "GET", "/apps/appnosuchapp0000/rooms", operatorKey, nil)

	// A token restricted to one room: that room only.
	r1 := e.Token(t, "boss", "r1", auth.GrantAdmin)
	e.ok(http.StatusOK, "GET", e.appPath("/rooms/r1"), r1, nil, nil)
	e.ok(http.StatusOK, "POST", e.appPath("/rooms/r1/messages"), r1, map[string]string{"name": "n"}, nil)
	e.fails(403, 2005, "", "GET", e.appPath("/rooms/r2"), r1, nil)
	e.fails(403, 2005, "", "GET", rooms, r1, nil)
	e.fails(403, 2005, "", "GET", e.appPath("/ingests"), r1, nil)
}

func mustMint(t *testing.T, secret string, c auth.Claims) string {
	t.Helper()
	if c.ExpiresAt.IsZero() {
		c.ExpiresAt = time.Now().Add(time.Hour)
	}
	tok, err := auth.Mint(secret, c)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// TestOtherAppsResourcesDoNotLeak: a token of one app gets, on every route of
// another app, the same 404 as on an app that does not exist.
func TestOtherAppsResourcesDoNotLeak(t *testing.T) {
	e := start(t, nil)
	e.join("alice", "r1")
	var other appBody
	e.ok(http.StatusCreated, "POST", "/apps", operatorKey, map[string]any{"name": "other"}, &other)
	otherAdmin := mintFor(t, other, "boss", "", auth.GrantAdmin)
	for _, route := range newBareAPI(t).Routes() {
		method, path, _ := strings.Cut(route, " ")
		path = strings.TrimPrefix(path, api.Prefix)
		if !strings.HasPrefix(path, "/apps/{app}/") || path == "/apps/{app}/rotate_secret" {
			continue // app management: operator only, checked elsewhere
		}
		fill := func(app string) string {
			p := strings.Replace(path, "{app}", app, 1)
			p = strings.Replace(p, "{room}", "r1", 1)
			p = strings.Replace(p, "{user}", "alice", 1)
			p = strings.Replace(p, "{stream}", "alice_main", 1)
			return strings.Replace(p, "{ingest}", "ingx", 1)
		}
		var body any
		if method == "POST" || method == "PATCH" {
			body = map[string]any{}
		}
		leak := e.fails(404, 4004, "", method, fill(string(e.App.ID)), otherAdmin, body)
		none := e.fails(404, 4004, "", method, fill("appnosuchapp0000"), otherAdmin, body)
		if strings.ReplaceAll(leak.Error.Message, string(e.App.ID), "X") != strings.ReplaceAll(none.Error.Message, "appnosuchapp0000", "X") {
			t.Errorf("%s: another app's answer %q differs from a missing app's %q", route, leak.Error.Message, none.Error.Message)
		}
	}
}

func TestBadRequests(t *testing.T) {
	e := start(t, nil)
	e.join("alice", "r1")
	msgs := e.appPath("/rooms/r1/messages")

	// Body size: 413 past the limit, before parsing.
	big := `{"name":"n","content":"` + strings.Repeat("x", api.MaxBodyBytes) + `"}`
	e.failsRaw(413, 1004, "", e.raw("POST", msgs, e.admin, "application/json", []byte(big)))
	// Just under the limit it is parsed (and refused for the content's own limit).
	under := `{"name":"n","content":"` + strings.Repeat("x", api.MaxBodyBytes-40) + `"}`
	e.failsRaw(400, 3007, "content", e.raw("POST", msgs, e.admin, "application/json", []byte(under)))

	// Unknown fields, top-level and nested, name their path.
	e.fails(400, 1003, "bogus", "POST", msgs, e.admin, map[string]any{"name": "n", "bogus": 1})
	e.fails(400, 1003, "notify.nmae", "PATCH", e.appPath("/rooms/r1/attributes"), e.admin,
		map[string]any{"attributes": map[string]string{"k": "v"}, "notify": map[string]string{"nmae": "x"}})
	e.fails(400, 1003, "limits.max_room", "POST", "/apps", operatorKey, map[string]any{"name": "x", "limits": map[string]int{"max_room": 1}})

	// Malformed bodies.
	for _, b := range []string{`{"name":`, `[1,2]`, `null`, `"str"`, `{"name":"n"} {}`, `{"name":"n"}x`, `{bad}`} {
		e.failsRaw(400, 1001, "", e.raw("POST", msgs, e.admin, "application/json", []byte(b)))
	}
	e.failsRaw(400, 1001, "", e.raw("POST", msgs, e.admin, "application/json", nil))
	e.fails(400, 1003, "name", "POST", msgs, e.admin, map[string]any{"name": 5})

	// Content type.
	e.failsRaw(415, 4015, "", e.raw("POST", msgs, e.admin, "text/plain", []byte(`{"name":"n"}`)))
	e.failsRaw(415, 4015, "", e.raw("POST", msgs, e.admin, "", []byte(`{"name":"n"}`)))
	e.failsRaw(415, 4015, "", e.raw("POST", msgs, e.admin, "application/x-www-form-urlencoded", []byte(`name=n`)))
	e.ok(http.StatusOK, "GET", e.appPath("/rooms"), e.admin, nil, nil)
	if r := e.raw("POST", msgs, e.admin, "application/json; charset=utf-8", []byte(`{"name":"n"}`)); r.Status != 200 {
		t.Fatalf("JSON with a charset: %d %s", r.Status, r.Body)
	}

	// A body where none is taken.
	e.failsRaw(400, 1001, "", e.raw("GET", e.appPath("/rooms"), e.admin, "application/json", []byte(`{"x":1}`)))

	// Unknown routes and methods.
	e.fails(404, 4004, "", "GET", "/nope", e.admin, nil)
	e.fails(404, 4004, "", "GET", e.appPath("/rooms/r1/nope"), e.admin, nil)
	r := e.do("PUT", "/apps", operatorKey, nil)
	e.failsRaw(405, 4005, "", r)
	if allow := r.Header.Get("Allow"); allow != "GET, POST" {
		t.Fatalf("Allow = %q", allow)
	}
	e.failsRaw(405, 4005, "", e.do("DELETE", e.appPath("/rooms/r1"), e.admin, nil))
}
