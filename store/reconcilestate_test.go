package store

import (
	"context"
	"sync"
	"testing"
	"time"
)

func TestReconcileHistory(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, s *Store) {
		t.Parallel()
		ctx := context.Background()
		h, err := s.ReconcileHistory(ctx, "acme")
		if err != nil || !h.Last.At.IsZero() || !h.LastSuccess.At.IsZero() {
			t.Fatalf("history of a tenant that never ran: %+v, %v; want zero", h, err)
		}
		t0 := time.Date(2026, 12, 3, 9, 0, 0, 123456789, time.FixedZone("CET", 3600))
		ok := ReconcileRun{At: t0, Outcome: ReconcileOK, Checked: 120, Changes: 3, Deletions: 1}
		failed := ReconcileRun{At: t0.Add(time.Hour), Outcome: ReconcileFailed, Checked: 118, Errors: 2}
		aborted := ReconcileRun{At: t0.Add(2 * time.Hour), Outcome: ReconcileAborted, Checked: 120, Changes: 700, Deletions: 600}
		// Stored at millisecond precision and read back in UTC.
		want := func(r ReconcileRun) ReconcileRun {
			r.At = r.At.Truncate(time.Millisecond).UTC()
			return r
		}
		steps := []struct {
			name              string
			run               ReconcileRun
			last, lastSuccess ReconcileRun
		}{
			{"first success", ok, want(ok), want(ok)},
			{"a failure keeps the success", failed, want(failed), want(ok)},
			{"an abort keeps the success", aborted, want(aborted), want(ok)},
		}
		for _, st := range steps {
			if err := s.RecordReconcile(ctx, "acme", st.run); err != nil {
				t.Fatalf("%s: %v", st.name, err)
			}
			h, err := s.ReconcileHistory(ctx, "acme")
			if err != nil {
				t.Fatalf("%s: %v", st.name, err)
			}
			if h.Last != st.last || h.LastSuccess != st.lastSuccess {
				t.Fatalf("%s: history %+v\nwant last %+v\n     success %+v", st.name, h, st.last, st.lastSuccess)
			}
		}
		if h, err := s.ReconcileHistory(ctx, "globex"); err != nil || !h.Last.At.IsZero() {
			t.Fatalf("another tenant sees acme's history: %+v, %v", h, err)
		}
		later := ReconcileRun{At: t0.Add(3 * time.Hour), Outcome: ReconcileOK}
		if err := s.RecordReconcile(ctx, "acme", later); err != nil {
			t.Fatal(err)
		}
		if h, _ := s.ReconcileHistory(ctx, "acme"); h.Last != want(later) || h.LastSuccess != want(later) {
			t.Fatalf("after a second success: %+v", h)
		}
	})
}

// TestReconcileHistoryConcurrent: records from several replicas at once never
// leave a torn history (a last success that is not an ok run).
func TestReconcileHistoryConcurrent(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, s *Store) {
		t.Parallel()
		ctx := context.Background()
		t0 := time.Now()
		var wg sync.WaitGroup
		for i := range 20 {
			wg.Go(func() {
				r := ReconcileRun{At: t0.Add(time.Duration(i) * time.Second), Outcome: ReconcileOutcomes[i%3], Checked: i}
				if err := s.RecordReconcile(ctx, "acme", r); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		h, err := s.ReconcileHistory(ctx, "acme")
		if err != nil {
			t.Fatal(err)
		}
		if h.LastSuccess.Outcome != ReconcileOK || h.LastSuccess.Checked%3 != 0 || h.Last.Outcome != ReconcileOutcomes[h.Last.Checked%3] {
			t.Fatalf("torn history: %+v", h)
		}
	})
}

func TestRecordReconcileRejectsBadInput(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, s *Store) {
		t.Parallel()
		ctx := context.Background()
		now := time.Now()
		for _, tc := range []struct {
			name, tenant string
			run          ReconcileRun
		}{
			{"no tenant", "", ReconcileRun{At: now, Outcome: ReconcileOK}},
			{"brace in tenant", "a}b", ReconcileRun{At: now, Outcome: ReconcileOK}},
			{"unknown outcome", "acme", ReconcileRun{At: now, Outcome: "maybe"}},
			{"no time", "acme", ReconcileRun{Outcome: ReconcileOK}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				if err := s.RecordReconcile(ctx, tc.tenant, tc.run); err == nil {
					t.Fatal("RecordReconcile accepted it")
				}
			})
		}
		if h, err := s.ReconcileHistory(ctx, "acme"); err != nil || !h.Last.At.IsZero() {
			t.Fatalf("a refused record was written: %+v, %v", h, err)
		}
		if _, err := s.ReconcileHistory(ctx, ""); err == nil {
			t.Fatal("ReconcileHistory accepted an empty tenant")
		}
	})
}
