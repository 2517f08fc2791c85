package bridge

// End-to-end reaction to webhooks: a signed BIMData "invitation.created" event,
// received with the workers running, gets its invitation answered downstream at
// once; replays and forgeries change nothing.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/scim-bridge/scim-bridge/bridge/fanout"
	"github.com/scim-bridge/scim-bridge/connectors/bimdata"
	bimdatafake "github.com/scim-bridge/scim-bridge/connectors/bimdata/fake"
)

// rcEvent is a webhook body announcing invitation inv.
func rcEvent(tb testing.TB, id string, inv bimdatafake.Invitation) []byte {
	tb.Helper()
	body, err := json.Marshal(map[string]any{
		"id": id, "type": bimdata.EventInvitationCreated,
		"data": map[string]any{"id": inv.ID, "email": inv.Email, "status": inv.Status},
	})
	if err != nil {
		tb.Fatal(err)
	}
	return body
}

// rcInvitationReads counts the requests the BIMData fake served for invitation id.
func rcInvitationReads(ds *downstream, id int) int {
	path := fmt.Sprintf("/identity-provider/invitation/%d", id)
	n := 0
	for _, r := range ds.bimdata.Requests() {
		if r.Path == path || r.Path == path+"/accept" || r.Path == path+"/deny" {
			n++
		}
	}
	return n
}

func TestWebhookInvitationEndToEnd(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, url string) {
		t.Parallel()
		const aliceEmail = "alice@example.com"
		ds := startDownstream(t)
		f := rcStart(t, url, ds, rcConfig{Connectors: []string{connBIMData}, WebhookSecret: rcWebhookSecret})
		f.run(t)
		rcUserID(t, f, aliceEmail, true)
		eventually(t, 10*time.Second, func() error { return bimdataUser(ds, aliceEmail, true) })
		rcSynced(t, f, map[string]int{connBIMData: 1})
		hook := "/webhooks/acme/" + connBIMData
		send := func(secret string, body []byte) (int, string) {
			code, out := rcPost(t, f, hook, "", body, SignatureHeader, Sign(secret, body, time.Now()), "Content-Type", "application/json")
			return code, string(out)
		}

		// An invitation for an active user's email is accepted, one for an unknown
		// email denied, each within a second of its event (no reconcile runs).
		invAlice := ds.bimdata.AddInvitation(bimdatafake.Invitation{Email: aliceEmail})
		evAlice := rcEvent(t, "evt-alice", invAlice)
		if code, out := send(rcWebhookSecret, evAlice); code != http.StatusAccepted {
			t.Fatalf("event: status %d: %s", code, out)
		}
		eventually(t, reactionDeadline(), func() error { return bimdataInvitation(ds, invAlice.ID, bimdatafake.StatusAccepted) })

		invStranger := ds.bimdata.AddInvitation(bimdatafake.Invitation{Email: "stranger@example.com"})
		evStranger := rcEvent(t, "evt-stranger", invStranger)
		if code, out := send(rcWebhookSecret, evStranger); code != http.StatusAccepted {
			t.Fatalf("event: status %d: %s", code, out)
		}
		eventually(t, reactionDeadline(), func() error { return bimdataInvitation(ds, invStranger.ID, bimdatafake.StatusDenied) })
		rcSynced(t, f, map[string]int{connBIMData: 3})
		writes := ds.bimdata.Writes()
		reads := rcInvitationReads(ds, invAlice.ID)

		// A replay (same event id, freshly signed) is acknowledged as a duplicate
		// and marks nothing; the same id carrying another invitation is dropped too.
		if code, out := send(rcWebhookSecret, evAlice); code != http.StatusOK {
			t.Errorf("replay: status %d: %s, want 200 duplicate", code, out)
		}
		invLater := ds.bimdata.AddInvitation(bimdatafake.Invitation{Email: aliceEmail})
		if code, out := send(rcWebhookSecret, rcEvent(t, "evt-alice", invLater)); code != http.StatusOK {
			t.Errorf("same id, other data: status %d: %s, want 200 duplicate", code, out)
		}
		// Forgeries: the wrong secret, and a body changed after signing.
		invForged := ds.bimdata.AddInvitation(bimdatafake.Invitation{Email: aliceEmail})
		evForged := rcEvent(t, "evt-forged", invForged)
		if code, out := send("not-the-secret-0123456789", evForged); code != http.StatusUnauthorized {
			t.Errorf("wrong secret: status %d: %s, want 401", code, out)
		}
		sig := Sign(rcWebhookSecret, rcEvent(t, "evt-forged", invStranger), time.Now())
		if code, out := rcPost(t, f, hook, "", evForged, SignatureHeader, sig); code != http.StatusUnauthorized {
			t.Errorf("body changed after signing: status %d: %s, want 401", code, out)
		}
		// Nothing was marked: the queue is empty right after the answers, and
		// stays so while the worker polls.
		qs, err := f.st.QueueStats(context.Background(), "acme")
		if err != nil || qs.Pending != 0 || qs.Leased != 0 {
			t.Errorf("queue after replays and forgeries: %+v, err %v; want empty", qs, err)
		}
		time.Sleep(3 * fanout.IdlePoll / 2)
		if err := errors.Join(
			bimdataInvitation(ds, invLater.ID, bimdatafake.StatusPending),
			bimdataInvitation(ds, invForged.ID, bimdatafake.StatusPending),
		); err != nil {
			t.Errorf("after replays and forgeries: %v", err)
		}
		if w := ds.bimdata.Writes(); w != writes {
			t.Errorf("replays and forgeries made %d writes, want 0", w-writes)
		}
		if r := rcInvitationReads(ds, invAlice.ID); r != reads {
			t.Errorf("the replayed invitation was read again (%d requests)", r-reads)
		}
		if n := rcInvitationReads(ds, invForged.ID) + rcInvitationReads(ds, invLater.ID); n != 0 {
			t.Errorf("%d requests for invitations of rejected events", n)
		}

		// A forged delivery did not use up the event id: the genuine one is acted on.
		if code, out := send(rcWebhookSecret, evForged); code != http.StatusAccepted {
			t.Fatalf("genuine event after forgeries: status %d: %s", code, out)
		}
		eventually(t, reactionDeadline(), func() error { return bimdataInvitation(ds, invForged.ID, bimdatafake.StatusAccepted) })
		rcSynced(t, f, map[string]int{connBIMData: 4})

		// A later event about an invitation the bridge already settled (it did
		// not exist yet when its first event came: synced as gone) is acted on:
		// the subject's desired state is the same, the downstream is not.
		early := bimdatafake.Invitation{ID: 900, Email: "stranger2@example.com", Status: bimdatafake.StatusPending}
		if code, out := send(rcWebhookSecret, rcEvent(t, "evt-early", early)); code != http.StatusAccepted {
			t.Fatalf("early event: status %d: %s", code, out)
		}
		rcSynced(t, f, map[string]int{connBIMData: 5})
		ds.bimdata.AddInvitation(early)
		if code, out := send(rcWebhookSecret, rcEvent(t, "evt-late", early)); code != http.StatusAccepted {
			t.Fatalf("later event: status %d: %s", code, out)
		}
		eventually(t, reactionDeadline(), func() error { return bimdataInvitation(ds, early.ID, bimdatafake.StatusDenied) })
		ds.expectNoDuplicates(t, nil)
	})
}

// reactionDeadline is how soon a webhook must be acted on: one second, as the
// bridge promises; the race detector slows every goroutine several times over,
// so under it the bound is three.
func reactionDeadline() time.Duration {
	if raceEnabled {
		return 3 * time.Second
	}
	return time.Second
}
