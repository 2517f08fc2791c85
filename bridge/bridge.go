// Package bridge is the composition root of scim-bridge: New(opts) builds one
// bridge from a store, tenants and connectors, Handler() serves its HTTP side,
// Run(ctx) its background machinery, Close() releases it, so tests run the whole
// bridge in-process on 127.0.0.1:0 with an injected clock and logger.
//
// The work itself lives in one package per concern, each depending on narrow
// interfaces it declares rather than on this package:
//
//   - bridge/scimapi: the SCIM 2.0 endpoint at /scim/v2 (a new SCIM endpoint goes there)
//   - bridge/fanout: the work-queue consumer, convergence and retry rules
//   - bridge/reconcile: reconciliation runs, their schedule and the wait for their repairs
//   - bridge/webhook: the webhook receiver at /webhooks/{tenant}/{connector}
//   - bridge/admin: the admin API at /admin/ (status, retry, reconcile)
//   - bridge/metrics: every Prometheus series, served at /metrics
//   - bridge/config: the configuration file, its validation and environment
//   - bridge/auth: authentication of the SCIM clients and of the admin API
//
// This package only wires them: it owns no SCIM, sync or reconcile logic.
package bridge

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/scim-bridge/scim-bridge/bridge/admin"
	"github.com/scim-bridge/scim-bridge/bridge/audit"
	"github.com/scim-bridge/scim-bridge/bridge/auth"
	"github.com/scim-bridge/scim-bridge/bridge/explain"
	"github.com/scim-bridge/scim-bridge/bridge/fanout"
	"github.com/scim-bridge/scim-bridge/bridge/internal/subject"
	"github.com/scim-bridge/scim-bridge/bridge/internal/tenant"
	"github.com/scim-bridge/scim-bridge/bridge/internal/uuid"
	"github.com/scim-bridge/scim-bridge/bridge/metrics"
	"github.com/scim-bridge/scim-bridge/bridge/reconcile"
	"github.com/scim-bridge/scim-bridge/bridge/scimapi"
	"github.com/scim-bridge/scim-bridge/bridge/webhook"
	"github.com/scim-bridge/scim-bridge/connectors"
	"github.com/scim-bridge/scim-bridge/filter"
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
	// LocationProxies are the peers (reverse proxies) whose X-Forwarded-Proto
	// and X-Forwarded-Host name the scheme and host of meta.location when
	// PublicURL is empty; from any other peer those headers are ignored.
	LocationProxies []netip.Prefix
	// CursorKey signs pagination cursors (RFC 9865); replicas serving one
	// tenant need the same key. Empty means a random key per process.
	CursorKey []byte
	// CursorTimeout is how long a pagination cursor stays valid; 0 means
	// scimapi.DefaultCursorTimeout.
	CursorTimeout time.Duration
	// BulkMaxOperations and BulkMaxPayloadBytes bound one /Bulk request (RFC
	// 7644 §3.7.4); 0 means scimapi.DefaultBulkMaxOperations and
	// scimapi.DefaultBulkMaxPayloadBytes.
	BulkMaxOperations   int
	BulkMaxPayloadBytes int64
	// MaxBodyBytes limits request bodies (413 above it); 0 means DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// MaxResults caps a list page (ServiceProviderConfig filter.maxResults); 0 means DefaultMaxResults.
	MaxResults int
	// Workers is the sync worker concurrency; 0 means DefaultWorkers.
	Workers int
	// MaxConcurrentRequests caps the SCIM requests of one tenant served at
	// once (429 with Retry-After beyond it); 0 means scimapi.DefaultMaxConcurrent.
	MaxConcurrentRequests int
	// AdminToken guards the admin endpoints (plaintext); empty with
	// AdminTokens empty too disables them.
	AdminToken string
	// AdminTokens are further admin tokens (digests, names, validity
	// windows; several for rotation).
	AdminTokens []auth.Token
	// Limiter counts failed authentications per source address, shared by
	// the SCIM endpoint and the admin API; nil means one with the defaults.
	Limiter *auth.Limiter
	// HTTPClient fetches the signing keys of Entra-issued JWTs; nil means a
	// client with DefaultKeysClientTimeout.
	HTTPClient *http.Client
	// TrustedProxies are the addresses of reverse proxies in front of the
	// bridge: a request from one of them is attributed, for the Limiter, to
	// the address in X-Forwarded-For that the proxies saw; a request from
	// anywhere else to its peer address. Empty means no proxy is trusted.
	TrustedProxies []netip.Prefix
	// ClientAddr, when set, replaces the attribution TrustedProxies gives.
	ClientAddr func(r *http.Request) netip.Addr
	// InstanceID names this replica in leases and locks; empty means a random id.
	InstanceID string
	// Metrics is the registry the bridge records into; nil means a new one. Pass
	// the one whose Downstream observers the connectors were opened with
	// (connectors.Deps.ObserveHTTP), so downstream latency lands beside the rest.
	// One registry serves one bridge.
	Metrics *metrics.Metrics

	// Audit configures the audit trail (always on; see AuditOptions).
	Audit AuditOptions
	// AdminSecureCookie marks the console's session cookie Secure on plain HTTP
	// too (when a proxy terminates TLS); a TLS request always gets it.
	AdminSecureCookie bool
	// AdminReadToken, when set, is an admin token (plaintext or digest, with
	// an optional validity window) that can read the admin API and console but
	// not retry dead letters or apply a reconciliation; its name is always
	// admin.ReadOnlyName (an admin token given that name is read-only too).
	AdminReadToken auth.Token

	// fanout tunes the worker's retry schedule and leases and sets its hooks
	// (tests only).
	fanout fanout.Options
}

// TenantOptions configure one tenant.
type TenantOptions struct {
	ID string
	// SCIMTokens are plaintext bearer tokens of the tenant's IdP, added to
	// Credentials.Tokens.
	SCIMTokens []string
	// Credentials are the tenant's tokens (plaintext or digest, named, with
	// validity windows), HTTP Basic users and Entra JWT settings.
	Credentials       auth.Credentials
	ReconcileEvery    time.Duration
	DeletionThreshold int
	Connectors        []connectors.Connector
	// WebhookSecrets maps a connector name to the secret its webhooks are signed
	// with; a connector without one has no webhook endpoint.
	WebhookSecrets map[string]string
	// UserExtensions and GroupExtensions are the tenant's own schema
	// extensions (RFC 7643 §3.3), served in /Schemas and /ResourceTypes to
	// requests with its token and validated, filtered, sorted, patched and
	// projected like core attributes. The enterprise User extension is always there.
	UserExtensions  []filter.SchemaExtension
	GroupExtensions []filter.SchemaExtension
	// Settle is the quiet period of a changed user before its downstream
	// convergence (each change re-arms it), never beyond SettleMax after its
	// first change not yet converged; 0 converges at once.
	Settle, SettleMax time.Duration
	// Throttles are the throttles the connectors were opened with
	// (connectors.Deps.Throttle), by connector name, for status and metrics.
	Throttles map[string]connectors.ThrottleReporter
}

// Bridge is one running scim-bridge: SCIM endpoint plus fan-out.
type Bridge struct {
	opts    Options
	store   *store.Store
	log     zerolog.Logger
	tenants *tenant.Set
	handler http.Handler

	scim       *scimapi.Server
	fanout     *fanout.Worker
	reconciler *reconcile.Reconciler
	webhooks   *webhook.Receiver
	admin      *admin.API
	metrics    *metrics.Metrics
	audit      *audit.Recorder
	stopAudit  func()

	mu      sync.Mutex     // orders Run's registration before Close's wait
	closing chan struct{}  // closed by Close
	running sync.WaitGroup // one per Run in progress
}

// New validates opts and builds the bridge. It starts nothing (the audit
// writer included) before every step that can fail has passed.
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
		opts.InstanceID = uuid.New()
	}
	if opts.Metrics == nil {
		opts.Metrics = metrics.New()
	}
	ts := make([]*tenant.Tenant, 0, len(opts.Tenants))
	watched := make([]metrics.TenantConnectors, 0, len(opts.Tenants))
	for _, to := range opts.Tenants {
		ts = append(ts, &tenant.Tenant{
			ID: to.ID, ReconcileEvery: to.ReconcileEvery,
			DeletionThreshold: to.DeletionThreshold, Connectors: to.Connectors, WebhookSecrets: to.WebhookSecrets,
			Settle: to.Settle, SettleMax: to.SettleMax, Throttles: to.Throttles,
		})
		tc := metrics.TenantConnectors{Tenant: to.ID}
		for _, c := range to.Connectors {
			tc.Connectors = append(tc.Connectors, c.Name())
		}
		watched = append(watched, tc)
	}
	set, err := tenant.NewSet(ts)
	if err != nil {
		return nil, fmt.Errorf("bridge: %w", err)
	}
	b := &Bridge{opts: opts, store: opts.Store, log: opts.Logger, tenants: set, metrics: opts.Metrics, closing: make(chan struct{})}
	st, log, now := opts.Store, opts.Logger, opts.Now
	scimAuth, adminAuth, err := newAuthenticators(opts)
	if err != nil {
		return nil, fmt.Errorf("bridge: %w", err)
	}
	b.newAudit()

	fo := opts.fanout
	fo.Store, fo.Tenants, fo.Logger, fo.Now, fo.Owner, fo.Metrics = st, set, log, now, opts.InstanceID, opts.Metrics
	fo.Audit = b.audit
	fo.Unavailable = func(err error) bool { _, ok := storeUnavailable(err); return ok }
	b.fanout = fanout.New(fo)
	extensions := map[string]scimapi.Extensions{}
	for _, to := range opts.Tenants {
		if len(to.UserExtensions)+len(to.GroupExtensions) > 0 {
			extensions[to.ID] = scimapi.Extensions{User: to.UserExtensions, Group: to.GroupExtensions}
		}
	}
	b.scim, err = scimapi.New(scimapi.Options{
		Store: st, Auth: scimAuth, Logger: log, Now: now, PublicURL: opts.PublicURL,
		MaxBodyBytes: opts.MaxBodyBytes, MaxResults: opts.MaxResults,
		OnWrite: b.fanout.Kick, Metrics: opts.Metrics,
		MaxConcurrent: opts.MaxConcurrentRequests, Unavailable: storeUnavailable,
		LocationProxies: opts.LocationProxies, CursorKey: opts.CursorKey, SharedCursorKey: st.CursorKey, CursorTimeout: opts.CursorTimeout,
		BulkMaxOperations: opts.BulkMaxOperations, BulkMaxPayloadBytes: opts.BulkMaxPayloadBytes,
		Extensions: extensions,
	})
	if err != nil {
		return nil, fmt.Errorf("bridge: %w", err)
	}
	b.reconciler = reconcile.New(reconcile.Options{
		Store: st, Tenants: set, Logger: log, Now: now, Owner: opts.InstanceID,
		UserSchema: b.scim.UserSchema(), OnMark: b.fanout.Kick, Metrics: opts.Metrics, OnRun: b.audit.ReconcileRun,
	})
	b.webhooks = webhook.New(webhook.Options{
		Store: st, Tenants: set, Logger: log, Now: now, OnMark: b.fanout.Kick, Metrics: opts.Metrics,
	})
	b.admin = admin.New(admin.Options{
		Store: st, Tenants: set, Now: now, Reconciler: b.reconciler,
		Auth: adminAuth, Credentials: scimAuth.Inventory, OnMark: b.fanout.Kick, Recorder: b.audit,
		Audit: st, SessionSecret: sessionSecret(opts), SessionSalt: st.ConsoleSalt, Secure: opts.AdminSecureCookie,
		Explainer:   explain.New(explain.Options{Store: st, Tenants: set, Now: now, UserSchema: b.scim.UserSchema()}),
		Unavailable: storeUnavailable,
	})
	for i := range watched {
		watched[i].ReconcileEvery = b.reconciler.Interval(watched[i].Tenant)
	}
	if err := opts.Metrics.WatchStore(st, watched, now); err != nil {
		return nil, fmt.Errorf("bridge: %w", err)
	}
	throttles := make([]metrics.TenantThrottles, 0, len(opts.Tenants))
	for _, to := range opts.Tenants {
		throttles = append(throttles, metrics.TenantThrottles{Tenant: to.ID, Throttles: to.Throttles})
	}
	if err := opts.Metrics.WatchThrottles(throttles); err != nil {
		return nil, fmt.Errorf("bridge: %w", err)
	}
	// Last: a New that failed would leave the writer running for good (nobody
	// gets a Bridge to Close) and its counter registered.
	if err := b.startAudit(); err != nil {
		return nil, fmt.Errorf("bridge: %w", err)
	}
	b.handler = b.routes()
	return b, nil
}

// DefaultKeysClientTimeout bounds one fetch of JWT signing keys by the
// default Options.HTTPClient.
const DefaultKeysClientTimeout = 10 * time.Second

// newAuthenticators builds the authenticator of the SCIM endpoint (the
// tenant resolved from the credential) and, when admin tokens are set, the
// admin API's; both share one failure limiter.
func newAuthenticators(opts Options) (scim, admin *auth.Authenticator, err error) {
	limiter := opts.Limiter
	if limiter == nil {
		limiter = auth.NewLimiter(auth.LimiterOptions{Now: opts.Now})
	}
	hc := opts.HTTPClient
	if hc == nil {
		hc = &http.Client{
			Timeout: DefaultKeysClientTimeout,
			Transport: &http.Transport{
				Proxy:                 http.ProxyFromEnvironment,
				DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
				TLSHandshakeTimeout:   5 * time.Second,
				ResponseHeaderTimeout: 5 * time.Second,
				MaxIdleConns:          4,
				IdleConnTimeout:       90 * time.Second,
			},
		}
	}
	clientAddr := clientAddrFor(opts)
	ao := auth.Options{ByCredential: true, HTTPClient: hc, Logger: opts.Logger, Now: opts.Now, Limiter: limiter, ClientAddr: clientAddr}
	for _, to := range opts.Tenants {
		c := to.Credentials
		c.Tokens = nil
		for _, tok := range to.SCIMTokens {
			c.Tokens = append(c.Tokens, auth.Token{Value: tok})
		}
		c.Tokens = append(c.Tokens, to.Credentials.Tokens...)
		ao.Tenants = append(ao.Tenants, auth.Tenant{ID: to.ID, Credentials: c})
	}
	if scim, err = auth.New(ao); err != nil {
		return nil, nil, err
	}
	var adminTokens []auth.Token
	if opts.AdminToken != "" {
		adminTokens = append(adminTokens, auth.Token{Value: opts.AdminToken})
	}
	adminTokens = append(adminTokens, opts.AdminTokens...)
	if rt := opts.AdminReadToken; rt.Value != "" {
		rt.Name = readOnlyName
		adminTokens = append(adminTokens, rt)
	}
	if len(adminTokens) > 0 {
		ao.Tenants = nil
		if admin, err = auth.NewAdmin(adminTokens, ao); err != nil {
			return nil, nil, err
		}
	}
	return scim, admin, nil
}

// NewDirectory returns the user directory connectors of tenant use (look-ups by
// email), backed by st.
func NewDirectory(st *store.Store, tenantID string) connectors.Directory {
	return subject.NewDirectory(st, tenantID)
}

// Handler returns the bridge's HTTP handler: SCIM at /scim/v2, health at /healthz
// and /readyz, Prometheus metrics at /metrics, webhooks at
// /webhooks/{tenant}/{connector}, admin at /admin/.
func (b *Bridge) Handler() http.Handler { return b.handler }

// Store returns the bridge's store.
func (b *Bridge) Store() *store.Store { return b.store }

// Metrics returns the bridge's metrics registry.
func (b *Bridge) Metrics() *metrics.Metrics { return b.metrics }

func (b *Bridge) routes() http.Handler {
	mux := http.NewServeMux()
	scim := b.audit.SCIM(b.scim)
	mux.Handle("/scim/", scim)
	mux.Handle("GET /metrics", b.metrics.Handler())
	mux.Handle("POST /webhooks/{tenant}/{connector}", b.audit.Webhooks(b.knownConnector, b.webhooks))
	b.admin.Routes(mux)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.Handle("GET /readyz", newReadiness(b.store, readyTimeout, b.log))
	// A path that decodes to /scim/... but does not match that pattern (an
	// escaped slash: /scim%2F...) still gets a SCIM answer (an error body).
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/scim/") && !strings.HasPrefix(r.URL.EscapedPath(), "/scim/") {
			scim.ServeHTTP(w, r)
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// Run runs the background machinery (sync workers, scheduled reconciliation)
// until ctx is done or Close is called. The HTTP side is served by Serve or by
// mounting Handler.
func (b *Bridge) Run(ctx context.Context) error {
	b.mu.Lock()
	select {
	case <-b.closing:
		b.mu.Unlock()
		return nil
	default:
	}
	b.running.Add(1)
	b.mu.Unlock()
	defer b.running.Done()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-b.closing:
			cancel()
		case <-ctx.Done():
		}
	}()
	// Data written by an earlier version is converted (groups whose members
	// sit inside the document get their members set), and work a crashed
	// process left half done is finished; safe beside serving.
	for _, t := range b.tenants.All() {
		if err := b.store.Recover(ctx, t.ID); err != nil {
			// Groups of the former layout still convert on their next write.
			b.log.Error().Err(err).Str("tenant", t.ID).Msg("recover store at start")
		}
	}
	// Tenant-level subjects (an SSO connection) have no SCIM write to mark them:
	// converge them at start; the recorded hash makes this free when nothing changed.
	for _, t := range b.tenants.All() {
		for _, c := range t.Connectors {
			if c.Handles(connectors.SubjectTenant) {
				key := store.WorkKey{Tenant: t.ID, Kind: store.WorkTenant, ID: t.ID}
				if err := b.store.MarkDirty(ctx, t.ID, key); err != nil {
					// The scheduled reconciliation repairs it; the workers must run anyway.
					b.log.Error().Err(err).Str("tenant", t.ID).Msg("mark tenant subjects at start")
				}
				break
			}
		}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		b.reconciler.Schedule(ctx)
	}()
	b.fanout.Run(ctx, b.opts.Workers)
	<-done
	return nil
}

// Close stops every Run of the bridge and waits for them to return: claimed
// work is released or recorded first, as on cancellation of Run's context. The
// store belongs to the caller and stays open. Close may be called more than
// once; a Run started after Close returns at once.
func (b *Bridge) Close() error {
	b.mu.Lock()
	select {
	case <-b.closing:
	default:
		close(b.closing)
	}
	b.mu.Unlock()
	b.running.Wait()
	b.stopAudit()
	return nil
}
