package store

import "strconv"

// MetaTimeFormat is the layout of meta.created and meta.lastModified in a
// resource view: RFC 3339 in UTC with millisecond precision (RFC 7643 §3.1
// requires xsd:dateTime).
const MetaTimeFormat = "2006-01-02T15:04:05.000Z07:00"

// ETag returns the weak entity tag of a version, W/"<version>" (RFC 7644 §3.14),
// which is also meta.version.
func ETag(version int64) string {
	return `W/"` + strconv.FormatInt(version, 10) + `"`
}

// View returns the resource as filters, sorting and responses see it: the
// attributes plus "id" and "meta" (resourceType, created, lastModified, version;
// RFC 7643 §3.1). It holds no "schemas", no meta.location and, for a user, no
// derived "groups" (see GroupsOf); callers add those. The map is new but shares
// nested attribute values with r.Attrs: do not mutate them.
func (r *Resource) View() map[string]any {
	v := make(map[string]any, len(r.Attrs)+2)
	for k, x := range r.Attrs {
		v[k] = x
	}
	v["id"] = r.ID
	v["meta"] = map[string]any{
		"resourceType": string(r.Kind),
		"created":      r.Created.UTC().Format(MetaTimeFormat),
		"lastModified": r.LastModified.UTC().Format(MetaTimeFormat),
		"version":      ETag(r.Version),
	}
	return v
}

// groupsView renders GroupRefs as a user's "groups" attribute (RFC 7643 §4.1.2):
// value, display and type "direct".
func groupsView(refs []GroupRef) []any {
	out := make([]any, len(refs))
	for i, g := range refs {
		out[i] = map[string]any{"value": g.ID, "display": g.DisplayName, "type": "direct"}
	}
	return out
}
