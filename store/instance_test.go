package store

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"
)

// TestReleaseOrphanedClaims: the claims of a process whose heartbeat stopped
// return to the queue at once (not after the lease); live owners and owners
// that never announced themselves keep theirs.
func TestReleaseOrphanedClaims(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		mustMark(t, s, "acme", userKey("acme", "a1"), userKey("acme", "a2"), userKey("acme", "b1"), userKey("acme", "c1"))
		for _, o := range []string{"dead", "alive"} {
			if err := s.KeepAlive(ctx, o, time.Minute); err != nil {
				t.Fatal(err)
			}
		}
		dead := mustClaim(t, s, "acme", "dead", time.Hour, 2)
		alive := mustClaim(t, s, "acme", "alive", time.Hour, 1)
		legacy := mustClaim(t, s, "acme", "never-announced", time.Hour, 1)
		if len(dead)+len(alive)+len(legacy) != 4 {
			t.Fatalf("claims: %d %d %d", len(dead), len(alive), len(legacy))
		}
		if n, err := s.ReleaseOrphanedClaims(ctx, "acme"); err != nil || n != 0 {
			t.Fatalf("with every owner alive: released %d, %v", n, err)
		}
		if err := s.Retire(ctx, "dead"); err != nil { // as if its heartbeat had stopped
			t.Fatal(err)
		}
		n, err := s.ReleaseOrphanedClaims(ctx, "acme")
		if err != nil || n != 2 {
			t.Fatalf("released %d, %v; want the dead owner's 2", n, err)
		}
		again := mustClaim(t, s, "acme", "successor", time.Hour, 10)
		var got, want []string
		for _, c := range again {
			got = append(got, c.Key.ID)
		}
		for _, c := range dead {
			want = append(want, c.Key.ID)
		}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Fatalf("successor claimed %v, want %v", got, want)
		}
		if err := s.Ack(ctx, dead[0]); !errors.Is(err, ErrLeaseLost) {
			t.Fatalf("the dead owner's ack: %v, want ErrLeaseLost", err)
		}
		for _, c := range append(alive, legacy...) {
			if err := s.Ack(ctx, c); err != nil {
				t.Fatalf("ack of a kept claim: %v", err)
			}
		}
		if n, err := s.ReleaseOrphanedClaims(ctx, "void"); err != nil || n != 0 {
			t.Fatalf("empty tenant: %d, %v", n, err)
		}
	})
}

// TestKeepAliveExpires: without heartbeats an owner counts as dead after its
// ttl (the store's TTLs run on the server).
func TestKeepAliveExpires(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		mustMark(t, s, "acme", userKey("acme", "x"))
		if err := s.KeepAlive(ctx, "p1", 50*time.Millisecond); err != nil {
			t.Fatal(err)
		}
		mustClaim(t, s, "acme", "p1", time.Hour, 1)
		if s.Embedded() {
			s.embedded.FastForward(time.Second)
		} else {
			time.Sleep(100 * time.Millisecond)
		}
		if n, err := s.ReleaseOrphanedClaims(ctx, "acme"); err != nil || n != 1 {
			t.Fatalf("released %d, %v", n, err)
		}
		if err := s.KeepAlive(ctx, "", time.Second); err == nil {
			t.Fatal("empty owner accepted")
		}
	})
}
