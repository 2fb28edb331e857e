package store

import (
	"crypto/rand"
	"encoding/base32"
	"encoding/base64"
	"strings"

	"github.com/minirtc/minirtc/pkg/ids"
)

// appIDEncoding is lowercase base32hex without padding: 10 random bytes give
// exactly 16 characters, all within the ids alphabet.
var appIDEncoding = base32.NewEncoding(strings.ToLower("0123456789ABCDEFGHIJKLMNOPQRSTUV")).WithPadding(base32.NoPadding)

// NewAppID returns "app" followed by 16 random lowercase base32hex characters (80 bits).
func NewAppID() ids.AppID {
	var b [10]byte
	rand.Read(b[:]) // crypto/rand.Read never fails (it crashes the program instead)
	return ids.AppID("app" + appIDEncoding.EncodeToString(b[:]))
}

// NewSecret returns 32 random bytes as unpadded base64url (43 characters).
func NewSecret() string {
	var b [32]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}
