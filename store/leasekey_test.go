package store

import (
	"context"
	"testing"
	"time"
)

func TestLeaseKeyExcludesClaims(t *testing.T) {
	backends(t, func(t *testing.T, s *Store) {
		useManualClock(s)
		ctx := context.Background()
		k := userKey("acme", "u1")
		c, ok, err := s.Lease(ctx, k, "webhook", time.Minute)
		if err != nil || !ok {
			t.Fatalf("lease of a free key: %v, %v", ok, err)
		}
		// Marked meanwhile: not claimable while leased, nor leasable twice.
		mustMark(t, s, "acme", k)
		if cs := mustClaim(t, s, "acme", "w", time.Minute, 10); len(cs) != 0 {
			t.Fatalf("claimed %d keys while leased", len(cs))
		}
		if _, ok, err := s.Lease(ctx, k, "other", time.Minute); err != nil || ok {
			t.Fatalf("second lease: %v, %v; want refused", ok, err)
		}
		// Released: the mark is due at once, and the claim holds the key.
		if err := s.Ack(ctx, c); err != nil {
			t.Fatal(err)
		}
		cs := mustClaim(t, s, "acme", "w", time.Minute, 10)
		if len(cs) != 1 || cs[0].Key != k {
			t.Fatalf("after the lease: claimed %+v, want the marked key", cs)
		}
		if _, ok, _ := s.Lease(ctx, k, "webhook", time.Minute); ok {
			t.Fatal("leased a key a claim holds")
		}
	})
}
