package bridge

import (
	"bytes"
	"context"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/scim-bridge/scim-bridge/bridge/auth"
	"github.com/scim-bridge/scim-bridge/internal/fakeclock"
	"github.com/scim-bridge/scim-bridge/internal/jwkstest"
)

// The credentials of the authentication tests. Tenant acme (Okta) accepts
// testToken (plaintext, as in older files), a digest token, an expired and a
// not-yet-valid token, and HTTP Basic; tenant contoso (Entra) accepts JWTs
// issued by Entra tenant entraTenantID, with keys from a local JWKS server.
const (
	digestToken   = "okta-digest-token-0123456789"
	expiredToken  = "okta-expired-token-0123456789"
	futureToken   = "okta-future-token-0123456789"
	basicUser     = "okta"
	basicPassword = "okta-basic-password-0123456789"

	adminPlain   = "admin-plain-token-0123456789"
	adminDigest  = "admin-digest-token-0123456789"
	adminExpired = "admin-expired-token-0123456789"

	entraTenantID = "cbb1a5ac-f33b-45fa-9bf5-f37db0fed422"
	entraAppID    = jwkstest.EntraAppID
)

// authStart is the fixed time of the authentication tests.
var authStart = time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)

// configuredSecrets are the secrets the tests configure or present: none may
// appear in a log line or a response.
func configuredSecrets() []string {
	s := []string{testToken, testToken2, digestToken, expiredToken, futureToken, basicPassword, adminPlain, adminDigest, adminExpired}
	for _, v := range []string{digestToken, futureToken, basicPassword, adminDigest, adminExpired} {
		s = append(s, strings.TrimPrefix(auth.Digest(v), auth.DigestPrefix)) // the whole digest neither
	}
	return s
}

// entraClaims are the claims of a token shaped like Entra's.
type entraClaims = jwkstest.EntraClaims

// validEntraClaims returns claims Entra would send at now for contoso.
func validEntraClaims(now time.Time) entraClaims {
	return jwkstest.EntraToken(now, entraTenantID, auth.EntraCustomAppAudience)
}

func basicAuth(user, pass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
}

// authServer is a bridge whose tenants use every authentication method, with
// a fake clock, a debug log kept for inspection, a local JWKS server and a
// record of every response (for the no-secret check).
type authServer struct {
	*testServer
	clock *fakeclock.Clock
	logs  *syncBuffer
	jwks  *jwkstest.Server

	mu      sync.Mutex
	replies []scimReply
	jwts    []string // every JWT presented
}

// newAuthServer starts the bridge. The failure limiter exempts 127.0.0.1
// (the address of every scenario but the limiter's) and refuses any other
// address after 3 failures a minute.
func newAuthServer(t testing.TB, redisURL string, mutate ...func(*Options)) *authServer {
	t.Helper()
	as := &authServer{clock: fakeclock.New(authStart), logs: &syncBuffer{}, jwks: jwkstest.NewServer(t)}
	as.jwks.Publish(map[string]*rsa.PrivateKey{"k1": jwkstest.Keys()[0]})
	now := as.clock.Now()
	as.testServer = newTestServer(t, redisURL, func(o *Options) {
		o.Now = as.clock.Now
		o.Logger = zerolog.New(as.logs).Level(zerolog.TraceLevel)
		o.Limiter = auth.NewLimiter(auth.LimiterOptions{MaxFailures: 3, Window: time.Minute, Now: as.clock.Now,
			Exempt: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}})
		o.Tenants[0].Credentials = auth.Credentials{
			Tokens: []auth.Token{
				{Name: "okta-2027", Value: auth.Digest(digestToken)},
				{Name: "okta-2025", Value: expiredToken, Window: auth.Window{Expires: now.Add(-time.Hour)}},
				{Name: "okta-2028", Value: auth.Digest(futureToken), Window: auth.Window{NotBefore: now.Add(24 * time.Hour)}},
			},
			Basic: []auth.BasicCredential{{Name: "okta-basic", Username: basicUser, Password: auth.Digest(basicPassword)}},
		}
		o.Tenants = append(o.Tenants, TenantOptions{ID: "contoso", Credentials: auth.Credentials{
			Entra: &auth.EntraConfig{TenantID: entraTenantID, JWKSURL: as.jwks.URL},
		}})
		o.AdminToken = adminPlain
		o.AdminTokens = []auth.Token{
			{Name: "admin-2027", Value: auth.Digest(adminDigest)},
			{Name: "admin-2025", Value: auth.Digest(adminExpired), Window: auth.Window{Expires: now.Add(-time.Hour)}},
		}
		for _, m := range mutate {
			m(o)
		}
	})
	return as
}

// jwt signs claims with the key and kid given and remembers the token.
func (as *authServer) jwt(t testing.TB, key *rsa.PrivateKey, kid string, claims any) string {
	tok := jwkstest.Sign(t, key, kid, claims)
	as.remember(tok)
	return tok
}

func (as *authServer) remember(jwt string) {
	as.mu.Lock()
	defer as.mu.Unlock()
	as.jwts = append(as.jwts, jwt)
}

// clientFrom returns an HTTP client whose connections come from the
// loopback address ip ("" means the default, 127.0.0.1).
func clientFrom(t testing.TB, ip string) *http.Client {
	t.Helper()
	if ip == "" {
		return &http.Client{Timeout: 10 * time.Second}
	}
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
	tr := &http.Transport{DialContext: d.DialContext}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

// call sends one request to the bridge (path from the root: /scim/v2/...,
// /admin/...) with the Authorization header authz ("" for none) through hc,
// and the extra headers (name, value pairs), records the response and
// returns it.
func (as *authServer) call(t testing.TB, hc *http.Client, authz, method, path string, body any, headers ...string) scimReply {
	t.Helper()
	var rd io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(context.Background(), method, as.srv.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if authz != "" {
		req.Header.Set("Authorization", authz)
	}
	if rd != nil {
		req.Header.Set("Content-Type", contentTypeSCIM)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	r := scimReply{Status: resp.StatusCode, Header: resp.Header, Raw: raw}
	if len(bytes.TrimSpace(raw)) > 0 {
		_ = json.Unmarshal(raw, &r.Body)
	}
	as.mu.Lock()
	as.replies = append(as.replies, r)
	as.mu.Unlock()
	return r
}

// expectRefused checks a refused request: the status, a SCIM error body
// with status and detail, and (for 401) a WWW-Authenticate challenge
// containing each of want.
func expectRefused(t testing.TB, r scimReply, status int, want ...string) {
	t.Helper()
	r.expectError(t, status, "")
	if d, _ := r.Body["detail"].(string); d == "" {
		t.Errorf("%d without a detail: %s", status, r.Raw)
	}
	if status == http.StatusUnauthorized {
		ch := strings.Join(r.Header.Values("WWW-Authenticate"), "; ")
		if ch == "" {
			t.Errorf("401 without WWW-Authenticate: %s", r.Raw)
		}
		for _, w := range want {
			if !strings.Contains(ch, w) {
				t.Errorf("WWW-Authenticate %q lacks %q", ch, w)
			}
		}
	}
}

// checkNoSecrets fails t when a configured secret or a presented JWT appears
// in the log or in any response (body or header).
func (as *authServer) checkNoSecrets(t testing.TB) {
	t.Helper()
	as.mu.Lock()
	defer as.mu.Unlock()
	var all strings.Builder
	all.WriteString(as.logs.String())
	for _, r := range as.replies {
		all.Write(r.Raw)
		fmt.Fprint(&all, r.Header)
	}
	text := all.String()
	secrets := append(configuredSecrets(), as.jwts...)
	for _, jwt := range as.jwts {
		secrets = append(secrets, jwt[strings.LastIndexByte(jwt, '.')+1:]) // not even the signature
	}
	for i, s := range secrets {
		if len(s) >= 8 && strings.Contains(text, s) {
			t.Errorf("secret #%d of %d (configured or presented) appears in the log or a response", i, len(secrets))
		}
	}
}
