package store

import (
	"context"
	"slices"
	"sort"
	"sync"
	"testing"
)

// TestMemberChangeDuringReplacementCountsAfterIt: a replacement of a group's
// members that runs in steps is ordered at its beginning. A member change by
// another writer that lands between its steps counts as after it: the
// replacement's later steps leave the ids that change touched as it left
// them, so the group never ends with part of the change undone.
func TestMemberChangeDuringReplacementCountsAfterIt(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		c := s.writeChunk()
		ids := make([]string, 3*c)
		for i := range ids {
			ids[i] = resBenchUser(i).ID
		}
		resBulkLoadUsers(t, s, "acme", 0, len(ids))
		old, want := ids[:2*c], ids[c:] // drops ids[:c], keeps ids[c:2c], adds ids[2c:]
		resCreate(t, s, "acme", resGroup("g", "G", old...))

		epoch, err := s.beginReplace(ctx, "acme", "g", 0, "")
		if err != nil {
			t.Fatal(err)
		}
		// after the replacement began: an add of two members it drops, a
		// removal of two it adds and of one it keeps
		if _, err := s.AddMembers(ctx, "acme", "g", memberIDs(ids[0], ids[c-1]), 0); err != nil {
			t.Fatal(err)
		}
		if _, err := s.PatchGroup(ctx, "acme", "g", GroupPatch{Remove: []string{ids[2*c], ids[3*c-1], ids[c]}}, 0); err != nil {
			t.Fatal(err)
		}
		if _, err := s.replaceMembers(ctx, "acme", "g", memberIDs(want...), checkGone, epoch, 0, nil); err != nil {
			t.Fatal(err)
		}
		s.endReplace(ctx, "acme", "g", epoch)

		expect := []string{ids[0], ids[c-1]}
		for _, id := range want {
			if id != ids[2*c] && id != ids[3*c-1] && id != ids[c] {
				expect = append(expect, id)
			}
		}
		sort.Strings(expect)
		got := resMemberListIDs(t, s, "acme", "g")
		if !slices.Equal(got, expect) {
			t.Fatalf("members: %d, want %d (the replacement undid a change made after it began)", len(got), len(expect))
		}
		// the reverse index agrees
		groups, err := s.GroupsOf(ctx, "acme", []string{ids[0], ids[c], ids[2*c], ids[2*c+1]})
		if err != nil {
			t.Fatal(err)
		}
		for id, in := range map[string]bool{ids[0]: true, ids[c]: false, ids[2*c]: false, ids[2*c+1]: true} {
			if (len(groups[id]) == 1) != in {
				t.Fatalf("%s indexed as a member: %v, want %v", id, len(groups[id]) == 1, in)
			}
		}

		// Ended: nothing is noted any more, and the notes are gone.
		if _, err := s.AddMembers(ctx, "acme", "g", memberIDs(ids[1]), 0); err != nil {
			t.Fatal(err)
		}
		p := tenantPrefix("acme")
		if n, err := s.rdb.Exists(ctx, p+"replace-running:g", p+"replace-touched:g").Result(); err != nil || n != 0 {
			t.Fatalf("replacement keys after its end: %d, %v", n, err)
		}
	})
}

// TestMemberPatchesRacingReplacementsNeverHalfApply: member PATCHes sent one
// after another while a replacement of a large group runs, by each path a
// replacement takes (ReplaceMembers, a PATCH replace, a PUT), each end either
// wholly before or wholly after it: the two members a PATCH adds (which the
// replacement drops) and the two it removes (which the replacement adds) are
// all its or none.
func TestMemberPatchesRacingReplacementsNeverHalfApply(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		c := s.writeChunk()
		n := 4 * c // the replacement drops 2c members and adds 2c: several steps
		if s.embedded != nil {
			n = c // a drop step and a set step: a PATCH can land between them, at the embedded store's speed
		}
		ids := make([]string, 2*n)
		for i := range ids {
			ids[i] = resBenchUser(i).ID
		}
		resBulkLoadUsers(t, s, "acme", 0, len(ids))
		old, want := ids[:n], ids[n/2:n/2+n]
		replace := map[string]func() error{
			"ReplaceMembers": func() error { _, err := s.ReplaceMembers(ctx, "acme", "g", memberIDs(want...), 0); return err },
			"PATCH replace": func() error {
				_, err := s.PatchGroup(ctx, "acme", "g", GroupPatch{Add: memberIDs(want...), ReplaceMembers: true}, 0)
				return err
			},
			"PUT": func() error { return s.Replace(ctx, "acme", resGroup("g", "G", want...), 0) },
		}
		resCreate(t, s, "acme", resGroup("g", "G"))
		for _, path := range []string{"ReplaceMembers", "PATCH replace", "PUT"} {
			if err := s.Replace(ctx, "acme", resGroup("g", "G", old...), 0); err != nil {
				t.Fatal(err)
			}
			if got := len(resMemberListIDs(t, s, "acme", "g")); got != n {
				t.Fatalf("%s: set-up: %d members, want %d", path, got, n)
			}
			// PATCH k adds dropped[2k], dropped[2k+1] and removes added[2k], added[2k+1]
			dropped, added := ids[:n/2], ids[n:n/2+n]
			var (
				wg      sync.WaitGroup
				done    = make(chan struct{})
				rerr    error
				patches int
				perr    error
			)
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer close(done)
				rerr = replace[path]()
			}()
		patching:
			for k := 0; 2*k+1 < len(dropped); k++ {
				select {
				case <-done:
					break patching
				default:
				}
				p := GroupPatch{Add: memberIDs(dropped[2*k], dropped[2*k+1]), Remove: []string{added[2*k], added[2*k+1]}}
				if _, err := s.PatchGroup(ctx, "acme", "g", p, 0); err != nil {
					perr = err
					break
				}
				patches++
			}
			wg.Wait()
			if rerr != nil || perr != nil {
				t.Fatalf("%s: replacement %v, patch %v", path, rerr, perr)
			}
			got := make(map[string]bool)
			for _, id := range resMemberListIDs(t, s, "acme", "g") {
				got[id] = true
			}
			for k := range patches {
				after := []bool{got[dropped[2*k]], got[dropped[2*k+1]], !got[added[2*k]], !got[added[2*k+1]]}
				if slices.Contains(after, true) && slices.Contains(after, false) {
					t.Fatalf("%s: PATCH %d of %d half applied: %v (added present x2, removed absent x2)", path, k, patches, after)
				}
			}
			// the members no PATCH touched are the replacement's
			for i, id := range dropped {
				if i >= 2*patches && got[id] {
					t.Fatalf("%s: %s kept, dropped by the replacement", path, id)
				}
			}
			for i, id := range added {
				if i >= 2*patches && !got[id] {
					t.Fatalf("%s: %s missing, added by the replacement", path, id)
				}
			}
			for _, id := range ids[n/2 : n] {
				if !got[id] {
					t.Fatalf("%s: %s missing, kept by the replacement", path, id)
				}
			}
			t.Logf("%s: %d PATCHes ran during the replacement", path, patches)
		}
	})
}

// TestReplacementNotesExpire: a replacement that stops stepping without
// ending (its process died) leaves notes that expire, so other writers stop
// noting their changes.
func TestReplacementNotesExpire(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		ids := resUsers(t, s, "acme", 3)
		resCreate(t, s, "acme", resGroup("g", "G", ids[0]))
		if _, err := s.beginReplace(ctx, "acme", "g", 0, ""); err != nil {
			t.Fatal(err)
		}
		if _, err := s.AddMembers(ctx, "acme", "g", memberIDs(ids[1]), 0); err != nil {
			t.Fatal(err)
		}
		p := tenantPrefix("acme")
		for _, k := range []string{p + "replace-running:g", p + "replace-touched:g"} {
			ttl, err := s.rdb.PTTL(ctx, k).Result()
			if err != nil || ttl <= 0 {
				t.Fatalf("%s: ttl %v, %v; want an expiry", k, ttl, err)
			}
		}
		if got, err := s.rdb.SMembers(ctx, p+"replace-touched:g").Result(); err != nil || !slices.Equal(got, []string{ids[1]}) {
			t.Fatalf("noted %v, %v; want [%s]", got, err, ids[1])
		}
		// Deleting the group forgets both.
		if err := s.Delete(ctx, "acme", KindGroup, "g", 0); err != nil {
			t.Fatal(err)
		}
		if n, err := s.rdb.Exists(ctx, p+"replace-running:g", p+"replace-touched:g").Result(); err != nil || n != 0 {
			t.Fatalf("replacement keys of a deleted group: %d, %v", n, err)
		}
	})
}
