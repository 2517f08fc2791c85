package filter

import (
	"slices"
	"testing"
)

func sortedNames(t *testing.T, rs *ResourceSchema, sortBy string, res map[string]map[string]any) []string {
	t.Helper()
	cmp, err := Comparator(rs, sortBy)
	if err != nil {
		t.Fatalf("Comparator(%q): %v", sortBy, err)
	}
	names := make([]string, 0, len(res))
	for n := range res {
		names = append(names, n)
	}
	slices.Sort(names)
	slices.SortStableFunc(names, func(a, b string) int { return cmp(res[a], res[b]) })
	return names
}

func TestComparator(t *testing.T) {
	t.Parallel()
	res := users(t)
	tests := []struct {
		sortBy string
		want   []string
	}{
		{"userName", []string{"alice", "bjensen", "jsmith", "drift"}},
		{"USERNAME", []string{"alice", "bjensen", "jsmith", "drift"}},
		{"externalId", []string{"bjensen", "alice", "drift", "jsmith"}},
		{"emails", []string{"alice", "bjensen", "jsmith", "drift"}},
		{"emails.type", []string{"alice", "bjensen", "jsmith", "drift"}},
		{"name.familyName", []string{"bjensen", "alice", "jsmith", "drift"}},
		{"meta.lastModified", []string{"alice", "bjensen", "jsmith", "drift"}},
		{"meta.created", []string{"bjensen", "alice", "jsmith", "drift"}},
		{"active", []string{"jsmith", "bjensen", "alice", "drift"}},
		{enterpriseURN + ":employeeNumber", []string{"bjensen", "alice", "drift", "jsmith"}},
		{"urn:ietf:params:scim:schemas:core:2.0:User:title", []string{"alice", "bjensen", "drift", "jsmith"}},
	}
	for _, tt := range tests {
		t.Run(tt.sortBy, func(t *testing.T) {
			if got := sortedNames(t, userRS, tt.sortBy, res); !slices.Equal(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}

	widgets := map[string]map[string]any{
		"ten": {"count": float64(10), "weight": 1.5, "expires": "2026-01-01T00:00:00Z"},
		"two": {"count": float64(2), "weight": 1.25, "expires": "2026-01-01T00:30:00+01:00"},
		"odd": {"count": "3", "weight": nil, "expires": "never"},
	}
	for sortBy, want := range map[string][]string{
		"count":   {"two", "ten", "odd"},
		"weight":  {"two", "ten", "odd"},
		"expires": {"two", "ten", "odd"},
	} {
		if got := sortedNames(t, widgetRS, sortBy, widgets); !slices.Equal(got, want) {
			t.Errorf("%s: got %v, want %v", sortBy, got, want)
		}
	}

	for _, bad := range []string{"", "foo", "name", "password", enterpriseURN, "emails[type eq \"work\"]", "name.foo"} {
		if _, err := Comparator(userRS, bad); scimType(err) != ScimTypeInvalidPath {
			t.Errorf("Comparator(%q): %v, want invalidPath", bad, err)
		}
	}
}
