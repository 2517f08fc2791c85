package metrics

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/scim-bridge/scim-bridge/internal/fakeclock"
	"github.com/scim-bridge/scim-bridge/store"
)

func TestStatusClass(t *testing.T) {
	t.Parallel()
	for status, want := range map[int]string{0: "error", 200: "2xx", 204: "2xx", 304: "3xx", 404: "4xx", 429: "4xx", 503: "5xx", 700: "error"} {
		if got := statusClass(status); got != want {
			t.Errorf("statusClass(%d) = %q, want %q", status, got, want)
		}
	}
}

// t0 is the fake clock's time in these tests.
var t0 = time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)

// fakeStats answers the store reads from fixed values per tenant; failing
// names the read that fails ("ping", "queue", "sync", "history", "throttles").
type fakeStats struct {
	failing string
	queue   map[string]store.QueueStats
	history map[string]store.ReconcileHistory
	holds   map[string]map[string]store.ThrottleState // by tenant and connector
}

func (f fakeStats) fail(read string) error {
	if f.failing == read {
		return errors.New("dial tcp 10.0.0.7:6379: connection refused")
	}
	return nil
}

func (f fakeStats) Ping(context.Context) error { return f.fail("ping") }

func (f fakeStats) QueueStats(_ context.Context, tenant string) (store.QueueStats, error) {
	return f.queue[tenant], f.fail("queue")
}

func (f fakeStats) SyncCounts(context.Context, string) (map[string]map[string]int, error) {
	return map[string]map[string]int{"c1": {store.SyncSynced: 2}}, f.fail("sync")
}

func (f fakeStats) ReconcileHistory(_ context.Context, tenant string) (store.ReconcileHistory, error) {
	return f.history[tenant], f.fail("history")
}

func (f fakeStats) ThrottleStates(_ context.Context, tenant string, names []string) (map[string]store.ThrottleState, error) {
	out := map[string]store.ThrottleState{}
	for _, n := range names {
		if s, ok := f.holds[tenant][n]; ok {
			out[n] = s
		}
	}
	return out, f.fail("throttles")
}

// watched returns metrics watching stats for twoTenants, on a fake clock at t0.
func watched(t *testing.T, stats StoreStats) (*Metrics, *fakeclock.Clock) {
	t.Helper()
	m, clk := New(), fakeclock.New(t0)
	if err := m.WatchStore(stats, twoTenants, clk.Now); err != nil {
		t.Fatal(err)
	}
	return m, clk
}

func scrape(t *testing.T, m *Metrics) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	return rec.Code, string(body)
}

// expect checks the scrape holds each of want and none of absent (whole lines,
// or prefixes of series when ending in "{").
func expect(t *testing.T, text string, want, absent []string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(text, w+"\n") {
			t.Errorf("scrape lacks %q", w)
		}
	}
	for _, a := range absent {
		if strings.Contains(text, "\n"+a) {
			t.Errorf("scrape holds %q", a)
		}
	}
	if t.Failed() {
		t.Logf("scrape:\n%s", text)
	}
}

var twoTenants = []TenantConnectors{
	{Tenant: "acme", Connectors: []string{"c1", "c2"}, ReconcileEvery: time.Hour},
	{Tenant: "globex", Connectors: []string{"c1"}},
}

// TestFreshScrape: before anything happened, a scrape lists every series of
// every configured tenant and connector, at 0 where nothing is known yet.
func TestFreshScrape(t *testing.T) {
	t.Parallel()
	m, _ := watched(t, fakeStats{})
	if err := m.WatchStore(fakeStats{}, nil, nil); err == nil {
		t.Error("a second WatchStore on one registry succeeded")
	}
	code, text := scrape(t, m)
	if code != http.StatusOK {
		t.Fatalf("scrape: %d", code)
	}
	expect(t, text, []string{
		`scim_bridge_redis_up 1`,
		`scim_bridge_queue_pending{tenant="acme"} 0`,
		`scim_bridge_queue_oldest_pending_seconds{tenant="acme"} 0`,
		`scim_bridge_queue_oldest_pending_seconds{tenant="globex"} 0`,
		`scim_bridge_reconcile_interval_seconds{tenant="acme"} 3600`,
		`scim_bridge_reconcile_interval_seconds{tenant="globex"} 0`,
		`scim_bridge_reconcile_last_success_timestamp_seconds{tenant="acme"} 0`,
		`scim_bridge_reconcile_last_success_timestamp_seconds{tenant="globex"} 0`,
		`scim_bridge_reconcile_runs_total{outcome="ok",tenant="acme"} 0`,
		`scim_bridge_reconcile_runs_total{outcome="failed",tenant="acme"} 0`,
		`scim_bridge_reconcile_runs_total{outcome="aborted",tenant="globex"} 0`,
		`scim_bridge_connector_throttled{connector="c1",tenant="acme"} 0`,
		`scim_bridge_connector_throttled{connector="c2",tenant="acme"} 0`,
		`scim_bridge_connector_throttled{connector="c1",tenant="globex"} 0`,
		`scim_bridge_sync_subjects{connector="c2",status="dead",tenant="acme"} 0`,
	}, nil)
}

func TestHandler(t *testing.T) {
	t.Parallel()
	stats := fakeStats{
		queue: map[string]store.QueueStats{
			"acme":   {Pending: 3, Due: 2, Leased: 1, OldestDue: t0.Add(-90*time.Second - 500*time.Millisecond)},
			"globex": {Pending: 1, OldestDue: t0.Add(time.Minute)}, // a retry due later: nothing is due
		},
		history: map[string]store.ReconcileHistory{
			"acme": {
				Last:        store.ReconcileRun{At: t0.Add(-time.Minute), Outcome: store.ReconcileFailed},
				LastSuccess: store.ReconcileRun{At: t0.Add(-time.Hour + 250*time.Millisecond), Outcome: store.ReconcileOK},
			},
		},
	}
	m, clk := watched(t, stats)
	m.SCIMRequest("BREW", "/Users", 405, time.Millisecond)
	m.Downstream("c1")(0, time.Second)
	m.ReconcileRun("acme", store.ReconcileOK)
	m.ReconcileRun("acme", store.ReconcileAborted)
	m.ReconcileRun("acme", store.ReconcileAborted)
	code, text := scrape(t, m)
	if code != http.StatusOK {
		t.Fatalf("scrape: %d", code)
	}
	expect(t, text, []string{
		`scim_bridge_scim_requests_total{code="405",method="other"} 1`,
		`scim_bridge_downstream_request_duration_seconds_count{connector="c1",status_class="error"} 1`,
		`scim_bridge_queue_pending{tenant="acme"} 3`,
		`scim_bridge_queue_leased{tenant="acme"} 1`,
		`scim_bridge_queue_oldest_pending_seconds{tenant="acme"} 90.5`,
		`scim_bridge_queue_oldest_pending_seconds{tenant="globex"} 0`,
		`scim_bridge_sync_subjects{connector="c1",status="synced",tenant="acme"} 2`,
		`scim_bridge_sync_subjects{connector="c1",status="dead",tenant="acme"} 0`,
		`scim_bridge_reconcile_last_success_timestamp_seconds{tenant="acme"} 1.79628480025e+09`, // t0 - 1h + 0.25s
		`scim_bridge_reconcile_last_success_timestamp_seconds{tenant="globex"} 0`,
		`scim_bridge_reconcile_runs_total{outcome="ok",tenant="acme"} 1`,
		`scim_bridge_reconcile_runs_total{outcome="failed",tenant="acme"} 0`,
		`scim_bridge_reconcile_runs_total{outcome="aborted",tenant="acme"} 2`,
	}, nil)

	// The queue age follows the clock.
	clk.Advance(10 * time.Second)
	_, text = scrape(t, m)
	expect(t, text, []string{`scim_bridge_queue_oldest_pending_seconds{tenant="acme"} 100.5`}, nil)
}

// TestThrottled: a connector counts as throttled while the hold every replica
// shares (read from the store at the scrape) lasts, by the clock WatchStore was
// given, and no longer once it passed.
func TestThrottled(t *testing.T) {
	t.Parallel()
	m, clk := watched(t, fakeStats{holds: map[string]map[string]store.ThrottleState{
		"acme":   {"c2": {HeldUntil: t0.Add(30*time.Second + 500*time.Millisecond), RateLimited: 4}},
		"globex": {"c1": {HeldUntil: t0.Add(-time.Second)}}, // already over
	}})
	_, text := scrape(t, m)
	expect(t, text, []string{
		`scim_bridge_connector_throttled{connector="c2",tenant="acme"} 1`,
		`scim_bridge_connector_held_until_seconds{connector="c2",tenant="acme"} 1.7962884305e+09`, // t0 + 30.5s
		`scim_bridge_connector_throttled{connector="c1",tenant="acme"} 0`,
		`scim_bridge_connector_held_until_seconds{connector="c1",tenant="acme"} 0`,
		`scim_bridge_connector_throttled{connector="c1",tenant="globex"} 0`,
		`scim_bridge_connector_held_until_seconds{connector="c1",tenant="globex"} 0`,
	}, nil)

	clk.Advance(30 * time.Second)
	_, text = scrape(t, m)
	expect(t, text, []string{`scim_bridge_connector_throttled{connector="c2",tenant="acme"} 1`}, nil)
	clk.Advance(500 * time.Millisecond)
	_, text = scrape(t, m)
	expect(t, text, []string{
		`scim_bridge_connector_throttled{connector="c2",tenant="acme"} 0`,
		`scim_bridge_connector_held_until_seconds{connector="c2",tenant="acme"} 0`,
	}, nil)
}

// TestHandlerStoreDown: while Redis does not answer, /metrics still answers
// 200 with RedisUp 0 and the process-local series, leaves every gauge read from
// the store out (no false zeros, none half-read) and keeps the cause out of the
// body.
func TestHandlerStoreDown(t *testing.T) {
	t.Parallel()
	for _, failing := range []string{"ping", "queue", "sync", "history", "throttles"} {
		t.Run(failing, func(t *testing.T) {
			t.Parallel()
			m, _ := watched(t, fakeStats{failing: failing})
			m.ReconcileRun("acme", store.ReconcileFailed)
			code, body := scrape(t, m)
			if code != http.StatusOK {
				t.Errorf("scrape with the store down: %d, want 200", code)
			}
			if strings.Contains(body, "refused") || strings.Contains(body, "10.0.0.7") {
				t.Errorf("the scrape carries the cause:\n%s", body)
			}
			expect(t, body, []string{
				`scim_bridge_redis_up 0`,
				`scim_bridge_reconcile_runs_total{outcome="failed",tenant="acme"} 1`,
				`scim_bridge_reconcile_interval_seconds{tenant="acme"} 3600`,
				"# TYPE go_goroutines gauge",
			}, []string{
				"scim_bridge_queue_pending{", "scim_bridge_queue_leased{", "scim_bridge_queue_oldest_pending_seconds{",
				"scim_bridge_sync_subjects{", "scim_bridge_reconcile_last_success_timestamp_seconds{",
				"scim_bridge_connector_throttled{", "scim_bridge_connector_held_until_seconds{",
			})
		})
	}
}

// failingCollector is a collector whose one series cannot be collected.
type failingCollector struct{}

var failingDesc = prometheus.NewDesc("scim_bridge_test_failing", "A series that fails.", nil, nil)

func (failingCollector) Describe(ch chan<- *prometheus.Desc) { ch <- failingDesc }

func (failingCollector) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.NewInvalidMetric(failingDesc, errors.New("read throttles: dial tcp 10.0.0.7:6379: i/o timeout"))
}

// TestHandlerCollectorFails: a collector that fails costs its own series, not
// the scrape, and its cause is not shown.
func TestHandlerCollectorFails(t *testing.T) {
	t.Parallel()
	m, _ := watched(t, fakeStats{})
	m.Registry().MustRegister(failingCollector{})
	code, body := scrape(t, m)
	if code != http.StatusOK || strings.Contains(body, "10.0.0.7") || strings.Contains(body, "scim_bridge_test_failing ") {
		t.Errorf("scrape with a failing collector: %d\n%s", code, body)
	}
	expect(t, body, []string{`scim_bridge_redis_up 1`, `scim_bridge_queue_pending{tenant="acme"} 0`}, nil)
}
