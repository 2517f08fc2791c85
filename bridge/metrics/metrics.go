// Package metrics holds every Prometheus series of the bridge, on a registry of
// its own (never the global default registry): SCIM requests, convergences,
// webhook deliveries and downstream HTTP calls as counters and histograms, the
// queue and sync-state gauges read from the store at scrape time (so every
// replica reports the shared truth), and the Go runtime and process collectors.
//
// A new metric is declared here, in New, and recorded through a method whose
// caller sees it only as the narrow interface the caller declares (for example
// fanout.Metrics). Series names are a contract with alert rules and dashboards:
// never rename one.
package metrics

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/common/expfmt"

	"github.com/scim-bridge/scim-bridge/connectors"
	"github.com/scim-bridge/scim-bridge/store"
)

// Series names (a contract with deploy/ alert rules and dashboards).
const (
	SCIMRequests       = "scim_bridge_scim_requests_total"
	SCIMDuration       = "scim_bridge_scim_request_duration_seconds"
	Convergences       = "scim_bridge_convergences_total"
	ConvergenceSeconds = "scim_bridge_convergence_duration_seconds"
	Webhooks           = "scim_bridge_webhooks_total"
	DownstreamSeconds  = "scim_bridge_downstream_request_duration_seconds"
	QueuePending       = "scim_bridge_queue_pending"
	QueueLeased        = "scim_bridge_queue_leased"
	SyncSubjects       = "scim_bridge_sync_subjects"
)

// scrapeTimeout bounds the store reads of one scrape.
const scrapeTimeout = 5 * time.Second

// Metrics is the bridge's registry and its series. Its methods are safe for
// concurrent use.
type Metrics struct {
	reg *prometheus.Registry

	scimRequests *prometheus.CounterVec
	scimDuration *prometheus.HistogramVec
	convergences *prometheus.CounterVec
	convDuration *prometheus.HistogramVec
	webhooks     *prometheus.CounterVec
	downstream   *prometheus.HistogramVec
}

// New builds the registry with every series of the bridge and the Go runtime
// and process collectors. Store gauges are added by WatchStore.
func New() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		scimRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: SCIMRequests, Help: "SCIM requests by method and status code.",
		}, []string{"method", "code"}),
		scimDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: SCIMDuration, Help: "Duration of SCIM requests by method, route template and status code.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"method", "route", "code"}),
		convergences: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: Convergences, Help: "Connector convergences by tenant, connector and outcome.",
		}, []string{"tenant", "connector", "outcome"}),
		convDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: ConvergenceSeconds, Help: "Duration of connector convergences by tenant, connector and outcome.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
		}, []string{"tenant", "connector", "outcome"}),
		webhooks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: Webhooks, Help: "Webhook deliveries by tenant, connector and result.",
		}, []string{"tenant", "connector", "code"}),
		downstream: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: DownstreamSeconds, Help: "Duration of downstream HTTP requests by connector and status class (2xx, 3xx, 4xx, 5xx, error).",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"connector", "status_class"}),
	}
	m.reg.MustRegister(m.scimRequests, m.scimDuration, m.convergences, m.convDuration, m.webhooks, m.downstream,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Registry returns the registry, to register more collectors or gather in tests.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// SCIMRequest records one SCIM request. route is a route template, never a raw
// path; a method SCIM does not use is counted as "other".
func (m *Metrics) SCIMRequest(method, route string, code int, d time.Duration) {
	method = methodLabel(method)
	c := strconv.Itoa(code)
	m.scimRequests.WithLabelValues(method, c).Inc()
	m.scimDuration.WithLabelValues(method, route, c).Observe(d.Seconds())
}

// Converged records one convergence of a connector and how long it took.
func (m *Metrics) Converged(tenant, connector, outcome string, d time.Duration) {
	m.convergences.WithLabelValues(tenant, connector, outcome).Inc()
	m.convDuration.WithLabelValues(tenant, connector, outcome).Observe(d.Seconds())
}

// Webhook records the answer to one webhook delivery.
func (m *Metrics) Webhook(tenant, connector string, code int) {
	m.webhooks.WithLabelValues(tenant, connector, strconv.Itoa(code)).Inc()
}

// Downstream returns the observer to hand a connector in connectors.Deps, which
// records the duration of its HTTP requests under its name.
func (m *Metrics) Downstream(connector string) connectors.HTTPObserver {
	return func(status int, d time.Duration) {
		m.downstream.WithLabelValues(connector, statusClass(status)).Observe(d.Seconds())
	}
}

// statusClass is "2xx" … "5xx", or "error" when no response arrived.
func statusClass(status int) string {
	switch {
	case status >= 200 && status < 300:
		return "2xx"
	case status >= 300 && status < 400:
		return "3xx"
	case status >= 400 && status < 500:
		return "4xx"
	case status >= 500 && status < 600:
		return "5xx"
	}
	return "error"
}

// methodLabel bounds the method label to the methods SCIM uses.
func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
		return m
	}
	return "other"
}

// StoreStats is what the store gauges read at scrape time.
type StoreStats interface {
	QueueStats(ctx context.Context, tenant string) (store.QueueStats, error)
	SyncCounts(ctx context.Context, tenant string) (map[string]map[string]int, error)
}

// TenantConnectors names a tenant and its connectors, for the store gauges.
type TenantConnectors struct {
	Tenant     string
	Connectors []string
}

// WatchStore adds the gauges of the work queue (pending, leased) and of sync
// states (subjects by tenant, connector and status), read from st at each
// scrape. A registry watches one store: a second call is an error.
func (m *Metrics) WatchStore(st StoreStats, tenants []TenantConnectors) error {
	if err := m.reg.Register(&storeCollector{st: st, tenants: tenants}); err != nil {
		return fmt.Errorf("register the store gauges (one registry per bridge): %w", err)
	}
	return nil
}

// Handler serves the registry in the Prometheus exposition format the scraper
// asks for. When the store gauges cannot be read the scrape fails with 503.
func (m *Metrics) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mfs, err := m.reg.Gather()
		if err != nil {
			http.Error(w, "store unavailable", http.StatusServiceUnavailable)
			return
		}
		format := expfmt.Negotiate(r.Header)
		w.Header().Set("Content-Type", string(format))
		enc := expfmt.NewEncoder(w, format)
		for _, mf := range mfs {
			if err := enc.Encode(mf); err != nil {
				return // the client went away
			}
		}
		if c, ok := enc.(expfmt.Closer); ok {
			_ = c.Close()
		}
	})
}

// storeCollector reads the queue and sync-state gauges from the store.
type storeCollector struct {
	st      StoreStats
	tenants []TenantConnectors
}

var (
	pendingDesc = prometheus.NewDesc(QueuePending, "Keys waiting in a tenant's work queue.", []string{"tenant"}, nil)
	leasedDesc  = prometheus.NewDesc(QueueLeased, "Keys being converged right now in a tenant.", []string{"tenant"}, nil)
	syncDesc    = prometheus.NewDesc(SyncSubjects, "Subjects by tenant, connector and sync status.", []string{"tenant", "connector", "status"}, nil)
)

func (c *storeCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- pendingDesc
	ch <- leasedDesc
	ch <- syncDesc
}

func (c *storeCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	for _, t := range c.tenants {
		qs, err := c.st.QueueStats(ctx, t.Tenant)
		if err != nil {
			ch <- prometheus.NewInvalidMetric(pendingDesc, err)
			return
		}
		ch <- prometheus.MustNewConstMetric(pendingDesc, prometheus.GaugeValue, float64(qs.Pending), t.Tenant)
		ch <- prometheus.MustNewConstMetric(leasedDesc, prometheus.GaugeValue, float64(qs.Leased), t.Tenant)
		counts, err := c.st.SyncCounts(ctx, t.Tenant)
		if err != nil {
			ch <- prometheus.NewInvalidMetric(syncDesc, err)
			return
		}
		for _, name := range t.Connectors {
			for _, s := range []string{store.SyncSynced, store.SyncPending, store.SyncRetrying, store.SyncDead} {
				ch <- prometheus.MustNewConstMetric(syncDesc, prometheus.GaugeValue, float64(counts[name][s]), t.Tenant, name, s)
			}
		}
	}
}
