package bimdata

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/scim-bridge/scim-bridge/connectors"
	"github.com/scim-bridge/scim-bridge/connectors/bimdata/fake"
)

// TestUserAndInvitationPathsAnswerOnce: a user's convergence (from the cached
// listing) and the invitation's own convergence (a webhook) racing in one
// process accept the invitation once.
func TestUserAndInvitationPathsAnswerOnce(t *testing.T) {
	t.Parallel()
	for round := range 20 {
		u := alice(true)
		e := newEnv(t, envOpts{dir: newDirectory(*u)})
		inv := e.srv.AddInvitation(fake.Invitation{Email: u.Email, Status: fake.StatusPending})
		// Fill the cache first, as a busy connector would have it.
		if _, err := e.conn.cache.pending(context.Background(), time.Time{}); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		wg.Go(func() {
			_, _, _ = e.conn.Converge(context.Background(), userSubject(u, "u1"), connectors.Record{}, connectors.Options{})
		})
		wg.Go(func() {
			_, _, _ = e.conn.Converge(context.Background(), InvitationSubject(int64(inv.ID)), connectors.Record{}, connectors.Options{})
		})
		wg.Wait()
		if got, _ := e.srv.Invitation(inv.ID); got.Status != fake.StatusAccepted {
			t.Fatalf("round %d: invitation %s, want accepted", round, got.Status)
		}
		if d := e.srv.DuplicateWrites(); d != 0 {
			t.Fatalf("round %d: %d duplicate writes", round, d)
		}
	}
}

func TestAnsweredClaims(t *testing.T) {
	t.Parallel()
	var a answered
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if !a.claim(7, now) || a.claim(7, now) {
		t.Fatal("a second claim while answering must fail")
	}
	a.release(7)
	if !a.claim(7, now) {
		t.Fatal("a released claim must be claimable again")
	}
	a.done(7, now)
	if a.claim(7, now.Add(time.Minute)) {
		t.Fatal("a recent answer must not be repeated")
	}
	if !a.claim(7, now.Add(answeredMemory)) {
		t.Fatal("an old answer no longer blocks")
	}
}
