// Package scimapi is the SCIM 2.0 service provider (RFC 7643/7644) of the bridge:
// authentication through package auth (the tenant is the credential's; see
// authn.go), the Users and Groups endpoints (create, get, list and .search,
// PUT, PATCH, DELETE, ETags, projection, sorting), queries from the root
// across both (RFC 7644 §3.4.3), /Bulk (§3.7), index and cursor pagination
// (RFC 9865), group member resolution, per-tenant schema extensions, the
// discovery endpoints and SCIM error bodies. Endpoint names are matched
// ignoring case; responses use the canonical ones.
//
// A new SCIM endpoint is a case in Server.routeResource (or in serveSCIM for one
// served without authentication) plus its route template in route.go, so the
// request metrics name it. The server depends only on the Store interface below;
// every accepted write calls Options.OnWrite so the fan-out wakes at once.
package scimapi

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/scim-bridge/scim-bridge/bridge/auth"
	"github.com/scim-bridge/scim-bridge/bridge/internal/clip"
	"github.com/scim-bridge/scim-bridge/bridge/internal/httpstatus"
	"github.com/scim-bridge/scim-bridge/filter"
	"github.com/scim-bridge/scim-bridge/store"
)

// Store is what the SCIM server reads and writes: resources with their indexes
// and dirty marks (one atomic write each), and group memberships.
type Store interface {
	Create(ctx context.Context, tenant string, r *store.Resource) error
	Replace(ctx context.Context, tenant string, r *store.Resource, ifVersion int64) error
	ReplaceUser(ctx context.Context, tenant string, r *store.Resource, ifVersion int64) ([]store.GroupRef, error)
	// A PATCH of a user reads it from the store's cache when it can and
	// writes conditionally on exactly that state (store/usercache.go).
	GetUserForUpdate(ctx context.Context, tenant, id string) (*store.Resource, bool, error)
	ReplaceUserFrom(ctx context.Context, tenant string, r *store.Resource, base *store.Resource) ([]store.GroupRef, error)
	Delete(ctx context.Context, tenant string, kind store.Kind, id string, ifVersion int64) error
	Get(ctx context.Context, tenant string, kind store.Kind, id string) (*store.Resource, error)
	GetUserWithGroups(ctx context.Context, tenant, id string) (*store.Resource, []store.GroupRef, error)
	GroupsOf(ctx context.Context, tenant string, userIDs []string) (map[string][]store.GroupRef, error)
	Query(ctx context.Context, tenant string, kind store.Kind, q store.Query) (store.Page, error)
	QueryAfter(ctx context.Context, tenant string, kind store.Kind, f *filter.Filter, after int64, count int) (store.KeysetPage, error)
	// Groups without reading their members (group_patch.go, group_read.go).
	GetGroup(ctx context.Context, tenant, id string) (*store.Resource, int, error)
	ForEachMember(ctx context.Context, tenant, groupID string, batch int, fn func([]store.Member) error) error
	PatchGroup(ctx context.Context, tenant, groupID string, p store.GroupPatch, ifVersion int64) (int64, error)
	ResolveMembers(ctx context.Context, tenant string, ms []store.Member) ([]store.Member, error)
}

// Metrics is told the outcome of every SCIM request. route is the route
// template ("/Users/{id}"), never the raw path.
type Metrics interface {
	SCIMRequest(method, route string, code int, d time.Duration)
}

// Options configure a Server. Store, Auth and Now are required.
type Options struct {
	Store Store
	// Auth authenticates every request but discovery without credentials and
	// resolves its tenant from the credential (made with
	// auth.Options.ByCredential).
	Auth   *auth.Authenticator
	Logger zerolog.Logger
	Now    func() time.Time
	// PublicURL is the external base URL (".../scim/v2") for meta.location and
	// $ref; empty derives it from each request's Host.
	PublicURL string
	// LocationProxies are the peers whose X-Forwarded-Proto and X-Forwarded-Host
	// name the scheme and host of meta.location when PublicURL is empty; from
	// anyone else those headers are ignored.
	LocationProxies []netip.Prefix
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
	// CursorKey signs pagination cursors (RFC 9865) with HMAC-SHA256. Replicas
	// behind one load balancer need the same key; empty means the key
	// SharedCursorKey returns (read once, on the first cursor), else a random
	// key per process (cursors then die with it).
	CursorKey []byte
	// SharedCursorKey returns the deployment's shared cursor key (typically
	// store.Store.CursorKey); nil for none.
	SharedCursorKey func(ctx context.Context) ([]byte, error)
	// CursorTimeout is how long a cursor stays valid; 0 means DefaultCursorTimeout.
	CursorTimeout time.Duration
	// BulkMaxOperations and BulkMaxPayloadBytes bound a /Bulk request (RFC 7644
	// §3.7.4); 0 means DefaultBulkMaxOperations and DefaultBulkMaxPayloadBytes.
	BulkMaxOperations   int
	BulkMaxPayloadBytes int64
	// Extensions maps a tenant id to the schema extensions it declared (RFC
	// 7643 §3.3); a tenant without an entry has the enterprise User extension only.
	Extensions map[string]Extensions
}

// Server serves /scim/v2.
type Server struct {
	opts    Options
	store   Store
	log     zerolog.Logger
	now     func() time.Time
	types   *resourceTypes            // every tenant's, and the unauthenticated discovery's
	tenants map[string]*resourceTypes // tenants with their own extensions
	// cursorKey signs cursors: Options.CursorKey, else the shared one read
	// once (Options.SharedCursorKey), else a random one of this process.
	cursorKey atomic.Pointer[cursorKey]
	inflight  inflight
}

// New builds the server. It fails when a tenant's extensions collide with
// each other or with the built-in schemas.
func New(opts Options) (*Server, error) {
	types, err := newResourceTypes(Extensions{})
	if err != nil {
		return nil, fmt.Errorf("scim server: %w", err)
	}
	srv := &Server{opts: opts, store: opts.Store, log: opts.Logger, now: opts.Now, types: types,
		tenants: map[string]*resourceTypes{}}
	for tenant, ext := range opts.Extensions {
		if len(ext.User)+len(ext.Group) == 0 {
			continue
		}
		if srv.tenants[tenant], err = newResourceTypes(ext); err != nil {
			return nil, fmt.Errorf("scim server: tenant %s: %w", tenant, err)
		}
	}
	switch {
	case len(opts.CursorKey) > 0:
		srv.cursorKey.Store(&cursorKey{key: opts.CursorKey})
	case opts.SharedCursorKey == nil:
		k := make([]byte, 32)
		_, _ = rand.Read(k) // crypto/rand.Read never fails (Go 1.24+)
		srv.cursorKey.Store(&cursorKey{key: k})
	}
	if srv.opts.BulkMaxOperations <= 0 {
		srv.opts.BulkMaxOperations = DefaultBulkMaxOperations
	}
	if srv.opts.BulkMaxPayloadBytes <= 0 {
		srv.opts.BulkMaxPayloadBytes = DefaultBulkMaxPayloadBytes
	}
	return srv, nil
}

// typesFor returns the resource types of tenant.
func (srv *Server) typesFor(tenant string) *resourceTypes {
	if t, ok := srv.tenants[tenant]; ok {
		return t
	}
	return srv.types
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
	rec := &httpstatus.Recorder{ResponseWriter: w}
	srv.serveSCIM(rec, r)
	if rec.Code == 0 {
		rec.Code = http.StatusOK
	}
	srv.opts.Metrics.SCIMRequest(r.Method, routeOf(r.URL.Path), rec.Code, time.Since(start))
}

// serveSCIM is the SCIM 2.0 endpoint under /scim/v2 (RFC 7644 §3).
func (srv *Server) serveSCIM(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", contentTypeSCIM)
	path, ok := strings.CutPrefix(r.URL.Path, "/scim/v2")
	if !ok || (path != "" && path[0] != '/') {
		writeError(w, &HTTPError{Status: http.StatusNotFound, Detail: "the SCIM endpoint is /scim/v2"})
		return
	}
	path = canonicalPath(strings.TrimSuffix(path, "/"))
	// A query string that does not parse (an unencoded ';', a bad '%'
	// escape) is refused: read leniently, its filter, paging or projection
	// would be silently dropped and a lookup answered with the whole tenant.
	if _, err := url.ParseQuery(r.URL.RawQuery); err != nil {
		writeError(w, errBadRequest("invalidSyntax", "malformed query string (%s): percent-encode reserved characters such as ';' and '%%'", err))
		return
	}

	// Discovery endpoints describe the server, not a tenant's data: they are served
	// without authentication (RFC 7644 §4 lets service providers do so). A
	// request that carries a credential has it checked as everywhere else (401
	// when refused, counted by the limiter; 429 while blocked) and, when valid,
	// sees its tenant's own extensions (discoveryTenant says why).
	switch path {
	case "/ServiceProviderConfig":
		if !allowMethods(w, r, http.MethodGet) {
			return
		}
		if _, ok := srv.discoveryTenant(w, r); ok {
			srv.serveServiceProviderConfig(w, r)
		}
		return
	}
	if path == "/Schemas" || path == "/ResourceTypes" || strings.HasPrefix(path, "/Schemas/") || strings.HasPrefix(path, "/ResourceTypes/") {
		if !allowMethods(w, r, http.MethodGet) {
			return
		}
		if tenant, ok := srv.discoveryTenant(w, r); ok {
			srv.serveDiscovery(w, r, path, srv.typesFor(tenant))
		}
		return
	}

	id, ok := srv.authenticate(w, r)
	if !ok {
		return
	}
	r = r.WithContext(auth.NewContext(r.Context(), id))
	tenant := id.Tenant
	if isWrite(r.Method) {
		rec := &httpstatus.Recorder{ResponseWriter: w}
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
	noteIdentity(r.Context(), tenant)
	types := srv.typesFor(tenant)
	switch path {
	case "":
		// A query across every resource type (RFC 7644 §3.4.3).
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			return methodNotAllowed(w, "GET, HEAD")
		}
		return srv.list(w, r, tenant, types.all())
	case "/.search":
		if r.Method != http.MethodPost {
			return methodNotAllowed(w, "POST")
		}
		return srv.search(w, r, tenant, types.all())
	case "/Me":
		return &HTTPError{Status: http.StatusNotImplemented, Detail: "/Me is not supported"}
	case "/Bulk":
		if r.Method != http.MethodPost {
			return methodNotAllowed(w, "POST")
		}
		return srv.bulk(w, r, tenant)
	}
	rest := path[1:]
	endpoint, id, hasID := strings.Cut(rest, "/")
	rt := types.byEndpoint(endpoint)
	if rt == nil {
		return &HTTPError{Status: http.StatusNotFound, Detail: "unknown endpoint " + strings.TrimPrefix(path, "/")}
	}
	if !hasID {
		switch r.Method {
		case http.MethodGet, http.MethodHead:
			return srv.list(w, r, tenant, []*resourceType{rt})
		case http.MethodPost:
			return srv.create(w, r, tenant, rt)
		}
		return methodNotAllowed(w, "GET, HEAD, POST")
	}
	if id == ".search" {
		if r.Method != http.MethodPost {
			return methodNotAllowed(w, "POST")
		}
		return srv.search(w, r, tenant, []*resourceType{rt})
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

// readBody reads at most MaxBodyBytes of the request body; a larger body is a 413.
func (srv *Server) readBody(r *http.Request) ([]byte, error) {
	return srv.readLimited(r, srv.opts.MaxBodyBytes, func() *HTTPError { return errTooLarge(srv.opts.MaxBodyBytes) })
}

// readLimited reads at most limit bytes of the request body; a larger body is tooLarge().
func (srv *Server) readLimited(r *http.Request, limit int64, tooLarge func() *HTTPError) ([]byte, error) {
	if r.ContentLength > limit {
		return nil, tooLarge()
	}
	data, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, tooLarge()
		}
		return nil, errBadRequest("invalidSyntax", "could not read the request body")
	}
	if int64(len(data)) > limit {
		return nil, tooLarge()
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
