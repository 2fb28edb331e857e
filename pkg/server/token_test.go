package server_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/minirtc/minirtc/internal/auth"
	"github.com/minirtc/minirtc/internal/store"
	"github.com/minirtc/minirtc/pkg/client"
	"github.com/minirtc/minirtc/pkg/ids"
	"github.com/minirtc/minirtc/pkg/protocol"
	"github.com/minirtc/minirtc/pkg/server"
)

// TestSignTokenJoins: tokens SignToken makes are accepted by a real server
// with what they say (grants, name, metadata, room), and refused for the
// reasons the server refuses tokens.
func TestSignTokenJoins(t *testing.T) {
	e := start(t, nil)
	secret := e.App.Secret

	sign := func(c server.Claims) string {
		t.Helper()
		if c.App == "" {
			c.App = e.App.ID
		}
		tok, err := server.SignToken(secret, c)
		must(t, err)
		return tok
	}
	grants := func(c *client.Client) []string { return c.Joined().Self.Grants }

	// Default grants, name and metadata.
	alice := e.joinWith(sign(server.Claims{User: "alice", Room: "r1", Name: "Alice", Metadata: `{"role":"teacher"}`}), "r1")
	self := alice.Joined().Self
	if self.Name != "Alice" || self.Metadata != `{"role":"teacher"}` || !slices.Equal(self.Grants, []string{"publish", "subscribe", "data"}) {
		t.Fatalf("alice joined as %+v", self)
	}
	// Explicit grants; an empty list is no grant at all, not the default.
	bob := e.joinWith(sign(server.Claims{User: "bob", Grants: []server.Grant{server.GrantSubscribe, server.GrantAdmin}}), "r1")
	if g := grants(bob); !slices.Equal(g, []string{"subscribe", "admin"}) {
		t.Fatalf("bob's grants = %v", g)
	}
	carol := e.joinWith(sign(server.Claims{User: "carol", Grants: []server.Grant{}}), "r1")
	if g := grants(carol); len(g) != 0 {
		t.Fatalf("carol's grants = %v, want none", g)
	}
	if _, err := carol.Publish(ctx10(t), "", protocol.MediaAudio); !isCode(err, protocol.CodePermission) {
		t.Fatalf("publish without the grant: %v", err)
	}

	refused := func(token string, room ids.RoomID, code protocol.Code) {
		t.Helper()
		c, err := client.Join(ctx10(t), e.URL, token, room, nil)
		if err == nil {
			c.Close()
			t.Fatalf("join %s succeeded, want code %d", room, code)
		}
		if !isCode(err, code) {
			t.Fatalf("join %s: %v, want code %d", room, err, code)
		}
	}
	refused(sign(server.Claims{User: "dave", Room: "r1"}), "r2", protocol.CodeRoomNotAllowed)
	wrong, err := server.SignToken("not-the-secret-0123456789", server.Claims{App: e.App.ID, User: "dave"})
	must(t, err)
	refused(wrong, "r1", protocol.CodeTokenSignature)
	refused(sign(server.Claims{User: "dave", IssuedAt: time.Now().Add(-2 * time.Hour), ExpiresAt: time.Now().Add(-time.Hour)}), "r1", protocol.CodeTokenExpired)
	refused(sign(server.Claims{User: "dave", NotBefore: time.Now().Add(time.Hour)}), "r1", protocol.CodeTokenExpired)
	refused(sign(server.Claims{App: "no-such-app", User: "dave"}), "r1", protocol.CodeUnknownApp)

	// An admin token the SDK signs is accepted by the REST API.
	admin := sign(server.Claims{User: "ops", Grants: []server.Grant{server.GrantAdmin}})
	if len(strings.Split(admin, ".")) != 3 {
		t.Fatalf("not a JWT: %q", admin)
	}
}

func isCode(err error, code protocol.Code) bool {
	var pe *protocol.Error
	return errors.As(err, &pe) && pe.Code == code
}

// appLookup is the one app the server's verifier is asked about.
type appLookup store.App

func (a appLookup) GetApp(_ context.Context, id ids.AppID) (store.App, error) {
	if id != a.ID {
		return store.App{}, store.ErrNotFound
	}
	return store.App(a), nil
}

// TestSignTokenSameClaimsAsServer decodes SignToken's tokens with the
// server's own verifier: every claim reads back as it was given, so the
// SDK and the server agree on the format field by field.
func TestSignTokenSameClaimsAsServer(t *testing.T) {
	app := store.App{ID: "app1", Secret: "secret-0123456789abcdef"}
	v := &auth.Verifier{Apps: appLookup(app)}
	now := time.Now().Truncate(time.Second)
	for _, c := range []server.Claims{
		{App: "app1", User: "alice"},
		{App: "app1", User: "bob", Room: "room-1", Grants: []server.Grant{}, Name: "Bob 🎓", Metadata: "{\n\"a\":1}",
			ID: "tok-1", IssuedAt: now.Add(-time.Minute), NotBefore: now.Add(-time.Second), ExpiresAt: now.Add(-time.Minute + 30*24*time.Hour)},
		{App: "app1", User: "carol", Grants: []server.Grant{server.GrantAdmin, server.GrantData}, ExpiresAt: now.Add(time.Minute)},
	} {
		tok, err := server.SignToken(app.Secret, c)
		must(t, err)
		got, err := v.Verify(context.Background(), tok)
		if err != nil {
			t.Fatalf("%+v: server refuses: %v", c, err)
		}
		wantGrants := c.Grants
		if wantGrants == nil {
			wantGrants = server.DefaultGrants()
		}
		gs := make([]server.Grant, len(got.Grants))
		for i, g := range got.Grants {
			gs[i] = server.Grant(g)
		}
		if got.App != c.App || got.User != c.User || got.Room != c.Room || !slices.Equal(gs, wantGrants) ||
			got.Name != c.Name || got.Metadata != c.Metadata {
			t.Errorf("claims %+v read back as %+v", c, got)
		}
		if c.ID != "" && got.ID != c.ID || c.ID == "" && len(got.ID) < 16 {
			t.Errorf("id %q read back as %q", c.ID, got.ID)
		}
		if !c.IssuedAt.IsZero() && !got.IssuedAt.Equal(c.IssuedAt) || !got.NotBefore.Equal(c.NotBefore) {
			t.Errorf("times %v/%v read back as %v/%v", c.IssuedAt, c.NotBefore, got.IssuedAt, got.NotBefore)
		}
		wantExp := c.ExpiresAt
		if wantExp.IsZero() {
			wantExp = got.IssuedAt.Add(server.DefaultTokenTTL)
		}
		if !got.ExpiresAt.Equal(wantExp) {
			t.Errorf("expiry %v read back as %v", wantExp, got.ExpiresAt)
		}
	}
}

// TestSignTokenRefuses: claims the server would refuse are refused before
// signing, with a message naming the problem.
func TestSignTokenRefuses(t *testing.T) {
	ok := server.Claims{App: "app1", User: "alice"}
	for _, tc := range []struct {
		name   string
		secret string
		mod    func(*server.Claims)
		want   string
	}{
		{"no secret", "", func(*server.Claims) {}, "secret is empty"},
		{"no app", "s", func(c *server.Claims) { c.App = "" }, "app id is empty"},
		{"bad user", "s", func(c *server.Claims) { c.User = "a b" }, "user id"},
		{"bad room", "s", func(c *server.Claims) { c.Room = "r/1" }, "room id"},
		{"unknown grant", "s", func(c *server.Claims) { c.Grants = []server.Grant{"owner"} }, `unknown grant "owner"`},
		{"long name", "s", func(c *server.Claims) { c.Name = strings.Repeat("n", 257) }, "name is 257 bytes"},
		{"control in name", "s", func(c *server.Claims) { c.Name = "a\nb" }, "control character"},
		{"long metadata", "s", func(c *server.Claims) { c.Metadata = strings.Repeat("m", 4097) }, "metadata is 4097 bytes"},
		{"bad utf8", "s", func(c *server.Claims) { c.Metadata = "\xff" }, "not valid UTF-8"},
		{"too long a life", "s", func(c *server.Claims) { c.ExpiresAt = time.Now().Add(31 * 24 * time.Hour) }, "lifetime"},
		{"expiry before issue", "s", func(c *server.Claims) {
			c.IssuedAt = time.Now()
			c.ExpiresAt = c.IssuedAt.Add(-time.Second)
		}, "lifetime"},
		{"year 10000", "s", func(c *server.Claims) {
			c.IssuedAt = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
			c.ExpiresAt = c.IssuedAt.Add(time.Hour)
		}, "out of range"},
		// Control characters are allowed in metadata; JSON spells each in 6 bytes.
		{"too big", "s", func(c *server.Claims) { c.Metadata = strings.Repeat("\x01", 4000) }, "limit is 8192"},
	} {
		c := ok
		tc.mod(&c)
		_, err := server.SignToken(tc.secret, c)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.want)
		}
	}
}
