package metrics

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/scim-bridge/scim-bridge/connectors"
	"github.com/scim-bridge/scim-bridge/store"
)

var throttleNow = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

type fakeThrottleStore struct{}

func (fakeThrottleStore) QueueStats(context.Context, string) (store.QueueStats, error) {
	return store.QueueStats{Pending: 5, OldestDue: throttleNow.Add(-90 * time.Second)}, nil
}

func (fakeThrottleStore) ThrottleStates(_ context.Context, _ string, names []string) (map[string]store.ThrottleState, error) {
	out := map[string]store.ThrottleState{}
	for _, n := range names {
		if n == "odm" {
			out[n] = store.ThrottleState{HeldUntil: throttleNow.Add(2 * time.Second), RateLimited: 7}
		}
	}
	return out, nil
}

type fixedThrottle connectors.ThrottleStatus

func (f fixedThrottle) Status() connectors.ThrottleStatus { return connectors.ThrottleStatus(f) }

func TestThrottleGauges(t *testing.T) {
	t.Parallel()
	m := New()
	err := m.WatchThrottles(fakeThrottleStore{}, []TenantThrottles{{Tenant: "acme", Throttles: map[string]connectors.ThrottleReporter{
		"odm":     fixedThrottle{Limit: 4, MaxConcurrency: 16, Rate: 190, RateLimited: 3},
		"bimdata": fixedThrottle{Limit: 16, MaxConcurrency: 16},
	}}}, func() time.Time { return throttleNow })
	if err != nil {
		t.Fatal(err)
	}
	code, text := scrape(t, m)
	if code != http.StatusOK {
		t.Fatalf("scrape: %d", code)
	}
	for _, want := range []string{
		`scim_bridge_connector_held_until_seconds{connector="odm",tenant="acme"} 1.767323047e+09`,
		`scim_bridge_connector_held_until_seconds{connector="bimdata",tenant="acme"} 0`,
		`scim_bridge_connector_concurrency_limit{connector="odm",tenant="acme"} 4`,
		`scim_bridge_connector_pace_requests_per_second{connector="odm",tenant="acme"} 190`,
		`scim_bridge_connector_rate_limited_total{connector="odm",tenant="acme"} 3`,
		`scim_bridge_queue_oldest_due_age_seconds{tenant="acme"} 90`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("scrape lacks %s", want)
		}
	}
}
