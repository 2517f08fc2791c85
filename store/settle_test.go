package store

import (
	"context"
	"testing"
	"time"
)

// settleOnce claims the one due key of tenant and settles it; it returns the
// claim and the settle time (zero: converge now).
func settleOnce(t *testing.T, s *Store, quiet, maxDelay time.Duration) (Claim, time.Time) {
	t.Helper()
	cs := mustClaim(t, s, "acme", "w", time.Minute, 10)
	if len(cs) != 1 {
		t.Fatalf("claimed %d keys, want 1", len(cs))
	}
	at, err := s.Settle(context.Background(), cs[0], quiet, maxDelay)
	if err != nil {
		t.Fatalf("settle: %v", err)
	}
	return cs[0], at
}

func TestSettleBurstConvergesOnceAfterQuietPeriod(t *testing.T) {
	backends(t, func(t *testing.T, s *Store) {
		clock := useManualClock(s)
		ctx := context.Background()
		const quiet, maxDelay = time.Second, 10 * time.Second
		start := clock.Now()
		k := userKey("acme", "u1")
		// Ten changes 90 ms apart: each re-arms the quiet period.
		for i := range 10 {
			mustMark(t, s, "acme", k)
			c, at := settleOnce(t, s, quiet, maxDelay)
			if want := clock.Now().Add(quiet); !at.Equal(want) {
				t.Fatalf("change %d: settles until %v, want %v", i, at, want)
			}
			if err := s.Retry(ctx, c, at); err != nil {
				t.Fatal(err)
			}
			clock.Advance(90 * time.Millisecond)
		}
		// Nothing is due before the quiet period after the last change.
		if cs := mustClaim(t, s, "acme", "w", time.Minute, 10); len(cs) != 0 {
			t.Fatalf("claimed %d keys during the quiet period", len(cs))
		}
		clock.Advance(quiet - 90*time.Millisecond)
		c, at := settleOnce(t, s, quiet, maxDelay)
		if !at.IsZero() {
			t.Fatalf("after the quiet period: settles until %v, want converge now", at)
		}
		if got := clock.Now().Sub(start); got != 810*time.Millisecond+quiet {
			t.Fatalf("converged %v after the first change, want 1.81s", got)
		}
		if err := s.Ack(ctx, c); err != nil {
			t.Fatal(err)
		}
		// Settled and converged: the next change starts a new quiet period.
		mustMark(t, s, "acme", k)
		_, at = settleOnce(t, s, quiet, maxDelay)
		if want := clock.Now().Add(quiet); !at.Equal(want) {
			t.Fatalf("next change settles until %v, want %v", at, want)
		}
	})
}

func TestSettleNeverBeyondMaxDelay(t *testing.T) {
	backends(t, func(t *testing.T, s *Store) {
		clock := useManualClock(s)
		ctx := context.Background()
		const quiet, maxDelay = time.Second, 3 * time.Second
		first := clock.Now()
		k := userKey("acme", "u1")
		for {
			mustMark(t, s, "acme", k)
			c, at := settleOnce(t, s, quiet, maxDelay)
			if at.IsZero() {
				break
			}
			if at.After(first.Add(maxDelay)) {
				t.Fatalf("settles until %v, beyond the maximum delay %v", at, first.Add(maxDelay))
			}
			if err := s.Retry(ctx, c, at); err != nil {
				t.Fatal(err)
			}
			clock.Advance(500 * time.Millisecond) // changes never stop
			if clock.Now().Sub(first) > maxDelay+time.Second {
				t.Fatal("a subject that changes constantly never converges")
			}
		}
		if got := clock.Now().Sub(first); got > maxDelay {
			t.Fatalf("converged %v after the first change, want at most %v", got, maxDelay)
		}
	})
}

func TestSettleDeferConvergesAtDue(t *testing.T) {
	backends(t, func(t *testing.T, s *Store) {
		clock := useManualClock(s)
		ctx := context.Background()
		mustMark(t, s, "acme", userKey("acme", "u1"))
		c, _ := settleOnce(t, s, time.Second, 10*time.Second)
		// Put aside (a held connector) for 2s: at 2s it converges at once.
		if err := s.Defer(ctx, c, clock.Now().Add(2*time.Second)); err != nil {
			t.Fatal(err)
		}
		clock.Advance(2 * time.Second)
		if _, at := settleOnce(t, s, time.Second, 10*time.Second); !at.IsZero() {
			t.Fatalf("deferred key settles again until %v, want converge now", at)
		}
	})
}

func TestSettleOff(t *testing.T) {
	backends(t, func(t *testing.T, s *Store) {
		mustMark(t, s, "acme", userKey("acme", "u1"))
		if _, at := settleOnce(t, s, 0, 0); !at.IsZero() {
			t.Fatalf("settling off: settles until %v", at)
		}
	})
}
