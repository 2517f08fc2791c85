package bridge

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scim-bridge/scim-bridge/internal/fakeclock"
	"github.com/scim-bridge/scim-bridge/store"
)

// scimReply is one HTTP answer of the SCIM endpoint, kept raw and decoded.
type scimReply struct {
	Status int
	Header http.Header
	Raw    []byte
	Body   map[string]any // nil when the body is empty or not a JSON object
}

// sendSCIM issues one request to the bridge's SCIM endpoint without touching a
// testing.T, so it is safe from any goroutine. body is nil, a string, []byte, an
// io.Reader (sent chunked: its length is unknown) or a value marshalled as JSON.
// headers are name/value pairs.
func (ts *testServer) sendSCIM(token, method, path string, body any, headers ...string) (scimReply, error) {
	var rd io.Reader
	switch v := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(v)
	case []byte:
		rd = bytes.NewReader(v)
	case io.Reader:
		rd = v
	default:
		data, err := json.Marshal(v)
		if err != nil {
			return scimReply{}, fmt.Errorf("marshal body: %w", err)
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, ts.srv.URL+"/scim/v2"+path, rd)
	if err != nil {
		return scimReply{}, fmt.Errorf("build request: %w", err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if rd != nil {
		req.Header.Set("Content-Type", contentTypeSCIM)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := ts.srv.Client().Do(req)
	if err != nil {
		return scimReply{}, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return scimReply{}, fmt.Errorf("%s %s: read body: %w", method, path, err)
	}
	out := scimReply{Status: resp.StatusCode, Header: resp.Header, Raw: raw}
	if len(bytes.TrimSpace(raw)) > 0 {
		if err := json.Unmarshal(raw, &out.Body); err != nil {
			return out, fmt.Errorf("%s %s: response %d is not a JSON object: %s", method, path, resp.StatusCode, raw)
		}
	}
	return out, nil
}

// callSCIM is sendSCIM for the test goroutine: a transport or decoding failure fails t.
func (ts *testServer) callSCIM(t testing.TB, token, method, path string, body any, headers ...string) scimReply {
	t.Helper()
	r, err := ts.sendSCIM(token, method, path, body, headers...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// expect fails t unless the scimReply has the wanted status.
func (r scimReply) expect(t testing.TB, status int) scimReply {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %d, want %d; body %s", r.Status, status, r.Raw)
	}
	return r
}

// expectError checks a SCIM error body (RFC 7644 §3.12): status, the error schema,
// the status as a string and, when scimType is not empty, the scimType.
func (r scimReply) expectError(t testing.TB, status int, scimType string) {
	t.Helper()
	r.expect(t, status)
	if ct := r.Header.Get("Content-Type"); ct != contentTypeSCIM {
		t.Errorf("error Content-Type %q, want %q", ct, contentTypeSCIM)
	}
	if r.Body == nil {
		t.Fatalf("error %d without a body", status)
	}
	if s, _ := r.Body["schemas"].([]any); len(s) != 1 || s[0] != ErrorSchema {
		t.Errorf("error schemas %v, want [%s]", r.Body["schemas"], ErrorSchema)
	}
	if got := r.Body["status"]; got != fmt.Sprint(status) {
		t.Errorf("error status field %v (%T), want %q", got, got, fmt.Sprint(status))
	}
	if scimType != "" && r.Body["scimType"] != scimType {
		t.Errorf("scimType %v, want %q (detail %v)", r.Body["scimType"], scimType, r.Body["detail"])
	}
}

// jstr returns the string at a dotted path of v ("" when absent).
func jstr(v any, path string) string {
	s, _ := lookupPath(v, path).(string)
	return s
}

// jlist returns the array at a dotted path of v.
func jlist(v any, path string) []any {
	l, _ := lookupPath(v, path).([]any)
	return l
}

// jnum returns the number at a dotted path of v, failing t when there is none.
func jnum(t testing.TB, v any, path string) int {
	t.Helper()
	f, ok := lookupPath(v, path).(float64)
	if !ok {
		t.Fatalf("%s is %v, want a number", path, lookupPath(v, path))
	}
	return int(f)
}

// userDoc is a minimal valid User body.
func userDoc(userName string, attrs ...any) map[string]any {
	u := map[string]any{
		"schemas":  []string{UserSchema},
		"userName": userName,
		"active":   true,
		"emails":   []any{map[string]any{"value": userName + "@example.com", "type": "work", "primary": true}},
	}
	for i := 0; i+1 < len(attrs); i += 2 {
		u[attrs[i].(string)] = attrs[i+1]
	}
	return u
}

// groupDoc is a valid Group body with the given member ids.
func groupDoc(displayName string, memberIDs ...string) map[string]any {
	g := map[string]any{"schemas": []string{GroupSchema}, "displayName": displayName}
	if len(memberIDs) > 0 {
		ms := make([]any, len(memberIDs))
		for i, id := range memberIDs {
			ms[i] = map[string]any{"value": id}
		}
		g["members"] = ms
	}
	return g
}

// patchDoc builds a PatchOp body from op, path, value triples (path "" is omitted).
func patchDoc(ops ...any) map[string]any {
	var out []any
	for i := 0; i+2 < len(ops); i += 3 {
		o := map[string]any{"op": ops[i]}
		if p := ops[i+1].(string); p != "" {
			o["path"] = p
		}
		if ops[i+2] != nil {
			o["value"] = ops[i+2]
		}
		out = append(out, o)
	}
	return map[string]any{"schemas": []string{PatchOpSchema}, "Operations": out}
}

// mustCreate POSTs body to endpoint ("/Users" or "/Groups") as tenant acme and returns the resource.
func (ts *testServer) mustCreate(t testing.TB, endpoint string, body map[string]any) map[string]any {
	t.Helper()
	return ts.mustCreateAs(t, testToken, endpoint, body)
}

func (ts *testServer) mustCreateAs(t testing.TB, token, endpoint string, body map[string]any) map[string]any {
	t.Helper()
	r := ts.callSCIM(t, token, http.MethodPost, endpoint, body).expect(t, http.StatusCreated)
	if jstr(r.Body, "id") == "" {
		t.Fatalf("created resource has no id: %s", r.Raw)
	}
	return r.Body
}

// mustVersion reads the current meta.version of a resource.
func (ts *testServer) mustVersion(t testing.TB, path string) string {
	t.Helper()
	r := ts.callSCIM(t, testToken, http.MethodGet, path, nil).expect(t, http.StatusOK)
	return jstr(r.Body, "meta.version")
}

// mustGet GETs a resource as tenant acme.
func (ts *testServer) mustGet(t testing.TB, path string) map[string]any {
	t.Helper()
	return ts.callSCIM(t, testToken, http.MethodGet, path, nil).expect(t, http.StatusOK).Body
}

func TestContentTypeOnEveryResponse(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, "")
	u := ts.mustCreate(t, "/Users", userDoc("ct.user"))
	uid := jstr(u, "id")
	cases := []struct {
		name   string
		token  string
		method string
		path   string
		body   any
		status int
	}{
		{"create", testToken, http.MethodPost, "/Users", userDoc("ct.other"), http.StatusCreated},
		{"get", testToken, http.MethodGet, "/Users/" + uid, nil, http.StatusOK},
		{"replace", testToken, http.MethodPut, "/Users/" + uid, userDoc("ct.user"), http.StatusOK},
		{"patch", testToken, http.MethodPatch, "/Users/" + uid, patchDoc("replace", "displayName", "CT"), http.StatusOK},
		{"list", testToken, http.MethodGet, "/Users", nil, http.StatusOK},
		{"search", testToken, http.MethodPost, "/Users/.search", map[string]any{"schemas": []string{SearchSchema}}, http.StatusOK},
		{"service provider config", "", http.MethodGet, "/ServiceProviderConfig", nil, http.StatusOK},
		{"schemas", "", http.MethodGet, "/Schemas", nil, http.StatusOK},
		{"resource types", "", http.MethodGet, "/ResourceTypes", nil, http.StatusOK},
		{"not found resource", testToken, http.MethodGet, "/Users/nope", nil, http.StatusNotFound},
		{"not found route", testToken, http.MethodGet, "/Widgets", nil, http.StatusNotFound},
		{"method not allowed", testToken, http.MethodDelete, "/Users", nil, http.StatusMethodNotAllowed},
		{"discovery method not allowed", "", http.MethodPost, "/ServiceProviderConfig", "{}", http.StatusMethodNotAllowed},
		{"unauthorized", "", http.MethodGet, "/Users", nil, http.StatusUnauthorized},
		{"bad request", testToken, http.MethodPost, "/Users", "{", http.StatusBadRequest},
		{"bulk without schemas", testToken, http.MethodPost, "/Bulk", "{}", http.StatusBadRequest},
		{"bulk", testToken, http.MethodPost, "/Bulk", map[string]any{"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:BulkRequest"}, "Operations": []any{}}, http.StatusOK},
		{"root search", testToken, http.MethodPost, "/.search", map[string]any{"schemas": []string{SearchSchema}}, http.StatusOK},
		{"root list", testToken, http.MethodGet, "/?filter=" + url.QueryEscape(`userName eq "ct.user"`), nil, http.StatusOK},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := ts.callSCIM(t, c.token, c.method, c.path, c.body).expect(t, c.status)
			if ct := r.Header.Get("Content-Type"); ct != contentTypeSCIM {
				t.Errorf("Content-Type %q, want %q", ct, contentTypeSCIM)
			}
			if c.status >= 400 {
				r.expectError(t, c.status, "")
			}
			if c.status == http.StatusMethodNotAllowed && r.Header.Get("Allow") == "" {
				t.Error("405 without an Allow header")
			}
		})
	}
	// DELETE answers 204 without a body.
	r := ts.callSCIM(t, testToken, http.MethodDelete, "/Users/"+uid, nil).expect(t, http.StatusNoContent)
	if len(r.Raw) != 0 {
		t.Errorf("204 with a body: %s", r.Raw)
	}
}

func TestMeta(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, redisURL string) {
		clock := fakeclock.New(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
		ts := newTestServer(t, redisURL, func(o *Options) { o.Now = clock.Now })

		r := ts.callSCIM(t, testToken, http.MethodPost, "/Users", userDoc("meta.user")).expect(t, http.StatusCreated)
		id := jstr(r.Body, "id")
		wantLoc := ts.srv.URL + "/scim/v2/Users/" + id
		if got := jstr(r.Body, "meta.location"); got != wantLoc {
			t.Errorf("meta.location %q, want %q", got, wantLoc)
		}
		if got := r.Header.Get("Location"); got != wantLoc {
			t.Errorf("Location header %q, want %q", got, wantLoc)
		}
		if got := jstr(r.Body, "meta.resourceType"); got != "User" {
			t.Errorf("meta.resourceType %q, want User", got)
		}
		created, err := time.Parse(time.RFC3339, jstr(r.Body, "meta.created"))
		if err != nil {
			t.Fatalf("meta.created: %v", err)
		}
		lm, err := time.Parse(time.RFC3339, jstr(r.Body, "meta.lastModified"))
		if err != nil {
			t.Fatalf("meta.lastModified: %v", err)
		}
		if !created.Equal(clock.Now()) || !lm.Equal(clock.Now()) {
			t.Errorf("created %v lastModified %v, want both %v", created, lm, clock.Now())
		}
		if s := jlist(r.Body, "schemas"); len(s) == 0 || s[0] != UserSchema {
			t.Errorf("schemas %v", s)
		}

		clock.Advance(time.Minute)
		p := ts.callSCIM(t, testToken, http.MethodPatch, "/Users/"+id, patchDoc("replace", "displayName", "Meta")).expect(t, http.StatusOK)
		lm2, err := time.Parse(time.RFC3339, jstr(p.Body, "meta.lastModified"))
		if err != nil {
			t.Fatalf("meta.lastModified after patch: %v", err)
		}
		if !lm2.Equal(clock.Now()) {
			t.Errorf("lastModified after patch %v, want %v", lm2, clock.Now())
		}
		if jstr(p.Body, "meta.created") != jstr(r.Body, "meta.created") {
			t.Errorf("created changed on patch: %v -> %v", jstr(r.Body, "meta.created"), jstr(p.Body, "meta.created"))
		}

		clock.Advance(time.Minute)
		g := ts.callSCIM(t, testToken, http.MethodPut, "/Users/"+id, userDoc("meta.user", "displayName", "Put")).expect(t, http.StatusOK)
		if lm3, _ := time.Parse(time.RFC3339, jstr(g.Body, "meta.lastModified")); !lm3.Equal(clock.Now()) {
			t.Errorf("lastModified after put %v, want %v", lm3, clock.Now())
		}
		if jstr(g.Body, "meta.created") != jstr(r.Body, "meta.created") {
			t.Errorf("created changed on put")
		}

		grp := ts.callSCIM(t, testToken, http.MethodPost, "/Groups", groupDoc("Meta Group")).expect(t, http.StatusCreated)
		gl := ts.srv.URL + "/scim/v2/Groups/" + jstr(grp.Body, "id")
		if jstr(grp.Body, "meta.location") != gl || grp.Header.Get("Location") != gl || jstr(grp.Body, "meta.resourceType") != "Group" {
			t.Errorf("group meta %v, Location %q; want location %q, resourceType Group", grp.Body["meta"], grp.Header.Get("Location"), gl)
		}
	})
}

func TestPublicURLInLocation(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, "", func(o *Options) { o.PublicURL = "https://scim.example.com/scim/v2/" })
	r := ts.callSCIM(t, testToken, http.MethodPost, "/Users", userDoc("pub.user")).expect(t, http.StatusCreated)
	want := "https://scim.example.com/scim/v2/Users/" + jstr(r.Body, "id")
	if jstr(r.Body, "meta.location") != want || r.Header.Get("Location") != want {
		t.Errorf("location %q / %q, want %q", jstr(r.Body, "meta.location"), r.Header.Get("Location"), want)
	}
}

func TestAttributeProjection(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, redisURL string) {
		ts := newTestServer(t, redisURL)
		u := ts.mustCreate(t, "/Users", userDoc("proj.user", "displayName", "Proj User", "password", "s3cret-Passw0rd",
			"name", map[string]any{"givenName": "Proj", "familyName": "User"}))
		if _, ok := u["password"]; ok {
			t.Errorf("POST response returns the password")
		}
		uid := jstr(u, "id")
		g := ts.mustCreate(t, "/Groups", groupDoc("Proj Group", uid))
		gid := jstr(g, "id")

		checkUser := func(t *testing.T, res map[string]any) {
			t.Helper()
			if jstr(res, "id") != uid || jstr(res, "userName") != "proj.user" {
				t.Errorf("projection lost id or userName: %v", res)
			}
			for _, k := range []string{"displayName", "emails", "name", "active", "password", "groups"} {
				if _, ok := res[k]; ok {
					t.Errorf("attributes=userName still returns %q: %v", k, res)
				}
			}
		}
		t.Run("get attributes", func(t *testing.T) {
			checkUser(t, ts.mustGet(t, "/Users/"+uid+"?attributes=userName"))
		})
		t.Run("list attributes", func(t *testing.T) {
			r := ts.callSCIM(t, testToken, http.MethodGet, "/Users?attributes=userName", nil).expect(t, http.StatusOK)
			rs := jlist(r.Body, "Resources")
			if len(rs) != 1 {
				t.Fatalf("Resources %v", rs)
			}
			checkUser(t, rs[0].(map[string]any))
		})
		t.Run("sub-attribute", func(t *testing.T) {
			res := ts.mustGet(t, "/Users/"+uid+"?attributes=name.familyName")
			if jstr(res, "id") != uid || jstr(res, "name.familyName") != "User" {
				t.Errorf("attributes=name.familyName: %v", res)
			}
			for _, k := range []string{"name.givenName", "userName", "displayName"} {
				if lookupPath(res, k) != nil {
					t.Errorf("attributes=name.familyName returns %s: %v", k, res)
				}
			}
		})
		t.Run("excluded members", func(t *testing.T) {
			res := ts.mustGet(t, "/Groups/"+gid+"?excludedAttributes=members")
			if _, ok := res["members"]; ok {
				t.Errorf("excludedAttributes=members returns members: %v", res)
			}
			if jstr(res, "displayName") != "Proj Group" || jstr(res, "id") != gid {
				t.Errorf("excludedAttributes=members dropped more: %v", res)
			}
			r := ts.callSCIM(t, testToken, http.MethodGet, "/Groups?excludedAttributes=members", nil).expect(t, http.StatusOK)
			for _, x := range jlist(r.Body, "Resources") {
				if _, ok := x.(map[string]any)["members"]; ok {
					t.Errorf("list with excludedAttributes=members returns members: %v", x)
				}
			}
			full := ts.mustGet(t, "/Groups/"+gid)
			if len(jlist(full, "members")) != 1 {
				t.Errorf("group without projection has members %v", full["members"])
			}
		})
		t.Run("excluded id is still returned", func(t *testing.T) {
			res := ts.mustGet(t, "/Users/"+uid+"?excludedAttributes=id,emails")
			if jstr(res, "id") != uid {
				t.Errorf("id (returned: always) was excluded: %v", res)
			}
			if _, ok := res["emails"]; ok {
				t.Errorf("emails not excluded: %v", res)
			}
		})
		t.Run("password never returned", func(t *testing.T) {
			for _, p := range []string{"/Users/" + uid, "/Users/" + uid + "?attributes=password", "/Users?attributes=password,userName", "/Users"} {
				r := ts.callSCIM(t, testToken, http.MethodGet, p, nil).expect(t, http.StatusOK)
				if bytes.Contains(r.Raw, []byte("s3cret-Passw0rd")) || bytes.Contains(r.Raw, []byte(`"password"`)) {
					t.Errorf("GET %s returns the password: %s", p, r.Raw)
				}
			}
			put := ts.callSCIM(t, testToken, http.MethodPut, "/Users/"+uid, userDoc("proj.user", "password", "an0ther-Secret")).expect(t, http.StatusOK)
			if bytes.Contains(put.Raw, []byte("an0ther-Secret")) {
				t.Errorf("PUT returns the password: %s", put.Raw)
			}
		})
		t.Run("password never stored", func(t *testing.T) {
			ctx := context.Background()
			stored := func() *store.Resource {
				t.Helper()
				r, err := ts.b.Store().Get(ctx, "acme", store.KindUser, uid)
				if err != nil {
					t.Fatal(err)
				}
				if _, ok := r.Attrs["password"]; ok {
					t.Fatalf("the store holds a password: %v", r.Attrs)
				}
				return r
			}
			before := stored()
			// Okta's password sync, a path, a URN path, and through /Bulk: the
			// password alone changes nothing (no new version).
			for _, body := range []map[string]any{
				patchDoc("replace", "", map[string]any{"password": "PatchPathless1!"}),
				patchDoc("replace", "password", "PatchPath1!"),
				patchDoc("add", "urn:ietf:params:scim:schemas:core:2.0:User:password", "PatchURN1!"),
			} {
				ts.callSCIM(t, testToken, http.MethodPatch, "/Users/"+uid, body).expect(t, http.StatusOK)
				if r := stored(); r.Version != before.Version {
					t.Errorf("PATCH %v: version %d, want %d (nothing stored)", body, r.Version, before.Version)
				}
			}
			ts.callSCIM(t, testToken, http.MethodPost, "/Bulk", map[string]any{
				"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:BulkRequest"},
				"Operations": []any{map[string]any{"method": "PATCH", "path": "/Users/" + uid,
					"data": patchDoc("replace", "", map[string]any{"password": "Bulk1!", "displayName": "Bulk Name"})}},
			}).expect(t, http.StatusOK)
			if r := stored(); r.Attrs["displayName"] != "Bulk Name" {
				t.Errorf("bulk PATCH: displayName %v", r.Attrs["displayName"])
			}
		})
	})
}

func TestGroupMembership(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, redisURL string) {
		ts := newTestServer(t, redisURL)
		alice := jstr(ts.mustCreate(t, "/Users", userDoc("alice", "displayName", "Alice A")), "id")
		bob := jstr(ts.mustCreate(t, "/Users", userDoc("bob")), "id")
		eng := ts.mustCreate(t, "/Groups", groupDoc("Engineering", alice, bob))
		engID := jstr(eng, "id")
		ops := jstr(ts.mustCreate(t, "/Groups", groupDoc("Ops", alice)), "id")
		// A nested group is a member of type Group.
		all := jstr(ts.mustCreate(t, "/Groups", groupDoc("All", engID)), "id")

		ms := jlist(eng, "members")
		if len(ms) != 2 {
			t.Fatalf("members %v", ms)
		}
		for _, m := range ms {
			mm := m.(map[string]any)
			id := jstr(mm, "value")
			wantDisplay := map[string]string{alice: "Alice A", bob: "bob"}[id]
			if jstr(mm, "display") != wantDisplay || jstr(mm, "type") != "User" ||
				jstr(mm, "$ref") != ts.srv.URL+"/scim/v2/Users/"+id {
				t.Errorf("member %v: want display %q, type User, $ref to the user", mm, wantDisplay)
			}
		}
		allRes := ts.mustGet(t, "/Groups/"+all)
		if m := jlist(allRes, "members"); len(m) != 1 || jstr(m[0], "type") != "Group" ||
			jstr(m[0], "$ref") != ts.srv.URL+"/scim/v2/Groups/"+engID || jstr(m[0], "display") != "Engineering" {
			t.Errorf("nested group member %v", allRes["members"])
		}

		groupsOf := func(id string) map[string]map[string]any {
			out := map[string]map[string]any{}
			for _, g := range jlist(ts.mustGet(t, "/Users/"+id), "groups") {
				gm := g.(map[string]any)
				out[jstr(gm, "value")] = gm
			}
			return out
		}
		ag := groupsOf(alice)
		if len(ag) != 2 || ag[engID] == nil || ag[ops] == nil {
			t.Fatalf("alice's groups %v, want Engineering and Ops", ag)
		}
		if e := ag[engID]; jstr(e, "display") != "Engineering" || jstr(e, "$ref") != ts.srv.URL+"/scim/v2/Groups/"+engID || jstr(e, "type") != "direct" {
			t.Errorf("alice's Engineering group %v", e)
		}
		if bg := groupsOf(bob); len(bg) != 1 || bg[engID] == nil {
			t.Errorf("bob's groups %v, want Engineering", bg)
		}
		// Groups also come with list responses.
		lr := ts.callSCIM(t, testToken, http.MethodGet, `/Users?filter=userName+eq+"alice"`, nil).expect(t, http.StatusOK)
		if rs := jlist(lr.Body, "Resources"); len(rs) != 1 || len(jlist(rs[0], "groups")) != 2 {
			t.Errorf("listed alice has groups %v", lr.Body)
		}
		// Renaming a group renames it in its members' groups.
		ts.callSCIM(t, testToken, http.MethodPatch, "/Groups/"+ops, patchDoc("replace", "displayName", "Operations")).expect(t, http.StatusNoContent)
		if jstr(groupsOf(alice)[ops], "display") != "Operations" {
			t.Errorf("renamed group shows as %v", groupsOf(alice)[ops])
		}

		// Removing a member through PATCH updates the user's groups.
		ts.callSCIM(t, testToken, http.MethodPatch, "/Groups/"+engID,
			patchDoc("remove", `members[value eq "`+bob+`"]`, nil)).expect(t, http.StatusNoContent)
		if bg := groupsOf(bob); len(bg) != 0 {
			t.Errorf("bob still in %v after removal", bg)
		}

		// Deleting a user removes it from every group and bumps their versions.
		before := map[string]string{engID: ts.mustVersion(t, "/Groups/"+engID), ops: ts.mustVersion(t, "/Groups/"+ops)}
		ts.callSCIM(t, testToken, http.MethodDelete, "/Users/"+alice, nil).expect(t, http.StatusNoContent)
		for gid, v := range before {
			g := ts.mustGet(t, "/Groups/"+gid)
			for _, m := range jlist(g, "members") {
				if jstr(m, "value") == alice {
					t.Errorf("group %s still lists the deleted user: %v", gid, g["members"])
				}
			}
			if jstr(g, "meta.version") == v {
				t.Errorf("group %s version unchanged (%s) after its member was deleted", gid, v)
			}
		}
		r := ts.callSCIM(t, testToken, http.MethodGet, `/Groups?filter=members.value+eq+"`+alice+`"`, nil).expect(t, http.StatusOK)
		if jnum(t, r.Body, "totalResults") != 0 {
			t.Errorf("members.value eq deleted user: %s", r.Raw)
		}

		// Unknown members are rejected and nothing is written.
		v := ts.mustVersion(t, "/Groups/"+engID)
		ts.callSCIM(t, testToken, http.MethodPatch, "/Groups/"+engID,
			patchDoc("add", "members", []any{map[string]any{"value": "no-such-user"}})).expectError(t, http.StatusBadRequest, "invalidValue")
		ts.callSCIM(t, testToken, http.MethodPost, "/Groups", groupDoc("Ghosts", "no-such-user")).expectError(t, http.StatusBadRequest, "invalidValue")
		if got := ts.mustVersion(t, "/Groups/"+engID); got != v {
			t.Errorf("rejected member add changed the group: %s -> %s", v, got)
		}
	})
}

func TestDiscovery(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, "", func(o *Options) { o.MaxResults = 250 })
	t.Run("service provider config", func(t *testing.T) {
		r := ts.callSCIM(t, "", http.MethodGet, "/ServiceProviderConfig", nil).expect(t, http.StatusOK)
		for path, want := range map[string]any{
			"patch.supported": true, "filter.supported": true, "filter.maxResults": float64(250),
			"sort.supported": true, "etag.supported": true,
			"bulk.supported": true, "bulk.maxOperations": float64(1000), "bulk.maxPayloadSize": float64(4 << 20),
			"changePassword.supported": false,
			"pagination.cursor":        true, "pagination.index": true, "pagination.defaultPaginationMethod": "index",
			"pagination.maxPageSize": float64(250), "pagination.defaultPageSize": float64(250),
		} {
			if got := lookupPath(r.Body, path); got != want {
				t.Errorf("%s = %v, want %v", path, got, want)
			}
		}
		if s := jlist(r.Body, "schemas"); len(s) != 1 || s[0] != SPConfigSchema {
			t.Errorf("schemas %v", s)
		}
		if a := jlist(r.Body, "authenticationSchemes"); len(a) == 0 || jstr(a[0], "type") != "oauthbearertoken" {
			t.Errorf("authenticationSchemes %v", a)
		}
	})
	t.Run("resource types", func(t *testing.T) {
		r := ts.callSCIM(t, "", http.MethodGet, "/ResourceTypes", nil).expect(t, http.StatusOK)
		byName := map[string]map[string]any{}
		for _, x := range jlist(r.Body, "Resources") {
			byName[jstr(x, "name")] = x.(map[string]any)
		}
		u, g := byName["User"], byName["Group"]
		if u == nil || g == nil || len(byName) != 2 {
			t.Fatalf("resource types %v", byName)
		}
		if jstr(u, "endpoint") != "/Users" || jstr(u, "schema") != UserSchema {
			t.Errorf("User resource type %v", u)
		}
		ext := jlist(u, "schemaExtensions")
		if len(ext) != 1 || jstr(ext[0], "schema") != EnterpriseSchema {
			t.Errorf("User schemaExtensions %v, want the enterprise extension", ext)
		}
		if jstr(g, "endpoint") != "/Groups" || jstr(g, "schema") != GroupSchema {
			t.Errorf("Group resource type %v", g)
		}
		one := ts.callSCIM(t, "", http.MethodGet, "/ResourceTypes/Group", nil).expect(t, http.StatusOK)
		if jstr(one.Body, "schema") != GroupSchema {
			t.Errorf("/ResourceTypes/Group: %s", one.Raw)
		}
		// RFC 7643 §6: a ResourceType carries its schemas and meta.
		for _, rt := range []map[string]any{u, g, one.Body} {
			meta, _ := rt["meta"].(map[string]any)
			loc, _ := meta["location"].(string)
			if jstr(meta, "resourceType") != "ResourceType" || !strings.HasSuffix(loc, "/scim/v2/ResourceTypes/"+jstr(rt, "id")) {
				t.Errorf("resource type meta %v", meta)
			}
			if s := jlist(rt, "schemas"); len(s) != 1 || s[0] != "urn:ietf:params:scim:schemas:core:2.0:ResourceType" {
				t.Errorf("resource type schemas %v", s)
			}
		}
	})
	t.Run("schemas", func(t *testing.T) {
		r := ts.callSCIM(t, "", http.MethodGet, "/Schemas", nil).expect(t, http.StatusOK)
		var ids []string
		for _, x := range jlist(r.Body, "Resources") {
			ids = append(ids, jstr(x, "id"))
		}
		for _, want := range []string{UserSchema, GroupSchema, EnterpriseSchema} {
			if !slices.Contains(ids, want) {
				t.Errorf("/Schemas lacks %s: %v", want, ids)
			}
		}
		one := ts.callSCIM(t, "", http.MethodGet, "/Schemas/"+UserSchema, nil).expect(t, http.StatusOK)
		var attrs []string
		for _, a := range jlist(one.Body, "attributes") {
			attrs = append(attrs, jstr(a, "name"))
		}
		if !slices.Contains(attrs, "userName") || !slices.Contains(attrs, "emails") {
			t.Errorf("User schema attributes %v", attrs)
		}
		// RFC 7643 §7: a Schema resource carries its schemas and meta.
		meta, _ := one.Body["meta"].(map[string]any)
		if jstr(meta, "resourceType") != "Schema" || !strings.HasSuffix(jstr(meta, "location"), "/Schemas/"+UserSchema) {
			t.Errorf("schema meta %v", meta)
		}
		if s := jlist(one.Body, "schemas"); len(s) != 1 || s[0] != "urn:ietf:params:scim:schemas:core:2.0:Schema" {
			t.Errorf("schema schemas %v", s)
		}
		// What the schemas declare is what the endpoint does: a group's
		// displayName is unique (409 uniqueness), the limits are integers.
		group := ts.callSCIM(t, "", http.MethodGet, "/Schemas/"+GroupSchema, nil).expect(t, http.StatusOK)
		for _, a := range jlist(group.Body, "attributes") {
			if jstr(a, "name") == "displayName" && jstr(a, "uniqueness") != "server" {
				t.Errorf("Group displayName uniqueness %q, want server", jstr(a, "uniqueness"))
			}
		}
		spc := ts.callSCIM(t, "", http.MethodGet, "/Schemas/urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig", nil).expect(t, http.StatusOK)
		limits := 0
		var walk func(attrs []any)
		walk = func(attrs []any) {
			for _, x := range attrs {
				a, _ := x.(map[string]any)
				switch jstr(a, "name") {
				case "maxOperations", "maxPayloadSize", "maxResults":
					limits++
					if jstr(a, "type") != "integer" {
						t.Errorf("ServiceProviderConfig %s type %q, want integer", jstr(a, "name"), jstr(a, "type"))
					}
				}
				walk(jlist(a, "subAttributes"))
			}
		}
		walk(jlist(spc.Body, "attributes"))
		if limits != 3 {
			t.Errorf("%d limits found in the ServiceProviderConfig schema, want 3", limits)
		}
	})
	t.Run("answer with a token too", func(t *testing.T) {
		ts.callSCIM(t, testToken, http.MethodGet, "/ServiceProviderConfig", nil).expect(t, http.StatusOK)
		// A credential presented to discovery is checked like anywhere else.
		r := ts.callSCIM(t, "garbage", http.MethodGet, "/Schemas", nil)
		r.expectError(t, http.StatusUnauthorized, "")
		if r.Header.Get("WWW-Authenticate") == "" {
			t.Error("401 without WWW-Authenticate")
		}
	})
}

func TestConcurrentCreateSameUserName(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, redisURL string) {
		ts := newTestServer(t, redisURL)
		const n = 20
		names := make([]string, n)
		for i := range names {
			// Vary the case: userName is caseExact=false (RFC 7643 §4.1.1).
			b := []byte("race.user@example.com")
			for j := range b {
				if (i>>(j%5))&1 == 1 && b[j] >= 'a' && b[j] <= 'z' {
					b[j] -= 'a' - 'A'
				}
			}
			names[i] = string(b)
		}
		replies := make([]scimReply, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			wg.Go(func() {
				<-start
				replies[i], errs[i] = ts.sendSCIM(testToken, http.MethodPost, "/Users", userDoc(names[i]))
			})
		}
		close(start)
		wg.Wait()
		created := 0
		for i, r := range replies {
			if errs[i] != nil {
				t.Fatal(errs[i])
			}
			switch r.Status {
			case http.StatusCreated:
				created++
			case http.StatusConflict:
				r.expectError(t, http.StatusConflict, "uniqueness")
			default:
				t.Errorf("POST %q: status %d: %s", names[i], r.Status, r.Raw)
			}
		}
		if created != 1 {
			t.Errorf("%d creates succeeded, want exactly 1", created)
		}
		lr := ts.callSCIM(t, testToken, http.MethodGet, `/Users?filter=userName+eq+"RACE.USER@example.com"`, nil).expect(t, http.StatusOK)
		if jnum(t, lr.Body, "totalResults") != 1 {
			t.Errorf("users named race.user: %s", lr.Raw)
		}
	})
}

func TestConcurrentGroupPatchesAllLand(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, redisURL string) {
		ts := newTestServer(t, redisURL)
		const n = 8 // the bridge retries a lost race up to maxOptimisticRetries times
		ids := make([]string, n)
		for i := range ids {
			ids[i] = jstr(ts.mustCreate(t, "/Users", userDoc(fmt.Sprintf("member%02d", i))), "id")
		}
		gid := jstr(ts.mustCreate(t, "/Groups", groupDoc("Crowd")), "id")
		var wg sync.WaitGroup
		errs := make([]error, n)
		start := make(chan struct{})
		for i := range n {
			wg.Go(func() {
				<-start
				r, err := ts.sendSCIM(testToken, http.MethodPatch, "/Groups/"+gid,
					patchDoc("Add", "members", []any{map[string]any{"value": ids[i]}}))
				if err == nil && r.Status != http.StatusNoContent {
					err = fmt.Errorf("PATCH add member %d: status %d: %s", i, r.Status, r.Raw)
				}
				errs[i] = err
			})
		}
		close(start)
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				t.Error(err)
			}
		}
		g := ts.mustGet(t, "/Groups/"+gid)
		var got []string
		for _, m := range jlist(g, "members") {
			got = append(got, jstr(m, "value"))
		}
		slices.Sort(got)
		want := slices.Clone(ids)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("members after concurrent adds %v, want %v", got, want)
		}
		if v := jstr(g, "meta.version"); v != fmt.Sprintf(`W/"%d"`, n+1) {
			t.Errorf("group version %s after %d adds, want W/\"%d\"", v, n, n+1)
		}
	})
}
