package auth

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/minirtc/minirtc/pkg/ids"
)

// FuzzVerify feeds arbitrary strings to Verify: it must never panic, every
// refusal must be one of the documented classes, and whatever it accepts
// must be valid claims that verify again to the same value. The seed corpus
// in testdata/fuzz/FuzzVerify holds valid, expired, forged and malformed tokens
// for the test app; run longer with: go test -fuzz=FuzzVerify ./internal/auth
func FuzzVerify(f *testing.F) {
	f.Add(mustMint(testSecret, baseClaims()))
	f.Add("")
	f.Fuzz(func(t *testing.T, token string) {
		v, _ := testVerifier()
		c, err := v.Verify(context.Background(), token)
		if err != nil {
			if !isClassified(err) {
				t.Fatalf("unclassified error %v", err)
			}
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("accepted claims are invalid: %v", err)
		}
		again, err := v.Verify(context.Background(), token)
		if err != nil || !reflect.DeepEqual(c, again) {
			t.Fatalf("re-verify: %+v, %v; first time %+v", again, err, c)
		}
	})
}

// FuzzMintVerify checks that whatever Mint accepts, Verify accepts and gives
// back unchanged (times at whole seconds).
func FuzzMintVerify(f *testing.F) {
	f.Add("alice", "room-1", "Alice", `{"a":1}`, "publish,admin", int64(3600))
	f.Add("u", "", "", "", "", int64(1))
	f.Fuzz(func(t *testing.T, user, room, name, metadata, grants string, ttlSeconds int64) {
		g, err := ParseGrants(grants)
		if err != nil {
			return
		}
		c := Claims{App: testApp, User: ids.UserID(user), Room: ids.RoomID(room), Grants: g, Name: name, Metadata: metadata,
			ID: "id", IssuedAt: t0.Add(-time.Second), ExpiresAt: t0.Add(-time.Second).Add(time.Duration(ttlSeconds%(1<<40)) * time.Second)}
		tok, err := Mint(testSecret, c)
		if err != nil {
			return
		}
		v, _ := testVerifier()
		got, err := v.Verify(context.Background(), tok)
		if ttlSeconds%(1<<40) <= 1 {
			if !errors.Is(err, ErrExpired) {
				t.Fatalf("token expiring at or before now: %v", err)
			}
			return
		}
		if err != nil {
			t.Fatalf("minted token refused: %v", err)
		}
		if !reflect.DeepEqual(got, c) {
			t.Fatalf("round trip:\n got %+v\nwant %+v", got, c)
		}
	})
}
