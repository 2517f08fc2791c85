package config

import (
	"errors"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/scim-bridge/scim-bridge/bridge/auth"
)

// Credentials (scim_tokens, basic_auth, entra of a tenant; admin_token and
// admin_tokens) are the types of package auth, which also validates them: its
// *auth.FieldError values are located here at their key and line.

// decodeToken decodes one token: a plain string is the token itself (as in
// older files), a mapping has the keys name, token, not_before and expires,
// decoded strictly key by key like any struct. The token is a secret either way.
func (l *loader) decodeToken(n *yaml.Node, tok *auth.Token, path string) {
	switch {
	case n.Kind == yaml.MappingNode:
		l.decodeStruct(n, reflect.ValueOf(tok).Elem(), path, nil)
	case n.Kind == yaml.ScalarNode && isNull(n):
		*tok = auth.Token{}
	case n.Kind == yaml.ScalarNode:
		l.decodeLeaf(n, reflect.ValueOf(tok).Elem(), path)
		l.addSecret(tok.Value, 4)
	default:
		l.unreadableValue(n, path, "must be a string (the token) or a mapping with name, token, not_before and expires, not "+nodeKind(n))
	}
}

// validateCredentials checks the credentials with package auth: every
// tenant's (the tenant is resolved from the credential, so a credential
// belongs to one tenant only), the admin tokens, and that no admin token is
// also a SCIM token or a Basic password (whoever holds the IdP's credential
// would hold the admin API's too). Secrets are compared as digests and never
// quoted.
func (l *loader) validateCredentials(c *Config) {
	l.failFields("", auth.ValidateTenants(c.AuthTenants(), true))

	admin := c.AdminCredentials()
	keyOf := func(i int) string { // index into admin -> key path
		if len(admin) > len(c.AdminTokens) {
			if i == 0 {
				return "admin_token"
			}
			i--
		}
		return indexPath("admin_tokens", i)
	}
	for _, err := range flattenErrors(auth.ValidateTokens(admin)) {
		var fe *auth.FieldError
		if !errors.As(err, &fe) {
			l.fail("admin_token", err.Error())
			continue
		}
		// fe.Key is "[i]" or "[i].field".
		num, rest, _ := strings.Cut(strings.TrimPrefix(fe.Key, "["), "]")
		i, _ := strconv.Atoi(num)
		msg := adminRef.ReplaceAllStringFunc(fe.Msg, func(ref string) string {
			j, _ := strconv.Atoi(strings.Trim(ref, "[]"))
			if env, ok := l.envSrc[keyOf(j)]; ok {
				return keyOf(j) + " ($" + env + ")"
			}
			return keyOf(j) + " (line " + strconv.Itoa(l.lineOf(keyOf(j))) + ")"
		})
		l.fail(keyOf(i)+rest, msg)
	}

	rt := c.AdminReadToken
	readSet := rt.Value != "" || rt.Name != "" || !rt.NotBefore.IsZero() || !rt.Expires.IsZero()
	if readSet {
		for _, err := range flattenErrors(auth.ValidateTokens([]auth.Token{rt})) {
			var fe *auth.FieldError
			if errors.As(err, &fe) {
				_, rest, _ := strings.Cut(fe.Key, "]")
				l.fail("admin_read_token"+rest, fe.Msg)
			} else {
				l.fail("admin_read_token", err.Error())
			}
		}
		for i, tok := range admin {
			if d := tokenDigest(rt.Value); d != "" && d == tokenDigest(tok.Value) {
				l.fail("admin_read_token", "must differ from the admin tokens (it equals "+keyOf(i)+")")
			}
		}
	}

	scim := map[string]string{}  // digest -> key path of the SCIM token
	basic := map[string]string{} // digest -> key path of the Basic password
	for ti, t := range c.Tenants {
		tp := indexPath("tenants", ti)
		for j, tok := range t.Tokens {
			if d := tokenDigest(tok.Value); d != "" {
				if _, dup := scim[d]; !dup {
					scim[d] = indexPath(fieldPath(tp, "scim_tokens"), j)
				}
			}
		}
		for j, b := range t.Basic {
			if d := tokenDigest(b.Password); d != "" {
				if _, dup := basic[d]; !dup {
					basic[d] = fieldPath(indexPath(fieldPath(tp, "basic_auth"), j), "password")
				}
			}
		}
	}
	// clash returns what a SCIM credential equal to the admin token v is
	// ("" for none): the message after "it equals".
	clash := func(v string) string {
		d := tokenDigest(v)
		if at, ok := scim[d]; ok && v != "" {
			return "the one at " + at + ", line " + strconv.Itoa(l.lineOf(at))
		}
		if at, ok := basic[d]; ok && v != "" {
			return "the Basic password at " + at + ", line " + strconv.Itoa(l.lineOf(at))
		}
		return ""
	}
	if readSet {
		if what := clash(rt.Value); what != "" {
			l.fail("admin_read_token", "must differ from every SCIM token and Basic password (it equals "+what+")")
		}
	}
	for i, tok := range admin {
		if what := clash(tok.Value); what != "" {
			key := keyOf(i)
			if l.lines[fieldPath(key, "token")] != 0 {
				key = fieldPath(key, "token")
			}
			l.fail(key, "must differ from every SCIM token and Basic password (it equals "+what+")")
		}
	}
}

// failFields records the *auth.FieldError values of err at prefix + their
// key, unless the decoder already reported that entry as unreadable (a value
// of the wrong kind gets one error, not its consequences too). Key paths a
// message names (the first of two duplicates) get their line.
func (l *loader) failFields(prefix string, err error) {
	for _, e := range flattenErrors(err) {
		var fe *auth.FieldError
		if !errors.As(e, &fe) {
			l.fail(prefix, e.Error())
			continue
		}
		key := prefix + fe.Key
		if l.underUnreadable(key) || l.credentialsUnreadable(key) {
			continue
		}
		msg := keyRef.ReplaceAllStringFunc(fe.Msg, func(ref string) string {
			full := ref
			if !strings.HasPrefix(ref, "tenants[") {
				full = tenantPath(key) + "." + ref
				if tenantPath(key) == "" {
					full = ref
				}
			}
			if line := l.lineOf(full); line > 0 {
				return full + " (line " + strconv.Itoa(line) + ")"
			}
			return full
		})
		l.fail(key, msg)
	}
}

// keyRef matches the key paths of credentials inside auth's messages.
var keyRef = regexp.MustCompile(`(tenants\[\d+\]\.)?(scim_tokens|basic_auth)\[\d+\](\.[a-z_]+)?`)

// adminRef matches an index into the admin tokens inside auth's messages.
var adminRef = regexp.MustCompile(`\[\d+\]`)

// underUnreadable reports whether path or one of its parents is an entry
// the decoder could not read (already reported).
func (l *loader) underUnreadable(path string) bool {
	for p := path; p != ""; p = parentPath(p) {
		if l.unreadable[p] {
			return true
		}
	}
	return false
}

// credentialsUnreadable reports whether key is a tenant's scim_tokens, where
// package auth reports a tenant without any credential, while another of its
// credential keys could not be read: the tenant may well have credentials,
// and the decoder already said what is wrong with them.
func (l *loader) credentialsUnreadable(key string) bool {
	tp := tenantPath(key)
	if tp == "" || key != fieldPath(tp, "scim_tokens") {
		return false
	}
	return l.underUnreadable(fieldPath(tp, "basic_auth")) || l.underUnreadable(fieldPath(tp, "entra"))
}

// tokenDigest is the sha256:<hex> form of a configured token ("" for none).
func tokenDigest(v string) string {
	if v == "" {
		return ""
	}
	if len(v) > len(auth.DigestPrefix) && strings.EqualFold(v[:len(auth.DigestPrefix)], auth.DigestPrefix) {
		return strings.ToLower(v)
	}
	return auth.Digest(v)
}
