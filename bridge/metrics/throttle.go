package metrics

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/scim-bridge/scim-bridge/connectors"
)

// Series of the connectors' throttles (a contract with deploy/ alert rules and
// dashboards, like the names above). The holds every replica shares,
// ConnectorHeldUntil and ConnectorThrottled, are read from the store with the
// other store gauges (store.go); the rest are this replica's own.
const (
	// ConnectorHeldUntil is the unix time until which a connector's downstream
	// asked every replica to send nothing (429/503 Retry-After, rate-limit
	// headers); 0 when it is not held now. Read from the store.
	ConnectorHeldUntil = "scim_bridge_connector_held_until_seconds"
	// ConnectorRateLimited counts the 429 answers of a connector's downstream
	// seen by this replica.
	ConnectorRateLimited = "scim_bridge_connector_rate_limited_total"
	// ConnectorConcurrency is this replica's adaptive concurrency limit of a
	// connector (requests under way at once).
	ConnectorConcurrency = "scim_bridge_connector_concurrency_limit"
	// ConnectorPace is the pace of a connector in requests per second, fixed
	// (rate) or learned from its 429s; 0 when none.
	ConnectorPace = "scim_bridge_connector_pace_requests_per_second"
)

// TenantThrottles names a tenant and its connectors' throttles.
type TenantThrottles struct {
	Tenant    string
	Throttles map[string]connectors.ThrottleReporter
}

// WatchThrottles adds this replica's gauges of the connectors' throttles
// (concurrency limit, pace, 429s seen), read from the throttles at each scrape.
// A registry watches one set.
func (m *Metrics) WatchThrottles(tenants []TenantThrottles) error {
	if err := m.reg.Register(&throttleCollector{tenants: tenants}); err != nil {
		return fmt.Errorf("register the throttle gauges (one registry per bridge): %w", err)
	}
	return nil
}

var (
	limitedDesc = prometheus.NewDesc(ConnectorRateLimited, "429 answers of the connector's downstream seen by this replica.",
		[]string{"tenant", "connector"}, nil)
	concurrencyDesc = prometheus.NewDesc(ConnectorConcurrency, "Adaptive concurrency limit of the connector on this replica.",
		[]string{"tenant", "connector"}, nil)
	paceDesc = prometheus.NewDesc(ConnectorPace, "Pace of the connector in requests per second, fixed or learned (0: none).",
		[]string{"tenant", "connector"}, nil)
)

// throttleCollector reads the process-local state of the throttles; it makes
// no store read, so it answers while Redis is down.
type throttleCollector struct {
	tenants []TenantThrottles
}

func (c *throttleCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{limitedDesc, concurrencyDesc, paceDesc} {
		ch <- d
	}
}

func (c *throttleCollector) Collect(ch chan<- prometheus.Metric) {
	for _, t := range c.tenants {
		for name, th := range t.Throttles {
			ts := th.Status()
			ch <- prometheus.MustNewConstMetric(limitedDesc, prometheus.CounterValue, float64(ts.RateLimited), t.Tenant, name)
			ch <- prometheus.MustNewConstMetric(concurrencyDesc, prometheus.GaugeValue, float64(ts.Limit), t.Tenant, name)
			ch <- prometheus.MustNewConstMetric(paceDesc, prometheus.GaugeValue, ts.Rate, t.Tenant, name)
		}
	}
}
