package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/scim-bridge/scim-bridge/internal/fakeclock"
	"github.com/scim-bridge/scim-bridge/store/redistest"
)

// useManualClock makes s run on a fake clock; call it before s is used.
func useManualClock(s *Store) *fakeclock.Clock {
	c := fakeclock.New(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC))
	s.now = c.Now
	return c
}

func userKey(tenant, id string) WorkKey { return WorkKey{Tenant: tenant, Kind: WorkUser, ID: id} }

func mustMark(t testing.TB, s *Store, tenant string, keys ...WorkKey) {
	t.Helper()
	if err := s.MarkDirty(context.Background(), tenant, keys...); err != nil {
		t.Fatalf("mark dirty: %v", err)
	}
}

func mustClaim(t testing.TB, s *Store, tenant, owner string, lease time.Duration, max int) []Claim {
	t.Helper()
	cs, err := s.Claim(context.Background(), tenant, owner, lease, max)
	if err != nil {
		t.Fatalf("claim: %v", err)
	}
	return cs
}

func mustStats(t testing.TB, s *Store, tenant string) QueueStats {
	t.Helper()
	st, err := s.QueueStats(context.Background(), tenant)
	if err != nil {
		t.Fatalf("queue stats: %v", err)
	}
	return st
}

func wantStats(t *testing.T, s *Store, tenant string, pending, due, leased int) {
	t.Helper()
	st := mustStats(t, s, tenant)
	if st.Pending != pending || st.Due != due || st.Leased != leased {
		t.Fatalf("stats = pending %d due %d leased %d, want %d %d %d", st.Pending, st.Due, st.Leased, pending, due, leased)
	}
}

func TestQueueMarkDirtyDeduplicates(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, s *Store) {
		t.Parallel()
		clk := useManualClock(s)
		t0 := clk.Now()
		for range 100 {
			mustMark(t, s, "acme", userKey("acme", "u1"))
			clk.Advance(time.Millisecond)
		}
		wantStats(t, s, "acme", 1, 1, 0)
		if st := mustStats(t, s, "acme"); !st.OldestDue.Equal(t0) {
			t.Fatalf("OldestDue = %v, want the first mark %v (earlier due time kept)", st.OldestDue, t0)
		}
		// Many keys in one call, with repeats.
		keys := []WorkKey{userKey("acme", "u1"), userKey("acme", "u2"), {Tenant: "acme", Kind: WorkGroup, ID: "u2"}, userKey("acme", "u2")}
		mustMark(t, s, "acme", keys...)
		wantStats(t, s, "acme", 3, 3, 0)
		// A large batch goes out in several commands.
		many := make([]WorkKey, 2500)
		for i := range many {
			many[i] = userKey("acme", fmt.Sprintf("m%d", i))
		}
		mustMark(t, s, "acme", many...)
		wantStats(t, s, "acme", 2503, 2503, 0)
	})
}

func TestQueueMarkDirtyRejectsBadKeys(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, s *Store) {
		t.Parallel()
		for _, tc := range []struct {
			name string
			key  WorkKey
		}{
			{"other tenant", userKey("globex", "u1")},
			{"empty kind", WorkKey{Tenant: "acme", ID: "u1"}},
			{"kind with bar", WorkKey{Tenant: "acme", Kind: "Us|er", ID: "u1"}},
			{"empty id", WorkKey{Tenant: "acme", Kind: WorkUser}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				if err := s.MarkDirty(context.Background(), "acme", userKey("acme", "ok"), tc.key); err == nil {
					t.Fatal("MarkDirty accepted a bad key")
				}
			})
		}
		wantStats(t, s, "acme", 0, 0, 0) // nothing of a rejected call is written
	})
}

func TestQueueClaimOldestFirst(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, s *Store) {
		t.Parallel()
		ctx := context.Background()
		clk := useManualClock(s)
		var marked []time.Time
		for i := range 5 {
			marked = append(marked, clk.Now())
			mustMark(t, s, "acme", userKey("acme", fmt.Sprintf("u%d", i)))
			clk.Advance(time.Second)
		}
		if cs := mustClaim(t, s, "acme", "w1", time.Minute, 0); len(cs) != 0 {
			t.Fatalf("max 0 claimed %d", len(cs))
		}
		cs := mustClaim(t, s, "acme", "w1", time.Minute, 3)
		if len(cs) != 3 {
			t.Fatalf("claimed %d, want 3", len(cs))
		}
		for i, c := range cs {
			want := userKey("acme", fmt.Sprintf("u%d", i))
			if c.Key != want || !c.Due.Equal(marked[i]) || c.Owner != "w1" || c.Token == "" ||
				!c.Expires.Equal(clk.Now().Add(time.Minute)) {
				t.Fatalf("claim %d = %+v, want key %v due %v", i, c, want, marked[i])
			}
		}
		if cs[0].Token == cs[1].Token {
			t.Fatal("two claims share a token")
		}
		wantStats(t, s, "acme", 2, 2, 3)
		if _, err := s.Claim(ctx, "acme", "w1", 0, 1); err == nil {
			t.Fatal("Claim accepted a zero lease")
		}
		rest := mustClaim(t, s, "acme", "w2", time.Minute, 10)
		if len(rest) != 2 || rest[0].Key.ID != "u3" || rest[1].Key.ID != "u4" {
			t.Fatalf("second claim = %+v, want u3, u4", rest)
		}
		for _, c := range append(cs, rest...) {
			if err := s.Ack(ctx, c); err != nil {
				t.Fatalf("ack %s: %v", c.Key.ID, err)
			}
		}
		wantStats(t, s, "acme", 0, 0, 0)
		if _, ok, _ := s.NextDue(ctx, "acme"); ok {
			t.Fatal("NextDue reports work in an empty queue")
		}
	})
}

func TestQueueCoalescesMarksWhileLeased(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, s *Store) {
		t.Parallel()
		ctx := context.Background()
		clk := useManualClock(s)
		k := userKey("acme", "u1")
		mustMark(t, s, "acme", k)
		a := mustClaim(t, s, "acme", "a", time.Minute, 10)
		if len(a) != 1 {
			t.Fatalf("claimed %d, want 1", len(a))
		}
		for range 10 {
			clk.Advance(time.Second)
			mustMark(t, s, "acme", k)
			if cs := mustClaim(t, s, "acme", "b", time.Minute, 10); len(cs) != 0 {
				t.Fatalf("a leased key was claimed again: %+v", cs)
			}
		}
		wantStats(t, s, "acme", 1, 0, 1) // pending once, parked behind the lease
		if err := s.Ack(ctx, a[0]); err != nil {
			t.Fatal(err)
		}
		wantStats(t, s, "acme", 1, 1, 0) // due again at once, exactly once
		b := mustClaim(t, s, "acme", "b", time.Minute, 10)
		if len(b) != 1 || b[0].Key != k || !b[0].Due.Equal(clk.Now()) {
			t.Fatalf("after ack, claim = %+v, want %v due now", b, k)
		}
		if err := s.Ack(ctx, b[0]); err != nil {
			t.Fatal(err)
		}
		wantStats(t, s, "acme", 0, 0, 0)
		if err := s.Ack(ctx, b[0]); !errors.Is(err, ErrLeaseLost) {
			t.Fatalf("second ack = %v, want ErrLeaseLost", err)
		}
	})
}

func TestQueueLeaseExpiryReturnsItem(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, s *Store) {
		t.Parallel()
		ctx := context.Background()
		clk := useManualClock(s)
		k := userKey("acme", "u1")
		mustMark(t, s, "acme", k)
		a := mustClaim(t, s, "acme", "a", 30*time.Second, 1)
		if len(a) != 1 {
			t.Fatalf("claimed %d, want 1", len(a))
		}
		mustMark(t, s, "acme", k) // a mark during the lease: still one item
		clk.Advance(29 * time.Second)
		if cs := mustClaim(t, s, "acme", "b", 30*time.Second, 1); len(cs) != 0 {
			t.Fatalf("claimed before the lease expired: %+v", cs)
		}
		if next, ok, err := s.NextDue(ctx, "acme"); err != nil || !ok || !next.Equal(a[0].Expires) {
			t.Fatalf("NextDue = %v %v %v, want the lease expiry %v", next, ok, err, a[0].Expires)
		}
		clk.Advance(2 * time.Second)
		b := mustClaim(t, s, "acme", "b", 30*time.Second, 10)
		if len(b) != 1 || b[0].Key != k || b[0].Owner != "b" {
			t.Fatalf("after expiry, claim = %+v, want %v for b", b, k)
		}
		wantStats(t, s, "acme", 0, 0, 1)
		for name, op := range map[string]func() error{
			"ack":    func() error { return s.Ack(ctx, a[0]) },
			"retry":  func() error { return s.Retry(ctx, a[0], clk.Now()) },
			"extend": func() error { return s.Extend(ctx, a[0], time.Minute) },
		} {
			if err := op(); !errors.Is(err, ErrLeaseLost) {
				t.Fatalf("stale %s = %v, want ErrLeaseLost", name, err)
			}
		}
		wantStats(t, s, "acme", 0, 0, 1) // the stale calls changed nothing
		if err := s.Ack(ctx, b[0]); err != nil {
			t.Fatalf("ack by the new holder: %v", err)
		}
		wantStats(t, s, "acme", 0, 0, 0)
	})
}

func TestQueueRetrySchedulesAndMarkPullsForward(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, s *Store) {
		t.Parallel()
		ctx := context.Background()
		clk := useManualClock(s)
		k := userKey("acme", "u1")
		mustMark(t, s, "acme", k)
		c := mustClaim(t, s, "acme", "w", time.Minute, 1)[0]
		later := clk.Now().Add(10 * time.Minute)
		if err := s.Retry(ctx, c, later); err != nil {
			t.Fatal(err)
		}
		wantStats(t, s, "acme", 1, 0, 0)
		if next, ok, err := s.NextDue(ctx, "acme"); err != nil || !ok || !next.Equal(later) {
			t.Fatalf("NextDue = %v %v %v, want %v", next, ok, err, later)
		}
		if cs := mustClaim(t, s, "acme", "w", time.Minute, 1); len(cs) != 0 {
			t.Fatalf("claimed before the retry was due: %+v", cs)
		}
		clk.Advance(10 * time.Minute)
		c = mustClaim(t, s, "acme", "w", time.Minute, 1)[0]
		if !c.Due.Equal(later) {
			t.Fatalf("Due = %v, want the retry time %v", c.Due, later)
		}
		if err := s.Retry(ctx, c, clk.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		clk.Advance(time.Minute)
		mustMark(t, s, "acme", k) // a new change: processed now, not in an hour
		c = mustClaim(t, s, "acme", "w", time.Minute, 1)[0]
		if !c.Due.Equal(clk.Now()) {
			t.Fatalf("Due = %v, want now %v", c.Due, clk.Now())
		}
		// A mark during the lease wins over the retry's later time.
		mustMark(t, s, "acme", k)
		clk.Advance(time.Second)
		if err := s.Retry(ctx, c, clk.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		wantStats(t, s, "acme", 1, 1, 0)
		// A retry time in the past makes the key due at once.
		c = mustClaim(t, s, "acme", "w", time.Minute, 1)[0]
		if err := s.Retry(ctx, c, clk.Now().Add(-time.Second)); err != nil {
			t.Fatal(err)
		}
		if st := mustStats(t, s, "acme"); !st.OldestDue.Equal(clk.Now().Add(-time.Second)) {
			t.Fatalf("OldestDue = %v, want %v", st.OldestDue, clk.Now().Add(-time.Second))
		}
	})
}

func TestQueueExtendKeepsLease(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, s *Store) {
		t.Parallel()
		ctx := context.Background()
		clk := useManualClock(s)
		mustMark(t, s, "acme", userKey("acme", "u1"))
		c := mustClaim(t, s, "acme", "a", 10*time.Second, 1)[0]
		clk.Advance(8 * time.Second)
		if err := s.Extend(ctx, c, 10*time.Second); err != nil {
			t.Fatal(err)
		}
		if err := s.Extend(ctx, c, 0); err == nil {
			t.Fatal("Extend accepted a zero lease")
		}
		clk.Advance(8 * time.Second) // past the first expiry, within the renewed one
		if cs := mustClaim(t, s, "acme", "b", 10*time.Second, 1); len(cs) != 0 {
			t.Fatalf("claimed an extended lease: %+v", cs)
		}
		clk.Advance(3 * time.Second)
		if cs := mustClaim(t, s, "acme", "b", 10*time.Second, 1); len(cs) != 1 {
			t.Fatalf("after the renewed lease expired, claimed %d, want 1", len(cs))
		}
		if err := s.Extend(ctx, c, time.Minute); !errors.Is(err, ErrLeaseLost) {
			t.Fatalf("extend after takeover = %v, want ErrLeaseLost", err)
		}
	})
}

func TestQueueTenantsAreIsolated(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, s *Store) {
		t.Parallel()
		mustMark(t, s, "acme", userKey("acme", "u1"))
		if cs := mustClaim(t, s, "globex", "w", time.Minute, 10); len(cs) != 0 {
			t.Fatalf("globex claimed acme's work: %+v", cs)
		}
		cs := mustClaim(t, s, "acme", "w", time.Minute, 10)
		if len(cs) != 1 || cs[0].Key.Tenant != "acme" {
			t.Fatalf("acme claim = %+v", cs)
		}
	})
}

// The resource writes mark work dirty with a raw ZADD LT in their own scripts:
// the queue must treat such a member exactly like MarkDirty's.
func TestQueueRawMarkFormat(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, s *Store) {
		t.Parallel()
		ctx := context.Background()
		clk := useManualClock(s)
		now := float64(clk.Now().UnixMilli())
		if err := s.rdb.Do(ctx, "ZADD", queueKey("acme"), "LT", now, queueMember(string(KindGroup), "g1")).Err(); err != nil {
			t.Fatal(err)
		}
		mustMark(t, s, "acme", WorkKey{Tenant: "acme", Kind: WorkGroup, ID: "g1"})
		cs := mustClaim(t, s, "acme", "w", time.Minute, 10)
		if len(cs) != 1 || cs[0].Key != (WorkKey{Tenant: "acme", Kind: WorkGroup, ID: "g1"}) {
			t.Fatalf("claim = %+v, want one Group g1", cs)
		}
	})
}

func TestQueueParseSubject(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want WorkKey
		ok   bool
	}{
		{"User|u1", userKey("acme", "u1"), true},
		{"Object|bimdata/42|x", WorkKey{Tenant: "acme", Kind: WorkObject, ID: "bimdata/42|x"}, true},
		{"User|", WorkKey{}, false},
		{"|u1", WorkKey{}, false},
		{"User", WorkKey{}, false},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseSubject("acme", tc.in)
			if (err == nil) != tc.ok || got != tc.want {
				t.Fatalf("ParseSubject(%q) = %+v, %v; want %+v ok=%v", tc.in, got, err, tc.want, tc.ok)
			}
			if tc.ok && got.Subject() != tc.in {
				t.Fatalf("Subject() = %q, want %q", got.Subject(), tc.in)
			}
		})
	}
}

// Two worker pools (different owners, several goroutines each) drain one queue:
// no key is ever held by two workers at once and each is processed exactly once.
func TestQueueConcurrentPoolsProcessEachKeyOnce(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, s *Store) {
		t.Parallel()
		ctx := context.Background()
		const n = 1000
		keys := make([]WorkKey, n)
		for i := range keys {
			keys[i] = userKey("acme", fmt.Sprintf("u%04d", i))
		}
		mustMark(t, s, "acme", keys...)

		var (
			mu        sync.Mutex
			held      = map[string]string{} // key id → worker holding it
			processed = map[string]int{}
			failures  []string
		)
		fail := func(format string, args ...any) {
			mu.Lock()
			failures = append(failures, fmt.Sprintf(format, args...))
			mu.Unlock()
		}
		var wg sync.WaitGroup
		for pool := range 2 {
			for g := range 3 {
				worker := fmt.Sprintf("pool%d/g%d", pool, g)
				wg.Go(func() {
					for {
						cs, err := s.Claim(ctx, "acme", fmt.Sprintf("pool%d", pool), time.Minute, 16)
						if err != nil {
							fail("%s claim: %v", worker, err)
							return
						}
						if len(cs) == 0 {
							return
						}
						mu.Lock()
						for _, c := range cs {
							if other, ok := held[c.Key.ID]; ok {
								failures = append(failures, fmt.Sprintf("%s claimed %s held by %s", worker, c.Key.ID, other))
							}
							held[c.Key.ID] = worker
							processed[c.Key.ID]++
						}
						mu.Unlock()
						for _, c := range cs {
							mu.Lock()
							delete(held, c.Key.ID) // before Ack: after it, another may claim
							mu.Unlock()
							if err := s.Ack(ctx, c); err != nil {
								fail("%s ack %s: %v", worker, c.Key.ID, err)
							}
						}
					}
				})
			}
		}
		wg.Wait()
		for _, f := range failures {
			t.Error(f)
		}
		if len(processed) != n {
			t.Fatalf("processed %d distinct keys, want %d", len(processed), n)
		}
		for id, c := range processed {
			if c != 1 {
				t.Fatalf("%s processed %d times", id, c)
			}
		}
		wantStats(t, s, "acme", 0, 0, 0)
	})
}

// benchBackends runs a benchmark against each backend, like backends.
func benchBackends(b *testing.B, fn func(b *testing.B, s *Store)) {
	b.Run("embedded", func(b *testing.B) { fn(b, openTestStore(b, "")) })
	b.Run("redis", func(b *testing.B) { fn(b, openTestStore(b, redistest.Start(b))) })
}

func BenchmarkMarkDirty(b *testing.B) {
	benchBackends(b, func(b *testing.B, s *Store) {
		ctx := context.Background()
		keys := make([]WorkKey, 4096)
		for i := range keys {
			keys[i] = userKey("acme", fmt.Sprintf("u%d", i))
		}
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if err := s.MarkDirty(ctx, "acme", keys[i%len(keys)]); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
}

// BenchmarkClaimAck: one op marks 64 keys, claims them in one batch and acks each.
func BenchmarkClaimAck(b *testing.B) {
	const batch = 64
	benchBackends(b, func(b *testing.B, s *Store) {
		ctx := context.Background()
		keys := make([]WorkKey, batch)
		for i := range keys {
			keys[i] = userKey("acme", fmt.Sprintf("u%d", i))
		}
		b.ReportAllocs()
		for b.Loop() {
			if err := s.MarkDirty(ctx, "acme", keys...); err != nil {
				b.Fatal(err)
			}
			cs, err := s.Claim(ctx, "acme", "bench", time.Minute, batch)
			if err != nil || len(cs) != batch {
				b.Fatalf("claim: %d, %v", len(cs), err)
			}
			for _, c := range cs {
				if err := s.Ack(ctx, c); err != nil {
					b.Fatal(err)
				}
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*batch), "ns/item")
	})
}
