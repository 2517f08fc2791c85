package bridge

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scim-bridge/scim-bridge/bridge/fanout"
	bimdatafake "github.com/scim-bridge/scim-bridge/connectors/bimdata/fake"
	"github.com/scim-bridge/scim-bridge/store"
)

// TestInvitationWebhookRacingItsUserAcrossReplicas: an "invitation created"
// webhook received by one replica while another converges the invitation's
// user is answered once: the invitation converges only under the user's claim,
// so it waits for the user's convergence (which accepts it) and then finds
// nothing to do.
func TestInvitationWebhookRacingItsUserAcrossReplicas(t *testing.T) {
	backends(t, func(t *testing.T, url string) {
		const email = "race@example.com"
		ds := startDownstream(t)
		st := openStore(t, url)
		replica := func(name string, hooks fanout.Hooks) *fanEnv {
			ts := newTestServer(t, url, func(o *Options) {
				o.Store, o.InstanceID, o.Workers = st, name, 4
				o.Tenants[0].Connectors, o.Tenants[0].Throttles = ds.openThrottled(t, st, "acme", nil, connBIMData)
				o.Tenants[0].WebhookSecrets = map[string]string{connBIMData: rcWebhookSecret}
				o.fanout = fanout.Options{Hooks: hooks}
			})
			return &fanEnv{testServer: ts, ds: ds, st: st}
		}
		// Replica A holds its first user convergence (and so the user's claim)
		// until the gate opens.
		var held atomic.Bool
		holding, gate := make(chan struct{}), make(chan struct{})
		var opened sync.Once
		open := func() { opened.Do(func() { close(gate) }) }
		a := replica("replica-a", fanout.Hooks{BeforeConverge: func(_, _, subj string) error {
			if strings.HasPrefix(subj, store.WorkUser+"|") && held.CompareAndSwap(false, true) {
				close(holding)
				<-gate
			}
			return nil
		}})
		b := replica("replica-b", fanout.Hooks{})
		a.run(t)
		inv := ds.bimdata.AddInvitation(bimdatafake.Invitation{Email: email})
		a.mustCreateID(t, "/Users", scimUser(email, "Ra", "Ce"))
		select {
		case <-holding:
		case <-time.After(10 * time.Second):
			t.Fatal("replica A never converged the user")
		}
		b.run(t)
		// Cleanups run last first: this one before the replicas stop, so a
		// failure never leaves replica A's worker blocked.
		t.Cleanup(open)
		body := rcEvent(t, "evt-race", inv)
		if code, out := rcPost(t, b, "/webhooks/acme/"+connBIMData, "", body, SignatureHeader, Sign(rcWebhookSecret, body, time.Now()), "Content-Type", "application/json"); code != http.StatusAccepted {
			t.Fatalf("event: status %d: %s", code, out)
		}
		time.Sleep(time.Second) // replica B has had every chance to answer
		if err := bimdataInvitation(ds, inv.ID, bimdatafake.StatusPending); err != nil {
			t.Fatalf("answered while its user's convergence held the user's claim: %v", err)
		}
		open()
		eventually(t, 10*time.Second, func() error { return bimdataInvitation(ds, inv.ID, bimdatafake.StatusAccepted) })
		eventually(t, 10*time.Second, func() error { return a.allSynced(t, map[string]int{connBIMData: 2}) })
		answers := 0
		for _, r := range ds.bimdata.Requests() {
			if r.Method == http.MethodPost && strings.HasPrefix(r.Path, fmt.Sprintf("/identity-provider/invitation/%d/", inv.ID)) {
				answers++
			}
		}
		if answers != 1 {
			t.Errorf("the invitation was answered %d times, want once", answers)
		}
		ds.expectNoDuplicates(t, nil)
	})
}
