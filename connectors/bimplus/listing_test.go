package bimplus

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scim-bridge/scim-bridge/connectors"
)

// projAPath is the member listing route of project A, as the fake logs it.
const projAPath = "/v2/acme/projects/" + projA + "/members"

// addNewcomers adds n team members and returns their subjects (each in
// "Design Team": Project_Editor on project A).
func addNewcomers(e *env, prefix string, n int) []connectors.Subject {
	out := make([]connectors.Subject, n)
	for i := range out {
		email := fmt.Sprintf("%s%03d@example.com", prefix, i)
		e.srv.AddTeamMember(email)
		out[i] = newcomer(email)
	}
	return out
}

// requestsTo returns the method and status of every logged request to path.
func (e *env) requestsTo(path string) []string {
	var out []string
	for _, r := range e.srv.Requests() {
		if r.Path == path {
			out = append(out, fmt.Sprintf("%s %d", r.Method, r.Status))
		}
	}
	return out
}

// TestListingsReadOncePerAge: N convergences of distinct members on one
// project, one after the other or at once, read the project's listing once per
// listing age, not once each, and still make exactly one write per member.
func TestListingsReadOncePerAge(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	ctx := context.Background()
	const n = 60
	for _, s := range addNewcomers(e, "seq", n) {
		if _, _, err := e.conn.Converge(ctx, s, connectors.Record{}, connectors.Options{}); err != nil {
			t.Fatal(err)
		}
	}
	if got := e.count("GET", projAPath); got != 1 {
		t.Fatalf("%d listings of project A for %d convergences, want 1", got, n)
	}

	// Older than the age: read again, once, for a burst of concurrent convergences.
	e.clock.Advance(DefaultProjectMembersTTL)
	var wg sync.WaitGroup
	for _, s := range addNewcomers(e, "par", n) {
		wg.Go(func() {
			if _, _, err := e.conn.Converge(ctx, s, connectors.Record{}, connectors.Options{}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if got := e.count("GET", projAPath); got != 2 {
		t.Fatalf("%d listings of project A after a second burst past the age, want 2", got)
	}
	if e.srv.Writes() != 2*n || e.srv.DuplicateWrites() != 0 || len(e.srv.Memberships(projA)) != 2*n {
		t.Fatalf("writes %d (dup %d), %d memberships; want %d, 0, %d", e.srv.Writes(), e.srv.DuplicateWrites(), len(e.srv.Memberships(projA)), 2*n, 2*n)
	}
}

// TestListingsTTLZeroReadsEveryTime: project_members_ttl 0s keeps no listing.
func TestListingsTTLZeroReadsEveryTime(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *Config) { c.ProjectMembersTTL = "0s" })
	const n = 5
	for _, s := range addNewcomers(e, "u", n) {
		if _, _, err := e.conn.Converge(context.Background(), s, connectors.Record{}, connectors.Options{}); err != nil {
			t.Fatal(err)
		}
	}
	if got := e.count("GET", projAPath); got != n {
		t.Fatalf("%d listings for %d convergences with project_members_ttl 0s, want %d", got, n, n)
	}
}

// TestListingsSeeHandChangesAfterAge: a membership changed outside the bridge
// is seen once the cached listing is older than project_members_ttl, not
// before; a dry run (reconciliation) sees it at once.
func TestListingsSeeHandChangesAfterAge(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	s := alice("Design Team")
	rec, _, errs := converge(t, e.conn, s, connectors.Record{})
	if len(errs) != 0 || e.srv.Writes() != 1 {
		t.Fatalf("first convergence: errs %v, writes %d", errs, e.srv.Writes())
	}
	e.set(t, projA, e.alice, "Project_Viewer") // by hand
	for _, step := range []time.Duration{0, DefaultProjectMembersTTL - time.Second} {
		e.clock.Advance(step)
		if rec, _, errs = converge(t, e.conn, s, rec); len(errs) != 0 || e.srv.Writes() != 1 {
			t.Fatalf("within the age (+%s): errs %v, writes %d; want the cached listing, no write", step, errs, e.srv.Writes())
		}
	}
	_, acts, err := e.conn.Converge(context.Background(), s, rec, connectors.Options{DryRun: true})
	if err != nil || len(acts) != 1 || acts[0].Op != connectors.OpUpdate {
		t.Fatalf("dry run within the age: %v %+v, want the update (a dry run reads afresh)", err, acts)
	}
	e.clock.Advance(time.Second)
	if rec, _, errs = converge(t, e.conn, s, rec); len(errs) != 0 || e.srv.Writes() != 2 {
		t.Fatalf("past the age: errs %v, writes %d, want the PUT", errs, e.srv.Writes())
	}
	if r, _ := e.srv.RoleOf(projA, e.alice); r != "Project_Editor" {
		t.Fatalf("role %q after the repair", r)
	}

	e.srv.RemoveMembership(projA, e.alice) // by hand
	e.clock.Advance(DefaultProjectMembersTTL)
	if _, _, errs = converge(t, e.conn, s, rec); len(errs) != 0 || e.srv.Writes() != 3 {
		t.Fatalf("removed by hand, past the age: errs %v, writes %d, want the POST", errs, e.srv.Writes())
	}
	if r, _ := e.srv.RoleOf(projA, e.alice); r != "Project_Editor" || e.srv.DuplicateWrites() != 0 {
		t.Fatalf("role %q, duplicates %d", r, e.srv.DuplicateWrites())
	}
}

// TestListingsFailedWriteInvalidates: a write answered 409, 404 or 422 shows
// the cached listing was wrong: it is read again and the convergence planned
// once more, in the same call; any other failure drops the listing for the
// next convergence.
func TestListingsFailedWriteInvalidates(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	bob := alice("Reviewers")
	bob.ID, bob.User.ID, bob.User.Email = "u-bob", "u-bob", "bob@example.com"

	t.Run("409: added by hand since the listing", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, nil)
		if _, _, err := e.conn.Converge(ctx, bob, connectors.Record{}, connectors.Options{}); err != nil {
			t.Fatal(err)
		}
		e.set(t, projA, e.alice, "Project_Editor") // by hand, after the listing
		e.srv.ResetCounters()
		rec, _, err := e.conn.Converge(ctx, alice("Design Team"), connectors.Record{}, connectors.Options{})
		if err != nil || recordRoles(rec)[projA] != "Project_Editor" {
			t.Fatalf("err %v, record %v; want the membership adopted", err, recordRoles(rec))
		}
		if got, want := e.requestsTo(projAPath), []string{"POST 409", "GET 200"}; !slices.Equal(got, want) {
			t.Fatalf("requests to project A %v, want %v", got, want)
		}
		if e.srv.Writes() != 0 {
			t.Fatalf("%d writes after the relisting, want 0", e.srv.Writes())
		}
	})

	t.Run("404: removed by hand since the listing", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, nil)
		rec, _, err := e.conn.Converge(ctx, alice("Reviewers"), connectors.Record{}, connectors.Options{})
		if err != nil {
			t.Fatal(err)
		}
		e.srv.RemoveMembership(projA, e.alice) // by hand
		e.srv.ResetCounters()
		rec, _, err = e.conn.Converge(ctx, alice("Design Team", "Reviewers"), rec, connectors.Options{})
		if err != nil || recordRoles(rec)[projA] != "Project_Editor" {
			t.Fatalf("err %v, record %v", err, recordRoles(rec))
		}
		if got, want := e.requestsTo(projAPath), []string{"PUT 404", "GET 200", "POST 201"}; !slices.Equal(got, want) {
			t.Fatalf("requests to project A %v, want %v", got, want)
		}
		if r, _ := e.srv.RoleOf(projA, e.alice); r != "Project_Editor" {
			t.Fatalf("role %q", r)
		}
	})

	t.Run("422 once: one relisting, then the error", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, nil)
		e.srv.FailNextMethod(http.MethodPost, 2, http.StatusUnprocessableEntity)
		_, _, err := e.conn.Converge(ctx, alice("Design Team"), connectors.Record{}, connectors.Options{})
		if connectors.StatusOf(err) != http.StatusUnprocessableEntity {
			t.Fatalf("err %v, want the second 422", err)
		}
		if got, want := e.requestsTo(projAPath), []string{"GET 200", "POST 422", "GET 200", "POST 422"}; !slices.Equal(got, want) {
			t.Fatalf("requests to project A %v, want %v", got, want)
		}
	})

	t.Run("5xx after the write was applied: the next convergence reads again", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, nil)
		e.srv.FailAfterApply(http.MethodPost, 1, http.StatusBadGateway)
		rec, _, err := e.conn.Converge(ctx, alice("Design Team"), connectors.Record{}, connectors.Options{})
		if connectors.ClassOf(err) != connectors.Retryable {
			t.Fatalf("err %v, want the retryable 502", err)
		}
		if rec, _, err = e.conn.Converge(ctx, alice("Design Team"), rec, connectors.Options{}); err != nil || recordRoles(rec)[projA] != "Project_Editor" {
			t.Fatalf("retry: err %v, record %v", err, recordRoles(rec))
		}
		if got, want := e.requestsTo(projAPath), []string{"GET 200", "POST 502", "GET 200"}; !slices.Equal(got, want) {
			t.Fatalf("requests to project A %v, want %v", got, want)
		}
		if e.srv.DuplicateWrites() != 0 {
			t.Fatalf("%d duplicate writes", e.srv.DuplicateWrites())
		}
	})
}

// TestListingsConcurrentConvergences: many convergences at once, of distinct
// members and several of the same member, each write made once.
func TestListingsConcurrentConvergences(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	e.srv.Latency(2 * time.Millisecond) // widen the read-decide-write windows
	const n, copies = 30, 4
	subjects := addNewcomers(e, "c", n)
	var wg sync.WaitGroup
	for _, s := range subjects {
		for range copies {
			wg.Go(func() {
				rec, _, err := e.conn.Converge(context.Background(), s, connectors.Record{}, connectors.Options{})
				if err != nil || recordRoles(rec)[projA] != "Project_Editor" {
					t.Errorf("%s: err %v, record %v", s.ID, err, recordRoles(rec))
				}
			})
		}
	}
	wg.Wait()
	if e.srv.Writes() != n || e.srv.DuplicateWrites() != 0 {
		t.Fatalf("writes %d (dup %d) for %d members converged %d times each at once, want %d and 0", e.srv.Writes(), e.srv.DuplicateWrites(), n, copies, n)
	}
	// The same member with different groups at once: the convergences run one
	// after the other, each from the state the previous one left.
	e.srv.ResetCounters()
	s := subjects[0]
	var groups [][]string
	for range 8 {
		groups = append(groups, []string{"Design Team"}, []string{"Reviewers"})
	}
	for _, g := range groups {
		wg.Go(func() {
			u := *s.User
			u.Groups = g
			if _, _, err := e.conn.Converge(context.Background(), connectors.Subject{Kind: s.Kind, ID: s.ID, User: &u}, connectors.Record{}, connectors.Options{}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	// At most one write on project A per convergence, and project B's POST once.
	if e.srv.DuplicateWrites() != 0 || e.srv.Writes() > len(groups)+1 {
		t.Fatalf("writes %d (dup %d) for %d convergences of one member", e.srv.Writes(), e.srv.DuplicateWrites(), len(groups))
	}
}

// gatedListings holds the answer of project A's listings while armed: the
// fake builds it, then it waits until release is closed.
type gatedListings struct {
	next    http.Handler
	armed   atomic.Bool
	built   chan struct{}
	release chan struct{}
}

func (g *gatedListings) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet || r.URL.Path != projAPath || !g.armed.CompareAndSwap(true, false) {
		g.next.ServeHTTP(w, r)
		return
	}
	rec := httptest.NewRecorder()
	g.next.ServeHTTP(rec, r)
	close(g.built)
	<-g.release
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	_, _ = w.Write(rec.Body.Bytes())
}

// TestListingsReplayWritesOnReadUnderWay: a write that succeeds while a
// listing is being read, which the listing does not show, is kept: the member
// is not added twice.
func TestListingsReplayWritesOnReadUnderWay(t *testing.T) {
	t.Parallel()
	gate := &gatedListings{built: make(chan struct{}), release: make(chan struct{})}
	e := newEnvWrapped(t, nil, func(h http.Handler) http.Handler { gate.next = h; return gate })
	ctx := context.Background()
	impl := e.conn.(*connector)
	bob := alice("Reviewers")
	bob.ID, bob.User.ID, bob.User.Email = "u-bob", "u-bob", "bob@example.com"
	if _, _, err := e.conn.Converge(ctx, bob, connectors.Record{}, connectors.Options{}); err != nil {
		t.Fatal(err)
	}

	// A fresh read (a dry run's) is built without alice and held.
	gate.armed.Store(true)
	read := make(chan error, 1)
	go func() {
		_, _, err := impl.listings.view(ctx, impl.api, projA, "", nil, freshness{now: true})
		read <- err
	}()
	<-gate.built
	// Alice converges from the cached listing meanwhile: one POST.
	rec, _, err := e.conn.Converge(ctx, alice("Design Team"), connectors.Record{}, connectors.Options{})
	if err != nil {
		t.Fatal(err)
	}
	close(gate.release)
	if err := <-read; err != nil {
		t.Fatal(err)
	}
	// The listing that arrived lacks alice; the cache still has her.
	if _, _, err := e.conn.Converge(ctx, alice("Design Team"), rec, connectors.Options{}); err != nil {
		t.Fatal(err)
	}
	if e.srv.DuplicateWrites() != 0 || e.srv.Writes() != 3 {
		t.Fatalf("writes %d (dup %d), want 3 (bob twice, alice once) and 0", e.srv.Writes(), e.srv.DuplicateWrites())
	}
	if got := e.count("GET", projAPath); got != 2 {
		t.Fatalf("%d listings of project A, want 2 (the first, the fresh one)", got)
	}
}

// TestListingsWaiterGivesUp: a convergence waiting for a listing under way
// stops when its context ends, with a retryable error.
func TestListingsWaiterGivesUp(t *testing.T) {
	t.Parallel()
	gate := &gatedListings{built: make(chan struct{}), release: make(chan struct{})}
	e := newEnvWrapped(t, nil, func(h http.Handler) http.Handler { gate.next = h; return gate })
	impl := e.conn.(*connector)
	gate.armed.Store(true)
	go func() { _, _, _ = impl.listings.view(context.Background(), impl.api, projA, "", nil, freshness{}) }()
	<-gate.built
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, _, err := e.conn.Converge(ctx, alice("Design Team"), connectors.Record{}, connectors.Options{})
	close(gate.release)
	if connectors.ClassOf(err) != connectors.Retryable {
		t.Fatalf("err %v, want a retryable context error", err)
	}
	if got := e.count("GET", projAPath); got != 1 {
		t.Fatalf("%d listings, want 1 (the waiter sends none)", got)
	}
}

// TestListingsOtherReplicaWrites: another replica's writes are not in this
// replica's cached listing, but they are in the user's record: a cached entry
// that disagrees with the record is read afresh before deciding.
func TestListingsOtherReplicaWrites(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	ctx := context.Background()
	a, b := e.conn, e.open()
	bob := alice("Reviewers")
	bob.ID, bob.User.ID, bob.User.Email = "u-bob", "u-bob", "bob@example.com"

	// B lists project A before A adds alice: B's cache lacks her.
	if _, _, err := b.Converge(ctx, bob, connectors.Record{}, connectors.Options{}); err != nil {
		t.Fatal(err)
	}
	rec, _, err := a.Converge(ctx, alice("Design Team"), connectors.Record{}, connectors.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if rec, _, err = b.Converge(ctx, alice("Design Team"), rec, connectors.Options{}); err != nil {
		t.Fatal(err)
	}
	if e.srv.DuplicateWrites() != 0 {
		t.Fatalf("%d duplicate writes: B added alice again", e.srv.DuplicateWrites())
	}
	// B's cache now says Editor; A moves alice to Viewer; B is asked for
	// Editor again: the cache agrees with the wish, the record does not.
	if rec, _, err = a.Converge(ctx, alice("Reviewers"), rec, connectors.Options{}); err != nil {
		t.Fatal(err)
	}
	if rec, _, err = b.Converge(ctx, alice("Design Team"), rec, connectors.Options{}); err != nil {
		t.Fatal(err)
	}
	if r, _ := e.srv.RoleOf(projA, e.alice); r != "Project_Editor" {
		t.Fatalf("alice is %q on project A, want Project_Editor (B decided from its stale cache)", r)
	}
	// B's cache says Editor; A removes alice; B is asked for Editor again: its
	// cache shows the membership, the record says it was removed.
	if rec, _, err = a.Converge(ctx, alice(), rec, connectors.Options{}); err != nil {
		t.Fatal(err)
	}
	if _, ok := e.srv.RoleOf(projA, e.alice); ok {
		t.Fatal("A did not remove alice")
	}
	if _, _, err = b.Converge(ctx, alice("Design Team"), rec, connectors.Options{}); err != nil {
		t.Fatal(err)
	}
	if r, _ := e.srv.RoleOf(projA, e.alice); r != "Project_Editor" {
		t.Fatalf("alice is %q on project A after A removed her and B was asked to add her, want Project_Editor", r)
	}
	if e.srv.DuplicateWrites() != 0 {
		t.Fatalf("%d duplicate writes", e.srv.DuplicateWrites())
	}
}

// TestRecordRemovedMarks: a removed managed membership is marked in the
// record, and the mark goes once the project has been read afresh or is
// managed again.
func TestRecordRemovedMarks(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	ctx := context.Background()
	rec, _, err := e.conn.Converge(ctx, alice("Design Team"), connectors.Record{}, connectors.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if rec, _, err = e.conn.Converge(ctx, alice(), rec, connectors.Options{}); err != nil {
		t.Fatal(err)
	}
	if !decodeRemoved(rec)[projA] || len(rec.IDs) != 0 {
		t.Fatalf("after the removal: record %+v (%s), want project A marked removed and nothing managed", rec, rec.State)
	}
	again, _, err := e.conn.Converge(ctx, alice("Design Team"), rec, connectors.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if decodeRemoved(again)[projA] || recordRoles(again)[projA] != "Project_Editor" {
		t.Fatalf("managed again: record %+v (%s)", again, again.State)
	}
	// Read afresh (past the age) while still removed: the mark goes.
	e.clock.Advance(DefaultProjectMembersTTL)
	s := alice()
	s.User.Groups = nil
	c := e.open()
	c.(*connector).prune = true // the project is concerned without being wanted
	cleared, _, err := c.Converge(ctx, s, rec, connectors.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if decodeRemoved(cleared)[projA] {
		t.Fatalf("after a fresh listing: record %+v (%s), want no mark", cleared, cleared.State)
	}
}

// TestListingsDryRunsOfOnePass: the dry runs of one reconciliation pass
// (Options.ReadAfter, the pass's start) share one listing read during the
// pass; a dry run without it, or of a later pass, reads again.
func TestListingsDryRunsOfOnePass(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	ctx := context.Background()
	subjects := addNewcomers(e, "dry", 20)
	pass := e.clock.Now()
	for _, s := range subjects {
		_, acts, err := e.conn.Converge(ctx, s, connectors.Record{}, connectors.Options{DryRun: true, ReadAfter: pass})
		if err != nil || len(acts) != 1 {
			t.Fatalf("dry run: %v, %v", acts, err)
		}
	}
	if got := e.count("GET", projAPath); got != 1 {
		t.Fatalf("%d listings for the 20 dry runs of one pass, want 1", got)
	}
	if _, _, err := e.conn.Converge(ctx, subjects[0], connectors.Record{}, connectors.Options{DryRun: true}); err != nil {
		t.Fatal(err)
	}
	if got := e.count("GET", projAPath); got != 2 {
		t.Fatalf("%d listings after a dry run outside a pass, want 2", got)
	}
	e.clock.Advance(time.Second)
	next := e.clock.Now()
	for _, s := range subjects[:5] {
		if _, _, err := e.conn.Converge(ctx, s, connectors.Record{}, connectors.Options{DryRun: true, ReadAfter: next}); err != nil {
			t.Fatal(err)
		}
	}
	if got := e.count("GET", projAPath); got != 3 {
		t.Fatalf("%d listings after a later pass, want 3", got)
	}
	if e.srv.Writes() != 0 {
		t.Fatalf("dry runs wrote %d times", e.srv.Writes())
	}
}

// TestEmailChangeKeepsTheRecordedMember: the user's email changes (the same
// Bimplus member under a new email) while the cached project listing still
// shows the old one: the membership is the recorded member's, so nothing is
// deleted and re-added.
func TestEmailChangeKeepsTheRecordedMember(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, nil)
	rec, _, err := e.conn.Converge(ctx, alice("Design Team"), connectors.Record{}, connectors.Options{})
	if err != nil || recordRoles(rec)[projA] != "Project_Editor" {
		t.Fatalf("err %v, record %v", err, recordRoles(rec))
	}
	e.srv.AddTeamMemberWithID(e.alice, "alice.new@example.com") // the same member, renamed in Bimplus
	e.clock.Advance(2 * time.Second)                            // within the project listing's 30 s
	e.srv.ResetCounters()
	moved := alice("Design Team")
	moved.User.Email, moved.User.Emails = "alice.new@example.com", []string{"alice.new@example.com"}
	rec, _, err = e.conn.Converge(ctx, moved, rec, connectors.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if w := e.srv.Writes(); w != 0 {
		t.Errorf("%d writes (%v), want none: the member did not change", w, e.requestsTo(projAPath))
	}
	if r, _ := e.srv.RoleOf(projA, e.alice); r != "Project_Editor" || recordRoles(rec)[projA] != "Project_Editor" {
		t.Errorf("role %q, record %v", r, recordRoles(rec))
	}
}

// TestEmailChangeTrustsOnlyAFreshTeamAnswer: a membership is kept for the
// recorded member on an email change only when the team answered during this
// convergence; a member who left the team meanwhile (the person re-invited
// under a new id) never ends as a success that leaves the user without the
// membership.
func TestEmailChangeTrustsOnlyAFreshTeamAnswer(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, nil)
	moved := func(groups ...string) connectors.Subject {
		s := alice(groups...)
		s.User.Email, s.User.Emails = "alice.new@example.com", []string{"alice.new@example.com"}
		return s
	}
	rec, _, err := e.conn.Converge(ctx, alice("Design Team"), connectors.Record{}, connectors.Options{})
	if err != nil {
		t.Fatal(err)
	}
	e.srv.AddTeamMemberWithID(e.alice, "alice.new@example.com")
	e.clock.Advance(2 * time.Second)
	if rec, _, err = e.conn.Converge(ctx, moved("Design Team"), rec, connectors.Options{}); err != nil {
		t.Fatal(err)
	}
	// The member leaves the team; the same person is invited again as n.
	e.srv.RemoveTeamMember(e.alice)
	n := e.srv.AddTeamMember("alice.new@example.com")
	e.clock.Advance(2 * time.Second)
	for range 3 { // as the bridge retries
		if rec, _, err = e.conn.Converge(ctx, moved("Design Team"), rec, connectors.Options{}); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	if r, _ := e.srv.RoleOf(projA, n); r != "Project_Editor" {
		t.Errorf("the re-invited member's role on project A: %q, want Project_Editor (record %v)", r, recordRoles(rec))
	}
}
