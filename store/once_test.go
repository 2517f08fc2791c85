package store

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scim-bridge/scim-bridge/internal/fakeclock"
)

// ttlFor is a TTL for tests of server-side expiry: long on the embedded store,
// whose time moves by FastForward, short on real Redis, whose time moves by
// waiting.
func ttlFor(s *Store) time.Duration {
	if s.embedded != nil {
		return time.Minute
	}
	// Long enough that a loaded machine descheduling the test for a few hundred
	// milliseconds does not expire a key the test renews in time.
	return 1200 * time.Millisecond
}

// letTimePass lets d pass for server-side TTLs (fast-forwarding the embedded
// store, sleeping on real Redis) and on clk when there is one.
func letTimePass(s *Store, clk *fakeclock.Clock, d time.Duration) {
	if clk != nil {
		clk.Advance(d)
	}
	if s.embedded != nil {
		s.embedded.FastForward(d)
		return
	}
	time.Sleep(d)
}

func TestOnceDeduplicates(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, s *Store) {
		t.Parallel()
		ctx := context.Background()
		steps := []struct {
			name                  string
			tenant, namespace, id string
			want                  bool
		}{
			{"first", "acme", "webhook:bimdata", "evt-1", true},
			{"repeat", "acme", "webhook:bimdata", "evt-1", false},
			{"other id", "acme", "webhook:bimdata", "evt-2", true},
			{"other namespace", "acme", "webhook:odm", "evt-1", true},
			{"other tenant", "globex", "webhook:bimdata", "evt-1", true},
			{"id with separators", "acme", "webhook", "bimdata|evt-1", true},
		}
		for _, st := range steps {
			first, err := s.Once(ctx, st.tenant, st.namespace, st.id, time.Hour)
			if err != nil || first != st.want {
				t.Fatalf("%s: Once = %v, %v; want %v", st.name, first, err, st.want)
			}
		}
		if err := s.Forget(ctx, "acme", "webhook:bimdata", "evt-1"); err != nil {
			t.Fatal(err)
		}
		if first, err := s.Once(ctx, "acme", "webhook:bimdata", "evt-1", time.Hour); err != nil || !first {
			t.Fatalf("after Forget: Once = %v, %v; want first", first, err)
		}

		var firsts atomic.Int32
		var wg sync.WaitGroup
		for range 20 {
			wg.Go(func() {
				first, err := s.Once(ctx, "acme", "idem", "k", time.Hour)
				if err != nil {
					t.Error(err)
				}
				if first {
					firsts.Add(1)
				}
			})
		}
		wg.Wait()
		if n := firsts.Load(); n != 1 {
			t.Fatalf("%d concurrent callers were first, want 1", n)
		}
	})
}

func TestOnceExpires(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, s *Store) {
		t.Parallel()
		ctx := context.Background()
		ttl := ttlFor(s)
		if first, err := s.Once(ctx, "acme", "webhook", "evt", ttl); err != nil || !first {
			t.Fatalf("Once = %v, %v", first, err)
		}
		if first, _ := s.Once(ctx, "acme", "webhook", "evt", ttl); first {
			t.Fatal("repeat within the TTL was first")
		}
		letTimePass(s, nil, ttl+50*time.Millisecond)
		if first, err := s.Once(ctx, "acme", "webhook", "evt", ttl); err != nil || !first {
			t.Fatalf("after the TTL: Once = %v, %v; want first", first, err)
		}
	})
}

func TestOnceRejectsBadInput(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, s *Store) {
		t.Parallel()
		for _, tc := range []struct {
			name, tenant, namespace, id string
			ttl                         time.Duration
		}{
			{"no tenant", "", "ns", "id", time.Minute},
			{"no namespace", "acme", "", "id", time.Minute},
			{"bar in namespace", "acme", "a|b", "id", time.Minute},
			{"no id", "acme", "ns", "", time.Minute},
			{"no ttl", "acme", "ns", "id", 0},
		} {
			t.Run(tc.name, func(t *testing.T) {
				if _, err := s.Once(context.Background(), tc.tenant, tc.namespace, tc.id, tc.ttl); err == nil {
					t.Fatal("Once accepted it")
				}
			})
		}
	})
}

func TestMarkDirtyOnce(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		keys := []WorkKey{{Tenant: "acme", Kind: WorkObject, ID: "bimdata/invitation:1"}, {Tenant: "acme", Kind: WorkUser, ID: "u1"}}
		first, err := s.MarkDirtyOnce(ctx, "acme", "webhook:bimdata", "evt-1", time.Hour, keys...)
		if err != nil || !first {
			t.Fatalf("first delivery: first=%v err=%v", first, err)
		}
		qs, err := s.QueueStats(ctx, "acme")
		if err != nil || qs.Pending != 2 {
			t.Fatalf("after first delivery: %+v, %v", qs, err)
		}
		claims, err := s.Claim(ctx, "acme", "w", time.Minute, 10)
		if err != nil || len(claims) != 2 {
			t.Fatalf("claim: %v, %v", claims, err)
		}
		for _, c := range claims {
			if err := s.Ack(ctx, c); err != nil {
				t.Fatal(err)
			}
		}
		if seen, err := s.Seen(ctx, "acme", "webhook:bimdata", "evt-1"); err != nil || !seen {
			t.Fatalf("Seen after first delivery: %v, %v", seen, err)
		}
		if seen, err := s.Seen(ctx, "acme", "webhook:bimdata", "evt-9"); err != nil || seen {
			t.Fatalf("Seen of a new id: %v, %v", seen, err)
		}
		again, err := s.MarkDirtyOnce(ctx, "acme", "webhook:bimdata", "evt-1", time.Hour, keys...)
		if err != nil || again {
			t.Fatalf("replay: first=%v err=%v", again, err)
		}
		if qs, _ := s.QueueStats(ctx, "acme"); qs.Pending != 0 {
			t.Fatalf("a replay marked work: %+v", qs)
		}
		if _, err := s.MarkDirtyOnce(ctx, "acme", "webhook:bimdata", "evt-2", time.Hour, WorkKey{Tenant: "globex", Kind: WorkUser, ID: "x"}); err == nil {
			t.Fatal("a key of another tenant must be refused")
		}
	})
}
