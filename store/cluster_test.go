package store

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/elimity-com/scim/schema"

	"github.com/scim-bridge/scim-bridge/filter"
	"github.com/scim-bridge/scim-bridge/store/redistest"
)

// TestRedisCluster runs the store's main paths through the public API against a
// real three-node Redis Cluster: every key of a tenant carries its hash tag, so
// each tenant's scripts and transactions stay on one slot, whichever node owns it.
func TestRedisCluster(t *testing.T) {
	t.Parallel()
	s := openTestStore(t, redistest.StartCluster(t))
	ctx := context.Background()
	userRS := filter.NewResourceSchema(schema.CoreUserSchema(), schema.ExtensionEnterpriseUser())
	// Tenants chosen to land on different nodes' slots in practice; correctness
	// must not depend on where they land.
	for _, tenant := range []string{"acme", "globex", "initech", "umbrella"} {
		t.Run(tenant, func(t *testing.T) {
			resCreate(t, s, tenant, resUser("u1", "Ada@Example.com", map[string]any{
				"emails": []any{map[string]any{"value": "ada@example.com"}}}))
			resCreate(t, s, tenant, resUser("u2", "bob", nil))
			err := s.Create(ctx, tenant, resUser("u3", "ada@example.COM", nil))
			var ce *ConflictError
			if !errors.As(err, &ce) || ce.Attr != "userName" {
				t.Fatalf("duplicate userName: %v", err)
			}
			resCreate(t, s, tenant, resGroup("g1", "Design", "u1", "u2"))

			f, err := filter.Compile(userRS, `userName eq "ada@example.com"`)
			if err != nil {
				t.Fatal(err)
			}
			page, err := s.Query(ctx, tenant, KindUser, Query{Filter: f, StartIndex: 1, Count: 10})
			if err != nil || page.Total != 1 || page.Resources[0].ID != "u1" {
				t.Fatalf("query: %+v, %v", page, err)
			}
			all, err := s.Query(ctx, tenant, KindUser, Query{StartIndex: 1, Count: 10})
			if err != nil || all.Total != 2 {
				t.Fatalf("list: %+v, %v", all, err)
			}
			groups, err := s.GroupsOf(ctx, tenant, []string{"u1", "u2"})
			if err != nil || len(groups["u1"]) != 1 || groups["u2"][0].DisplayName != "Design" {
				t.Fatalf("groups: %v, %v", groups, err)
			}
			if ids, err := s.FindUserIDsByEmail(ctx, tenant, "ADA@example.com"); err != nil || len(ids) != 1 {
				t.Fatalf("by email: %v, %v", ids, err)
			}
			if err := s.Delete(ctx, tenant, KindUser, "u2", 0); err != nil {
				t.Fatal(err)
			}
			if g := resGet(t, s, tenant, KindGroup, "g1"); len(g.Attrs["members"].([]any)) != 1 || g.Attrs["members"].([]any)[0].(map[string]any)["value"] != "u1" {
				t.Fatalf("deleted user still a member: %v", g.Attrs["members"])
			}

			// Membership as sets: add, remove, replace in steps, stream, upgrade.
			resCreate(t, s, tenant, resUser("u4", "dan", nil))
			if v, err := s.AddMembers(ctx, tenant, "g1", memberIDs("u4", "u1"), 0); err != nil || v != 3 {
				t.Fatalf("add: version %d, %v", v, err)
			}
			if _, err := s.AddMembers(ctx, tenant, "g1", memberIDs("ghost"), 0); !errors.Is(err, ErrUnknownMember) {
				t.Fatalf("unknown member: %v", err)
			}
			if _, err := s.RemoveMembers(ctx, tenant, "g1", []string{"u1", "u4"}, 0); err != nil {
				t.Fatal(err)
			}
			if got := resMemberListIDs(t, s, tenant, "g1"); len(got) != 0 {
				t.Fatalf("members after remove: %v", got)
			}
			many := make([]string, 100)
			for i := range many {
				many[i] = fmt.Sprintf("m%03d", i)
				resCreate(t, s, tenant, resUser(many[i], many[i], nil))
			}
			if _, err := s.ReplaceMembers(ctx, tenant, "g1", memberIDs(many...), 0); err != nil {
				t.Fatal(err)
			}
			if n, err := s.MemberCount(ctx, tenant, "g1"); err != nil || n != len(many) {
				t.Fatalf("count after replace: %d, %v", n, err)
			}
			resCreate(t, s, tenant, resGroup("big", "Big", many...))
			if err := s.Delete(ctx, tenant, KindGroup, "big", 0); err != nil {
				t.Fatal(err)
			}
			if err := s.Recover(ctx, tenant); err != nil {
				t.Fatal(err)
			}
			if err := s.Delete(ctx, tenant, KindGroup, "g1", 0); err != nil {
				t.Fatal(err)
			}
			if g, _ := s.GroupsOf(ctx, tenant, many); len(g) != 0 {
				t.Fatalf("reverse index after deletes: %v", g)
			}

			// The writes marked their keys: claim, record, ack.
			claims, err := s.Claim(ctx, tenant, "w1", time.Minute, 1000)
			if err != nil || len(claims) == 0 {
				t.Fatalf("claim: %v, %v", claims, err)
			}
			for _, c := range claims {
				st := &SyncState{Connector: "odm", Subject: c.Key.Subject(), Status: SyncSynced, AppliedHash: "h"}
				if err := s.PutSync(ctx, tenant, st); err != nil {
					t.Fatal(err)
				}
				if err := s.Ack(ctx, c); err != nil {
					t.Fatal(err)
				}
			}
			counts, err := s.SyncCounts(ctx, tenant)
			if err != nil || counts["odm"][SyncSynced] != len(claims) {
				t.Fatalf("sync counts %v, %v (claimed %d)", counts, err, len(claims))
			}
			if qs, err := s.QueueStats(ctx, tenant); err != nil || qs.Pending != 0 || qs.Leased != 0 {
				t.Fatalf("queue after acks: %+v, %v", qs, err)
			}
			lock, err := s.AcquireLock(ctx, tenant, "reconcile", "r1", time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.AcquireLock(ctx, tenant, "reconcile", "r2", time.Minute); !errors.Is(err, ErrLocked) {
				t.Fatalf("second holder: %v", err)
			}
			if err := s.ReleaseLock(ctx, lock); err != nil {
				t.Fatal(err)
			}
		})
	}
}
