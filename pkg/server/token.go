package server

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/golang-jwt/jwt/v5"

	"github.com/minirtc/minirtc/pkg/ids"
)

// Grant is one permission a token gives its holder (docs/protocol.md §6).
type Grant string

// The grants a token can carry.
const (
	GrantPublish   Grant = "publish"   // publish own streams and set their mute states
	GrantSubscribe Grant = "subscribe" // subscribe to streams
	GrantData      Grant = "data"      // send room messages, set and delete room attributes
	GrantAdmin     Grant = "admin"     // kick (and ban) others, close the room; call the REST API
)

// DefaultGrants is what a token gets when Claims.Grants is nil: a regular
// participant, not an admin.
func DefaultGrants() []Grant { return []Grant{GrantPublish, GrantSubscribe, GrantData} }

// Limits of a token, the same the server enforces: a token over them is
// refused when it is used, so SignToken refuses to make one.
const (
	MaxTokenNameLen     = 256  // bytes of UTF-8, no control characters
	MaxTokenMetadataLen = 4096 // bytes of UTF-8
	MaxTokenIDLen       = 128  // bytes, no control characters
	MaxTokenLen         = 8192 // bytes of the encoded token
	MaxTokenTTL         = 30 * 24 * time.Hour
	// DefaultTokenTTL is the lifetime of a token whose ExpiresAt is zero.
	DefaultTokenTTL = time.Hour
)

// Claims is what a token says: which user (User) of which app (App) may do
// what (Grants), where (Room, or any room of the app when empty) and until
// when (ExpiresAt).
type Claims struct {
	App  ids.AppID  // the "iss" claim; Client.SignToken fills it
	User ids.UserID // the "sub" claim
	// Room restricts the token to one room; empty: any room of the app.
	Room ids.RoomID
	// Grants: nil gives DefaultGrants; an empty, non-nil list gives none
	// (a participant that can only watch the room's state).
	Grants []Grant
	// Name is the display name other participants see; Metadata is opaque
	// to minirtc (usually JSON) and reaches the other participants too.
	Name     string
	Metadata string
	// ID is the token's id ("jti"); a random one when empty.
	ID string
	// IssuedAt defaults to now; NotBefore is optional.
	IssuedAt  time.Time
	NotBefore time.Time
	// ExpiresAt defaults to IssuedAt + DefaultTokenTTL. The lifetime
	// (ExpiresAt - IssuedAt) must be more than 0 and at most MaxTokenTTL.
	ExpiresAt time.Time
}

// wireClaims is the token's JSON payload, the format docs/protocol.md §6
// specifies. Times travel in whole seconds. Grants is a pointer so that an
// empty list is written (no grants) rather than omitted (default grants).
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

// jwt.Claims is needed only to sign; the server does its own checks.
func (w *wireClaims) GetExpirationTime() (*jwt.NumericDate, error) { return w.ExpiresAt, nil }
func (w *wireClaims) GetIssuedAt() (*jwt.NumericDate, error)       { return w.IssuedAt, nil }
func (w *wireClaims) GetNotBefore() (*jwt.NumericDate, error)      { return w.NotBefore, nil }
func (w *wireClaims) GetIssuer() (string, error)                   { return w.Issuer, nil }
func (w *wireClaims) GetSubject() (string, error)                  { return w.Subject, nil }
func (w *wireClaims) GetAudience() (jwt.ClaimStrings, error)       { return nil, nil }

// SignToken makes a token for c, signed with the app's secret (JWT, HS256),
// without asking the server: the way an app server hands its users tokens.
// It checks c against the limits the server applies, so that a token it
// returns is one the server accepts (while the secret is current and the
// token is within its times).
func SignToken(secret string, c Claims) (string, error) {
	if secret == "" {
		return "", errors.New("minirtc: sign token: the app secret is empty")
	}
	if c.IssuedAt.IsZero() {
		c.IssuedAt = time.Now()
	}
	if c.ExpiresAt.IsZero() {
		c.ExpiresAt = c.IssuedAt.Add(DefaultTokenTTL)
	}
	if c.ID == "" {
		c.ID = randomID()
	}
	if c.Grants == nil {
		c.Grants = DefaultGrants()
	}
	if err := c.validate(); err != nil {
		return "", fmt.Errorf("minirtc: sign token: %w", err)
	}
	w := wireClaims{
		Issuer:    string(c.App),
		Subject:   string(c.User),
		ExpiresAt: jwt.NewNumericDate(c.ExpiresAt),
		IssuedAt:  jwt.NewNumericDate(c.IssuedAt),
		ID:        c.ID,
		Room:      string(c.Room),
		Grants:    &c.Grants,
		Name:      c.Name,
		Metadata:  c.Metadata,
	}
	if !c.NotBefore.IsZero() {
		w.NotBefore = jwt.NewNumericDate(c.NotBefore)
	}
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, &w).SignedString([]byte(secret))
	if err != nil {
		return "", fmt.Errorf("minirtc: sign token: %w", err)
	}
	if len(tok) > MaxTokenLen {
		return "", fmt.Errorf("minirtc: sign token: the token would be %d bytes, the limit is %d; shorten the name or metadata", len(tok), MaxTokenLen)
	}
	return tok, nil
}

var knownGrants = []Grant{GrantPublish, GrantSubscribe, GrantData, GrantAdmin}

// Bounds of token times: JSON and the server cannot express years past
// 9999, and nothing minirtc accepts predates 1970.
var (
	earliest = time.Unix(0, 0)
	latest   = time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)
)

func (c Claims) validate() error {
	if err := c.App.Validate(); err != nil {
		return err
	}
	if err := c.User.Validate(); err != nil {
		return err
	}
	if c.Room != "" {
		if err := c.Room.Validate(); err != nil {
			return err
		}
	}
	for _, g := range c.Grants {
		if !slices.Contains(knownGrants, g) {
			return fmt.Errorf("unknown grant %q; the grants are publish, subscribe, data and admin", g)
		}
	}
	if err := checkText("name", c.Name, MaxTokenNameLen, true); err != nil {
		return err
	}
	if err := checkText("metadata", c.Metadata, MaxTokenMetadataLen, false); err != nil {
		return err
	}
	if err := checkText("token id", c.ID, MaxTokenIDLen, true); err != nil {
		return err
	}
	for _, t := range []struct {
		what string
		at   time.Time
	}{{"expiry", c.ExpiresAt}, {"issue", c.IssuedAt}, {"not-before", c.NotBefore}} {
		if !t.at.IsZero() && (t.at.Before(earliest) || t.at.After(latest)) {
			return fmt.Errorf("%s time %s is out of range; it must fall between 1970 and 9999", t.what, t.at.UTC().Format(time.RFC3339))
		}
	}
	if ttl := c.ExpiresAt.Sub(c.IssuedAt); ttl <= 0 || ttl > MaxTokenTTL {
		return fmt.Errorf("lifetime %s (expiry minus issue time) must be more than 0 and at most %s", ttl, MaxTokenTTL)
	}
	return nil
}

func checkText(what, s string, limit int, noControl bool) error {
	if len(s) > limit {
		return fmt.Errorf("%s is %d bytes, the limit is %d", what, len(s), limit)
	}
	if !utf8.ValidString(s) {
		return fmt.Errorf("%s is not valid UTF-8", what)
	}
	if noControl {
		for i, r := range s {
			if unicode.IsControl(r) {
				return fmt.Errorf("%s has control character %U at byte %d; control characters are not allowed", what, r, i)
			}
		}
	}
	return nil
}

func randomID() string {
	var b [16]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}
