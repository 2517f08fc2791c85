package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/scim-bridge/scim-bridge/bridge/auth"
	"github.com/scim-bridge/scim-bridge/bridge/explain"
	"github.com/scim-bridge/scim-bridge/bridge/internal/fakeconn"
	"github.com/scim-bridge/scim-bridge/bridge/internal/tenant"
	"github.com/scim-bridge/scim-bridge/bridge/reconcile"
	"github.com/scim-bridge/scim-bridge/connectors"
	"github.com/scim-bridge/scim-bridge/store"
)

const adminToken = "admin-token-0123456789abcdef"

// heldReconciler fails every run as a dry run does while a connector is held
// by its downstream: the throttle refuses the call without sending it.
type heldReconciler struct{ retryAfter time.Duration }

func (h heldReconciler) ReconcileLocked(context.Context, string, reconcile.RunOptions) (*reconcile.Plan, error) {
	return nil, fmt.Errorf("reconcile app: %w", &connectors.Error{Class: connectors.RateLimited, Op: "throttle", RetryAfter: h.retryAfter,
		Msg: "connector held until " + time.Now().Add(h.retryAfter).UTC().Format(time.RFC3339Nano)})
}

// newTestAPI serves the admin API of tenant acme (one connector, app).
func newTestAPI(t *testing.T, rc Reconciler) *httptest.Server {
	t.Helper()
	set, err := tenant.NewSet([]*tenant.Tenant{{ID: "acme", Connectors: []connectors.Connector{&fakeconn.Connector{ConnName: "app"}}}})
	if err != nil {
		t.Fatal(err)
	}
	authn, err := auth.NewAdmin([]auth.Token{{Value: adminToken}}, auth.Options{})
	if err != nil {
		t.Fatal(err)
	}
	a := New(Options{Tenants: set, Now: time.Now, Reconciler: rc, Auth: authn})
	mux := http.NewServeMux()
	a.Routes(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// TestAdminReconcileWhileHeld: a dry run refused because a connector is held
// by its downstream (429/503 with Retry-After) is a 503 with the hold's
// Retry-After, not a 500.
func TestAdminReconcileWhileHeld(t *testing.T) {
	t.Parallel()
	srv := newTestAPI(t, heldReconciler{retryAfter: 90*time.Second + 300*time.Millisecond})
	for _, path := range []string{"/admin/api/reconcile?tenant=acme&dry_run=true", "/admin/reconcile?tenant=acme&dry_run=true"} {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+adminToken)
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var body struct {
			Error string `json:"error"`
		}
		derr := json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") != "91" {
			t.Errorf("%s: %d Retry-After %q, want 503 Retry-After 91", path, resp.StatusCode, resp.Header.Get("Retry-After"))
		}
		if derr != nil || !strings.Contains(body.Error, "held until") {
			t.Errorf("%s: body %+v (%v), want the hold named", path, body, derr)
		}
	}
}

// TestAdminErrorStatus: what the admin API and the console answer a failure
// with.
func TestAdminErrorStatus(t *testing.T) {
	t.Parallel()
	unavailable := errors.New("redis: connection refused")
	a := New(Options{Unavailable: func(err error) (time.Duration, bool) { return 2 * time.Second, errors.Is(err, unavailable) }})
	for _, c := range []struct {
		name       string
		err        error
		status     int
		retryAfter string
	}{
		{"own status", &httpError{status: http.StatusTeapot, msg: "x"}, http.StatusTeapot, ""},
		{"too many deletions", fmt.Errorf("x: %w", reconcile.ErrTooManyDeletions), http.StatusConflict, ""},
		{"locked", fmt.Errorf("x: %w", store.ErrLocked), http.StatusConflict, ""},
		{"not found", fmt.Errorf("x: %w", store.ErrNotFound), http.StatusNotFound, ""},
		{"bad audit query", fmt.Errorf("list audit: %w: before \"x\"", store.ErrBadAuditQuery), http.StatusBadRequest, ""},
		{"empty explain query", fmt.Errorf("explain: %w", explain.ErrEmptyQuery), http.StatusBadRequest, ""},
		{"held", fmt.Errorf("reconcile app: %w", &connectors.Error{Class: connectors.RateLimited, Op: "throttle", RetryAfter: 1500 * time.Millisecond}), http.StatusServiceUnavailable, "2"},
		{"429 without Retry-After", &connectors.Error{Class: connectors.RateLimited, Op: "GET /users", Status: 429}, http.StatusServiceUnavailable, ""},
		{"permanent downstream", &connectors.Error{Class: connectors.Permanent, Op: "GET /users", Status: 400}, http.StatusInternalServerError, ""},
		{"store unavailable", fmt.Errorf("status: %w", unavailable), http.StatusServiceUnavailable, "2"},
		{"other", errors.New("boom"), http.StatusInternalServerError, ""},
	} {
		h := http.Header{}
		if got := a.errorStatus(h, c.err); got != c.status || h.Get("Retry-After") != c.retryAfter {
			t.Errorf("%s: %d Retry-After %q, want %d %q", c.name, got, h.Get("Retry-After"), c.status, c.retryAfter)
		}
	}
}
