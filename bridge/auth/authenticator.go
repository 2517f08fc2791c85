package auth

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/sync/singleflight"
)

// DefaultRealm is the realm of the SCIM endpoint's challenges.
const DefaultRealm = "scim-bridge"

// expiredLogEvery spaces the log lines about one expired credential: IdPs
// retry, and one line per attempt would drown the log.
const expiredLogEvery = time.Minute

// Method is how a client authenticated.
type Method string

// The methods.
const (
	MethodBearer Method = "bearer" // a configured bearer token (RFC 6750)
	MethodBasic  Method = "basic"  // HTTP Basic (RFC 7617)
	MethodJWT    Method = "jwt"    // an Entra-issued JWT
)

// Identity is an authenticated client. It never holds a secret, nor anything
// derived from one: Name is the configured name of the token or Basic
// credential; else, for a token, its position in the tenant's list
// ("scim_tokens[0]"; "admin[0]" for NewAdmin's), for a Basic credential
// "basic:" and the username (plus "/basic_auth[1]", its position, when one
// user has several passwords); or "jwt:<appid>" for an Entra JWT. Fit for
// logs, status and the audit trail.
type Identity struct {
	// Tenant is the id of the tenant the client belongs to.
	Tenant string
	// Method is how it authenticated.
	Method Method
	// Name labels the credential used.
	Name string
	// Expires is when the credential stops being accepted: its configured
	// expires (zero when none) or a JWT's exp. For "expires soon" warnings.
	Expires time.Time
}

// Options configure an Authenticator.
type Options struct {
	// Tenants and their credentials; checked with ValidateTenants.
	Tenants []Tenant
	// ByCredential says Authenticate (tenant from the credential) will be
	// used, which needs every credential to belong to one tenant; see
	// ValidateTenants. AuthenticateTenant works either way.
	ByCredential bool
	// Realm of the challenges (printable ASCII without '"' or '\\');
	// default DefaultRealm.
	Realm string
	// HTTPClient fetches JWT signing keys; required when a tenant accepts
	// Entra JWTs (never http.DefaultClient). Its transport and timeout are
	// used as given; redirects are refused whatever its CheckRedirect.
	HTTPClient *http.Client
	// Logger receives expired-credential, blocked-address and key-fetch lines.
	Logger zerolog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// ClockSkew is the leeway on JWT exp/nbf/iat; 0 means DefaultClockSkew.
	ClockSkew time.Duration
	// KeysTTL is how long fetched signing keys are used before they are
	// fetched again (in the background: a known key keeps being used until
	// the new set arrives); 0 means DefaultKeysTTL.
	KeysTTL time.Duration
	// KeysMinRefresh is the least time between two fetches of one key set
	// URL; 0 means DefaultKeysMinRefresh.
	KeysMinRefresh time.Duration
	// Limiter counts failures per source address; nil disables limiting.
	Limiter *Limiter
	// ClientAddr returns the source address of a request; nil means the IP
	// of r.RemoteAddr. Behind a reverse proxy, pass a function that trusts
	// the proxy's header (and only from the proxy's address).
	ClientAddr func(r *http.Request) netip.Addr
}

// Authenticator checks the Authorization header of requests against the
// configured credentials. It is safe for concurrent use.
//
// Bearer tokens and Basic passwords are compared as SHA-256 digests with
// crypto/subtle against every candidate of the scope, without an early exit,
// so timing tells neither whether nor which candidate matched.
type Authenticator struct {
	tenants  []string
	tokens   []tokenEntry
	basics   []basicEntry
	entras   []*entraEntry
	scopes   map[string]*scope // tenant id -> its credentials
	all      *scope            // every tenant
	byCred   bool
	log      zerolog.Logger
	now      func() time.Time
	skew     time.Duration
	limiter  *Limiter
	addrOf   func(r *http.Request) netip.Addr
	logMu    sync.Mutex
	loggedAt map[string]time.Time // tenant + name -> last expired line
}

// CredentialInfo describes one configured credential without its secret,
// for status pages and "expires soon" warnings.
type CredentialInfo struct {
	Tenant string
	Method Method
	// Name is what Identity.Name says when the credential is used; for an
	// Entra configuration, "entra:" and the issuer.
	Name string
	Window
}

// Inventory lists the configured credentials in configuration order.
func (a *Authenticator) Inventory() []CredentialInfo {
	var out []CredentialInfo
	for _, id := range a.tenants {
		s := a.scopes[id]
		for _, t := range s.tokens {
			out = append(out, CredentialInfo{Tenant: id, Method: MethodBearer, Name: t.name, Window: t.Window})
		}
		for _, b := range s.basics {
			out = append(out, CredentialInfo{Tenant: id, Method: MethodBasic, Name: b.name, Window: b.Window})
		}
		for _, e := range s.entras {
			out = append(out, CredentialInfo{Tenant: id, Method: MethodJWT, Name: "entra:" + e.issuer})
		}
	}
	return out
}

type tokenEntry struct {
	digest [32]byte
	tenant int
	name   string
	Window
}

type basicEntry struct {
	user   [32]byte
	pass   [32]byte
	tenant int
	name   string
	Window
}

// scope is the candidates of one authentication: one tenant, or every one.
type scope struct {
	tokens []tokenEntry
	basics []basicEntry
	entras []*entraEntry
	ch     challenger
}

// New returns an Authenticator over opts.Tenants, or an error when the
// credentials are invalid (ValidateTenants) or a JWT tenant has no HTTPClient.
func New(opts Options) (*Authenticator, error) {
	return newAuthenticator(opts, "scim_tokens")
}

// newAuthenticator is New; tokenList names the list of tokens in the labels
// of unnamed ones (positionName).
func newAuthenticator(opts Options, tokenList string) (*Authenticator, error) {
	if err := ValidateTenants(opts.Tenants, opts.ByCredential); err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	a := &Authenticator{
		scopes:   map[string]*scope{},
		byCred:   opts.ByCredential,
		log:      opts.Logger,
		now:      opts.Now,
		skew:     opts.ClockSkew,
		limiter:  opts.Limiter,
		addrOf:   opts.ClientAddr,
		loggedAt: map[string]time.Time{},
	}
	if a.now == nil {
		a.now = time.Now
	}
	if a.skew <= 0 {
		a.skew = DefaultClockSkew
	}
	if a.addrOf == nil {
		a.addrOf = remoteAddr
	}
	realm := opts.Realm
	if realm == "" {
		realm = DefaultRealm
	}
	if strings.ContainsAny(realm, "\"\\") || !isPrintableASCII(realm) {
		return nil, fmt.Errorf("auth: realm %q must be printable ASCII without quotes or backslashes", realm)
	}
	ttl, minRefresh := opts.KeysTTL, opts.KeysMinRefresh
	if ttl <= 0 {
		ttl = DefaultKeysTTL
	}
	if minRefresh <= 0 {
		minRefresh = DefaultKeysMinRefresh
	}
	group := &singleflight.Group{}
	keySets := map[string]*keySet{}
	for i, t := range opts.Tenants {
		a.tenants = append(a.tenants, t.ID)
		s := &scope{ch: challenger{realm: realm}}
		for j, tok := range t.Credentials.Tokens {
			d, _ := parseSecret(tok.Value) // validated above
			name := tok.Name
			if name == "" {
				name = positionName(tokenList, j)
			}
			s.tokens = append(s.tokens, tokenEntry{digest: d, tenant: i, name: name, Window: tok.Window})
		}
		users := map[string]int{}
		for _, b := range t.Credentials.Basic {
			users[b.Username]++
		}
		for j, b := range t.Credentials.Basic {
			d, _ := parseSecret(b.Password)
			name := b.Name
			switch {
			case name != "":
			case users[b.Username] > 1: // rotation: tell the passwords apart
				name = "basic:" + b.Username + "/" + positionName("basic_auth", j)
			default:
				name = "basic:" + b.Username
			}
			s.basics = append(s.basics, basicEntry{user: sha256.Sum256([]byte(b.Username)), pass: d, tenant: i, name: name, Window: b.Window})
		}
		if c := t.Credentials.Entra; c != nil {
			if opts.HTTPClient == nil {
				return nil, fmt.Errorf("auth: tenant %q accepts Entra JWTs but no HTTP client was given to fetch its keys", t.ID)
			}
			ks, ok := keySets[c.jwksURL()]
			if !ok {
				ks = &keySet{url: c.jwksURL(), client: noRedirects(opts.HTTPClient), ttl: ttl, minRefresh: minRefresh,
					now: a.now, log: opts.Logger, group: group}
				keySets[ks.url] = ks
			}
			s.entras = append(s.entras, &entraEntry{tenant: i, issuer: c.issuer(), audiences: c.audiences(), keys: ks})
		}
		s.ch.bearer = len(s.tokens) > 0 || len(s.entras) > 0
		s.ch.basic = len(s.basics) > 0
		a.scopes[t.ID] = s
		a.tokens = append(a.tokens, s.tokens...)
		a.basics = append(a.basics, s.basics...)
		a.entras = append(a.entras, s.entras...)
	}
	a.all = &scope{tokens: a.tokens, basics: a.basics, entras: a.entras, ch: challenger{
		realm:  realm,
		bearer: len(a.tokens) > 0 || len(a.entras) > 0,
		basic:  len(a.basics) > 0,
	}}
	return a, nil
}

// NewAdmin returns an Authenticator of the admin endpoints: bearer tokens
// only (several for rotation), under the tenant "admin" and the realm
// "scim-bridge-admin" unless opts.Realm is set. opts.Tenants is ignored. A
// token without a name is labelled by its position in tokens: "admin[0]".
func NewAdmin(tokens []Token, opts Options) (*Authenticator, error) {
	if err := ValidateTokens(tokens); err != nil {
		return nil, fmt.Errorf("auth: admin tokens: %w", err)
	}
	if len(tokens) == 0 {
		return nil, errors.New("auth: admin tokens: at least one token is required")
	}
	opts.Tenants = []Tenant{{ID: AdminTenant, Credentials: Credentials{Tokens: tokens}}}
	opts.ByCredential = true
	if opts.Realm == "" {
		opts.Realm = AdminRealm
	}
	return newAuthenticator(opts, AdminTenant)
}

// The tenant and realm of NewAdmin.
const (
	AdminTenant = "admin"
	AdminRealm  = "scim-bridge-admin"
)

// Authenticate authenticates r and resolves its tenant from the credential:
// the tenant owning the token, the Basic user and password, or the Entra
// issuer and audience. The Authenticator must have been made with
// ByCredential (else every call fails with status 500). Every error is an
// *Error (see Error for how to render it).
func (a *Authenticator) Authenticate(r *http.Request) (Identity, error) {
	if !a.byCred {
		return Identity{}, &Error{Status: http.StatusInternalServerError, Detail: "internal error",
			cause: errors.New("auth: Authenticate needs Options.ByCredential; use AuthenticateTenant")}
	}
	return a.authenticate(r, a.all, "")
}

// AuthenticateTenant authenticates r for the tenant named by the URL: only
// that tenant's credentials are candidates, so a valid credential of another
// tenant fails like an unknown one. An unknown tenant id fails as invalid
// credentials (nothing tells a client which tenants exist). Every error is an
// *Error.
func (a *Authenticator) AuthenticateTenant(r *http.Request, tenant string) (Identity, error) {
	s, ok := a.scopes[tenant]
	if !ok {
		s = &scope{ch: a.all.ch}
	}
	return a.authenticate(r, s, tenant)
}

func (a *Authenticator) authenticate(r *http.Request, s *scope, urlTenant string) (Identity, error) {
	var addr netip.Addr
	if a.limiter != nil {
		addr = a.addrOf(r)
		if wait, ok := a.limiter.Check(addr); !ok {
			return Identity{}, rateLimited(wait)
		}
	}
	id, err := a.check(r, s)
	if err != nil {
		if a.limiter != nil && a.limiter.Fail(addr) {
			ev := a.log.Warn().Str("addr", addr.String())
			if urlTenant != "" {
				ev = ev.Str("tenant", urlTenant)
			}
			ev.Msg("too many failed authentication attempts from this address; refusing it for the rest of the window")
		}
		return Identity{}, err
	}
	return id, nil
}

// check authenticates r against the candidates of s.
func (a *Authenticator) check(r *http.Request, s *scope) (Identity, error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return Identity{}, s.ch.failure("", ErrNoCredentials, nil)
	}
	if len(r.Header.Values("Authorization")) > 1 {
		// A singleton field (RFC 9110 §11.6.2) sent twice is ambiguous:
		// never let the first of two credentials decide.
		return Identity{}, s.ch.failure("", ErrMalformed, errors.New("more than one Authorization header"))
	}
	scheme, cred, _ := strings.Cut(h, " ")
	cred = strings.TrimSpace(cred)
	switch {
	case strings.EqualFold(scheme, "Bearer") && cred != "":
		return a.checkBearer(r, s, cred)
	case strings.EqualFold(scheme, "Basic") && cred != "":
		return a.checkBasic(s, cred)
	case strings.EqualFold(scheme, "Bearer"), strings.EqualFold(scheme, "Basic"):
		return Identity{}, s.ch.failure("", ErrMalformed, nil)
	}
	return Identity{}, s.ch.failure("", ErrNoCredentials, errors.New("unsupported authorization scheme"))
}

func (a *Authenticator) checkBearer(r *http.Request, s *scope, tok string) (Identity, error) {
	d := sha256.Sum256([]byte(tok))
	match := -1
	for i := range s.tokens {
		eq := subtle.ConstantTimeCompare(d[:], s.tokens[i].digest[:])
		match = subtle.ConstantTimeSelect(eq, i, match)
	}
	if match >= 0 {
		e := &s.tokens[match]
		return a.accept(s, MethodBearer, e.tenant, e.name, e.Window)
	}
	if len(s.entras) == 0 || !looksLikeJWT(tok) {
		return Identity{}, s.ch.failure(MethodBearer, ErrInvalid, nil)
	}
	entry, label, exp, err := verifyJWT(r.Context(), tok, s.entras, a.now(), a.skew)
	switch {
	case err == nil:
		return Identity{Tenant: a.tenants[entry.tenant], Method: MethodJWT, Name: label, Expires: exp}, nil
	case entry != nil: // expired or not yet valid, signature verified
		kind := ErrExpired
		if errors.Is(err, ErrNotYetValid) {
			kind = ErrNotYetValid
		}
		a.logRefused(a.tenants[entry.tenant], label, err)
		return Identity{}, s.ch.failure(MethodJWT, kind, err)
	}
	a.log.Debug().Err(err).Msg("JWT refused")
	return Identity{}, s.ch.failure(MethodJWT, ErrInvalid, err)
}

func (a *Authenticator) checkBasic(s *scope, cred string) (Identity, error) {
	raw, err := base64.StdEncoding.DecodeString(cred)
	if err != nil {
		return Identity{}, s.ch.failure(MethodBasic, ErrMalformed, nil)
	}
	user, pass, ok := strings.Cut(string(raw), ":")
	if !ok {
		return Identity{}, s.ch.failure(MethodBasic, ErrMalformed, nil)
	}
	ud, pd := sha256.Sum256([]byte(user)), sha256.Sum256([]byte(pass))
	match := -1
	for i := range s.basics {
		eq := subtle.ConstantTimeCompare(ud[:], s.basics[i].user[:]) & subtle.ConstantTimeCompare(pd[:], s.basics[i].pass[:])
		match = subtle.ConstantTimeSelect(eq, i, match)
	}
	if match < 0 {
		return Identity{}, s.ch.failure(MethodBasic, ErrInvalid, nil)
	}
	e := &s.basics[match]
	return a.accept(s, MethodBasic, e.tenant, e.name, e.Window)
}

// accept checks the validity window of a matched credential.
func (a *Authenticator) accept(s *scope, m Method, tenant int, name string, w Window) (Identity, error) {
	now := a.now()
	var kind error
	var at time.Time
	switch {
	case w.Contains(now):
		return Identity{Tenant: a.tenants[tenant], Method: m, Name: name, Expires: w.Expires}, nil
	case !w.Expires.IsZero() && !now.Before(w.Expires):
		kind, at = ErrExpired, w.Expires
	default:
		kind, at = ErrNotYetValid, w.NotBefore
	}
	bound := "expired at"
	if kind == ErrNotYetValid {
		bound = "valid from"
	}
	cause := fmt.Errorf("%w: %s credential %q of tenant %q, %s %s", kind, m, name, a.tenants[tenant], bound, at.UTC().Format(time.RFC3339))
	a.logRefused(a.tenants[tenant], name, cause)
	return Identity{}, s.ch.failure(m, kind, cause)
}

// logRefused logs a refused known credential (expired, not yet valid) at most
// once per expiredLogEvery per credential.
func (a *Authenticator) logRefused(tenant, name string, err error) {
	now := a.now()
	key := tenant + "\x00" + name
	a.logMu.Lock()
	last, seen := a.loggedAt[key]
	if seen && now.Sub(last) < expiredLogEvery {
		a.logMu.Unlock()
		return
	}
	if len(a.loggedAt) > 10000 { // JWT labels are client-chosen: stay bounded
		clear(a.loggedAt)
	}
	a.loggedAt[key] = now
	a.logMu.Unlock()
	a.log.Warn().Str("tenant", tenant).Str("credential", name).Err(err).
		Msg("refused a known credential outside its validity; rotate it")
}

// remoteAddr is the IP of r.RemoteAddr (the zero Addr when it has none).
func remoteAddr(r *http.Request) netip.Addr {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	a, _ := netip.ParseAddr(host)
	return a
}

func isPrintableASCII(s string) bool {
	for i := range len(s) {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}
