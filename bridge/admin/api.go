package admin

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/scim-bridge/scim-bridge/bridge/auth"
	"github.com/scim-bridge/scim-bridge/bridge/explain"
	"github.com/scim-bridge/scim-bridge/bridge/internal/clip"
	"github.com/scim-bridge/scim-bridge/bridge/reconcile"
	"github.com/scim-bridge/scim-bridge/store"
)

// Explainer explains one subject (see package explain).
type Explainer interface {
	Explain(ctx context.Context, tenantID, q string) (*explain.Report, error)
}

// AuditReader reads a tenant's audit trail.
type AuditReader interface {
	ListAudit(ctx context.Context, tenant string, q store.AuditQuery) ([]store.AuditEntry, string, error)
}

// role is what a presented token may do.
type role int

const (
	roleNone role = iota
	roleReader
	roleAdmin
)

// ReadOnlyName is the credential name of the read-only admin token: an
// admin identity of that name may read everything and change nothing.
const ReadOnlyName = "read-only"

// roleOf is what an authenticated admin identity may do.
func roleOf(id auth.Identity) role {
	if id.Name == ReadOnlyName {
		return roleReader
	}
	return roleAdmin
}

// AuditPage is one page of the audit trail.
type AuditPage struct {
	Entries []store.AuditEntry `json:"entries"`
	// Next is the cursor of the next (older) page; empty when there is none.
	Next string `json:"next,omitempty"`
}

// DeadLetter is one dead subject of a connector.
type DeadLetter struct {
	Connector string    `json:"connector"`
	Subject   string    `json:"subject"`
	Error     string    `json:"error"`
	Attempts  int       `json:"attempts"`
	At        time.Time `json:"at"`
}

// auditQuery reads the audit filters of a request's query string.
func auditQuery(r *http.Request) (store.AuditQuery, error) {
	q := r.URL.Query()
	aq := store.AuditQuery{Subject: q.Get("subject"), Connector: q.Get("connector"), Outcome: q.Get("outcome"),
		Kind: q.Get("kind"), Before: q.Get("before")}
	for _, f := range []struct {
		name string
		dst  *time.Time
	}{{"since", &aq.Since}, {"until", &aq.Until}} {
		v := q.Get(f.name)
		if v == "" {
			continue
		}
		t, err := parseTime(v)
		if err != nil {
			return aq, &httpError{status: http.StatusBadRequest, msg: f.name + ": want RFC 3339 time (2026-12-03T10:00:00Z) or 2026-12-03T10:00"}
		}
		// Stream ids, and so the trail, begin at the Unix epoch (and the
		// zero time would read as no bound at all).
		if t.Before(time.UnixMilli(0)) {
			return aq, &httpError{status: http.StatusBadRequest, msg: f.name + ": before 1970-01-01T00:00:00Z, where the trail begins"}
		}
		*f.dst = t
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return aq, &httpError{status: http.StatusBadRequest, msg: "limit: want 1 to 1000"}
		}
		aq.Limit = n
	}
	return aq, nil
}

func parseTime(v string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339, "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t, nil
		}
	}
	return time.Time{}, errors.New("bad time")
}

// Audit returns one page of a tenant's audit trail.
func (a *API) Audit(ctx context.Context, tenantID string, q store.AuditQuery) (*AuditPage, error) {
	if a.tenants.Get(tenantID) == nil {
		return nil, &httpError{status: http.StatusNotFound, msg: "unknown tenant"}
	}
	es, next, err := a.opts.Audit.ListAudit(ctx, tenantID, q)
	if err != nil {
		return nil, err
	}
	if es == nil {
		es = []store.AuditEntry{}
	}
	return &AuditPage{Entries: es, Next: next}, nil
}

// DeadLetters lists up to limit dead subjects of a tenant.
func (a *API) DeadLetters(ctx context.Context, tenantID string, limit int) ([]DeadLetter, error) {
	if a.tenants.Get(tenantID) == nil {
		return nil, &httpError{status: http.StatusNotFound, msg: "unknown tenant"}
	}
	dead, err := a.store.ListDead(ctx, tenantID, limit)
	if err != nil {
		return nil, err
	}
	out := make([]DeadLetter, 0, len(dead))
	for _, d := range dead {
		out = append(out, DeadLetter{Connector: d.Connector, Subject: d.Subject, Error: d.LastError, Attempts: d.Attempts, At: d.UpdatedAt})
	}
	return out, nil
}

// Explain explains one subject of a tenant.
func (a *API) Explain(ctx context.Context, tenantID, q string) (*explain.Report, error) {
	if a.tenants.Get(tenantID) == nil {
		return nil, &httpError{status: http.StatusNotFound, msg: "unknown tenant"}
	}
	rep, err := a.opts.Explainer.Explain(ctx, tenantID, q)
	if errors.Is(err, explain.ErrNotFound) {
		return nil, &httpError{status: http.StatusNotFound, msg: err.Error(), err: err}
	}
	return rep, err
}

// apiRoutes registers the JSON API under /admin/api/.
func (a *API) apiRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /admin/api/status", a.guardRole(false, func(w http.ResponseWriter, r *http.Request) (any, error) {
		return a.Status(r.Context(), r.URL.Query().Get("tenant"))
	}))
	mux.HandleFunc("GET /admin/api/explain", a.guardRole(false, func(w http.ResponseWriter, r *http.Request) (any, error) {
		q := r.URL.Query()
		return a.Explain(r.Context(), q.Get("tenant"), q.Get("q"))
	}))
	mux.HandleFunc("GET /admin/api/audit", a.guardRole(false, func(w http.ResponseWriter, r *http.Request) (any, error) {
		aq, err := auditQuery(r)
		if err != nil {
			return nil, err
		}
		return a.Audit(r.Context(), r.URL.Query().Get("tenant"), aq)
	}))
	mux.HandleFunc("GET /admin/api/dead", a.guardRole(false, func(w http.ResponseWriter, r *http.Request) (any, error) {
		return a.DeadLetters(r.Context(), r.URL.Query().Get("tenant"), 1000)
	}))
	mux.HandleFunc("POST /admin/api/retry", a.guardRole(true, func(w http.ResponseWriter, r *http.Request) (any, error) {
		q := r.URL.Query()
		n, err := a.Replay(r.Context(), q.Get("tenant"), q.Get("connector"), q.Get("subject"))
		return map[string]int{"requeued": n}, err
	}))
	mux.HandleFunc("POST /admin/api/reconcile", a.guardRole(false, func(w http.ResponseWriter, r *http.Request) (any, error) {
		q := r.URL.Query()
		dry, force, err := reconcileFlags(q)
		if err != nil {
			return nil, err
		}
		if id, _ := auth.FromContext(r.Context()); !dry && roleOf(id) != roleAdmin {
			return nil, &httpError{status: http.StatusForbidden, msg: "the read-only token may only run dry runs"}
		}
		return a.reconcile(r.Context(), q.Get("tenant"), q.Get("connector"), dry, force, "admin")
	}))
}

// reconcileFlags reads a reconcile request's dry_run and force (boolParam).
func reconcileFlags(q url.Values) (dry, force bool, err error) {
	if dry, err = boolParam(q, "dry_run"); err != nil {
		return false, false, err
	}
	force, err = boolParam(q, "force")
	return dry, force, err
}

// boolParam reads a boolean query parameter: absent is false; a value that
// is not a boolean (dry_run=yes, a bare ?dry_run) is a 400, never taken as
// false (an apply).
func boolParam(q url.Values, name string) (bool, error) {
	if !q.Has(name) {
		return false, nil
	}
	v := q.Get(name)
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, &httpError{status: http.StatusBadRequest, msg: fmt.Sprintf("%s=%q: want true or false", name, clip.String(v))}
	}
	return b, nil
}

// reconcile runs one reconciliation for the API or the console.
func (a *API) reconcile(ctx context.Context, tenantID, connector string, dry, force bool, trigger string) (*reconcile.Plan, error) {
	if a.tenants.Get(tenantID) == nil {
		return nil, &httpError{status: http.StatusNotFound, msg: "unknown tenant"}
	}
	return a.opts.Reconciler.ReconcileLocked(ctx, tenantID, reconcile.RunOptions{Connector: connector, DryRun: dry, Force: force, Trigger: trigger})
}
