package bimplus

import (
	"maps"
	"slices"
	"strings"

	"github.com/scim-bridge/scim-bridge/connectors"
)

var _ connectors.Relevance = (*connector)(nil)

// Relevant reports whether s gets any project role: an inactive or deleted
// user gets none, nor does a user in no group mapped to project roles.
func (c *connector) Relevant(s connectors.Subject) (bool, string) {
	switch {
	case s.User == nil:
		return false, "user deleted: no project roles (memberships the bridge manages are removed)"
	case !s.User.Active:
		return false, "user inactive: no project roles (memberships the bridge manages are removed)"
	}
	if w, _ := c.desired(s.User); len(w) > 0 {
		return true, ""
	}
	mapped := slices.Sorted(maps.Keys(c.groups))
	if len(s.User.Groups) == 0 {
		return false, "user in no group; mapped groups: " + strings.Join(mapped, ", ")
	}
	return false, "user in no mapped group (member of " + strings.Join(s.User.Groups, ", ") + "; mapped groups: " + strings.Join(mapped, ", ") + ")"
}
