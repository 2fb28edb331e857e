package auth

import (
	"fmt"
	"slices"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/minirtc/minirtc/pkg/ids"
)

// Limits on what a token may carry. They keep tokens well under MaxTokenLen
// and keep names sane in every UI that shows them.
const (
	MaxNameLen     = 256  // bytes of UTF-8
	MaxMetadataLen = 4096 // bytes
	MaxIDLen       = 128  // bytes of the jti claim
	MaxTokenLen    = 8192 // bytes of the encoded token
	MaxTTL         = 30 * 24 * time.Hour
)

// Claims is what a token says: who (User) of which app (App) may do what
// (Grants), where (Room, or any room when empty), and when.
type Claims struct {
	App      ids.AppID  `json:"app"`
	User     ids.UserID `json:"user"`
	Room     ids.RoomID `json:"room,omitempty"`     // empty: valid for any room of the app
	Grants   []Grant    `json:"grants"`             // nil at Mint means DefaultGrants
	Name     string     `json:"name,omitempty"`     // display name
	Metadata string     `json:"metadata,omitempty"` // opaque to minirtc, usually JSON
	ID       string     `json:"id"`                 // jti; Mint fills a random one when empty
	// Times travel in whole seconds.
	IssuedAt  time.Time `json:"issued_at,omitzero"`
	NotBefore time.Time `json:"not_before,omitzero"` // optional
	ExpiresAt time.Time `json:"expires_at"`
}

// Has reports whether the claims grant g.
func (c Claims) Has(g Grant) bool { return slices.Contains(c.Grants, g) }

// earliest and latest bound token times: JSON and RFC 3339 cannot express
// years past 9999, and nothing minirtc signs predates 1970.
var (
	earliest = time.Unix(0, 0)
	latest   = time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)
)

// Validate checks the claims: valid app and user ids, a valid room id when
// set, known grants, size limits on name, metadata and id, and an expiry.
func (c Claims) Validate() error {
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
		if err := validateGrant(g); err != nil {
			return err
		}
	}
	if err := checkText("name", c.Name, MaxNameLen, true); err != nil {
		return err
	}
	// Metadata is opaque (JSON with newlines is fine) but must survive a
	// JSON round trip unchanged, hence valid UTF-8.
	if err := checkText("metadata", c.Metadata, MaxMetadataLen, false); err != nil {
		return err
	}
	if err := checkText("token id", c.ID, MaxIDLen, true); err != nil {
		return err
	}
	if c.ExpiresAt.IsZero() {
		return fmt.Errorf("expiry time is not set")
	}
	for _, t := range []struct {
		what string
		at   time.Time
	}{{"expiry", c.ExpiresAt}, {"issue", c.IssuedAt}, {"not-before", c.NotBefore}} {
		if !t.at.IsZero() && (t.at.Before(earliest) || t.at.After(latest)) {
			return fmt.Errorf("%s time %d is out of range; it must fall between 1970 and 9999", t.what, t.at.Unix())
		}
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
