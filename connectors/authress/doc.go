// Package authress converges a tenant's SSO connection in Authress through the
// ConnectionsApi: the connection exists and its managed fields equal the
// configured spec. Subjects are tenants only (Subject{Kind: SubjectTenant,
// ID: <tenant id>}).
//
// # Routes
//
//   - GET /v1/connections?limit=&cursor= (list, following the cursor to the end)
//   - GET /v1/connections/{connectionId}
//   - POST /v1/connections (201)
//   - PUT /v1/connections/{connectionId} (200)
//   - DELETE /v1/connections/{connectionId} (204; only from Prune)
//
// Every call carries `Authorization: Bearer <token>` (a service client access
// key or a JWT) and `Accept: application/links+json, application/json` (the
// document's media type) and goes through connectors.Client, which classifies errors and
// redacts the token and the client secret from them.
//
// # Convergence
//
// Converge reads before it writes. It looks for the connection by the id pinned
// with connection_id, then by the id recorded after the last convergence, then
// lists every connection for this connector's ownership marker, then for an
// unmarked connection with the same type, authenticationUrl and clientId (a
// connection made by hand for the same client is adopted rather than
// duplicated; like a connection pinned by connection_id, it carries the marker
// after its first update and counts as bridge-made from then on). None found:
// one POST. Found: compare only the fields set in the
// configuration and, if any differs, or the marker is missing, or the secret must
// be written, one PUT. Converging a converged connection makes no write.
//
// # Assumptions beyond the API document
//
// The document lists routes and status codes only. The connection body follows
// the Connection model of the vendor's published clients: type (OAUTH2 | SAML),
// connectionId, authenticationUrl, tokenUrl, issuerUrl, providerCertificate,
// clientId, clientSecret, data {tenantId, developerAccountId, name,
// supportedContentType, oidcUserEndpointUrl, userIdExpression,
// trustIdentityUserId}, defaultConnectionProperties {scope}, createdTime, tags.
// The list answers {"connections": [...], "pagination": {"next": {"cursor"}}};
// a links.next.href carrying a cursor is honoured as well. Further:
//
//   - Ids are assigned by the API; the adapter never sends one on create.
//   - Ownership marker: the tags "scim-bridge/tenant" and "scim-bridge/connector"
//     on every connection the adapter creates or updates. Tags are compared only
//     when an answer carries a tags object.
//   - The clientSecret is treated as write-only: the API may omit it or mask it.
//     Record.State keeps a hash of the secret last applied (and of what the API
//     echoed), so a changed configured secret is written once, and a secret that
//     cannot be verified (no state: a crash before the record, an emptied store,
//     an adopted connection) is written once. A secret is never echoed back, and
//     without a configured secret a PUT omits it (the API keeps the stored one).
//   - PUT replaces the connection: its body is the connection as read (minus
//     connectionId, createdTime, links and clientSecret) overlaid with the
//     managed fields, so fields set by hand and not managed here survive.
//   - The list `filter` is not used: its matching of tags is unspecified, so the
//     marker is checked on every listed connection.
//
// # Reconciliation and pruning
//
// Inventory reports every connection; one with a marker as owned by the marker's
// tenant and Managed. Prune deletes nothing unless `prune: true`; it then
// deletes a connection with a bridge marker other than its own, on the caller's
// word that no configuration owns it (the bridge knows which tenants and
// connectors exist; the adapter knows only itself). Hand-made connections and
// its own connection are never deleted.
package authress
