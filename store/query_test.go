package store

import (
	"cmp"
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/elimity-com/scim/schema"

	"github.com/scim-bridge/scim-bridge/filter"
)

// resQueryFixture stores users and groups shaped to hit every Query path.
//
//	id   userName  externalId  emails                          title      active  groups
//	u01  alice     E1          alice@example.com, shared@…     Engineer   true    ops
//	u02  Bob       E2          bob@example.com                  Manager    true    ops, dev
//	u03  carol     E3          SHARED@example.com               —          false   —
//	u04  dave      —           —                                Engineer   true    dev
//	u05  Erin      E5          erin@example.com                 Designer   false   —
func resQueryFixture(t *testing.T, s *Store) {
	t.Helper()
	users := []*Resource{
		resUser("u01", "alice", map[string]any{"externalId": "E1", "title": "Engineer", "displayName": "Alice A",
			"emails": resEmails("alice@example.com", "shared@example.com")}),
		resUser("u02", "Bob", map[string]any{"externalId": "E2", "title": "Manager", "emails": resEmails("bob@example.com")}),
		resUser("u03", "carol", map[string]any{"externalId": "E3", "active": false, "emails": resEmails("SHARED@example.com")}),
		resUser("u04", "dave", map[string]any{"title": "Engineer"}),
		resUser("u05", "Erin", map[string]any{"externalId": "E5", "title": "Designer", "active": false,
			"emails": resEmails("erin@example.com")}),
	}
	for _, u := range users {
		resCreate(t, s, "acme", u)
	}
	ops := resGroup("g1", "Ops", "u01", "u02")
	ops.Attrs["externalId"] = "GE"
	dev := resGroup("g2", "Dev", "u02", "u04")
	dev.Attrs["externalId"] = "GE"
	resCreate(t, s, "acme", ops)
	resCreate(t, s, "acme", dev)
	resCreate(t, s, "acme", resGroup("g3", "Empty"))
}

func resCompile(t *testing.T, rs *filter.ResourceSchema, expr string) *filter.Filter {
	t.Helper()
	f, err := filter.Compile(rs, expr)
	if err != nil {
		t.Fatalf("compile %q: %v", expr, err)
	}
	return f
}

func resIDs(rs []*Resource) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.ID
	}
	return out
}

// resBruteForce answers a filter by matching every resource's view, the
// reference Query's index plans must agree with.
func resBruteForce(t *testing.T, s *Store, kind Kind, f *filter.Filter) []string {
	t.Helper()
	ctx := context.Background()
	var out []string
	err := s.ForEach(ctx, "acme", kind, 2, func(rs []*Resource) error {
		groups, err := s.GroupsOf(ctx, "acme", resIDs(rs))
		if err != nil {
			return err
		}
		for _, r := range rs {
			v := r.View()
			if kind == KindUser && len(groups[r.ID]) > 0 {
				v["groups"] = groupsView(groups[r.ID])
			}
			if f.Match(v) {
				out = append(out, r.ID)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestQueryFilters(t *testing.T) {
	t.Parallel()
	userRS := filter.NewResourceSchema(schema.CoreUserSchema(), schema.ExtensionEnterpriseUser())
	groupRS := filter.NewResourceSchema(schema.CoreGroupSchema())
	cases := []struct {
		name string
		kind Kind
		expr string
		want []string
	}{
		{"userName lookup ignores case", KindUser, `userName eq "ALICE"`, []string{"u01"}},
		{"userName lookup miss", KindUser, `userName eq "zoe"`, nil},
		{"or of lookups keeps creation order", KindUser, `userName eq "erin" or userName eq "bob"`, []string{"u02", "u05"}},
		{"email lookup, shared", KindUser, `emails.value eq "Shared@Example.com"`, []string{"u01", "u03"}},
		{"email value path", KindUser, `emails[value eq "bob@example.com"]`, []string{"u02"}},
		{"externalId is case-exact", KindUser, `externalId eq "E3"`, []string{"u03"}},
		{"externalId other case", KindUser, `externalId eq "e3"`, nil},
		{"id lookup", KindUser, `id eq "u04"`, []string{"u04"}},
		{"id lookup of a missing id", KindUser, `id eq "nope"`, nil},
		{"id in a scan", KindUser, `id ew "4" or id eq "u02"`, []string{"u02", "u04"}},
		{"id and an attribute", KindUser, `userName eq "dave" and id eq "u04"`, []string{"u04"}},
		{"id and an attribute that differs", KindUser, `userName eq "dave" and id eq "u01"`, nil},
		{"lookup with residual", KindUser, `emails.value eq "shared@example.com" and active eq true`, []string{"u01"}},
		{"mixed or needs a scan", KindUser, `userName eq "alice" or title eq "Designer"`, []string{"u01", "u05"}},
		{"scan: contains", KindUser, `title co "gineer"`, []string{"u01", "u04"}},
		{"scan: boolean", KindUser, `active eq false`, []string{"u03", "u05"}},
		{"scan: not present", KindUser, `not (title pr)`, []string{"u03"}},
		{"user displayName has no index", KindUser, `displayName eq "alice a"`, []string{"u01"}},
		{"derived groups", KindUser, `groups.display eq "Dev"`, []string{"u02", "u04"}},
		{"meta is matchable", KindUser, `meta.resourceType eq "User" and userName sw "c"`, []string{"u03"}},
		{"group displayName lookup", KindGroup, `displayName eq "OPS"`, []string{"g1"}},
		{"group externalId is not unique", KindGroup, `externalId eq "GE"`, []string{"g1", "g2"}},
		{"group members lookup", KindGroup, `members.value eq "u02"`, []string{"g1", "g2"}},
		{"group members lookup and residual", KindGroup, `members.value eq "u02" and displayName eq "dev"`, []string{"g2"}},
		{"group scan", KindGroup, `displayName sw "e"`, []string{"g3"}},
	}
	backends(t, func(t *testing.T, s *Store) {
		resQueryFixture(t, s)
		ctx := context.Background()
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				rs := userRS
				if c.kind == KindGroup {
					rs = groupRS
				}
				f := resCompile(t, rs, c.expr)
				p, err := s.Query(ctx, "acme", c.kind, Query{Filter: f, StartIndex: 1, Count: 100})
				if err != nil {
					t.Fatal(err)
				}
				if got := resIDs(p.Resources); !slices.Equal(got, c.want) || p.Total != len(c.want) {
					t.Fatalf("got %v (total %d), want %v", got, p.Total, c.want)
				}
				for _, r := range p.Resources {
					if _, ok := r.Attrs["id"]; ok {
						t.Fatalf("%s: attributes hold an id", r.ID)
					}
				}
				if ref := resBruteForce(t, s, c.kind, f); !slices.Equal(ref, c.want) {
					t.Fatalf("brute force gives %v, want %v", ref, c.want)
				}
				// count 0: only the total
				p, err = s.Query(ctx, "acme", c.kind, Query{Filter: f, StartIndex: 1})
				if err != nil {
					t.Fatal(err)
				}
				if p.Total != len(c.want) || len(p.Resources) != 0 {
					t.Fatalf("count 0: total %d, %d resources", p.Total, len(p.Resources))
				}
			})
		}
	})
}

func TestQueryFilterPagingAndSort(t *testing.T) {
	t.Parallel()
	userRS := filter.NewResourceSchema(schema.CoreUserSchema(), schema.ExtensionEnterpriseUser())
	byTitle, err := filter.Comparator(userRS, "title")
	if err != nil {
		t.Fatal(err)
	}
	byUserName, err := filter.Comparator(userRS, "userName")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name         string
		expr         string
		sortBy       func(a, b map[string]any) int
		desc         bool
		start, count int
		want         []string
		total        int
	}{
		{"lookup page", `userName eq "alice" or userName eq "bob" or userName eq "carol"`, nil, false, 2, 1, []string{"u02"}, 3},
		{"scan page", `userName pr`, nil, false, 2, 2, []string{"u02", "u03"}, 5},
		{"scan past the end", `userName pr`, nil, false, 9, 2, nil, 5},
		{"sorted by userName", `userName pr`, byUserName, false, 1, 10, []string{"u01", "u02", "u03", "u04", "u05"}, 5},
		{"sorted descending", `userName pr`, byUserName, true, 1, 3, []string{"u05", "u04", "u03"}, 5},
		{"sorted, ties keep creation order, missing last", `userName pr`, byTitle, false, 1, 10,
			[]string{"u05", "u01", "u04", "u02", "u03"}, 5},
		{"descending puts missing first", `userName pr`, byTitle, true, 1, 10,
			[]string{"u03", "u02", "u01", "u04", "u05"}, 5},
		{"sorted lookup page", `emails.value eq "shared@example.com" or userName eq "bob"`, byUserName, true, 2, 5,
			[]string{"u02", "u01"}, 3},
	}
	backends(t, func(t *testing.T, s *Store) {
		resQueryFixture(t, s)
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				p, err := s.Query(context.Background(), "acme", KindUser, Query{
					Filter: resCompile(t, userRS, c.expr), SortBy: c.sortBy, Descending: c.desc,
					StartIndex: c.start, Count: c.count,
				})
				if err != nil {
					t.Fatal(err)
				}
				if got := resIDs(p.Resources); !slices.Equal(got, c.want) || p.Total != c.total {
					t.Fatalf("got %v (total %d), want %v (total %d)", got, p.Total, c.want, c.total)
				}
			})
		}
	})
}

// resByTitle orders views by title, case-insensitively, missing last — the
// contract of filter.Comparator, written out so sorting is tested on its own.
func resByTitle(a, b map[string]any) int {
	ta, okA := a["title"].(string)
	tb, okB := b["title"].(string)
	switch {
	case !okA && !okB:
		return 0
	case !okA:
		return 1
	case !okB:
		return -1
	}
	return cmp.Compare(strings.ToLower(ta), strings.ToLower(tb))
}

func TestQuerySortWithoutFilter(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name         string
		desc         bool
		start, count int
		want         []string
	}{
		{"ascending, ties in creation order, missing last", false, 1, 10, []string{"u05", "u01", "u04", "u02", "u03"}},
		{"descending, missing first (RFC 7644 §3.4.2.3)", true, 1, 10, []string{"u03", "u02", "u01", "u04", "u05"}},
		{"descending page", true, 2, 2, []string{"u02", "u01"}},
		{"count 0", false, 1, 0, nil},
		{"past the end", false, 6, 3, nil},
	}
	backends(t, func(t *testing.T, s *Store) {
		resQueryFixture(t, s)
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				p, err := s.Query(context.Background(), "acme", KindUser,
					Query{SortBy: resByTitle, Descending: c.desc, StartIndex: c.start, Count: c.count})
				if err != nil {
					t.Fatal(err)
				}
				if got := resIDs(p.Resources); !slices.Equal(got, c.want) || p.Total != 5 {
					t.Fatalf("got %v (total %d), want %v (total 5)", got, p.Total, c.want)
				}
			})
		}
		p, err := s.Query(context.Background(), "acme", KindGroup, Query{StartIndex: 2, Count: 5})
		if err != nil {
			t.Fatal(err)
		}
		if got := resIDs(p.Resources); !slices.Equal(got, []string{"g2", "g3"}) || p.Total != 3 {
			t.Fatalf("groups page = %v (total %d)", got, p.Total)
		}
	})
}

// TestQueryUsesIndexes hides resources from scans (out of the creation order)
// and checks that lookups still find them: proof that they do not scan.
func TestQueryUsesIndexes(t *testing.T) {
	t.Parallel()
	userRS := filter.NewResourceSchema(schema.CoreUserSchema(), schema.ExtensionEnterpriseUser())
	groupRS := filter.NewResourceSchema(schema.CoreGroupSchema())
	backends(t, func(t *testing.T, s *Store) {
		resQueryFixture(t, s)
		ctx := context.Background()
		if err := s.rdb.ZRem(ctx, orderKey("acme", KindUser), "u02", "u03").Err(); err != nil {
			t.Fatal(err)
		}
		if err := s.rdb.ZRem(ctx, orderKey("acme", KindGroup), "g2").Err(); err != nil {
			t.Fatal(err)
		}
		cases := []struct {
			kind Kind
			rs   *filter.ResourceSchema
			expr string
			want []string
		}{
			{KindUser, userRS, `userName eq "carol"`, []string{"u03"}},
			{KindUser, userRS, `externalId eq "E2"`, []string{"u02"}},
			{KindUser, userRS, `emails.value eq "shared@example.com"`, []string{"u01", "u03"}},
			{KindUser, userRS, `id eq "u02"`, []string{"u02"}},
			{KindGroup, groupRS, `displayName eq "dev"`, []string{"g2"}},
			{KindGroup, groupRS, `externalId eq "GE"`, []string{"g1", "g2"}},
			{KindGroup, groupRS, `members.value eq "u04"`, []string{"g2"}},
			{KindUser, userRS, `title eq "Manager"`, nil}, // a scan misses the hidden u02
		}
		for _, c := range cases {
			p, err := s.Query(ctx, "acme", c.kind, Query{Filter: resCompile(t, c.rs, c.expr), Count: 10})
			if err != nil {
				t.Fatal(err)
			}
			if got := resIDs(p.Resources); !slices.Equal(got, c.want) {
				t.Errorf("%s: got %v, want %v", c.expr, got, c.want)
			}
		}
	})
}
