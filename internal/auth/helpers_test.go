package auth

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/minirtc/minirtc/internal/store"
	"github.com/minirtc/minirtc/pkg/ids"
)

// t0 is the fixed "now" of these tests.
var t0 = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

const testApp ids.AppID = "apptest0000000001"

const testSecret = "s3cret-s3cret-s3cret-s3cret-s3cret-s3cret0"

// fakeApps is an in-memory AppLookup that counts its calls.
type fakeApps struct {
	mu    sync.Mutex
	apps  map[ids.AppID]store.App
	err   error // returned for every lookup when set
	calls atomic.Int64
}

func newFakeApps(apps ...store.App) *fakeApps {
	f := &fakeApps{apps: map[ids.AppID]store.App{}}
	for _, a := range apps {
		f.apps[a.ID] = a
	}
	return f
}

func (f *fakeApps) GetApp(_ context.Context, id ids.AppID) (store.App, error) {
	f.calls.Add(1)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return store.App{}, f.err
	}
	a, ok := f.apps[id]
	if !ok {
		return store.App{}, fmt.Errorf("app %q: %w", id, store.ErrNotFound)
	}
	return a, nil
}

func (f *fakeApps) put(a store.App) {
	f.mu.Lock()
	f.apps[a.ID] = a
	f.mu.Unlock()
}

func testVerifier() (*Verifier, *fakeApps) {
	f := newFakeApps(store.App{ID: testApp, Name: "test", Secret: testSecret})
	return &Verifier{Apps: f, Now: func() time.Time { return t0 }}, f
}

func baseClaims() Claims {
	return Claims{App: testApp, User: "alice", IssuedAt: t0.Add(-time.Minute), ExpiresAt: t0.Add(time.Hour)}
}

func mustMint(secret string, c Claims) string {
	tok, err := Mint(secret, c)
	if err != nil {
		panic(err)
	}
	return tok
}

// rawToken builds a token from literal header and payload JSON, signed with
// HMAC-SHA256 whatever the header says, to test what Verify does with
// tokens Mint would never produce.
func rawToken(header, payload, secret string) string {
	enc := base64.RawURLEncoding
	signed := enc.EncodeToString([]byte(header)) + "." + enc.EncodeToString([]byte(payload))
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(signed))
	return signed + "." + enc.EncodeToString(m.Sum(nil))
}

const hs256Header = `{"alg":"HS256","typ":"JWT"}`

func isClassified(err error) bool {
	for _, s := range []error{ErrMalformed, ErrUnknownApp, ErrBadSignature, ErrExpired, ErrNotYetValid} {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}
