// Package auth mints and verifies minirtc tokens: JWTs signed with HS256 and
// an app's secret (DESIGN §5). App servers mint them for their users; the
// server verifies them on join.
package auth

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/minirtc/minirtc/internal/store"
	"github.com/minirtc/minirtc/pkg/ids"
)

// Why a token was refused. Verify wraps them with a detail; test with errors.Is.
var (
	ErrMalformed    = errors.New("malformed token")
	ErrUnknownApp   = errors.New("unknown app")
	ErrBadSignature = errors.New("bad signature")
	ErrExpired      = errors.New("token expired")
	ErrNotYetValid  = errors.New("token not yet valid")
)

// wireClaims is the JSON payload. Grants is a pointer so that an absent claim
// (default grants) differs from an empty list (no grants).
type wireClaims struct {
	Issuer    string           `json:"iss"`
	Subject   string           `json:"sub"`
	ExpiresAt *jwt.NumericDate `json:"exp"`
	IssuedAt  *jwt.NumericDate `json:"iat,omitempty"`
	NotBefore *jwt.NumericDate `json:"nbf,omitempty"`
	ID        string           `json:"jti,omitempty"`
	Room      string           `json:"room,omitempty"`
	Grants    *[]Grant         `json:"grants,omitempty"`
	Name      string           `json:"name,omitempty"`
	Metadata  string           `json:"metadata,omitempty"`
}

// wireClaims satisfies jwt.Claims only to pass through the parser; the
// checks those methods feed are done by Verify itself.
func (w *wireClaims) GetExpirationTime() (*jwt.NumericDate, error) { return w.ExpiresAt, nil }
func (w *wireClaims) GetIssuedAt() (*jwt.NumericDate, error)       { return w.IssuedAt, nil }
func (w *wireClaims) GetNotBefore() (*jwt.NumericDate, error)      { return w.NotBefore, nil }
func (w *wireClaims) GetIssuer() (string, error)                   { return w.Issuer, nil }
func (w *wireClaims) GetSubject() (string, error)                  { return w.Subject, nil }
func (w *wireClaims) GetAudience() (jwt.ClaimStrings, error)       { return nil, nil }

func numericDate(t time.Time) *jwt.NumericDate {
	if t.IsZero() {
		return nil
	}
	return jwt.NewNumericDate(t)
}

func fromNumericDate(d *jwt.NumericDate) time.Time {
	if d == nil {
		return time.Time{}
	}
	return d.Time.UTC()
}

// Mint signs c with secret. It fills c.ID with a random id when empty,
// c.IssuedAt with the current time when zero, and writes DefaultGrants when
// c.Grants is nil (an empty non-nil list means no grants). ExpiresAt minus
// IssuedAt must be more than 0 and at most MaxTTL.
func Mint(secret string, c Claims) (string, error) {
	if secret == "" {
		return "", errors.New("mint token: app secret is empty")
	}
	if c.IssuedAt.IsZero() {
		c.IssuedAt = time.Now()
	}
	if c.ID == "" {
		c.ID = newTokenID()
	}
	if c.Grants == nil {
		c.Grants = DefaultGrants()
	}
	if err := c.Validate(); err != nil {
		return "", fmt.Errorf("mint token: %w", err)
	}
	if ttl := c.ExpiresAt.Sub(c.IssuedAt); ttl <= 0 || ttl > MaxTTL {
		return "", fmt.Errorf("mint token: lifetime %s (expiry minus issue time) must be more than 0 and at most %s", ttl, MaxTTL)
	}
	w := wireClaims{
		Issuer:    string(c.App),
		Subject:   string(c.User),
		ExpiresAt: numericDate(c.ExpiresAt),
		IssuedAt:  numericDate(c.IssuedAt),
		NotBefore: numericDate(c.NotBefore),
		ID:        c.ID,
		Room:      string(c.Room),
		Grants:    &c.Grants,
		Name:      c.Name,
		Metadata:  c.Metadata,
	}
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, &w).SignedString([]byte(secret))
	if err != nil {
		return "", fmt.Errorf("mint token: %w", err)
	}
	if len(tok) > MaxTokenLen {
		return "", fmt.Errorf("mint token: token would be %d bytes, the limit is %d; shorten the name or metadata", len(tok), MaxTokenLen)
	}
	return tok, nil
}

func newTokenID() string {
	var b [16]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// AppLookup finds an app and its secrets; store.Apps and CachedApps satisfy it.
// GetApp must return an error matching store.ErrNotFound for a missing app.
type AppLookup interface {
	GetApp(ctx context.Context, id ids.AppID) (store.App, error)
}

// Refresher is implemented by caching lookups (CachedApps). When a signature
// does not match, Verify asks for a fresh copy once, so a secret rotated a
// moment ago is honoured without waiting for the cache to expire.
type Refresher interface {
	Refresh(ctx context.Context, id ids.AppID) (store.App, error)
}

// Verifier checks tokens against the apps' secrets.
type Verifier struct {
	Apps   AppLookup
	Now    func() time.Time // nil means time.Now
	Leeway time.Duration    // clock skew tolerated on exp and nbf
}

// parser only splits and decodes: algorithm, signature and times are checked
// by Verify, in an order that decides which error the caller sees.
var parser = jwt.NewParser(jwt.WithStrictDecoding())

// Verify checks a token and returns its claims. Errors match (errors.Is)
// ErrMalformed, ErrUnknownApp, ErrBadSignature, ErrExpired or ErrNotYetValid;
// any other error is the app lookup's own, returned as is. The signature is
// checked before the times, so a forged expired token reports a bad signature.
func (v *Verifier) Verify(ctx context.Context, token string) (Claims, error) {
	if v.Apps == nil {
		return Claims{}, errors.New("auth: Verifier.Apps is not set")
	}
	if len(token) > MaxTokenLen {
		return Claims{}, fmt.Errorf("%w: %d bytes, the limit is %d", ErrMalformed, len(token), MaxTokenLen)
	}
	var w wireClaims
	tok, parts, err := parser.ParseUnverified(token, &w)
	if err != nil {
		return Claims{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	// Only HS256: "none" would skip the signature and RS256/ES256 would have
	// us treat the app secret as a public key.
	if alg, _ := tok.Header["alg"].(string); alg != jwt.SigningMethodHS256.Alg() {
		return Claims{}, fmt.Errorf("%w: algorithm %q is not allowed, only HS256", ErrMalformed, truncate(alg, 20))
	}
	c, err := claimsFromWire(&w)
	if err != nil {
		return Claims{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}

	app, err := v.Apps.GetApp(ctx, c.App)
	if errors.Is(err, store.ErrNotFound) {
		return Claims{}, fmt.Errorf("%w: %q", ErrUnknownApp, c.App)
	}
	if err != nil {
		return Claims{}, err
	}
	now := v.now()
	signed := parts[0] + "." + parts[1]
	if !signatureOK(app, signed, tok.Signature, now) {
		r, ok := v.Apps.(Refresher)
		if !ok {
			return Claims{}, fmt.Errorf("%w: not signed with the current secret of app %q", ErrBadSignature, c.App)
		}
		fresh, err := r.Refresh(ctx, c.App)
		if errors.Is(err, store.ErrNotFound) {
			return Claims{}, fmt.Errorf("%w: %q", ErrUnknownApp, c.App)
		}
		if err != nil {
			return Claims{}, err
		}
		if !signatureOK(fresh, signed, tok.Signature, now) {
			return Claims{}, fmt.Errorf("%w: not signed with the current secret of app %q", ErrBadSignature, c.App)
		}
	}

	if !now.Before(c.ExpiresAt.Add(v.Leeway)) {
		return Claims{}, fmt.Errorf("%w: expired at %s", ErrExpired, c.ExpiresAt.Format(time.RFC3339))
	}
	if !c.NotBefore.IsZero() && now.Add(v.Leeway).Before(c.NotBefore) {
		return Claims{}, fmt.Errorf("%w: valid from %s", ErrNotYetValid, c.NotBefore.Format(time.RFC3339))
	}
	return c, nil
}

func (v *Verifier) now() time.Time {
	if v.Now != nil {
		return v.Now()
	}
	return time.Now()
}

// signatureOK checks sig against the current secret and, while it is still
// accepted, the previous one.
func signatureOK(app store.App, signed string, sig []byte, now time.Time) bool {
	hs := jwt.SigningMethodHS256
	if app.Secret != "" && hs.Verify(signed, sig, []byte(app.Secret)) == nil {
		return true
	}
	return app.PreviousSecretValid(now) && hs.Verify(signed, sig, []byte(app.PreviousSecret)) == nil
}

func claimsFromWire(w *wireClaims) (Claims, error) {
	switch {
	case w.Issuer == "":
		return Claims{}, errors.New(`"iss" (app id) is missing`)
	case w.Subject == "":
		return Claims{}, errors.New(`"sub" (user id) is missing`)
	case w.ExpiresAt == nil:
		return Claims{}, errors.New(`"exp" (expiry time) is missing`)
	}
	c := Claims{
		App:       ids.AppID(w.Issuer),
		User:      ids.UserID(w.Subject),
		Room:      ids.RoomID(w.Room),
		Grants:    DefaultGrants(),
		Name:      w.Name,
		Metadata:  w.Metadata,
		ID:        w.ID,
		IssuedAt:  fromNumericDate(w.IssuedAt),
		NotBefore: fromNumericDate(w.NotBefore),
		ExpiresAt: fromNumericDate(w.ExpiresAt),
	}
	if w.Grants != nil {
		c.Grants = append([]Grant{}, *w.Grants...)
	}
	if err := c.Validate(); err != nil {
		return Claims{}, err
	}
	return c, nil
}
