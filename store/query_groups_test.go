package store

import (
	"context"
	"reflect"
	"testing"

	"github.com/elimity-com/scim/schema"

	"github.com/scim-bridge/scim-bridge/filter"
)

// Query.WithGroups gives each user's groups as GroupsOf does, on every plan.
func TestQueryWithGroups(t *testing.T) {
	t.Parallel()
	rs := filter.NewResourceSchema(schema.CoreUserSchema(), schema.ExtensionEnterpriseUser())
	backends(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		ids := resUsers(t, s, "acme", 3)
		resCreate(t, s, "acme", resGroup("gb", "beta", ids[0], ids[1]))
		resCreate(t, s, "acme", resGroup("ga", "Alpha", ids[0]))
		want, err := s.GroupsOf(ctx, "acme", ids)
		if err != nil {
			t.Fatal(err)
		}
		for _, expr := range []string{"", `userName eq "` + ids[0] + `"`, `userName eq "` + ids[2] + `"`, `externalId eq "nope"`, `userName sw "u"`} {
			q := Query{Count: 10, WithGroups: true}
			if expr != "" {
				f, err := filter.Compile(rs, expr)
				if err != nil {
					t.Fatal(err)
				}
				q.Filter = f
			}
			p, err := s.Query(ctx, "acme", KindUser, q)
			if err != nil {
				t.Fatalf("%s: %v", expr, err)
			}
			for _, r := range p.Resources {
				if got := p.Groups[r.ID]; !reflect.DeepEqual(got, want[r.ID]) {
					t.Fatalf("%q: groups of %s = %+v, want %+v", expr, r.ID, got, want[r.ID])
				}
			}
		}
	})
}
