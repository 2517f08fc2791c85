package bimplus

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scim-bridge/scim-bridge/connectors"
)

const teamPath = "/v2/acme/members"

// newcomer is a user in "Design Team" (project A) with the given email.
func newcomer(email string) connectors.Subject {
	s := alice("Design Team")
	s.ID = "u-" + email
	s.User.ID, s.User.Email = s.ID, email
	return s
}

func TestMemberCacheBurst(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	const n = 50
	ids := map[string]string{}
	for i := range n {
		email := fmt.Sprintf("user%02d@example.com", i)
		ids[email] = e.srv.AddTeamMember(email)
	}
	unknown := []string{"nobody1@example.com", "nobody2@example.com"}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs = map[string]error{}
		recs = map[string]connectors.Record{}
	)
	for _, email := range append(mapKeys(ids), unknown...) {
		wg.Go(func() {
			rec, _, err := e.conn.Converge(context.Background(), newcomer(email), connectors.Record{}, connectors.Options{})
			mu.Lock()
			defer mu.Unlock()
			errs[email], recs[email] = err, rec
		})
	}
	wg.Wait()
	if got := e.count("GET", teamPath); got != 1 {
		t.Fatalf("GET %s %d times for a burst of %d convergences, want 1", teamPath, got, n)
	}
	for email, id := range ids {
		if errs[email] != nil {
			t.Fatalf("%s: %v", email, errs[email])
		}
		if r, _ := e.srv.RoleOf(projA, id); r != "Project_Editor" || recs[email].IDs["project:"+projA] != id {
			t.Fatalf("%s: role %q, record %v", email, r, recs[email].IDs)
		}
	}
	// The misses came within a second of the listing: final, no refresh.
	for _, email := range unknown {
		if connectors.ClassOf(errs[email]) != connectors.Permanent || !strings.Contains(errs[email].Error(), email) {
			t.Fatalf("%s: %v, want a permanent not-a-team-member error", email, errs[email])
		}
	}
	// Later, a miss refreshes once; a second miss right after does not.
	e.clock.Advance(2 * time.Second)
	for range 2 {
		if _, _, err := e.conn.Converge(context.Background(), newcomer(unknown[0]), connectors.Record{}, connectors.Options{}); connectors.ClassOf(err) != connectors.Permanent {
			t.Fatalf("unknown after refresh: %v", err)
		}
	}
	if got := e.count("GET", teamPath); got != 2 {
		t.Fatalf("GET %s %d times, want 2 (one refresh on a miss)", teamPath, got)
	}
	if e.srv.DuplicateWrites() != 0 || e.srv.Writes() != n {
		t.Fatalf("writes %d (dup %d), want %d", e.srv.Writes(), e.srv.DuplicateWrites(), n)
	}
}

func mapKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestMemberCacheTTL(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		ttl   string
		steps []time.Duration // clock advance before each convergence
		gets  []int           // GET /members count after each
	}{
		{"default one minute", "", []time.Duration{0, 30 * time.Second, 31 * time.Second}, []int{1, 1, 2}},
		{"five minutes", "5m", []time.Duration{0, 4 * time.Minute, 2 * time.Minute, time.Minute}, []int{1, 1, 2, 2}},
		{"0s turns the cache off", "0s", []time.Duration{0, 0, 0}, []int{1, 2, 3}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, func(c *Config) { c.MembersTTL = tc.ttl })
			for i, d := range tc.steps {
				email := fmt.Sprintf("ttl%d@example.com", i)
				id := e.srv.AddTeamMember(email)
				if i == 0 {
					// Team members added later must be in the first listing
					// for the hits to be hits: add them all now.
					for j := 1; j < len(tc.steps); j++ {
						e.srv.AddTeamMember(fmt.Sprintf("ttl%d@example.com", j))
					}
				}
				e.clock.Advance(d)
				if _, _, err := e.conn.Converge(context.Background(), newcomer(email), connectors.Record{}, connectors.Options{}); err != nil {
					t.Fatalf("step %d: %v", i, err)
				}
				if i == 0 {
					if r, _ := e.srv.RoleOf(projA, id); r != "Project_Editor" {
						t.Fatalf("step 0: role %q", r)
					}
				}
				if got := e.count("GET", teamPath); got != tc.gets[i] {
					t.Fatalf("step %d (after +%s): GET %s %d times, want %d", i, d, teamPath, got, tc.gets[i])
				}
			}
		})
	}
}

func TestMemberCacheMissRefresh(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	ctx := context.Background()
	if _, _, err := e.conn.Converge(ctx, alice("Design Team"), connectors.Record{}, connectors.Options{}); err != nil {
		t.Fatal(err)
	}
	// Invited after the cache was filled, and converged at once: a listing
	// younger than a second is trusted, so the user is not a team member yet.
	carol := e.srv.AddTeamMember("Carol@Example.com")
	if _, _, err := e.conn.Converge(ctx, newcomer("carol@example.com"), connectors.Record{}, connectors.Options{}); connectors.ClassOf(err) != connectors.Permanent {
		t.Fatalf("within a second of the listing: %v, want permanent", err)
	}
	if got := e.count("GET", teamPath); got != 1 {
		t.Fatalf("GET %s %d times, want 1", teamPath, got)
	}
	// A retry later finds her through a refresh on the miss.
	e.clock.Advance(2 * time.Second)
	rec, _, err := e.conn.Converge(ctx, newcomer("carol@example.com"), connectors.Record{}, connectors.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if r, _ := e.srv.RoleOf(projA, carol); r != "Project_Editor" || rec.IDs["project:"+projA] != carol {
		t.Fatalf("carol: role %q record %v", r, rec.IDs)
	}
	if got := e.count("GET", teamPath); got != 2 {
		t.Fatalf("GET %s %d times, want 2", teamPath, got)
	}
	// Bob was in both listings: a hit, no request.
	bob := newcomer("bob@example.com")
	if _, _, err := e.conn.Converge(ctx, bob, connectors.Record{}, connectors.Options{}); err != nil {
		t.Fatal(err)
	}
	if got := e.count("GET", teamPath); got != 2 {
		t.Fatalf("GET %s %d times after a hit, want 2", teamPath, got)
	}
}

func TestMemberCacheStaleID(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const newID = "11111111-2222-4333-8444-555555555555"
	for _, tc := range []struct {
		name string
		// change acts on the server after the cache was filled with alice's id.
		change  func(e *env)
		wantErr string // "" for success with newID
		posts   int
		reads   int // GETs of the team listing: one per rejected POST of a cached id
	}{
		{"member re-created under a new id: retried once with it", func(e *env) {
			e.srv.RemoveTeamMember(e.alice)
			e.srv.AddTeamMemberWithID(newID, "alice@example.com")
		}, "", 2, 1},
		{"member left the team: permanent, named by email", func(e *env) {
			e.srv.RemoveTeamMember(e.alice)
		}, "no member with email \"alice@example.com\"", 1, 1},
		{"POST rejected for another reason: its own error, after one more plan", func(e *env) {
			e.srv.FailNextMethod(http.MethodPost, 2, http.StatusBadRequest)
		}, "status 400", 2, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, nil)
			// Fill the cache through bob (alice's id is cached with it).
			if _, _, err := e.conn.Converge(ctx, newcomer("bob@example.com"), connectors.Record{}, connectors.Options{}); err != nil {
				t.Fatal(err)
			}
			tc.change(e)
			e.srv.ResetCounters()
			rec, _, err := e.conn.Converge(ctx, alice("Design Team"), connectors.Record{}, connectors.Options{})
			if got := e.count("GET", teamPath); got != tc.reads {
				t.Fatalf("GET %s %d times, want %d (the re-reads after the rejected POSTs)", teamPath, got, tc.reads)
			}
			if got := e.count("POST", "/v2/acme/projects/"+projA+"/members"); got != tc.posts {
				t.Fatalf("%d POSTs, want %d", got, tc.posts)
			}
			if tc.wantErr != "" {
				if connectors.ClassOf(err) != connectors.Permanent || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want a permanent error containing %q", err, tc.wantErr)
				}
				if len(rec.IDs) != 0 || e.srv.Writes() != 0 {
					t.Fatalf("record %v, writes %d", rec.IDs, e.srv.Writes())
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if r, _ := e.srv.RoleOf(projA, newID); r != "Project_Editor" || rec.IDs["project:"+projA] != newID {
				t.Fatalf("role %q record %v, want the new id", r, rec.IDs)
			}
		})
	}
	t.Run("an id read during the convergence is not re-read; a 400 plans once more", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, nil)
		e.srv.FailNextMethod(http.MethodPost, 1, http.StatusBadRequest)
		_, _, err := e.conn.Converge(ctx, alice("Design Team"), connectors.Record{}, connectors.Options{})
		posts := e.count("POST", "/v2/acme/projects/"+projA+"/members")
		if err != nil || e.count("GET", teamPath) != 1 || posts != 2 {
			t.Fatalf("err %v, GET %s %d times, %d POSTs; want success, 1 and 2", err, teamPath, e.count("GET", teamPath), posts)
		}
		if r, _ := e.srv.RoleOf(projA, e.alice); r != "Project_Editor" {
			t.Fatalf("role %q", r)
		}
	})
}

// blockingTeam serves GET /acme/members: each request waits for release, then
// answers status with the given listing.
type blockingTeam struct {
	calls   atomic.Int32
	release chan struct{}
	status  int
	body    string
}

func (b *blockingTeam) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b.calls.Add(1)
	<-b.release
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(b.status)
	_, _ = w.Write([]byte(b.body))
}

func TestMemberCacheSingleFlight(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		status int
		check  func(t *testing.T, lk memberLookup, err error)
	}{
		{"waiters share the listing", http.StatusOK, func(t *testing.T, lk memberLookup, err error) {
			if err != nil || lk.id != "m-1" || !lk.fresh {
				t.Errorf("lookup %+v, err %v", lk, err)
			}
		}},
		{"waiters share the error", http.StatusServiceUnavailable, func(t *testing.T, _ memberLookup, err error) {
			if connectors.ClassOf(err) != connectors.Retryable {
				t.Errorf("err %v, want the listing's retryable error", err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := &blockingTeam{release: make(chan struct{}), status: tc.status, body: `[{"id":"m-1","email":"Ann@example.com"}]`}
			hs := httptest.NewServer(srv)
			t.Cleanup(hs.Close)
			client, err := connectors.NewClient(connectors.Base{URL: hs.URL, Token: testToken}, hs.Client(), nil)
			if err != nil {
				t.Fatal(err)
			}
			a := &api{c: client, team: "acme"}
			mc := &memberCache{ttl: time.Minute, now: time.Now}
			const callers = 8
			var wg sync.WaitGroup
			for range callers {
				wg.Go(func() {
					lk, err := mc.find(context.Background(), a, "ann@EXAMPLE.com ", 0, freshness{})
					tc.check(t, lk, err)
				})
			}
			// Release the request once every other caller waits for it.
			for {
				mc.mu.Lock()
				joined := mc.flight != nil && mc.flight.waiters == callers-1
				mc.mu.Unlock()
				if joined {
					break
				}
				time.Sleep(time.Millisecond)
			}
			close(srv.release)
			wg.Wait()
			if n := srv.calls.Load(); n != 1 {
				t.Fatalf("%d team listings for %d concurrent lookups, want 1", n, callers)
			}
		})
	}
}

func TestMemberCacheContextCancelled(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	impl := e.conn.(*connector)
	// A listing in flight: a waiter whose context ends stops waiting.
	f := &memberFlight{done: make(chan struct{})}
	impl.members.mu.Lock()
	impl.members.flight = f
	impl.members.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, err := impl.members.find(ctx, impl.api, "alice@example.com", 0, freshness{})
	if connectors.ClassOf(err) != connectors.Retryable {
		t.Fatalf("err %v, want a retryable context error", err)
	}
	if e.count("GET", teamPath) != 0 {
		t.Fatal("a waiter sent its own request")
	}
}

// TestMemberCacheLeaderCancelled: the caller whose lookup reads the team
// listing is cancelled (a lost lease, an admin's dry run whose client gave
// up) while another waits for the same listing with a live context: the
// waiter still gets the listing, not the leader's cancellation.
func TestMemberCacheLeaderCancelled(t *testing.T) {
	t.Parallel()
	srv := &blockingTeam{release: make(chan struct{}), status: http.StatusOK, body: `[{"id":"m-1","email":"ann@example.com"}]`}
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	client, err := connectors.NewClient(connectors.Base{URL: hs.URL, Token: testToken}, hs.Client(), nil)
	if err != nil {
		t.Fatal(err)
	}
	a := &api{c: client, team: "acme"}
	mc := &memberCache{ttl: time.Minute, now: time.Now}
	leaderCtx, cancelLeader := context.WithCancel(context.Background())
	leaderDone := make(chan struct{})
	go func() {
		defer close(leaderDone)
		_, _ = mc.find(leaderCtx, a, "ann@example.com", 0, freshness{})
	}()
	for srv.calls.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	type result struct {
		lk  memberLookup
		err error
	}
	res := make(chan result, 1)
	go func() {
		lk, err := mc.find(context.Background(), a, "ann@example.com", 0, freshness{})
		res <- result{lk, err}
	}()
	for {
		mc.mu.Lock()
		w := mc.flight != nil && mc.flight.waiters == 1
		mc.mu.Unlock()
		if w {
			break
		}
		time.Sleep(time.Millisecond)
	}
	cancelLeader()
	time.Sleep(20 * time.Millisecond) // the cancellation reaches the request in flight, if it can
	close(srv.release)
	<-leaderDone
	if r := <-res; r.err != nil || r.lk.id != "m-1" {
		t.Fatalf("waiter: lookup %+v, err %v; want m-1 from the shared listing", r.lk, r.err)
	}
	if n := srv.calls.Load(); n != 1 {
		t.Fatalf("%d team listings, want 1", n)
	}
}
