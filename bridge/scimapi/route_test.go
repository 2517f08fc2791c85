package scimapi

import "testing"

func TestRouteOf(t *testing.T) {
	t.Parallel()
	for path, want := range map[string]string{
		"/scim/v2":                               "/",
		"/scim/v2/":                              "/",
		"/scim/v2/Users":                         "/Users",
		"/scim/v2/Users/":                        "/Users",
		"/scim/v2/Users/2819c223-7f76-453a-919d": "/Users/{id}",
		"/scim/v2/Groups/g1":                     "/Groups/{id}",
		"/scim/v2/Users/.search":                 "/Users/.search",
		"/scim/v2/.search":                       "/.search",
		"/scim/v2/Schemas":                       "/Schemas",
		"/scim/v2/Schemas/urn:x":                 "/Schemas/{id}",
		"/scim/v2/ResourceTypes/User":            "/ResourceTypes/{id}",
		"/scim/v2/ServiceProviderConfig":         "/ServiceProviderConfig",
		"/scim/v2/Me":                            "/Me",
		"/scim/v2/Bulk":                          "/Bulk",
		"/scim/v2/users":                         "/Users",
		"/scim/v2/GROUPS/g1":                     "/Groups/{id}",
		"/scim/v2/users/.SEARCH":                 "/Users/.search",
		"/scim/v2/serviceproviderconfig":         "/ServiceProviderConfig",
		"/scim/v2/schemas/urn:x":                 "/Schemas/{id}",
		"/scim/v2/bulk":                          "/Bulk",
		"/scim/v2/Users/a/b":                     "other",
		"/scim/v2/Whatever":                      "other",
		"/scim/v2x/Users":                        "other",
		"/scim/Users":                            "other",
	} {
		if got := routeOf(path); got != want {
			t.Errorf("routeOf(%q) = %q, want %q", path, got, want)
		}
	}
}
