package bridge

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
)

type tenantKey struct{}

// tenantFrom returns the tenant the request authenticated as.
func tenantFrom(ctx context.Context) *tenant {
	t, _ := ctx.Value(tenantKey{}).(*tenant)
	return t
}

// serveSCIM is the SCIM 2.0 endpoint under /scim/v2 (RFC 7644 §3).
func (b *Bridge) serveSCIM(w http.ResponseWriter, r *http.Request) {
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
		b.serveServiceProviderConfig(w, r)
		return
	case "/Schemas", "/ResourceTypes":
		if !allowMethods(w, r, http.MethodGet) {
			return
		}
		b.serveDiscovery(w, r, path)
		return
	}
	if strings.HasPrefix(path, "/Schemas/") || strings.HasPrefix(path, "/ResourceTypes/") {
		if !allowMethods(w, r, http.MethodGet) {
			return
		}
		b.serveDiscovery(w, r, path)
		return
	}

	t := b.tokens.resolve(bearer(r))
	if t == nil {
		w.Header().Set("WWW-Authenticate", `Bearer realm="scim-bridge"`)
		writeError(w, &HTTPError{Status: http.StatusUnauthorized, Detail: "missing or invalid bearer token"})
		return
	}
	ctx := context.WithValue(r.Context(), tenantKey{}, t)
	r = r.WithContext(ctx)

	err := b.routeResource(w, r, t, path)
	if err != nil {
		he := asHTTPError(err)
		if he.Status >= 500 {
			b.log.Error().Err(err).Str("tenant", t.id).Str("method", r.Method).Str("path", r.URL.Path).Msg("scim request failed")
		}
		writeError(w, he)
	}
}

func (b *Bridge) routeResource(w http.ResponseWriter, r *http.Request, t *tenant, path string) error {
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
	rt := b.types.byEndpoint(endpoint)
	if rt == nil {
		return &HTTPError{Status: http.StatusNotFound, Detail: "unknown endpoint " + strings.TrimPrefix(path, "/")}
	}
	if !hasID {
		switch r.Method {
		case http.MethodGet, http.MethodHead:
			return b.list(w, r, t, rt)
		case http.MethodPost:
			return b.create(w, r, t, rt)
		}
		return methodNotAllowed(w, "GET, HEAD, POST")
	}
	if id == ".search" {
		if r.Method != http.MethodPost {
			return methodNotAllowed(w, "POST")
		}
		return b.search(w, r, t, rt)
	}
	id, err := url.PathUnescape(id)
	if err != nil || id == "" || strings.Contains(id, "/") {
		return &HTTPError{Status: http.StatusNotFound, Detail: "invalid resource id"}
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		return b.get(w, r, t, rt, id)
	case http.MethodPut:
		return b.replace(w, r, t, rt, id)
	case http.MethodPatch:
		return b.patch(w, r, t, rt, id)
	case http.MethodDelete:
		return b.delete(w, r, t, rt, id)
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
func (b *Bridge) readBody(r *http.Request) ([]byte, error) {
	limit := b.opts.MaxBodyBytes
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
