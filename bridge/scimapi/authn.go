package scimapi

import (
	"errors"
	"net/http"
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

// discoveryTenant is the tenant whose credential a discovery request carries
// ("" without one, or when it does not authenticate): discovery is served to
// anyone, and a tenant's own schema extensions only to that tenant.
func (srv *Server) discoveryTenant(r *http.Request) string {
	if r.Header.Get("Authorization") == "" {
		return ""
	}
	id, err := srv.opts.Auth.Authenticate(r)
	if err != nil {
		return ""
	}
	return id.Tenant
}
