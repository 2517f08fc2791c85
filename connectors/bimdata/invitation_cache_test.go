package bimdata

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scim-bridge/scim-bridge/connectors"
	"github.com/scim-bridge/scim-bridge/connectors/bimdata/fake"
	"github.com/scim-bridge/scim-bridge/internal/fakeclock"
)

func bulkUsers(n int) []connectors.User {
	users := make([]connectors.User, n)
	for i := range users {
		users[i] = connectors.User{ID: fmt.Sprintf("u%d", i), UserName: fmt.Sprintf("user%d", i), Email: fmt.Sprintf("user%d@example.com", i), Active: true}
	}
	return users
}

// TestBulkProvisioningListsOnce: converging many users within the cache
// interval lists the invitations once; after the interval, once more; with the
// cache off, once per user.
func TestBulkProvisioningListsOnce(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		cache     string
		wantLists int
	}{
		{"default cache", "", 2},
		{"cache off", "0s", 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			clk := fakeclock.New(time.Unix(1_700_000_000, 0))
			users := bulkUsers(20)
			e := newEnv(t, envOpts{now: clk.Now, dir: newDirectory(users...), cfg: func(c *Config) { c.InvitationCache = tc.cache }})
			for i := range users {
				e.srv.AddInvitation(fake.Invitation{Email: users[i].Email})
			}
			for i := range users {
				if i == 10 {
					clk.Advance(DefaultInvitationCache)
				}
				if _, _, errs := converge(t, e.conn, userSubject(&users[i], users[i].ID), connectors.Record{}, connectors.Options{}); len(errs) != 0 {
					t.Fatal(errs)
				}
			}
			if got := countRequests(e.srv, "GET", pathInvitations); got != tc.wantLists {
				t.Fatalf("%d listings, want %d", got, tc.wantLists)
			}
			for _, inv := range e.srv.Invitations() {
				if inv.Status != fake.StatusAccepted {
					t.Fatalf("invitation %+v not accepted", inv)
				}
			}
			if e.srv.Writes() != 40 || e.srv.DuplicateWrites() != 0 {
				t.Fatalf("writes %d dups %d, want 40 0", e.srv.Writes(), e.srv.DuplicateWrites())
			}
		})
	}
}

// TestConcurrentMissesShareOneListing: workers converging at once share one
// listing, and each accepts only its own invitation.
func TestConcurrentMissesShareOneListing(t *testing.T) {
	t.Parallel()
	users := bulkUsers(16)
	e := newEnv(t, envOpts{dir: newDirectory(users...), cfg: func(c *Config) { c.InvitationCache = "1m" }})
	for i := range users {
		e.srv.AddInvitation(fake.Invitation{Email: users[i].Email})
	}
	e.srv.Latency(20 * time.Millisecond) // keep the first listing in flight while the others arrive
	prev := func(u connectors.User) connectors.Record {
		return stateRecord(userState{Email: u.Email, Status: statePresent})
	}
	var wg sync.WaitGroup
	var failed atomic.Int32
	for i := range users {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, _, err := e.conn.Converge(context.Background(), userSubject(&users[i], users[i].ID), prev(users[i]), connectors.Options{}); err != nil {
				failed.Add(1)
			}
		}()
	}
	wg.Wait()
	if failed.Load() != 0 {
		t.Fatalf("%d convergences failed", failed.Load())
	}
	if got := countRequests(e.srv, "GET", pathInvitations); got != 1 {
		t.Fatalf("%d listings, want 1", got)
	}
	if e.srv.Writes() != len(users) || e.srv.DuplicateWrites() != 0 {
		t.Fatalf("writes %d dups %d, want %d 0", e.srv.Writes(), e.srv.DuplicateWrites(), len(users))
	}
}

func TestCacheFailedListingIsNotKept(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	e.srv.FailNext(1, 500)
	if _, err := e.conn.cache.pending(context.Background(), time.Time{}); connectors.ClassOf(err) != connectors.Retryable {
		t.Fatalf("err %v", err)
	}
	e.srv.AddInvitation(fake.Invitation{Email: "a@example.com"})
	list, err := e.conn.cache.pending(context.Background(), time.Time{})
	if err != nil || len(list) != 1 {
		t.Fatalf("list %v err %v", list, err)
	}
}

func TestCacheWaiterHonoursContext(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	c := newInvitationCache(time.Minute, time.Now, func(context.Context) ([]invitation, error) {
		<-release
		return nil, nil
	})
	go func() { _, _ = c.pending(context.Background(), time.Time{}) }()
	for {
		c.mu.Lock()
		loading := c.flight != nil
		c.mu.Unlock()
		if loading {
			break
		}
		time.Sleep(time.Millisecond)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.pending(ctx, time.Time{}); err != context.Canceled {
		t.Fatalf("err %v, want context.Canceled", err)
	}
	close(release)
}

// TestCacheStaleFetchNotStored: a listing that started before a write is not
// stored, so the written invitation cannot come back as pending.
func TestCacheStaleFetchNotStored(t *testing.T) {
	t.Parallel()
	started, release := make(chan struct{}), make(chan struct{})
	calls := 0
	c := newInvitationCache(time.Minute, time.Now, func(context.Context) ([]invitation, error) {
		calls++
		if calls == 1 {
			close(started)
			<-release
		}
		return []invitation{{ID: 1, Email: "a@example.com", Status: statusPending}}, nil
	})
	done := make(chan struct{})
	go func() { defer close(done); _, _ = c.pending(context.Background(), time.Time{}) }()
	<-started
	c.remove(1)
	close(release)
	<-done
	if _, err := c.pending(context.Background(), time.Time{}); err != nil || calls != 2 {
		t.Fatalf("calls %d err %v, want a fresh listing", calls, err)
	}
}
