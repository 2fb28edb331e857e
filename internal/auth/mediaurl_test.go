package auth

import (
	"context"
	"crypto/hmac"
	"errors"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/minirtc/minirtc/internal/store"
	"github.com/minirtc/minirtc/pkg/ids"
)

func pushGrant() MediaGrant {
	return MediaGrant{Action: ActionPush, App: testApp, Room: "room-1", Stream: "alice_main", User: "alice", Expires: t0.Add(10 * time.Minute)}
}

// verifyURL verifies a grant signed with secret the way a server sees it:
// path, and the query parsed from the raw string.
func verifyURL(v *Verifier, path, rawQuery string) (MediaGrant, error) {
	q, err := ParseMediaQuery(rawQuery)
	if err != nil {
		return MediaGrant{}, err
	}
	return v.VerifyMedia(context.Background(), path, q)
}

func sameGrant(a, b MediaGrant) bool {
	return a.Action == b.Action && a.App == b.App && a.Room == b.Room && a.Stream == b.Stream && a.User == b.User && a.Expires.Equal(b.Expires)
}

func TestMediaURLRoundTrip(t *testing.T) {
	v, _ := testVerifier()
	for _, g := range []MediaGrant{
		pushGrant(),
		{Action: ActionIngest, App: testApp, Room: "room-1", Stream: "obs_main", User: "obs", Expires: t0.Add(time.Hour)},
		{Action: ActionPlay, App: testApp, Room: "room-1", Stream: "alice_main", User: "bob", Expires: t0.Add(time.Second)},
		{Action: ActionView, App: testApp, Room: "room-1", Stream: "alice_screen", User: "carol", Expires: t0.Add(time.Hour)},
		{Action: ActionView, App: testApp, Room: "room-1", Stream: "alice_main", Expires: t0.Add(time.Hour)}, // anonymous
	} {
		t.Run(string(g.Action)+"/"+string(g.User), func(t *testing.T) {
			raw := SignMedia(testSecret, g)
			if g.User == "" && strings.Contains(raw, "user=") {
				t.Errorf("anonymous view URL has a user: %s", raw)
			}
			got, err := verifyURL(v, g.Path(), raw)
			if err != nil {
				t.Fatalf("VerifyMedia(%s?%s): %v", g.Path(), raw, err)
			}
			if !sameGrant(got, g) {
				t.Fatalf("grant %+v, want %+v", got, g)
			}
		})
	}
	if p := pushGrant().Path(); p != "/"+string(testApp)+"/room-1/alice_main" {
		t.Errorf("Path = %q", p)
	}
}

// Every field is bound: changing any of them breaks the URL.
func TestMediaURLTampering(t *testing.T) {
	v, apps := testVerifier()
	apps.put(store.App{ID: "otherapp", Secret: "other-secret"})
	g := pushGrant()
	view := MediaGrant{Action: ActionView, App: testApp, Room: "room-1", Stream: "alice_main", User: "carol", Expires: t0.Add(time.Hour)}
	type mut struct {
		name  string
		grant MediaGrant
		path  func(string) string
		query func(url.Values)
	}
	set := func(k, val string) func(url.Values) { return func(q url.Values) { q.Set(k, val) } }
	del := func(k string) func(url.Values) { return func(q url.Values) { q.Del(k) } }
	for _, m := range []mut{
		{name: "app", grant: g, path: func(string) string { return "/otherapp/room-1/alice_main" }},
		{name: "room", grant: g, path: func(p string) string { return strings.Replace(p, "room-1", "room-2", 1) }},
		{name: "stream", grant: g, path: func(p string) string { return strings.Replace(p, "alice_main", "alice_screen", 1) }},
		{name: "stream of another user", grant: g, path: func(p string) string { return strings.Replace(p, "alice_main", "bob_main", 1) }},
		{name: "user", grant: g, query: set("user", "bob")},
		{name: "user removed", grant: g, query: del("user")},
		{name: "view user removed", grant: view, query: del("user")},
		{name: "view user changed", grant: view, query: set("user", "mallory")},
		{name: "act push to play", grant: g, query: set("act", "play")},
		{name: "act push to ingest", grant: g, query: set("act", "ingest")},
		{name: "act view to play", grant: view, query: set("act", "play")},
		{name: "act unknown", grant: g, query: set("act", "admin")},
		{name: "exp later", grant: g, query: func(q url.Values) { q.Set("exp", strconv.FormatInt(g.Expires.Unix()+3600, 10)) }},
		{name: "exp garbage", grant: g, query: set("exp", "soon")},
		{name: "sig flipped", grant: g, query: func(q url.Values) {
			s := []byte(q.Get("sig"))
			s[0] ^= 'A' ^ 'B'
			q.Set("sig", string(s))
		}},
		{name: "sig of another grant", grant: g, query: set("sig", mustQuery(SignMedia(testSecret, view)).Get("sig"))},
		{name: "sig other secret", grant: g, query: set("sig", mustQuery(SignMedia("other-secret", g)).Get("sig"))},
		{name: "sig truncated", grant: g, query: func(q url.Values) { q.Set("sig", q.Get("sig")[:42]) }},
		{name: "sig empty", grant: g, query: set("sig", "")},
	} {
		t.Run(m.name, func(t *testing.T) {
			path, q := m.grant.Path(), mustQuery(SignMedia(testSecret, m.grant))
			if m.path != nil {
				path = m.path(path)
			}
			if m.query != nil {
				m.query(q)
			}
			got, err := v.VerifyMedia(context.Background(), path, q)
			if !errors.Is(err, ErrMediaSignature) && !errors.Is(err, ErrMediaMalformed) {
				t.Fatalf("VerifyMedia(%s?%s) = %+v, %v; want a bad signature or a malformed URL", path, q.Encode(), got, err)
			}
		})
	}
}

// Two encodings of one signature or one expiry are two URLs for one grant:
// only the canonical one should be accepted (the token side decodes
// strictly too).
func TestMediaURLCanonicalEncoding(t *testing.T) {
	v, _ := testVerifier()
	g := pushGrant()
	base := mustQuery(SignMedia(testSecret, g))
	sig := base.Get("sig") // 43 characters: the last one carries 2 unused bits
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	last := strings.IndexByte(alphabet, sig[len(sig)-1])
	exp := base.Get("exp")
	for name, mutate := range map[string]func(url.Values){
		"sig padding bits set":  func(q url.Values) { q.Set("sig", sig[:len(sig)-1]+string(alphabet[last^1])) },
		"exp with a plus sign":  func(q url.Values) { q.Set("exp", "+"+exp) },
		"exp with leading zero": func(q url.Values) { q.Set("exp", "0"+exp) },
	} {
		q := mustQuery(base.Encode())
		mutate(q)
		if _, err := v.VerifyMedia(context.Background(), g.Path(), q); err == nil {
			t.Errorf("%s: accepted %s", name, q.Encode())
		}
	}
}

func TestMediaURLExpiry(t *testing.T) {
	v, _ := testVerifier()
	for _, tc := range []struct {
		name    string
		exp     time.Time
		leeway  time.Duration
		expired bool
	}{
		{"a second left", t0.Add(time.Second), 0, false},
		{"expires now", t0, 0, true},
		{"a minute ago", t0.Add(-time.Minute), 0, true},
		{"within leeway", t0.Add(-4 * time.Second), 5 * time.Second, false},
		{"past leeway", t0.Add(-5 * time.Second), 5 * time.Second, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v.Leeway = tc.leeway
			g := pushGrant()
			g.Expires = tc.exp
			got, err := verifyURL(v, g.Path(), SignMedia(testSecret, g))
			if tc.expired != errors.Is(err, ErrMediaExpired) || (!tc.expired && err != nil) {
				t.Fatalf("err = %v, expired want %v", err, tc.expired)
			}
			if !sameGrant(got, g) {
				t.Fatalf("grant %+v returned with %v, want %+v", got, err, g)
			}
		})
	}
	// Signatures are checked first: a forged expired URL is a bad signature.
	v.Leeway = 0
	g := pushGrant()
	g.Expires = t0.Add(-time.Hour)
	if _, err := verifyURL(v, g.Path(), SignMedia("forged", g)); !errors.Is(err, ErrMediaSignature) || errors.Is(err, ErrMediaExpired) {
		t.Fatalf("forged expired URL: %v", err)
	}
}

func TestMediaURLPreviousSecret(t *testing.T) {
	now := t0
	apps := newFakeApps(store.App{ID: testApp, Secret: "new-secret", PreviousSecret: testSecret, PreviousSecretUntil: t0.Add(time.Minute)})
	v := &Verifier{Apps: apps, Now: func() time.Time { return now }}
	g := pushGrant()
	g.Expires = t0.Add(time.Hour)
	for _, secret := range []string{"new-secret", testSecret} {
		if _, err := verifyURL(v, g.Path(), SignMedia(secret, g)); err != nil {
			t.Fatalf("during the overlap, %q: %v", secret, err)
		}
	}
	now = t0.Add(time.Minute)
	if _, err := verifyURL(v, g.Path(), SignMedia(testSecret, g)); !errors.Is(err, ErrMediaSignature) {
		t.Fatalf("previous secret after the overlap: %v", err)
	}
	if _, err := verifyURL(v, g.Path(), SignMedia("new-secret", g)); err != nil {
		t.Fatalf("current secret after the overlap: %v", err)
	}
	if _, err := verifyURL(v, g.Path(), SignMedia("", g)); !errors.Is(err, ErrMediaSignature) {
		t.Fatalf("empty secret: %v", err)
	}
}

// A cached app whose secret was just rotated: the verifier refreshes once.
func TestMediaURLRefreshesRotatedSecret(t *testing.T) {
	inner := newFakeApps(store.App{ID: testApp, Secret: "old"})
	cache, clk := newTestCache(inner, time.Hour)
	v := &Verifier{Apps: cache, Now: func() time.Time { return t0 }}
	g := pushGrant()
	if _, err := verifyURL(v, g.Path(), SignMedia("old", g)); err != nil {
		t.Fatal(err)
	}
	inner.put(store.App{ID: testApp, Secret: "rotated"})
	clk.add(minRefreshAge)
	if _, err := verifyURL(v, g.Path(), SignMedia("rotated", g)); err != nil {
		t.Fatalf("URL signed with the rotated secret: %v", err)
	}
	if _, err := verifyURL(v, g.Path(), SignMedia("old", g)); !errors.Is(err, ErrMediaSignature) {
		t.Fatalf("old secret after rotation without overlap: %v", err)
	}
	if n := inner.calls.Load(); n != 2 {
		t.Errorf("%d store lookups, want 2 (refreshes are rate-limited)", n)
	}
}

// An app deleted while still cached: the refresh finds nothing, and the URL
// is refused as for an unknown app, as Verify does for tokens.
func TestMediaURLAppDeletedWhileCached(t *testing.T) {
	inner := newFakeApps(store.App{ID: testApp, Secret: testSecret})
	cache, clk := newTestCache(inner, time.Hour)
	v := &Verifier{Apps: cache, Now: func() time.Time { return t0 }}
	g := pushGrant()
	if _, err := verifyURL(v, g.Path(), SignMedia(testSecret, g)); err != nil {
		t.Fatal(err)
	}
	inner.mu.Lock()
	delete(inner.apps, testApp)
	inner.mu.Unlock()
	clk.add(minRefreshAge)
	if _, err := verifyURL(v, g.Path(), SignMedia("whatever", g)); !errors.Is(err, ErrUnknownApp) {
		t.Fatalf("VerifyMedia for a deleted app: %v, want ErrUnknownApp", err)
	}
	// Tokens agree.
	if _, err := v.Verify(context.Background(), mustMint("whatever", baseClaims())); !errors.Is(err, ErrUnknownApp) {
		t.Fatalf("Verify for a deleted app: %v, want ErrUnknownApp", err)
	}
}

func TestMediaURLAppLookup(t *testing.T) {
	v, apps := testVerifier()
	g := pushGrant()
	g.App = "nosuchapp"
	if _, err := verifyURL(v, g.Path(), SignMedia(testSecret, g)); !errors.Is(err, ErrUnknownApp) {
		t.Fatalf("unknown app: %v", err)
	}
	down := errors.New("database is down")
	apps.err = down
	g = pushGrant()
	_, err := verifyURL(v, g.Path(), SignMedia(testSecret, g))
	if !errors.Is(err, down) || errors.Is(err, ErrMediaSignature) || errors.Is(err, ErrMediaMalformed) {
		t.Fatalf("lookup failure: %v, want it as is", err)
	}
}

// A stream id is "<userId>_<tag>" and may be longer than one identifier;
// a URL for the stream of a user with a long id must work.
func TestMediaURLLongStreamID(t *testing.T) {
	v, _ := testVerifier()
	user := ids.UserID(strings.Repeat("u", ids.MaxLen))
	g := pushGrant()
	g.User, g.Stream = user, ids.Stream(user, ids.DefaultTag)
	if err := g.Stream.Validate(); err != nil {
		t.Fatal(err)
	}
	if _, err := verifyURL(v, g.Path(), SignMedia(testSecret, g)); err != nil {
		t.Fatalf("stream %d characters long: %v", len(g.Stream), err)
	}
}

func TestParseMediaURLMalformed(t *testing.T) {
	good := pushGrant()
	q := SignMedia(testSecret, good)
	for _, tc := range []struct{ name, path, query string }{
		{"empty path", "", q},
		{"root", "/", q},
		{"two segments", "/app/room", q},
		{"four segments", "/app/room/alice_main/x", q},
		{"trailing slash", good.Path() + "/", q},
		{"empty room", "/" + string(testApp) + "//alice_main", q},
		{"bad app id", "/app.x/room-1/alice_main", q},
		{"bad room id", "/" + string(testApp) + "/room 1/alice_main", q},
		{"bad stream id", "/" + string(testApp) + "/room-1/alice.main", q},
		{"long room id", "/" + string(testApp) + "/" + strings.Repeat("r", 129) + "/alice_main", q},
		{"no query", good.Path(), ""},
		{"no act", good.Path(), strings.Replace(q, "act=push", "", 1)},
		{"two acts", good.Path(), q + "&act=push"},
		{"two exps", good.Path(), q + "&exp=1"},
		{"two sigs", good.Path(), q + "&sig=x"},
		{"two users", good.Path(), q + "&user=alice"},
		{"push without user", good.Path(), "act=push&exp=1800000000&sig=" + strings.Repeat("A", 43)},
		{"play without user", good.Path(), "act=play&exp=1800000000&sig=" + strings.Repeat("A", 43)},
		{"bad user id", good.Path(), "act=push&user=a%2Fb&exp=1800000000&sig=" + strings.Repeat("A", 43)},
		{"exp zero", good.Path(), "act=push&user=alice&exp=0&sig=" + strings.Repeat("A", 43)},
		{"exp negative", good.Path(), "act=push&user=alice&exp=-5&sig=" + strings.Repeat("A", 43)},
		{"exp too far", good.Path(), "act=push&user=alice&exp=" + strconv.FormatInt(1<<40+1, 10) + "&sig=" + strings.Repeat("A", 43)},
		{"exp float", good.Path(), "act=push&user=alice&exp=1.5e9&sig=" + strings.Repeat("A", 43)},
		{"sig not base64", good.Path(), "act=push&user=alice&exp=1800000000&sig=" + strings.Repeat("*", 43)},
		{"sig padded", good.Path(), "act=push&user=alice&exp=1800000000&sig=" + strings.Repeat("A", 43) + "%3D"},
		{"sig std base64", good.Path(), "act=push&user=alice&exp=1800000000&sig=" + strings.Repeat("%2B", 43)},
		{"sig 16 bytes", good.Path(), "act=push&user=alice&exp=1800000000&sig=" + strings.Repeat("A", 22)},
		{"sig 33 bytes", good.Path(), "act=push&user=alice&exp=1800000000&sig=" + strings.Repeat("A", 44)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			vals, err := ParseMediaQuery(tc.query)
			if err != nil {
				t.Fatalf("ParseMediaQuery: %v", err)
			}
			g, sig, err := ParseMediaURL(tc.path, vals)
			if !errors.Is(err, ErrMediaMalformed) {
				t.Fatalf("ParseMediaURL = %+v, %x, %v; want ErrMediaMalformed", g, sig, err)
			}
			if len(err.Error()) > 400 {
				t.Errorf("error is %d bytes long", len(err.Error()))
			}
		})
	}
}

func TestParseMediaQuery(t *testing.T) {
	for name, raw := range map[string]string{
		"huge":         "act=push&x=" + strings.Repeat("a", 5000),
		"just too big": strings.Repeat("a", maxMediaQuery+1),
		"bad escape":   "act=%zz",
		"semicolon":    "act=push;user=alice",
	} {
		if q, err := ParseMediaQuery(raw); !errors.Is(err, ErrMediaMalformed) {
			t.Errorf("%s: %v, %v; want ErrMediaMalformed", name, q, err)
		}
	}
	q, err := ParseMediaQuery("a=" + strings.Repeat("b", maxMediaQuery-2))
	if err != nil || len(q.Get("a")) != maxMediaQuery-2 {
		t.Fatalf("a query of exactly the limit: %v", err)
	}
}

func mustQuery(raw string) url.Values {
	q, err := url.ParseQuery(raw)
	if err != nil {
		panic(err)
	}
	return q
}

// FuzzMediaURL feeds arbitrary paths and queries to ParseMediaURL: no panic,
// refusals are ErrMediaMalformed, and whatever parses can be signed and
// verified again to the same grant. Seed corpus: testdata/fuzz/FuzzMediaURL.
func FuzzMediaURL(f *testing.F) {
	g := pushGrant()
	f.Add(g.Path(), SignMedia(testSecret, g))
	f.Add("/a/b/c", "act=view&exp=1&sig="+strings.Repeat("A", 43))
	f.Fuzz(func(t *testing.T, path, raw string) {
		q, err := ParseMediaQuery(raw)
		if err != nil {
			if !errors.Is(err, ErrMediaMalformed) {
				t.Fatalf("ParseMediaQuery: unclassified %v", err)
			}
			return
		}
		g, sig, err := ParseMediaURL(path, q)
		if err != nil {
			if !errors.Is(err, ErrMediaMalformed) {
				t.Fatalf("ParseMediaURL: unclassified %v", err)
			}
			return
		}
		if !g.Action.Valid() || (g.User == "" && g.Action != ActionView) || len(sig) != 32 {
			t.Fatalf("accepted %+v with a %d-byte sig", g, len(sig))
		}
		apps := newFakeApps(store.App{ID: g.App, Secret: testSecret})
		v := &Verifier{Apps: apps, Now: func() time.Time { return g.Expires.Add(-time.Second) }}
		signed := SignMedia(testSecret, g)
		got, err := verifyURL(v, g.Path(), signed)
		if err != nil || !sameGrant(got, g) {
			t.Fatalf("re-signed %s?%s: %+v, %v; want %+v", g.Path(), signed, got, err, g)
		}
		// The fuzzed signature itself verifies exactly when it is the MAC.
		_, err = v.VerifyMedia(context.Background(), path, q)
		if want := hmac.Equal(sig, mediaMAC(testSecret, g)); (err == nil) != want {
			t.Fatalf("VerifyMedia of the fuzzed URL: %v, MAC match %v", err, want)
		}
	})
}
