package store

import (
	"context"
	"errors"
	"slices"
	"testing"
)

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
		e1, err := s.beginReplace(ctx, "acme", "g", 0, "")
		if err != nil {
			t.Fatal(err)
		}
		var drop []string
		for _, m := range resMemberList(t, s, "acme", "g") {
			drop = append(drop, m.entry())
		}
		if _, err := s.changeMembers(ctx, "acme", "g", "drop", checkNone, e1, 0, nil, drop, nil); err != nil {
			t.Fatal(err)
		}
		// replacement B fails: displayName taken
		_, err = s.PatchGroup(ctx, "acme", "g", GroupPatch{Attrs: renameTo("Taken", ""), Add: memberIDs(a...), ReplaceMembers: true}, 0)
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
