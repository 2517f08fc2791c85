// Package admin is the bridge's operator API under /admin/ (guarded by the admin
// bearer tokens through package auth): sync status per tenant and connector
// (with the names and validity of the tenant's credentials), re-queueing of
// dead letters, and reconciliation runs on demand. The status command of the CLI and
// the admin console read the same Status.
package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/scim-bridge/scim-bridge/bridge/auth"
	"github.com/scim-bridge/scim-bridge/bridge/explain"
	"github.com/scim-bridge/scim-bridge/bridge/internal/clip"
	"github.com/scim-bridge/scim-bridge/bridge/internal/tenant"
	"github.com/scim-bridge/scim-bridge/bridge/reconcile"
	"github.com/scim-bridge/scim-bridge/connectors"
	"github.com/scim-bridge/scim-bridge/store"
)

// Store is what the admin API reads and writes: the head of the queue, sync counts,
// dead letters and their replay.
type Store interface {
	QueueHead(ctx context.Context, tenant string) (store.QueueHead, error)
	SyncCounts(ctx context.Context, tenant string) (map[string]map[string]int, error)
	ListDead(ctx context.Context, tenant string, limit int) ([]*store.SyncState, error)
	Replay(ctx context.Context, tenant, connector, subject string) error
	ReplayAll(ctx context.Context, tenant, connector string) (int, error)
	ThrottleStates(ctx context.Context, tenant string, connectors []string) (map[string]store.ThrottleState, error)
	// RevokeConsoleSession and ConsoleSessionRevoked end a console session
	// on every replica (logout).
	RevokeConsoleSession(ctx context.Context, nonce string, until time.Time) error
	ConsoleSessionRevoked(ctx context.Context, nonce string) (bool, error)
}

// Recorder records an entry of a tenant's audit trail without waiting
// (audit.Recorder).
type Recorder interface {
	Record(tenant string, e store.AuditEntry)
}

// Reconciler runs one reconciliation under the tenant's lock.
type Reconciler interface {
	ReconcileLocked(ctx context.Context, tenantID string, opts reconcile.RunOptions) (*reconcile.Plan, error)
}

// Options configure an API. Store, Tenants, Now and Reconciler are required.
type Options struct {
	Store      Store
	Tenants    *tenant.Set
	Now        func() time.Time
	Reconciler Reconciler
	// Auth authenticates the admin requests (auth.NewAdmin); nil disables
	// the endpoints (404).
	Auth *auth.Authenticator
	// Credentials lists the SCIM credentials of the tenants for Status
	// (auth.Authenticator.Inventory); nil shows none.
	Credentials func() []auth.CredentialInfo
	// Explainer answers explain requests (required for the API and console).
	Explainer Explainer
	// Audit reads the audit trail (required for the API and console).
	Audit AuditReader
	// SessionSecret signs the console's session cookies; derive it from the
	// admin tokens' configuration so every replica accepts the sessions of
	// the others and rotating the tokens ends them. Empty disables the console.
	SessionSecret []byte
	// SessionSalt returns a random value kept outside the configuration (in
	// the store, shared by the replicas), mixed into the signing key: the
	// configuration alone, whose admin tokens may be digests, must not be
	// enough to sign a session. The console answers 503 while it cannot be
	// read. Nil signs with SessionSecret alone (tests).
	SessionSalt func(context.Context) ([]byte, error)
	// Secure marks the console's session cookie Secure even on plain HTTP
	// requests (behind a TLS-terminating proxy); a TLS request always gets it.
	Secure bool
	// OnMark, when set, is called after dead letters were re-queued.
	OnMark func()
	// Recorder, when set, records the admin actions (dead-letter retries) in
	// the tenant's audit trail, with who asked for them.
	Recorder Recorder
	// Unavailable, when set, classifies a store error as "unavailable for
	// now": the answer is 503 with Retry-After (typically store.Unavailable).
	Unavailable func(error) (retryAfter time.Duration, ok bool)
}

// API serves /admin/ and answers Status and Replay.
type API struct {
	opts    Options
	store   Store
	tenants *tenant.Set
	now     func() time.Time
	console *console
}

// New builds the API.
func New(opts Options) *API {
	a := &API{opts: opts, store: opts.Store, tenants: opts.Tenants, now: opts.Now}
	a.console = newConsole(a)
	return a
}

// ConnectorStatus is the sync health of one connector of a tenant.
type ConnectorStatus struct {
	Name       string          `json:"name"`
	Counts     map[string]int  `json:"counts"` // synced, pending, retrying, dead
	Throttle   *ThrottleStatus `json:"throttle,omitempty"`
	LastErrors []SubjectError  `json:"lastErrors,omitempty"`
}

// ThrottleStatus is the state of a connector's throttle. HeldUntil and
// RateLimited are every replica's (kept in the store); the concurrency limit
// and the pace are those of the process that answers.
type ThrottleStatus struct {
	// HeldUntil: the downstream asked for no request before this time (429 or
	// 503 Retry-After, rate-limit headers); zero when not held now.
	HeldUntil time.Time `json:"heldUntil,omitzero"`
	// RateLimited counts the 429 answers every replica has seen.
	RateLimited int64 `json:"rateLimited"`
	// ConcurrencyLimit is the adaptive limit now, between 1 and MaxConcurrency.
	ConcurrencyLimit int `json:"concurrencyLimit"`
	MaxConcurrency   int `json:"maxConcurrency"`
	// Pace is the pace in requests per second (0: none), Fixed when configured.
	Pace  float64 `json:"pace,omitempty"`
	Fixed bool    `json:"fixed,omitempty"`
	// OldestDueAge is the age of the tenant's oldest due key, which every
	// connector of the tenant waits on ("" when none is due).
	OldestDueAge string `json:"oldestDueAge,omitempty"`
}

// SubjectError is a failing subject, for status output.
type SubjectError struct {
	Subject string    `json:"subject"`
	Status  string    `json:"status"`
	Error   string    `json:"error"`
	At      time.Time `json:"at"`
}

// TenantStatus is the sync health of one tenant.
type TenantStatus struct {
	Tenant        string             `json:"tenant"`
	Pending       int                `json:"pending"`
	Leased        int                `json:"leased"`
	OldestPending string             `json:"oldestPendingAge,omitempty"`
	Connectors    []ConnectorStatus  `json:"connectors"`
	Credentials   []CredentialStatus `json:"credentials,omitempty"`
}

// CredentialStatus is one configured credential of a tenant: its method,
// name and validity window, never its secret.
type CredentialStatus struct {
	Method    string     `json:"method"` // bearer, basic or jwt
	Name      string     `json:"name"`
	NotBefore *time.Time `json:"notBefore,omitempty"`
	Expires   *time.Time `json:"expires,omitempty"`
	// State is "valid", "expired" or "not yet valid" at the time of Status.
	State string `json:"state"`
}

// Status reports per tenant and connector counts of synced, pending, retrying and
// dead subjects, the queue, and the latest dead letters. tenantID "" means all.
func (a *API) Status(ctx context.Context, tenantID string) ([]TenantStatus, error) {
	var out []TenantStatus
	for _, t := range a.tenants.All() {
		if tenantID != "" && t.ID != tenantID {
			continue
		}
		// The head of the queue, not QueueStats: counting the due keys costs
		// a range of the whole queue (a sort of it on the embedded store).
		qs, err := a.store.QueueHead(ctx, t.ID)
		if err != nil {
			return nil, fmt.Errorf("queue of %s: %w", t.ID, err)
		}
		counts, err := a.store.SyncCounts(ctx, t.ID)
		if err != nil {
			return nil, fmt.Errorf("sync counts of %s: %w", t.ID, err)
		}
		dead, err := a.store.ListDead(ctx, t.ID, 100)
		if err != nil {
			return nil, fmt.Errorf("dead letters of %s: %w", t.ID, err)
		}
		ts := TenantStatus{Tenant: t.ID, Pending: qs.Pending, Leased: qs.Leased, Credentials: a.credentials(t.ID)}
		if !qs.OldestDue.IsZero() {
			if age := a.now().Sub(qs.OldestDue); age > 0 {
				ts.OldestPending = age.Truncate(time.Millisecond).String()
			}
		}
		names := make([]string, len(t.Connectors))
		for i, c := range t.Connectors {
			names[i] = c.Name()
		}
		holds, err := a.store.ThrottleStates(ctx, t.ID, names)
		if err != nil {
			return nil, fmt.Errorf("throttles of %s: %w", t.ID, err)
		}
		for _, c := range t.Connectors {
			cs := ConnectorStatus{Name: c.Name(), Counts: map[string]int{}}
			if th := t.Throttles[c.Name()]; th != nil {
				cs.Throttle = a.throttleStatus(th.Status(), holds[c.Name()], ts.OldestPending)
			}
			for _, s := range []string{store.SyncSynced, store.SyncPending, store.SyncRetrying, store.SyncDead} {
				cs.Counts[s] = counts[c.Name()][s]
			}
			for _, d := range dead {
				if d.Connector == c.Name() && len(cs.LastErrors) < 10 {
					cs.LastErrors = append(cs.LastErrors, SubjectError{Subject: d.Subject, Status: d.Status, Error: d.LastError, At: d.UpdatedAt})
				}
			}
			ts.Connectors = append(ts.Connectors, cs)
		}
		out = append(out, ts)
	}
	if tenantID != "" && len(out) == 0 {
		return nil, notFound("unknown tenant %q", tenantID)
	}
	return out, nil
}

// throttleStatus merges what this process and the store know of a throttle.
func (a *API) throttleStatus(local connectors.ThrottleStatus, shared store.ThrottleState, oldest string) *ThrottleStatus {
	ts := &ThrottleStatus{
		RateLimited: shared.RateLimited, ConcurrencyLimit: local.Limit, MaxConcurrency: local.MaxConcurrency,
		Pace: math.Round(local.Rate*10) / 10, Fixed: local.Fixed, OldestDueAge: oldest,
	}
	if shared.Held(a.now()) {
		ts.HeldUntil = shared.HeldUntil
	}
	return ts
}

// credentials returns the credential statuses of one tenant.
func (a *API) credentials(tenantID string) []CredentialStatus {
	if a.opts.Credentials == nil {
		return nil
	}
	now := a.now()
	var out []CredentialStatus
	for _, c := range a.opts.Credentials() {
		if c.Tenant != tenantID {
			continue
		}
		cs := CredentialStatus{Method: string(c.Method), Name: c.Name, State: "valid"}
		if !c.NotBefore.IsZero() {
			nb := c.NotBefore.UTC()
			cs.NotBefore = &nb
			if now.Before(nb) {
				cs.State = "not yet valid"
			}
		}
		if !c.Expires.IsZero() {
			ex := c.Expires.UTC()
			cs.Expires = &ex
			if !now.Before(ex) {
				cs.State = "expired"
			}
		}
		out = append(out, cs)
	}
	return out
}

// Replay re-queues dead subjects of a tenant's connector: one subject, or all of
// them when subject is empty. It returns how many were re-queued, and records
// the retry in the tenant's audit trail with who asked for it: the admin
// credential's name for the API, the console, or the CLI (a call whose
// context carries neither).
func (a *API) Replay(ctx context.Context, tenantID, connector, subject string) (n int, err error) {
	t := a.tenants.Get(tenantID)
	switch {
	case t == nil:
		return 0, notFound("unknown tenant %q", tenantID)
	case t.Connector(connector) == nil:
		return 0, notFound("unknown connector %q", connector)
	}
	if subject != "" {
		if _, err := store.ParseSubject(tenantID, subject); err != nil {
			return 0, &httpError{status: http.StatusBadRequest, msg: fmt.Sprintf("malformed subject %q: want \"<kind>|<id>\", e.g. \"User|2819c223\"", clip.String(subject))}
		}
	}
	if a.opts.OnMark != nil {
		defer a.opts.OnMark()
	}
	start := a.now()
	defer func() { a.recordRetry(ctx, tenantID, connector, subject, n, err, start) }()
	if subject != "" {
		if err := a.store.Replay(ctx, tenantID, connector, subject); err != nil {
			return 0, fmt.Errorf("replay %s: %w", subject, err)
		}
		return 1, nil
	}
	n, err = a.store.ReplayAll(ctx, tenantID, connector)
	if err != nil {
		return n, fmt.Errorf("replay all of %s: %w", connector, err)
	}
	return n, nil
}

// recordRetry records a dead-letter retry as an admin entry of the trail.
func (a *API) recordRetry(ctx context.Context, tenantID, connector, subject string, n int, err error, start time.Time) {
	if a.opts.Recorder == nil {
		return
	}
	e := store.AuditEntry{Time: start, Kind: store.AuditAdmin, Subject: subject, Connector: connector, Trigger: actorOf(ctx),
		Action: "retry dead letters", Outcome: "requeued", Counts: map[string]int{"requeued": n}, DurationMS: a.now().Sub(start).Milliseconds()}
	if subject != "" {
		e.Action = "retry dead letter"
	}
	if err != nil {
		e.Outcome, e.Error = "failed", clip.Error(err)
	}
	a.opts.Recorder.Record(tenantID, e)
}

type actorKey struct{}

// withActor names who acts in ctx (the console's session).
func withActor(ctx context.Context, who string) context.Context {
	return context.WithValue(ctx, actorKey{}, who)
}

// actorOf names who asks for an admin action in ctx: the console, the admin
// API with the name of the credential (never the credential), or else the
// CLI, which calls in-process.
func actorOf(ctx context.Context) string {
	if who, ok := ctx.Value(actorKey{}).(string); ok {
		return who
	}
	if id, ok := auth.FromContext(ctx); ok {
		return "api:" + id.Name
	}
	return "cli"
}

// guard authenticates the admin endpoints with the admin bearer tokens; the
// read-only token is refused (403).
func (a *API) guard(next func(http.ResponseWriter, *http.Request) (any, error)) http.HandlerFunc {
	return a.guardRole(true, next)
}

// guardRole is guard for a route the read-only token may use too (write false).
func (a *API) guardRole(write bool, next func(http.ResponseWriter, *http.Request) (any, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if a.opts.Auth == nil {
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"error":"admin endpoints are disabled (no admin_token configured)"}` + "\n"))
			return
		}
		id, err := a.opts.Auth.Authenticate(r)
		if err != nil {
			writeAuthError(w, err)
			return
		}
		if write && roleOf(id) != roleAdmin {
			w.WriteHeader(http.StatusForbidden)
			_, _ = w.Write([]byte(`{"error":"the read-only token may not change anything"}` + "\n"))
			return
		}
		r = r.WithContext(auth.NewContext(r.Context(), id))
		v, err := next(w, r)
		status := http.StatusOK
		body := v
		if err != nil {
			status = a.errorStatus(w.Header(), err)
			// clip: an error may quote request values (a query, a cursor).
			body = map[string]any{"error": clip.Error(err), "result": v}
		}
		data, _ := json.MarshalIndent(body, "", "  ")
		w.WriteHeader(status)
		_, _ = w.Write(append(data, '\n'))
	}
}

// errorStatus is the status an admin request that failed with err is
// answered with, the API's and the console's alike; for a 503 it sets
// Retry-After in h. What it does not know is a 500.
func (a *API) errorStatus(h http.Header, err error) int {
	var he *httpError
	switch {
	case errors.As(err, &he):
		return he.status
	case errors.Is(err, reconcile.ErrTooManyDeletions), errors.Is(err, store.ErrLocked):
		return http.StatusConflict
	case errors.Is(err, store.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, store.ErrBadAuditQuery), errors.Is(err, explain.ErrEmptyQuery):
		return http.StatusBadRequest
	case connectors.ClassOf(err) == connectors.RateLimited:
		// A dry run needs the downstream, which holds this connector off
		// (429/503 with Retry-After, shared by every replica): the bridge
		// is a gateway here, and the hold says when to come back.
		if d := connectors.RetryAfterOf(err); d > 0 {
			setRetryAfter(h, d)
		}
		return http.StatusServiceUnavailable
	}
	if a.opts.Unavailable != nil {
		if ra, ok := a.opts.Unavailable(err); ok {
			setRetryAfter(h, ra)
			return http.StatusServiceUnavailable
		}
	}
	return http.StatusInternalServerError
}

// setRetryAfter sets Retry-After to d in whole seconds, rounded up (at least 1).
func setRetryAfter(h http.Header, d time.Duration) {
	h.Set("Retry-After", strconv.Itoa(max(int((d+time.Second-1)/time.Second), 1)))
}

// writeAuthError answers a failed authentication: the headers of the
// *auth.Error (WWW-Authenticate, Retry-After) and a SCIM error body (RFC 7644
// §3.12) with its status and detail, plus "error" for the CLI's client.
func writeAuthError(w http.ResponseWriter, err error) {
	status, detail := http.StatusUnauthorized, "authentication required"
	var ae *auth.Error
	if errors.As(err, &ae) {
		ae.SetHeaders(w.Header())
		status, detail = ae.Status, ae.Detail
	}
	w.Header().Set("Content-Type", "application/scim+json")
	data, _ := json.Marshal(map[string]any{
		"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:Error"},
		"status":  strconv.Itoa(status),
		"detail":  detail,
		"error":   detail,
	})
	w.WriteHeader(status)
	_, _ = w.Write(append(data, '\n'))
}

// httpError is an error answered with its own status; err, when set, is
// what it stands for (errors.Is sees through it).
type httpError struct {
	status int
	msg    string
	err    error
}

func (e *httpError) Error() string { return e.msg }
func (e *httpError) Unwrap() error { return e.err }

// notFound is a 404 naming what was not found (the name capped: it comes from
// the request).
func notFound(format, name string) *httpError {
	return &httpError{status: http.StatusNotFound, msg: fmt.Sprintf(format, clip.String(name))}
}

// Routes registers the admin endpoints on mux.
func (a *API) Routes(mux *http.ServeMux) {
	a.apiRoutes(mux)
	a.console.routes(mux)
	mux.HandleFunc("GET /admin/status", a.guardRole(false, func(w http.ResponseWriter, r *http.Request) (any, error) {
		return a.Status(r.Context(), r.URL.Query().Get("tenant"))
	}))
	mux.HandleFunc("POST /admin/reconcile", a.guard(func(w http.ResponseWriter, r *http.Request) (any, error) {
		q := r.URL.Query()
		t := a.tenants.Get(q.Get("tenant"))
		if t == nil {
			return nil, notFound("unknown tenant %q", q.Get("tenant"))
		}
		if name := q.Get("connector"); name != "" && t.Connector(name) == nil {
			return nil, notFound("unknown connector %q", name)
		}
		dry, force, err := reconcileFlags(q)
		if err != nil {
			return nil, err
		}
		return a.opts.Reconciler.ReconcileLocked(r.Context(), q.Get("tenant"), reconcile.RunOptions{Connector: q.Get("connector"), DryRun: dry, Force: force, Trigger: "admin"})
	}))
	mux.HandleFunc("POST /admin/retry", a.guard(func(w http.ResponseWriter, r *http.Request) (any, error) {
		q := r.URL.Query()
		n, err := a.Replay(r.Context(), q.Get("tenant"), q.Get("connector"), q.Get("subject"))
		return map[string]int{"requeued": n}, err
	}))
}
