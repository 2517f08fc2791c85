package bridge

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/scim-bridge/scim-bridge/connectors/bimplus"
)

// TestFanoutBimplusSharedEmail: two SCIM users share one email, so one
// Bimplus member. The member's role is the union of what both users' groups
// grant, whichever converged last, found through the bridge's directory
// (connectors.UsersByEmailDirectory on the store's email index); a
// reconciliation finds nothing to repair; when the editor leaves its group,
// the other user's viewer role remains, and when that one leaves too, the
// membership is removed.
func TestFanoutBimplusSharedEmail(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, url string) {
		const email = "alice@example.com"
		const groupViewers = "Viewers"
		ds := startDownstream(t)
		ds.addGroupMapping(groupViewers, bimplus.Grant{Project: projectP1, Role: "Project_Viewer"})
		ds.memberOf(email)
		f := newFanout(t, url, ds, fanoutConfig{Connectors: []string{connBimplus}})
		f.run(t)
		ctx := context.Background()
		synced := func(n int) func() error {
			return func() error { return f.allSynced(t, map[string]int{connBimplus: n}) }
		}

		alice := f.mustCreateID(t, "/Users", scimUser(email, "Alice", "Liddell"))
		second := scimUser(email, "Alice", "Second")
		second["userName"], second["externalId"] = "alice.second", "ext-alice.second"
		alice2 := f.mustCreateID(t, "/Users", second)

		design := f.mustCreateID(t, "/Groups", scimGroup(groupDesign, alice))
		eventually(t, 10*time.Second, func() error {
			return errors.Join(bimplusRoleIs(ds, projectP1, email, "Project_Editor"), synced(2)())
		})
		// The second account converges after the first, in a group granting
		// less: the member keeps the higher role.
		viewers := f.mustCreateID(t, "/Groups", scimGroup(groupViewers, alice2))
		eventually(t, 10*time.Second, synced(2))
		if err := bimplusRoleIs(ds, projectP1, email, "Project_Editor"); err != nil {
			t.Fatalf("after the viewer converged: %v", err)
		}
		if p, err := f.b.Reconcile(ctx, "acme", ReconcileOptions{DryRun: true}); err != nil || len(p.Items) != 0 || len(p.Errors) != 0 {
			t.Fatalf("reconcile dry run: err %v, plan %+v; want nothing to do", err, p)
		}

		f.mustPatch(t, "/Groups/"+design, removeMemberOp(alice))
		eventually(t, 10*time.Second, func() error {
			return errors.Join(bimplusRoleIs(ds, projectP1, email, "Project_Viewer"), synced(2)())
		})
		f.mustPatch(t, "/Groups/"+viewers, removeMemberOp(alice2))
		eventually(t, 10*time.Second, func() error {
			return errors.Join(bimplusRoleIs(ds, projectP1, email, ""), synced(2)())
		})
		ds.expectNoDuplicates(t, nil)
		// POST (editor), PUT (down to viewer), DELETE: nothing flapped.
		if got := ds.bimplus.Writes(); got != 3 {
			t.Errorf("bimplus writes %d, want 3", got)
		}
	})
}
