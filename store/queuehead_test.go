package store

import (
	"context"
	"testing"
	"time"
)

// TestQueueHeadAgreesWithQueueStats: the head of the queue is QueueStats
// without the count of due keys, on every backend.
func TestQueueHeadAgreesWithQueueStats(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, s *Store) {
		t.Parallel()
		ctx := context.Background()
		clk := useManualClock(s)
		if h, err := s.QueueHead(ctx, "acme"); err != nil || h != (QueueHead{}) {
			t.Fatalf("empty queue: %+v %v", h, err)
		}
		t0 := clk.Now()
		mustMark(t, s, "acme", userKey("acme", "u1"))
		clk.Advance(time.Second)
		mustMark(t, s, "acme", userKey("acme", "u2"), userKey("acme", "u3"))
		mustClaim(t, s, "acme", "w1", time.Minute, 1)
		h, err := s.QueueHead(ctx, "acme")
		if err != nil {
			t.Fatal(err)
		}
		st := mustStats(t, s, "acme")
		if h.Pending != st.Pending || h.Leased != st.Leased || !h.OldestDue.Equal(st.OldestDue) {
			t.Fatalf("head %+v, stats %+v", h, st)
		}
		if h.Pending != 2 || h.Leased != 1 || !h.OldestDue.Equal(t0.Add(time.Second)) {
			t.Fatalf("head %+v, want 2 pending, 1 leased, oldest due %v", h, t0.Add(time.Second))
		}
		if other, err := s.QueueHead(ctx, "globex"); err != nil || other != (QueueHead{}) {
			t.Fatalf("other tenant: %+v %v", other, err)
		}
	})
}
