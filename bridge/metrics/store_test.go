package metrics

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scim-bridge/scim-bridge/store"
)

// scrapeBound is the upper bound the tests put on a scrape while the store
// does not answer: the scrape's own timeout plus a second for a noisy
// machine, far below the stuck reads' 30s (a scrape that waited for them).
const scrapeBound = scrapeTimeout + time.Second

// stuckStats answers no read for 30s, whatever its context says (as go-redis
// waits for its read timeout and the store retries a read), and counts the
// PINGs started; stuck names the read that sticks ("ping" or "queue").
type stuckStats struct {
	fakeStats
	stuck   string
	pings   atomic.Int32
	release chan struct{}
}

func (s *stuckStats) wait() {
	select {
	case <-s.release:
	case <-time.After(30 * time.Second):
	}
}

func (s *stuckStats) Ping(context.Context) error {
	s.pings.Add(1)
	if s.stuck == "ping" {
		s.wait()
	}
	return nil
}

func (s *stuckStats) QueueStats(ctx context.Context, tenant string) (store.QueueStats, error) {
	if s.stuck == "queue" {
		s.wait()
	}
	return s.fakeStats.QueueStats(ctx, tenant)
}

// TestMetricsScrapeBoundedWhenStoreStalls: while the store does not answer,
// a scrape answers within its own timeout with RedisUp 0 and no store gauge,
// and scrapes made meanwhile, at once or one after the other, share the one
// read in flight instead of each starting one.
func TestMetricsScrapeBoundedWhenStoreStalls(t *testing.T) {
	t.Parallel()
	for _, stuck := range []string{"ping", "queue"} {
		t.Run(stuck, func(t *testing.T) {
			t.Parallel()
			st := &stuckStats{stuck: stuck, release: make(chan struct{})}
			t.Cleanup(func() { close(st.release) })
			m, _ := watched(t, st)
			check := func(name string) {
				start := time.Now()
				code, text := scrape(t, m)
				if took := time.Since(start); took >= scrapeBound {
					t.Errorf("%s answered in %v, want < %v", name, took, scrapeBound)
				}
				if code != http.StatusOK {
					t.Errorf("%s: %d, want 200", name, code)
				}
				expect(t, text, []string{`scim_bridge_redis_up 0`, `scim_bridge_reconcile_interval_seconds{tenant="acme"} 3600`},
					[]string{"scim_bridge_queue_pending{", "scim_bridge_sync_subjects{"})
			}
			var wg sync.WaitGroup
			for i := range 3 {
				wg.Add(1)
				go func() { defer wg.Done(); check(fmt.Sprintf("concurrent scrape %d", i+1)) }()
			}
			wg.Wait()
			check("the next scrape") // finds the first read still stuck
			if n := st.pings.Load(); n != 1 {
				t.Errorf("%d PINGs started, want 1 shared by the scrapes", n)
			}
		})
	}
}

// TestMetricsScrapeAfterStall: once the stuck read ends, the next scrape
// has the store gauges again.
func TestMetricsScrapeAfterStall(t *testing.T) {
	t.Parallel()
	st := &stuckStats{stuck: "ping", release: make(chan struct{})}
	m, _ := watched(t, st)
	_, text := scrape(t, m)
	expect(t, text, []string{`scim_bridge_redis_up 0`}, nil)
	close(st.release) // the stuck PING answers: the read in flight ends, or the next one reads
	_, text = scrape(t, m)
	expect(t, text, []string{`scim_bridge_redis_up 1`, `scim_bridge_queue_pending{tenant="acme"} 0`}, nil)
}
