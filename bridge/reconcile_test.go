package bridge

// Reconciliation tests: drift made by hand in each downstream fake is found by a
// run and repaired by the sync worker; a dry run reports the same plan and
// changes nothing; the deletion threshold holds a large plan back; one replica
// at a time reconciles a tenant; the admin endpoint runs it over HTTP.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scim-bridge/scim-bridge/bridge/internal/fakeconn"
	"github.com/scim-bridge/scim-bridge/bridge/reconcile"
	"github.com/scim-bridge/scim-bridge/connectors"
	"github.com/scim-bridge/scim-bridge/connectors/authress"
	authressfake "github.com/scim-bridge/scim-bridge/connectors/authress/fake"
	bimdatafake "github.com/scim-bridge/scim-bridge/connectors/bimdata/fake"
	scimfake "github.com/scim-bridge/scim-bridge/connectors/scim/fake"
	"github.com/scim-bridge/scim-bridge/store"
)

// TestReconcileRepairsDrift makes drift by hand in every fake after the bridge
// converged them, and checks that one run plans exactly the repairs (the dry
// run the same ones, changing nothing), that the worker applies them with the
// minimal writes, and that a second run finds nothing left to do.
func TestReconcileRepairsDrift(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, url string) {
		t.Parallel()
		ctx := context.Background()
		const (
			aliceEmail   = "alice@example.com"
			bobEmail     = "bob@example.com"
			carolEmail   = "carol@example.com"
			unknownEmail = "stranger@example.com"
		)
		ds := startDownstream(t)
		aliceMember := ds.memberOf(aliceEmail)
		bobMember := ds.memberOf(bobEmail)
		ds.memberOf(carolEmail)
		// invitation_cache 0s: every user convergence lists invitations, so the
		// dry run and the real run see the same downstream and plan alike.
		f := rcStart(t, url, ds, rcConfig{InvitationCache: "0s"})
		f.run(t)

		alice := rcUserID(t, f, aliceEmail, true)
		bob := rcUserID(t, f, bobEmail, true)
		carol := rcUserID(t, f, carolEmail, true)
		f.mustCreateID(t, "/Groups", scimGroup(groupDesign, alice))
		eventually(t, 15*time.Second, func() error { return odmUser(ds, carolEmail, true, true) })
		f.mustPatch(t, "/Users/"+carol, replaceOp("active", false))
		eventually(t, 15*time.Second, func() error {
			return errors.Join(
				ssoConnectionExists(ds),
				bimplusRoleIs(ds, projectP1, aliceEmail, "Project_Editor"),
				bimdataUser(ds, aliceEmail, true), bimdataUser(ds, carolEmail, false),
				odmUser(ds, carolEmail, true, false), odmUser(ds, bobEmail, true, true),
			)
		})
		rcSynced(t, f, map[string]int{connBIMData: 3, connBimplus: 3, connODM: 3, connAuthress: 1})

		// A converged tenant: a run finds nothing.
		if p, err := f.b.Reconcile(ctx, "acme", ReconcileOptions{DryRun: true}); err != nil || len(p.Items) != 0 || len(p.Errors) != 0 {
			t.Fatalf("converged tenant: plan %+v, err %v; want no item", p, err)
		}

		// Drift, each made by hand downstream.
		if err := ds.bimplus.SetMembership(projectP1, aliceMember, "Project_Viewer"); err != nil {
			t.Fatal(err)
		}
		// Bob's groups ask for nothing: a membership added by hand is not one the
		// bridge manages (bimplus package doc) and stays without prune_unmanaged.
		if err := ds.bimplus.SetMembership(projectP1, bobMember, "Project_Viewer"); err != nil {
			t.Fatal(err)
		}
		sso := ds.ssoConnections()[0]
		ds.authress.Update(sso.ConnectionID, func(c *authressfake.Connection) { c.TokenURL = "https://evil.example/token" })
		invAlice := ds.bimdata.AddInvitation(bimdatafake.Invitation{Email: aliceEmail})
		invStranger := ds.bimdata.AddInvitation(bimdatafake.Invitation{Email: unknownEmail})
		carolODM, _ := ds.odm.UserByName(carolEmail)
		ds.odm.Update(carolODM.ID, func(u *scimfake.User) { u.Active = true })

		before := rcWrites(ds)
		snap := rcSyncSnapshot(t, f)

		dry, err := f.b.Reconcile(ctx, "acme", ReconcileOptions{DryRun: true})
		if err != nil {
			t.Fatalf("dry run: %v", err)
		}
		want := []struct{ connector, subject, op string }{
			{connBimplus, "User|" + alice, "update"},
			{connAuthress, "Tenant|acme", "update"},
			{connBIMData, fmt.Sprintf("Object|bimdata/invitation:%d", invStranger.ID), "deny"},
			{connODM, "User|" + carol, "delete"},
		}
		for _, w := range want {
			if !rcHasItem(dry, w.connector, w.subject, w.op) {
				t.Errorf("dry run plan lacks %s %s %s; items:\n%s", w.connector, w.subject, w.op, strings.Join(rcItemKeys(dry.Items), "\n"))
			}
		}
		// Alice's invitation is reached both by her user subject and as an
		// invitation subject: the plan names its acceptance once.
		accepts := 0
		for _, it := range dry.Items {
			if it.Op == "accept" && strings.HasPrefix(it.Object, fmt.Sprintf("invitation %d ", invAlice.ID)) {
				accepts++
			}
		}
		if accepts != 1 || len(dry.Items) != 5 {
			t.Errorf("dry run: %d accepts of invitation %d (want 1), %d items (want 5):\n%s", accepts, invAlice.ID, len(dry.Items), strings.Join(rcItemKeys(dry.Items), "\n"))
		}
		for _, it := range dry.Items {
			if it.Subject == "User|"+bob {
				t.Errorf("plan touches bob, whose hand-made membership is not managed: %+v", it)
			}
			if it.Reason == "" {
				t.Errorf("plan item without a reason: %+v", it)
			}
		}
		// Carol's deactivation and the stranger's denied invitation (a denial
		// cannot be taken back: it counts against the threshold).
		if dry.Deletions != 2 || len(dry.Errors) != 0 || !dry.DryRun {
			t.Errorf("dry run: deletions %d, errors %v, dryRun %v; want 2, none, true", dry.Deletions, dry.Errors, dry.DryRun)
		}
		// The dry run changed nothing: no downstream write, no sync state, no queue mark.
		if d := rcWritesSince(ds, before); len(d) != 0 {
			t.Errorf("dry run wrote downstream: %v", d)
		}
		if after := rcSyncSnapshot(t, f); !slices.Equal(after, snap) {
			t.Errorf("dry run changed the sync state or the queue:\nbefore %v\nafter  %v", snap, after)
		}
		if err := bimplusRoleIs(ds, projectP1, aliceEmail, "Project_Viewer"); err != nil {
			t.Errorf("after the dry run: %v", err)
		}

		// One real run: the same plan, then the worker repairs everything.
		plan, err := f.b.Reconcile(ctx, "acme", ReconcileOptions{})
		if err != nil {
			t.Fatalf("reconcile: %v", err)
		}
		if got, want := rcItemKeys(plan.Items), rcItemKeys(dry.Items); !slices.Equal(got, want) {
			t.Errorf("real run plan differs from the dry run:\nreal %v\ndry  %v", got, want)
		}
		if plan.DryRun || plan.Refused {
			t.Errorf("real run: dryRun %v refused %v", plan.DryRun, plan.Refused)
		}
		eventually(t, 15*time.Second, func() error {
			var errs []error
			errs = append(errs, bimplusRoleIs(ds, projectP1, aliceEmail, "Project_Editor"))
			if c, _ := ds.authress.Get(sso.ConnectionID); c.TokenURL != ssoTokenURL {
				errs = append(errs, fmt.Errorf("authress: tokenUrl %q, want %q", c.TokenURL, ssoTokenURL))
			}
			errs = append(errs,
				bimdataInvitation(ds, invAlice.ID, bimdatafake.StatusAccepted),
				bimdataInvitation(ds, invStranger.ID, bimdatafake.StatusDenied),
				odmUser(ds, carolEmail, true, false))
			return errors.Join(errs...)
		})
		// bimdata: three users and the stranger's invitation (alice's is her user's).
		rcSynced(t, f, map[string]int{connBIMData: 4, connBimplus: 3, connODM: 3, connAuthress: 1})
		if err := bimplusRoleIs(ds, projectP1, bobEmail, "Project_Viewer"); err != nil {
			t.Errorf("unmanaged membership: %v", err)
		}
		// Minimal writes: PUT alice's role, PUT the connection, accept + deny,
		// deactivate carol; nothing twice.
		wantWrites := map[string]int{connBimplus: 1, connAuthress: 1, connBIMData: 2, connODM: 1}
		if d := rcWritesSince(ds, before); !mapsEqual(d, wantWrites) {
			t.Errorf("repair writes %v, want %v", d, wantWrites)
		}
		ds.expectNoDuplicates(t, nil)

		// One run was enough: nothing is left to repair.
		again, err := f.b.Reconcile(ctx, "acme", ReconcileOptions{DryRun: true})
		if err != nil || len(again.Items) != 0 {
			t.Errorf("after the repair: plan %v, err %v; want no item", rcItemKeys(again.Items), err)
		}
	})
}

func mapsEqual(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// TestReconcilePrunesUnmanagedMemberships: with prune_unmanaged, a membership
// added by hand on a mapped project — for a SCIM user whose groups do not ask
// for it, and for a team member no SCIM user owns — is removed by one run; the
// dry run says so first.
func TestReconcilePrunesUnmanagedMemberships(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const bobEmail, ghostEmail = "bob@example.com", "ghost@example.com"
	ds := startDownstream(t)
	bobMember := ds.memberOf(bobEmail)
	ghostMember := ds.memberOf(ghostEmail)
	f := rcStart(t, "", ds, rcConfig{Connectors: []string{connBimplus}, PruneUnmanaged: true})
	f.run(t)
	bob := rcUserID(t, f, bobEmail, true)
	rcSynced(t, f, map[string]int{connBimplus: 1})

	for _, m := range []string{bobMember, ghostMember} {
		if err := ds.bimplus.SetMembership(projectP1, m, "Project_Viewer"); err != nil {
			t.Fatal(err)
		}
	}
	before := rcWrites(ds)
	dry, err := f.b.Reconcile(ctx, "acme", ReconcileOptions{DryRun: true})
	if err != nil {
		t.Fatalf("dry run: %v", err)
	}
	if !rcHasItem(dry, connBimplus, "User|"+bob, "delete") {
		t.Errorf("dry run does not remove bob's unmanaged membership: %v", rcItemKeys(dry.Items))
	}
	if !slices.ContainsFunc(dry.Items, func(it PlanItem) bool {
		return it.Subject == "orphan" && it.Op == "delete" && strings.Contains(it.Object, ghostEmail)
	}) {
		t.Errorf("dry run does not prune the owner-less membership of %s: %v", ghostEmail, rcItemKeys(dry.Items))
	}
	if dry.Deletions != 2 {
		t.Errorf("dry run: %d deletions, want 2", dry.Deletions)
	}
	if d := rcWritesSince(ds, before); len(d) != 0 {
		t.Errorf("dry run wrote downstream: %v", d)
	}

	plan, err := f.b.Reconcile(ctx, "acme", ReconcileOptions{})
	if err != nil || len(plan.Errors) != 0 {
		t.Fatalf("reconcile: %v %v", err, plan.Errors)
	}
	eventually(t, 10*time.Second, func() error {
		return errors.Join(bimplusRoleIs(ds, projectP1, bobEmail, ""), bimplusRoleIs(ds, projectP1, ghostEmail, ""))
	})
	rcSynced(t, f, map[string]int{connBimplus: 1})
	if d := rcWritesSince(ds, before); d[connBimplus] != 2 {
		t.Errorf("bimplus writes %d, want 2 (two DELETEs)", d[connBimplus])
	}
	ds.expectNoDuplicates(t, nil)
}

// TestReconcileOrphans: downstream objects no SCIM resource owns are pruned
// only where the adapter's prune setting allows it — a connection the bridge
// made for a tenant that is gone or for a connector removed from a tenant that
// still exists, a user nobody provisions — and hand-made
// connections never; the plan names exactly what the run then does.
func TestReconcileOrphans(t *testing.T) {
	t.Parallel()
	for _, prune := range []bool{false, true} {
		t.Run(fmt.Sprintf("prune=%v", prune), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			ds := startDownstream(t)
			f := rcStart(t, "", ds, rcConfig{Connectors: []string{connAuthress, connODM}, AuthressPrune: prune, ODMPrune: prune})
			f.run(t)
			rcUserID(t, f, "erin@example.com", true)
			eventually(t, 10*time.Second, func() error {
				return errors.Join(ssoConnectionExists(ds), odmUser(ds, "erin@example.com", true, true))
			})
			rcSynced(t, f, map[string]int{connAuthress: 1, connODM: 1})
			gone := ds.authress.Put(authressfake.Connection{
				Type: "OAUTH2", AuthenticationURL: "https://gone.example/authorize", ClientID: "gone",
				Tags: map[string]string{authress.TagTenant: "gone", authress.TagConnector: connAuthress},
			})
			// Made for a connector this tenant (which still exists) no longer has.
			removed := ds.authress.Put(authressfake.Connection{
				Type: "OAUTH2", AuthenticationURL: "https://removed.example/authorize", ClientID: "removed",
				Tags: map[string]string{authress.TagTenant: "acme", authress.TagConnector: "sso-removed"},
			})
			handMade := ds.authress.Put(authressfake.Connection{Type: "OAUTH2", AuthenticationURL: "https://hand.example/authorize", ClientID: "hand"})
			orphan := ds.odm.Seed(scimfake.User{UserName: "orphan@example.com", Email: "orphan@example.com", Active: true})
			before := rcWrites(ds)

			dry, err := f.b.Reconcile(ctx, "acme", ReconcileOptions{DryRun: true})
			if err != nil || len(dry.Errors) != 0 {
				t.Fatalf("dry run: %v %v", err, dry.Errors)
			}
			wantDeletions := 0
			if prune {
				wantDeletions = 3
			}
			if dry.Deletions != wantDeletions || len(dry.Items) != wantDeletions {
				t.Errorf("dry run: %d deletions in %v, want %d", dry.Deletions, rcItemKeys(dry.Items), wantDeletions)
			}
			for _, it := range dry.Items {
				if it.Subject != "orphan" || it.Op != "delete" || strings.Contains(it.Object, handMade.ConnectionID) {
					t.Errorf("unexpected plan item %+v", it)
				}
			}
			plan, err := f.b.Reconcile(ctx, "acme", ReconcileOptions{})
			if err != nil || len(plan.Errors) != 0 {
				t.Fatalf("reconcile: %v %v", err, plan.Errors)
			}
			if got, want := rcItemKeys(plan.Items), rcItemKeys(dry.Items); !slices.Equal(got, want) {
				t.Errorf("real plan %v, dry %v", got, want)
			}
			_, goneLeft := ds.authress.Get(gone.ConnectionID)
			_, removedLeft := ds.authress.Get(removed.ConnectionID)
			u, _ := ds.odm.User(orphan.ID)
			if goneLeft == prune || removedLeft == prune || u.Active == prune {
				t.Errorf("prune=%v: orphan connections left %v (gone tenant) %v (removed connector), orphan user active %v", prune, goneLeft, removedLeft, u.Active)
			}
			if err := ssoConnectionExists(ds); err != nil {
				t.Errorf("the live connector's connection: %v", err)
			}
			if _, ok := ds.authress.Get(handMade.ConnectionID); !ok {
				t.Error("a hand-made connection was deleted")
			}
			total := 0
			for _, n := range rcWritesSince(ds, before) {
				total += n
			}
			if total != wantDeletions {
				t.Errorf("writes %v, want %d in all", rcWritesSince(ds, before), wantDeletions)
			}
		})
	}
}

// TestReconcileDeletionThreshold: a plan with more deletions than the tenant's
// threshold is refused and changes nothing; with Force it is applied.
func TestReconcileDeletionThreshold(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, url string) {
		t.Parallel()
		ctx := context.Background()
		ds := startDownstream(t)
		f := rcStart(t, url, ds, rcConfig{Connectors: []string{connODM}, DeletionThreshold: 2})
		f.run(t)
		emails := []string{"u1@example.com", "u2@example.com", "u3@example.com"}
		odmUsers := func(active bool) error {
			var errs []error
			for _, e := range emails {
				errs = append(errs, odmUser(ds, e, true, active))
			}
			return errors.Join(errs...)
		}
		var ids []string
		for _, e := range emails {
			ids = append(ids, rcUserID(t, f, e, true))
		}
		eventually(t, 10*time.Second, func() error { return odmUsers(true) })
		for _, id := range ids {
			f.mustPatch(t, "/Users/"+id, replaceOp("active", false))
		}
		eventually(t, 10*time.Second, func() error { return odmUsers(false) })
		rcSynced(t, f, map[string]int{connODM: 3})
		// Reactivated by hand: three deactivations to plan, one more than allowed.
		for _, e := range emails {
			u, _ := ds.odm.UserByName(e)
			ds.odm.Update(u.ID, func(u *scimfake.User) { u.Active = true })
		}
		before := rcWrites(ds)
		snap := rcSyncSnapshot(t, f)

		for _, dryRun := range []bool{true, false} {
			plan, err := f.b.Reconcile(ctx, "acme", ReconcileOptions{DryRun: dryRun})
			if !errors.Is(err, ErrTooManyDeletions) {
				t.Fatalf("dry run %v: err %v, want ErrTooManyDeletions", dryRun, err)
			}
			if plan == nil || !plan.Refused || plan.Deletions != 3 || len(plan.Items) != 3 {
				t.Fatalf("dry run %v: plan %+v; want refused with 3 deletions", dryRun, plan)
			}
		}
		// Refused: nothing downstream, nothing in the sync state or the queue, so
		// the worker has nothing to do either.
		if d := rcWritesSince(ds, before); len(d) != 0 {
			t.Errorf("refused run wrote downstream: %v", d)
		}
		if after := rcSyncSnapshot(t, f); !slices.Equal(after, snap) {
			t.Errorf("refused run changed the sync state or the queue:\nbefore %v\nafter  %v", snap, after)
		}

		plan, err := f.b.Reconcile(ctx, "acme", ReconcileOptions{Force: true})
		if err != nil || plan.Refused || plan.Deletions != 3 {
			t.Fatalf("forced run: plan %+v, err %v", plan, err)
		}
		eventually(t, 10*time.Second, func() error { return odmUsers(false) })
		if d := rcWritesSince(ds, before); d[connODM] != 3 {
			t.Errorf("odm writes %d, want 3 deactivations", d[connODM])
		}
		ds.expectNoDuplicates(t, nil)
	})
}

// rcGate is a tenant-level connector whose dry-run convergence (a reconcile
// run) records how many runs are inside it at once, and can hold them.
type rcGate struct {
	name string
	mu   sync.Mutex
	in   int
	max  int
	runs int
	// hold, when not nil, is waited on inside a dry-run convergence; entered
	// receives one value per entry.
	hold    chan struct{}
	entered chan string
	delay   time.Duration
}

// conn returns the gate's connector as replica instance sees it.
func (g *rcGate) conn(instance string) connectors.Connector {
	return &fakeconn.Connector{
		ConnName:    g.name,
		Kinds:       []connectors.SubjectKind{connectors.SubjectTenant},
		ProjectFunc: func(s connectors.Subject) any { return s.ID },
		ConvergeFunc: func(ctx context.Context, s connectors.Subject, prev connectors.Record, opts connectors.Options) (connectors.Record, []connectors.Action, error) {
			if !opts.DryRun {
				return prev, nil, nil // the worker's convergence at start: not a run
			}
			g.mu.Lock()
			g.in++
			g.runs++
			g.max = max(g.max, g.in)
			hold, entered, delay := g.hold, g.entered, g.delay
			g.mu.Unlock()
			defer func() {
				g.mu.Lock()
				g.in--
				g.mu.Unlock()
			}()
			if entered != nil {
				entered <- instance
			}
			if hold != nil {
				select {
				case <-hold:
				case <-ctx.Done():
					return prev, nil, ctx.Err()
				}
			}
			if delay > 0 {
				time.Sleep(delay)
			}
			return prev, nil, nil
		},
	}
}

func (g *rcGate) stats() (maxIn, runs int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.max, g.runs
}

// rcReplicas builds n bridges on one store, each with its own InstanceID and a
// gate connector sharing g.
func rcReplicas(t *testing.T, url string, g *rcGate, n int, every time.Duration) []*fanEnv {
	st := openStore(t, url)
	var out []*fanEnv
	for i := range n {
		instance := fmt.Sprintf("replica-%d", i)
		ts := newTestServer(t, url, func(o *Options) {
			o.Store = st
			o.InstanceID = instance
			o.Tenants[0].Connectors = []connectors.Connector{g.conn(instance)}
			o.Tenants[0].ReconcileEvery = every
		})
		out = append(out, &fanEnv{testServer: ts, st: st})
	}
	return out
}

// TestReconcileOneReplicaAtATime: two bridges on one store never reconcile a
// tenant at once; the one that finds the lock taken gets store.ErrLocked.
func TestReconcileOneReplicaAtATime(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, url string) {
		t.Parallel()
		t.Run("concurrent calls", func(t *testing.T) {
			ctx := context.Background()
			g := &rcGate{name: "gate", hold: make(chan struct{}), entered: make(chan string, 2)}
			rs := rcReplicas(t, url, g, 2, 0)
			type result struct {
				plan *Plan
				err  error
			}
			results := make(chan result, 2)
			for _, r := range rs {
				go func() {
					p, err := r.b.ReconcileLocked(ctx, "acme", ReconcileOptions{})
					results <- result{p, err}
				}()
			}
			// One replica is inside its run and holds it there; the other must
			// come back with ErrLocked meanwhile.
			var winner string
			select {
			case winner = <-g.entered:
			case <-time.After(10 * time.Second):
				t.Fatal("no replica started a run")
			}
			var loser result
			select {
			case loser = <-results:
			case <-time.After(10 * time.Second):
				t.Fatal("the second replica neither ran nor gave up")
			}
			if !errors.Is(loser.err, store.ErrLocked) || loser.plan != nil {
				t.Errorf("second replica: plan %v err %v; want ErrLocked", loser.plan, loser.err)
			}
			if owner, _, err := rs[0].st.LockHolder(ctx, "acme", reconcile.LockName); err != nil || owner != winner {
				t.Errorf("lock holder %q (err %v), want %q", owner, err, winner)
			}
			close(g.hold)
			w := <-results
			if w.err != nil || w.plan == nil || w.plan.Checked != 1 {
				t.Errorf("winner: plan %+v err %v", w.plan, w.err)
			}
			if maxIn, runs := g.stats(); maxIn != 1 || runs != 1 {
				t.Errorf("runs inside at once %d, runs %d; want 1 and 1", maxIn, runs)
			}
			// The lock is released: both may run now, one after the other.
			for _, r := range rs {
				if _, err := r.b.ReconcileLocked(ctx, "acme", ReconcileOptions{}); err != nil {
					t.Errorf("after release: %v", err)
				}
			}
		})
		t.Run("scheduled", func(t *testing.T) {
			g := &rcGate{name: "gate", delay: 15 * time.Millisecond}
			rs := rcReplicas(t, url, g, 2, 5*time.Millisecond)
			for _, r := range rs {
				r.run(t)
			}
			eventually(t, 10*time.Second, func() error {
				if _, runs := g.stats(); runs < 10 {
					return fmt.Errorf("%d scheduled runs so far", runs)
				}
				return nil
			})
			for _, r := range rs {
				r.stop()
			}
			if maxIn, runs := g.stats(); maxIn != 1 {
				t.Errorf("%d runs of one tenant at once (of %d), want 1", maxIn, runs)
			}
		})
	})
}

// TestAdminReconcile runs reconciliation over POST /admin/reconcile.
func TestAdminReconcile(t *testing.T) {
	t.Parallel()
	ds := startDownstream(t)
	f := rcStart(t, "", ds, rcConfig{Connectors: []string{connODM}, AdminToken: rcAdminToken})
	f.run(t)
	const email = "dana@example.com"
	id := rcUserID(t, f, email, true)
	eventually(t, 10*time.Second, func() error { return odmUser(ds, email, true, true) })
	rcSynced(t, f, map[string]int{connODM: 1})
	u, _ := ds.odm.UserByName(email)
	ds.odm.Update(u.ID, func(u *scimfake.User) { u.DisplayName = "Edited By Hand" })
	before := rcWrites(ds)

	for _, tc := range []struct {
		name, token string
	}{{"no token", ""}, {"wrong token", "not-the-admin-token-0123"}, {"scim token", testToken}} {
		code, body := rcPost(t, f, "/admin/reconcile?tenant=acme&dry_run=true", tc.token, nil)
		if code != http.StatusUnauthorized {
			t.Errorf("%s: status %d (%s), want 401", tc.name, code, body)
		}
	}
	if code, _ := rcPost(t, f, "/admin/reconcile?tenant=nope&dry_run=true", rcAdminToken, nil); code != http.StatusNotFound {
		t.Errorf("unknown tenant: status %d, want 404", code)
	}

	code, body := rcPost(t, f, "/admin/reconcile?tenant=acme&dry_run=true", rcAdminToken, nil)
	if code != http.StatusOK {
		t.Fatalf("dry run: status %d: %s", code, body)
	}
	var plan struct {
		Tenant    string     `json:"tenant"`
		DryRun    bool       `json:"dryRun"`
		Checked   int        `json:"checked"`
		Items     []PlanItem `json:"items"`
		Deletions int        `json:"deletions"`
	}
	if err := json.Unmarshal(body, &plan); err != nil {
		t.Fatalf("plan JSON: %v: %s", err, body)
	}
	if plan.Tenant != "acme" || !plan.DryRun || plan.Checked < 1 || len(plan.Items) != 1 ||
		plan.Items[0].Connector != connODM || plan.Items[0].Subject != "User|"+id || plan.Items[0].Op != "update" ||
		!strings.Contains(plan.Items[0].Reason, "displayName") {
		t.Errorf("dry run plan: %s", body)
	}
	if d := rcWritesSince(ds, before); len(d) != 0 {
		t.Errorf("dry run over HTTP wrote downstream: %v", d)
	}

	code, body = rcPost(t, f, "/admin/reconcile?tenant=acme", rcAdminToken, nil)
	if code != http.StatusOK || !strings.Contains(string(body), `"dryRun": false`) {
		t.Fatalf("reconcile: status %d: %s", code, body)
	}
	eventually(t, 10*time.Second, func() error {
		if u, _ := ds.odm.UserByName(email); u.DisplayName != "Given Family" {
			return fmt.Errorf("odm displayName %q", u.DisplayName)
		}
		return nil
	})
}
