package bridge

import (
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/scim-bridge/scim-bridge/bridge/auth"
	"github.com/scim-bridge/scim-bridge/internal/jwkstest"
)

// The authentication scenarios run through the real server. Each is a test
// of its own, and TestAuthNoSecretAnywhere runs them all on one server and
// then searches its whole log and every response for a secret.

// scenarioTokensAndBasic: plaintext and digest tokens, two valid at once
// (rotation), expired and not-yet-valid tokens (401 with an invalid_token
// challenge and a log line naming the credential and the tenant), HTTP Basic
// right and wrong; the identity (credential name, never the token) in the
// access log of a write.
func scenarioTokensAndBasic(t *testing.T, as *authServer) {
	hc := clientFrom(t, "")
	bearer := func(tok string) string { return "Bearer " + tok }
	for _, c := range []struct {
		name   string
		authz  string
		status int
		want   []string // in WWW-Authenticate
	}{
		{"plaintext token", bearer(testToken), http.StatusOK, nil},
		{"digest token", bearer(digestToken), http.StatusOK, nil},
		{"basic", basicAuth(basicUser, basicPassword), http.StatusOK, nil},
		{"no credentials", "", http.StatusUnauthorized, []string{`Bearer realm="scim-bridge"`, `Basic realm="scim-bridge"`}},
		{"unknown token", bearer("okta-unknown-token-0123456789"), http.StatusUnauthorized, []string{`error="invalid_token"`}},
		{"the digest presented as the token", bearer(auth.Digest(digestToken)), http.StatusUnauthorized, []string{`error="invalid_token"`}},
		{"expired token", bearer(expiredToken), http.StatusUnauthorized, []string{`error="invalid_token"`, "expired"}},
		{"not yet valid token", bearer(futureToken), http.StatusUnauthorized, []string{`error="invalid_token"`, "not valid yet"}},
		{"basic, wrong password", basicAuth(basicUser, basicPassword+"x"), http.StatusUnauthorized, []string{`Basic realm="scim-bridge"`}},
		{"basic, unknown user", basicAuth("someone", basicPassword), http.StatusUnauthorized, []string{`Basic realm="scim-bridge"`}},
		{"basic, the token as password", basicAuth(basicUser, testToken), http.StatusUnauthorized, nil},
		{"token of the admin API", bearer(adminPlain), http.StatusUnauthorized, []string{`error="invalid_token"`}},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := as.call(t, hc, c.authz, http.MethodGet, "/scim/v2/Users", nil)
			if c.status == http.StatusOK {
				r.expect(t, http.StatusOK)
				return
			}
			expectRefused(t, r, c.status, c.want...)
		})
	}
	// The error parameters go with the scheme used: a refused Basic password
	// gets the plain challenges, no Bearer error="invalid_token" (RFC 7617).
	wrongBasic := as.call(t, hc, basicAuth(basicUser, basicPassword+"x"), http.MethodGet, "/scim/v2/Users", nil)
	if ch := wrongBasic.Header.Values("WWW-Authenticate"); len(ch) != 2 || ch[0] != `Bearer realm="scim-bridge"` || ch[1] != `Basic realm="scim-bridge", charset="UTF-8"` {
		t.Errorf("challenges of a wrong Basic password: %q", ch)
	}
	// Discovery is served without credentials and names both schemes.
	spc := as.call(t, hc, "", http.MethodGet, "/scim/v2/ServiceProviderConfig", nil).expect(t, http.StatusOK)
	var types []string
	for _, sc := range jlist(spc.Body, "authenticationSchemes") {
		types = append(types, jstr(sc, "type"))
	}
	if strings.Join(types, ",") != "oauthbearertoken,httpbasic" {
		t.Errorf("authenticationSchemes %v, want oauthbearertoken and httpbasic", types)
	}

	logs := as.logs.String()
	for _, w := range []string{`"tenant":"acme"`, `"credential":"okta-2025"`, "refused a known credential outside its validity"} {
		if !strings.Contains(logs, w) {
			t.Errorf("no log line with %s about the expired token", w)
		}
	}

	// Rotation: the old and the new token are valid at once and see the
	// same tenant; a write is logged with the name of the credential used.
	u := as.call(t, hc, bearer(digestToken), http.MethodPost, "/scim/v2/Users", userDoc("rotation@example.com")).expect(t, http.StatusCreated)
	id := jstr(u.Body, "id")
	as.call(t, hc, bearer(testToken), http.MethodGet, "/scim/v2/Users/"+id, nil).expect(t, http.StatusOK)
	as.call(t, hc, basicAuth(basicUser, basicPassword), http.MethodPatch, "/scim/v2/Users/"+id, patchDoc("replace", "active", false)).expect(t, http.StatusOK)
	as.call(t, hc, bearer(testToken2), http.MethodGet, "/scim/v2/Users/"+id, nil).expectError(t, http.StatusNotFound, "")
	writes := logLines(t, as.logs.String(), "scim write")
	if !hasLine(writes, map[string]any{"tenant": "acme", "credential": "okta-2027", "auth": "bearer", "method": "POST", "route": "/Users", "status": float64(201)}) ||
		!hasLine(writes, map[string]any{"tenant": "acme", "credential": "okta-basic", "auth": "basic", "method": "PATCH", "route": "/Users/{id}", "status": float64(200)}) {
		t.Errorf("access log of the writes lacks the identity: %v", writes)
	}

	// The next token becomes valid at its not_before: both work until the
	// old one is removed.
	as.clock.Advance(25 * time.Hour)
	as.call(t, hc, bearer(futureToken), http.MethodGet, "/scim/v2/Users/"+id, nil).expect(t, http.StatusOK)
	as.call(t, hc, bearer(digestToken), http.MethodGet, "/scim/v2/Users/"+id, nil).expect(t, http.StatusOK)
	as.clock.Set(authStart)
}

// scenarioEntraJWT: Entra-issued JWTs checked against a local JWKS: valid,
// expired, wrong issuer, wrong audience, wrong key, alg none, HS256 with the
// public key, and key rotation (an unknown kid fetches the key set again).
func scenarioEntraJWT(t *testing.T, as *authServer) {
	hc := clientFrom(t, "")
	keys := jwkstest.Keys()
	now := as.clock.Now()
	bearer := func(tok string) string { return "Bearer " + tok }
	claims := func(change func(*entraClaims)) entraClaims {
		c := validEntraClaims(now)
		if change != nil {
			change(&c)
		}
		return c
	}
	valid := as.jwt(t, keys[0], "k1", claims(nil))
	u := as.call(t, hc, bearer(valid), http.MethodPost, "/scim/v2/Users", userDoc("entra.jwt@example.com")).expect(t, http.StatusCreated)
	// The tenant is contoso's: acme's token does not see the user.
	as.call(t, hc, bearer(testToken), http.MethodGet, "/scim/v2/Users/"+jstr(u.Body, "id"), nil).expectError(t, http.StatusNotFound, "")
	if !hasLine(logLines(t, as.logs.String(), "scim write"), map[string]any{"tenant": "contoso", "auth": "jwt", "credential": "jwt:" + entraAppID}) {
		t.Error("the write of the JWT client is not logged with its identity")
	}

	pub, err := x509.MarshalPKIXPublicKey(&keys[0].PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name  string
		token string
		want  []string
	}{
		{"expired", as.jwt(t, keys[0], "k1", claims(func(c *entraClaims) {
			c.IssuedAt, c.NotBefore, c.Expiry = jwt.NewNumericDate(now.Add(-3*time.Hour)), jwt.NewNumericDate(now.Add(-3*time.Hour)), jwt.NewNumericDate(now.Add(-2*time.Hour))
		})), []string{`error="invalid_token"`, "expired"}},
		{"not yet valid", as.jwt(t, keys[0], "k1", claims(func(c *entraClaims) {
			c.NotBefore, c.Expiry = jwt.NewNumericDate(now.Add(time.Hour)), jwt.NewNumericDate(now.Add(2*time.Hour))
		})), []string{`error="invalid_token"`}},
		{"wrong issuer", as.jwt(t, keys[0], "k1", claims(func(c *entraClaims) {
			c.Issuer = "https://sts.windows.net/00000000-0000-0000-0000-000000000000/"
		})), []string{`error="invalid_token"`}},
		{"wrong audience", as.jwt(t, keys[0], "k1", claims(func(c *entraClaims) {
			c.Audience = jwt.Audience{"https://graph.microsoft.com"}
		})), []string{`error="invalid_token"`}},
		{"wrong key", as.jwt(t, keys[2], "k1", claims(nil)), []string{`error="invalid_token"`}},
		{"alg none", jwkstest.Forge(t, map[string]string{"alg": "none", "typ": "JWT", "kid": "k1"}, claims(nil),
			func(string) []byte { return nil }), []string{`error="invalid_token"`}},
		{"HS256 keyed with the public key", jwkstest.Forge(t, map[string]string{"alg": "HS256", "typ": "JWT", "kid": "k1"}, claims(nil),
			func(in string) []byte { m := hmac.New(sha256.New, pub); m.Write([]byte(in)); return m.Sum(nil) }), []string{`error="invalid_token"`}},
	} {
		t.Run(c.name, func(t *testing.T) {
			as.remember(c.token)
			expectRefused(t, as.call(t, hc, bearer(c.token), http.MethodGet, "/scim/v2/Users", nil), http.StatusUnauthorized, c.want...)
		})
	}

	// Key rotation: Entra signs with a new key (new kid); the old one is
	// withdrawn. The unknown kid makes the bridge fetch the keys again (no
	// more often than once per 30 s).
	as.jwks.Publish(map[string]*rsa.PrivateKey{"k2": keys[1]})
	as.clock.Advance(31 * time.Second)
	before := as.jwks.Hits.Load()
	rotated := as.jwt(t, keys[1], "k2", claims(nil))
	as.call(t, hc, bearer(rotated), http.MethodGet, "/scim/v2/Users", nil).expect(t, http.StatusOK)
	if as.jwks.Hits.Load() != before+1 {
		t.Errorf("key set fetched %d times for the new kid, want 1", as.jwks.Hits.Load()-before)
	}
	as.call(t, hc, bearer(rotated), http.MethodGet, "/scim/v2/Users", nil).expect(t, http.StatusOK)
	if as.jwks.Hits.Load() != before+1 {
		t.Error("the key set is fetched again for a known kid")
	}
	as.jwks.Publish(map[string]*rsa.PrivateKey{"k1": keys[0]})
	as.clock.Set(authStart)
}

// scenarioLimiter: repeated failures from one address (127.0.0.2) get 429
// with Retry-After, even for a valid token, while another address
// (127.0.0.3) is served normally; the block ends with the window.
func scenarioLimiter(t *testing.T, as *authServer) {
	blocked, other := clientFrom(t, "127.0.0.2"), clientFrom(t, "127.0.0.3")
	for i := range 3 {
		expectRefused(t, as.call(t, blocked, "Bearer wrong-token-0123456789-"+string(rune('a'+i)), http.MethodGet, "/scim/v2/Users", nil), http.StatusUnauthorized)
	}
	for _, authz := range []string{"Bearer wrong-token-0123456789-d", "Bearer " + testToken} {
		r := as.call(t, blocked, authz, http.MethodGet, "/scim/v2/Users", nil)
		expectRefused(t, r, http.StatusTooManyRequests)
		if ra := r.Header.Get("Retry-After"); ra == "" || ra == "0" {
			t.Errorf("429 with Retry-After %q", ra)
		}
	}
	// The admin API shares the limiter.
	expectRefused(t, as.call(t, blocked, "Bearer "+adminPlain, http.MethodGet, "/admin/status", nil), http.StatusTooManyRequests)
	// Another address is not affected, valid or not.
	as.call(t, other, "Bearer "+testToken, http.MethodGet, "/scim/v2/Users", nil).expect(t, http.StatusOK)
	expectRefused(t, as.call(t, other, "Bearer wrong-token-0123456789-e", http.MethodGet, "/scim/v2/Users", nil), http.StatusUnauthorized)
	// The block ends with the window.
	as.clock.Advance(61 * time.Second)
	as.call(t, blocked, "Bearer "+testToken, http.MethodGet, "/scim/v2/Users", nil).expect(t, http.StatusOK)
	as.clock.Set(authStart)
	if !strings.Contains(as.logs.String(), "too many failed authentication attempts from this address") {
		t.Error("the block is not logged")
	}
}

// scenarioAdmin: the admin API takes its plaintext token, a digest token
// (rotation: both at once), refuses an expired one and every SCIM
// credential, and its status lists the tenants' credentials by name and
// validity, never a secret.
func scenarioAdmin(t *testing.T, as *authServer) {
	hc := clientFrom(t, "")
	for _, tok := range []string{adminPlain, adminDigest} {
		r := as.call(t, hc, "Bearer "+tok, http.MethodGet, "/admin/status?tenant=acme", nil).expect(t, http.StatusOK)
		var st []TenantStatus
		if err := json.Unmarshal(r.Raw, &st); err != nil || len(st) != 1 {
			t.Fatalf("status %s: %v", r.Raw, err)
		}
		states := map[string]string{}
		for _, c := range st[0].Credentials {
			states[c.Method+" "+c.Name] = c.State
		}
		want := map[string]string{
			"bearer okta-2027": "valid", "bearer okta-2025": "expired", "bearer okta-2028": "not yet valid",
			"basic okta-basic":      "valid",
			"bearer scim_tokens[0]": "valid", // unnamed: its position, nothing of the token
		}
		for k, v := range want {
			if states[k] != v {
				t.Errorf("status credentials %v: %s is %q, want %q", states, k, states[k], v)
			}
		}
	}
	for _, c := range []struct {
		name, authz string
		want        []string
	}{
		{"expired admin token", "Bearer " + adminExpired, []string{`realm="scim-bridge-admin"`, "expired"}},
		{"SCIM token", "Bearer " + testToken, []string{`error="invalid_token"`}},
		{"Basic", basicAuth(basicUser, basicPassword), []string{`Bearer realm="scim-bridge-admin"`}},
		{"none", "", []string{`Bearer realm="scim-bridge-admin"`}},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := as.call(t, hc, c.authz, http.MethodGet, "/admin/status", nil)
			if r.Status != http.StatusUnauthorized || r.Body["status"] != "401" || r.Body["detail"] == "" {
				t.Errorf("got %d %s", r.Status, r.Raw)
			}
			ch := strings.Join(r.Header.Values("WWW-Authenticate"), "; ")
			for _, w := range c.want {
				if !strings.Contains(ch, w) {
					t.Errorf("WWW-Authenticate %q lacks %q", ch, w)
				}
			}
		})
	}
}

func TestAuthTokensAndBasic(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, url string) { scenarioTokensAndBasic(t, newAuthServer(t, url)) })
}

func TestAuthEntraJWT(t *testing.T) {
	t.Parallel()
	scenarioEntraJWT(t, newAuthServer(t, ""))
}

func TestAuthFailureLimiter(t *testing.T) {
	t.Parallel()
	scenarioLimiter(t, newAuthServer(t, ""))
}

// TestAuthLimiterBehindProxy: behind a trusted reverse proxy (127.0.0.1),
// failures count against the address the proxy names in X-Forwarded-For, so
// one failing client does not lock out an IdP behind the same proxy; an
// untrusted peer's X-Forwarded-For is ignored.
func TestAuthLimiterBehindProxy(t *testing.T) {
	t.Parallel()
	as := newAuthServer(t, "", func(o *Options) {
		o.Limiter = auth.NewLimiter(auth.LimiterOptions{MaxFailures: 3, Window: time.Minute, Now: o.Now})
		o.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	})
	proxy, direct := clientFrom(t, ""), clientFrom(t, "127.0.0.2")
	const xff = "X-Forwarded-For"
	get := func(hc *http.Client, authz, forwarded string) scimReply {
		return as.call(t, hc, authz, http.MethodGet, "/scim/v2/Users", nil, xff, forwarded)
	}
	for range 3 {
		expectRefused(t, get(proxy, "Bearer wrong-token-0123456789", "203.0.113.7"), http.StatusUnauthorized)
	}
	expectRefused(t, get(proxy, "Bearer "+testToken, "203.0.113.7"), http.StatusTooManyRequests)
	// The same client, having written an X-Forwarded-For entry of its own
	// that the proxy appended to.
	expectRefused(t, get(proxy, "Bearer "+testToken, "203.0.113.99, 203.0.113.7"), http.StatusTooManyRequests)
	// The IdP behind the same proxy is served.
	get(proxy, "Bearer "+testToken, "203.0.113.8").expect(t, http.StatusOK)
	expectRefused(t, get(proxy, "Bearer wrong-token-0123456789", "203.0.113.8"), http.StatusUnauthorized)
	// An untrusted peer is counted by its own address, whatever it claims.
	for i := range 3 {
		expectRefused(t, get(direct, "Bearer wrong-token-0123456789", fmt.Sprintf("198.51.100.%d", i)), http.StatusUnauthorized)
	}
	expectRefused(t, get(direct, "Bearer "+testToken, "203.0.113.8"), http.StatusTooManyRequests)
	get(proxy, "Bearer "+testToken, "203.0.113.8").expect(t, http.StatusOK)
	as.checkNoSecrets(t)
}

func TestAuthAdmin(t *testing.T) {
	t.Parallel()
	scenarioAdmin(t, newAuthServer(t, ""))
}

// TestAuthNoSecretAnywhere runs every authentication scenario on one
// server, its log at trace level, and checks that no
// configured token, password or digest, nor any presented JWT, appears in
// the log or in any response.
func TestAuthNoSecretAnywhere(t *testing.T) {
	t.Parallel()
	as := newAuthServer(t, "")
	scenarioTokensAndBasic(t, as)
	scenarioEntraJWT(t, as)
	scenarioLimiter(t, as)
	scenarioAdmin(t, as)
	if as.logs.String() == "" {
		t.Fatal("nothing was logged")
	}
	as.checkNoSecrets(t)
}

// logLines returns the JSON log lines with the message msg.
func logLines(t testing.TB, logs, msg string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(logs), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line is not JSON: %s", line)
		}
		if m["message"] == msg {
			out = append(out, m)
		}
	}
	return out
}

// hasLine reports whether one of lines has every field of want.
func hasLine(lines []map[string]any, want map[string]any) bool {
	for _, l := range lines {
		ok := true
		for k, v := range want {
			if l[k] != v {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}
