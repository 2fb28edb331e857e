// Package ids defines the identifiers that name things in minirtc (apps, rooms,
// users, stream tags and streams) and the one rule they all follow.
//
// Identifiers travel in tokens, URLs, log lines and database keys, so they are
// restricted to a conservative alphabet that needs no escaping anywhere:
// ASCII letters, digits, '_' and '-', 1 to 128 characters.
package ids

import (
	"fmt"
	"strings"
)

// MaxLen is the longest identifier accepted, in bytes (= characters, since the
// alphabet is ASCII).
const MaxLen = 128

// MaxStreamLen is the longest stream id: a user id, '_' and a tag.
const MaxStreamLen = 2*MaxLen + 1

// DefaultTag is the tag of a stream published without one.
const DefaultTag Tag = "main"

type (
	// AppID names an application (a tenant). Rooms of one app are invisible to others.
	AppID string
	// RoomID names a room inside an app.
	RoomID string
	// UserID names a user inside an app.
	UserID string
	// Tag names one of a user's streams ("main", "screen", ...).
	Tag string
	// StreamID is "<userId>_<tag>". It is unique inside a room.
	StreamID string
	// SessionID names one signalling session (one join).
	SessionID string
)

// Validate reports whether s is a well-formed identifier. what names the kind
// of identifier in the error message ("room id", "user id", ...).
func Validate(what, s string) error { return validate(what, s, MaxLen) }

func validate(what, s string, limit int) error {
	if s == "" {
		return fmt.Errorf("%s is empty", what)
	}
	if len(s) > limit {
		return fmt.Errorf("%s is %d characters long, the limit is %d", what, len(s), limit)
	}
	for i := 0; i < len(s); i++ {
		if !allowed(s[i]) {
			return fmt.Errorf("%s %q has character %q at position %d; only letters, digits, '_' and '-' are allowed",
				what, truncate(s), s[i], i)
		}
	}
	return nil
}

func allowed(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

// truncate keeps error messages short when someone sends a huge identifier.
func truncate(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}

// Validate checks the app id.
func (a AppID) Validate() error { return Validate("app id", string(a)) }

// Validate checks the room id.
func (r RoomID) Validate() error { return Validate("room id", string(r)) }

// Validate checks the user id.
func (u UserID) Validate() error { return Validate("user id", string(u)) }

// Validate checks the tag.
func (t Tag) Validate() error { return Validate("tag", string(t)) }

// OrDefault returns the tag, or DefaultTag when it is empty.
func (t Tag) OrDefault() Tag {
	if t == "" {
		return DefaultTag
	}
	return t
}

// Stream builds the id of user u's stream with tag t.
func Stream(u UserID, t Tag) StreamID { return StreamID(string(u) + "_" + string(t)) }

// Validate checks that the stream id has the form "<userId>_<tag>" with both
// parts valid. Because user ids may contain '_', a stream id alone cannot
// always be split unambiguously; use Owns to check it against a known user.
func (s StreamID) Validate() error {
	if err := validate("stream id", string(s), MaxStreamLen); err != nil {
		return err
	}
	if !strings.Contains(string(s), "_") {
		return fmt.Errorf("stream id %q is not of the form <userId>_<tag>", truncate(string(s)))
	}
	return nil
}

// Owns reports whether stream id s belongs to user u, and returns its tag.
func (s StreamID) Owns(u UserID) (Tag, bool) {
	prefix := string(u) + "_"
	if !strings.HasPrefix(string(s), prefix) || len(s) == len(prefix) {
		return "", false
	}
	return Tag(s[len(prefix):]), true
}
