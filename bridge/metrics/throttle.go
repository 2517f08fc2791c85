package metrics

import (
	"context"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/scim-bridge/scim-bridge/connectors"
	"github.com/scim-bridge/scim-bridge/store"
)

// Series of the connectors' throttles and of the work waiting for them (a
// contract with deploy/ alert rules and dashboards, like the names above).
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
	// QueueOldestDue is the age of the oldest due key of a tenant's queue
	// (every connector of the tenant waits on it); 0 when none is due.
	QueueOldestDue = "scim_bridge_queue_oldest_due_age_seconds"
)

// ThrottleStore is what the throttle gauges read at scrape time.
type ThrottleStore interface {
	ThrottleStates(ctx context.Context, tenant string, connectors []string) (map[string]store.ThrottleState, error)
	QueueStats(ctx context.Context, tenant string) (store.QueueStats, error)
}

// TenantThrottles names a tenant and its connectors' throttles.
type TenantThrottles struct {
	Tenant    string
	Throttles map[string]connectors.ThrottleReporter
}

// WatchThrottles adds the gauges of the connectors' throttles (held until,
// concurrency limit, pace, 429s seen) and the age of each tenant's oldest due
// key, read at each scrape; now is the clock. A registry watches one set.
func (m *Metrics) WatchThrottles(st ThrottleStore, tenants []TenantThrottles, now func() time.Time) error {
	if err := m.reg.Register(&throttleCollector{st: st, tenants: tenants, now: now}); err != nil {
		return fmt.Errorf("register the throttle gauges (one registry per bridge): %w", err)
	}
	return nil
}

var (
	heldDesc = prometheus.NewDesc(ConnectorHeldUntil, "Unix time until which the connector's downstream asked for no request (0: not held).",
		[]string{"tenant", "connector"}, nil)
	limitedDesc = prometheus.NewDesc(ConnectorRateLimited, "429 answers of the connector's downstream seen by this replica.",
		[]string{"tenant", "connector"}, nil)
	concurrencyDesc = prometheus.NewDesc(ConnectorConcurrency, "Adaptive concurrency limit of the connector on this replica.",
		[]string{"tenant", "connector"}, nil)
	paceDesc = prometheus.NewDesc(ConnectorPace, "Pace of the connector in requests per second, fixed or learned (0: none).",
		[]string{"tenant", "connector"}, nil)
	oldestDesc = prometheus.NewDesc(QueueOldestDue, "Age of the oldest due key of the tenant's work queue (0: none due).",
		[]string{"tenant"}, nil)
)

type throttleCollector struct {
	st      ThrottleStore
	tenants []TenantThrottles
	now     func() time.Time
}

func (c *throttleCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{heldDesc, limitedDesc, concurrencyDesc, paceDesc, oldestDesc} {
		ch <- d
	}
}

func (c *throttleCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	now := c.now()
	for _, t := range c.tenants {
		qs, err := c.st.QueueStats(ctx, t.Tenant)
		if err != nil {
			ch <- prometheus.NewInvalidMetric(oldestDesc, err)
			return
		}
		ch <- prometheus.MustNewConstMetric(oldestDesc, prometheus.GaugeValue, OldestDueAge(qs, now).Seconds(), t.Tenant)
		names := make([]string, 0, len(t.Throttles))
		for name := range t.Throttles {
			names = append(names, name)
		}
		states, err := c.st.ThrottleStates(ctx, t.Tenant, names)
		if err != nil {
			ch <- prometheus.NewInvalidMetric(heldDesc, err)
			return
		}
		for name, th := range t.Throttles {
			held := 0.0
			if s := states[name]; s.Held(now) {
				held = float64(s.HeldUntil.UnixMilli()) / 1000
			}
			ts := th.Status()
			ch <- prometheus.MustNewConstMetric(heldDesc, prometheus.GaugeValue, held, t.Tenant, name)
			ch <- prometheus.MustNewConstMetric(limitedDesc, prometheus.CounterValue, float64(ts.RateLimited), t.Tenant, name)
			ch <- prometheus.MustNewConstMetric(concurrencyDesc, prometheus.GaugeValue, float64(ts.Limit), t.Tenant, name)
			ch <- prometheus.MustNewConstMetric(paceDesc, prometheus.GaugeValue, ts.Rate, t.Tenant, name)
		}
	}
}

// OldestDueAge is how long the oldest due key of a queue has waited at now (0
// when none is due).
func OldestDueAge(qs store.QueueStats, now time.Time) time.Duration {
	if qs.OldestDue.IsZero() || qs.OldestDue.After(now) {
		return 0
	}
	return now.Sub(qs.OldestDue)
}
