// Package scimapi is the SCIM 2.0 service provider (RFC 7643/7644) of the bridge:
// authentication through package auth (the tenant is the credential's; see
// authn.go), the Users and Groups endpoints (create, get,
// list and .search, PUT, PATCH, DELETE, ETags, projection, sorting), group
// member resolution, the discovery endpoints and SCIM error bodies.
//
// A new SCIM endpoint is a case in Server.routeResource (or in serveSCIM for one
// served without authentication) plus its route template in route.go, so the
// request metrics name it. The server depends only on the Store interface below;
// every accepted write calls Options.OnWrite so the fan-out wakes at once.
package scimapi

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/scim-bridge/scim-bridge/bridge/auth"
	"github.com/scim-bridge/scim-bridge/bridge/internal/clip"
	"github.com/scim-bridge/scim-bridge/filter"
	"github.com/scim-bridge/scim-bridge/store"
)

// Store is what the SCIM server reads and writes: resources with their indexes
// and dirty marks (one atomic write each), and group memberships.
type Store interface {
	Create(ctx context.Context, tenant string, r *store.Resource) error
	Replace(ctx context.Context, tenant string, r *store.Resource, ifVersion int64) error
	Delete(ctx context.Context, tenant string, kind store.Kind, id string, ifVersion int64) error
	Get(ctx context.Context, tenant string, kind store.Kind, id string) (*store.Resource, error)
	GetMany(ctx context.Context, tenant string, kind store.Kind, ids []string) ([]*store.Resource, error)
	GetUserWithGroups(ctx context.Context, tenant, id string) (*store.Resource, []store.GroupRef, error)
	GroupsOf(ctx context.Context, tenant string, userIDs []string) (map[string][]store.GroupRef, error)
	Query(ctx context.Context, tenant string, kind store.Kind, q store.Query) (store.Page, error)
}

// Metrics is told the outcome of every SCIM request. route is the route
// template ("/Users/{id}"), never the raw path.
type Metrics interface {
	SCIMRequest(method, route string, code int, d time.Duration)
}

// Options configure a Server. Store, Auth and Now are required.
type Options struct {
	Store Store
	// Auth authenticates every request but discovery and resolves its tenant
	// from the credential (made with auth.Options.ByCredential).
	Auth   *auth.Authenticator
	Logger zerolog.Logger
	Now    func() time.Time
	// PublicURL is the external base URL (".../scim/v2") for meta.location and
	// $ref; empty derives it from each request's Host.
	PublicURL string
	// MaxBodyBytes limits request bodies (413 above it).
	MaxBodyBytes int64
	// MaxResults caps a list page (ServiceProviderConfig filter.maxResults).
	MaxResults int
	// OnWrite, when set, is called after every accepted write (its dirty mark is
	// already stored).
	OnWrite func()
	// Metrics, when set, is told about every request.
	Metrics Metrics
	// MaxConcurrent caps the SCIM requests of one tenant served at once; one
	// more is answered 429 with Retry-After. 0 means DefaultMaxConcurrent.
	MaxConcurrent int
	// Unavailable, when set, classifies a store error as "unavailable for
	// now" (Redis down or loading): the answer is 503 with Retry-After instead
	// of 500 (typically store.Unavailable).
	Unavailable func(error) (retryAfter time.Duration, ok bool)
}

// Server serves /scim/v2.
type Server struct {
	opts      Options
	store     Store
	log       zerolog.Logger
	now       func() time.Time
	types     *resourceTypes
	discovery discovery
	inflight  inflight
}

// New builds the server.
func New(opts Options) *Server {
	return &Server{opts: opts, store: opts.Store, log: opts.Logger, now: opts.Now, types: newResourceTypes()}
}

// UserSchema is the schema of the User resource type (core plus enterprise
// extension), for filters built outside the endpoint.
func (srv *Server) UserSchema() *filter.ResourceSchema { return srv.types.user.rs }

func (srv *Server) written() {
	if srv.opts.OnWrite != nil {
		srv.opts.OnWrite()
	}
}

// ServeHTTP serves the SCIM endpoint and reports each request to Metrics.
func (srv *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if srv.opts.Metrics == nil {
		srv.serveSCIM(w, r)
		return
	}
	start := time.Now()
	rec := &statusRecorder{ResponseWriter: w}
	srv.serveSCIM(rec, r)
	if rec.code == 0 {
		rec.code = http.StatusOK
	}
	srv.opts.Metrics.SCIMRequest(r.Method, routeOf(r.URL.Path), rec.code, time.Since(start))
}

// serveSCIM is the SCIM 2.0 endpoint under /scim/v2 (RFC 7644 §3).
func (srv *Server) serveSCIM(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", contentTypeSCIM)
	path, ok := strings.CutPrefix(r.URL.Path, "/scim/v2")
	if !ok || (path != "" && path[0] != '/') {
		writeError(w, &HTTPError{Status: http.StatusNotFound, Detail: "the SCIM endpoint is /scim/v2"})
		return
	}
	path = strings.TrimSuffix(path, "/")

	// Discovery endpoints describe the server, not a tenant's data: they are served
	// without authentication (RFC 7644 §4 lets service providers do so).
	switch path {
	case "/ServiceProviderConfig":
		if !allowMethods(w, r, http.MethodGet) {
			return
		}
		srv.serveServiceProviderConfig(w, r)
		return
	case "/Schemas", "/ResourceTypes":
		if !allowMethods(w, r, http.MethodGet) {
			return
		}
		srv.serveDiscovery(w, r, path)
		return
	}
	if strings.HasPrefix(path, "/Schemas/") || strings.HasPrefix(path, "/ResourceTypes/") {
		if !allowMethods(w, r, http.MethodGet) {
			return
		}
		srv.serveDiscovery(w, r, path)
		return
	}

	id, ok := srv.authenticate(w, r)
	if !ok {
		return
	}
	r = r.WithContext(auth.NewContext(r.Context(), id))
	tenant := id.Tenant
	if isWrite(r.Method) {
		rec := &statusRecorder{ResponseWriter: w}
		defer srv.logWrite(r, id, rec, time.Now())
		w = rec
	}
	release, err := srv.admit(w, tenant)
	if err == nil {
		defer release()
		err = srv.routeResource(w, r, tenant, path)
	}
	if err != nil {
		he := srv.unavailable(asHTTPError(err))
		if he.Status >= 500 {
			srv.log.Error().Str("error", clip.Error(err)).Str("tenant", tenant).Str("method", clip.String(r.Method)).
				Str("path", clip.String(r.URL.Path)).Msg("scim request failed")
		}
		writeError(w, he)
	}
}

func (srv *Server) routeResource(w http.ResponseWriter, r *http.Request, tenant, path string) error {
	switch path {
	case "", "/.search":
		return &HTTPError{Status: http.StatusNotImplemented, Detail: "queries across resource types are not supported; query /Users or /Groups"}
	case "/Me":
		return &HTTPError{Status: http.StatusNotImplemented, Detail: "/Me is not supported"}
	case "/Bulk":
		return &HTTPError{Status: http.StatusNotImplemented, Detail: "bulk operations are not supported (see /ServiceProviderConfig)"}
	}
	rest := path[1:]
	endpoint, id, hasID := strings.Cut(rest, "/")
	rt := srv.types.byEndpoint(endpoint)
	if rt == nil {
		return &HTTPError{Status: http.StatusNotFound, Detail: "unknown endpoint " + strings.TrimPrefix(path, "/")}
	}
	if !hasID {
		switch r.Method {
		case http.MethodGet, http.MethodHead:
			return srv.list(w, r, tenant, rt)
		case http.MethodPost:
			return srv.create(w, r, tenant, rt)
		}
		return methodNotAllowed(w, "GET, HEAD, POST")
	}
	if id == ".search" {
		if r.Method != http.MethodPost {
			return methodNotAllowed(w, "POST")
		}
		return srv.search(w, r, tenant, rt)
	}
	// r.URL.Path is already percent-decoded, once (RFC 3986 §2.4): decoding
	// again would make /Users/%2564 name the user "d…".
	if id == "" || strings.Contains(id, "/") {
		return &HTTPError{Status: http.StatusNotFound, Detail: "invalid resource id"}
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		return srv.get(w, r, tenant, rt, id)
	case http.MethodPut:
		return srv.replace(w, r, tenant, rt, id)
	case http.MethodPatch:
		return srv.patch(w, r, tenant, rt, id)
	case http.MethodDelete:
		return srv.delete(w, r, tenant, rt, id)
	}
	return methodNotAllowed(w, "GET, HEAD, PUT, PATCH, DELETE")
}

func methodNotAllowed(w http.ResponseWriter, allow string) error {
	w.Header().Set("Allow", allow)
	return &HTTPError{Status: http.StatusMethodNotAllowed, Detail: "method not allowed; allowed: " + allow}
}

func allowMethods(w http.ResponseWriter, r *http.Request, m string) bool {
	if r.Method == m || (m == http.MethodGet && r.Method == http.MethodHead) {
		return true
	}
	writeError(w, asHTTPError(methodNotAllowed(w, m)))
	return false
}

// readBody reads at most limit bytes of the request body; a larger body is a 413.
func (srv *Server) readBody(r *http.Request) ([]byte, error) {
	limit := srv.opts.MaxBodyBytes
	if r.ContentLength > limit {
		return nil, errTooLarge(limit)
	}
	data, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, errTooLarge(limit)
		}
		return nil, errBadRequest("invalidSyntax", "could not read the request body")
	}
	if int64(len(data)) > limit {
		return nil, errTooLarge(limit)
	}
	if err := checkEncoding(r, data); err != nil {
		return nil, err
	}
	return data, nil
}

func errTooLarge(limit int64) *HTTPError {
	return &HTTPError{Status: http.StatusRequestEntityTooLarge, Detail: "request body larger than " + byteSize(limit)}
}

func byteSize(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return itoa(n>>20) + " MiB"
	case n >= 1<<10 && n%(1<<10) == 0:
		return itoa(n>>10) + " KiB"
	}
	return itoa(n) + " bytes"
}
