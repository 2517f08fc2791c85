package bridge

import (
	"net/http"
	"strings"
	"testing"
)

func TestBearerAuth(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, "", func(o *Options) {
		o.Tenants[0].SCIMTokens = append(o.Tenants[0].SCIMTokens, "second-acme-token-abcdef")
	})
	ts.mustCreate(t, "/Users", userDoc("auth.user"))
	cases := []struct {
		name   string
		header string // Authorization; "" sends none
		ok     bool
	}{
		{"missing", "", false},
		{"wrong token", "Bearer not-a-token-of-anyone", false},
		{"token of no tenant, almost right", "Bearer " + testToken + "x", false},
		{"prefix of a token", "Bearer " + testToken[:len(testToken)-1], false},
		{"scheme only", "Bearer", false},
		{"scheme and blanks", "Bearer    ", false},
		{"no space", "Bearer" + testToken, false},
		{"basic scheme", "Basic " + testToken, false},
		{"token scheme", "Token " + testToken, false},
		{"bare token", testToken, false},
		{"lower-case scheme", "bearer " + testToken, true},
		{"upper-case scheme", "BEARER " + testToken, true},
		{"mixed-case scheme", "BeArEr " + testToken, true},
		{"second token of the tenant", "Bearer second-acme-token-abcdef", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var hdr []string
			if c.header != "" {
				hdr = []string{"Authorization", c.header}
			}
			for _, m := range []struct{ method, path string }{
				{http.MethodGet, "/Users"},
				{http.MethodPost, "/Users"},
				{http.MethodGet, "/Groups/some-id"},
				{http.MethodDelete, "/Users/some-id"},
				{http.MethodGet, "/Widgets"},
			} {
				var body any
				if m.method == http.MethodPost {
					body = userDoc("auth." + strings.ReplaceAll(c.name, " ", "-"))
				}
				r := ts.callSCIM(t, "", m.method, m.path, body, hdr...)
				if c.ok {
					if r.Status == http.StatusUnauthorized {
						t.Errorf("%s %s with %q: 401", m.method, m.path, c.header)
					}
					continue
				}
				r.expectError(t, http.StatusUnauthorized, "")
				if wa := r.Header.Get("WWW-Authenticate"); !strings.HasPrefix(strings.ToLower(wa), "bearer") {
					t.Errorf("%s %s: WWW-Authenticate %q, want a Bearer challenge", m.method, m.path, wa)
				}
				if strings.Contains(string(r.Raw), testToken[:12]) {
					t.Errorf("401 body echoes the token: %s", r.Raw)
				}
			}
		})
	}
	// A valid token sees the tenant's data.
	r := ts.callSCIM(t, "", http.MethodGet, `/Users?filter=userName+sw+"auth."`, nil, "Authorization", "bearer "+testToken).expect(t, http.StatusOK)
	if jnum(t, r.Body, "totalResults") != 5 { // auth.user and one per accepted scheme spelling
		t.Errorf("acme's users: %s", r.Raw)
	}
}

// TestTenantIsolation checks that a token of one tenant can neither see nor touch
// another tenant's resources: their ids answer 404 (not 403, which would confirm
// they exist), and lists and lookups never show them.
func TestTenantIsolation(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, redisURL string) {
		ts := newTestServer(t, redisURL)
		acmeUser := ts.mustCreateAs(t, testToken, "/Users", userDoc("shared.name@example.com", "externalId", "ext-1"))
		uid := jstr(acmeUser, "id")
		gid := jstr(ts.mustCreateAs(t, testToken, "/Groups", groupDoc("Admins", uid)), "id")
		userV, groupV := ts.mustVersion(t, "/Users/"+uid), ts.mustVersion(t, "/Groups/"+gid)

		// globex may use the same userName, externalId and group name: uniqueness is per tenant.
		gu := ts.mustCreateAs(t, testToken2, "/Users", userDoc("SHARED.NAME@example.com", "externalId", "ext-1"))
		ts.mustCreateAs(t, testToken2, "/Groups", groupDoc("Admins"))
		if jstr(gu, "id") == uid {
			t.Fatal("two tenants got the same id")
		}

		for _, c := range []struct {
			method, path string
			body         any
		}{
			{http.MethodGet, "/Users/" + uid, nil},
			{http.MethodGet, "/Groups/" + gid, nil},
			{http.MethodPut, "/Users/" + uid, userDoc("taken.over")},
			{http.MethodPut, "/Groups/" + gid, groupDoc("Taken")},
			{http.MethodPatch, "/Users/" + uid, patchDoc("replace", "active", false)},
			{http.MethodPatch, "/Groups/" + gid, patchDoc("remove", "members", nil)},
			{http.MethodDelete, "/Users/" + uid, nil},
			{http.MethodDelete, "/Groups/" + gid, nil},
			{http.MethodGet, "/Users/" + gid, nil}, // a group id is not a user either
		} {
			ts.callSCIM(t, testToken2, c.method, c.path, c.body).expectError(t, http.StatusNotFound, "")
		}
		// globex can not make acme's user a member of its groups.
		ts.callSCIM(t, testToken2, http.MethodPost, "/Groups", groupDoc("Stolen", uid)).expectError(t, http.StatusBadRequest, "invalidValue")

		for _, p := range []string{
			"/Users", "/Groups",
			`/Users?filter=userName+eq+"shared.name@example.com"`,
			`/Users?filter=externalId+eq+"ext-1"`,
			`/Users?filter=id+eq+"` + uid + `"`,
			`/Groups?filter=displayName+eq+"Admins"`,
			`/Groups?filter=members.value+eq+"` + uid + `"`,
			`/Users?filter=emails.value+co+"shared"&sortBy=userName`,
		} {
			r := ts.callSCIM(t, testToken2, http.MethodGet, p, nil).expect(t, http.StatusOK)
			for _, x := range jlist(r.Body, "Resources") {
				if id := jstr(x, "id"); id == uid || id == gid {
					t.Errorf("globex GET %s shows acme's %s", p, id)
				}
			}
		}
		r := ts.callSCIM(t, testToken2, http.MethodPost, "/Users/.search", map[string]any{
			"schemas": []string{SearchSchema}, "filter": `id eq "` + uid + `"`,
		}).expect(t, http.StatusOK)
		if jnum(t, r.Body, "totalResults") != 0 {
			t.Errorf("globex .search finds acme's user: %s", r.Raw)
		}
		acme := ts.callSCIM(t, testToken, http.MethodGet, "/Users", nil).expect(t, http.StatusOK)
		if jnum(t, acme.Body, "totalResults") != 1 || jstr(jlist(acme.Body, "Resources")[0], "id") != uid {
			t.Errorf("acme's users: %s", acme.Raw)
		}
		// Nothing of acme changed.
		if v := ts.mustVersion(t, "/Users/"+uid); v != userV {
			t.Errorf("acme's user changed: %s -> %s", userV, v)
		}
		if v := ts.mustVersion(t, "/Groups/"+gid); v != groupV {
			t.Errorf("acme's group changed: %s -> %s", groupV, v)
		}
		if m := jlist(ts.mustGet(t, "/Groups/"+gid), "members"); len(m) != 1 {
			t.Errorf("acme's group members %v", m)
		}
	})
}
