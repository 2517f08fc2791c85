package bimdata

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/scim-bridge/scim-bridge/connectors"
	"github.com/scim-bridge/scim-bridge/connectors/bimdata/fake"
	"github.com/scim-bridge/scim-bridge/internal/fakeclock"
)

// TestWriteConvergenceReadsInvitationsAfterItsChange: an invitation created
// after the cached pending-invitation listing was read is answered by a write
// convergence whose change was noted after that listing (Options.ReadAfter):
// accepted for an active user, denied for an inactive one. A convergence whose
// change was noted before the listing reuses it, without another GET.
func TestWriteConvergenceReadsInvitationsAfterItsChange(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		active bool
		prev   connectors.Record
		want   string
	}{
		{"active user accepts", true, connectors.Record{}, fake.StatusAccepted},
		{"inactive user denies", false, stateRecord(userState{Email: "alice@example.com", Emails: aliceEmails, Status: statePresent}), fake.StatusDenied},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			clk := fakeclock.New(time.Unix(1_700_000_000, 0))
			u := alice(tc.active)
			e := newEnv(t, envOpts{now: clk.Now, dir: newDirectory(*u)})
			s := userSubject(u, u.ID)
			listed := clk.Now()
			rec, _, err := e.conn.Converge(ctx, s, tc.prev, connectors.Options{})
			if err != nil || countRequests(e.srv, "GET", pathInvitations) != 1 {
				t.Fatalf("first convergence: err %v, listings %d", err, countRequests(e.srv, "GET", pathInvitations))
			}
			clk.Advance(DefaultInvitationCache / 4) // the listing is still within its ttl
			inv := e.srv.AddInvitation(fake.Invitation{Email: u.Email})
			changed := clk.Now()

			// Noted before the listing was read: the listing serves.
			if rec, _, err = e.conn.Converge(ctx, s, rec, connectors.Options{ReadAfter: listed.Add(-time.Second)}); err != nil {
				t.Fatal(err)
			}
			if got := countRequests(e.srv, "GET", pathInvitations); got != 1 || statuses(e.srv)[inv.ID] != fake.StatusPending {
				t.Fatalf("change noted before the listing: %d listings, invitation %q; want the cached listing reused (1, still pending)", got, statuses(e.srv)[inv.ID])
			}

			// Noted after it: listed again, and the invitation answered.
			if _, _, err = e.conn.Converge(ctx, s, rec, connectors.Options{ReadAfter: changed}); err != nil {
				t.Fatal(err)
			}
			if got := statuses(e.srv)[inv.ID]; got != tc.want {
				t.Fatalf("invitation %q after a convergence noted after the listing, want %q (listings %d)", got, tc.want, countRequests(e.srv, "GET", pathInvitations))
			}
			if got := countRequests(e.srv, "GET", pathInvitations); got != 2 {
				t.Fatalf("%d listings, want 2", got)
			}
		})
	}
}

// TestWriteConvergencesOfABurstShareOneInvitationListing: concurrent
// convergences of users whose changes were all noted before the listing is
// read share one listing, even those that arrive while it is under way.
func TestWriteConvergencesOfABurstShareOneInvitationListing(t *testing.T) {
	t.Parallel()
	clk := fakeclock.New(time.Unix(1_700_000_000, 0))
	users := bulkUsers(32)
	e := newEnv(t, envOpts{now: clk.Now, dir: newDirectory(users...)})
	for i := range users {
		e.srv.AddInvitation(fake.Invitation{Email: users[i].Email})
	}
	marked := clk.Now()
	clk.Advance(DefaultInvitationCache / 4) // the claims come due a little after the marks
	e.srv.Latency(20 * time.Millisecond)    // keep the listing in flight while the others arrive
	errs := make(chan error, len(users))
	var wg sync.WaitGroup
	for i := range users {
		wg.Go(func() {
			prev := stateRecord(userState{Email: users[i].Email, Status: statePresent})
			if _, _, err := e.conn.Converge(context.Background(), userSubject(&users[i], users[i].ID), prev, connectors.Options{ReadAfter: marked}); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if got := countRequests(e.srv, "GET", pathInvitations); got != 1 {
		t.Fatalf("%d listings for %d convergences noted together, want 1", got, len(users))
	}
	if e.srv.Writes() != len(users) || e.srv.DuplicateWrites() != 0 {
		t.Fatalf("writes %d duplicates %d, want %d 0", e.srv.Writes(), e.srv.DuplicateWrites(), len(users))
	}
}
