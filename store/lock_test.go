package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

func TestLockExclusiveUnderConcurrentAcquire(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, s *Store) {
		t.Parallel()
		ctx := context.Background()
		var last int64
		for round := range 5 {
			var (
				mu      sync.Mutex
				winners []*Lock
				wg      sync.WaitGroup
			)
			for g := range 12 {
				wg.Go(func() {
					l, err := s.AcquireLock(ctx, "acme", "reconcile", fmt.Sprintf("r%d-g%d", round, g), time.Minute)
					switch {
					case err == nil:
						mu.Lock()
						winners = append(winners, l)
						mu.Unlock()
					case !errors.Is(err, ErrLocked):
						t.Errorf("acquire: %v", err)
					}
				})
			}
			wg.Wait()
			if len(winners) != 1 {
				t.Fatalf("round %d: %d holders, want 1", round, len(winners))
			}
			w := winners[0]
			if w.Token <= last {
				t.Fatalf("round %d: fencing token %d not above %d", round, w.Token, last)
			}
			last = w.Token
			owner, tok, err := s.LockHolder(ctx, "acme", "reconcile")
			if err != nil || owner != w.Owner || tok != w.Token {
				t.Fatalf("LockHolder = %q %d %v, want %q %d", owner, tok, err, w.Owner, w.Token)
			}
			if err := s.ReleaseLock(ctx, w); err != nil {
				t.Fatal(err)
			}
		}
		if owner, tok, err := s.LockHolder(ctx, "acme", "reconcile"); err != nil || owner != "" || tok != 0 {
			t.Fatalf("LockHolder of a free lock = %q %d %v", owner, tok, err)
		}
		// Locks are per tenant and per name.
		a, err := s.AcquireLock(ctx, "acme", "reconcile", "x", time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.AcquireLock(ctx, "globex", "reconcile", "y", time.Minute); err != nil {
			t.Fatalf("another tenant's lock: %v", err)
		}
		if _, err := s.AcquireLock(ctx, "acme", "other", "y", time.Minute); err != nil {
			t.Fatalf("another lock name: %v", err)
		}
		// The holder acquiring again renews and keeps its token.
		again, err := s.AcquireLock(ctx, "acme", "reconcile", "x", time.Minute)
		if err != nil || again.Token != a.Token {
			t.Fatalf("re-acquire by the holder = %+v, %v; want token %d", again, err, a.Token)
		}
	})
}

func TestLockRejectsNonOwner(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, s *Store) {
		t.Parallel()
		ctx := context.Background()
		clk := useManualClock(s)
		a, err := s.AcquireLock(ctx, "acme", "reconcile", "a", time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if !a.Expires.Equal(clk.Now().Add(time.Minute)) || a.Tenant != "acme" || a.Name != "reconcile" || a.Owner != "a" {
			t.Fatalf("lock = %+v", a)
		}
		if _, err := s.AcquireLock(ctx, "acme", "reconcile", "b", time.Minute); !errors.Is(err, ErrLocked) {
			t.Fatalf("acquire by b = %v, want ErrLocked", err)
		}
		for _, forged := range []*Lock{
			{Tenant: "acme", Name: "reconcile", Owner: "b", Token: a.Token},
			{Tenant: "acme", Name: "reconcile", Owner: "a", Token: a.Token + 1},
		} {
			if err := s.RenewLock(ctx, forged, time.Minute); !errors.Is(err, ErrLockLost) {
				t.Fatalf("renew by %+v = %v, want ErrLockLost", forged, err)
			}
			if err := s.ReleaseLock(ctx, forged); !errors.Is(err, ErrLockLost) {
				t.Fatalf("release by %+v = %v, want ErrLockLost", forged, err)
			}
		}
		if owner, _, _ := s.LockHolder(ctx, "acme", "reconcile"); owner != "a" {
			t.Fatalf("holder after forged calls = %q, want a", owner)
		}
		clk.Advance(time.Second)
		if err := s.RenewLock(ctx, a, 2*time.Minute); err != nil {
			t.Fatal(err)
		}
		if !a.Expires.Equal(clk.Now().Add(2 * time.Minute)) {
			t.Fatalf("Expires after renew = %v", a.Expires)
		}
		if err := s.ReleaseLock(ctx, a); err != nil {
			t.Fatal(err)
		}
		if err := s.ReleaseLock(ctx, a); !errors.Is(err, ErrLockLost) {
			t.Fatalf("second release = %v, want ErrLockLost", err)
		}
	})
}

func TestLockExpiryFreesIt(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, s *Store) {
		t.Parallel()
		ctx := context.Background()
		clk := useManualClock(s)
		ttl := ttlFor(s)
		a, err := s.AcquireLock(ctx, "acme", "reconcile", "a", ttl)
		if err != nil {
			t.Fatal(err)
		}
		// Renewing keeps a live holder in place past its first TTL.
		letTimePass(s, clk, ttl/2)
		if err := s.RenewLock(ctx, a, ttl); err != nil {
			t.Fatal(err)
		}
		letTimePass(s, clk, ttl/2+ttl/8)
		if _, err := s.AcquireLock(ctx, "acme", "reconcile", "b", ttl); !errors.Is(err, ErrLocked) {
			t.Fatalf("acquire of a renewed lock = %v, want ErrLocked", err)
		}
		// A holder that stops renewing loses it at the TTL.
		letTimePass(s, clk, ttl)
		b, err := s.AcquireLock(ctx, "acme", "reconcile", "b", time.Minute)
		if err != nil {
			t.Fatalf("acquire after expiry: %v", err)
		}
		if b.Token <= a.Token {
			t.Fatalf("fencing token %d not above the dead holder's %d", b.Token, a.Token)
		}
		if err := s.RenewLock(ctx, a, ttl); !errors.Is(err, ErrLockLost) {
			t.Fatalf("renew by the expired holder = %v, want ErrLockLost", err)
		}
		if err := s.ReleaseLock(ctx, a); !errors.Is(err, ErrLockLost) {
			t.Fatalf("release by the expired holder = %v, want ErrLockLost", err)
		}
		if owner, tok, _ := s.LockHolder(ctx, "acme", "reconcile"); owner != "b" || tok != b.Token {
			t.Fatalf("holder = %q %d, want b %d", owner, tok, b.Token)
		}
	})
}

func TestLockRejectsBadInput(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, s *Store) {
		t.Parallel()
		for _, tc := range []struct {
			name, tenant, lock, owner string
			ttl                       time.Duration
		}{
			{"no tenant", "", "l", "o", time.Minute},
			{"no name", "acme", "", "o", time.Minute},
			{"fence suffix", "acme", "l:fence", "o", time.Minute},
			{"no owner", "acme", "l", "", time.Minute},
			{"no ttl", "acme", "l", "o", 0},
		} {
			t.Run(tc.name, func(t *testing.T) {
				if _, err := s.AcquireLock(context.Background(), tc.tenant, tc.lock, tc.owner, tc.ttl); err == nil {
					t.Fatal("AcquireLock accepted it")
				}
			})
		}
	})
}
