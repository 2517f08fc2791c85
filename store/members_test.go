package store

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/elimity-com/scim/schema"
	"github.com/redis/go-redis/v9"

	"github.com/scim-bridge/scim-bridge/filter"
)

// resMemberList reads a group's members through ForEachMember.
func resMemberList(t *testing.T, s *Store, tenant, gid string) []Member {
	t.Helper()
	var out []Member
	if err := s.ForEachMember(context.Background(), tenant, gid, 0, func(ms []Member) error {
		out = append(out, ms...)
		return nil
	}); err != nil {
		t.Fatalf("members of %s: %v", gid, err)
	}
	return out
}

func resMemberListIDs(t *testing.T, s *Store, tenant, gid string) []string {
	t.Helper()
	var ids []string
	for _, m := range resMemberList(t, s, tenant, gid) {
		ids = append(ids, m.ID)
	}
	return ids
}

func resUsers(t *testing.T, s *Store, tenant string, n int) []string {
	t.Helper()
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("u%04d", i)
		resCreate(t, s, tenant, resUser(ids[i], ids[i], nil))
	}
	return ids
}

func memberIDs(ids ...string) []Member {
	ms := make([]Member, len(ids))
	for i, id := range ids {
		ms[i] = Member{ID: id}
	}
	return ms
}

func TestMembersAddRemove(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		resUsers(t, s, "acme", 4)
		resCreate(t, s, "acme", resGroup("g1", "One", "u0000"))
		resCreate(t, s, "acme", resGroup("sub", "Sub"))
		resClearQueue(t, s, "acme")

		v, err := s.AddMembers(ctx, "acme", "g1", []Member{{ID: "u0001", Display: "Bob"}, {ID: "sub"}, {ID: "u0001"}}, 1)
		if err != nil || v != 2 {
			t.Fatalf("add: version %d, %v", v, err)
		}
		// A member's display is its current name, read with the group (a given
		// one is ignored): the user's displayName or else userName, the group's
		// displayName.
		want := []Member{{ID: "sub", Kind: KindGroup, Display: "Sub"}, {ID: "u0000", Kind: KindUser, Display: "u0000"},
			{ID: "u0001", Kind: KindUser, Display: "u0001"}}
		if got := resMemberList(t, s, "acme", "g1"); !reflect.DeepEqual(got, want) {
			t.Fatalf("members = %+v, want %+v", got, want)
		}
		if got, want := resQueued(t, s, "acme"), []string{"Group|g1", "Group|sub", "User|u0001"}; !slices.Equal(got, want) {
			t.Fatalf("queue after add = %v, want %v", got, want)
		}
		// Adding present members changes nothing: same version, no marks.
		resClearQueue(t, s, "acme")
		if v, err := s.AddMembers(ctx, "acme", "g1", []Member{{ID: "u0001", Display: "other"}}, 0); err != nil || v != 2 {
			t.Fatalf("re-add: version %d, %v", v, err)
		}
		if q := resQueued(t, s, "acme"); len(q) != 0 {
			t.Fatalf("re-add marked %v", q)
		}
		// Unknown ids (or a kind that does not match) change nothing.
		before := resSnapshot(t, s, "acme")
		for _, bad := range [][]Member{
			{{ID: "u0002"}, {ID: "nobody"}},
			{{ID: "u0002", Kind: KindGroup}},
			{{ID: ""}},
			{{ID: "a\x00b"}},
		} {
			_, err := s.AddMembers(ctx, "acme", "g1", bad, 0)
			var ue *UnknownMemberError
			if !errors.As(err, &ue) || !errors.Is(err, ErrUnknownMember) {
				t.Fatalf("add %v: %v, want unknown member", bad, err)
			}
		}
		if _, err := s.ReplaceMembers(ctx, "acme", "g1", memberIDs("u0002", "ghost"), 0); !errors.Is(err, ErrUnknownMember) {
			t.Fatalf("replace with a ghost: %v", err)
		}
		if after := resSnapshot(t, s, "acme"); !reflect.DeepEqual(before, after) {
			t.Fatalf("a rejected change wrote:\nbefore %v\nafter  %v", before, after)
		}
		// If-Match.
		if _, err := s.AddMembers(ctx, "acme", "g1", memberIDs("u0002"), 1); !errors.Is(err, ErrPrecondition) {
			t.Fatalf("stale version: %v", err)
		}
		if _, err := s.RemoveMembers(ctx, "acme", "g1", []string{"u0000"}, 7); !errors.Is(err, ErrPrecondition) {
			t.Fatalf("stale version on remove: %v", err)
		}
		if _, err := s.AddMembers(ctx, "acme", "nope", memberIDs("u0002"), 0); !errors.Is(err, ErrNotFound) {
			t.Fatalf("missing group: %v", err)
		}
		// Remove: only present members count.
		resClearQueue(t, s, "acme")
		if v, err := s.RemoveMembers(ctx, "acme", "g1", []string{"u0000", "u0003", "nobody"}, 2); err != nil || v != 3 {
			t.Fatalf("remove: version %d, %v", v, err)
		}
		if got, want := resQueued(t, s, "acme"), []string{"Group|g1", "User|u0000"}; !slices.Equal(got, want) {
			t.Fatalf("queue after remove = %v, want %v", got, want)
		}
		if v, err := s.RemoveMembers(ctx, "acme", "g1", []string{"u0000"}, 0); err != nil || v != 3 {
			t.Fatalf("remove again: version %d, %v", v, err)
		}
		g, n, err := s.GetGroup(ctx, "acme", "g1")
		if err != nil || n != 2 || g.Version != 3 || g.Attrs["members"] != nil || g.Attrs["displayName"] != "One" {
			t.Fatalf("GetGroup = %+v, %d, %v", g, n, err)
		}
		if n, err := s.MemberCount(ctx, "acme", "g1"); err != nil || n != 2 {
			t.Fatalf("MemberCount = %d, %v", n, err)
		}
		if _, _, err := s.GetGroup(ctx, "acme", "nope"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("GetGroup of a missing group: %v", err)
		}
		groups, err := s.GroupsOf(ctx, "acme", []string{"u0000", "u0001"})
		if err != nil || len(groups["u0000"]) != 0 || len(groups["u0001"]) != 1 {
			t.Fatalf("GroupsOf = %v, %v", groups, err)
		}
		// The full resource agrees.
		full := resGet(t, s, "acme", KindGroup, "g1")
		if got := resMemberIDs(t, full); !slices.Equal(got, []string{"sub", "u0001"}) || full.Version != 3 {
			t.Fatalf("Get = %v version %d", got, full.Version)
		}
	})
}

func TestMembersReplaceMarksOnlyChanges(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		ids := resUsers(t, s, "acme", 400)
		for _, c := range []struct {
			name        string
			from, to    []string
			wantChanged []string
		}{
			{"small", ids[0:5], ids[3:8], append(append([]string{}, ids[0:3]...), ids[5:8]...)},
			{"large", ids[0:300], ids[100:400], append(append([]string{}, ids[0:100]...), ids[300:400]...)},
		} {
			t.Run(c.name, func(t *testing.T) {
				gid := "g-" + c.name
				g := resGroup(gid, gid, c.from...)
				resCreate(t, s, "acme", g)
				if got := resMemberListIDs(t, s, "acme", gid); !slices.Equal(got, c.from) {
					t.Fatalf("after create: %d members", len(got))
				}
				resClearQueue(t, s, "acme")
				v, err := s.ReplaceMembers(ctx, "acme", gid, memberIDs(c.to...), 0)
				if err != nil || v <= g.Version {
					t.Fatalf("replace: version %d (was %d), %v", v, g.Version, err)
				}
				if got := resMemberListIDs(t, s, "acme", gid); !slices.Equal(got, c.to) {
					t.Fatalf("after replace: %d members", len(got))
				}
				var want []string
				for _, id := range c.wantChanged {
					want = append(want, "User|"+id)
				}
				want = append(want, "Group|"+gid)
				slices.Sort(want)
				if got := resQueued(t, s, "acme"); !slices.Equal(got, want) {
					t.Fatalf("queue after replace: %d marks, want %d", len(got), len(want))
				}
				// The same through Replace of the whole resource, back again.
				resClearQueue(t, s, "acme")
				if err := s.Replace(ctx, "acme", resGroup(gid, gid, c.from...), v); err != nil {
					t.Fatal(err)
				}
				if got := resMemberListIDs(t, s, "acme", gid); !slices.Equal(got, c.from) {
					t.Fatalf("after Replace: %d members", len(got))
				}
				if got := resQueued(t, s, "acme"); !slices.Equal(got, want) {
					t.Fatalf("queue after Replace: %d marks, want %d", len(got), len(want))
				}
				// A rename marks every member.
				resClearQueue(t, s, "acme")
				if err := s.Replace(ctx, "acme", resGroup(gid, gid+" renamed", c.from...), 0); err != nil {
					t.Fatal(err)
				}
				if got := len(resQueued(t, s, "acme")); got != len(c.from)+1 {
					t.Fatalf("rename marked %d keys, want %d", got, len(c.from)+1)
				}
				groups, _ := s.GroupsOf(ctx, "acme", c.from[:1])
				if !slices.Contains(groups[c.from[0]], GroupRef{ID: gid, DisplayName: gid + " renamed"}) {
					t.Fatalf("GroupsOf after rename = %v", groups)
				}
			})
		}
	})
}

// TestMembersConcurrentPatches: member changes of one group from many writers
// at once all succeed, with nothing lost and no retry.
func TestMembersConcurrentPatches(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		ids := resUsers(t, s, "acme", 400)
		resCreate(t, s, "acme", resGroup("all", "All"))
		const writers, batch = 8, 10
		run := func(remove bool) {
			var wg sync.WaitGroup
			errs := make(chan error, len(ids)/batch)
			for w := range writers {
				wg.Go(func() {
					for start := w * batch; start < len(ids); start += writers * batch {
						chunk := ids[start:min(start+batch, len(ids))]
						var err error
						if remove {
							_, err = s.RemoveMembers(ctx, "acme", "all", chunk, 0)
						} else {
							_, err = s.AddMembers(ctx, "acme", "all", memberIDs(chunk...), 0)
						}
						if err != nil {
							errs <- err
						}
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
		}
		run(false)
		g, n, err := s.GetGroup(ctx, "acme", "all")
		if err != nil || n != len(ids) || g.Version != int64(1+len(ids)/batch) {
			t.Fatalf("after adds: %d members, version %d, %v", n, g.Version, err)
		}
		run(true)
		if n, err := s.MemberCount(ctx, "acme", "all"); err != nil || n != 0 {
			t.Fatalf("after removes: %d members, %v", n, err)
		}
		if g, _ := s.GroupsOf(ctx, "acme", ids); len(g) != 0 {
			t.Fatalf("reverse index keeps %d users", len(g))
		}
	})
}

// TestMembersLargeGroup: creating, reading, streaming and deleting a group
// larger than one step and one read chunk.
func TestMembersLargeGroup(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		const n = 2100
		resBulkLoadUsers(t, s, "acme", 0, n)
		ids := make([]string, n)
		for i := range ids {
			ids[i] = resBenchUser(i).ID
		}
		resCreate(t, s, "acme", resGroup("big", "Big", ids...))
		if got := resMemberIDs(t, resGet(t, s, "acme", KindGroup, "big")); !slices.Equal(got, ids) {
			t.Fatalf("Get: %d members, want %d", len(got), n)
		}
		calls := 0
		var streamed []string
		if err := s.ForEachMember(ctx, "acme", "big", 500, func(ms []Member) error {
			calls++
			if len(ms) > 500 {
				t.Fatalf("batch of %d", len(ms))
			}
			for _, m := range ms {
				streamed = append(streamed, m.ID)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(streamed, ids) || calls != 5 {
			t.Fatalf("streamed %d members in %d calls", len(streamed), calls)
		}
		stop := errors.New("stop")
		if err := s.ForEachMember(ctx, "acme", "big", 10, func([]Member) error { return stop }); !errors.Is(err, stop) {
			t.Fatalf("fn's error: %v", err)
		}
		if groups, _ := s.GroupsOf(ctx, "acme", ids[n-1:]); len(groups[ids[n-1]]) != 1 {
			t.Fatalf("GroupsOf = %v", groups)
		}
		// Deleting a user: its groups only.
		if err := s.Delete(ctx, "acme", KindUser, ids[7], 0); err != nil {
			t.Fatal(err)
		}
		if c, _ := s.MemberCount(ctx, "acme", "big"); c != n-1 {
			t.Fatalf("after a user delete: %d members", c)
		}
		resClearQueue(t, s, "acme")
		if err := s.Delete(ctx, "acme", KindGroup, "big", 0); err != nil {
			t.Fatal(err)
		}
		if q := resQueued(t, s, "acme"); len(q) != n { // n-1 members and the group
			t.Fatalf("group delete marked %d keys, want %d", len(q), n)
		}
		if groups, _ := s.GroupsOf(ctx, "acme", ids); len(groups) != 0 {
			t.Fatalf("reverse index keeps %d users", len(groups))
		}
		keys, _ := s.rdb.Keys(ctx, key("acme", "trash")+"*").Result()
		keys2, _ := s.rdb.Keys(ctx, key("acme", "members")+"*").Result()
		if len(keys)+len(keys2) != 0 {
			t.Fatalf("left behind: %v %v", keys, keys2)
		}
	})
}

// TestMembersQuery: members filters use the reverse index; ExcludeMembers
// returns groups without reading members.
func TestMembersQuery(t *testing.T) {
	t.Parallel()
	groupRS := filter.NewResourceSchema(schema.CoreGroupSchema())
	backends(t, func(t *testing.T, s *Store) {
		resQueryFixture(t, s)
		ctx := context.Background()
		for _, c := range []struct {
			expr string
			want []string
		}{
			{`members.value eq "u02"`, []string{"g1", "g2"}},
			{`members[value eq "u01"]`, []string{"g1"}},
			{`members.value eq "u01" or members.value eq "u04"`, []string{"g1", "g2"}},
			{`members.value eq "u02" and displayName eq "dev"`, []string{"g2"}},
			{`members.value eq "u02" and members.display eq "Alice A"`, []string{"g1"}},
			{`members.value eq "nobody"`, nil},
			{`displayName eq "Empty" or members.value eq "u04"`, []string{"g2", "g3"}},
		} {
			for _, exclude := range []bool{false, true} {
				p, err := s.Query(ctx, "acme", KindGroup, Query{Filter: resCompile(t, groupRS, c.expr),
					StartIndex: 1, Count: 10, ExcludeMembers: exclude})
				if err != nil {
					t.Fatal(err)
				}
				if got := resIDs(p.Resources); !slices.Equal(got, c.want) {
					t.Fatalf("%s (exclude %v) = %v, want %v", c.expr, exclude, got, c.want)
				}
				for _, r := range p.Resources {
					if _, has := r.Attrs["members"]; has == exclude && r.ID != "g3" {
						t.Fatalf("%s (exclude %v): members present %v", c.expr, exclude, has)
					}
				}
			}
		}
		p, err := s.Query(ctx, "acme", KindGroup, Query{StartIndex: 1, Count: 10, ExcludeMembers: true})
		if err != nil || p.Total != 3 {
			t.Fatal(p, err)
		}
		for _, r := range p.Resources {
			if _, has := r.Attrs["members"]; has {
				t.Fatalf("list page without members holds members of %s", r.ID)
			}
		}
	})
}

// TestMembersSameIDUserAndGroup: a user and a group may share an id (their
// namespaces are apart); as members they are two, and removing the id
// removes both.
func TestMembersSameIDUserAndGroup(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		resCreate(t, s, "acme", resUser("x", "x", nil))
		resCreate(t, s, "acme", resGroup("x", "X"))
		resCreate(t, s, "acme", resGroup("g", "G"))
		if _, err := s.AddMembers(ctx, "acme", "g", []Member{{ID: "x"}, {ID: "x", Kind: KindGroup}}, 0); err != nil {
			t.Fatal(err)
		}
		// distinctMembers keeps the first of one id: the user.
		if got := resMemberList(t, s, "acme", "g"); len(got) != 1 || got[0].Kind != KindUser {
			t.Fatalf("members = %+v", got)
		}
		if _, err := s.AddMembers(ctx, "acme", "g", []Member{{ID: "x", Kind: KindGroup}}, 0); err != nil {
			t.Fatal(err)
		}
		if got := resMemberList(t, s, "acme", "g"); len(got) != 2 {
			t.Fatalf("members = %+v", got)
		}
		if _, err := s.RemoveMembers(ctx, "acme", "g", []string{"x"}, 0); err != nil {
			t.Fatal(err)
		}
		if n, _ := s.MemberCount(ctx, "acme", "g"); n != 0 {
			t.Fatalf("%d members left", n)
		}
	})
}

// An added member's display comes from the member itself, read inside the
// write script: the user's displayName (escapes and non-ASCII kept exactly),
// else its userName, also for a user document written before the display
// line existed, and the current name after a rename.
func TestMemberDisplayFromStore(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		resCreate(t, s, "acme", resUser("plain", "plain@example.com", nil))
		resCreate(t, s, "acme", resUser("named", "named@example.com", map[string]any{"displayName": `Zoë "Z" O\Brien`}))
		resCreate(t, s, "acme", resUser("legacy", "Legacy@Example.com", map[string]any{"displayName": "Old Style"}))
		resCreate(t, s, "acme", resGroup("g", "G"))
		// A document of the former layout: three lines, no display line.
		k := docKey("acme", KindUser, "legacy")
		doc, err := s.rdb.Get(ctx, k).Result()
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasSuffix(doc, "\n\"Old Style\"") || strings.Count(doc, "\n") != 3 {
			t.Fatalf("user document without its display line:\n%s", doc)
		}
		legacy := doc[:strings.LastIndexByte(doc, '\n')]
		if err := s.rdb.Set(ctx, k, legacy, 0).Err(); err != nil {
			t.Fatal(err)
		}
		if _, err := s.PatchGroup(ctx, "acme", "g", GroupPatch{Add: memberIDs("plain", "named", "legacy")}, 0); err != nil {
			t.Fatal(err)
		}
		want := []Member{
			{ID: "legacy", Kind: KindUser, Display: "Old Style"},
			{ID: "named", Kind: KindUser, Display: `Zoë "Z" O\Brien`},
			{ID: "plain", Kind: KindUser, Display: "plain@example.com"},
		}
		if got := resMemberList(t, s, "acme", "g"); !reflect.DeepEqual(got, want) {
			t.Fatalf("members = %+v, want %+v", got, want)
		}
		// The user document reads back without a trace of the display line.
		u, err := s.Get(ctx, "acme", KindUser, "named")
		if err != nil || len(u.Attrs) != 3 || u.Attrs["members"] != nil {
			t.Fatalf("user = %+v, %v", u, err)
		}
		// Renamed, then added to another group: the new name.
		if err := s.Replace(ctx, "acme", resUser("plain", "plain@example.com", map[string]any{"displayName": "Plain Jane"}), 0); err != nil {
			t.Fatal(err)
		}
		resCreate(t, s, "acme", resGroup("h", "H"))
		if _, err := s.AddMembers(ctx, "acme", "h", memberIDs("plain"), 0); err != nil {
			t.Fatal(err)
		}
		if got := resMemberList(t, s, "acme", "h"); len(got) != 1 || got[0].Display != "Plain Jane" {
			t.Fatalf("members of h = %+v", got)
		}
	})
}

func TestResolveMembers(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		resCreate(t, s, "acme", resUser("u1", "one@example.com", map[string]any{"displayName": "One"}))
		resCreate(t, s, "acme", resUser("u2", "two@example.com", nil))
		resCreate(t, s, "acme", resGroup("g1", "Group One"))
		got, err := s.ResolveMembers(ctx, "acme", []Member{{ID: "u1"}, {ID: "g1"}, {ID: "u2", Kind: KindUser}, {ID: "g1", Kind: KindGroup}})
		want := []Member{{ID: "u1", Kind: KindUser, Display: "One"}, {ID: "g1", Kind: KindGroup, Display: "Group One"},
			{ID: "u2", Kind: KindUser, Display: "two@example.com"}, {ID: "g1", Kind: KindGroup, Display: "Group One"}}
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("ResolveMembers = %+v, %v; want %+v", got, err, want)
		}
		// A user said to be a group, a group said to be a user, and no one.
		_, err = s.ResolveMembers(ctx, "acme", []Member{{ID: "u1", Kind: KindGroup}, {ID: "g1", Kind: KindUser}, {ID: "nobody"}, {ID: "u2"}})
		var ue *UnknownMemberError
		if !errors.As(err, &ue) || !slices.Equal(ue.IDs, []string{"u1", "g1", "nobody"}) {
			t.Fatalf("unknown members: %v", err)
		}
	})
}

// TestMemberDisplayIsCurrent: a group shows each member's current name. A
// rename of a user or of a nested group shows at once in every read of the
// group (ForEachMember, the group with its members, a query), without a write
// to the group; a display stored with a membership (an older layout, or a
// ReplaceMembers given displays) is not what is shown, and a replace that
// differs from the stored entries only in displays changes nothing.
func TestMemberDisplayIsCurrent(t *testing.T) {
	t.Parallel()
	groupRS := filter.NewResourceSchema(schema.CoreGroupSchema())
	backends(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		resCreate(t, s, "acme", resUser("u1", "alice@example.com", nil))
		resCreate(t, s, "acme", resUser("u2", "bob@example.com", map[string]any{"displayName": "Bob B"}))
		resCreate(t, s, "acme", resGroup("sub", "Sub"))
		resCreate(t, s, "acme", resGroup("g", "All"))
		if _, err := s.AddMembers(ctx, "acme", "g", memberIDs("u1", "u2", "sub"), 0); err != nil {
			t.Fatal(err)
		}
		// What an added membership stores: no name.
		entries, err := s.rdb.ZRange(ctx, membersKey("acme", "g"), 0, -1).Result()
		if err != nil {
			t.Fatal(err)
		}
		if want := []string{"sub\x00Group\x00", "u1\x00User\x00", "u2\x00User\x00"}; !slices.Equal(entries, want) {
			t.Fatalf("entries = %q, want %q", entries, want)
		}
		check := func(want map[string]string) {
			t.Helper()
			got := map[string]string{}
			for _, m := range resMemberList(t, s, "acme", "g") {
				got[m.ID] = m.Display
			}
			if !maps.Equal(got, want) {
				t.Fatalf("ForEachMember displays = %v, want %v", got, want)
			}
			got = map[string]string{}
			for _, m := range complexValues(resGet(t, s, "acme", KindGroup, "g").Attrs["members"]) {
				got[m["value"].(string)], _ = m["display"].(string)
			}
			if !maps.Equal(got, want) {
				t.Fatalf("group read displays = %v, want %v", got, want)
			}
			p, err := s.Query(ctx, "acme", KindGroup, Query{Filter: resCompile(t, groupRS, `members.display eq "`+want["u1"]+`"`), StartIndex: 1, Count: 10})
			if err != nil || len(p.Resources) != 1 || p.Resources[0].ID != "g" {
				t.Fatalf("members.display eq %q = %v, %v", want["u1"], resIDs(p.Resources), err)
			}
		}
		check(map[string]string{"u1": "alice@example.com", "u2": "Bob B", "sub": "Sub"})
		v := resGet(t, s, "acme", KindGroup, "g").Version

		u1 := resGet(t, s, "acme", KindUser, "u1")
		u1.Attrs["displayName"] = "Alice A"
		if err := s.Replace(ctx, "acme", u1, 0); err != nil {
			t.Fatal(err)
		}
		sub := resGet(t, s, "acme", KindGroup, "sub")
		sub.Attrs["displayName"] = "Subgroup"
		if err := s.Replace(ctx, "acme", sub, 0); err != nil {
			t.Fatal(err)
		}
		check(map[string]string{"u1": "Alice A", "u2": "Bob B", "sub": "Subgroup"})
		if got := resGet(t, s, "acme", KindGroup, "g").Version; got != v {
			t.Fatalf("a member's rename changed the group's version %d to %d", v, got)
		}

		// A stored display, as an older layout wrote it, is not shown.
		if err := s.rdb.ZRem(ctx, membersKey("acme", "g"), "u2\x00User\x00").Err(); err != nil {
			t.Fatal(err)
		}
		if err := s.rdb.ZAdd(ctx, membersKey("acme", "g"), redis.Z{Member: "u2\x00User\x00Robert (old)"}).Err(); err != nil {
			t.Fatal(err)
		}
		check(map[string]string{"u1": "Alice A", "u2": "Bob B", "sub": "Subgroup"})
		// A replace with the same members and other displays changes nothing:
		// same version, nobody marked.
		resClearQueue(t, s, "acme")
		if _, err := s.ReplaceMembers(ctx, "acme", "g", []Member{{ID: "u1", Display: "x"}, {ID: "u2", Display: "y"}, {ID: "sub", Display: "z"}}, 0); err != nil {
			t.Fatal(err)
		}
		if got := resGet(t, s, "acme", KindGroup, "g").Version; got != v {
			t.Fatalf("a replace by the same members changed the version %d to %d", v, got)
		}
		if q := resQueued(t, s, "acme"); len(q) != 0 {
			t.Fatalf("a replace by the same members marked %v", q)
		}
		// ForEachMemberRef gives the memberships without reading names.
		var refs []Member
		if err := s.ForEachMemberRef(ctx, "acme", "g", 0, func(ms []Member) error {
			refs = append(refs, ms...)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if want := []Member{{ID: "sub", Kind: KindGroup}, {ID: "u1", Kind: KindUser}, {ID: "u2", Kind: KindUser}}; !reflect.DeepEqual(refs, want) {
			t.Fatalf("ForEachMemberRef = %+v, want %+v", refs, want)
		}
		// A member deleted while the group is read has no display.
		ms := []Member{{ID: "gone", Kind: KindUser}, {ID: "u1", Kind: KindUser}}
		if err := s.fillDisplays(ctx, "acme", ms); err != nil || ms[0].Display != "" || ms[1].Display != "Alice A" {
			t.Fatalf("fillDisplays = %+v, %v", ms, err)
		}
	})
}

func TestDocDisplay(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ doc, want string }{
		{"", ""},
		{"1 2 3 4\n[]\n{\"userName\":\"a\"}\n\"Alice A\"", "Alice A"},
		{"1 2 3 4\n[]\n{\"userName\":\"a\"}\n\"Ren\\u00e9e \\\"R\\\"\"", `Renée "R"`},
		// written before the display line: displayName, else userName
		{"1 2 3 4\n[]\n{\"userName\":\"a\",\"displayName\":\"Alice\"}", "Alice"},
		{"1 2 3 4\n[]\n{\"userName\":\"a\"}", "a"},
		{"1 2 3 4\n[]\nnot json", ""},
	} {
		if got := docDisplay(c.doc); got != c.want {
			t.Errorf("docDisplay(%q) = %q, want %q", c.doc, got, c.want)
		}
	}
}

// TestFillDisplaysFromDocumentEnds: the display comes from the end of a
// user's document, or from the whole document when its display line is
// longer than that end or missing (a document written before the line
// existed).
func TestFillDisplaysFromDocumentEnds(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		long := strings.Repeat("Long Name ", 40)
		resCreate(t, s, "acme", resUser("long", "long@example.com", map[string]any{"displayName": long}))
		resCreate(t, s, "acme", resUser("esc", "esc@example.com", map[string]any{"displayName": "Renée \"R\" \\ <x>"}))
		resCreate(t, s, "acme", resUser("plain", "plain@example.com", nil))
		// a document of the three-line format (no display line)
		legacy := "1 1 1 9\n[\"old@example.com\",\"\"]\n{\"userName\":\"old@example.com\",\"displayName\":\"Old Format\"}"
		if err := s.rdb.Set(ctx, docKey("acme", KindUser, "old"), legacy, 0).Err(); err != nil {
			t.Fatal(err)
		}
		ms := []Member{{ID: "long", Kind: KindUser}, {ID: "esc", Kind: KindUser}, {ID: "old", Kind: KindUser}, {ID: "plain", Kind: KindUser}, {ID: "nobody", Kind: KindUser}}
		// more than one chunk
		for i := 0; i < displayChunk; i++ {
			ms = append(ms, Member{ID: "plain", Kind: KindUser})
		}
		if err := s.fillDisplays(ctx, "acme", ms); err != nil {
			t.Fatal(err)
		}
		want := []string{long, "Renée \"R\" \\ <x>", "Old Format", "plain@example.com", ""}
		for i, w := range want {
			if ms[i].Display != w {
				t.Fatalf("display of %s = %q, want %q", ms[i].ID, ms[i].Display, w)
			}
		}
		if last := ms[len(ms)-1]; last.Display != "plain@example.com" {
			t.Fatalf("display in the second chunk = %q", last.Display)
		}
	})
}

// TestMemberDisplayOfFormerLayout: a group still in the former layout (its
// members in its document, each with the display stored then) shows its
// members' current names too, in every read and in filters.
func TestMemberDisplayOfFormerLayout(t *testing.T) {
	t.Parallel()
	groupRS := filter.NewResourceSchema(schema.CoreGroupSchema())
	backends(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		ids := resUsers(t, s, "acme", 2)
		resLegacyGroup(t, s, "acme", "lg", "Legacy", 1, ids...)
		got := map[string]any{}
		for _, m := range complexValues(resGet(t, s, "acme", KindGroup, "lg").Attrs["members"]) {
			got[m["value"].(string)] = m["display"]
		}
		if want := map[string]any{"u0000": "u0000", "u0001": "u0001"}; !maps.Equal(got, want) {
			t.Fatalf("group read displays = %v, want %v", got, want)
		}
		if ms := resMemberList(t, s, "acme", "lg"); len(ms) != 2 || ms[0].Display != "u0000" {
			t.Fatalf("ForEachMember = %+v", ms)
		}
		for expr, want := range map[string][]string{
			`members.display eq "u0000"`:         {"lg"},
			`members.display eq "name of u0000"`: nil,
		} {
			p, err := s.Query(ctx, "acme", KindGroup, Query{Filter: resCompile(t, groupRS, expr), StartIndex: 1, Count: 10})
			if err != nil || !slices.Equal(resIDs(p.Resources), want) {
				t.Fatalf("%s = %v, %v; want %v", expr, resIDs(p.Resources), err, want)
			}
		}
	})
}

// TestSetMemberSharingAnID: a user and a group may share an id and are then
// two members. Setting the membership to the user alone (a PUT, or
// ReplaceMembers) leaves exactly one entry, the user's, whatever display the
// entries were stored with.
func TestSetMemberSharingAnID(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		resCreate(t, s, "acme", resUser("x", "xuser", nil))
		resCreate(t, s, "acme", resGroup("x", "XGroup"))
		for _, replace := range []string{"put", "ReplaceMembers"} {
			gid := "g-" + replace
			resCreate(t, s, "acme", resGroup(gid, "G "+replace))
			for _, k := range []Kind{KindGroup, KindUser} {
				if _, err := s.AddMembers(ctx, "acme", gid, []Member{{ID: "x", Kind: k}}, 0); err != nil {
					t.Fatal(err)
				}
			}
			if ms := resMemberList(t, s, "acme", gid); len(ms) != 2 {
				t.Fatalf("%s: members before = %+v, want the group and the user x", replace, ms)
			}
			switch replace {
			case "put":
				g := resGet(t, s, "acme", KindGroup, gid)
				g.Attrs["members"] = []any{map[string]any{"value": "x", "type": "User", "display": "given"}}
				if err := s.Replace(ctx, "acme", g, 0); err != nil {
					t.Fatal(err)
				}
			default:
				if _, err := s.ReplaceMembers(ctx, "acme", gid, []Member{{ID: "x", Kind: KindUser, Display: "given"}}, 0); err != nil {
					t.Fatal(err)
				}
			}
			entries, err := s.rdb.ZRange(ctx, membersKey("acme", gid), 0, -1).Result()
			if err != nil || len(entries) != 1 || !strings.HasPrefix(entries[0], "x\x00User\x00") {
				t.Fatalf("%s: entries = %q, %v; want one entry of the user x", replace, entries, err)
			}
			if ms := resMemberList(t, s, "acme", gid); len(ms) != 1 || ms[0] != (Member{ID: "x", Kind: KindUser, Display: "xuser"}) {
				t.Fatalf("%s: members = %+v", replace, ms)
			}
			if groups, _ := s.GroupsOf(ctx, "acme", []string{"x"}); len(groups["x"]) == 0 {
				t.Fatalf("%s: the user x lost its reverse index entry", replace)
			}
			mo, _ := s.rdb.ZRangeByLex(ctx, memberOfIndexKey("acme"), &redis.ZRangeBy{Min: "[Group|x\x00" + gid, Max: "[Group|x\x00" + gid}).Result()
			if len(mo) != 0 {
				t.Fatalf("%s: the group x is still indexed as a member: %q", replace, mo)
			}
		}
	})
}

// TestGroupPageDisplays: groups read together (GetMany, a list page) get
// their members' displays in one pass, each group its own members.
func TestGroupPageDisplays(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, s *Store) {
		resCreate(t, s, "acme", resUser("a", "ann@example.com", map[string]any{"displayName": "Ann"}))
		resCreate(t, s, "acme", resUser("b", "ben@example.com", nil))
		resCreate(t, s, "acme", resUser("c", "cy@example.com", map[string]any{"displayName": "Cy"}))
		resCreate(t, s, "acme", resGroup("g1", "One", "a", "b"))
		resCreate(t, s, "acme", resGroup("g2", "Two"))
		resCreate(t, s, "acme", resGroup("g3", "Three", "c"))
		resLegacyGroup(t, s, "acme", "g4", "Four", 9, "b", "c")
		rs, err := s.GetMany(context.Background(), "acme", KindGroup, []string{"g1", "g2", "g3", "g4"})
		if err != nil || len(rs) != 4 {
			t.Fatalf("GetMany = %d groups, %v", len(rs), err)
		}
		want := []map[string]any{{"a": "Ann", "b": "ben@example.com"}, {}, {"c": "Cy"}, {"b": "ben@example.com", "c": "Cy"}}
		for i, r := range rs {
			got := map[string]any{}
			for _, m := range complexValues(r.Attrs["members"]) {
				got[m["value"].(string)] = m["display"]
			}
			if !maps.Equal(got, want[i]) {
				t.Fatalf("%s members = %v, want %v", r.ID, got, want[i])
			}
		}
	})
}

// TestSharedIDDeleteLeavesTheOtherKind: a user and a group sharing an id are
// two members; deleting the user removes the user's membership only (set and
// reverse index alike), and a later removal by id removes the group's.
func TestSharedIDDeleteLeavesTheOtherKind(t *testing.T) {
	backends(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		resCreate(t, s, "acme", resUser("x", "x-user", nil))
		resCreate(t, s, "acme", resGroup("x", "X group"))
		resCreate(t, s, "acme", resGroup("g", "G"))
		for _, k := range []Kind{KindUser, KindGroup} { // one request names an id once
			if _, err := s.AddMembers(ctx, "acme", "g", []Member{{ID: "x", Kind: k}}, 0); err != nil {
				t.Fatal(err)
			}
		}
		if n, err := s.MemberCount(ctx, "acme", "g"); err != nil || n != 2 {
			t.Fatalf("%d members, %v; want the user x and the group x", n, err)
		}
		if err := s.Delete(ctx, "acme", KindUser, "x", 0); err != nil {
			t.Fatal(err)
		}
		var left []Member
		if err := s.ForEachMember(ctx, "acme", "g", 0, func(ms []Member) error { left = append(left, ms...); return nil }); err != nil {
			t.Fatal(err)
		}
		if len(left) != 1 || left[0].ID != "x" || left[0].Kind != KindGroup {
			t.Fatalf("members after the user's delete: %+v, want the group x only", left)
		}
		idx, err := s.rdb.ZRange(ctx, memberOfIndexKey("acme"), 0, -1).Result()
		if err != nil || len(idx) != 1 || idx[0] != "Group|x\x00g" {
			t.Fatalf("reverse index %q, %v; want the group's entry only", idx, err)
		}
		if _, err := s.RemoveMembers(ctx, "acme", "g", []string{"x"}, 0); err != nil {
			t.Fatal(err)
		}
		if n, err := s.MemberCount(ctx, "acme", "g"); err != nil || n != 0 {
			t.Fatalf("%d members after removing x, %v; want 0", n, err)
		}
	})
}
