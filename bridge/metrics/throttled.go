package metrics

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// tenantConnector identifies one connector of one tenant.
type tenantConnector struct{ tenant, connector string }

var throttledDesc = prometheus.NewDesc(ConnectorThrottled,
	"1 while this replica holds every request of a tenant's connector after a 429/503 with Retry-After, else 0.",
	[]string{"tenant", "connector"}, nil)

// throttledCollector exports ConnectorThrottled from the hold time of each
// connector, compared with the clock at scrape time: a hold ends by itself.
type throttledCollector struct {
	mu    sync.Mutex
	now   func() time.Time
	until map[tenantConnector]time.Time // zero: never held
}

func (c *throttledCollector) setClock(now func() time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = now
}

// declare exports tc at 0 until it is held.
func (c *throttledCollector) declare(tc tenantConnector) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.until[tc]; !ok {
		c.until[tc] = time.Time{}
	}
}

func (c *throttledCollector) set(tc tenantConnector, until time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.until[tc] = until
}

func (c *throttledCollector) Describe(ch chan<- *prometheus.Desc) { ch <- throttledDesc }

func (c *throttledCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	for tc, until := range c.until {
		v := 0.0
		if until.After(now) {
			v = 1
		}
		ch <- prometheus.MustNewConstMetric(throttledDesc, prometheus.GaugeValue, v, tc.tenant, tc.connector)
	}
}
