package scimapi

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/scim-bridge/scim-bridge/bridge/audit"
	"github.com/scim-bridge/scim-bridge/bridge/auth"
	"github.com/scim-bridge/scim-bridge/bridge/internal/httpstatus"
)

// authenticate authenticates r through Options.Auth. On failure it writes
// the challenge headers (WWW-Authenticate, or Retry-After with 429) and a
// SCIM error body with the status and detail of the *auth.Error, and returns
// false; the error itself, which names no secret, goes to the debug log (the
// authenticator logs what an operator must act on: expired credentials,
// blocked addresses).
func (srv *Server) authenticate(w http.ResponseWriter, r *http.Request) (auth.Identity, bool) {
	id, err := srv.opts.Auth.Authenticate(r)
	if err == nil {
		return id, true
	}
	he := &HTTPError{Status: http.StatusUnauthorized, Detail: "authentication required", Err: err}
	var ae *auth.Error
	if errors.As(err, &ae) {
		ae.SetHeaders(w.Header())
		he.Status, he.Detail = ae.Status, ae.Detail
	}
	srv.log.Debug().Err(err).Str("method", r.Method).Str("route", routeOf(r.URL.Path)).Msg("scim request not authenticated")
	writeError(w, he)
	return auth.Identity{}, false
}

// isWrite reports whether method changes resources (the requests the access
// log records).
func isWrite(method string) bool {
	switch method {
	case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
		return true
	}
	return false
}

// logWrite is the access log line of one SCIM write: who (tenant, and the
// name of the credential, never the credential), what (method, route
// template, status) and how long. It also tells the audit trail the status
// (which reads the identity from the request context, auth.FromContext).
func (srv *Server) logWrite(r *http.Request, id auth.Identity, rec *httpstatus.Recorder, start time.Time) {
	code := rec.Code
	if code == 0 {
		code = http.StatusOK
	}
	audit.NoteStatus(r.Context(), code)
	srv.log.Info().Str("tenant", id.Tenant).Str("auth", string(id.Method)).Str("credential", id.Name).
		Str("method", r.Method).Str("route", routeOf(r.URL.Path)).Int("status", code).
		Dur("duration", time.Since(start)).Msg("scim write")
}

// authSchemes lists the authentication schemes of ServiceProviderConfig (RFC
// 7643 §5): bearer tokens (configured tokens and Entra-issued JWTs) always,
// HTTP Basic when a tenant accepts it.
func (srv *Server) authSchemes() []any {
	out := []any{map[string]any{
		"type":        "oauthbearertoken",
		"name":        "OAuth Bearer Token",
		"description": "Authentication with a per-tenant bearer token or an Entra-issued JWT (RFC 6750).",
		"specUri":     "https://www.rfc-editor.org/rfc/rfc6750",
		"primary":     true,
	}}
	for _, c := range srv.opts.Auth.Inventory() {
		if c.Method == auth.MethodBasic {
			return append(out, map[string]any{
				"type":        "httpbasic",
				"name":        "HTTP Basic",
				"description": "Authentication with a per-tenant username and password (RFC 7617).",
				"specUri":     "https://www.rfc-editor.org/rfc/rfc7617",
			})
		}
	}
	return out
}

// discoveryTenant authenticates a discovery request (/ServiceProviderConfig,
// /Schemas, /ResourceTypes) and returns the tenant whose schemas it sees: ""
// (the generic schemas) for a request without credentials, which is served
// without counting anything; the credential's tenant (with its own schema
// extensions) for a valid one. A request that presents a credential has it
// checked exactly as on every other endpoint: a refused one gets the same
// 401, counted by the failure limiter, and an address the limiter blocks gets
// 429 (and ok false; the answer is written). Answering a bad credential with
// the generic schemas instead would make discovery an oracle outside the
// limiter: its answer differs for a valid token (a tenant's extensions), so a
// blocked address could go on testing guessed tokens there.
func (srv *Server) discoveryTenant(w http.ResponseWriter, r *http.Request) (tenant string, ok bool) {
	if !presentsCredentials(r) {
		return "", true
	}
	id, ok := srv.authenticate(w, r)
	return id.Tenant, ok
}

// presentsCredentials reports whether r carries an Authorization field that
// is not blank.
func presentsCredentials(r *http.Request) bool {
	for _, v := range r.Header.Values("Authorization") {
		if strings.TrimSpace(v) != "" {
			return true
		}
	}
	return false
}
