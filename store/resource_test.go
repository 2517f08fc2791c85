package store

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/elimity-com/scim/schema"
	"github.com/redis/go-redis/v9"

	"github.com/scim-bridge/scim-bridge/filter"
	"github.com/scim-bridge/scim-bridge/internal/fakeclock"
)

// resWithClock replaces the store's clock; call before the store is shared.
func resWithClock(s *Store, start time.Time) *fakeclock.Clock {
	c := fakeclock.New(start)
	s.now = c.Now
	return c
}

var resT0 = time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.UTC)

func resUser(id, userName string, attrs map[string]any) *Resource {
	a := map[string]any{"userName": userName, "active": true}
	for k, v := range attrs {
		a[k] = v
	}
	return &Resource{ID: id, Kind: KindUser, Created: resT0, LastModified: resT0, Attrs: a}
}

func resGroup(id, displayName string, memberIDs ...string) *Resource {
	a := map[string]any{"displayName": displayName}
	if memberIDs != nil {
		a["members"] = resMembers(memberIDs...)
	}
	return &Resource{ID: id, Kind: KindGroup, Created: resT0, LastModified: resT0, Attrs: a}
}

func resMembers(ids ...string) []any {
	out := make([]any, len(ids))
	for i, id := range ids {
		out[i] = map[string]any{"value": id, "display": "name of " + id, "type": "User"}
	}
	return out
}

func resEmails(vs ...string) []any {
	out := make([]any, len(vs))
	for i, v := range vs {
		out[i] = map[string]any{"value": v, "type": "work"}
	}
	return out
}

func resCreate(t testing.TB, s *Store, tenant string, r *Resource) {
	t.Helper()
	if err := s.Create(context.Background(), tenant, r); err != nil {
		t.Fatalf("create %s %s: %v", r.Kind, r.ID, err)
	}
}

func resGet(t *testing.T, s *Store, tenant string, kind Kind, id string) *Resource {
	t.Helper()
	r, err := s.Get(context.Background(), tenant, kind, id)
	if err != nil {
		t.Fatalf("get %s %s: %v", kind, id, err)
	}
	return r
}

// resMemberIDs returns the member values of a stored group, sorted.
func resMemberIDs(t *testing.T, r *Resource) []string {
	t.Helper()
	var out []string
	for _, m := range complexValues(r.Attrs["members"]) {
		out = append(out, m["value"].(string))
	}
	sort.Strings(out)
	return out
}

// resQueueScore returns the queue score of "<kind>|<id>" in tenant.
func resQueueScore(t *testing.T, s *Store, tenant string, kind Kind, id string) (float64, bool) {
	t.Helper()
	sc, err := s.rdb.ZScore(context.Background(), queueKey(tenant), queueMember(string(kind), id)).Result()
	if err != nil {
		return 0, false
	}
	return sc, true
}

// resQueued returns the sorted members of the tenant queue.
func resQueued(t *testing.T, s *Store, tenant string) []string {
	t.Helper()
	ms, err := s.rdb.ZRange(context.Background(), queueKey(tenant), 0, -1).Result()
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(ms)
	return ms
}

func resClearQueue(t *testing.T, s *Store, tenant string) {
	t.Helper()
	if err := s.rdb.Del(context.Background(), queueKey(tenant)).Err(); err != nil {
		t.Fatal(err)
	}
}

// resSnapshot renders every key of a tenant with its content, to prove that a
// failed write changed nothing.
func resSnapshot(t *testing.T, s *Store, tenant string) map[string]string {
	t.Helper()
	ctx := context.Background()
	keys, err := s.rdb.Keys(ctx, key(tenant)+":*").Result()
	if err != nil {
		t.Fatal(err)
	}
	out := make(map[string]string, len(keys))
	for _, k := range keys {
		typ, err := s.rdb.Type(ctx, k).Result()
		if err != nil {
			t.Fatal(err)
		}
		var v any
		switch typ {
		case "string":
			v, err = s.rdb.Get(ctx, k).Result()
		case "hash":
			v, err = s.rdb.HGetAll(ctx, k).Result()
		case "set":
			var m []string
			m, err = s.rdb.SMembers(ctx, k).Result()
			sort.Strings(m)
			v = m
		case "zset":
			v, err = s.rdb.ZRangeWithScores(ctx, k, 0, -1).Result()
		default:
			t.Fatalf("unexpected type %s of %s", typ, k)
		}
		if err != nil {
			t.Fatal(err)
		}
		out[k] = fmt.Sprint(v)
	}
	return out
}

func TestResourceRoundTrip(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		u := resUser("u1", "Alice@Example.com", map[string]any{
			"externalId": "ext-1",
			"name":       map[string]any{"givenName": "Alice", "familyName": "Liddell"},
			"emails":     resEmails("Alice@Example.com", "alice@home.example"),
			"score":      42.5,
			"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": map[string]any{"employeeNumber": "7"},
		})
		resCreate(t, s, "acme", u)
		if u.Version != 1 {
			t.Fatalf("version after create = %d, want 1", u.Version)
		}
		got := resGet(t, s, "acme", KindUser, "u1")
		if got.ID != "u1" || got.Kind != KindUser || got.Version != 1 {
			t.Fatalf("got %+v", got)
		}
		if !got.Created.Equal(resT0) || !got.LastModified.Equal(resT0) {
			t.Fatalf("times = %v / %v, want %v", got.Created, got.LastModified, resT0)
		}
		if !reflect.DeepEqual(got.Attrs, u.Attrs) {
			t.Fatalf("attrs = %#v\nwant %#v", got.Attrs, u.Attrs)
		}

		g := resGroup("g1", "Design Team", "u1")
		g.Attrs["externalId"] = "G-EXT"
		resCreate(t, s, "acme", g)
		gotG := resGet(t, s, "acme", KindGroup, "g1")
		// A member's display is read with the group: u1's userName, not the
		// "name of u1" it was written with.
		g.Attrs["members"] = []any{map[string]any{"value": "u1", "display": "Alice@Example.com", "type": "User"}}
		if !reflect.DeepEqual(gotG.Attrs, g.Attrs) {
			t.Fatalf("group attrs = %#v\nwant %#v", gotG.Attrs, g.Attrs)
		}

		// Replace keeps Created, bumps the version, updates r in place.
		later := resT0.Add(time.Hour)
		u2 := resUser("u1", "alice@example.com", map[string]any{"displayName": "Alice L."})
		u2.Created = time.Time{}
		u2.LastModified = later
		if err := s.Replace(ctx, "acme", u2, 0); err != nil {
			t.Fatal(err)
		}
		if u2.Version != 2 || !u2.Created.Equal(resT0) {
			t.Fatalf("after replace: version %d created %v", u2.Version, u2.Created)
		}
		got = resGet(t, s, "acme", KindUser, "u1")
		if got.Version != 2 || !got.Created.Equal(resT0) || !got.LastModified.Equal(later) {
			t.Fatalf("after replace got %+v", got)
		}
		if !reflect.DeepEqual(got.Attrs, u2.Attrs) {
			t.Fatalf("attrs after replace = %#v", got.Attrs)
		}

		// A group without members, then with an empty list: both kept as given.
		g2 := resGroup("g2", "Empty")
		resCreate(t, s, "acme", g2)
		if _, ok := resGet(t, s, "acme", KindGroup, "g2").Attrs["members"]; ok {
			t.Fatal("members appeared on a group created without them")
		}
		g2.Attrs["members"] = []any{}
		if err := s.Replace(ctx, "acme", g2, 0); err != nil {
			t.Fatal(err)
		}
		if m, ok := resGet(t, s, "acme", KindGroup, "g2").Attrs["members"].([]any); !ok || len(m) != 0 {
			t.Fatalf("members = %#v, want []", m)
		}

		// GetMany keeps order and skips missing ids.
		many, err := s.GetMany(ctx, "acme", KindUser, []string{"nope", "u1", "u1"})
		if err != nil {
			t.Fatal(err)
		}
		if len(many) != 2 || many[0].ID != "u1" || many[1].ID != "u1" {
			t.Fatalf("GetMany = %v", many)
		}

		if err := s.Delete(ctx, "acme", KindUser, "u1", 0); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Get(ctx, "acme", KindUser, "u1"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("get after delete: %v", err)
		}
		if n, _ := s.Count(ctx, "acme", KindUser); n != 0 {
			t.Fatalf("count after delete = %d", n)
		}
	})
}

func TestResourceUserGroupsAttrNeverStored(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, s *Store) {
		u := resUser("u1", "a", map[string]any{"groups": []any{map[string]any{"value": "g"}}})
		resCreate(t, s, "acme", u)
		if _, ok := resGet(t, s, "acme", KindUser, "u1").Attrs["groups"]; ok {
			t.Fatal("derived groups attribute was stored")
		}
		if _, ok := u.Attrs["groups"]; !ok {
			t.Fatal("caller's attributes were modified")
		}
	})
}

func TestResourceNotFound(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		resCreate(t, s, "acme", resUser("u1", "a", nil))
		cases := []struct {
			name string
			err  error
		}{
			{"get missing", func() error { _, err := s.Get(ctx, "acme", KindUser, "nope"); return err }()},
			{"get other kind", func() error { _, err := s.Get(ctx, "acme", KindGroup, "u1"); return err }()},
			{"replace missing", s.Replace(ctx, "acme", resUser("nope", "b", nil), 0)},
			{"replace missing with version", s.Replace(ctx, "acme", resUser("nope", "b", nil), 3)},
			{"delete missing", s.Delete(ctx, "acme", KindUser, "nope", 0)},
			{"delete other kind", s.Delete(ctx, "acme", KindGroup, "u1", 0)},
		}
		for _, c := range cases {
			if !errors.Is(c.err, ErrNotFound) {
				t.Errorf("%s: err = %v, want ErrNotFound", c.name, c.err)
			}
		}
		if _, err := s.Get(ctx, "ac{me", KindUser, "u1"); err == nil || errors.Is(err, ErrNotFound) {
			t.Errorf("tenant with a brace: err = %v, want a validation error", err)
		}
		if err := s.Create(ctx, "acme", &Resource{Kind: KindUser, Attrs: map[string]any{}}); err == nil {
			t.Error("create with empty id succeeded")
		}
		if err := s.Create(ctx, "acme", &Resource{ID: "x", Kind: "Device"}); err == nil {
			t.Error("create of unknown kind succeeded")
		}
		if err := s.Create(ctx, "acme", resUser("a\x00b", "nul", nil)); err == nil {
			t.Error("create with a NUL in the id succeeded")
		}
		if _, err := s.Get(ctx, "acme", KindUser, "a\x00b"); !errors.Is(err, ErrNotFound) {
			t.Errorf("get with a NUL in the id: %v, want ErrNotFound", err)
		}
	})
}

func TestResourceUniqueness(t *testing.T) {
	t.Parallel()
	type step struct {
		replace bool
		r       *Resource
	}
	cases := []struct {
		name  string
		setup []*Resource
		try   step
		attr  string // "" = must succeed
	}{
		{"userName differs only in case", []*Resource{resUser("u1", "Alice", nil)},
			step{r: resUser("u2", "aLiCe", nil)}, "userName"},
		{"same id", []*Resource{resUser("u1", "Alice", nil)},
			step{r: resUser("u1", "Bob", nil)}, "id"},
		{"user externalId is not unique (RFC 7643 §3.1)", []*Resource{resUser("u1", "a", map[string]any{"externalId": "X1"})},
			step{r: resUser("u2", "b", map[string]any{"externalId": "X1"})}, ""},
		{"externalId is case-exact", []*Resource{resUser("u1", "a", map[string]any{"externalId": "X1"})},
			step{r: resUser("u2", "b", map[string]any{"externalId": "x1"})}, ""},
		{"group displayName", []*Resource{resGroup("g1", "Design Team")},
			step{r: resGroup("g2", "DESIGN TEAM")}, "displayName"},
		{"group externalId is not unique",
			[]*Resource{{ID: "g1", Kind: KindGroup, Attrs: map[string]any{"displayName": "A", "externalId": "E"}}},
			step{r: &Resource{ID: "g2", Kind: KindGroup, Attrs: map[string]any{"displayName": "B", "externalId": "E"}}}, ""},
		{"user and group namespaces are apart", []*Resource{resUser("x", "Design Team", nil)},
			step{r: resGroup("x", "Design Team")}, ""},
		{"replace to a taken userName", []*Resource{resUser("u1", "Alice", nil), resUser("u2", "Bob", nil)},
			step{replace: true, r: resUser("u2", "ALICE", nil)}, "userName"},
		{"replace to another user's externalId",
			[]*Resource{resUser("u1", "a", map[string]any{"externalId": "E1"}), resUser("u2", "b", nil)},
			step{replace: true, r: resUser("u2", "b", map[string]any{"externalId": "E1"})}, ""},
		{"replace to a taken displayName", []*Resource{resGroup("g1", "A"), resGroup("g2", "B")},
			step{replace: true, r: resGroup("g2", "a")}, "displayName"},
		{"replace keeping its own userName in another case", []*Resource{resUser("u1", "Alice", nil)},
			step{replace: true, r: resUser("u1", "ALICE", nil)}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			backends(t, func(t *testing.T, s *Store) {
				ctx := context.Background()
				for _, r := range c.setup {
					resCreate(t, s, "acme", r)
				}
				before := resSnapshot(t, s, "acme")
				var err error
				if c.try.replace {
					err = s.Replace(ctx, "acme", c.try.r, 0)
				} else {
					err = s.Create(ctx, "acme", c.try.r)
				}
				if c.attr == "" {
					if err != nil {
						t.Fatalf("err = %v, want success", err)
					}
					return
				}
				var ce *ConflictError
				if !errors.As(err, &ce) || ce.Attr != c.attr || !errors.Is(err, ErrConflict) {
					t.Fatalf("err = %v, want conflict on %s", err, c.attr)
				}
				if after := resSnapshot(t, s, "acme"); !reflect.DeepEqual(before, after) {
					t.Fatalf("a failed write changed the store:\nbefore %v\nafter  %v", before, after)
				}
			})
		})
	}
}

func TestResourceConcurrentUniqueness(t *testing.T) {
	t.Parallel()
	const racers = 50
	cases := []struct {
		name string
		attr string
		make func(i int) *Resource
	}{
		{"userName", "userName", func(i int) *Resource {
			name := "racer@example.com"
			if i%2 == 1 {
				name = "RACER@example.com"
			}
			return resUser(fmt.Sprintf("u%d", i), name, nil)
		}},
		{"displayName", "displayName", func(i int) *Resource {
			return resGroup(fmt.Sprintf("g%d", i), []string{"Ops", "OPS", "ops"}[i%3])
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			backends(t, func(t *testing.T, s *Store) {
				ctx := context.Background()
				var wg sync.WaitGroup
				errs := make([]error, racers)
				start := make(chan struct{})
				for i := range racers {
					wg.Go(func() {
						<-start
						errs[i] = s.Create(ctx, "acme", c.make(i))
					})
				}
				close(start)
				wg.Wait()
				wins := 0
				for i, err := range errs {
					var ce *ConflictError
					switch {
					case err == nil:
						wins++
					case errors.As(err, &ce) && ce.Attr == c.attr:
					default:
						t.Errorf("racer %d: %v", i, err)
					}
				}
				if wins != 1 {
					t.Fatalf("%d creates won, want exactly 1", wins)
				}
				kind := KindUser
				if c.attr == "displayName" {
					kind = KindGroup
				}
				if n, err := s.Count(ctx, "acme", kind); err != nil || n != 1 {
					t.Fatalf("count = %d, %v; want 1", n, err)
				}
				if q := resQueued(t, s, "acme"); len(q) != 1 {
					t.Fatalf("queue = %v, want one mark", q)
				}
			})
		})
	}
}

func TestResourceVersionPrecondition(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		resCreate(t, s, "acme", resUser("u1", "a", nil))
		before := resSnapshot(t, s, "acme")
		if err := s.Replace(ctx, "acme", resUser("u1", "b", nil), 2); !errors.Is(err, ErrPrecondition) {
			t.Fatalf("replace with stale version: %v", err)
		}
		if err := s.Delete(ctx, "acme", KindUser, "u1", 5); !errors.Is(err, ErrPrecondition) {
			t.Fatalf("delete with stale version: %v", err)
		}
		if after := resSnapshot(t, s, "acme"); !reflect.DeepEqual(before, after) {
			t.Fatal("a failed precondition changed the store")
		}

		// Optimistic read-modify-write: two writers read version 1, one wins.
		r1, r2 := resGet(t, s, "acme", KindUser, "u1"), resGet(t, s, "acme", KindUser, "u1")
		r1.Attrs["displayName"] = "one"
		r2.Attrs["displayName"] = "two"
		if err := s.Replace(ctx, "acme", r1, r1.Version); err != nil {
			t.Fatal(err)
		}
		if err := s.Replace(ctx, "acme", r2, r2.Version); !errors.Is(err, ErrPrecondition) {
			t.Fatalf("second writer: %v, want ErrPrecondition", err)
		}
		if r1.Version != 2 {
			t.Fatalf("version = %d, want 2", r1.Version)
		}
		if err := s.Replace(ctx, "acme", resUser("u1", "c", nil), 0); err != nil {
			t.Fatal(err)
		}
		if got := resGet(t, s, "acme", KindUser, "u1"); got.Version != 3 || got.Attrs["userName"] != "c" {
			t.Fatalf("after unconditional replace: %+v", got)
		}
		if err := s.Delete(ctx, "acme", KindUser, "u1", 3); err != nil {
			t.Fatal(err)
		}
	})
}

func TestResourceCreationOrderPaging(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		var want []string
		for i := range 25 {
			// ids that do not sort like their creation order
			id := fmt.Sprintf("id-%02d", (i*7)%25)
			want = append(want, id)
			resCreate(t, s, "acme", resUser(id, "user"+id, nil))
		}
		page := func(start, count int) []string {
			t.Helper()
			p, err := s.Query(ctx, "acme", KindUser, Query{StartIndex: start, Count: count})
			if err != nil {
				t.Fatal(err)
			}
			if p.Total != len(want) {
				t.Fatalf("total = %d, want %d", p.Total, len(want))
			}
			var ids []string
			for _, r := range p.Resources {
				ids = append(ids, r.ID)
			}
			return ids
		}
		var all []string
		for start := 1; start <= 25; start += 10 {
			all = append(all, page(start, 10)...)
		}
		if !slices.Equal(all, want) {
			t.Fatalf("pages = %v\nwant %v", all, want)
		}
		if got := page(0, 3); !slices.Equal(got, want[:3]) {
			t.Fatalf("startIndex 0 = %v", got)
		}
		if got := page(1, 0); len(got) != 0 {
			t.Fatalf("count 0 returned %v", got)
		}
		if got := page(30, 10); len(got) != 0 {
			t.Fatalf("past the end returned %v", got)
		}

		// A replace does not move a resource; a delete closes the gap.
		if err := s.Replace(ctx, "acme", resUser(want[3], "renamed", nil), 0); err != nil {
			t.Fatal(err)
		}
		if err := s.Delete(ctx, "acme", KindUser, want[1], 0); err != nil {
			t.Fatal(err)
		}
		want = slices.Delete(want, 1, 2)
		if got := page(1, 5); !slices.Equal(got, want[:5]) {
			t.Fatalf("after replace+delete = %v, want %v", got, want[:5])
		}

		// ForEach streams everything in creation order, in batches.
		var seen []string
		var sizes []int
		err := s.ForEach(ctx, "acme", KindUser, 7, func(rs []*Resource) error {
			sizes = append(sizes, len(rs))
			for _, r := range rs {
				seen = append(seen, r.ID)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(seen, want) || !slices.Equal(sizes, []int{7, 7, 7, 3}) {
			t.Fatalf("ForEach saw %v in batches %v", seen, sizes)
		}
		stop := errors.New("stop")
		calls := 0
		err = s.ForEach(ctx, "acme", KindUser, 5, func([]*Resource) error { calls++; return stop })
		if !errors.Is(err, stop) || calls != 1 {
			t.Fatalf("ForEach after fn error: %v, %d calls", err, calls)
		}
		if n, err := s.Count(ctx, "acme", KindUser); err != nil || n != 24 {
			t.Fatalf("count = %d, %v", n, err)
		}
	})
}

func TestResourceForEachWhileWriting(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		for i := range 20 {
			resCreate(t, s, "acme", resUser(fmt.Sprintf("u%02d", i), fmt.Sprintf("n%02d", i), nil))
		}
		// Deleting already-seen resources while streaming never skips nor repeats.
		var seen []string
		err := s.ForEach(ctx, "acme", KindUser, 4, func(rs []*Resource) error {
			for _, r := range rs {
				seen = append(seen, r.ID)
				if err := s.Delete(ctx, "acme", KindUser, r.ID, 0); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(seen) != 20 {
			t.Fatalf("saw %d resources, want 20: %v", len(seen), seen)
		}
	})
}

func TestResourceIndexMaintenance(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		resCreate(t, s, "acme", resUser("u1", "Old@Example.com", map[string]any{
			"externalId": "E1", "emails": resEmails("Old@Example.com", "shared@example.com"),
		}))
		resCreate(t, s, "acme", resUser("u2", "other", map[string]any{"emails": resEmails("SHARED@example.com")}))

		byEmail := func(e string) []string {
			t.Helper()
			ids, err := s.FindUserIDsByEmail(ctx, "acme", e)
			if err != nil {
				t.Fatal(err)
			}
			return ids
		}
		if got := byEmail("shared@EXAMPLE.com"); !slices.Equal(got, []string{"u1", "u2"}) {
			t.Fatalf("shared email → %v", got)
		}
		if got := byEmail("old@example.com"); !slices.Equal(got, []string{"u1"}) {
			t.Fatalf("old email → %v", got)
		}

		if err := s.Replace(ctx, "acme", resUser("u1", "New@Example.com", map[string]any{
			"externalId": "E2", "emails": resEmails("new@example.com"),
		}), 0); err != nil {
			t.Fatal(err)
		}
		if got := byEmail("old@example.com"); len(got) != 0 {
			t.Fatalf("old email still indexed: %v", got)
		}
		if got := byEmail("shared@example.com"); !slices.Equal(got, []string{"u2"}) {
			t.Fatalf("shared email → %v", got)
		}
		if got := byEmail("NEW@example.com"); !slices.Equal(got, []string{"u1"}) {
			t.Fatalf("new email → %v", got)
		}
		// The old unique values are free, the new ones taken.
		resCreate(t, s, "acme", resUser("u3", "old@example.com", map[string]any{"externalId": "E1"}))
		var ce *ConflictError
		if err := s.Create(ctx, "acme", resUser("u4", "new@example.com", nil)); !errors.As(err, &ce) || ce.Attr != "userName" {
			t.Fatalf("new userName not taken: %v", err)
		}
		// externalId is a lookup index: a second user may carry it.
		resCreate(t, s, "acme", resUser("u4", "x", map[string]any{"externalId": "E2"}))
		if ids := resExternalIDs(t, s, KindUser, "E2"); !slices.Equal(ids, []string{"u1", "u4"}) {
			t.Fatalf("externalId E2 → %v", ids)
		}
		if ids := resExternalIDs(t, s, KindUser, "E1"); !slices.Equal(ids, []string{"u3"}) {
			t.Fatalf("externalId E1 → %v", ids)
		}
		// Dropping attributes frees them too.
		if err := s.Replace(ctx, "acme", resUser("u1", "", nil), 0); err != nil {
			t.Fatal(err)
		}
		if ids := resExternalIDs(t, s, KindUser, "E2"); !slices.Equal(ids, []string{"u4"}) {
			t.Fatalf("dropped externalId still indexed: %v", ids)
		}
		resCreate(t, s, "acme", resUser("u5", "new@example.com", map[string]any{"externalId": "E2"}))
		// u1's dropped email is no longer indexed; u5, without emails, is
		// found by its userName.
		if got := byEmail("new@example.com"); !slices.Equal(got, []string{"u5"}) {
			t.Fatalf("new@example.com → %v, want u5 only", got)
		}
		// Deleting frees everything.
		if err := s.Delete(ctx, "acme", KindUser, "u5", 0); err != nil {
			t.Fatal(err)
		}
		resCreate(t, s, "acme", resUser("u6", "NEW@example.com", map[string]any{"externalId": "E2"}))
		if ids := resExternalIDs(t, s, KindUser, "E2"); !slices.Equal(ids, []string{"u4", "u6"}) {
			t.Fatalf("externalId E2 after delete → %v", ids)
		}
	})
}

// resExternalIDs answers externalId eq value through Query.
func resExternalIDs(t *testing.T, s *Store, kind Kind, value string) []string {
	t.Helper()
	rs := filter.NewResourceSchema(schema.CoreUserSchema())
	if kind == KindGroup {
		rs = filter.NewResourceSchema(schema.CoreGroupSchema())
	}
	f, err := filter.Compile(rs, fmt.Sprintf("externalId eq %q", value))
	if err != nil {
		t.Fatal(err)
	}
	p, err := s.Query(context.Background(), "acme", kind, Query{Filter: f, StartIndex: 1, Count: 100})
	if err != nil {
		t.Fatal(err)
	}
	return resIDs(p.Resources)
}

func TestResourceGroupMembership(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		clock := resWithClock(s, resT0)
		for _, id := range []string{"u1", "u2", "u3"} {
			resCreate(t, s, "acme", resUser(id, id, nil))
		}
		resClearQueue(t, s, "acme")
		resCreate(t, s, "acme", resGroup("g1", "Zeta", "u1", "u2"))
		resCreate(t, s, "acme", resGroup("g2", "alpha", "u2"))
		if got, want := resQueued(t, s, "acme"), []string{"Group|g1", "Group|g2", "User|u1", "User|u2"}; !slices.Equal(got, want) {
			t.Fatalf("queue after group creates = %v, want %v", got, want)
		}

		groups, err := s.GroupsOf(ctx, "acme", []string{"u1", "u2", "u3", "u2"})
		if err != nil {
			t.Fatal(err)
		}
		want := map[string][]GroupRef{
			"u1": {{ID: "g1", DisplayName: "Zeta"}},
			"u2": {{ID: "g2", DisplayName: "alpha"}, {ID: "g1", DisplayName: "Zeta"}},
		}
		if !reflect.DeepEqual(groups, want) {
			t.Fatalf("GroupsOf = %v, want %v", groups, want)
		}

		// Membership change: only the users whose membership changed are dirty.
		resClearQueue(t, s, "acme")
		if err := s.Replace(ctx, "acme", resGroup("g1", "Zeta", "u2", "u3"), 0); err != nil {
			t.Fatal(err)
		}
		if got, want := resQueued(t, s, "acme"), []string{"Group|g1", "User|u1", "User|u3"}; !slices.Equal(got, want) {
			t.Fatalf("queue after member change = %v, want %v", got, want)
		}
		// Rename: every member is dirty.
		resClearQueue(t, s, "acme")
		if err := s.Replace(ctx, "acme", resGroup("g1", "Zeta Team", "u2", "u3"), 0); err != nil {
			t.Fatal(err)
		}
		if got, want := resQueued(t, s, "acme"), []string{"Group|g1", "User|u2", "User|u3"}; !slices.Equal(got, want) {
			t.Fatalf("queue after rename = %v, want %v", got, want)
		}
		groups, _ = s.GroupsOf(ctx, "acme", []string{"u1", "u3"})
		if want := map[string][]GroupRef{"u3": {{ID: "g1", DisplayName: "Zeta Team"}}}; !reflect.DeepEqual(groups, want) {
			t.Fatalf("GroupsOf after rename = %v", groups)
		}

		// Deleting a user removes it from every group, bumping their versions.
		resClearQueue(t, s, "acme")
		later := resT0.Add(time.Minute)
		clock.Set(later)
		v1 := resGet(t, s, "acme", KindGroup, "g1").Version
		v2 := resGet(t, s, "acme", KindGroup, "g2").Version
		if err := s.Delete(ctx, "acme", KindUser, "u2", 0); err != nil {
			t.Fatal(err)
		}
		g1, g2 := resGet(t, s, "acme", KindGroup, "g1"), resGet(t, s, "acme", KindGroup, "g2")
		if got := resMemberIDs(t, g1); !slices.Equal(got, []string{"u3"}) || g1.Version != v1+1 || !g1.LastModified.Equal(later) {
			t.Fatalf("g1 after user delete: members %v version %d (was %d) lastModified %v", got, g1.Version, v1, g1.LastModified)
		}
		if m, ok := g2.Attrs["members"].([]any); !ok || len(m) != 0 || g2.Version != v2+1 {
			t.Fatalf("g2 after user delete: members %#v version %d", g2.Attrs["members"], g2.Version)
		}
		if m := complexValues(g1.Attrs["members"]); m[0]["display"] != resGet(t, s, "acme", KindUser, "u3").Attrs["userName"] || m[0]["type"] != "User" {
			t.Fatalf("remaining member lost attributes: %v", m)
		}
		if got, want := resQueued(t, s, "acme"), []string{"Group|g1", "Group|g2", "User|u2"}; !slices.Equal(got, want) {
			t.Fatalf("queue after user delete = %v, want %v", got, want)
		}
		if sc, _ := resQueueScore(t, s, "acme", KindGroup, "g1"); sc != float64(later.UnixMilli()) {
			t.Fatalf("g1 dirty score = %v", sc)
		}
		// The rewritten group is consistent: re-adding u2 later works.
		resCreate(t, s, "acme", resUser("u2", "u2", nil))
		if err := s.Replace(ctx, "acme", resGroup("g2", "alpha", "u2"), 0); err != nil {
			t.Fatal(err)
		}
		groups, _ = s.GroupsOf(ctx, "acme", []string{"u2"})
		if want := map[string][]GroupRef{"u2": {{ID: "g2", DisplayName: "alpha"}}}; !reflect.DeepEqual(groups, want) {
			t.Fatalf("GroupsOf after re-add = %v", groups)
		}

		// Deleting a group marks its former members and clears their reverse index.
		resClearQueue(t, s, "acme")
		if err := s.Delete(ctx, "acme", KindGroup, "g1", 0); err != nil {
			t.Fatal(err)
		}
		if got, want := resQueued(t, s, "acme"), []string{"Group|g1", "User|u3"}; !slices.Equal(got, want) {
			t.Fatalf("queue after group delete = %v, want %v", got, want)
		}
		groups, _ = s.GroupsOf(ctx, "acme", []string{"u3"})
		if len(groups) != 0 {
			t.Fatalf("GroupsOf after group delete = %v", groups)
		}
		// Its displayName is free again.
		resCreate(t, s, "acme", resGroup("g9", "zeta team"))
	})
}

func TestResourceNestedGroupMember(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		resCreate(t, s, "acme", resGroup("child", "Child"))
		parent := resGroup("parent", "Parent")
		parent.Attrs["members"] = []any{map[string]any{"value": "child", "type": "Group"}}
		resClearQueue(t, s, "acme")
		resCreate(t, s, "acme", parent)
		if got, want := resQueued(t, s, "acme"), []string{"Group|child", "Group|parent"}; !slices.Equal(got, want) {
			t.Fatalf("queue = %v, want %v", got, want)
		}
		if err := s.Delete(ctx, "acme", KindGroup, "child", 0); err != nil {
			t.Fatal(err)
		}
		p := resGet(t, s, "acme", KindGroup, "parent")
		if m := complexValues(p.Attrs["members"]); len(m) != 0 || p.Version != 2 {
			t.Fatalf("parent after child delete: %v version %d", m, p.Version)
		}
	})
}

func TestResourceDirtyMarks(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		clock := resWithClock(s, resT0)
		ms := float64(resT0.UnixMilli())

		resCreate(t, s, "acme", resUser("u1", "a", nil))
		if sc, ok := resQueueScore(t, s, "acme", KindUser, "u1"); !ok || sc != ms {
			t.Fatalf("after create: score %v, %v; want %v", sc, ok, ms)
		}
		// A later write keeps the earlier due time (ZADD LT).
		clock.Set(resT0.Add(time.Minute))
		if err := s.Replace(ctx, "acme", resUser("u1", "b", nil), 0); err != nil {
			t.Fatal(err)
		}
		if sc, _ := resQueueScore(t, s, "acme", KindUser, "u1"); sc != ms {
			t.Fatalf("after later replace: score %v, want %v kept", sc, ms)
		}
		// A mark due later (e.g. a retry backoff) is pulled forward by a write.
		future := float64(resT0.Add(time.Hour).UnixMilli())
		if err := s.rdb.ZAdd(ctx, queueKey("acme"), redis.Z{Score: future, Member: "User|u1"}).Err(); err != nil {
			t.Fatal(err)
		}
		now2 := resT0.Add(2 * time.Minute)
		clock.Set(now2)
		if err := s.Replace(ctx, "acme", resUser("u1", "c", nil), 0); err != nil {
			t.Fatal(err)
		}
		if sc, _ := resQueueScore(t, s, "acme", KindUser, "u1"); sc != float64(now2.UnixMilli()) {
			t.Fatalf("after replace over a future mark: score %v, want %v", sc, float64(now2.UnixMilli()))
		}
		// Delete marks the deleted key.
		resClearQueue(t, s, "acme")
		if err := s.Delete(ctx, "acme", KindUser, "u1", 0); err != nil {
			t.Fatal(err)
		}
		if got := resQueued(t, s, "acme"); !slices.Equal(got, []string{"User|u1"}) {
			t.Fatalf("queue after delete = %v", got)
		}
	})
}

func TestResourceTenantIsolation(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		resCreate(t, s, "a", resUser("u1", "same", map[string]any{"externalId": "E", "emails": resEmails("x@example.com")}))
		resCreate(t, s, "b", resUser("u1", "same", map[string]any{"externalId": "E", "displayName": "in b"}))
		resCreate(t, s, "a", resGroup("g1", "G", "u1"))
		resCreate(t, s, "b", resGroup("g1", "G"))

		if got := resGet(t, s, "b", KindUser, "u1"); got.Attrs["displayName"] != "in b" {
			t.Fatalf("tenant b reads %v", got.Attrs)
		}
		if _, ok := resGet(t, s, "a", KindUser, "u1").Attrs["displayName"]; ok {
			t.Fatal("tenant a sees tenant b's attributes")
		}
		resCreate(t, s, "b", resUser("only-b", "ob", nil))
		if _, err := s.Get(ctx, "a", KindUser, "only-b"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("tenant a reads tenant b's user: %v", err)
		}
		if ids, _ := s.FindUserIDsByEmail(ctx, "b", "x@example.com"); len(ids) != 0 {
			t.Fatalf("tenant b finds tenant a's email: %v", ids)
		}
		if g, _ := s.GroupsOf(ctx, "b", []string{"u1"}); len(g) != 0 {
			t.Fatalf("tenant b sees tenant a's membership: %v", g)
		}
		if err := s.Delete(ctx, "a", KindUser, "u1", 0); err != nil {
			t.Fatal(err)
		}
		resGet(t, s, "b", KindUser, "u1")
		if n, _ := s.Count(ctx, "b", KindUser); n != 2 {
			t.Fatalf("tenant b count = %d", n)
		}
		if q := resQueued(t, s, "b"); !slices.Equal(q, []string{"Group|g1", "User|only-b", "User|u1"}) {
			t.Fatalf("tenant b queue = %v", q)
		}
	})
}

func TestResourceView(t *testing.T) {
	t.Parallel()
	r := &Resource{
		ID: "u1", Kind: KindUser, Version: 7,
		Created:      time.Date(2026, 1, 2, 3, 4, 5, 6_000_000, time.FixedZone("x", 3600)),
		LastModified: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		Attrs:        map[string]any{"userName": "a"},
	}
	v := r.View()
	want := map[string]any{
		"userName": "a",
		"id":       "u1",
		"meta": map[string]any{
			"resourceType": "User",
			"created":      "2026-01-02T02:04:05.006Z",
			"lastModified": "2026-01-02T03:04:05.000Z",
			"version":      `W/"7"`,
		},
	}
	if !reflect.DeepEqual(v, want) {
		t.Fatalf("View = %v\nwant %v", v, want)
	}
	v["userName"] = "changed"
	if r.Attrs["userName"] != "a" {
		t.Fatal("View shares its top-level map with Attrs")
	}
	if strings.Contains(fmt.Sprint(v), "schemas") {
		t.Fatal("View holds schemas")
	}
}

// TestResourceLexIndexPrefixes: a value that extends another one with a NUL
// never answers for it (the lexicographic indexes separate value and id by NUL).
func TestResourceLexIndexPrefixes(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		resCreate(t, s, "acme", resUser("a", "a", map[string]any{"emails": resEmails("x@example.com")}))
		resCreate(t, s, "acme", resUser("b", "b", map[string]any{"emails": resEmails("x@example.com\x00y")}))
		resCreate(t, s, "acme", resUser("ab", "ab", nil))
		resCreate(t, s, "acme", resGroup("g1", "G1", "ab"))
		resCreate(t, s, "acme", resGroup("g2", "G2", "a"))
		if ids, _ := s.FindUserIDsByEmail(ctx, "acme", "x@example.com"); !slices.Equal(ids, []string{"a"}) {
			t.Fatalf("email lookup = %v", ids)
		}
		if g, _ := s.GroupsOf(ctx, "acme", []string{"a"}); len(g["a"]) != 1 || g["a"][0].ID != "g2" {
			t.Fatalf("GroupsOf(a) = %v", g)
		}
		// A member id holding a NUL cannot exist (Create refuses such ids).
		if err := s.Create(ctx, "acme", resGroup("g3", "G3", "a\x00b")); err == nil {
			t.Fatal("a member id with a NUL was stored")
		}
		if err := s.Delete(ctx, "acme", KindUser, "a", 0); err != nil {
			t.Fatal(err)
		}
		if g := resGet(t, s, "acme", KindGroup, "g1"); g.Version != 1 || !slices.Equal(resMemberIDs(t, g), []string{"ab"}) {
			t.Fatalf("deleting a touched the group of ab: %+v", g)
		}
		if g, _ := s.GroupsOf(ctx, "acme", []string{"ab"}); len(g["ab"]) != 1 || g["ab"][0].ID != "g1" {
			t.Fatalf("GroupsOf(ab) after deleting a = %v", g)
		}
	})
}

func TestResourceEmptyTenant(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		if rs, err := s.GetMany(ctx, "void", KindUser, nil); err != nil || len(rs) != 0 {
			t.Fatalf("GetMany(nil) = %v, %v", rs, err)
		}
		if p, err := s.Query(ctx, "void", KindGroup, Query{StartIndex: 1, Count: 10}); err != nil || p.Total != 0 || len(p.Resources) != 0 {
			t.Fatalf("Query = %+v, %v", p, err)
		}
		if p, err := s.Query(ctx, "void", KindUser, Query{SortBy: resByTitle, Count: 10}); err != nil || p.Total != 0 {
			t.Fatalf("sorted Query = %+v, %v", p, err)
		}
		calls := 0
		if err := s.ForEach(ctx, "void", KindUser, 0, func([]*Resource) error { calls++; return nil }); err != nil || calls != 0 {
			t.Fatalf("ForEach: %d calls, %v", calls, err)
		}
		if g, err := s.GroupsOf(ctx, "void", []string{"u1"}); err != nil || len(g) != 0 {
			t.Fatalf("GroupsOf = %v, %v", g, err)
		}
		if ids, err := s.FindUserIDsByEmail(ctx, "void", "a@example.com"); err != nil || len(ids) != 0 {
			t.Fatalf("FindUserIDsByEmail = %v, %v", ids, err)
		}
		if n, err := s.Count(ctx, "void", KindGroup); err != nil || n != 0 {
			t.Fatalf("Count = %d, %v", n, err)
		}
	})
}

func TestResourceHonoursContext(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, s *Store) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		checks := map[string]error{
			"create": s.Create(ctx, "acme", resUser("u1", "a", nil)),
			"get":    func() error { _, err := s.Get(ctx, "acme", KindUser, "u1"); return err }(),
			"query":  func() error { _, err := s.Query(ctx, "acme", KindUser, Query{Count: 1}); return err }(),
			"scan": s.ForEach(ctx, "acme", KindUser, 10, func([]*Resource) error {
				return errors.New("fn called")
			}),
		}
		for name, err := range checks {
			if !errors.Is(err, context.Canceled) {
				t.Errorf("%s: err = %v, want context.Canceled", name, err)
			}
		}
		if n, _ := s.Count(context.Background(), "acme", KindUser); n != 0 {
			t.Fatalf("a create with a cancelled context wrote: count %d", n)
		}
	})
}

func TestGetUserWithGroups(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		resCreate(t, s, "acme", resUser("u1", "ada", nil))
		resCreate(t, s, "acme", resUser("u2", "bob", nil))
		resCreate(t, s, "acme", resGroup("g2", "Zeta", "u1"))
		resCreate(t, s, "acme", resGroup("g1", "alpha", "u1"))
		for _, id := range []string{"u1", "u2"} {
			got, groups, err := s.GetUserWithGroups(ctx, "acme", id)
			if err != nil {
				t.Fatalf("%s: %v", id, err)
			}
			want := resGet(t, s, "acme", KindUser, id)
			wantGroups, err := s.GroupsOf(ctx, "acme", []string{id})
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) || !reflect.DeepEqual(groups, wantGroups[id]) {
				t.Fatalf("%s: got %+v %v, want %+v %v", id, got, groups, want, wantGroups[id])
			}
		}
		if _, _, err := s.GetUserWithGroups(ctx, "acme", "nobody"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("missing user: %v", err)
		}
		if _, _, err := s.GetUserWithGroups(ctx, "globex", "u1"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("another tenant's user: %v", err)
		}
	})
}

// ReplaceUser writes like Replace and answers with the user's groups from
// the same step.
func TestReplaceUserReturnsGroups(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		resCreate(t, s, "acme", resUser("u1", "one@example.com", nil))
		resCreate(t, s, "acme", resGroup("g2", "Two", "u1"))
		resCreate(t, s, "acme", resGroup("g1", "One", "u1"))
		resCreate(t, s, "acme", resGroup("g3", "Three"))
		r := resUser("u1", "uno@example.com", nil)
		r.Created = time.Time{}
		groups, err := s.ReplaceUser(ctx, "acme", r, 1)
		want := []GroupRef{{ID: "g1", DisplayName: "One"}, {ID: "g2", DisplayName: "Two"}}
		if err != nil || !reflect.DeepEqual(groups, want) {
			t.Fatalf("ReplaceUser = %+v, %v; want %+v", groups, err, want)
		}
		if r.Version != 2 || !r.Created.Equal(resT0) {
			t.Fatalf("version %d, created %v", r.Version, r.Created)
		}
		if got, err := s.Get(ctx, "acme", KindUser, "u1"); err != nil || got.Attrs["userName"] != "uno@example.com" {
			t.Fatalf("stored %+v, %v", got, err)
		}
		if _, err := s.ReplaceUser(ctx, "acme", resUser("u1", "x@example.com", nil), 1); !errors.Is(err, ErrPrecondition) {
			t.Fatalf("stale If-Match: %v", err)
		}
		if _, err := s.ReplaceUser(ctx, "acme", resUser("nobody", "x@example.com", nil), 0); !errors.Is(err, ErrNotFound) {
			t.Fatalf("missing user: %v", err)
		}
		if _, err := s.ReplaceUser(ctx, "acme", resGroup("g3", "Tres"), 0); err == nil {
			t.Fatal("ReplaceUser took a group")
		}
	})
}

// A user with thousands of emails is indexed, re-indexed and unindexed in a
// few commands per write (the scripts batch them), every email findable.
func TestManyEmailsIndexedInBatches(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		emails := func(prefix string, n int) []any {
			out := make([]any, n)
			for i := range out {
				out[i] = map[string]any{"value": fmt.Sprintf("%s%d@example.com", prefix, i)}
			}
			return out
		}
		resCreate(t, s, "acme", resUser("many", "many@example.com", map[string]any{"emails": emails("a", 9001)}))
		count := func() int64 {
			n, err := s.rdb.ZCard(ctx, emailIndexKey("acme")).Result()
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
		if n := count(); n != 9001 {
			t.Fatalf("%d emails indexed, want 9001", n)
		}
		for _, e := range []string{"a0@example.com", "A9000@example.com"} {
			if ids, err := s.FindUserIDsByEmail(ctx, "acme", e); err != nil || len(ids) != 1 {
				t.Fatalf("find %s: %v %v", e, ids, err)
			}
		}
		// Keep 4,500 of them, add 4,200 new ones.
		keep := emails("a", 4500)
		if err := s.Replace(ctx, "acme", resUser("many", "many@example.com", map[string]any{"emails": append(keep, emails("b", 4200)...)}), 0); err != nil {
			t.Fatal(err)
		}
		if n := count(); n != 8700 {
			t.Fatalf("%d emails indexed after the replace, want 8700", n)
		}
		if ids, _ := s.FindUserIDsByEmail(ctx, "acme", "a8000@example.com"); len(ids) != 0 {
			t.Fatalf("a removed email still finds %v", ids)
		}
		if ids, _ := s.FindUserIDsByEmail(ctx, "acme", "b4199@example.com"); len(ids) != 1 {
			t.Fatalf("an added email finds %v", ids)
		}
		if err := s.Delete(ctx, "acme", KindUser, "many", 0); err != nil {
			t.Fatal(err)
		}
		if n := count(); n != 0 {
			t.Fatalf("%d emails indexed after the delete", n)
		}
	})
}

// TestReplaceUnchangedUser: replacing a user (or a group) by what it is
// already writes nothing: same version, same lastModified, nothing marked
// dirty (Okta's GET-then-PUT). Any change is written as before.
func TestReplaceUnchangedUser(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		attrs := map[string]any{"displayName": "Ann", "emails": []any{map[string]any{"value": "ann@example.com", "type": "work"}}}
		resCreate(t, s, "acme", resUser("u1", "ann", attrs))
		resClearQueue(t, s, "acme")
		same := resUser("u1", "ann", attrs)
		same.LastModified = resT0.Add(time.Hour)
		groups, err := s.ReplaceUser(ctx, "acme", same, 1)
		if err != nil || len(groups) != 0 {
			t.Fatalf("replace unchanged: %v, %v", groups, err)
		}
		if same.Version != 1 || !same.LastModified.Equal(resT0) {
			t.Fatalf("unchanged user: version %d, lastModified %v; want 1, %v", same.Version, same.LastModified, resT0)
		}
		if q := resQueued(t, s, "acme"); len(q) != 0 {
			t.Fatalf("an unchanged user was marked: %v", q)
		}
		if got := resGet(t, s, "acme", KindUser, "u1"); got.Version != 1 || !got.LastModified.Equal(resT0) {
			t.Fatalf("stored: version %d, lastModified %v", got.Version, got.LastModified)
		}
		changed := resUser("u1", "ann", map[string]any{"displayName": "Anne"})
		changed.LastModified = resT0.Add(time.Hour)
		if err := s.Replace(ctx, "acme", changed, 1); err != nil || changed.Version != 2 || !changed.LastModified.Equal(resT0.Add(time.Hour)) {
			t.Fatalf("replace changed: version %d, lastModified %v, %v", changed.Version, changed.LastModified, err)
		}
		if q := resQueued(t, s, "acme"); !slices.Equal(q, []string{"User|u1"}) {
			t.Fatalf("queue = %v", q)
		}

		// A group likewise (members that fit one step).
		resCreate(t, s, "acme", resGroup("g1", "G1", "u1"))
		resClearQueue(t, s, "acme")
		g := resGroup("g1", "G1", "u1")
		g.LastModified = resT0.Add(time.Hour)
		if err := s.Replace(ctx, "acme", g, 0); err != nil || g.Version != 1 || !g.LastModified.Equal(resT0) {
			t.Fatalf("unchanged group: version %d, lastModified %v, %v", g.Version, g.LastModified, err)
		}
		if q := resQueued(t, s, "acme"); len(q) != 0 {
			t.Fatalf("an unchanged group was marked: %v", q)
		}
		for name, g := range map[string]*Resource{"member": resGroup("g1", "G1"), "name": resGroup("g1", "G2", "u1")} {
			v := resGet(t, s, "acme", KindGroup, "g1").Version
			if err := s.Replace(ctx, "acme", g, 0); err != nil || g.Version != v+1 {
				t.Fatalf("group with another %s: version %d (was %d), %v", name, g.Version, v, err)
			}
		}
	})
}

// TestFindUserIDsByEmailUserName: a user without emails is found by its
// userName when that is an email (Okta and Entra often send no emails); a
// user with emails is found by them only.
func TestFindUserIDsByEmailUserName(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		resCreate(t, s, "acme", resUser("plain", "Ada@Example.com", nil))
		resCreate(t, s, "acme", resUser("mailed", "bob@example.com", map[string]any{"emails": resEmails("robert@example.com")}))
		resCreate(t, s, "acme", resUser("other", "carol", map[string]any{"emails": resEmails("ada@example.com")}))
		for email, want := range map[string][]string{
			"ada@EXAMPLE.com":    {"plain", "other"}, // creation order
			"bob@example.com":    nil,                // has emails: its userName is no email of it
			"robert@example.com": {"mailed"},
			"carol":              nil,
		} {
			ids, err := s.FindUserIDsByEmail(ctx, "acme", email)
			if err != nil || !slices.Equal(ids, want) {
				t.Errorf("%s → %v, %v; want %v", email, ids, err, want)
			}
		}
	})
}
