package store

import (
	"context"
	"slices"
	"testing"

	"github.com/elimity-com/scim/schema"

	"github.com/scim-bridge/scim-bridge/filter"
)

// TestQueryAfter: every page of a keyset scan continues where the last one
// stopped, for every plan (no filter, an index plan, a scan), and agrees with
// the brute-force answer; More is false on the last page only.
func TestQueryAfter(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, s *Store) {
		resQueryFixture(t, s)
		ctx := context.Background()
		users := filter.NewResourceSchema(schema.CoreUserSchema())
		groups := filter.NewResourceSchema(schema.CoreGroupSchema())
		cases := []struct {
			kind Kind
			f    *filter.Filter
		}{
			{KindUser, nil},
			{KindUser, resCompile(t, users, `title eq "Engineer" or userName eq "Erin"`)}, // index plan
			{KindUser, resCompile(t, users, `active eq true`)},                            // scan
			{KindUser, resCompile(t, users, `groups.value eq "g2"`)},                      // derived groups
			{KindGroup, resCompile(t, groups, `members.value eq "u02"`)},
			{KindGroup, nil},
		}
		for _, c := range cases {
			var want []string
			if c.f == nil {
				want = resBruteForce(t, s, c.kind, resCompile(t, map[Kind]*filter.ResourceSchema{KindUser: users, KindGroup: groups}[c.kind], `id pr`))
			} else {
				want = resBruteForce(t, s, c.kind, c.f)
			}
			for _, size := range []int{1, 2, 100} {
				var got []string
				after := int64(0)
				for page := 0; page < 20; page++ {
					p, err := s.QueryAfter(ctx, "acme", c.kind, c.f, after, size)
					if err != nil {
						t.Fatal(err)
					}
					if len(p.Resources) != len(p.Seqs) || len(p.Resources) > size {
						t.Fatalf("page of %d resources, %d seqs, size %d", len(p.Resources), len(p.Seqs), size)
					}
					got = append(got, resIDs(p.Resources)...)
					for i := 1; i < len(p.Seqs); i++ {
						if p.Seqs[i] <= p.Seqs[i-1] {
							t.Fatalf("seqs not increasing: %v", p.Seqs)
						}
					}
					if !p.More {
						break
					}
					after = p.Seqs[len(p.Seqs)-1]
				}
				if !slices.Equal(got, want) {
					t.Errorf("%s %v size %d: %v, want %v", c.kind, c.f, size, got, want)
				}
			}
		}
		// Groups come with their members.
		p, err := s.QueryAfter(ctx, "acme", KindGroup, nil, 0, 10)
		if err != nil {
			t.Fatal(err)
		}
		if ms, _ := p.Resources[0].Attrs["members"].([]any); len(ms) != 2 {
			t.Errorf("group g1 members %v", p.Resources[0].Attrs["members"])
		}
		// A deleted resource's position still works as a starting point.
		first, _ := s.QueryAfter(ctx, "acme", KindUser, nil, 0, 2)
		if err := s.Delete(ctx, "acme", KindUser, first.Resources[1].ID, 0); err != nil {
			t.Fatal(err)
		}
		rest, _ := s.QueryAfter(ctx, "acme", KindUser, nil, first.Seqs[1], 10)
		if ids := resIDs(rest.Resources); !slices.Equal(ids, []string{"u03", "u04", "u05"}) {
			t.Errorf("after a deleted position: %v", ids)
		}
		if p, _ := s.QueryAfter(ctx, "acme", KindUser, nil, 0, 0); len(p.Resources) != 0 || p.More {
			t.Errorf("count 0: %+v", p)
		}
	})
}
