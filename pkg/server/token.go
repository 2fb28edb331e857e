package server

import (
	"fmt"
	"time"

	"github.com/minirtc/minirtc/internal/auth"
	"github.com/minirtc/minirtc/pkg/ids"
)

// Grant is one permission a token gives its holder (docs/protocol.md §6).
type Grant = auth.Grant

// The grants a token can carry.
const (
	GrantPublish   = auth.GrantPublish   // publish own streams and set their mute states
	GrantSubscribe = auth.GrantSubscribe // subscribe to streams
	GrantData      = auth.GrantData      // send room messages, set and delete room attributes
	GrantAdmin     = auth.GrantAdmin     // kick (and ban) others, close the room; call the REST API
)

// DefaultGrants is what a token gets when Claims.Grants is nil: a regular
// participant, not an admin.
func DefaultGrants() []Grant { return auth.DefaultGrants() }

// Limits of a token, the same the server enforces (they are the server's
// own constants): a token over them is refused when it is used, so
// SignToken refuses to make one.
const (
	MaxTokenNameLen     = auth.MaxNameLen     // bytes of UTF-8, no control characters
	MaxTokenMetadataLen = auth.MaxMetadataLen // bytes of UTF-8
	MaxTokenIDLen       = auth.MaxIDLen       // bytes, no control characters
	MaxTokenLen         = auth.MaxTokenLen    // bytes of the encoded token
	MaxTokenTTL         = auth.MaxTTL
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

// SignToken makes a token for c, signed with the app's secret (JWT, HS256),
// without asking the server: the way an app server hands its users tokens.
// It is the server's own signing code (internal/auth), so a token it
// returns is one the server accepts (while the secret is current and the
// token is within its times), and it refuses what the server would refuse.
func SignToken(secret string, c Claims) (string, error) {
	if c.IssuedAt.IsZero() {
		c.IssuedAt = time.Now()
	}
	if c.ExpiresAt.IsZero() {
		c.ExpiresAt = c.IssuedAt.Add(DefaultTokenTTL)
	}
	tok, err := auth.Mint(secret, auth.Claims{
		App: c.App, User: c.User, Room: c.Room, Grants: c.Grants, Name: c.Name, Metadata: c.Metadata,
		ID: c.ID, IssuedAt: c.IssuedAt, NotBefore: c.NotBefore, ExpiresAt: c.ExpiresAt,
	})
	if err != nil {
		return "", fmt.Errorf("minirtc: %w", err)
	}
	return tok, nil
}
