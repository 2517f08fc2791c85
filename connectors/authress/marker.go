package authress

import "strings"

// The ownership marker: two tags the adapter puts on every connection it
// creates or updates. They name the tenant and the connector of that tenant the
// connection belongs to, so a lost record (a crash between the create and the
// record, an emptied store) never leads to a second create, and reconciliation
// can tell bridge-made connections from hand-made ones.
const (
	// TagTenant is the marker tag holding the bridge tenant id.
	TagTenant = markerPrefix + "tenant"
	// TagConnector is the marker tag holding the connector's configured name.
	TagConnector = markerPrefix + "connector"

	markerPrefix = "scim-bridge/"
)

// marker is the owner a connection's tags name.
type marker struct {
	tenant, connector string
}

// markerOf returns the owner named by tags; ok is false without a full marker.
func markerOf(tags map[string]string) (m marker, ok bool) {
	t, c := tags[TagTenant], tags[TagConnector]
	if t == "" || c == "" {
		return marker{}, false
	}
	return marker{tenant: t, connector: c}, true
}

// markerTags returns a fresh map with this connector's marker.
func (c *connector) markerTags() map[string]string {
	return map[string]string{TagTenant: c.tenant, TagConnector: c.name}
}

// ownedBy reports whether tags carry this very connector's marker.
func (c *connector) ownedBy(tags map[string]string) bool {
	m, ok := markerOf(tags)
	return ok && m.tenant == c.tenant && m.connector == c.name
}

// sameIdentity reports whether a connection is the SSO connection the spec
// describes (same protocol, login URL and client), for adopting a connection
// that carries no marker instead of creating a duplicate of it.
func sameIdentity(desired, actual wireConnection) bool {
	return strings.EqualFold(desired.Type, actual.Type) &&
		desired.AuthenticationURL == actual.AuthenticationURL &&
		desired.ClientID == actual.ClientID
}
