package store

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"sync"
	"testing"

	"github.com/elimity-com/scim/schema"
	"github.com/redis/go-redis/v9"

	"github.com/scim-bridge/scim-bridge/filter"
)

// renameTo returns a GroupPatch.Attrs that sets displayName (and externalId
// when given).
func renameTo(name, externalID string) func(*Resource) (map[string]any, error) {
	return func(cur *Resource) (map[string]any, error) {
		out := maps.Clone(cur.Attrs)
		out["displayName"] = name
		if externalID != "" {
			out["externalId"] = externalID
		}
		return out, nil
	}
}

func TestPatchGroupAtomic(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		resUsers(t, s, "acme", 4)
		resCreate(t, s, "acme", resGroup("g1", "One", "u0000", "u0001"))
		resCreate(t, s, "acme", resGroup("g2", "Two"))
		resClearQueue(t, s, "acme")

		// Attributes and members in one step: one version, one set of marks.
		v, err := s.PatchGroup(ctx, "acme", "g1", GroupPatch{
			Attrs:  renameTo("Uno", "ext-1"),
			Add:    []Member{{ID: "u0002", Display: "Carol"}},
			Remove: []string{"u0000", "nobody"},
		}, 1)
		if err != nil || v != 2 {
			t.Fatalf("patch: version %d, %v", v, err)
		}
		g, n, err := s.GetGroup(ctx, "acme", "g1")
		if err != nil || n != 2 || g.Version != 2 || g.Attrs["displayName"] != "Uno" || g.Attrs["externalId"] != "ext-1" {
			t.Fatalf("GetGroup = %+v, %d, %v", g, n, err)
		}
		want := []Member{{ID: "u0001", Kind: KindUser, Display: "u0001"}, {ID: "u0002", Kind: KindUser, Display: "u0002"}}
		if got := resMemberList(t, s, "acme", "g1"); !reflect.DeepEqual(got, want) {
			t.Fatalf("members = %+v, want %+v", got, want)
		}
		// Renamed: every member is marked, and the former one.
		if got, want := resQueued(t, s, "acme"), []string{"Group|g1", "User|u0000", "User|u0001", "User|u0002"}; !slices.Equal(got, want) {
			t.Fatalf("queue = %v, want %v", got, want)
		}
		f, err := filter.Compile(filter.NewResourceSchema(schema.CoreGroupSchema()), `displayName eq "uno"`)
		if err != nil {
			t.Fatal(err)
		}
		page, err := s.Query(ctx, "acme", KindGroup, Query{Filter: f, Count: 10, ExcludeMembers: true})
		if err != nil || page.Total != 1 {
			t.Fatalf("displayName index after rename: %+v, %v", page, err)
		}
		if ids := resExternalIDs(t, s, KindGroup, "ext-1"); !slices.Equal(ids, []string{"g1"}) {
			t.Fatalf("externalId index = %v", ids)
		}

		// Any failure writes nothing: an unknown member, a taken displayName,
		// a stale version, an error of the attribute function.
		before := resSnapshot(t, s, "acme")
		boom := errors.New("boom")
		for name, tc := range map[string]struct {
			p    GroupPatch
			ifv  int64
			want error
		}{
			"unknown member": {GroupPatch{Attrs: renameTo("Other", ""), Add: memberIDs("u0003", "ghost"), Remove: []string{"u0001"}}, 0, ErrUnknownMember},
			"taken name":     {GroupPatch{Attrs: renameTo("TWO", ""), Add: memberIDs("u0003"), Remove: []string{"u0001"}}, 0, ErrConflict},
			"stale version":  {GroupPatch{Add: memberIDs("u0003")}, 1, ErrPrecondition},
			"stale attrs":    {GroupPatch{Attrs: renameTo("Other", "")}, 1, ErrPrecondition},
			"attrs error": {GroupPatch{Attrs: func(*Resource) (map[string]any, error) { return nil, boom },
				Add: memberIDs("u0003")}, 0, boom},
			"missing group": {GroupPatch{Add: memberIDs("u0003")}, 0, ErrNotFound},
		} {
			gid := "g1"
			if name == "missing group" {
				gid = "nope"
			}
			if _, err := s.PatchGroup(ctx, "acme", gid, tc.p, tc.ifv); !errors.Is(err, tc.want) {
				t.Fatalf("%s: %v, want %v", name, err, tc.want)
			}
		}
		if after := resSnapshot(t, s, "acme"); !reflect.DeepEqual(before, after) {
			t.Fatalf("a rejected patch wrote:\nbefore %v\nafter  %v", before, after)
		}

		// Nothing to change: same version, no write.
		resClearQueue(t, s, "acme")
		if v, err := s.PatchGroup(ctx, "acme", "g1", GroupPatch{Attrs: renameTo("Uno", ""), Add: memberIDs("u0001"), Remove: []string{"u0000"}}, 0); err != nil || v != 2 {
			t.Fatalf("no-op patch: version %d, %v", v, err)
		}
		if q := resQueued(t, s, "acme"); len(q) != 0 {
			t.Fatalf("no-op patch marked %v", q)
		}
	})
}

func TestPatchGroupLarge(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		ids := resUsers(t, s, "acme", 200)
		resCreate(t, s, "acme", resGroup("g", "G", ids[:100]...))
		// 100 removals and 100 additions: more than one step, checked first.
		if _, err := s.PatchGroup(ctx, "acme", "g", GroupPatch{Add: memberIDs(append(slices.Clone(ids[100:]), "ghost")...)}, 0); !errors.Is(err, ErrUnknownMember) {
			t.Fatalf("large add with a ghost: %v", err)
		}
		if got := resMemberListIDs(t, s, "acme", "g"); !slices.Equal(got, ids[:100]) {
			t.Fatalf("a rejected large patch changed the members: %d", len(got))
		}
		if _, err := s.PatchGroup(ctx, "acme", "g", GroupPatch{Attrs: renameTo("G2", ""), Add: memberIDs(ids[100:]...), Remove: ids[:100]}, 0); err != nil {
			t.Fatal(err)
		}
		if got := resMemberListIDs(t, s, "acme", "g"); !slices.Equal(got, ids[100:]) {
			t.Fatalf("members after a large patch: %d", len(got))
		}
	})
}

// Concurrent member patches on one group never conflict, and an attribute
// patch racing them is neither lost nor refused.
func TestPatchGroupConcurrent(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		ids := resUsers(t, s, "acme", 160)
		resCreate(t, s, "acme", resGroup("g", "G"))
		var wg sync.WaitGroup
		errs := make(chan error, 40)
		for w := 0; w < 16; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := w; i < len(ids); i += 16 {
					if _, err := s.PatchGroup(ctx, "acme", "g", GroupPatch{Add: memberIDs(ids[i])}, 0); err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		for r := 0; r < 4; r++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < 5; i++ {
					name := fmt.Sprintf("G-%d-%d", r, i)
					if _, err := s.PatchGroup(ctx, "acme", "g", GroupPatch{Attrs: renameTo(name, "")}, 0); err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		if got := resMemberListIDs(t, s, "acme", "g"); !slices.Equal(got, ids) {
			t.Fatalf("members after concurrent patches: %d of %d", len(got), len(ids))
		}
		g, _, err := s.GetGroup(ctx, "acme", "g")
		if err != nil {
			t.Fatal(err)
		}
		if g.Version != 1+160+20 {
			t.Fatalf("version %d, want %d (one per change)", g.Version, 1+160+20)
		}
	})
}

// A group of the former layout (members inside the document) is converted by
// its first PatchGroup, losing no membership.
func TestPatchGroupFormerLayout(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		ids := resUsers(t, s, "acme", 5)
		resLegacyGroup(t, s, "acme", "old", "Old", 1, ids[:3]...)
		if err := s.rdb.Set(ctx, seqKey("acme"), 1000, 0).Err(); err != nil {
			t.Fatal(err)
		}
		v, err := s.PatchGroup(ctx, "acme", "old", GroupPatch{Attrs: renameTo("Older", ""), Add: memberIDs(ids[4]), Remove: []string{ids[0]}}, 3)
		if err != nil || v != 4 {
			t.Fatalf("patch of a former-layout group: version %d, %v", v, err)
		}
		if got, want := resMemberListIDs(t, s, "acme", "old"), []string{ids[1], ids[2], ids[4]}; !slices.Equal(got, want) {
			t.Fatalf("members %v, want %v", got, want)
		}
		doc, err := s.rdb.Get(ctx, docKey("acme", KindGroup, "old")).Result()
		if err != nil {
			t.Fatal(err)
		}
		if _, legacy := legacyMembers(doc); legacy {
			t.Fatalf("still in the former layout: %q", doc)
		}
	})
}

// TestPatchGroupAddsOnlyNewMembers: an add whose members are all new takes
// the path without look-ups; one that repeats members, or meets an entry
// written with a display by an older version, adds only the new ones, marks
// only them and leaves one entry per member.
func TestPatchGroupAddsOnlyNewMembers(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		ids := resUsers(t, s, "acme", 5)
		resCreate(t, s, "acme", resGroup("x", "XGroup"))
		resCreate(t, s, "acme", resGroup("g", "G", ids[0]))
		mk := membersKey("acme", "g")
		// u0001 as an older version stored it: with its display then.
		if err := s.rdb.ZAdd(ctx, mk, redis.Z{Member: ids[1] + "\x00User\x00Old Name"}).Err(); err != nil {
			t.Fatal(err)
		}
		if err := s.rdb.ZAdd(ctx, memberOfIndexKey("acme"), redis.Z{Member: "User|" + ids[1] + "\x00g"}).Err(); err != nil {
			t.Fatal(err)
		}
		resClearQueue(t, s, "acme")
		add := func(want int64, ms ...Member) {
			t.Helper()
			if v, err := s.PatchGroup(ctx, "acme", "g", GroupPatch{Add: ms}, 0); err != nil || v != want {
				t.Fatalf("add %+v: version %d, %v; want %d", ms, v, err, want)
			}
		}
		add(2, append(memberIDs(ids[0], ids[1], ids[2], ids[2]), Member{ID: "x", Kind: KindGroup})...)
		if got, want := resQueued(t, s, "acme"), []string{"Group|g", "Group|x", "User|" + ids[2]}; !slices.Equal(got, want) {
			t.Fatalf("queue = %v, want %v", got, want)
		}
		entries, err := s.rdb.ZRange(ctx, mk, 0, -1).Result()
		want := []string{ids[0] + "\x00User\x00name of " + ids[0], ids[1] + "\x00User\x00Old Name", ids[2] + "\x00User\x00", "x\x00Group\x00"}
		if err != nil || !slices.Equal(entries, want) {
			t.Fatalf("entries = %q, %v; want %q", entries, err, want)
		}
		resClearQueue(t, s, "acme")
		add(2, memberIDs(ids[0], ids[1], ids[2])...) // nothing new: no change
		if q := resQueued(t, s, "acme"); len(q) != 0 {
			t.Fatalf("a repeated add marked %v", q)
		}
		add(3, memberIDs(ids[3], ids[4])...) // all new
		if got, want := resQueued(t, s, "acme"), []string{"Group|g", "User|" + ids[3], "User|" + ids[4]}; !slices.Equal(got, want) {
			t.Fatalf("queue = %v, want %v", got, want)
		}
		groups, err := s.GroupsOf(ctx, "acme", ids)
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range ids {
			if len(groups[id]) != 1 || groups[id][0].ID != "g" {
				t.Fatalf("groups of %s = %+v", id, groups[id])
			}
		}
		if got := resMemberListIDs(t, s, "acme", "g"); !slices.Equal(got, append(slices.Clone(ids), "x")) {
			t.Fatalf("members = %v", got)
		}
	})
}
