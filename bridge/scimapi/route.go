package scimapi

import "strings"

// endpointNames are the canonical spellings of the first path segment under
// /scim/v2. Requests may spell them in any case (RFC 7644 §3.10 makes attribute
// names case-insensitive; clients and validators expect the same of endpoint
// names, e.g. /users); responses always use these spellings.
var endpointNames = [...]string{"Users", "Groups", "ServiceProviderConfig", "Schemas", "ResourceTypes", "Bulk", "Me", ".search"}

// canonicalPath rewrites the endpoint segment of rest (the path below /scim/v2,
// without a trailing slash) and a trailing ".search" to their canonical
// spelling. Resource ids and schema URNs are left as they are.
func canonicalPath(rest string) string {
	if rest == "" || rest[0] != '/' {
		return rest
	}
	seg, tail, hasTail := strings.Cut(rest[1:], "/")
	for _, name := range endpointNames {
		if strings.EqualFold(seg, name) {
			seg = name
			break
		}
	}
	if !hasTail {
		return "/" + seg
	}
	if strings.EqualFold(tail, ".search") {
		tail = ".search"
	}
	return "/" + seg + "/" + tail
}

// routeOf returns the route template of a request path under /scim/v2, for the
// request metrics: ids are replaced by "{id}" and anything unknown is "other",
// so no caller-chosen text becomes a label value.
func routeOf(path string) string {
	rest, ok := strings.CutPrefix(path, "/scim/v2")
	if !ok || (rest != "" && rest[0] != '/') {
		return "other"
	}
	rest = canonicalPath(strings.TrimSuffix(rest, "/"))
	switch rest {
	case "":
		return "/"
	case "/.search", "/Me", "/Bulk", "/ServiceProviderConfig", "/Schemas", "/ResourceTypes", "/Users", "/Groups", "/Users/.search", "/Groups/.search":
		return rest
	}
	for _, prefix := range []string{"/Users/", "/Groups/", "/Schemas/", "/ResourceTypes/"} {
		if id, ok := strings.CutPrefix(rest, prefix); ok && id != "" && !strings.Contains(id, "/") {
			return prefix + "{id}"
		}
	}
	return "other"
}
