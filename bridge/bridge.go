// Package bridge is the SCIM 2.0 service provider (RFC 7643/7644) of scim-bridge and
// everything around it: tenants and bearer-token auth, the Users and Groups
// handlers, discovery endpoints, health, and the machinery that fans accepted
// changes out to connectors (work queue consumer, sync worker, reconciler, webhook
// receiver). It is wired as New(opts) / Handler() / Run(ctx) / Close(), so tests run
// the whole bridge in-process on 127.0.0.1:0 with an injected clock and logger.
package bridge

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"time"

	"github.com/rs/zerolog"

	"github.com/scim-bridge/scim-bridge/connectors"
	"github.com/scim-bridge/scim-bridge/store"
)

// Defaults of Options.
const (
	DefaultMaxBodyBytes = 1 << 20
	DefaultMaxResults   = 1000
	DefaultWorkers      = 32
)

// Options configure a Bridge.
type Options struct {
	Store   *store.Store
	Tenants []TenantOptions
	Logger  zerolog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// PublicURL is the external base URL of the SCIM endpoint (".../scim/v2"), used
	// for meta.location and $ref; empty derives it from each request's Host.
	PublicURL string
	// MaxBodyBytes limits request bodies (413 above it); 0 means DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// MaxResults caps a list page (ServiceProviderConfig filter.maxResults); 0 means DefaultMaxResults.
	MaxResults int
	// Workers is the sync worker concurrency; 0 means DefaultWorkers.
	Workers int
	// AdminToken guards the admin endpoints; empty disables them.
	AdminToken string
	// InstanceID names this replica in leases and locks; empty means a random id.
	InstanceID string
}

// TenantOptions configure one tenant.
type TenantOptions struct {
	ID                string
	SCIMTokens        []string
	ReconcileEvery    time.Duration
	DeletionThreshold int
	Connectors        []connectors.Connector
	// WebhookSecrets maps a connector name to the secret its webhooks are signed
	// with; a connector without one has no webhook endpoint.
	WebhookSecrets map[string]string
}

type tenant struct {
	id                string
	tokens            []string
	reconcileEvery    time.Duration
	deletionThreshold int
	connectors        []connectors.Connector
	byName            map[string]connectors.Connector
	webhookSecrets    map[string]string
}

// Bridge is one running scim-bridge: SCIM endpoint plus fan-out.
type Bridge struct {
	opts    Options
	store   *store.Store
	log     zerolog.Logger
	now     func() time.Time
	types   *resourceTypes
	tenants map[string]*tenant
	order   []*tenant
	tokens  *tokenIndex
	admin   *tokenIndex
	handler http.Handler

	discovery discovery
	sync      *syncer
	metrics   *metrics
}

var tenantIDPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// New validates opts and builds the bridge.
func New(opts Options) (*Bridge, error) {
	if opts.Store == nil {
		return nil, errors.New("bridge: no store")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if opts.MaxResults <= 0 {
		opts.MaxResults = DefaultMaxResults
	}
	if opts.Workers <= 0 {
		opts.Workers = DefaultWorkers
	}
	if opts.InstanceID == "" {
		opts.InstanceID = newID()
	}
	b := &Bridge{
		opts:    opts,
		store:   opts.Store,
		log:     opts.Logger,
		now:     opts.Now,
		types:   newResourceTypes(),
		tenants: map[string]*tenant{},
	}
	for _, to := range opts.Tenants {
		if !tenantIDPattern.MatchString(to.ID) {
			return nil, fmt.Errorf("bridge: tenant id %q: must match %s", to.ID, tenantIDPattern)
		}
		if _, dup := b.tenants[to.ID]; dup {
			return nil, fmt.Errorf("bridge: tenant %q configured twice", to.ID)
		}
		t := &tenant{
			id: to.ID, tokens: to.SCIMTokens, reconcileEvery: to.ReconcileEvery,
			deletionThreshold: to.DeletionThreshold, connectors: to.Connectors,
			byName: map[string]connectors.Connector{}, webhookSecrets: to.WebhookSecrets,
		}
		if t.deletionThreshold <= 0 {
			t.deletionThreshold = 500
		}
		for _, c := range to.Connectors {
			if _, dup := t.byName[c.Name()]; dup {
				return nil, fmt.Errorf("bridge: tenant %q: connector %q configured twice", to.ID, c.Name())
			}
			t.byName[c.Name()] = c
		}
		b.tenants[t.id] = t
		b.order = append(b.order, t)
	}
	b.tokens = newTokenIndex(b.order)
	if opts.AdminToken != "" {
		b.admin = newTokenIndex([]*tenant{{id: "admin", tokens: []string{opts.AdminToken}}})
	}
	b.sync = newSyncer(b)
	b.metrics = newMetrics()
	b.handler = b.routes()
	return b, nil
}

// Handler returns the bridge's HTTP handler: SCIM at /scim/v2, health at /healthz
// and /readyz, Prometheus metrics at /metrics, webhooks at
// /webhooks/{tenant}/{connector}, admin at /admin/.
func (b *Bridge) Handler() http.Handler { return b.handler }

// Store returns the bridge's store.
func (b *Bridge) Store() *store.Store { return b.store }

func (b *Bridge) routes() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/scim/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w}
		b.serveSCIM(rec, r)
		if rec.code == 0 {
			rec.code = http.StatusOK
		}
		b.metrics.inc("scim_bridge_scim_requests_total", "method", methodLabel(r.Method), "code", strconv.Itoa(rec.code))
	}))
	mux.HandleFunc("GET /metrics", b.serveMetrics)
	mux.HandleFunc("POST /webhooks/{tenant}/{connector}", b.serveWebhook)
	b.adminRoutes(mux)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if err := b.store.Ping(ctx); err != nil {
			b.log.Warn().Err(err).Msg("readiness check failed")
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte("redis unavailable\n"))
			return
		}
		_, _ = w.Write([]byte("ready\n"))
	})
	return mux
}

// Run runs the background machinery (sync workers, scheduled reconciliation)
// until ctx is done. The HTTP
// side is served by Serve or by mounting Handler.
func (b *Bridge) Run(ctx context.Context) error {
	// Tenant-level subjects (an SSO connection) have no SCIM write to mark them:
	// converge them at start; the recorded hash makes this free when nothing changed.
	for _, t := range b.order {
		for _, c := range t.connectors {
			if c.Handles(connectors.SubjectTenant) {
				key := store.WorkKey{Tenant: t.id, Kind: store.WorkTenant, ID: t.id}
				if err := b.store.MarkDirty(ctx, t.id, key); err != nil {
					// The scheduled reconciliation repairs it; the workers must run anyway.
					b.log.Error().Err(err).Str("tenant", t.id).Msg("mark tenant subjects at start")
				}
				break
			}
		}
	}
	done := make(chan struct{})
	for _, t := range b.order {
		go func() {
			b.scheduleReconcile(ctx, t)
			done <- struct{}{}
		}()
	}
	b.sync.run(ctx, b.opts.Workers)
	for range b.order {
		<-done
	}
	return nil
}

// written is called after every accepted SCIM write: its dirty mark is already in
// the store; this only wakes the local dispatcher early.
func (b *Bridge) written() { b.sync.Kick() }

// methodLabel bounds the method label to the methods SCIM uses.
func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
		return m
	}
	return "other"
}
