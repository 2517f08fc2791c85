package config

import (
	"net/netip"
	"strings"
	"time"

	"github.com/scim-bridge/scim-bridge/bridge/auth"
	"github.com/scim-bridge/scim-bridge/connectors"
)

// Defaults of the configuration keys (a key that is absent, empty or 0 takes its default).
const (
	DefaultListen       = "127.0.0.1:8080"
	DefaultMaxBodyBytes = 1 << 20 // 1 MiB
	DefaultMaxResults   = 1000
	DefaultWorkers      = 32
	// DefaultAuditMaxLen is the default audit.max_len.
	DefaultAuditMaxLen       = 100_000
	DefaultLogLevel          = "info"
	DefaultLogFormat         = "json"
	DefaultDeletionThreshold = 500
	DefaultCursorTimeout     = Duration(time.Hour)
	DefaultBulkMaxOperations = 1000
	// DefaultBulkMaxPayloadBytes is 4 MiB: 1,000 typical user creates fit.
	DefaultBulkMaxPayloadBytes = 4 << 20
	DefaultSettle              = Duration(time.Second)
	DefaultSettleMax           = Duration(10 * time.Second)
	DefaultAuthMaxFailures     = auth.DefaultMaxFailures
	DefaultAuthWindow          = Duration(auth.DefaultFailWindow)
	// DefaultMaxConcurrentRequests is max_concurrent_requests' default.
	DefaultMaxConcurrentRequests = 64
)

// MinTokenLength is the shortest plaintext bearer token accepted (SCIM tokens
// and admin tokens); a sha256: digest stands for a token of any length.
const MinTokenLength = auth.MinTokenLength

// Config is the whole bridge configuration (the YAML file of `serve --config`).
//
// Precedence: environment over file over defaults. Every top-level key that
// holds a single value, and every key of a top-level mapping such as log, may
// come from the variable SCIM_BRIDGE_<KEY> (SCIM_BRIDGE_LISTEN,
// SCIM_BRIDGE_REDIS, SCIM_BRIDGE_PUBLIC_URL, SCIM_BRIDGE_MAX_BODY_BYTES,
// SCIM_BRIDGE_MAX_RESULTS, SCIM_BRIDGE_WORKERS, SCIM_BRIDGE_CURSOR_SECRET,
// SCIM_BRIDGE_CURSOR_TIMEOUT, SCIM_BRIDGE_BULK_MAX_OPERATIONS,
// SCIM_BRIDGE_BULK_MAX_PAYLOAD_BYTES, SCIM_BRIDGE_SETTLE, SCIM_BRIDGE_SETTLE_MAX,
// SCIM_BRIDGE_MAX_CONCURRENT_REQUESTS, SCIM_BRIDGE_ADMIN_TOKEN,
// SCIM_BRIDGE_AUTH_LIMIT_MAX_FAILURES, SCIM_BRIDGE_AUTH_LIMIT_WINDOW,
// SCIM_BRIDGE_ADMIN_READ_TOKEN, SCIM_BRIDGE_AUDIT_MAX_LEN, SCIM_BRIDGE_AUDIT_MAX_AGE,
// SCIM_BRIDGE_AUDIT_REDACT_PERSONAL,
// SCIM_BRIDGE_LOG_LEVEL, SCIM_BRIDGE_LOG_FORMAT); an unset or empty variable
// overrides nothing. Tenants and their connectors come from the file only.
//
// Inside the file, `${VAR}` in a value is replaced by the environment variable
// VAR after parsing (quote such values); an unset or empty VAR is an error. `$$`
// is a literal `$`; a `$` followed by anything else is kept. A value made of
// references is typed after expansion, so "${WORKERS}" fills an integer key,
// while string keys always receive the text verbatim.
type Config struct {
	// Listen is the host:port of the HTTP server (SCIM at /scim/v2, webhooks at
	// /webhooks/{tenant}/{connector}). Default DefaultListen.
	Listen string `yaml:"listen"`
	// Redis is a redis://, rediss:// or unix:// URL; empty means the embedded
	// in-memory store (state lost on exit).
	Redis string `yaml:"redis"`
	// PublicURL is the external base URL of the SCIM endpoint as IdPs reach it
	// (e.g. https://scim.example.com/scim/v2), used for meta.location (RFC 7643
	// §3.1); empty means derived from each request. Stored without a trailing slash.
	PublicURL string `yaml:"public_url"`
	// MaxBodyBytes caps the size of a request body. Default DefaultMaxBodyBytes.
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
	// MaxResults caps the page size of list responses (RFC 7644 §3.4.2.4).
	// Default DefaultMaxResults.
	MaxResults int `yaml:"max_results"`
	// Workers is the number of concurrent sync workers. Default DefaultWorkers.
	Workers int `yaml:"workers"`
	// MaxConcurrentRequests caps the SCIM requests of one tenant served at
	// once; beyond it the answer is 429 with Retry-After, so one tenant cannot
	// starve another. Default DefaultMaxConcurrentRequests.
	MaxConcurrentRequests int `yaml:"max_concurrent_requests"`
	// LocationProxies are the IP addresses or CIDR prefixes of reverse
	// proxies whose X-Forwarded-Proto and X-Forwarded-Host headers name the
	// scheme and host of meta.location when public_url is empty. Empty: those
	// headers are ignored. (auth_limit.trusted_proxies is another matter:
	// which proxies' X-Forwarded-For to believe.)
	LocationProxies []string `yaml:"location_proxies"`
	// CursorSecret signs the cursors of cursor pagination (RFC 9865) with
	// HMAC-SHA256; replicas behind one address need the same secret, at
	// least MinTokenLength characters. Empty: a random key created once and
	// shared through the store (store.Store.CursorKey).
	CursorSecret string `yaml:"cursor_secret" config:"secret"`
	// CursorTimeout is how long a pagination cursor stays valid (advertised
	// as pagination.cursorTimeout). Default DefaultCursorTimeout.
	CursorTimeout Duration `yaml:"cursor_timeout"`
	// BulkMaxOperations caps the operations of one /Bulk request (RFC 7644
	// §3.7.4). Default DefaultBulkMaxOperations.
	BulkMaxOperations int `yaml:"bulk_max_operations"`
	// BulkMaxPayloadBytes caps the body of one /Bulk request. Default
	// DefaultBulkMaxPayloadBytes.
	BulkMaxPayloadBytes int64 `yaml:"bulk_max_payload_bytes"`
	// Settle is the quiet period of a changed user: its downstream convergence
	// waits until no change came for this long (each change re-arms it), so a
	// burst of PATCHes costs one downstream write. The SCIM write itself is
	// acknowledged at once. Default DefaultSettle; a tenant may override it.
	Settle Duration `yaml:"settle"`
	// SettleMax bounds settling: a user that keeps changing converges at the
	// latest this long after its first change not yet converged. At least
	// Settle. Default DefaultSettleMax; a tenant may override it.
	SettleMax Duration `yaml:"settle_max"`
	// AdminToken is the bearer token of the admin endpoints: a plain string
	// (the token) or a mapping {name, token, not_before, expires}, the token
	// plaintext or sha256:<hex> (see auth.Token). With AdminTokens empty too,
	// the admin endpoints are disabled.
	AdminToken auth.Token `yaml:"admin_token"`
	// AdminTokens are further admin tokens, in the same forms: two valid at
	// once is how the admin token is rotated.
	AdminTokens []auth.Token `yaml:"admin_tokens"`
	// AuthLimit bounds failed authentication attempts per source address
	// (SCIM endpoint and admin API together).
	AuthLimit AuthLimit `yaml:"auth_limit"`
	// AdminReadToken is an optional read-only admin token, in the same forms
	// as AdminToken: it can read the admin API and console (status, explain,
	// audit, dead letters, dry runs) but not retry dead letters or apply a
	// reconciliation. Its name is always "read-only".
	AdminReadToken auth.Token `yaml:"admin_read_token"`
	// Audit bounds the audit trail of every tenant.
	Audit Audit `yaml:"audit"`
	// Log configures the process logger.
	Log Log `yaml:"log"`
	// Tenants are the tenants served, in file order.
	Tenants []Tenant `yaml:"tenants"`
}

// Audit configures the per-tenant audit trail (a Redis Stream per tenant).
type Audit struct {
	// MaxLen caps each tenant's trail, approximately (oldest entries go first);
	// 0 means DefaultAuditMaxLen.
	MaxLen int64 `yaml:"max_len"`
	// MaxAge drops entries older than this (Go duration, e.g. 720h); 0 keeps
	// them until MaxLen.
	MaxAge Duration `yaml:"max_age"`
	// RedactPersonal leaves user names, display names and e-mail addresses out
	// of the trail. Default false.
	RedactPersonal bool `yaml:"redact_personal"`
}

// AuthLimit configures the failed-authentication limiter: an address that
// fails MaxFailures times within Window is answered 429 with Retry-After
// until the window ends; other addresses are never affected.
type AuthLimit struct {
	// MaxFailures per address and window. Default DefaultAuthMaxFailures.
	MaxFailures int `yaml:"max_failures"`
	// Window is the counting window. Default DefaultAuthWindow.
	Window Duration `yaml:"window"`
	// Exempt are IP addresses or CIDR prefixes never limited, such as an
	// IdP's egress ranges that many of its customers share.
	Exempt []string `yaml:"exempt"`
	// TrustedProxies are the addresses or CIDR prefixes of the reverse
	// proxies (load balancer, ingress controller) in front of the bridge: a
	// request from one of them counts against the address its
	// X-Forwarded-For names, not against the proxy. Empty: none trusted.
	TrustedProxies []string `yaml:"trusted_proxies"`
}

// ExemptPrefixes returns Exempt as prefixes.
func (a AuthLimit) ExemptPrefixes() []netip.Prefix { return prefixes(a.Exempt) }

// ProxyPrefixes returns TrustedProxies as prefixes.
func (a AuthLimit) ProxyPrefixes() []netip.Prefix { return prefixes(a.TrustedProxies) }

// prefixes parses addresses and CIDR prefixes (an address is a /32 or
// /128); entries that do not parse are skipped (validation reports them).
func prefixes(list []string) []netip.Prefix {
	var out []netip.Prefix
	for _, s := range list {
		if p, ok := parsePrefix(s); ok {
			out = append(out, p)
		}
	}
	return out
}

// parsePrefix parses a CIDR prefix or a single address.
func parsePrefix(s string) (netip.Prefix, bool) {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Masked(), true
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return netip.PrefixFrom(a, a.BitLen()), true
	}
	return netip.Prefix{}, false
}

// Log configures the process logger.
type Log struct {
	// Level is trace, debug, info, warn, error, fatal, panic or disabled
	// (stored lower-case). Default DefaultLogLevel.
	Level string `yaml:"level"`
	// Format is json or console (stored lower-case). Default DefaultLogFormat.
	Format string `yaml:"format"`
}

// Tenant is one tenant: an IdP's view of the bridge and the downstream systems
// it converges.
type Tenant struct {
	// ID names the tenant in URLs, Redis hash tags and logs; it matches
	// ^[A-Za-z0-9._-]{1,64}$, is neither "." nor "..", and is unique ignoring case.
	ID string `yaml:"id"`
	// Credentials are how this tenant's IdP authenticates (at least one
	// method): scim_tokens (bearer tokens, each a plain string as in older
	// files or a mapping {name, token, not_before, expires}, the token
	// plaintext of at least MinTokenLength characters or sha256:<hex>, each
	// owned by exactly one tenant), basic_auth (HTTP Basic users: username,
	// password digest, name, not_before, expires) and entra (Entra-issued
	// JWTs: tenant_id, audiences, jwks_url). See package auth.
	auth.Credentials `yaml:",inline"`
	// ReconcileEvery is the period of full reconcile runs; 0 disables them.
	ReconcileEvery Duration `yaml:"reconcile_every"`
	// DeletionThreshold is the number of downstream deletions one reconcile run
	// may make before it stops and asks for confirmation. Default DefaultDeletionThreshold.
	DeletionThreshold int `yaml:"deletion_threshold"`
	// Settle and SettleMax override the top-level keys of the same name for
	// this tenant; absent or 0 means the top-level value.
	Settle    Duration `yaml:"settle"`
	SettleMax Duration `yaml:"settle_max"`
	// Connectors are the downstream systems of the tenant, in file order.
	Connectors []Connector `yaml:"connectors"`
	// SchemaExtensions are the tenant's custom schema extensions (see
	// SchemaExtension), served to its IdP in /Schemas and /ResourceTypes.
	SchemaExtensions []SchemaExtension `yaml:"schema_extensions"`
	// Line is the line of the tenant's entry in the file (for messages).
	Line int `yaml:"-"`
}

// Connector is one connector entry of a tenant. Load decodes it in two steps:
// name and type first, then the whole entry into the connectors.Config value
// the registry makes for that type, which then validates itself.
type Connector struct {
	// Name is unique within the tenant (ignoring case) and follows the tenant id rules.
	Name string `yaml:"name"`
	// Type selects the adapter (a key of the registry handed to Load).
	Type string `yaml:"type"`
	// Config is the adapter's decoded and validated configuration.
	Config connectors.Config `yaml:"-"`
	// Line is the line of the connector's entry in the file (for messages).
	Line int `yaml:"-"`
}

// AdminCredentials returns the admin tokens: admin_token (when set and not
// also in admin_tokens, as when SCIM_BRIDGE_ADMIN_TOKEN holds the plaintext
// of a digest in the file) followed by admin_tokens. Empty means the admin
// endpoints are disabled.
func (c *Config) AdminCredentials() []auth.Token {
	var out []auth.Token
	if t := c.AdminToken; (t.Value != "" || t.Name != "" || !t.NotBefore.IsZero() || !t.Expires.IsZero()) && !c.adminTokenListed() {
		out = append(out, c.AdminToken)
	}
	return append(out, c.AdminTokens...)
}

// adminTokenListed reports whether admin_token is also one of admin_tokens.
func (c *Config) adminTokenListed() bool {
	d := tokenDigest(c.AdminToken.Value)
	for _, t := range c.AdminTokens {
		if d != "" && tokenDigest(t.Value) == d {
			return true
		}
	}
	return false
}

// AuthTenants returns the tenants' credentials as package auth takes them.
func (c *Config) AuthTenants() []auth.Tenant {
	out := make([]auth.Tenant, len(c.Tenants))
	for i, t := range c.Tenants {
		out[i] = auth.Tenant{ID: t.ID, Credentials: t.Credentials}
	}
	return out
}

// Default returns the configuration used when there is no file: every default
// and no tenants.
func Default() *Config {
	c := &Config{}
	c.applyDefaults()
	return c
}

// applyDefaults fills the keys left absent, empty or 0 with their defaults and
// normalises the values stored in a canonical form.
func (c *Config) applyDefaults() {
	defaultTo(&c.Listen, DefaultListen)
	defaultTo(&c.MaxBodyBytes, DefaultMaxBodyBytes)
	defaultTo(&c.MaxResults, DefaultMaxResults)
	defaultTo(&c.Workers, DefaultWorkers)
	defaultTo(&c.MaxConcurrentRequests, DefaultMaxConcurrentRequests)
	defaultTo(&c.CursorTimeout, DefaultCursorTimeout)
	defaultTo(&c.BulkMaxOperations, DefaultBulkMaxOperations)
	defaultTo(&c.BulkMaxPayloadBytes, DefaultBulkMaxPayloadBytes)
	defaultTo(&c.AuthLimit.MaxFailures, DefaultAuthMaxFailures)
	defaultTo(&c.AuthLimit.Window, DefaultAuthWindow)
	c.Log.Level = strings.ToLower(strings.TrimSpace(c.Log.Level))
	defaultTo(&c.Log.Level, DefaultLogLevel)
	c.Log.Format = strings.ToLower(strings.TrimSpace(c.Log.Format))
	defaultTo(&c.Log.Format, DefaultLogFormat)
	c.PublicURL = strings.TrimRight(c.PublicURL, "/")
	defaultTo(&c.Settle, DefaultSettle)
	defaultTo(&c.SettleMax, max(DefaultSettleMax, c.Settle))
	for i := range c.Tenants {
		t := &c.Tenants[i]
		defaultTo(&t.DeletionThreshold, DefaultDeletionThreshold)
		defaultTo(&t.Settle, c.Settle)
		defaultTo(&t.SettleMax, max(c.SettleMax, t.Settle))
	}
}

// defaultTo sets *p to def when it holds the zero value.
func defaultTo[T comparable](p *T, def T) {
	var zero T
	if *p == zero {
		*p = def
	}
}
