package metrics

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/scim-bridge/scim-bridge/store"
)

// scrapeTimeout bounds the store reads of one scrape, well within the
// scrapers' timeouts (Prometheus: 10s by default; probes and curl often 5s);
// pingTimeout bounds the first read, which decides whether Redis answers at all
// (as /readyz does), so a scrape while Redis is unreachable answers in ~2s.
const (
	scrapeTimeout = 4 * time.Second
	pingTimeout   = 2 * time.Second
)

// storeCollector reads the gauges of the shared state from the store at each
// scrape: all of them or, when a read fails, none (and RedisUp 0).
type storeCollector struct {
	st      StoreStats
	tenants []TenantConnectors
	now     func() time.Time
}

var (
	redisUpDesc       = prometheus.NewDesc(RedisUp, "1 when this replica's store reads of the scrape succeeded, 0 when Redis did not answer them (the store gauges are then left out).", nil, nil)
	pendingDesc       = prometheus.NewDesc(QueuePending, "Keys waiting in a tenant's work queue.", []string{"tenant"}, nil)
	leasedDesc        = prometheus.NewDesc(QueueLeased, "Keys being converged right now in a tenant.", []string{"tenant"}, nil)
	oldestPendingDesc = prometheus.NewDesc(QueueOldestPending, "Seconds the oldest due key of a tenant's work queue has been due; 0 when no key is due.", []string{"tenant"}, nil)
	syncDesc          = prometheus.NewDesc(SyncSubjects, "Subjects by tenant, connector and sync status.", []string{"tenant", "connector", "status"}, nil)
	successDesc       = prometheus.NewDesc(ReconcileSuccess, "Unix time of a tenant's last successful reconciliation run by any replica; 0 when none was recorded.", []string{"tenant"}, nil)
	heldDesc          = prometheus.NewDesc(ConnectorHeldUntil, "Unix time until which the connector's downstream asked every replica for no request (0: not held).", []string{"tenant", "connector"}, nil)
	throttledDesc     = prometheus.NewDesc(ConnectorThrottled, "1 while the connector's downstream asks every replica for no request (a 429/503 with Retry-After, rate-limit headers), else 0.", []string{"tenant", "connector"}, nil)
)

func (c *storeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{redisUpDesc, pendingDesc, leasedDesc, oldestPendingDesc, syncDesc, successDesc, heldDesc, throttledDesc} {
		ch <- d
	}
}

func (c *storeCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	ms, err := c.read(ctx)
	up := 0.0
	if err == nil {
		up = 1
		for _, m := range ms {
			ch <- m
		}
	}
	ch <- prometheus.MustNewConstMetric(redisUpDesc, prometheus.GaugeValue, up)
}

// read reads every store gauge, or fails at the first read that does.
func (c *storeCollector) read(ctx context.Context) ([]prometheus.Metric, error) {
	pctx, cancel := context.WithTimeout(ctx, pingTimeout)
	defer cancel()
	if err := c.st.Ping(pctx); err != nil {
		return nil, err
	}
	var ms []prometheus.Metric
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ms = append(ms, prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...))
	}
	for _, t := range c.tenants {
		qs, err := c.st.QueueStats(ctx, t.Tenant)
		if err != nil {
			return nil, err
		}
		gauge(pendingDesc, float64(qs.Pending), t.Tenant)
		gauge(leasedDesc, float64(qs.Leased), t.Tenant)
		gauge(oldestPendingDesc, oldestDue(qs, c.now()).Seconds(), t.Tenant)
		counts, err := c.st.SyncCounts(ctx, t.Tenant)
		if err != nil {
			return nil, err
		}
		for _, name := range t.Connectors {
			for _, s := range []string{store.SyncSynced, store.SyncPending, store.SyncRetrying, store.SyncDead} {
				gauge(syncDesc, float64(counts[name][s]), t.Tenant, name, s)
			}
		}
		h, err := c.st.ReconcileHistory(ctx, t.Tenant)
		if err != nil {
			return nil, err
		}
		gauge(successDesc, unixSeconds(h.LastSuccess.At), t.Tenant)
		holds, err := c.st.ThrottleStates(ctx, t.Tenant, t.Connectors)
		if err != nil {
			return nil, err
		}
		now := c.now()
		for _, name := range t.Connectors {
			held, until := 0.0, 0.0
			if s := holds[name]; s.Held(now) {
				held, until = 1, unixSeconds(s.HeldUntil)
			}
			gauge(heldDesc, until, t.Tenant, name)
			gauge(throttledDesc, held, t.Tenant, name)
		}
	}
	return ms, nil
}

// oldestDue is how long the oldest pending key has been due at now: 0 when
// none is pending or the earliest is due later.
func oldestDue(qs store.QueueStats, now time.Time) time.Duration {
	if qs.OldestDue.IsZero() {
		return 0
	}
	return max(now.Sub(qs.OldestDue), 0)
}

// unixSeconds is t in Unix seconds (millisecond precision), 0 for the zero time.
func unixSeconds(t time.Time) float64 {
	if t.IsZero() {
		return 0
	}
	return float64(t.UnixMilli()) / 1000
}
