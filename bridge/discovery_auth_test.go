package bridge

import (
	"net/http"
	"testing"
	"time"
)

// TestDiscoveryCredential: discovery needs no credential, and one without
// gets the generic schemas whatever its address did; a credential presented
// there is checked as on every other endpoint. A valid one sees its tenant's
// extensions; a refused one gets 401 with a challenge and counts as a failed
// attempt; a blocked address that presents one gets 429, valid or not, so
// discovery cannot serve to test guessed tokens outside the limiter (its
// answer differs for a valid token).
func TestDiscoveryCredential(t *testing.T) {
	t.Parallel()
	as := newAuthServer(t, "", withConfigExtensions(t, "extensions.yaml"))
	hc := clientFrom(t, "127.0.0.4") // not exempt: blocked after 3 failures a minute
	const stale = "Bearer stale-token-xxxxxxxxxxxx"
	valid := "Bearer " + testToken
	hasExt := func(r scimReply) bool {
		for _, s := range jlist(r.Body, "Resources") {
			if jstr(s, "id") == acmeUserExt {
				return true
			}
		}
		return false
	}
	schemas := func(authz string) scimReply {
		return as.call(t, hc, authz, http.MethodGet, "/scim/v2/Schemas", nil)
	}

	// Without credentials: the generic schemas, never counted.
	for range 5 {
		if r := schemas("").expect(t, http.StatusOK); hasExt(r) {
			t.Fatal("a tenant's extension shown without its token")
		}
	}
	if r := schemas(valid).expect(t, http.StatusOK); !hasExt(r) {
		t.Fatal("acme's token: /Schemas lacks its extension")
	}

	// A stale token: 401 with an invalid_token challenge, counted.
	for _, path := range []string{"/scim/v2/Schemas", "/scim/v2/ResourceTypes", "/scim/v2/ServiceProviderConfig"} {
		expectRefused(t, as.call(t, hc, stale, http.MethodGet, path, nil), http.StatusUnauthorized, `error="invalid_token"`)
	}
	// Three failures: the address is blocked, on discovery too, for a valid
	// token as for any other: the answer tells nothing about the token.
	for _, authz := range []string{stale, valid} {
		for _, path := range []string{"/scim/v2/Schemas", "/scim/v2/ResourceTypes/User", "/scim/v2/ServiceProviderConfig", "/scim/v2/Users"} {
			r := as.call(t, hc, authz, http.MethodGet, path, nil)
			expectRefused(t, r, http.StatusTooManyRequests)
			if r.Header.Get("Retry-After") == "" {
				t.Errorf("%s: 429 without Retry-After", path)
			}
		}
	}
	// Without credentials, discovery still answers, generically.
	if r := schemas("").expect(t, http.StatusOK); hasExt(r) {
		t.Fatal("a tenant's extension shown without its token")
	}
	// Another address is not affected; the block ends with the window.
	as.call(t, clientFrom(t, "127.0.0.5"), valid, http.MethodGet, "/scim/v2/Schemas", nil).expect(t, http.StatusOK)
	as.clock.Advance(61 * time.Second)
	if r := schemas(valid).expect(t, http.StatusOK); !hasExt(r) {
		t.Fatal("after the window: /Schemas lacks acme's extension")
	}
	as.call(t, hc, valid, http.MethodGet, "/scim/v2/Users", nil).expect(t, http.StatusOK)
	as.checkNoSecrets(t)
}
