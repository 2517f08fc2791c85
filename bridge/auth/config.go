package auth

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// MinTokenLength is the shortest plaintext token or password accepted. A
// digest (sha256:<hex>) cannot be measured; generate its token with NewToken.
const MinTokenLength = 16

// EntraCustomAppAudience is the application template id of every custom
// (non-gallery) enterprise application in Microsoft Entra's global cloud: the
// "aud" claim of the JWTs its provisioning service sends when the app's
// Secret Token field is left blank. Gallery apps have their own template id.
const EntraCustomAppAudience = "8adf8e6e-67b2-4cf2-a259-e3dc5476c621"

// EntraDefaultJWKSURL is where Microsoft publishes the keys that sign the
// tokens of its v1 endpoint (issuer https://sts.windows.net/<tenant>/).
const EntraDefaultJWKSURL = "https://login.microsoftonline.com/common/discovery/keys"

// entraIssuerPrefix and entraIssuerSuffix frame the tenant id in the issuer.
const (
	entraIssuerPrefix = "https://sts.windows.net/"
	entraIssuerSuffix = "/"
)

// Credentials are the ways one tenant's IdP may authenticate: any mix of
// bearer tokens, HTTP Basic and Entra-issued JWTs (at least one). The YAML keys
// are meant to sit inline in the tenant's entry of the configuration file.
type Credentials struct {
	// Tokens are the bearer tokens of the IdP (RFC 6750). Two entries valid at
	// the same time is the way to rotate: add the new token, switch the IdP,
	// remove (or let expire) the old one.
	Tokens []Token `yaml:"scim_tokens"`
	// Basic are HTTP Basic credentials (RFC 7617), e.g. for Okta's "Basic Auth"
	// option; several entries rotate like tokens.
	Basic []BasicCredential `yaml:"basic_auth"`
	// Entra accepts JWTs issued and signed by Microsoft Entra ID; nil disables.
	Entra *EntraConfig `yaml:"entra"`
}

// Window bounds when a credential is accepted; a zero time is no bound.
type Window struct {
	// NotBefore is the first instant the credential is accepted.
	NotBefore time.Time `yaml:"not_before"`
	// Expires is the first instant the credential is refused again.
	Expires time.Time `yaml:"expires"`
}

// Contains reports whether the credential is accepted at now.
func (w Window) Contains(now time.Time) bool {
	return (w.NotBefore.IsZero() || !now.Before(w.NotBefore)) && (w.Expires.IsZero() || now.Before(w.Expires))
}

// Token is one bearer token. In YAML it is either a plain string (the token,
// as in older configuration files) or a mapping with the keys name, token,
// not_before and expires.
//
// Value is the token itself, or "sha256:" followed by the 64 hex digits of the
// SHA-256 digest of the token (see NewToken and Digest), so that the
// configuration holds nothing a client could present. A value that starts with
// "sha256:" is always read as a digest.
type Token struct {
	// Name labels the token in logs, status and the audit trail (never the
	// token itself); empty means its position in the list ("scim_tokens[0]"),
	// never anything derived from the token.
	Name string `yaml:"name"`
	// Value is the plaintext token or its sha256:<hex> digest.
	Value string `yaml:"token"`
	// Window bounds the validity of the token (not_before, expires).
	Window `yaml:",inline"`

	short bool // written as a plain string in YAML
}

// UnmarshalYAML implements yaml.Unmarshaler: a scalar is the token itself, a
// mapping has the keys name, token, not_before and expires (others are errors).
func (t *Token) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		*t = Token{Value: n.Value, short: true}
		return nil
	}
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: a token is a string or a mapping with name, token, not_before, expires", n.Line)
	}
	known := []string{"name", "token", "not_before", "expires"}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := n.Content[i]; !slices.Contains(known, k.Value) {
			return fmt.Errorf("line %d: unknown key %q in a token (known: %s)", k.Line, k.Value, strings.Join(known, ", "))
		}
	}
	type plain Token // no UnmarshalYAML: no recursion
	var p plain
	if err := n.Decode(&p); err != nil {
		return err
	}
	*t = Token(p)
	return nil
}

// BasicCredential is one HTTP Basic user of a tenant (RFC 7617).
type BasicCredential struct {
	// Name labels the credential in logs and audit; empty means
	// "basic:<username>", plus "/basic_auth[i]" (its position) when the
	// username has several passwords.
	Name string `yaml:"name"`
	// Username is the user-id the IdP sends; it must not contain ':'.
	Username string `yaml:"username"`
	// Password is sha256:<hex> of the password (preferred) or the plaintext.
	Password string `yaml:"password"`
	// Window bounds the validity of the credential (not_before, expires).
	Window `yaml:",inline"`
}

// EntraConfig accepts the JWTs Microsoft Entra ID's provisioning service
// sends when an enterprise application's Secret Token field is left blank.
type EntraConfig struct {
	// TenantID is the Entra tenant (directory) id, a GUID; the accepted
	// issuer is https://sts.windows.net/<TenantID>/.
	TenantID string `yaml:"tenant_id"`
	// Audiences are the accepted "aud" values: the application template id
	// of the enterprise app. Empty means EntraCustomAppAudience (custom apps).
	Audiences []string `yaml:"audiences"`
	// JWKSURL is where the signing keys are fetched. Empty means
	// EntraDefaultJWKSURL. It must be https (http only for loopback hosts).
	JWKSURL string `yaml:"jwks_url"`
	// Issuer overrides the derived issuer, for national clouds whose issuer
	// host differs; it is compared exactly.
	Issuer string `yaml:"issuer"`
}

// issuer returns the issuer compared against "iss".
func (e *EntraConfig) issuer() string {
	if e.Issuer != "" {
		return e.Issuer
	}
	return entraIssuerPrefix + strings.ToLower(e.TenantID) + entraIssuerSuffix
}

// audiences returns the accepted audiences.
func (e *EntraConfig) audiences() []string {
	if len(e.Audiences) == 0 {
		return []string{EntraCustomAppAudience}
	}
	return e.Audiences
}

// jwksURL returns the URL of the key set.
func (e *EntraConfig) jwksURL() string {
	if e.JWKSURL == "" {
		return EntraDefaultJWKSURL
	}
	return e.JWKSURL
}

// FieldError is a configuration problem of one key. Key is relative to the
// value validated ("scim_tokens[1].expires", "[0].token"); the configuration
// loader prefixes its own path and adds the file line. Msg never quotes a
// token or password.
type FieldError struct {
	Key string
	Msg string
}

func (e *FieldError) Error() string { return e.Key + ": " + e.Msg }

var (
	namePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:@-]{0,63}$`)
	guidPattern = regexp.MustCompile(`^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$`)
)

const nameRule = "must be 1 to 64 letters, digits, '.', '_', ':', '@' or '-', starting with a letter or digit"

// errs collects FieldErrors.
type errs []error

func (e *errs) add(key, format string, args ...any) {
	*e = append(*e, &FieldError{Key: key, Msg: fmt.Sprintf(format, args...)})
}

func (e errs) join() error { return errors.Join(e...) }

func joinKey(prefix, key string) string {
	switch {
	case prefix == "":
		return key
	case key == "" || strings.HasPrefix(key, "["):
		return prefix + key
	}
	return prefix + "." + key
}

func indexKey(prefix string, i int) string { return prefix + "[" + strconv.Itoa(i) + "]" }

// Validate checks the credentials of one tenant and returns one *FieldError
// per problem (errors.Join), nil when all is well: at least one method;
// tokens and passwords well formed (plaintext without surrounding white space
// and at least MinTokenLength characters, or sha256: and 64 hex digits); names
// well formed and unique; not_before before expires; no token twice; Basic
// usernames present and without ':', no username and password twice (one
// username with two passwords is how Basic rotates); the Entra tenant id a GUID,
// audiences not blank, jwks_url and issuer absolute URLs.
func (c *Credentials) Validate() error {
	var e errs
	c.validateInto(&e)
	return e.join()
}

func (c *Credentials) validateInto(e *errs) {
	if len(c.Tokens) == 0 && len(c.Basic) == 0 && c.Entra == nil {
		e.add("scim_tokens", "at least one credential is required: scim_tokens, basic_auth or entra")
	}
	checkName := nameChecker(e)
	validateTokens(e, "scim_tokens", c.Tokens, checkName)
	// One username may have several passwords: that is how Basic rotates.
	type pair struct {
		user   string
		digest [32]byte
	}
	pairs := map[pair]string{}
	for i, b := range c.Basic {
		key := indexKey("basic_auth", i)
		checkName(key, b.Name)
		switch {
		case b.Username == "":
			e.add(joinKey(key, "username"), "is required")
		case strings.ContainsRune(b.Username, ':'):
			e.add(joinKey(key, "username"), "must not contain ':' (RFC 7617)")
		case strings.TrimSpace(b.Username) != b.Username || !utf8.ValidString(b.Username):
			e.add(joinKey(key, "username"), "must be valid UTF-8 without surrounding white space")
		}
		if msg := checkSecret(b.Password, "password"); msg != "" {
			e.add(joinKey(key, "password"), "%s", msg)
		} else if d, err := parseSecret(b.Password); err == nil {
			if first, dup := pairs[pair{b.Username, d}]; dup {
				e.add(key, "duplicate username and password (same as %s)", first)
			} else {
				pairs[pair{b.Username, d}] = key
			}
		}
		checkWindow(e, key, b.Window)
	}
	if c.Entra != nil {
		c.Entra.validateInto(e, "entra")
	}
}

// ValidateTokens checks a list of tokens outside a tenant (the admin tokens):
// the token rules of Credentials.Validate, with keys relative to the list
// ("[0].token"). An empty list is valid (it disables what the tokens guard).
func ValidateTokens(tokens []Token) error {
	var e errs
	validateTokens(&e, "", tokens, nameChecker(&e))
	return e.join()
}

// nameChecker returns a function checking the optional name of the entry at
// key: well formed, and unique among the names it has seen.
func nameChecker(e *errs) func(key, name string) {
	names := map[string]string{} // name -> key of first use
	return func(key, name string) {
		if name == "" {
			return
		}
		if !namePattern.MatchString(name) {
			e.add(joinKey(key, "name"), nameRule)
			return
		}
		if first, dup := names[name]; dup {
			e.add(joinKey(key, "name"), "duplicate name %q (also at %s)", name, first)
			return
		}
		names[name] = joinKey(key, "name")
	}
}

func validateTokens(e *errs, prefix string, tokens []Token, checkName func(key, name string)) {
	seen := map[[32]byte]string{}
	for i, t := range tokens {
		key := indexKey(prefix, i)
		valueKey := joinKey(key, "token")
		if t.short {
			valueKey = key
		}
		checkName(key, t.Name)
		if msg := checkSecret(t.Value, "token"); msg != "" {
			e.add(valueKey, "%s", msg)
		} else if d, err := parseSecret(t.Value); err == nil {
			if first, dup := seen[d]; dup {
				e.add(valueKey, "duplicate token (same as %s)", first)
			} else {
				seen[d] = key
			}
		}
		checkWindow(e, key, t.Window)
	}
}

// checkSecret returns what is wrong with a token or password ("" if nothing),
// never quoting it.
func checkSecret(v, what string) string {
	if hasDigestPrefix(v) {
		if _, err := parseSecret(v); err != nil {
			return "a digest must be sha256: followed by 64 hexadecimal digits"
		}
		return ""
	}
	switch {
	case strings.TrimSpace(v) == "":
		return "is required"
	case strings.TrimSpace(v) != v:
		return "must not start or end with white space"
	case utf8.RuneCountInString(v) < MinTokenLength:
		return fmt.Sprintf("is too short: a %s needs at least %d characters (or give its sha256: digest)", what, MinTokenLength)
	}
	return ""
}

func checkWindow(e *errs, key string, w Window) {
	if !w.NotBefore.IsZero() && !w.Expires.IsZero() && !w.Expires.After(w.NotBefore) {
		e.add(joinKey(key, "expires"), "must be after not_before")
	}
}

func (c *EntraConfig) validateInto(e *errs, key string) {
	if c.TenantID == "" {
		e.add(joinKey(key, "tenant_id"), "is required (the Entra tenant id, a GUID)")
	} else if !guidPattern.MatchString(c.TenantID) {
		e.add(joinKey(key, "tenant_id"), "must be the Entra tenant id, a GUID such as 00000000-0000-0000-0000-000000000000")
	}
	for i, a := range c.Audiences {
		if strings.TrimSpace(a) == "" || strings.TrimSpace(a) != a {
			e.add(indexKey(joinKey(key, "audiences"), i), "must not be blank or start or end with white space")
		}
	}
	if c.JWKSURL != "" {
		if msg := checkKeysURL(c.JWKSURL); msg != "" {
			e.add(joinKey(key, "jwks_url"), "%s", msg)
		}
	}
	if c.Issuer != "" {
		if u, err := url.Parse(c.Issuer); err != nil || u.Scheme != "https" || u.Host == "" {
			e.add(joinKey(key, "issuer"), "must be an absolute https URL (compared exactly with the iss claim)")
		}
	}
}

// checkKeysURL accepts https URLs, and http ones on loopback hosts only.
func checkKeysURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return "must be an absolute https URL"
	}
	if u.User != nil {
		return "must not contain credentials"
	}
	if u.Scheme == "http" {
		host := u.Hostname()
		ip := net.ParseIP(host)
		if host != "localhost" && (ip == nil || !ip.IsLoopback()) {
			return "must be https (http only for a loopback host)"
		}
	}
	return ""
}

// Tenant names the credentials of one tenant.
type Tenant struct {
	// ID is the tenant id of the bridge (as in URLs, logs and Redis keys).
	ID string
	// Credentials are the ways its IdP authenticates.
	Credentials Credentials
}

// ValidateTenants checks every tenant (Credentials.Validate, keys prefixed
// with "tenants[i].") and what must hold across tenants: a token belongs to
// one tenant only. When byCredential is true (the tenant is resolved from the
// credential, not from the URL), a Basic username and password and an Entra
// issuer and audience pair must also belong to one tenant only, or the
// credential could not tell the tenants apart.
func ValidateTenants(tenants []Tenant, byCredential bool) error {
	var e errs
	tokens := map[[32]byte]string{}
	type basicKey struct {
		user   string
		digest [32]byte
	}
	users := map[basicKey]string{}
	type entraKey struct{ iss, aud string }
	entra := map[entraKey]string{}
	for i := range tenants {
		t := &tenants[i]
		prefix := indexKey("tenants", i)
		var te errs
		t.Credentials.validateInto(&te)
		for _, err := range te {
			var fe *FieldError
			if errors.As(err, &fe) {
				e.add(joinKey(prefix, fe.Key), "%s", fe.Msg)
			}
		}
		for j, tok := range t.Credentials.Tokens {
			d, err := parseSecret(tok.Value)
			if err != nil || checkSecret(tok.Value, "token") != "" {
				continue
			}
			key := indexKey(joinKey(prefix, "scim_tokens"), j)
			if first, dup := tokens[d]; dup && !strings.HasPrefix(first, prefix+".") {
				e.add(key, "this token is also a token at %s; a token must belong to exactly one tenant", first)
			} else if !dup {
				tokens[d] = key
			}
		}
		if !byCredential {
			continue
		}
		for j, b := range t.Credentials.Basic {
			d, err := parseSecret(b.Password)
			if err != nil {
				continue
			}
			key := indexKey(joinKey(prefix, "basic_auth"), j)
			k := basicKey{b.Username, d}
			if first, dup := users[k]; dup && !strings.HasPrefix(first, prefix+".") {
				e.add(key, "the same username and password are also used at %s; with the tenant taken from the credential, they must belong to one tenant", first)
			} else if !dup {
				users[k] = key
			}
		}
		if c := t.Credentials.Entra; c != nil && c.TenantID != "" {
			for _, aud := range c.audiences() {
				k := entraKey{c.issuer(), aud}
				if first, dup := entra[k]; dup {
					e.add(joinKey(prefix, "entra"), "the same Entra tenant and audience are accepted by %s; with the tenant taken from the credential, a JWT could not tell them apart (serve tenants under their own URL, or give each app its own audience)", first)
					break
				}
				entra[k] = joinKey(prefix, "entra")
			}
		}
	}
	return e.join()
}
