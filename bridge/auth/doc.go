// Package auth authenticates the clients of the bridge: the SCIM requests of
// Okta, Microsoft Entra ID and other IdPs, and the admin endpoints.
//
// # Methods
//
// A tenant accepts any mix of:
//
//   - Bearer tokens (RFC 6750), each plaintext or "sha256:<hex>" (the SHA-256
//     digest of the token, so the configuration holds nothing a client could
//     present; NewToken makes a token and its digest line), with an optional
//     name (what logs, status and audit show instead of the token; without
//     one, its position: "scim_tokens[0]", never a part of its digest, which
//     would let a reader of the logs test guessed tokens offline) and an
//     optional validity window (not_before, expires). Two tokens valid at once
//     is how a token is rotated.
//   - HTTP Basic (RFC 7617): username and password (digest or plaintext), as
//     Okta's "Basic Auth" option sends; several entries rotate the same way.
//   - Entra-issued JWTs: when the Secret Token field of an Entra enterprise
//     app is left blank, Entra's provisioning service sends a JWT it issued
//     and signed itself. No shared secret exists at all.
//
// The admin endpoints use bearer tokens with the same treatment (NewAdmin).
//
// # Configuration
//
// Credentials carries YAML tags meant to sit inline in a tenant's entry; a
// plain string in scim_tokens is still a token, so existing files keep
// working:
//
//	tenants:
//	  - id: acme
//	    scim_tokens:
//	      - "${ACME_SCIM_TOKEN}"                # plaintext, as before
//	      - name: okta-2027                     # shown in logs and audit
//	        token: sha256:9f86d081884c7d65...   # 64 hex digits; from NewToken
//	        not_before: 2026-12-01T00:00:00Z
//	        expires: 2027-12-01T00:00:00Z
//	    basic_auth:                             # Okta "Basic Auth"
//	      - username: okta
//	        password: sha256:5e884898da280471...
//	    entra:                                  # Entra, Secret Token left blank
//	      tenant_id: 11111111-2222-3333-4444-555555555555
//	      audiences: [8adf8e6e-67b2-4cf2-a259-e3dc5476c621]  # the default
//	      jwks_url: https://login.microsoftonline.com/common/discovery/keys  # the default
//
// Validation (Credentials.Validate, ValidateTokens, ValidateTenants) returns
// *FieldError values naming the key relative to what was validated; the
// configuration loader adds its path and the file line.
//
// # What an Entra JWT must carry
//
// Microsoft's provisioning documentation ("Tutorial: Develop and plan
// provisioning for a SCIM endpoint", section on handling endpoint
// authentication) says the token's issuer is "https://sts.windows.net/" +
// the Entra tenant id + "/", and its audience the application template id of
// the app: 8adf8e6e-67b2-4cf2-a259-e3dc5476c621 for every custom
// (non-gallery) app, a per-app id for gallery apps. It also warns that every
// app of one Entra tenant receives the same issuer, so issuer and audience
// identify "a provisioning job of that Entra tenant", not one app; a bridge
// tenant per Entra tenant is therefore the unit. The signing keys are those
// of Microsoft's v1 endpoint, published at EntraDefaultJWKSURL. Some
// versions of that page call the Entra-issued token fit for testing only; a
// long random secret token is the production path there; both work side by
// side here.
//
// This package relies on exactly: header alg = RS256 (pinned: "none", HS*,
// ES* and everything else fail before a key is looked at) and kid (the
// signing key in the key set); claims iss (equal to the configured issuer),
// aud (one of the configured audiences), exp (required), nbf and iat (when
// present), all with a clock skew of ClockSkew. It reads appid (v1), azp (v2)
// or sub only to label the client ("jwt:<appid>") in logs and audit.
//
// # JOSE library
//
// github.com/go-jose/go-jose/v4, pinned in go.mod. It is the JOSE
// implementation of Kubernetes, Dex and many OIDC libraries, actively
// maintained, and its v4 API makes the allowed algorithms a required argument
// of jwt.ParseSigned, which closes the alg-confusion class of bugs by
// construction; it also parses JWK sets (RFC 7517) including x5c checks, so
// no RSA modulus decoding is written by hand. golang-jwt/jwt/v5 would need a
// separate JWKS library.
//
// # Keys
//
// Keys are fetched with the injected HTTP client (redirects refused), cached
// for KeysTTL, and fetched again when a token names an unknown kid (Entra
// rotates keys). All concurrent callers share one fetch per URL
// (singleflight), and a URL is fetched at most once per KeysMinRefresh, so
// tokens with made-up kids cannot turn the bridge into a request amplifier.
// Only a token with an unknown kid waits for a fetch: past KeysTTL a known
// kid is still served from the cache while the set is fetched again in the
// background, so a slow or hanging key server never stalls the requests of
// clients whose keys are known. When a fetch fails, the keys already known
// stay in use.
//
// # Failures
//
// Every failure is an *Error: status 401 with WWW-Authenticate challenges
// (error="invalid_token" on the Bearer challenge for a presented but refused
// bearer token or JWT, RFC 6750 §3.1, and only then: a refused Basic
// credential gets the plain challenges, RFC 7617 having no error parameter;
// a Basic challenge when the scope accepts Basic), or 429 with
// Retry-After when the source address made too many failed attempts
// (Limiter). Error.Detail is the client-facing text (a SCIM error body's
// detail); Error() adds the cause for the log. Neither holds a secret. A
// known credential that is expired or not yet valid is logged (tenant and
// credential name, once a minute per credential); other failures are not
// logged one by one.
//
// # Wiring
//
// Build one Authenticator from the configuration's tenants and one with
// NewAdmin for the admin token(s); share one Limiter between them. In the
// HTTP layer:
//
//	id, err := a.Authenticate(r)               // tenant from the credential (/scim/v2/...)
//	id, err := a.AuthenticateTenant(r, tenant) // tenant from the URL (/scim/v2/{tenant}/... or a tenant's own host)
//	var ae *auth.Error
//	if errors.As(err, &ae) {
//		ae.SetHeaders(w.Header())
//		// write the SCIM error body with ae.Status and ae.Detail; log err
//	}
//
// Authenticate needs Options.ByCredential, which makes New refuse
// configurations where one credential could name two tenants.
package auth
