package bridge

import (
	"net/http"
	"net/netip"
	"strings"
	"testing"
)

// TestEndpointNamesCaseInsensitive: clients and validators use /users and
// /groups; every endpoint name answers in any case and Location stays canonical.
func TestEndpointNamesCaseInsensitive(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, redisURL string) {
		ts := newTestServer(t, redisURL)
		post := ts.callSCIM(t, testToken, http.MethodPost, "/users", userDoc("case.user")).expect(t, http.StatusCreated)
		id := jstr(post.Body, "id")
		wantLoc := ts.srv.URL + "/scim/v2/Users/" + id
		if loc := post.Header.Get("Location"); loc != wantLoc {
			t.Errorf("Location %q, want %q", loc, wantLoc)
		}
		if loc := jstr(post.Body, "meta.location"); loc != wantLoc {
			t.Errorf("meta.location %q, want %q", loc, wantLoc)
		}
		for _, p := range []string{"/users/" + id, "/USERS/" + id, "/Users/" + id} {
			r := ts.callSCIM(t, testToken, http.MethodGet, p, nil).expect(t, http.StatusOK)
			if loc := jstr(r.Body, "meta.location"); loc != wantLoc {
				t.Errorf("GET %s: meta.location %q, want %q", p, loc, wantLoc)
			}
		}
		g := ts.callSCIM(t, testToken, http.MethodPost, "/groups", groupDoc("Case Group", id)).expect(t, http.StatusCreated)
		if !strings.HasSuffix(g.Header.Get("Location"), "/scim/v2/Groups/"+jstr(g.Body, "id")) {
			t.Errorf("group Location %q is not canonical", g.Header.Get("Location"))
		}
		ts.callSCIM(t, testToken, http.MethodGet, "/groups?filter=displayName%20eq%20%22Case%20Group%22", nil).expect(t, http.StatusOK)
		ts.callSCIM(t, testToken, http.MethodPost, "/users/.SEARCH", map[string]any{"schemas": []string{SearchSchema}}).expect(t, http.StatusOK)
		ts.callSCIM(t, testToken, http.MethodPatch, "/Users/"+id, patchDoc("replace", "active", false)).expect(t, http.StatusOK)
		for _, p := range []string{"/serviceproviderconfig", "/SERVICEPROVIDERCONFIG", "/schemas", "/resourcetypes", "/resourceTypes/User",
			"/schemas/" + UserSchema} {
			r := ts.callSCIM(t, "", http.MethodGet, p, nil).expect(t, http.StatusOK)
			if loc := jstr(r.Body, "meta.location"); loc != "" && strings.Contains(strings.ToLower(loc), "resourcetypes") && !strings.Contains(loc, "/ResourceTypes/") {
				t.Errorf("GET %s: meta.location %q is not canonical", p, loc)
			}
		}
		r := ts.callSCIM(t, "", http.MethodGet, "/serviceproviderconfig", nil)
		if loc := jstr(r.Body, "meta.location"); loc != ts.srv.URL+"/scim/v2/ServiceProviderConfig" {
			t.Errorf("ServiceProviderConfig meta.location %q", loc)
		}
		ts.callSCIM(t, testToken, http.MethodDelete, "/users/"+id, nil).expect(t, http.StatusNoContent)
		ts.callSCIM(t, testToken, http.MethodGet, "/widgets", nil).expectError(t, http.StatusNotFound, "")
	})
}

// TestForwardedHeadersOnlyFromTrustedProxies: meta.location follows
// X-Forwarded-Proto/Host from a trusted proxy and ignores them otherwise.
func TestForwardedHeadersOnlyFromTrustedProxies(t *testing.T) {
	t.Parallel()
	fwd := []string{"X-Forwarded-Proto", "https", "X-Forwarded-Host", "scim.example.com"}

	untrusted := newTestServer(t, "")
	r := untrusted.callSCIM(t, testToken, http.MethodPost, "/Users", userDoc("proxy.user"), fwd...).expect(t, http.StatusCreated)
	if loc := r.Header.Get("Location"); !strings.HasPrefix(loc, untrusted.srv.URL+"/scim/v2/Users/") {
		t.Errorf("untrusted peer: Location %q follows forwarded headers", loc)
	}

	trusted := newTestServer(t, "", func(o *Options) {
		o.LocationProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	})
	r = trusted.callSCIM(t, testToken, http.MethodPost, "/Users", userDoc("proxy.user"), fwd...).expect(t, http.StatusCreated)
	id := jstr(r.Body, "id")
	want := "https://scim.example.com/scim/v2/Users/" + id
	if loc := r.Header.Get("Location"); loc != want {
		t.Errorf("trusted proxy: Location %q, want %q", loc, want)
	}
	if loc := jstr(r.Body, "meta.location"); loc != want {
		t.Errorf("trusted proxy: meta.location %q, want %q", loc, want)
	}
	// A forwarded host that is not a host is ignored.
	r = trusted.callSCIM(t, testToken, http.MethodGet, "/Users/"+id, nil, "X-Forwarded-Host", "evil.example/path?x").expect(t, http.StatusOK)
	if loc := jstr(r.Body, "meta.location"); strings.Contains(loc, "evil") {
		t.Errorf("malformed X-Forwarded-Host used: %q", loc)
	}
	// PublicURL wins over everything.
	pinned := newTestServer(t, "", func(o *Options) {
		o.PublicURL = "https://public.example.org/scim/v2"
		o.LocationProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	})
	r = pinned.callSCIM(t, testToken, http.MethodPost, "/Users", userDoc("proxy.user"), fwd...).expect(t, http.StatusCreated)
	if loc := r.Header.Get("Location"); !strings.HasPrefix(loc, "https://public.example.org/scim/v2/Users/") {
		t.Errorf("PublicURL: Location %q", loc)
	}
}
