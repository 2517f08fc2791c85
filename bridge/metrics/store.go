package metrics

import (
	"context"
	"sync"
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
//
// A scrape does not wait for the reads to give up: go-redis does not end a
// socket read when its context ends (its read timeout does, and the store's
// retries of reads may follow), so against a Redis that accepts connections
// but answers nothing (SIGSTOPped, partitioned) a read returns seconds after
// its deadline. The reads of a scrape run in the background instead, one
// scrape's at a time: a scrape waits for the PING at most pingTimeout and for
// the rest at most scrapeTimeout, then answers without the store gauges;
// scrapes arriving while reads run share their result, so a scraper that
// keeps scraping through an outage cannot pile up stuck reads (as /readyz
// does, bridge/ready.go).
type storeCollector struct {
	st      StoreStats
	tenants []TenantConnectors
	now     func() time.Time

	mu     sync.Mutex
	flight *storeRead // the read in flight; nil when none
}

// storeRead is one read of the store gauges: pingErr is set before pinged is
// closed, ms and err before done is.
type storeRead struct {
	pinged  chan struct{}
	pingErr error
	done    chan struct{}
	ms      []prometheus.Metric
	err     error
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
	up := 0.0
	if ms, ok := c.wait(); ok {
		up = 1
		for _, m := range ms {
			ch <- m
		}
	}
	ch <- prometheus.MustNewConstMetric(redisUpDesc, prometheus.GaugeValue, up)
}

// wait returns the gauges of the read in flight (or of a new one), or false
// when it failed, its PING has not answered within pingTimeout, or the whole
// read has not within scrapeTimeout.
func (c *storeCollector) wait() ([]prometheus.Metric, bool) {
	f := c.readOnce()
	deadline := time.NewTimer(scrapeTimeout)
	defer deadline.Stop()
	ping := time.NewTimer(pingTimeout)
	defer ping.Stop()
	select {
	case <-f.pinged:
		if f.pingErr != nil {
			return nil, false
		}
	case <-ping.C:
		return nil, false
	}
	select {
	case <-f.done:
		return f.ms, f.err == nil
	case <-deadline.C:
		return nil, false
	}
}

// readOnce returns the read in flight, or starts one. Its context is its own,
// not a scrape's: the scrapes that share it may give up one by one. The
// metrics it makes are immutable, so every scrape sharing it may send them.
func (c *storeCollector) readOnce() *storeRead {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.flight != nil {
		return c.flight
	}
	f := &storeRead{pinged: make(chan struct{}), done: make(chan struct{})}
	c.flight = f
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
		defer cancel()
		f.ms, f.err = c.read(ctx, f)
		c.mu.Lock()
		c.flight = nil
		c.mu.Unlock()
		close(f.done)
	}()
	return f
}

// read reads every store gauge, or fails at the first read that does; it
// reports the PING's answer on f as soon as it has it.
func (c *storeCollector) read(ctx context.Context, f *storeRead) ([]prometheus.Metric, error) {
	pctx, cancel := context.WithTimeout(ctx, pingTimeout)
	f.pingErr = c.st.Ping(pctx)
	cancel()
	close(f.pinged)
	if f.pingErr != nil {
		return nil, f.pingErr
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
