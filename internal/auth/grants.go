package auth

import (
	"fmt"
	"slices"
	"strings"
)

// Grant is one permission a token gives its holder in a room.
type Grant string

// The grants a token can carry.
const (
	GrantPublish   Grant = "publish"   // publish own streams and set their mute states
	GrantSubscribe Grant = "subscribe" // subscribe to streams
	GrantData      Grant = "data"      // send room messages, set and delete room attributes
	GrantAdmin     Grant = "admin"     // kick (and ban) others, close the room
)

var knownGrants = []Grant{GrantPublish, GrantSubscribe, GrantData, GrantAdmin}

// DefaultGrants is what a token without a "grants" claim gets: a regular
// participant, not an admin.
func DefaultGrants() []Grant { return []Grant{GrantPublish, GrantSubscribe, GrantData} }

// Known reports whether g is one of the defined grants.
func (g Grant) Known() bool { return slices.Contains(knownGrants, g) }

func validateGrant(g Grant) error {
	if !g.Known() {
		return fmt.Errorf("unknown grant %q; allowed grants are %s", truncate(string(g), 40), allowedGrants())
	}
	return nil
}

func allowedGrants() string {
	s := make([]string, len(knownGrants))
	for i, g := range knownGrants {
		s[i] = string(g)
	}
	return strings.Join(s, ", ")
}

// ParseGrants parses a comma-separated list such as "publish,subscribe".
// Spaces around names are ignored and repeats are dropped. The empty string
// gives an empty, non-nil list: a token with no grants at all.
func ParseGrants(s string) ([]Grant, error) {
	out := []Grant{}
	if strings.TrimSpace(s) == "" {
		return out, nil
	}
	for _, part := range strings.Split(s, ",") {
		g := Grant(strings.TrimSpace(part))
		if g == "" {
			return nil, fmt.Errorf("grant list %q has an empty entry; separate grant names with single commas", truncate(s, 80))
		}
		if err := validateGrant(g); err != nil {
			return nil, err
		}
		if !slices.Contains(out, g) {
			out = append(out, g)
		}
	}
	return out, nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}
