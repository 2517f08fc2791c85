package bridge

// End-to-end tests of the durable fan-out: SCIM writes over HTTP, the bridge's
// workers running, and real HTTP between the adapters and the downstream fakes.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scim-bridge/scim-bridge/bridge/fanout"
	bimdatafake "github.com/scim-bridge/scim-bridge/connectors/bimdata/fake"
	"github.com/scim-bridge/scim-bridge/connectors/bimplus"
	"github.com/scim-bridge/scim-bridge/store"
)

// Downstream conditions, each nil when it holds.

func bimdataUser(ds *downstream, email string, present bool) error {
	if _, ok := ds.bimdata.User(email); ok != present {
		return fmt.Errorf("bimdata: user %s present=%v, want %v", email, ok, present)
	}
	return nil
}

func bimdataInvitation(ds *downstream, id int, status string) error {
	inv, ok := ds.bimdata.Invitation(id)
	if !ok || inv.Status != status {
		return fmt.Errorf("bimdata: invitation %d is %q, want %q", id, inv.Status, status)
	}
	return nil
}

// odmUser checks the ODM user with that userName: absent (exists false), or
// present with that active flag.
func odmUser(ds *downstream, userName string, exists, active bool) error {
	u, ok := ds.odm.UserByName(userName)
	switch {
	case ok != exists:
		return fmt.Errorf("odm: user %s exists=%v, want %v", userName, ok, exists)
	case ok && u.Active != active:
		return fmt.Errorf("odm: user %s active=%v, want %v", userName, u.Active, active)
	}
	return nil
}

func bimplusRoleIs(ds *downstream, project, email, role string) error {
	if got := ds.bimplusRole(project, email); got != role {
		return fmt.Errorf("bimplus: %s on project %s has role %q, want %q", email, project, got, role)
	}
	return nil
}

func ssoConnectionExists(ds *downstream) error {
	if n := len(ds.ssoConnections()); n != 1 {
		return fmt.Errorf("authress: %d connections match the spec, want 1 (all: %d)", n, len(ds.authress.Connections()))
	}
	return nil
}

// TestFanoutEndToEnd provisions users and groups through SCIM with the workers
// running and follows every connector through creation, role changes, group
// departures and deactivation, with the minimal writes and none repeated.
func TestFanoutEndToEnd(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, url string) {
		const aliceEmail, bobEmail = "alice@example.com", "bob@example.com"
		ds := startDownstream(t)
		ds.memberOf(aliceEmail)
		ds.memberOf(bobEmail)
		inv := ds.bimdata.AddInvitation(bimdatafake.Invitation{Email: strings.ToUpper(aliceEmail)})
		f := newFanout(t, url, ds, fanoutConfig{})
		f.run(t)

		// The tenant's SSO connection has no SCIM write to mark it: Run does.
		eventually(t, 10*time.Second, func() error { return ssoConnectionExists(ds) })

		alice := f.mustCreateID(t, "/Users", scimUser(aliceEmail, "Alice", "Liddell"))
		bob := f.mustCreateID(t, "/Users", scimUser(bobEmail, "Bob", "Builder"))
		design := f.mustCreateID(t, "/Groups", scimGroup(groupDesign, alice))
		eventually(t, 10*time.Second, func() error {
			return errors.Join(
				bimdataUser(ds, aliceEmail, true), bimdataUser(ds, bobEmail, true),
				bimdataInvitation(ds, inv.ID, bimdatafake.StatusAccepted),
				odmUser(ds, aliceEmail, true, true), odmUser(ds, bobEmail, true, true),
				bimplusRoleIs(ds, projectP1, aliceEmail, "Project_Editor"),
				bimplusRoleIs(ds, projectP1, bobEmail, ""),
			)
		})
		if u, _ := ds.bimdata.User(aliceEmail); u.Firstname == nil || *u.Firstname != "Alice" {
			t.Errorf("bimdata: alice's firstname = %v, want Alice", u.Firstname)
		}

		// Admins outranks Design Team on P1: an upgrade, not a second membership.
		admins := f.mustCreateID(t, "/Groups", scimGroup(groupAdmins, alice))
		eventually(t, 10*time.Second, func() error { return bimplusRoleIs(ds, projectP1, aliceEmail, "Project_Admin") })

		// Leaving both groups removes the managed membership.
		f.mustPatch(t, "/Groups/"+design, removeMemberOp(alice))
		f.mustPatch(t, "/Groups/"+admins, removeMemberOp(alice))
		eventually(t, 10*time.Second, func() error { return bimplusRoleIs(ds, projectP1, aliceEmail, "") })

		// Deactivation: BIMData user deleted, ODM user deactivated, memberships removed.
		f.mustPatch(t, "/Groups/"+design, addMembersOp(bob))
		eventually(t, 10*time.Second, func() error { return bimplusRoleIs(ds, projectP1, bobEmail, "Project_Editor") })
		f.mustPatch(t, "/Users/"+bob, replaceOp("active", false))
		eventually(t, 10*time.Second, func() error {
			return errors.Join(
				bimdataUser(ds, bobEmail, false), odmUser(ds, bobEmail, true, false),
				bimplusRoleIs(ds, projectP1, bobEmail, ""),
				bimdataUser(ds, aliceEmail, true), odmUser(ds, aliceEmail, true, true),
			)
		})
		eventually(t, 10*time.Second, func() error {
			return f.allSynced(t, map[string]int{connBIMData: 2, connBimplus: 2, connODM: 2, connAuthress: 1})
		})

		ds.expectNoDuplicates(t, nil)
		// The minimal writes: bimdata create×2, accept, delete; bimplus POST alice,
		// PUT (upgrade), DELETE alice, POST bob, DELETE bob; authress POST; ODM
		// POST×2 and DELETE (deactivate) bob.
		for name, want := range map[string]int{connBIMData: 4, connBimplus: 5, connAuthress: 1, connODM: 3} {
			var got int
			switch name {
			case connBIMData:
				got = ds.bimdata.Writes()
			case connBimplus:
				got = ds.bimplus.Writes()
			case connAuthress:
				got = ds.authress.Writes()
			case connODM:
				got = ds.odm.Writes()
			}
			if got != want {
				t.Errorf("%s: %d writes, want %d", name, got, want)
			}
		}
	})
}

// faultSeed derives a per-fake seed, so every fake draws its own faults.
func faultSeed(name string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(name))
	return h.Sum64()
}

// TestFanoutConvergesUnderFaults provisions many users while every fake answers
// ≈10% 503, bursts of 429 with Retry-After: 1 and 1-5 ms of latency: every user
// ends up downstream, no fake sees a duplicate write, and the status is all synced.
func TestFanoutConvergesUnderFaults(t *testing.T) {
	t.Parallel()
	n := 1000
	if raceEnabled {
		n = 200
	}
	const teams = 10
	backends(t, func(t *testing.T, url string) {
		ds := startDownstream(t)
		projects := make([]string, teams)
		for k := range teams {
			projects[k] = fmt.Sprintf("5e1f0000-0000-4000-8000-%012d", k)
			role := "Project_Editor"
			if k%2 == 1 {
				role = "Project_Viewer"
			}
			ds.addGroupMapping(fmt.Sprintf("Team %d", k), bimplus.Grant{Project: projects[k], Role: role})
			ds.bimplus.AddProject(projects[k])
		}
		invitations := map[int]int{} // user index → invitation id
		for i := range n {
			ds.bimplus.AddTeamMember(fanEmail(i))
			if i%10 == 0 {
				invitations[i] = ds.bimdata.AddInvitation(bimdatafake.Invitation{Email: fanEmail(i)}).ID
			}
		}
		for name, in := range ds.faults {
			in.set(faultPlan{
				ErrRate: 0.10, BurstRate: 0.002, BurstLen: 5, MaxBursts: 2,
				MinLatency: time.Millisecond, MaxLatency: 5 * time.Millisecond, Seed: faultSeed(name),
			})
		}
		// 1-5 ms per downstream call: more workers than the default keep the
		// pipeline full (the work is latency-bound, not CPU-bound).
		f := newFanout(t, url, ds, fanoutConfig{BackoffBase: 20 * time.Millisecond, Workers: 32})
		f.run(t)
		groups := make([]string, teams)
		for k := range teams {
			groups[k] = f.mustCreateID(t, "/Groups", scimGroup(fmt.Sprintf("Team %d", k)))
		}
		const clients = teams // client k adds its users to group k only: no PATCH contention
		c := newSCIMClient(f.srv, clients)
		start := time.Now()
		_, err := provisionConcurrently(context.Background(), func(int) *scimClient { return c }, n, clients,
			func(i int) string { return groups[i%teams] })
		if err != nil {
			t.Fatalf("provision: %v", err)
		}
		provisioned := time.Since(start)
		eventually(t, 60*time.Second, func() error {
			return f.allSynced(t, map[string]int{connBIMData: n, connBimplus: n, connODM: n, connAuthress: 1})
		})
		t.Logf("provisioned in %v, converged after %v", provisioned, time.Since(start))

		var missing []error
		for i := range n {
			role := "Project_Editor"
			if (i%teams)%2 == 1 {
				role = "Project_Viewer"
			}
			errs := errors.Join(bimdataUser(ds, fanEmail(i), true), odmUser(ds, fanEmail(i), true, true),
				bimplusRoleIs(ds, projects[i%teams], fanEmail(i), role))
			if id, ok := invitations[i]; ok {
				errs = errors.Join(errs, bimdataInvitation(ds, id, bimdatafake.StatusAccepted))
			}
			if errs != nil && len(missing) < 5 {
				missing = append(missing, errs)
			}
		}
		if len(missing) > 0 {
			t.Errorf("not converged downstream: %v", errors.Join(missing...))
		}
		if err := ssoConnectionExists(ds); err != nil {
			t.Error(err)
		}
		ds.expectNoDuplicates(t, nil)
		var injected5xx, injected429 int
		for _, in := range ds.faults {
			injected5xx += in.count(http.StatusServiceUnavailable)
			injected429 += in.count(http.StatusTooManyRequests)
		}
		if injected5xx == 0 || injected429 == 0 {
			t.Errorf("faults injected: %d 503, %d 429; want both", injected5xx, injected429)
		}
		t.Logf("%d users: %d injected 503, %d injected 429; requests served %v", n, injected5xx, injected429, ds.requests())
	})
}

// TestFanoutTwoWorkerPoolsShareOneStore runs two bridges (two replicas, distinct
// InstanceID) on one store, provisioning through both: they split the work, no
// subject is converged by both at once, and each is converged exactly once.
func TestFanoutTwoWorkerPoolsShareOneStore(t *testing.T) {
	t.Parallel()
	n := 300
	if raceEnabled {
		n = 100
	}
	backends(t, func(t *testing.T, url string) {
		ds := startDownstream(t)
		log := newConvergeLog()
		st1 := openStore(t, url)
		st2 := st1
		if url != "" {
			st2 = openStore(t, url) // a second process: its own connection pool
		}
		a := newFanout(t, url, ds, fanoutConfig{Store: st1, InstanceID: "replica-a", Wrap: log.wrapper("replica-a")})
		b := newFanout(t, url, ds, fanoutConfig{Store: st2, InstanceID: "replica-b", Wrap: log.wrapper("replica-b")})
		a.run(t)
		b.run(t)
		ca, cb := newSCIMClient(a.srv, 4), newSCIMClient(b.srv, 4)
		ids, err := provisionConcurrently(context.Background(), func(i int) *scimClient {
			if i%2 == 0 {
				return ca
			}
			return cb
		}, n, 8, nil)
		if err != nil {
			t.Fatalf("provision: %v", err)
		}
		want := map[string]int{connBIMData: n, connBimplus: n, connODM: n, connAuthress: 1}
		eventually(t, 30*time.Second, func() error { return a.allSynced(t, want) })

		log.mu.Lock()
		defer log.mu.Unlock()
		if len(log.overlaps) > 0 {
			t.Errorf("%d concurrent convergences of one subject, e.g. %s", len(log.overlaps), log.overlaps[0])
		}
		for _, id := range ids {
			for _, c := range []string{connBIMData, connBimplus, connODM} {
				if got := log.calls[c+"|"+id]; got != 1 {
					t.Errorf("%s: user %s converged %d times, want 1", c, id, got)
				}
			}
		}
		if got := log.calls[connAuthress+"|acme"]; got != 1 {
			t.Errorf("authress: tenant converged %d times, want 1", got)
		}
		if log.byInstance["replica-a"] == 0 || log.byInstance["replica-b"] == 0 {
			t.Errorf("work split %v: want both replicas to converge some subjects", log.byInstance)
		}
		t.Logf("convergences per replica: %v", log.byInstance)
		ds.expectNoDuplicates(t, nil)
	})
}

// TestFanoutCoalescesQuickPatches holds the only worker while ten PATCHes hit one
// user: they cost one convergence, which applies the latest state.
func TestFanoutCoalescesQuickPatches(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, url string) {
		ds := startDownstream(t)
		log := newConvergeLog()
		var (
			xSubject atomic.Value // "User|<id>" of the user patched
			holding  atomic.Bool
			held     = make(chan struct{})
			release  = make(chan struct{})
		)
		xSubject.Store("")
		hooks := fanout.Hooks{BeforeConverge: func(_, connector, subject string) error {
			// Hold the worker on the first ODM convergence of any other user.
			if connector == connODM && strings.HasPrefix(subject, store.WorkUser+"|") &&
				subject != xSubject.Load().(string) && xSubject.Load().(string) != "" && holding.CompareAndSwap(false, true) {
				close(held)
				<-release
			}
			return nil
		}}
		f := newFanout(t, url, ds, fanoutConfig{Workers: 1, Wrap: log.wrapper("only"), Hooks: hooks})
		f.run(t)
		t.Cleanup(func() {
			if holding.Load() {
				select {
				case <-release:
				default:
					close(release)
				}
			}
		})

		x := f.mustCreateID(t, "/Users", scimUser("xavier@example.com", "Xavier", "V0"))
		eventually(t, 10*time.Second, func() error {
			return f.allSynced(t, map[string]int{connBIMData: 1, connBimplus: 1, connODM: 1, connAuthress: 1})
		})
		xSubject.Store(store.WorkUser + "|" + x)
		f.mustCreateID(t, "/Users", scimUser("yvonne@example.com", "Yvonne", "Y"))
		select {
		case <-held:
		case <-time.After(10 * time.Second):
			t.Fatal("the worker never reached the held convergence")
		}
		calls := map[string]int{}
		for _, c := range allConnectors {
			calls[c] = log.callsOf(c, x)
		}
		odmWrites := ds.odm.Writes()
		for i := 1; i <= 10; i++ {
			f.mustPatch(t, "/Users/"+x,
				replaceOp("displayName", fmt.Sprintf("Xavier V%d", i)),
				replaceOp("name.familyName", fmt.Sprintf("V%d", i)))
		}
		close(release)
		eventually(t, 10*time.Second, func() error {
			u, ok := ds.odm.UserByName("xavier@example.com")
			if !ok || u.DisplayName != "Xavier V10" {
				return fmt.Errorf("odm: xavier is %+v", u)
			}
			return f.allSynced(t, map[string]int{connBIMData: 2, connBimplus: 2, connODM: 2, connAuthress: 1})
		})
		// ODM and BIMData project the changed attributes: one convergence each;
		// Bimplus projects none of them: none.
		for c, want := range map[string]int{connODM: 1, connBIMData: 1, connBimplus: 0} {
			if got := log.callsOf(c, x) - calls[c]; got != want {
				t.Errorf("%s: %d convergences of the patched user, want %d", c, got, want)
			}
		}
		log.mu.Lock()
		seen := log.seen[connODM+"|"+x]
		log.mu.Unlock()
		if last := seen[len(seen)-1].User; last == nil || last.DisplayName != "Xavier V10" {
			t.Errorf("odm converged %+v, want the latest displayName Xavier V10", last)
		}
		if got := ds.odm.Writes() - odmWrites; got != 2 { // one PATCH for xavier, one POST for yvonne
			t.Errorf("odm: %d writes after the patches, want 2", got)
		}
		ds.expectNoDuplicates(t, nil)
	})
}

// TestFanoutDeadLetterAndReplay: a permanent downstream error parks the subject
// as dead with its reason in Status, without retries; after the downstream is
// fixed, Replay re-queues it and it converges.
func TestFanoutDeadLetterAndReplay(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, url string) {
		const carolEmail = "carol@example.com"
		ds := startDownstream(t)
		rejections := ds.faults[connBIMData]
		rejections.setReject(func(r *http.Request, body []byte) bool {
			return r.Method == http.MethodPost && r.URL.Path == "/identity-provider/user" && bytes.Contains(body, []byte(carolEmail))
		})
		f := newFanout(t, url, ds, fanoutConfig{BackoffBase: 20 * time.Millisecond})
		f.run(t)
		carol := f.mustCreateID(t, "/Users", scimUser(carolEmail, "Carol", "Danvers"))
		f.mustCreateID(t, "/Users", scimUser("dave@example.com", "Dave", "Lister"))
		subject := store.WorkUser + "|" + carol

		eventually(t, 10*time.Second, func() error {
			counts, ts := f.syncCounts(t)
			if counts[connBIMData][store.SyncDead] != 1 || counts[connBIMData][store.SyncSynced] != 1 {
				return fmt.Errorf("bimdata counts %v", counts[connBIMData])
			}
			if ts.Pending+ts.Leased != 0 {
				return fmt.Errorf("queue: %d pending, %d leased", ts.Pending, ts.Leased)
			}
			return errors.Join(odmUser(ds, carolEmail, true, true), bimdataUser(ds, "dave@example.com", true))
		})
		_, ts := f.syncCounts(t)
		var reason *SubjectError
		for _, c := range ts.Connectors {
			for _, e := range c.LastErrors {
				if c.Name == connBIMData && e.Subject == subject {
					reason = &e
				}
			}
		}
		if reason == nil || reason.Status != store.SyncDead || !strings.Contains(reason.Error, "400") {
			t.Fatalf("status lists %+v for %s, want a dead letter naming the 400", reason, subject)
		}
		// Permanent: not retried, even well past several backoff periods.
		time.Sleep(300 * time.Millisecond)
		if got := rejections.count(http.StatusBadRequest); got != 1 {
			t.Errorf("carol's create was sent %d times, want 1 (a permanent error is not retried)", got)
		}
		if err := bimdataUser(ds, carolEmail, false); err != nil {
			t.Error(err)
		}

		rejections.setReject(nil) // the downstream is fixed
		n, err := f.b.Replay(context.Background(), "acme", connBIMData, subject)
		if err != nil || n != 1 {
			t.Fatalf("replay: %d, %v", n, err)
		}
		eventually(t, 10*time.Second, func() error {
			return errors.Join(bimdataUser(ds, carolEmail, true),
				f.allSynced(t, map[string]int{connBIMData: 2, connBimplus: 2, connODM: 2, connAuthress: 1}))
		})
		if _, ts := f.syncCounts(t); len(ts.Connectors[0].LastErrors) != 0 {
			t.Errorf("dead letters left after the replay: %+v", ts.Connectors[0].LastErrors)
		}
		ds.expectNoDuplicates(t, nil)
	})
}
