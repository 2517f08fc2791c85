package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
)

// TestReplaceSupersedesEarlier: a replacement of a group's members that
// begins while another is between its steps supersedes it; the earlier one's
// later steps write nothing, so the group ends with the later membership,
// never a mix of both (here: the earlier one's removals ran, then the later
// replacement, then the earlier one's set step would have added its members
// back on top).
func TestReplaceSupersedesEarlier(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		ids := resUsers(t, s, "acme", 9)
		a, b, c := ids[0:3], ids[3:6], ids[6:9]
		resCreate(t, s, "acme", resGroup("g", "G", a...))

		e1 := beginAndDrop(t, s, "g") // the replacement by b begins
		// the replacement by c, whole
		vc, err := s.ReplaceMembers(ctx, "acme", "g", memberIDs(c...), 0)
		if err != nil {
			t.Fatal(err)
		}
		// the first one's next step
		v, err := s.changeMembers(ctx, "acme", "g", "set", checkGone, e1, 0, memberIDs(b...), nil, nil)
		if !errors.Is(err, errSuperseded) || v != vc {
			t.Fatalf("set step of the superseded replacement: version %d, %v; want %d, errSuperseded", v, err, vc)
		}
		if got := resMemberListIDs(t, s, "acme", "g"); !slices.Equal(got, c) {
			t.Fatalf("members = %v, want %v", got, c)
		}
		// replaceMembers takes errSuperseded as done
		if v, err := s.replaceMembers(ctx, "acme", "g", memberIDs(b...), checkGone, e1, 0, nil); err != nil || v != vc {
			t.Fatalf("superseded replaceMembers: %d, %v", v, err)
		}
		// a PATCH replacement's first step changes the attributes only
		if v, _, sup, err := s.runPatchStep(ctx, "acme", "g", patchStep{adds: memberIDs(b...), check: checkGone, epoch: e1}); err != nil || !sup || v != vc {
			t.Fatalf("superseded patch step: %d, %v, %v", v, sup, err)
		}
		if got := resMemberListIDs(t, s, "acme", "g"); !slices.Equal(got, c) {
			t.Fatalf("members after the superseded steps = %v, want %v", got, c)
		}

		// A replacement failing its precondition supersedes nothing.
		e2, err := s.beginReplace(ctx, "acme", "g", 0, "")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.ReplaceMembers(ctx, "acme", "g", memberIDs(a...), 999); !errors.Is(err, ErrPrecondition) {
			t.Fatalf("stale replacement: %v", err)
		}
		if _, err := s.PatchGroup(ctx, "acme", "g", GroupPatch{Add: memberIDs(a...), ReplaceMembers: true}, 999); !errors.Is(err, ErrPrecondition) {
			t.Fatalf("stale patch replacement: %v", err)
		}
		if _, err := s.replaceMembers(ctx, "acme", "g", memberIDs(b...), checkGone, e2, 0, nil); err != nil {
			t.Fatal(err)
		}
		if got := resMemberListIDs(t, s, "acme", "g"); !slices.Equal(got, b) {
			t.Fatalf("members = %v, want %v (the replacement a failed one did not supersede)", got, b)
		}

		// Deleting the group forgets its epoch.
		if err := s.Delete(ctx, "acme", KindGroup, "g", 0); err != nil {
			t.Fatal(err)
		}
		if n, err := s.rdb.HExists(ctx, tenantPrefix("acme")+"replace-epoch", "g").Result(); err != nil || n {
			t.Fatalf("epoch of a deleted group kept: %v, %v", n, err)
		}
	})
}

// TestConcurrentReplacementsNeverMix: replacements of one group racing by
// every path (ReplaceMembers, a PATCH replace, a PUT) end with exactly one of
// the memberships asked for.
func TestConcurrentReplacementsNeverMix(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		n := 3 * s.writeChunk() / 2 // more than one step each
		resBulkLoadUsers(t, s, "acme", 0, 3*n)
		ids := make([]string, 3*n)
		for i := range ids {
			ids[i] = resBenchUser(i).ID
		}
		sets := [][]string{ids[:n], ids[n : 2*n], ids[2*n:]}
		resCreate(t, s, "acme", resGroup("g", "G", sets[0]...))
		replace := []func(ms []string) error{
			func(ms []string) error { _, err := s.ReplaceMembers(ctx, "acme", "g", memberIDs(ms...), 0); return err },
			func(ms []string) error {
				_, err := s.PatchGroup(ctx, "acme", "g", GroupPatch{Add: memberIDs(ms...), ReplaceMembers: true}, 0)
				return err
			},
			func(ms []string) error { return s.Replace(ctx, "acme", resGroup("g", "G", ms...), 0) },
		}
		for round := range 3 { // each pair of the three paths
			var wg sync.WaitGroup
			errs := make([]error, 2)
			for w := range 2 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					errs[w] = replace[(round+w)%3](sets[1+w])
				}()
			}
			wg.Wait()
			if err := errors.Join(errs...); err != nil {
				t.Fatal(err)
			}
			got := resMemberListIDs(t, s, "acme", "g")
			if !slices.Equal(got, sets[1]) && !slices.Equal(got, sets[2]) {
				t.Fatalf("round %d: %d members, neither replacement's", round, len(got))
			}
			// the reverse index agrees (a sample: every 25th user)
			var sample []string
			for i := 0; i < len(ids); i += 25 {
				sample = append(sample, ids[i])
			}
			groups, err := s.GroupsOf(ctx, "acme", sample)
			if err != nil {
				t.Fatal(err)
			}
			for _, id := range sample {
				if in := len(groups[id]) == 1; in != slices.Contains(got, id) {
					t.Fatalf("round %d: %s indexed as a member %v, in the set %v", round, id, in, !in)
				}
			}
		}
	})
}

// TestLaterStepsLeaveOutDeletedMembers: a member checked before a request's
// first step and deleted before a later step is left out by that step (its
// delete removed it from its groups; adding it then would leave a member
// that does not exist), and the request does not fail half done. So is one
// deleted between a PUT's resolution of its members and its write.
func TestLaterStepsLeaveOutDeletedMembers(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		ids := resUsers(t, s, "acme", 6)
		resCreate(t, s, "acme", resGroup("g", "G"))
		if err := s.Delete(ctx, "acme", KindUser, ids[1], 0); err != nil {
			t.Fatal(err)
		}
		if _, err := s.changeMembers(ctx, "acme", "g", "add", checkAll, 0, 0, memberIDs(ids[0], ids[1]), nil, nil); !errors.Is(err, ErrUnknownMember) {
			t.Fatalf("checkAll with a deleted member: %v", err)
		}
		if _, err := s.changeMembers(ctx, "acme", "g", "add", checkGone, 0, 0, memberIDs(ids[0], ids[1], ids[2]), nil, nil); err != nil {
			t.Fatal(err)
		}
		var ver int64
		if err := s.patchRest(ctx, "acme", "g", memberIDs(ids[1], ids[3]), nil, 0, &ver); err != nil || ver == 0 {
			t.Fatalf("later patch steps: %d, %v", ver, err)
		}
		if v, _, _, err := s.runPatchStep(ctx, "acme", "g", patchStep{adds: memberIDs(ids[1], ids[4]), check: checkGone}); err != nil || v <= ver {
			t.Fatalf("patch step leaving out a deleted member: %d, %v", v, err)
		}
		want := []string{ids[0], ids[2], ids[3], ids[4]}
		if got := resMemberListIDs(t, s, "acme", "g"); !slices.Equal(got, want) {
			t.Fatalf("members = %v, want %v", got, want)
		}
		// PUT and POST, whose members were resolved before the write: the
		// member is left out of the group and of the resource they return.
		given := func(r *Resource) []string {
			var out []string
			for _, m := range complexValues(r.Attrs["members"]) {
				out = append(out, m["value"].(string))
			}
			return out
		}
		put := resGroup("g", "G", ids[1], ids[5])
		if err := s.Replace(ctx, "acme", put, 0); err != nil {
			t.Fatal(err)
		}
		if got := resMemberListIDs(t, s, "acme", "g"); !slices.Equal(got, ids[5:]) || !slices.Equal(given(put), ids[5:]) {
			t.Fatalf("members after a PUT naming a deleted user = %v, returned %v", got, given(put))
		}
		post := resGroup("g2", "G2", ids[1], ids[5])
		resCreate(t, s, "acme", post)
		if got := resMemberListIDs(t, s, "acme", "g2"); !slices.Equal(got, ids[5:]) || !slices.Equal(given(post), ids[5:]) {
			t.Fatalf("members after a POST naming a deleted user = %v, returned %v", got, given(post))
		}
		// larger than one step: the steps after the group's write
		more := []string{ids[1]}
		for i := range memberChunk + 1 {
			id := fmt.Sprintf("m%03d", i)
			resCreate(t, s, "acme", resUser(id, id, nil))
			more = append(more, id)
		}
		for _, w := range []string{"POST", "PUT"} {
			big := resGroup("g3", "G3", more...)
			if w == "POST" {
				resCreate(t, s, "acme", big)
			} else if err := s.Replace(ctx, "acme", big, 0); err != nil {
				t.Fatal(err)
			}
			if got := resMemberListIDs(t, s, "acme", "g3"); !slices.Equal(got, more[1:]) || !slices.Equal(given(big), more[1:]) {
				t.Fatalf("%s of %d members naming a deleted user: %d stored, %d returned", w, len(more), len(got), len(given(big)))
			}
		}
		if groups, _ := s.GroupsOf(ctx, "acme", ids[1:2]); len(groups[ids[1]]) != 0 {
			t.Fatalf("the deleted user is indexed in %v", groups[ids[1]])
		}
	})
}

// TestFailedReplacementSupersedesNothing: a PATCH replacement that fails
// (here: its new displayName is taken) does not supersede a replacement
// running its steps, which completes.
func TestFailedReplacementSupersedesNothing(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		ids := resUsers(t, s, "acme", 6)
		a, b := ids[0:3], ids[3:6]
		resCreate(t, s, "acme", resGroup("g", "G", a...))
		resCreate(t, s, "acme", resGroup("g2", "Taken"))

		// replacement A (by b) begins and runs its drop step
		e1 := beginAndDrop(t, s, "g")
		// replacement B fails: displayName taken
		_, err := s.PatchGroup(ctx, "acme", "g", GroupPatch{Attrs: renameTo("Taken", ""), Add: memberIDs(a...), ReplaceMembers: true}, 0)
		if !errors.Is(err, ErrConflict) {
			t.Fatalf("B: %v, want conflict", err)
		}
		// A's set step
		_, err = s.replaceMembers(ctx, "acme", "g", memberIDs(b...), checkGone, e1, 0, nil)
		if err != nil {
			t.Fatal(err)
		}
		got := resMemberListIDs(t, s, "acme", "g")
		if !slices.Equal(got, b) {
			t.Fatalf("members = %v, want %v (A completed: B failed and changed nothing)", got, b)
		}
	})
}

// TestReplaceMembersIfMatch: ReplaceMembers checks ifVersion again on its
// first write: a change after beginReplace (here AddMembers) is 412.
func TestReplaceMembersIfMatch(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		ids := resUsers(t, s, "acme", 4)
		resCreate(t, s, "acme", resGroup("g", "G", ids[0]))
		g, _, err := s.GetGroup(ctx, "acme", "g")
		if err != nil {
			t.Fatal(err)
		}
		v := g.Version
		// ReplaceMembers(ids[1:3], v) as it runs, with a concurrent AddMembers
		// landing after its beginReplace
		e, err := s.beginReplace(ctx, "acme", "g", v, "")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.AddMembers(ctx, "acme", "g", memberIDs(ids[3]), 0); err != nil {
			t.Fatal(err)
		}
		_, err = s.replaceMembers(ctx, "acme", "g", memberIDs(ids[1:3]...), checkGone, e, v, nil) // as ReplaceMembers calls it
		if !errors.Is(err, ErrPrecondition) {
			t.Fatalf("replacement conditional on version %d wrote over version %d: err %v, members %v", v, v+1, err, resMemberListIDs(t, s, "acme", "g"))
		}
	})
}

// beginAndDrop begins a replacement of group gid's members (tenant acme) and
// runs its first step, the removal of every current member; it returns the
// replacement's epoch.
func beginAndDrop(t *testing.T, s *Store, gid string) int64 {
	t.Helper()
	ctx := context.Background()
	epoch, err := s.beginReplace(ctx, "acme", gid, 0, "")
	if err != nil {
		t.Fatal(err)
	}
	var drop []string
	for _, m := range resMemberList(t, s, "acme", gid) {
		drop = append(drop, m.entry())
	}
	if _, err := s.changeMembers(ctx, "acme", gid, "drop", checkNone, epoch, 0, nil, drop, nil); err != nil {
		t.Fatal(err)
	}
	return epoch
}
