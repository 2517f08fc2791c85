package bimplus

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/scim-bridge/scim-bridge/connectors"
)

// TestWriteConvergenceReadsProjectAfterItsChange: a role changed by hand after
// the cached project listing was read is repaired by a write convergence
// whose change was noted after that listing (Options.ReadAfter); one whose
// change was noted before it reuses the listing, without another GET.
func TestWriteConvergenceReadsProjectAfterItsChange(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, nil)
	s := alice("Design Team")
	listed := e.clock.Now()
	rec, _, err := e.conn.Converge(ctx, s, connectors.Record{}, connectors.Options{})
	if err != nil || e.srv.Writes() != 1 || e.count("GET", projAPath) != 1 {
		t.Fatalf("first convergence: err %v, writes %d, listings %d", err, e.srv.Writes(), e.count("GET", projAPath))
	}
	e.clock.Advance(5 * time.Second) // well within DefaultProjectMembersTTL
	e.set(t, projA, e.alice, "Project_Viewer")
	changed := e.clock.Now()

	// Noted before the listing was read: the listing serves.
	rec, _, err = e.conn.Converge(ctx, s, rec, connectors.Options{ReadAfter: listed.Add(-time.Second)})
	if err != nil || e.count("GET", projAPath) != 1 || e.srv.Writes() != 1 {
		t.Fatalf("change noted before the listing: err %v, listings %d, writes %d; want the cached listing reused, no write",
			err, e.count("GET", projAPath), e.srv.Writes())
	}

	// Noted after it: read again, and the role repaired.
	if _, _, err = e.conn.Converge(ctx, s, rec, connectors.Options{ReadAfter: changed}); err != nil {
		t.Fatal(err)
	}
	if r, _ := e.srv.RoleOf(projA, e.alice); r != "Project_Editor" {
		t.Fatalf("role %q after a convergence noted after the listing, want Project_Editor (listings %d)", r, e.count("GET", projAPath))
	}
	if got := e.count("GET", projAPath); got != 2 {
		t.Fatalf("%d listings, want 2", got)
	}
}

// TestWriteConvergenceFindsTeamMemberAddedAfterListing: a user added to the
// team less than memberRecheckAfter after the cached team listing is found by
// a write convergence noted after that listing, instead of being declared
// absent (a permanent error: dead-lettered); one noted before it keeps the
// listing and its answer.
func TestWriteConvergenceFindsTeamMemberAddedAfterListing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, nil)
	listed := e.clock.Now()
	if _, _, err := e.conn.Converge(ctx, alice("Design Team"), connectors.Record{}, connectors.Options{}); err != nil {
		t.Fatal(err)
	}
	if got := e.count("GET", teamPath); got != 1 {
		t.Fatalf("%d team listings, want 1", got)
	}
	e.clock.Advance(memberRecheckAfter / 2)
	carol := e.srv.AddTeamMember("carol@example.com")
	added := e.clock.Now()
	s := newcomer("carol@example.com")

	// Noted before the listing: its miss stands, without another GET.
	_, _, err := e.conn.Converge(ctx, s, connectors.Record{}, connectors.Options{ReadAfter: listed})
	if connectors.ClassOf(err) != connectors.Permanent || e.count("GET", teamPath) != 1 {
		t.Fatalf("change noted with the listing: err %v, team listings %d; want the cached miss (permanent), no GET", err, e.count("GET", teamPath))
	}

	// Noted after it: the team is read again and the member found.
	if _, _, err := e.conn.Converge(ctx, s, connectors.Record{}, connectors.Options{ReadAfter: added}); err != nil {
		t.Fatalf("member added after the team listing: %v (team listings %d)", err, e.count("GET", teamPath))
	}
	if r, _ := e.srv.RoleOf(projA, carol); r != "Project_Editor" {
		t.Fatalf("carol's role %q, want Project_Editor", r)
	}
	if got := e.count("GET", teamPath); got != 2 {
		t.Fatalf("%d team listings, want 2", got)
	}
}

// TestWriteConvergencesOfABurstShareOneListing: concurrent convergences of a
// burst whose changes were all noted before the listings are read (a large
// group filled at once) share one project and one team listing, even those
// that arrive while the listing is under way.
func TestWriteConvergencesOfABurstShareOneListing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, nil)
	subjects := addNewcomers(e, "burst", 50)
	marked := e.clock.Now()
	e.clock.Advance(time.Second)         // the claims come due a little after the marks
	e.srv.Latency(20 * time.Millisecond) // keep the first listings in flight while the others arrive
	var wg sync.WaitGroup
	errs := make(chan error, len(subjects))
	for _, s := range subjects {
		wg.Go(func() {
			if _, _, err := e.conn.Converge(ctx, s, connectors.Record{}, connectors.Options{ReadAfter: marked}); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if p, tm := e.count("GET", projAPath), e.count("GET", teamPath); p != 1 || tm != 1 {
		t.Fatalf("%d project and %d team listings for 50 convergences noted together, want 1 and 1", p, tm)
	}
	if e.srv.Writes() != len(subjects) || e.srv.DuplicateWrites() != 0 {
		t.Fatalf("writes %d duplicates %d", e.srv.Writes(), e.srv.DuplicateWrites())
	}
}
