package store

import (
	"context"
	"testing"
	"time"
)

func TestThrottleHoldSharedAndMonotonic(t *testing.T) {
	backends(t, func(t *testing.T, s *Store) {
		clock := useManualClock(s)
		ctx := context.Background()
		a, b := s.Throttle("acme", "odm"), s.Throttle("acme", "odm")
		if until, err := b.HeldUntil(ctx); err != nil || !until.IsZero() {
			t.Fatalf("never held: %v, %v", until, err)
		}
		later := clock.Now().Add(2 * time.Second)
		if err := a.Hold(ctx, later, true); err != nil {
			t.Fatal(err)
		}
		// An earlier hold does not shorten it; a zero one only counts.
		if err := a.Hold(ctx, clock.Now().Add(time.Second), true); err != nil {
			t.Fatal(err)
		}
		if err := b.Hold(ctx, time.Time{}, true); err != nil {
			t.Fatal(err)
		}
		if until, err := b.HeldUntil(ctx); err != nil || !until.Equal(later) {
			t.Fatalf("held until %v (%v), want %v", until, err, later)
		}
		// Other connectors and tenants are not held.
		if err := s.Throttle("globex", "odm").Hold(ctx, later.Add(time.Hour), false); err != nil {
			t.Fatal(err)
		}
		states, err := s.ThrottleStates(ctx, "acme", []string{"odm", "bimdata"})
		if err != nil {
			t.Fatal(err)
		}
		if st := states["odm"]; !st.HeldUntil.Equal(later) || st.RateLimited != 3 || !st.Held(clock.Now()) {
			t.Fatalf("odm state %+v, want held until %v with 3 rate-limited answers", st, later)
		}
		if st := states["bimdata"]; st != (ThrottleState{}) {
			t.Fatalf("bimdata state %+v, want zero", st)
		}
		clock.Advance(2 * time.Second)
		if states["odm"].Held(clock.Now()) {
			t.Fatal("still held after the hold")
		}
	})
}
