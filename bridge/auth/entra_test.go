package auth

import (
	"context"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/scim-bridge/scim-bridge/internal/fakeclock"
)

// entraFixture is a tenant "contoso" accepting Entra JWTs whose keys come
// from a local JWKS server publishing key 0 as "k1".
type entraFixture struct {
	a     *Authenticator
	clock *fakeclock.Clock
	jwks  *jwksServer
	keys  []*rsa.PrivateKey
	logs  *syncBuffer
}

func newEntraFixture(t testing.TB) *entraFixture {
	t.Helper()
	f := &entraFixture{clock: newClock(), jwks: newJWKSServer(t), keys: rsaKeys(), logs: &syncBuffer{}}
	f.jwks.Publish(map[string]*rsa.PrivateKey{"k1": f.keys[0]})
	a, err := New(Options{
		Tenants: []Tenant{
			{ID: "contoso", Credentials: Credentials{Entra: &EntraConfig{TenantID: testEntraTenant, JWKSURL: f.jwks.URL + "/keys"}}},
			{ID: "acme", Credentials: Credentials{Tokens: []Token{{Value: acmeOld}}}},
		},
		ByCredential: true,
		HTTPClient:   f.jwks.Client(),
		Logger:       testLogger(f.logs),
		Now:          f.clock.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	f.a = a
	return f
}

func (f *entraFixture) auth(tok string) (Identity, error) {
	return f.a.Authenticate(request("Bearer "+tok, ""))
}

// mustAccept checks a fresh token signed with key under kid is accepted.
func (f *entraFixture) mustAccept(t *testing.T, key *rsa.PrivateKey, kid string) {
	t.Helper()
	if _, err := f.auth(signRS256(t, key, kid, validClaims(f.clock.Now()))); err != nil {
		t.Fatalf("token signed by %s: %v", kid, err)
	}
}

// waitRefreshes waits for the background refetches of key sets started so far.
func (f *entraFixture) waitRefreshes() {
	for _, e := range f.a.entras {
		e.keys.background.Wait()
	}
}

// wantHits checks the number of key set fetches so far.
func (f *entraFixture) wantHits(t *testing.T, n int64) {
	t.Helper()
	if h := f.jwks.Hits.Load(); h != n {
		t.Fatalf("key set fetched %d times, want %d", h, n)
	}
}

func TestEntraJWT(t *testing.T) {
	t.Parallel()
	f := newEntraFixture(t)
	now := f.clock.Now()
	k1, k2 := f.keys[0], f.keys[1]
	mod := func(m func(*entraToken)) entraToken {
		c := validClaims(now)
		m(&c)
		return c
	}
	pubDER, err := x509.MarshalPKIXPublicKey(&k1.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	hs256 := func(secret []byte) func(string) []byte {
		return func(in string) []byte {
			m := hmac.New(sha256.New, secret)
			m.Write([]byte(in))
			return m.Sum(nil)
		}
	}
	tests := []struct {
		name    string
		tok     string
		wantErr error
	}{
		{"valid", signRS256(t, k1, "k1", validClaims(now)), nil},
		{"valid, second audience list entry", signRS256(t, k1, "k1", mod(func(c *entraToken) { c.Audience = jwt.Audience{"other", EntraCustomAppAudience} })), nil},
		{"valid within clock skew after exp", signRS256(t, k1, "k1", mod(func(c *entraToken) { c.Expiry = jwt.NewNumericDate(now.Add(-30 * time.Second)) })), nil},
		{"expired", signRS256(t, k1, "k1", mod(func(c *entraToken) { c.Expiry = jwt.NewNumericDate(now.Add(-2 * time.Minute)) })), ErrExpired},
		{"not yet valid", signRS256(t, k1, "k1", mod(func(c *entraToken) { c.NotBefore = jwt.NewNumericDate(now.Add(5 * time.Minute)) })), ErrNotYetValid},
		{"issued in the future", signRS256(t, k1, "k1", mod(func(c *entraToken) { c.IssuedAt = jwt.NewNumericDate(now.Add(5 * time.Minute)) })), ErrInvalid},
		{"no exp", signRS256(t, k1, "k1", mod(func(c *entraToken) { c.Expiry = nil })), ErrInvalid},
		{"wrong issuer", signRS256(t, k1, "k1", mod(func(c *entraToken) { c.Issuer = "https://sts.windows.net/00000000-0000-0000-0000-000000000000/" })), ErrInvalid},
		{"issuer without trailing slash", signRS256(t, k1, "k1", mod(func(c *entraToken) { c.Issuer = strings.TrimSuffix(testIssuer, "/") })), ErrInvalid},
		{"v2 issuer", signRS256(t, k1, "k1", mod(func(c *entraToken) { c.Issuer = "https://login.microsoftonline.com/" + testEntraTenant + "/v2.0" })), ErrInvalid},
		{"wrong audience", signRS256(t, k1, "k1", mod(func(c *entraToken) { c.Audience = jwt.Audience{"https://graph.microsoft.com"} })), ErrInvalid},
		{"audience differing in case", signRS256(t, k1, "k1", mod(func(c *entraToken) { c.Audience = jwt.Audience{strings.ToUpper(EntraCustomAppAudience)} })), ErrInvalid},
		{"wrong key under a known kid", signRS256(t, k2, "k1", validClaims(now)), ErrInvalid},
		{"alg none", rawJWT(t, map[string]string{"alg": "none", "typ": "JWT", "kid": "k1"}, validClaims(now), func(string) []byte { return nil }), ErrInvalid},
		{"HS256 keyed with the public key PEM", rawJWT(t, map[string]string{"alg": "HS256", "typ": "JWT", "kid": "k1"}, validClaims(now), hs256(pubPEM)), ErrInvalid},
		{"HS256 keyed with the public key DER", rawJWT(t, map[string]string{"alg": "HS256", "typ": "JWT", "kid": "k1"}, validClaims(now), hs256(pubDER)), ErrInvalid},
		{"RS512", rawJWT(t, map[string]string{"alg": "RS512", "typ": "JWT", "kid": "k1"}, validClaims(now), func(string) []byte { return []byte("x") }), ErrInvalid},
		{"no kid", rawJWT(t, map[string]string{"alg": "RS256", "typ": "JWT"}, validClaims(now), func(string) []byte { return []byte("x") }), ErrInvalid},
		{"tampered payload", tamper(t, signRS256(t, k1, "k1", validClaims(now)), mod(func(c *entraToken) { c.AppID = "someone-else" })), ErrInvalid},
		{"garbage with JWT shape", "eyJhbGciOi.eyJpc3Mi.c2ln", ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, err := f.auth(tt.tok)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("err = %v", err)
				}
				want := Identity{Tenant: "contoso", Method: MethodJWT, Name: "jwt:00000014-0000-0000-c000-000000000000"}
				if id.Expires.IsZero() || id.Expires.After(now.Add(time.Hour)) {
					t.Fatalf("expires %s", id.Expires)
				}
				id.Expires = time.Time{}
				if id != want {
					t.Fatalf("identity %+v, want %+v", id, want)
				}
				return
			}
			var ae *Error
			if !errors.As(err, &ae) || !errors.Is(err, tt.wantErr) || ae.Status != http.StatusUnauthorized {
				t.Fatalf("err = %v, want a 401 wrapping %v", err, tt.wantErr)
			}
			if c := ae.Challenges(); len(c) != 1 || !strings.HasPrefix(c[0], `Bearer realm="scim-bridge", error="invalid_token"`) {
				t.Fatalf("challenges %q", c)
			}
			if strings.Contains(err.Error(), tt.tok) || strings.Contains(err.Error(), strings.Split(tt.tok, ".")[2]+".") {
				t.Fatal("error quotes the token")
			}
		})
	}
	if h := f.jwks.Hits.Load(); h > 2 {
		// one fetch for the first token; the unknown-kid cases above had a
		// known kid, so nothing else should have been fetched
		t.Fatalf("%d key set fetches", h)
	}
	// The URL tenant form accepts the JWT for its tenant only.
	tok := signRS256(t, k1, "k1", validClaims(now))
	if _, err := f.a.AuthenticateTenant(request("Bearer "+tok, ""), "contoso"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.a.AuthenticateTenant(request("Bearer "+tok, ""), "acme"); !errors.Is(err, ErrInvalid) {
		t.Fatalf("JWT accepted for a tenant without Entra: %v", err)
	}
}

// tamper replaces the payload of a compact JWS with claims, keeping the
// header and the signature.
func tamper(t *testing.T, tok string, claims entraToken) string {
	t.Helper()
	parts := strings.Split(tok, ".")
	b, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	return parts[0] + "." + base64.RawURLEncoding.EncodeToString(b) + "." + parts[2]
}

func TestEntraKeyRotation(t *testing.T) {
	t.Parallel()
	f := newEntraFixture(t)
	k1, k2 := f.keys[0], f.keys[1]
	f.mustAccept(t, k1, "k1")
	f.wantHits(t, 1)
	// Entra starts signing with a new key, published beside the old one.
	f.jwks.Publish(map[string]*rsa.PrivateKey{"k1": k1, "k2": k2})
	f.clock.Advance(DefaultKeysMinRefresh)
	f.mustAccept(t, k2, "k2")
	f.wantHits(t, 2)
	// Known kids are served from the cache.
	for range 5 {
		f.mustAccept(t, k1, "k1")
	}
	f.wantHits(t, 2)
	// The old key is withdrawn; after the TTL the set is fetched again (in
	// the background: the request that notices serves from the cache) and
	// tokens of the old key fail once it has arrived.
	f.jwks.Publish(map[string]*rsa.PrivateKey{"k2": k2})
	f.clock.Advance(DefaultKeysTTL)
	f.mustAccept(t, k2, "k2")
	f.waitRefreshes()
	f.wantHits(t, 3)
	if _, err := f.auth(signRS256(t, k1, "k1", validClaims(f.clock.Now()))); !errors.Is(err, ErrInvalid) {
		t.Fatalf("withdrawn key accepted: %v", err)
	}
	f.mustAccept(t, k2, "k2")
	f.wantHits(t, 3)
}

func TestEntraRefreshRateLimit(t *testing.T) {
	t.Parallel()
	f := newEntraFixture(t)
	k1, k3 := f.keys[0], f.keys[2]
	f.mustAccept(t, k1, "k1")
	// A flood of tokens with made-up kids costs no fetch within the interval...
	for i := range 20 {
		tok := signRS256(t, k3, "made-up-"+string(rune('a'+i)), validClaims(f.clock.Now()))
		if _, err := f.auth(tok); !errors.Is(err, ErrInvalid) {
			t.Fatalf("made-up kid: %v", err)
		}
		f.clock.Advance(time.Second)
	}
	f.wantHits(t, 1)
	// ...and one per interval after it.
	f.clock.Advance(DefaultKeysMinRefresh)
	for range 5 {
		_, _ = f.auth(signRS256(t, k3, "made-up", validClaims(f.clock.Now())))
	}
	f.wantHits(t, 2)
	// A new key published during the interval is found once it ends.
	f.jwks.Publish(map[string]*rsa.PrivateKey{"k1": k1, "k3": k3})
	tok := signRS256(t, k3, "k3", validClaims(f.clock.Now()))
	if _, err := f.auth(tok); !errors.Is(err, ErrInvalid) {
		t.Fatalf("k3 before the interval ended: %v", err)
	}
	f.clock.Advance(DefaultKeysMinRefresh)
	f.mustAccept(t, k3, "k3")
}

// TestEntraSingleFetch checks that concurrent requests naming an unknown kid
// share one fetch.
func TestEntraSingleFetch(t *testing.T) {
	t.Parallel()
	f := newEntraFixture(t)
	k1 := f.keys[0]
	gate := make(chan struct{})
	f.jwks.SetGate(gate)
	tok := signRS256(t, k1, "k1", validClaims(f.clock.Now()))
	const n = 16
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Go(func() {
			_, err := f.auth(tok)
			errs <- err
		})
	}
	// Wait until the first fetch is in flight, give the others time to pile
	// up behind it, then let it finish.
	for f.jwks.Hits.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond)
	close(gate)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	f.wantHits(t, 1)
}

func TestEntraKeysUnavailable(t *testing.T) {
	t.Parallel()
	f := newEntraFixture(t)
	k1 := f.keys[0]
	f.mustAccept(t, k1, "k1")
	// The key server fails: known keys stay in use past the TTL.
	f.jwks.Close()
	f.clock.Advance(DefaultKeysTTL + time.Minute)
	f.mustAccept(t, k1, "k1")
	f.waitRefreshes()
	f.mustAccept(t, k1, "k1")
	if !strings.Contains(f.logs.String(), "fetching the JWT signing keys failed") {
		t.Fatalf("fetch failure not logged: %s", f.logs.String())
	}
}

func TestEntraExpiredLogged(t *testing.T) {
	t.Parallel()
	f := newEntraFixture(t)
	c := validClaims(f.clock.Now())
	c.Expiry = jwt.NewNumericDate(f.clock.Now().Add(-time.Hour))
	tok := signRS256(t, f.keys[0], "k1", c)
	if _, err := f.auth(tok); !errors.Is(err, ErrExpired) {
		t.Fatal(err)
	}
	out := f.logs.String()
	if !strings.Contains(out, `"tenant":"contoso"`) || !strings.Contains(out, `"credential":"jwt:00000014-0000-0000-c000-000000000000"`) {
		t.Fatalf("log: %s", out)
	}
	if strings.Contains(out, strings.Split(tok, ".")[2]) {
		t.Fatal("log holds the token's signature")
	}
}

func TestParseKeySet(t *testing.T) {
	t.Parallel()
	k := rsaKeys()[0]
	b64 := base64.RawURLEncoding.EncodeToString
	good := `{"kty":"RSA","kid":"good","use":"sig","n":"` + b64(k.N.Bytes()) + `","e":"AQAB"}`
	tests := []struct {
		name string
		body string
		kids []string
	}{
		{"one good key", `{"keys":[` + good + `]}`, []string{"good"}},
		{"bad keys skipped", `{"keys":[{"kty":"EC","kid":"ec","crv":"P-256","x":"x","y":"y"},{"kty":"oct","kid":"h","k":"c2VjcmV0"},` +
			`{"kty":"RSA","kid":"enc","use":"enc","n":"` + b64(k.N.Bytes()) + `","e":"AQAB"},` +
			`{"kty":"RSA","kid":"small","n":"` + b64(k.N.Bytes()[:64]) + `","e":"AQAB"},` + good + `]}`, []string{"good"}},
		{"no usable key", `{"keys":[{"kty":"oct","kid":"h","k":"c2VjcmV0"}]}`, nil},
		{"not json", `<html>`, nil},
	}
	for _, tt := range tests {
		keys, err := parseKeySet([]byte(tt.body))
		if tt.kids == nil {
			if err == nil {
				t.Errorf("%s: no error", tt.name)
			}
			continue
		}
		if err != nil || len(keys) != len(tt.kids) || keys["good"] == nil {
			t.Errorf("%s: %v %v", tt.name, keys, err)
		}
	}
}

func TestEntraNeedsHTTPClient(t *testing.T) {
	t.Parallel()
	_, err := New(Options{Tenants: []Tenant{{ID: "c", Credentials: Credentials{Entra: &EntraConfig{TenantID: testEntraTenant}}}}})
	if err == nil || !strings.Contains(err.Error(), "HTTP client") {
		t.Fatalf("err = %v", err)
	}
}

// TestKeySetContext checks a fetch is not cancelled by the first caller's
// request context (other callers share it).
func TestKeySetContext(t *testing.T) {
	t.Parallel()
	f := newEntraFixture(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r := httptest.NewRequestWithContext(ctx, http.MethodGet, "/scim/v2/Users", nil)
	r.Header.Set("Authorization", "Bearer "+signRS256(t, f.keys[0], "k1", validClaims(f.clock.Now())))
	if _, err := f.a.Authenticate(r); err != nil {
		t.Fatalf("fetch under a cancelled request: %v", err)
	}
}

// TestEntraStaleKeysDoNotWait: past the TTL, a token whose kid is known is
// answered from the cache at once while the key set is fetched again in the
// background, even when the key server hangs; the fetch happens once, and
// its keys are used when it completes. An unknown kid still waits for it.
func TestEntraStaleKeysDoNotWait(t *testing.T) {
	t.Parallel()
	f := newEntraFixture(t)
	k1, k2 := f.keys[0], f.keys[1]
	f.mustAccept(t, k1, "k1")
	f.wantHits(t, 1)

	gate := make(chan struct{}) // the key server hangs until it is closed
	f.jwks.SetGate(gate)
	released := false
	release := func() {
		if !released {
			released = true
			close(gate)
		}
	}
	t.Cleanup(func() { release(); f.waitRefreshes() })
	f.jwks.Publish(map[string]*rsa.PrivateKey{"k1": k1, "k2": k2})
	f.clock.Advance(DefaultKeysTTL + time.Second)

	tok := signRS256(t, k1, "k1", validClaims(f.clock.Now()))
	for i := range 3 {
		done := make(chan error, 1)
		go func() {
			_, err := f.auth(tok)
			done <- err
		}()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("known kid, stale set, request %d: %v", i+1, err)
			}
		case <-time.After(3 * time.Second):
			t.Fatalf("a token with a known kid waited for the hanging key server (request %d)", i+1)
		}
	}
	// One refetch, in the background, however many requests noticed.
	for deadline := time.Now().Add(5 * time.Second); f.jwks.Hits.Load() < 2; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the stale key set is not fetched again in the background")
		}
	}
	release()
	f.waitRefreshes()
	f.wantHits(t, 2)
	// Its keys are in use: k2 is known without another fetch.
	f.mustAccept(t, k2, "k2")
	f.wantHits(t, 2)
}

// TestEntraKeysNoRedirect: the key set is fetched from the configured URL
// only; a redirect (here from https to plain http on another server) is
// refused with a clear error and the target is never asked.
func TestEntraKeysNoRedirect(t *testing.T) {
	t.Parallel()
	target := newJWKSServer(t)
	target.Publish(map[string]*rsa.PrivateKey{"k1": rsaKeys()[0]})
	redirector := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.URL+"/keys", http.StatusFound)
	}))
	t.Cleanup(redirector.Close)
	c := newClock()
	logs := &syncBuffer{}
	a, err := New(Options{
		Tenants:      []Tenant{{ID: "contoso", Credentials: Credentials{Entra: &EntraConfig{TenantID: testEntraTenant, JWKSURL: redirector.URL + "/keys"}}}},
		ByCredential: true,
		HTTPClient:   redirector.Client(), // trusts its certificate; follows redirects by default
		Logger:       testLogger(logs),
		Now:          c.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = a.Authenticate(request("Bearer "+signRS256(t, rsaKeys()[0], "k1", validClaims(c.Now())), ""))
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), errRedirect.Error()+" (to http://") {
		t.Fatalf("err = %v, want a refused redirect", err)
	}
	if n := target.Hits.Load(); n != 0 {
		t.Fatalf("the redirect target was asked %d times", n)
	}
	if out := logs.String(); !strings.Contains(out, "redirect refused") || !strings.Contains(out, "jwks_url") {
		t.Fatalf("the refused redirect is not logged clearly: %s", out)
	}
}
