package metrics

import (
	"context"
	"net/http"
	"testing"

	"github.com/scim-bridge/scim-bridge/connectors"
	"github.com/scim-bridge/scim-bridge/store"
)

type fixedThrottle connectors.ThrottleStatus

func (f fixedThrottle) Status() connectors.ThrottleStatus { return connectors.ThrottleStatus(f) }

// TestThrottleGauges: this replica's concurrency limit, pace and 429s of each
// connector are read from its throttle at the scrape.
func TestThrottleGauges(t *testing.T) {
	t.Parallel()
	m, _ := watched(t, fakeStats{})
	err := m.WatchThrottles([]TenantThrottles{{Tenant: "acme", Throttles: map[string]connectors.ThrottleReporter{
		"c2": fixedThrottle{Limit: 4, MaxConcurrency: 16, Rate: 190, RateLimited: 3},
		"c1": fixedThrottle{Limit: 16, MaxConcurrency: 16},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.WatchThrottles(nil); err == nil {
		t.Error("a second WatchThrottles on one registry succeeded")
	}
	code, text := scrape(t, m)
	if code != http.StatusOK {
		t.Fatalf("scrape: %d", code)
	}
	expect(t, text, []string{
		`scim_bridge_connector_concurrency_limit{connector="c2",tenant="acme"} 4`,
		`scim_bridge_connector_concurrency_limit{connector="c1",tenant="acme"} 16`,
		`scim_bridge_connector_pace_requests_per_second{connector="c2",tenant="acme"} 190`,
		`scim_bridge_connector_pace_requests_per_second{connector="c1",tenant="acme"} 0`,
		`scim_bridge_connector_rate_limited_total{connector="c2",tenant="acme"} 3`,
		`scim_bridge_connector_held_until_seconds{connector="c2",tenant="acme"} 0`,
	}, []string{"scim_bridge_queue_oldest_due_age_seconds"})
}

// pingDown is a store whose ping fails; every other read is a test failure.
type pingDown struct {
	fakeStats
	t *testing.T
}

func (p pingDown) Ping(context.Context) error { return context.DeadlineExceeded }

func (p pingDown) QueueStats(context.Context, string) (store.QueueStats, error) {
	p.t.Error("queue read after a failed ping")
	return store.QueueStats{}, nil
}

func (p pingDown) ThrottleStates(context.Context, string, []string) (map[string]store.ThrottleState, error) {
	p.t.Error("throttle read after a failed ping")
	return nil, nil
}

// TestPingDownSkipsReads: when the scrape's ping fails, no other store read is
// made (each would wait for its own timeout), and the throttles' local gauges
// are still served.
func TestPingDownSkipsReads(t *testing.T) {
	t.Parallel()
	m, _ := watched(t, pingDown{t: t})
	if err := m.WatchThrottles([]TenantThrottles{{Tenant: "acme", Throttles: map[string]connectors.ThrottleReporter{
		"c1": fixedThrottle{Limit: 2, MaxConcurrency: 16},
	}}}); err != nil {
		t.Fatal(err)
	}
	code, text := scrape(t, m)
	if code != http.StatusOK {
		t.Fatalf("scrape: %d", code)
	}
	expect(t, text, []string{
		`scim_bridge_redis_up 0`,
		`scim_bridge_connector_concurrency_limit{connector="c1",tenant="acme"} 2`,
	}, []string{"scim_bridge_connector_held_until_seconds{", "scim_bridge_connector_throttled{"})
}
