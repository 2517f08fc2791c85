package store

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
)

// resLegacyGroup writes a group in the former layout by hand, as the previous
// version's write script did: the members JSON as the document's fourth line,
// the reverse index, the names and the unique index.
func resLegacyGroup(t *testing.T, s *Store, tenant, gid, name string, seq int, memberIDs ...string) {
	t.Helper()
	ctx := context.Background()
	ms := make([]any, len(memberIDs))
	for i, id := range memberIDs {
		ms[i] = map[string]any{"value": id, "display": "name of " + id, "type": "User"}
	}
	js, err := json.Marshal(ms)
	if err != nil {
		t.Fatal(err)
	}
	ix, _ := json.Marshal([]string{strings.ToLower(name), ""})
	doc := fmt.Sprintf("3 %d %d %d\n%s\n{\"displayName\":%q}\n%s", resT0.UnixNano(), resT0.UnixNano(), seq, ix, name, js)
	pipe := s.rdb.Pipeline()
	pipe.Set(ctx, docKey(tenant, KindGroup, gid), doc, 0)
	pipe.ZAdd(ctx, orderKey(tenant, KindGroup), redis.Z{Score: float64(seq), Member: gid})
	pipe.HSet(ctx, groupNameIndexKey(tenant), strings.ToLower(name), gid)
	pipe.HSet(ctx, groupNamesKey(tenant), gid, name)
	for _, id := range memberIDs {
		pipe.ZAdd(ctx, memberOfIndexKey(tenant), redis.Z{Member: lexMember("User|"+id, gid)})
	}
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestUpgradeFormerLayout: groups written by the previous version (members
// inside the document) and its unique externalId hash keep working, are
// converted on first touch or by Recover, and lose no membership.
func TestUpgradeFormerLayout(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		ids := resUsers(t, s, "acme", 300)
		resLegacyGroup(t, s, "acme", "touched", "Touched", 1, ids[0:3]...)
		resLegacyGroup(t, s, "acme", "small", "Small", 2, ids[3:10]...)
		resLegacyGroup(t, s, "acme", "big", "Big", 3, ids[10:300]...)
		resLegacyGroup(t, s, "acme", "bydelete", "ByDelete", 4, ids[0:2]...)
		if err := s.rdb.Set(ctx, seqKey("acme"), 1000, 0).Err(); err != nil {
			t.Fatal(err)
		}

		// Reads understand the former layout.
		if got := resMemberIDs(t, resGet(t, s, "acme", KindGroup, "big")); !slices.Equal(got, ids[10:300]) {
			t.Fatalf("Get of a former-layout group: %d members", len(got))
		}
		if got := resMemberListIDs(t, s, "acme", "small"); !slices.Equal(got, ids[3:10]) {
			t.Fatalf("ForEachMember: %v", got)
		}
		if _, n, err := s.GetGroup(ctx, "acme", "big"); err != nil || n != 290 {
			t.Fatalf("GetGroup: %d, %v", n, err)
		}
		// First touch converts atomically, keeping every member.
		if v, err := s.AddMembers(ctx, "acme", "touched", memberIDs(ids[5]), 3); err != nil || v != 4 {
			t.Fatalf("add to a former-layout group: %d, %v", v, err)
		}
		if got := resMemberListIDs(t, s, "acme", "touched"); !slices.Equal(got, []string{ids[0], ids[1], ids[2], ids[5]}) {
			t.Fatalf("after add: %v", got)
		}
		// A user delete converts the groups it leaves.
		if err := s.Delete(ctx, "acme", KindUser, ids[1], 0); err != nil {
			t.Fatal(err)
		}
		if got := resMemberListIDs(t, s, "acme", "bydelete"); !slices.Equal(got, ids[0:1]) {
			t.Fatalf("after user delete: %v", got)
		}
		// The former unique externalId index of users.
		resCreate(t, s, "acme", resUser("ext", "ext", map[string]any{"externalId": "EXT-9"}))
		if err := s.rdb.ZRem(ctx, userExtIDIndexKey("acme"), lexMember("EXT-9", "ext")).Err(); err != nil {
			t.Fatal(err)
		}
		if err := s.rdb.HSet(ctx, legacyUserExtIDIndexKey("acme"), "EXT-9", "ext").Err(); err != nil {
			t.Fatal(err)
		}

		if err := s.Recover(ctx, "acme"); err != nil {
			t.Fatal(err)
		}
		for gid, want := range map[string][]string{"small": ids[3:10], "big": ids[10:300]} {
			doc, _ := s.rdb.Get(ctx, docKey("acme", KindGroup, gid)).Result()
			if _, legacy := legacyMembers(doc); legacy || !strings.HasSuffix(doc, "\n=") {
				t.Fatalf("%s not converted: %q", gid, doc)
			}
			if got := resMemberListIDs(t, s, "acme", gid); !slices.Equal(got, want) {
				t.Fatalf("%s after Recover: %d members, want %d", gid, len(got), len(want))
			}
			if g := resGet(t, s, "acme", KindGroup, gid); g.Version != 3 {
				t.Fatalf("%s: conversion changed the version to %d", gid, g.Version)
			}
			// A member's display is its current name (here its userName), not
			// the one the former layout stored with the membership.
			if m := complexValues(resGet(t, s, "acme", KindGroup, gid).Attrs["members"]); m[0]["display"] != want[0] || m[0]["type"] != "User" {
				t.Fatalf("%s lost displays: %v", gid, m[0])
			}
		}
		groups, _ := s.GroupsOf(ctx, "acme", []string{ids[200]})
		if len(groups[ids[200]]) != 1 || groups[ids[200]][0].ID != "big" {
			t.Fatalf("GroupsOf after Recover = %v", groups)
		}
		if got := resExternalIDs(t, s, KindUser, "EXT-9"); !slices.Equal(got, []string{"ext"}) {
			t.Fatalf("externalId after Recover: %v", got)
		}
		if n, _ := s.rdb.Exists(ctx, legacyUserExtIDIndexKey("acme")).Result(); n != 0 {
			t.Fatal("former externalId index still there")
		}
		// Idempotent.
		before := resSnapshot(t, s, "acme")
		if err := s.Recover(ctx, "acme"); err != nil {
			t.Fatal(err)
		}
		if after := resSnapshot(t, s, "acme"); !slices.Equal(slices.Sorted(maps.Keys(before)), slices.Sorted(maps.Keys(after))) {
			t.Fatal("a second Recover changed the keys")
		}
	})
}

// TestRecoverFinishesGroupDelete: a process that died while clearing a
// deleted group's members leaves a trash set; Recover clears it and marks
// every former member dirty.
func TestRecoverFinishesGroupDelete(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		ids := resUsers(t, s, "acme", 150)
		resCreate(t, s, "acme", resGroup("g", "G", ids...))
		resClearQueue(t, s, "acme")
		// The delete script's part alone, as if the process died right after it.
		trash := key("acme", "trash", "group", "g", "tok")
		res, err := deleteScript.Run(ctx, s.rdb,
			[]string{docKey("acme", KindGroup, "g"), queueKey("acme"), orderKey("acme", KindGroup), trash},
			tenantPrefix("acme"), "Group", "g", 0, resT0.UnixMilli(), resT0.UnixNano(), memberChunk).Slice()
		if err != nil || res[1] != int64(1) {
			t.Fatalf("delete script: %v, %v", res, err)
		}
		if err := s.Recover(ctx, "acme"); err != nil {
			t.Fatal(err)
		}
		if q := resQueued(t, s, "acme"); len(q) != len(ids)+1 {
			t.Fatalf("%d marks, want %d", len(q), len(ids)+1)
		}
		if g, _ := s.GroupsOf(ctx, "acme", ids); len(g) != 0 {
			t.Fatalf("reverse index keeps %d users", len(g))
		}
		if n, _ := s.rdb.Exists(ctx, trash, key("acme", "trash")).Result(); n != 0 {
			t.Fatal("trash left")
		}
	})
}
