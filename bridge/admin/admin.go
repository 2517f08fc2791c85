package bridge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/scim-bridge/scim-bridge/store"
)

// ConnectorStatus is the sync health of one connector of a tenant.
type ConnectorStatus struct {
	Name       string         `json:"name"`
	Counts     map[string]int `json:"counts"` // synced, pending, retrying, dead
	LastErrors []SubjectError `json:"lastErrors,omitempty"`
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
	Tenant        string            `json:"tenant"`
	Pending       int               `json:"pending"`
	Leased        int               `json:"leased"`
	OldestPending string            `json:"oldestPendingAge,omitempty"`
	Connectors    []ConnectorStatus `json:"connectors"`
}

// Status reports per tenant and connector counts of synced, pending, retrying and
// dead subjects, the queue, and the latest dead letters. tenantID "" means all.
func (b *Bridge) Status(ctx context.Context, tenantID string) ([]TenantStatus, error) {
	var out []TenantStatus
	for _, t := range b.order {
		if tenantID != "" && t.id != tenantID {
			continue
		}
		qs, err := b.store.QueueStats(ctx, t.id)
		if err != nil {
			return nil, fmt.Errorf("queue stats of %s: %w", t.id, err)
		}
		counts, err := b.store.SyncCounts(ctx, t.id)
		if err != nil {
			return nil, fmt.Errorf("sync counts of %s: %w", t.id, err)
		}
		dead, err := b.store.ListDead(ctx, t.id, 100)
		if err != nil {
			return nil, fmt.Errorf("dead letters of %s: %w", t.id, err)
		}
		ts := TenantStatus{Tenant: t.id, Pending: qs.Pending, Leased: qs.Leased}
		if !qs.OldestDue.IsZero() {
			if age := b.now().Sub(qs.OldestDue); age > 0 {
				ts.OldestPending = age.Truncate(time.Millisecond).String()
			}
		}
		for _, c := range t.connectors {
			cs := ConnectorStatus{Name: c.Name(), Counts: map[string]int{}}
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
		return nil, fmt.Errorf("unknown tenant %q", tenantID)
	}
	return out, nil
}

// Replay re-queues dead subjects of a tenant's connector: one subject, or all of
// them when subject is empty. It returns how many were re-queued.
func (b *Bridge) Replay(ctx context.Context, tenantID, connector, subject string) (int, error) {
	t := b.tenants[tenantID]
	if t == nil || t.byName[connector] == nil {
		return 0, fmt.Errorf("unknown tenant %q or connector %q", tenantID, connector)
	}
	defer b.written()
	if subject != "" {
		if err := b.store.Replay(ctx, tenantID, connector, subject); err != nil {
			return 0, fmt.Errorf("replay %s: %w", subject, err)
		}
		return 1, nil
	}
	n, err := b.store.ReplayAll(ctx, tenantID, connector)
	if err != nil {
		return n, fmt.Errorf("replay all of %s: %w", connector, err)
	}
	return n, nil
}

// serveAdmin guards the admin endpoints with the admin bearer token.
func (b *Bridge) serveAdmin(next func(http.ResponseWriter, *http.Request) (any, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if b.admin == nil {
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"error":"admin endpoints are disabled (no admin_token configured)"}` + "\n"))
			return
		}
		if b.admin.resolve(bearer(r)) == nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="scim-bridge-admin"`)
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"error":"missing or invalid admin token"}` + "\n"))
			return
		}
		v, err := next(w, r)
		status := http.StatusOK
		body := v
		if err != nil {
			status = http.StatusInternalServerError
			var he *HTTPError
			switch {
			case errors.As(err, &he):
				status = he.Status
			case errors.Is(err, ErrTooManyDeletions):
				status = http.StatusConflict
			case errors.Is(err, store.ErrLocked):
				status = http.StatusConflict
			}
			body = map[string]any{"error": err.Error(), "result": v}
		}
		data, _ := json.MarshalIndent(body, "", "  ")
		w.WriteHeader(status)
		_, _ = w.Write(append(data, '\n'))
	}
}

func (b *Bridge) adminRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /admin/status", b.serveAdmin(func(w http.ResponseWriter, r *http.Request) (any, error) {
		return b.Status(r.Context(), r.URL.Query().Get("tenant"))
	}))
	mux.HandleFunc("POST /admin/reconcile", b.serveAdmin(func(w http.ResponseWriter, r *http.Request) (any, error) {
		q := r.URL.Query()
		if b.tenants[q.Get("tenant")] == nil {
			return nil, &HTTPError{Status: http.StatusNotFound, Detail: "unknown tenant"}
		}
		dry, _ := strconv.ParseBool(q.Get("dry_run"))
		force, _ := strconv.ParseBool(q.Get("force"))
		return b.ReconcileLocked(r.Context(), q.Get("tenant"), ReconcileOptions{Connector: q.Get("connector"), DryRun: dry, Force: force})
	}))
	mux.HandleFunc("POST /admin/retry", b.serveAdmin(func(w http.ResponseWriter, r *http.Request) (any, error) {
		q := r.URL.Query()
		n, err := b.Replay(r.Context(), q.Get("tenant"), q.Get("connector"), q.Get("subject"))
		return map[string]int{"requeued": n}, err
	}))
}
