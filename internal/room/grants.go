package room

import "github.com/minirtc/minirtc/pkg/protocol"

// Grants is the set of things a participant may do, from its token.
type Grants uint8

// The grants. Names match the token's "grants" claim.
const (
	GrantPublish   Grants = 1 << iota // publish, unpublish, mute own streams
	GrantSubscribe                    // subscribe, unsubscribe
	GrantData                         // set/delete attributes, send messages
	GrantAdmin                        // kick, close the room
)

var grantNames = []struct {
	g    Grants
	name string
}{
	{GrantPublish, "publish"},
	{GrantSubscribe, "subscribe"},
	{GrantData, "data"},
	{GrantAdmin, "admin"},
}

// GrantsFromNames converts grant names to a set; unknown names are reported.
func GrantsFromNames(names []string) (Grants, []string) {
	var g Grants
	var unknown []string
	for _, n := range names {
		found := false
		for _, gn := range grantNames {
			if gn.name == n {
				g |= gn.g
				found = true
				break
			}
		}
		if !found {
			unknown = append(unknown, n)
		}
	}
	return g, unknown
}

// Names lists the grants in the set, in a fixed order.
func (g Grants) Names() []string {
	out := []string{}
	for _, gn := range grantNames {
		if g&gn.g != 0 {
			out = append(out, gn.name)
		}
	}
	return out
}

// Has reports whether every grant of want is in g.
func (g Grants) Has(want Grants) bool { return g&want == want }

// require returns a permission error naming the missing grant.
func (g Grants) require(want Grants, op string) *protocol.Error {
	if g.Has(want) {
		return nil
	}
	return protocol.Errorf(protocol.CodePermission, "%s needs the %q grant, which the token does not have", op, want.Names()[0])
}
