// Package metrics holds every Prometheus series of the bridge, on a registry of
// its own (never the global default registry): SCIM requests, convergences,
// reconciliation runs, webhook deliveries and downstream HTTP calls as counters
// and histograms; the queue, sync-state and reconcile-history gauges read from
// the store at scrape time (so every replica reports the shared truth, see
// store.go), connector holds among them; per-replica gauges (connector
// concurrency limits and paces, reconcile intervals); and the Go runtime and
// process collectors.
//
// A new metric is declared here, in New, and recorded through a method whose
// caller sees it only as the narrow interface the caller declares (for example
// fanout.Metrics). A series with a tenant or connector label is created for
// every configured tenant and connector by WatchStore, at 0, so a fresh scrape
// lists them all. Series names are a contract with alert rules and dashboards
// (deploy/monitoring): never rename one.
package metrics

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"sync"
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
	QueueOldestPending = "scim_bridge_queue_oldest_pending_seconds"
	SyncSubjects       = "scim_bridge_sync_subjects"
	RedisUp            = "scim_bridge_redis_up"
	ReconcileRuns      = "scim_bridge_reconcile_runs_total"
	ReconcileInterval  = "scim_bridge_reconcile_interval_seconds"
	ReconcileSuccess   = "scim_bridge_reconcile_last_success_timestamp_seconds"
	// ConnectorThrottled is 1 while a connector's downstream asks every replica
	// to send nothing (ConnectorHeldUntil is in the future), else 0. Read from
	// the store.
	ConnectorThrottled = "scim_bridge_connector_throttled"
)

// Metrics is the bridge's registry and its series. Its methods are safe for
// concurrent use.
type Metrics struct {
	reg *prometheus.Registry

	scimRequests *prometheus.CounterVec
	scimDuration *prometheus.HistogramVec
	// scimSeries holds the two series of each method, route and code seen,
	// sparing every request the label hashing of WithLabelValues.
	scimSeries   sync.Map // scimKey -> scimSeries
	convergences *prometheus.CounterVec
	convDuration *prometheus.HistogramVec
	webhooks     *prometheus.CounterVec
	downstream   *prometheus.HistogramVec

	reconcileRuns     *prometheus.CounterVec
	reconcileInterval *prometheus.GaugeVec
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
		reconcileRuns: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: ReconcileRuns, Help: "Reconciliation runs (not dry runs) by tenant and outcome: ok, failed (an error, or subjects that could not be checked), aborted (deletion threshold, lock lost, shutdown).",
		}, []string{"tenant", "outcome"}),
		reconcileInterval: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: ReconcileInterval, Help: "Interval of a tenant's scheduled reconciliation (reconcile_every); 0 when not scheduled.",
		}, []string{"tenant"}),
	}
	m.reg.MustRegister(m.scimRequests, m.scimDuration, m.convergences, m.convDuration, m.webhooks, m.downstream,
		m.reconcileRuns, m.reconcileInterval,
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
	k := scimKey{method: method, route: route, code: code}
	v, ok := m.scimSeries.Load(k)
	if !ok {
		c := strconv.Itoa(code)
		v, _ = m.scimSeries.LoadOrStore(k, scimSeries{
			requests: m.scimRequests.WithLabelValues(method, c),
			duration: m.scimDuration.WithLabelValues(method, route, c),
		})
	}
	series := v.(scimSeries)
	series.requests.Inc()
	series.duration.Observe(d.Seconds())
}

// scimKey names the series of one method, route template and status code.
type scimKey struct {
	method, route string
	code          int
}

type scimSeries struct {
	requests prometheus.Counter
	duration prometheus.Observer
}

// Converged records one convergence of a connector and how long it took.
func (m *Metrics) Converged(tenant, connector, outcome string, d time.Duration) {
	m.convergences.WithLabelValues(tenant, connector, outcome).Inc()
	m.convDuration.WithLabelValues(tenant, connector, outcome).Observe(d.Seconds())
}

// ReconcileRun counts one reconciliation run of tenant that ended with outcome
// (store.ReconcileOK, store.ReconcileFailed or store.ReconcileAborted).
func (m *Metrics) ReconcileRun(tenant, outcome string) {
	m.reconcileRuns.WithLabelValues(tenant, outcome).Inc()
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
	Ping(ctx context.Context) error
	QueueStats(ctx context.Context, tenant string) (store.QueueStats, error)
	SyncCounts(ctx context.Context, tenant string) (map[string]map[string]int, error)
	ReconcileHistory(ctx context.Context, tenant string) (store.ReconcileHistory, error)
	ThrottleStates(ctx context.Context, tenant string, connectors []string) (map[string]store.ThrottleState, error)
}

// TenantConnectors names a configured tenant, its connectors and its
// reconciliation schedule, for the series labelled by tenant and connector.
type TenantConnectors struct {
	Tenant     string
	Connectors []string
	// ReconcileEvery is the interval of the tenant's scheduled reconciliation;
	// 0 when it has none.
	ReconcileEvery time.Duration
}

// WatchStore creates the series of every configured tenant and connector at 0
// (reconcile runs by outcome, reconcile interval) and adds the gauges read from
// st at each scrape: Redis reachability, the work queue (pending, leased, age of
// the oldest due key), sync states (subjects by tenant, connector and status),
// the time of each tenant's last successful reconciliation and each connector's
// hold (ConnectorHeldUntil, ConnectorThrottled), shared by every replica. now is
// the clock of the queue age and of the holds; nil means time.Now. A registry
// watches one store: a second call is an error.
func (m *Metrics) WatchStore(st StoreStats, tenants []TenantConnectors, now func() time.Time) error {
	if now == nil {
		now = time.Now
	}
	if err := m.reg.Register(&storeCollector{st: st, tenants: tenants, now: now}); err != nil {
		return fmt.Errorf("register the store gauges (one registry per bridge): %w", err)
	}
	for _, t := range tenants {
		for _, o := range store.ReconcileOutcomes {
			m.reconcileRuns.WithLabelValues(t.Tenant, o)
		}
		m.reconcileInterval.WithLabelValues(t.Tenant).Set(max(t.ReconcileEvery, 0).Seconds())
	}
	return nil
}

// Handler serves the registry in the Prometheus exposition format the scraper
// asks for. It answers while Redis is down: RedisUp is 0 then and the gauges
// read from the store are left out (a gap, not false zeros).
func (m *Metrics) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// A collector that failed (an invalid metric) costs its own series, not
		// the scrape: what could be gathered is served, and the cause is never
		// shown to the scraper.
		mfs, _ := m.reg.Gather()
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
