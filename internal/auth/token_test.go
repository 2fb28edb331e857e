package auth

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/minirtc/minirtc/internal/store"
)

func TestMintVerifyRoundTrip(t *testing.T) {
	v, _ := testVerifier()
	in := Claims{
		App: testApp, User: "alice_01", Room: "room-1",
		Grants:   []Grant{GrantSubscribe, GrantAdmin},
		Name:     "Alice 爱丽丝 🎤",
		Metadata: "{\"seat\": 3,\n \"tags\": [\"<vip>\"]}",
		ID:       "fixed-id",
		IssuedAt: t0.Add(-time.Minute), NotBefore: t0.Add(-time.Second), ExpiresAt: t0.Add(time.Hour),
	}
	tok := mustMint(testSecret, in)
	got, err := v.Verify(context.Background(), tok)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if !reflect.DeepEqual(got, in) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, in)
	}
	if !got.Has(GrantAdmin) || got.Has(GrantPublish) {
		t.Fatal("Has disagrees with Grants")
	}
}

func TestMintFillsDefaults(t *testing.T) {
	v, _ := testVerifier()
	c := Claims{App: testApp, User: "bob", ExpiresAt: time.Now().Add(time.Hour)}
	tok := mustMint(testSecret, c)
	v.Now = time.Now
	got, err := v.Verify(context.Background(), tok)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID == "" || got.IssuedAt.IsZero() || time.Since(got.IssuedAt) > time.Minute {
		t.Fatalf("ID %q / IssuedAt %v not filled", got.ID, got.IssuedAt)
	}
	if !reflect.DeepEqual(got.Grants, DefaultGrants()) || got.Has(GrantAdmin) {
		t.Fatalf("default grants = %v", got.Grants)
	}
	if other := mustMint(testSecret, c); other == tok {
		t.Fatal("two mints share a token id")
	}
}

func TestGrantsAbsentVersusEmpty(t *testing.T) {
	v, _ := testVerifier()
	ctx := context.Background()
	absent := rawToken(hs256Header, `{"iss":"apptest0000000001","sub":"u","exp":1900000000}`, testSecret)
	c, err := v.Verify(ctx, absent)
	if err != nil || !reflect.DeepEqual(c.Grants, DefaultGrants()) {
		t.Fatalf("absent grants: %v, %v; want defaults", c.Grants, err)
	}
	nullGrants := rawToken(hs256Header, `{"iss":"apptest0000000001","sub":"u","exp":1900000000,"grants":null}`, testSecret)
	if c, err := v.Verify(ctx, nullGrants); err != nil || !reflect.DeepEqual(c.Grants, DefaultGrants()) {
		t.Fatalf("null grants: %v, %v; want defaults", c.Grants, err)
	}
	empty := rawToken(hs256Header, `{"iss":"apptest0000000001","sub":"u","exp":1900000000,"grants":[]}`, testSecret)
	c, err = v.Verify(ctx, empty)
	if err != nil || c.Grants == nil || len(c.Grants) != 0 {
		t.Fatalf("empty grants: %#v, %v; want an empty list", c.Grants, err)
	}
	for _, g := range []Grant{GrantPublish, GrantSubscribe, GrantData, GrantAdmin} {
		if c.Has(g) {
			t.Fatalf("empty grants has %s", g)
		}
	}
	// Mint keeps an explicit empty list.
	bc := baseClaims()
	bc.Grants = []Grant{}
	c, err = v.Verify(ctx, mustMint(testSecret, bc))
	if err != nil || len(c.Grants) != 0 {
		t.Fatalf("minted empty grants came back as %v, %v", c.Grants, err)
	}
}

func TestVerifyMalformed(t *testing.T) {
	v, _ := testVerifier()
	good := mustMint(testSecret, baseClaims())
	parts := strings.Split(good, ".")
	enc := base64.RawURLEncoding.EncodeToString
	payload := func(p string) string { return rawToken(hs256Header, p, testSecret) }
	cases := map[string]string{
		"empty":             "",
		"not a jwt":         "hello",
		"two parts":         parts[0] + "." + parts[1],
		"four parts":        good + ".x",
		"bad base64 header": "!!!" + "." + parts[1] + "." + parts[2],
		"padded base64":     parts[0] + "=." + parts[1] + "." + parts[2],
		"header not json":   enc([]byte("nope")) + "." + parts[1] + "." + parts[2],
		"payload not json":  parts[0] + "." + enc([]byte("nope")) + "." + parts[2],
		"bad base64 sig":    parts[0] + "." + parts[1] + ".***",
		"alg none":          enc([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + parts[1] + ".",
		"alg none signed":   rawToken(`{"alg":"none"}`, `{"iss":"apptest0000000001","sub":"u","exp":1900000000}`, testSecret),
		"alg RS256":         rawToken(`{"alg":"RS256","typ":"JWT"}`, `{"iss":"apptest0000000001","sub":"u","exp":1900000000}`, testSecret),
		"alg HS512":         rawToken(`{"alg":"HS512"}`, `{"iss":"apptest0000000001","sub":"u","exp":1900000000}`, testSecret),
		"alg lowercase":     rawToken(`{"alg":"hs256"}`, `{"iss":"apptest0000000001","sub":"u","exp":1900000000}`, testSecret),
		"no alg":            rawToken(`{"typ":"JWT"}`, `{"iss":"apptest0000000001","sub":"u","exp":1900000000}`, testSecret),
		"missing iss":       payload(`{"sub":"u","exp":1900000000}`),
		"missing sub":       payload(`{"iss":"apptest0000000001","exp":1900000000}`),
		"missing exp":       payload(`{"iss":"apptest0000000001","sub":"u"}`),
		"exp a string":      payload(`{"iss":"apptest0000000001","sub":"u","exp":"tomorrow"}`),
		"sub a number":      payload(`{"iss":"apptest0000000001","sub":5,"exp":1900000000}`),
		"invalid user id":   payload(`{"iss":"apptest0000000001","sub":"a b","exp":1900000000}`),
		"invalid app id":    payload(`{"iss":"app/../x","sub":"u","exp":1900000000}`),
		"invalid room id":   payload(`{"iss":"apptest0000000001","sub":"u","room":"r#1","exp":1900000000}`),
		"unknown grant":     payload(`{"iss":"apptest0000000001","sub":"u","exp":1900000000,"grants":["publish","root"]}`),
		"grants not list":   payload(`{"iss":"apptest0000000001","sub":"u","exp":1900000000,"grants":"publish"}`),
		"control in name":   payload(`{"iss":"apptest0000000001","sub":"u","exp":1900000000,"name":"a\u0007b"}`),
		"name too long":     payload(`{"iss":"apptest0000000001","sub":"u","exp":1900000000,"name":"` + strings.Repeat("n", MaxNameLen+1) + `"}`),
		"metadata too long": payload(`{"iss":"apptest0000000001","sub":"u","exp":1900000000,"metadata":"` + strings.Repeat("m", MaxMetadataLen+1) + `"}`),
		"exp out of range":  payload(`{"iss":"apptest0000000001","sub":"u","exp":1e15}`),
		"exp negative":      payload(`{"iss":"apptest0000000001","sub":"u","exp":-5}`),
		"payload an array":  payload(`[1,2]`),
		"too long":          good + strings.Repeat("A", MaxTokenLen),
	}
	for name, tok := range cases {
		_, err := v.Verify(context.Background(), tok)
		if !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: Verify error = %v, want ErrMalformed", name, err)
		}
	}
}

func TestVerifyErrorClasses(t *testing.T) {
	ctx := context.Background()
	v, apps := testVerifier()
	mint := func(f func(c *Claims)) string { c := baseClaims(); f(&c); return mustMint(testSecret, c) }

	other := baseClaims()
	other.App = "appnosuchapp"
	if _, err := v.Verify(ctx, mustMint(testSecret, other)); !errors.Is(err, ErrUnknownApp) {
		t.Errorf("unknown app: %v", err)
	}
	if _, err := v.Verify(ctx, mustMint("some-other-secret", baseClaims())); !errors.Is(err, ErrBadSignature) {
		t.Errorf("wrong secret: %v", err)
	}
	// Tampering with the payload (granting oneself admin) breaks the signature.
	tok := mustMint(testSecret, baseClaims())
	parts := strings.Split(tok, ".")
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	var m map[string]any
	json.Unmarshal(payload, &m)
	m["grants"] = []string{"admin"}
	forged, _ := json.Marshal(m)
	tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString(forged) + "." + parts[2]
	if _, err := v.Verify(ctx, tampered); !errors.Is(err, ErrBadSignature) {
		t.Errorf("tampered payload: %v", err)
	}
	sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
	sig[0] ^= 1
	if _, err := v.Verify(ctx, parts[0]+"."+parts[1]+"."+base64.RawURLEncoding.EncodeToString(sig)); !errors.Is(err, ErrBadSignature) {
		t.Errorf("flipped signature bit: %v", err)
	}

	expired := mint(func(c *Claims) { c.IssuedAt, c.ExpiresAt = t0.Add(-2*time.Hour), t0.Add(-time.Hour) })
	if _, err := v.Verify(ctx, expired); !errors.Is(err, ErrExpired) {
		t.Errorf("expired: %v", err)
	}
	atExpiry := mint(func(c *Claims) { c.ExpiresAt = t0 })
	if _, err := v.Verify(ctx, atExpiry); !errors.Is(err, ErrExpired) {
		t.Errorf("exp == now must be expired: %v", err)
	}
	expiredForged := mustMint("wrong", func() Claims {
		c := baseClaims()
		c.IssuedAt, c.ExpiresAt = t0.Add(-2*time.Hour), t0.Add(-time.Hour)
		return c
	}())
	if _, err := v.Verify(ctx, expiredForged); !errors.Is(err, ErrBadSignature) {
		t.Errorf("expired and forged must be a bad signature: %v", err)
	}
	early := mint(func(c *Claims) { c.NotBefore = t0.Add(time.Minute) })
	if _, err := v.Verify(ctx, early); !errors.Is(err, ErrNotYetValid) {
		t.Errorf("not yet valid: %v", err)
	}

	// Leeway tolerates clock skew on both ends.
	v.Leeway = 2 * time.Minute
	for name, tok := range map[string]string{
		"expired a minute ago": mint(func(c *Claims) { c.IssuedAt, c.ExpiresAt = t0.Add(-time.Hour), t0.Add(-time.Minute) }),
		"valid in a minute":    early,
	} {
		if _, err := v.Verify(ctx, tok); err != nil {
			t.Errorf("with leeway, %s: %v", name, err)
		}
	}
	if _, err := v.Verify(ctx, expired); !errors.Is(err, ErrExpired) {
		t.Errorf("with leeway, expired an hour ago: %v", err)
	}
	v.Leeway = 0

	// A store failure is not an unknown app.
	boom := errors.New("database is locked")
	apps.err = boom
	_, err := v.Verify(ctx, mustMint(testSecret, baseClaims()))
	if !errors.Is(err, boom) || isClassified(err) {
		t.Errorf("store error came back as %v", err)
	}
}

func TestErrorMessagesNameTheReason(t *testing.T) {
	for err, want := range map[error]string{
		ErrMalformed: "malformed", ErrUnknownApp: "unknown app", ErrBadSignature: "bad signature",
		ErrExpired: "expired", ErrNotYetValid: "not yet valid",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q does not say %q", err, want)
		}
	}
}

func TestRotationOverlap(t *testing.T) {
	ctx := context.Background()
	v, apps := testVerifier()
	oldTok := mustMint(testSecret, baseClaims())
	const newSecret = "the-new-secret-the-new-secret-the-new-secr"
	apps.put(store.App{ID: testApp, Secret: newSecret, PreviousSecret: testSecret, PreviousSecretUntil: t0.Add(time.Minute)})
	newTok := mustMint(newSecret, baseClaims())
	for name, tok := range map[string]string{"old": oldTok, "new": newTok} {
		if _, err := v.Verify(ctx, tok); err != nil {
			t.Errorf("during overlap, %s-secret token: %v", name, err)
		}
	}
	v.Now = func() time.Time { return t0.Add(time.Minute) }
	if _, err := v.Verify(ctx, oldTok); !errors.Is(err, ErrBadSignature) {
		t.Errorf("after overlap, old-secret token: %v, want ErrBadSignature", err)
	}
	if _, err := v.Verify(ctx, newTok); err != nil {
		t.Errorf("after overlap, new-secret token: %v", err)
	}
}

func TestMintRefuses(t *testing.T) {
	mod := func(f func(c *Claims)) Claims { c := baseClaims(); f(&c); return c }
	cases := map[string]Claims{
		"no expiry":        mod(func(c *Claims) { c.ExpiresAt = time.Time{} }),
		"zero ttl":         mod(func(c *Claims) { c.ExpiresAt = c.IssuedAt }),
		"negative ttl":     mod(func(c *Claims) { c.ExpiresAt = c.IssuedAt.Add(-time.Second) }),
		"ttl over max":     mod(func(c *Claims) { c.ExpiresAt = c.IssuedAt.Add(MaxTTL + time.Second) }),
		"no user":          mod(func(c *Claims) { c.User = "" }),
		"bad user":         mod(func(c *Claims) { c.User = "a:b" }),
		"bad app":          mod(func(c *Claims) { c.App = "" }),
		"bad room":         mod(func(c *Claims) { c.Room = "r r" }),
		"unknown grant":    mod(func(c *Claims) { c.Grants = []Grant{"superuser"} }),
		"name control":     mod(func(c *Claims) { c.Name = "x\ny" }),
		"name too long":    mod(func(c *Claims) { c.Name = strings.Repeat("é", MaxNameLen/2+1) }),
		"metadata long":    mod(func(c *Claims) { c.Metadata = strings.Repeat("m", MaxMetadataLen+1) }),
		"metadata bad utf": mod(func(c *Claims) { c.Metadata = "\xff" }),
		"id too long":      mod(func(c *Claims) { c.ID = strings.Repeat("i", MaxIDLen+1) }),
		"token too long": mod(func(c *Claims) {
			c.Metadata = strings.Repeat("<", MaxMetadataLen)
			c.Name = strings.Repeat("<", MaxNameLen)
		}),
	}
	for name, c := range cases {
		if tok, err := Mint(testSecret, c); err == nil {
			t.Errorf("Mint(%s) = %.40s..., want an error", name, tok)
		}
	}
	if _, err := Mint("", baseClaims()); err == nil {
		t.Error("Mint with an empty secret succeeded")
	}
	max := mod(func(c *Claims) {
		c.ExpiresAt = c.IssuedAt.Add(MaxTTL)
		c.Metadata = strings.Repeat("m", MaxMetadataLen)
		c.Name = strings.Repeat("n", MaxNameLen)
	})
	tok, err := Mint(testSecret, max)
	if err != nil || len(tok) > MaxTokenLen {
		t.Fatalf("Mint at every limit: %d bytes, %v", len(tok), err)
	}
	v, _ := testVerifier()
	if _, err := v.Verify(context.Background(), tok); err != nil {
		t.Fatalf("Verify at every limit: %v", err)
	}
}

func TestParseGrants(t *testing.T) {
	ok := map[string][]Grant{
		"":                             {},
		" ":                            {},
		"publish":                      {GrantPublish},
		"publish,subscribe":            {GrantPublish, GrantSubscribe},
		" data , admin ":               {GrantData, GrantAdmin},
		"publish,publish,data":         {GrantPublish, GrantData},
		"publish,subscribe,data,admin": {GrantPublish, GrantSubscribe, GrantData, GrantAdmin},
	}
	for in, want := range ok {
		got, err := ParseGrants(in)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("ParseGrants(%q) = %#v, %v; want %#v", in, got, err, want)
		}
	}
	for _, in := range []string{"root", "publish,,data", "publish,", "Publish", "publish;subscribe"} {
		_, err := ParseGrants(in)
		if err == nil {
			t.Errorf("ParseGrants(%q) succeeded", in)
			continue
		}
		if !strings.Contains(err.Error(), "publish, subscribe, data, admin") && !strings.Contains(err.Error(), "empty entry") {
			t.Errorf("ParseGrants(%q) error %q does not say what is allowed", in, err)
		}
	}
}

func TestVerifierWithoutApps(t *testing.T) {
	var v Verifier
	if _, err := v.Verify(context.Background(), "x"); err == nil {
		t.Fatal("Verify without Apps succeeded")
	}
}
