package bridge

// Crash tests of the sync worker: a worker killed just before a downstream call,
// or after it but before its outcome is recorded, leaves its lease behind; a
// restarted process (new bridge, new adapters, same store) takes the key over
// when the lease expires and converges the downstream with nothing lost and
// nothing written twice beyond what each adapter documents. A graceful shutdown
// at the worst point (after the call, before the record) releases the lease at
// once instead.

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/scim-bridge/scim-bridge/bridge/fanout"
	bimdatafake "github.com/scim-bridge/scim-bridge/connectors/bimdata/fake"
	"github.com/scim-bridge/scim-bridge/store"
)

// crashStep is where the worker dies.
type crashStep string

const (
	crashBeforeCall   crashStep = "before-call"   // fanout.Hooks.BeforeConverge
	crashBeforeRecord crashStep = "before-record" // fanout.Hooks.AfterConverge: the call was made, nothing recorded
	// shutdownBeforeRecord is not a crash: Run's context is cancelled after the
	// call and before the record, and the worker gets to release its lease.
	shutdownBeforeRecord crashStep = "shutdown-before-record"
)

func TestFanoutCrashAtEachStep(t *testing.T) {
	t.Parallel()
	const aliceEmail = "alice@example.com"
	type outcome struct {
		writes     int // target fake's Writes() at the end
		duplicates int // target fake's DuplicateWrites() at the end
	}
	cases := []struct {
		connector string
		step      crashStep
		want      outcome
	}{
		// create_user and accept, once each.
		{connBIMData, crashBeforeCall, outcome{writes: 2}},
		// create_user has no read route and doubles as the lookup after a crash;
		// its record is stored as soon as it answers (connectors.Options.Applied),
		// so a crash after the convergence's calls re-sends nothing (issue 11,
		// defect 2: it used to be sent once more, a duplicate); the accepted
		// invitation is no longer pending, so it is not accepted twice.
		{connBIMData, crashBeforeRecord, outcome{writes: 2}},
		// One POST; after the crash the membership is found and adopted.
		{connBimplus, crashBeforeCall, outcome{writes: 1}},
		{connBimplus, crashBeforeRecord, outcome{writes: 1}},
		// One POST; its record (with the applied secret) is stored as soon as it
		// answers, so after the crash the connection is found by its id and the
		// write-only secret needs no second PUT.
		{connAuthress, crashBeforeCall, outcome{writes: 1}},
		{connAuthress, crashBeforeRecord, outcome{writes: 1}},
		// One POST; after the crash the user is found by userName.
		{connODM, crashBeforeCall, outcome{writes: 1}},
		{connODM, crashBeforeRecord, outcome{writes: 1}},
		// A graceful stop at the same point costs what a crash there costs.
		{connBIMData, shutdownBeforeRecord, outcome{writes: 2}},
		{connBimplus, shutdownBeforeRecord, outcome{writes: 1}},
		{connAuthress, shutdownBeforeRecord, outcome{writes: 1}},
		{connODM, shutdownBeforeRecord, outcome{writes: 1}},
	}
	backends(t, func(t *testing.T, url string) {
		for i, tc := range cases {
			t.Run(tc.connector+"/"+string(tc.step), func(t *testing.T) {
				t.Parallel()
				url := redisDB(url, i) // one database per case on the shared server
				ds := startDownstream(t)
				ds.memberOf(aliceEmail)
				inv := ds.bimdata.AddInvitation(bimdatafake.Invitation{Email: aliceEmail})

				var (
					first    *fanEnv
					killOnce sync.Once
					killed   = make(chan struct{})
					freeze   = make(chan struct{}) // closed at the end of the test
					killedAt string
				)
				kill := func(_, connector, subject string) error {
					if connector != tc.connector {
						return nil
					}
					fired := false
					killOnce.Do(func() {
						fired = true
						killedAt = subject
						first.kill() // no more claims from this process
						close(killed)
					})
					if !fired {
						return nil
					}
					if tc.step != shutdownBeforeRecord {
						// A dead worker never comes back: nothing after this point
						// happens, and its lease must expire. (It is let go at the
						// end of the test; its late release then finds the lease
						// taken over.)
						<-freeze
					}
					return errors.New("worker killed")
				}
				hooks := fanout.Hooks{}
				if tc.step == crashBeforeCall {
					hooks.BeforeConverge = kill
				} else {
					hooks.AfterConverge = kill
				}
				first = newFanout(t, url, ds, fanoutConfig{
					Connectors: []string{tc.connector}, InstanceID: "crashing",
					LeaseTTL: time.Second, Hooks: hooks,
				})
				// The desired state is in the store before any worker runs.
				alice := first.mustCreateID(t, "/Users", scimUser(aliceEmail, "Alice", "Liddell"))
				first.mustCreateID(t, "/Groups", scimGroup(groupDesign, alice))
				first.run(t)
				t.Cleanup(func() { close(freeze) }) // runs before first's stop
				select {
				case <-killed:
				case <-time.After(10 * time.Second):
					t.Fatal("the worker never reached the crash point")
				}
				if tc.step == shutdownBeforeRecord {
					first.waitStopped(t, 10*time.Second)
				}

				writes := targetWrites(ds, tc.connector)
				if tc.step == crashBeforeCall && writes != 0 {
					t.Errorf("killed before the call, yet %d writes reached %s", writes, tc.connector)
				}
				if tc.step != crashBeforeCall && writes == 0 {
					t.Errorf("killed after the call, yet no write reached %s", tc.connector)
				}
				if st := first.syncState(t, tc.connector, killedAt); st != nil && st.Status == store.SyncSynced {
					t.Errorf("the killed convergence was recorded: %+v", st)
				}
				qs, err := first.st.QueueStats(context.Background(), "acme")
				if err != nil {
					t.Fatal(err)
				}
				switch {
				case tc.step == shutdownBeforeRecord && (qs.Leased != 0 || qs.Due == 0):
					t.Errorf("queue after a graceful stop %+v: want the key released and due at once", qs)
				case tc.step != shutdownBeforeRecord && qs.Leased == 0:
					t.Errorf("queue after the crash %+v: the dead worker's lease should still hold the key", qs)
				}

				// Restart: a new process with fresh adapters on the same store.
				second := newFanout(t, url, ds, fanoutConfig{
					Store: first.st, Connectors: []string{tc.connector}, InstanceID: "restarted",
				})
				second.run(t)
				want := 1
				eventually(t, 10*time.Second, func() error {
					var down error
					switch tc.connector {
					case connBIMData:
						down = errors.Join(bimdataUser(ds, aliceEmail, true), bimdataInvitation(ds, inv.ID, bimdatafake.StatusAccepted))
					case connBimplus:
						down = bimplusRoleIs(ds, projectP1, aliceEmail, "Project_Editor")
					case connAuthress:
						down = ssoConnectionExists(ds)
					case connODM:
						down = odmUser(ds, aliceEmail, true, true)
					}
					return errors.Join(down, second.allSynced(t, map[string]int{tc.connector: want}))
				})
				got := outcome{writes: targetWrites(ds, tc.connector), duplicates: ds.duplicates()[tc.connector]}
				if got != tc.want {
					t.Errorf("%s after a crash %s: %+v, want %+v (requests %v)", tc.connector, tc.step, got, tc.want, targetRequests(ds, tc.connector))
				}
			})
		}
	})
}

func targetWrites(ds *downstream, connector string) int {
	switch connector {
	case connBIMData:
		return ds.bimdata.Writes()
	case connBimplus:
		return ds.bimplus.Writes()
	case connAuthress:
		return ds.authress.Writes()
	case connODM:
		return ds.odm.Writes()
	}
	return -1
}

func targetRequests(ds *downstream, connector string) []string {
	var out []string
	switch connector {
	case connBIMData:
		for _, r := range ds.bimdata.Requests() {
			out = append(out, fmt.Sprintf("%s %s %d", r.Method, r.Path, r.Status))
		}
	case connBimplus:
		for _, r := range ds.bimplus.Requests() {
			out = append(out, fmt.Sprintf("%s %s %d", r.Method, r.Path, r.Status))
		}
	case connAuthress:
		for _, r := range ds.authress.Requests() {
			out = append(out, fmt.Sprintf("%s %s %d", r.Method, r.Path, r.Status))
		}
	case connODM:
		for _, r := range ds.odm.Requests() {
			out = append(out, fmt.Sprintf("%s %s %d", r.Method, r.Path, r.Status))
		}
	}
	return out
}
