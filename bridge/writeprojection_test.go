package bridge

import (
	"net/http"
	"testing"
)

// TestProjectionOfWriteResponses: attributes and excludedAttributes apply to
// the resource returned by POST, PUT and PATCH (RFC 7644 §3.9), with the
// returned characteristics of RFC 7643 §7: id and schemas always, password
// never, groups only when not excluded.
func TestProjectionOfWriteResponses(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, redisURL string) {
		ts := newTestServer(t, redisURL)
		keys := func(m map[string]any) map[string]bool {
			out := map[string]bool{}
			for k := range m {
				out[k] = true
			}
			return out
		}
		u := userDoc("proj.user", "password", "s3cret!", "title", "Eng")
		post := ts.callSCIM(t, testToken, http.MethodPost, "/Users?attributes=userName", u).expect(t, http.StatusCreated)
		if k := keys(post.Body); !k["id"] || !k["schemas"] || !k["userName"] || k["title"] || k["emails"] || k["password"] || k["meta"] {
			t.Errorf("POST ?attributes=userName returned %v", post.Raw)
		}
		checkETag(t, post)
		if post.Header.Get("Location") == "" {
			t.Error("projected POST lost its Location header")
		}
		path := "/Users/" + jstr(post.Body, "id")
		put := ts.callSCIM(t, testToken, http.MethodPut, path+"?excludedAttributes=emails,id,schemas", u).expect(t, http.StatusOK)
		if k := keys(put.Body); k["emails"] || !k["id"] || !k["schemas"] || !k["title"] || k["password"] {
			t.Errorf("PUT ?excludedAttributes=emails,id,schemas returned %s", put.Raw)
		}
		checkETag(t, put)
		patch := ts.callSCIM(t, testToken, http.MethodPatch, path+"?attributes=title,meta.version", patchDoc("replace", "title", "Lead")).expect(t, http.StatusOK)
		if jstr(patch.Body, "title") != "Lead" || patch.Body["userName"] != nil || jstr(patch.Body, "meta.version") == "" {
			t.Errorf("PATCH ?attributes=title,meta.version returned %s", patch.Raw)
		}
		checkETag(t, patch)
		// password is never returned, even when asked for.
		get := ts.callSCIM(t, testToken, http.MethodGet, path+"?attributes=password,userName", nil).expect(t, http.StatusOK)
		if get.Body["password"] != nil {
			t.Errorf("password returned: %s", get.Raw)
		}
		// A group PATCH answers 204 unless the client asks for a projection.
		g := ts.mustCreate(t, "/Groups", groupDoc("Proj Group"))
		gpath := "/Groups/" + jstr(g, "id")
		ts.callSCIM(t, testToken, http.MethodPatch, gpath, patchDoc("replace", "displayName", "Proj Group 2")).expect(t, http.StatusNoContent)
		gp := ts.callSCIM(t, testToken, http.MethodPatch, gpath+"?excludedAttributes=members", patchDoc("add", "members", []any{map[string]any{"value": jstr(post.Body, "id")}})).expect(t, http.StatusOK)
		if gp.Body["members"] != nil || jstr(gp.Body, "displayName") != "Proj Group 2" {
			t.Errorf("group PATCH ?excludedAttributes=members returned %s", gp.Raw)
		}
		checkETag(t, gp)
		// The user's derived groups follow the same rules.
		withGroups := ts.callSCIM(t, testToken, http.MethodGet, path, nil).expect(t, http.StatusOK)
		if len(jlist(withGroups.Body, "groups")) != 1 {
			t.Errorf("user groups: %s", withGroups.Raw)
		}
		without := ts.callSCIM(t, testToken, http.MethodGet, path+"?excludedAttributes=groups", nil).expect(t, http.StatusOK)
		if without.Body["groups"] != nil {
			t.Errorf("excludedAttributes=groups still returns groups")
		}
		// PUT and PATCH (changing something or nothing) answer with them too.
		for _, w := range []struct {
			method string
			body   map[string]any
		}{
			{http.MethodPut, u},
			{http.MethodPatch, patchDoc("replace", "title", "Boss")},
			{http.MethodPatch, patchDoc("replace", "title", "Boss")},
		} {
			got := ts.callSCIM(t, testToken, w.method, path, w.body).expect(t, http.StatusOK)
			if gs := jlist(got.Body, "groups"); len(gs) != 1 || jstr(gs[0].(map[string]any), "display") != "Proj Group 2" {
				t.Errorf("%s answered groups %v: %s", w.method, gs, got.Raw)
			}
		}
	})
}

// TestETagOnDiscoveryResources: the single discovery resources carry an ETag
// of their content and answer If-None-Match.
func TestETagOnDiscoveryResources(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, "")
	for _, p := range []string{"/ServiceProviderConfig", "/Schemas/" + UserSchema, "/ResourceTypes/Group"} {
		r := ts.callSCIM(t, "", http.MethodGet, p, nil).expect(t, http.StatusOK)
		tag := r.Header.Get("ETag")
		if len(tag) < 5 || tag[:3] != `W/"` {
			t.Errorf("%s: ETag %q", p, tag)
			continue
		}
		if again := ts.callSCIM(t, "", http.MethodGet, p, nil); again.Header.Get("ETag") != tag {
			t.Errorf("%s: ETag changes between reads", p)
		}
		nm := ts.callSCIM(t, "", http.MethodGet, p, nil, "If-None-Match", tag).expect(t, http.StatusNotModified)
		if len(nm.Raw) != 0 {
			t.Errorf("%s: 304 with a body", p)
		}
	}
}
