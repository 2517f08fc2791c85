package bridge

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
)

// metricsBound is the upper bound the test puts on a scrape while Redis
// stalls: the collector gives its PING 2s, and a scrape waits no longer;
// one that waits for the PING itself takes go-redis's read timeout (3s) and
// the store's retry of it.
const metricsBound = 3500 * time.Millisecond

// TestMetricsBoundedWhenRedisStalls: while Redis accepts connections but
// answers nothing (redis-server SIGSTOPped), /metrics answers within about 2s
// with scim_bridge_redis_up 0 and without the store gauges, scrape after
// scrape, not after go-redis's read timeout and the store's retries.
func TestMetricsBoundedWhenRedisStalls(t *testing.T) {
	t.Parallel()
	mr := miniredis.RunT(t)
	proxy := startStallProxy(t, mr.Addr())
	ts := newTestServer(t, proxy.URL())
	get := func() (string, time.Duration) {
		start := time.Now()
		resp, err := ts.srv.Client().Get(ts.srv.URL + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("/metrics: %d", resp.StatusCode)
		}
		return string(body), time.Since(start)
	}
	if body, _ := get(); !strings.Contains(body, "\nscim_bridge_redis_up 1\n") {
		t.Fatalf("/metrics before the stall lacks scim_bridge_redis_up 1")
	}
	proxy.stall()
	for i := range 2 { // the second scrape finds the first one's PING still stuck
		body, took := get()
		if !strings.Contains(body, "\nscim_bridge_redis_up 0\n") || strings.Contains(body, "\nscim_bridge_queue_pending{") {
			t.Errorf("scrape %d while Redis stalls: want scim_bridge_redis_up 0 and no store gauge", i+1)
		}
		if took >= metricsBound {
			t.Errorf("scrape %d while Redis stalls answered in %v, want < %v", i+1, took, metricsBound)
		}
	}
}
