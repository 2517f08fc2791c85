package bridge

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// rejectedWrite is a write the endpoint must refuse without changing anything.
type rejectedWrite struct {
	name     string
	body     any
	status   int
	scimType string
}

// badResourceBodies are POST / PUT bodies of a User that must be refused.
var badResourceBodies = []rejectedWrite{
	{"malformed JSON", `{"userName": "x",`, 400, "invalidSyntax"},
	{"trailing garbage", `{"userName": "x"} {}`, 400, "invalidSyntax"},
	{"JSON array", `[{"userName": "x"}]`, 400, "invalidSyntax"},
	{"JSON null", `null`, 400, "invalidSyntax"},
	{"JSON string", `"x"`, 400, "invalidSyntax"},
	{"empty body", ``, 400, "invalidSyntax"},
	{"userName a number", map[string]any{"userName": 5}, 400, "invalidValue"},
	{"userName an object", map[string]any{"userName": map[string]any{"x": 1}}, 400, "invalidValue"},
	{"active maybe", map[string]any{"userName": "x", "active": "maybe"}, 400, "invalidValue"},
	{"emails a number", map[string]any{"userName": "x", "emails": 5}, 400, "invalidValue"},
	{"emails of numbers", map[string]any{"userName": "x", "emails": []any{5}}, 400, "invalidValue"},
	{"emails a string", map[string]any{"userName": "x", "emails": "x@example.com"}, 400, "invalidValue"},
	{"email value a number", map[string]any{"userName": "x", "emails": []any{map[string]any{"value": 5}}}, 400, "invalidValue"},
	{"name a string", map[string]any{"userName": "x", "name": "x"}, 400, "invalidValue"},
	{"unknown schema", map[string]any{"schemas": []string{"urn:example:params:scim:schemas:core:2.0:Widget"}, "userName": "x"}, 400, "invalidValue"},
	{"group schema on a user", map[string]any{"schemas": []string{GroupSchema}, "userName": "x"}, 400, "invalidValue"},
	{"schemas without the core schema", map[string]any{"schemas": []string{EnterpriseSchema}, "userName": "x"}, 400, "invalidValue"},
	{"schemas a string", map[string]any{"schemas": UserSchema, "userName": "x"}, 400, "invalidValue"},
	{"schemas of numbers", map[string]any{"schemas": []any{1}, "userName": "x"}, 400, "invalidValue"},
	{"missing userName", map[string]any{"schemas": []string{UserSchema}, "displayName": "x"}, 400, "invalidValue"},
	{"null userName", map[string]any{"userName": nil}, 400, "invalidValue"},
	{"blank userName", map[string]any{"userName": "   "}, 400, "invalidValue"},
}

func TestCreateRejectsBadBodies(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, "")
	for _, c := range badResourceBodies {
		t.Run(c.name, func(t *testing.T) {
			ts.callSCIM(t, testToken, http.MethodPost, "/Users", c.body).expectError(t, c.status, c.scimType)
		})
	}
	for _, c := range []rejectedWrite{
		{"missing displayName", map[string]any{"schemas": []string{GroupSchema}}, 400, "invalidValue"},
		{"blank displayName", map[string]any{"displayName": ""}, 400, "invalidValue"},
		{"user schema on a group", map[string]any{"schemas": []string{UserSchema}, "displayName": "x"}, 400, "invalidValue"},
		{"member without value", map[string]any{"displayName": "x", "members": []any{map[string]any{"display": "y"}}}, 400, "invalidValue"},
		{"unknown member", groupDoc("x", "no-such-id"), 400, "invalidValue"},
	} {
		t.Run("group "+c.name, func(t *testing.T) {
			ts.callSCIM(t, testToken, http.MethodPost, "/Groups", c.body).expectError(t, c.status, c.scimType)
		})
	}
	r := ts.callSCIM(t, testToken, http.MethodGet, "/Users", nil).expect(t, http.StatusOK)
	g := ts.callSCIM(t, testToken, http.MethodGet, "/Groups", nil).expect(t, http.StatusOK)
	if jnum(t, r.Body, "totalResults") != 0 || jnum(t, g.Body, "totalResults") != 0 {
		t.Errorf("rejected creates left resources behind: %s %s", r.Raw, g.Raw)
	}
}

// TestRejectedWritesChangeNothing sends refused PUTs and PATCHes to one user and
// checks after each that the user is exactly as before.
func TestRejectedWritesChangeNothing(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, redisURL string) {
		ts := newTestServer(t, redisURL)
		uid := jstr(ts.mustCreate(t, "/Users", userDoc("steady", "displayName", "Steady",
			"name", map[string]any{"givenName": "S", "familyName": "Teady"})), "id")
		ts.mustCreate(t, "/Users", userDoc("other"))
		before := ts.callSCIM(t, testToken, http.MethodGet, "/Users/"+uid, nil).expect(t, http.StatusOK)

		unchanged := func(t *testing.T) {
			t.Helper()
			now := ts.callSCIM(t, testToken, http.MethodGet, "/Users/"+uid, nil).expect(t, http.StatusOK)
			if !bytes.Equal(now.Raw, before.Raw) {
				t.Errorf("rejected write changed the user:\nbefore %s\nafter  %s", before.Raw, now.Raw)
			}
		}
		t.Run("PUT", func(t *testing.T) {
			cases := append([]rejectedWrite{
				{"userName taken", userDoc("OTHER"), 409, "uniqueness"},
			}, badResourceBodies...)
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					ts.callSCIM(t, testToken, http.MethodPut, "/Users/"+uid, c.body).expectError(t, c.status, c.scimType)
					unchanged(t)
				})
			}
		})
		t.Run("PATCH", func(t *testing.T) {
			op := func(ops ...any) map[string]any { return patchDoc(ops...) }
			cases := []rejectedWrite{
				{"malformed JSON", `{"schemas": [`, 400, "invalidSyntax"},
				{"JSON array", `[]`, 400, "invalidSyntax"},
				{"missing schemas", map[string]any{"Operations": []any{map[string]any{"op": "replace", "path": "displayName", "value": "x"}}}, 400, "invalidSyntax"},
				{"missing Operations", map[string]any{"schemas": []string{PatchOpSchema}}, 400, "invalidSyntax"},
				{"empty Operations", map[string]any{"schemas": []string{PatchOpSchema}, "Operations": []any{}}, 400, "invalidSyntax"},
				{"Operations an object", map[string]any{"schemas": []string{PatchOpSchema}, "Operations": map[string]any{"op": "add"}}, 400, "invalidSyntax"},
				{"bad op", op("explode", "displayName", "x"), 400, "invalidSyntax"},
				{"missing op", op("", "displayName", "x"), 400, "invalidSyntax"},
				{"unknown path", op("replace", "nope", "x"), 400, "invalidPath"},
				{"unknown sub-attribute", op("replace", "name.nope", "x"), 400, "invalidPath"},
				{"unclosed value filter", op("replace", `emails[type eq "work"`, "x"), 400, "invalidPath"},
				{"unknown attribute in value filter", op("replace", `emails[foo eq "x"].value`, "x"), 400, "invalidPath"},
				{"path a number", map[string]any{"schemas": []string{PatchOpSchema}, "Operations": []any{map[string]any{"op": "replace", "path": 5, "value": "x"}}}, 400, "invalidPath"},
				{"remove without path", op("remove", "", nil), 400, "noTarget"},
				{"replace id", op("replace", "id", "another-id"), 400, "mutability"},
				{"replace meta", op("replace", "meta", map[string]any{"version": "W/\"9\""}), 400, "mutability"},
				{"replace meta.lastModified", op("replace", "meta.lastModified", "2020-01-01T00:00:00Z"), 400, "mutability"},
				{"add groups", op("add", "groups", []any{map[string]any{"value": "g"}}), 400, "mutability"},
				{"userName a number", op("replace", "userName", 5), 400, "invalidValue"},
				{"active maybe", op("replace", "active", "maybe"), 400, "invalidValue"},
				{"blank userName", op("replace", "userName", ""), 400, "invalidValue"},
				{"remove userName", op("remove", "userName", nil), 400, "invalidValue"},
				{"replace without value", op("replace", "displayName", nil), 400, "invalidValue"},
				{"path-less replace with a non-object", op("replace", "", "x"), 400, "invalidValue"},
				// An eq filter matching nothing creates the element (Entra's upsert of
				// emails[type eq "work"].value); any other filter matching nothing is noTarget.
				{"value filter matching nothing", op("replace", `emails[value co "nomatch"].value`, "h@example.com"), 400, "noTarget"},
				{"second op fails", op("replace", "displayName", "Changed", "replace", "nope", "x"), 400, "invalidPath"},
				{"third op fails", op("replace", "displayName", "Changed", "add", "title", "Boss", "replace", "active", "maybe"), 400, "invalidValue"},
				{"userName taken", op("replace", "userName", "Other"), 409, "uniqueness"},
			}
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					ts.callSCIM(t, testToken, http.MethodPatch, "/Users/"+uid, c.body).expectError(t, c.status, c.scimType)
					unchanged(t)
				})
			}
		})
		t.Run("group PATCH", func(t *testing.T) {
			gid := jstr(ts.mustCreate(t, "/Groups", groupDoc("Steady Group", uid)), "id")
			gv := ts.mustVersion(t, "/Groups/"+gid)
			for _, c := range []rejectedWrite{
				{"member without value", patchDoc("add", "members", []any{map[string]any{"display": "x"}}), 400, "invalidValue"},
				{"unknown member", patchDoc("add", "members", []any{map[string]any{"value": "ghost"}}), 400, "invalidValue"},
				{"bad member filter", patchDoc("remove", `members[value eq "x"`, nil), 400, "invalidPath"},
				{"blank displayName", patchDoc("replace", "displayName", ""), 400, "invalidValue"},
			} {
				t.Run(c.name, func(t *testing.T) {
					ts.callSCIM(t, testToken, http.MethodPatch, "/Groups/"+gid, c.body).expectError(t, c.status, c.scimType)
					if v := ts.mustVersion(t, "/Groups/"+gid); v != gv {
						t.Errorf("group version %s -> %s", gv, v)
					}
				})
			}
		})
	})
}

func TestBodyLimit(t *testing.T) {
	t.Parallel()
	const limit = 2048
	backends(t, func(t *testing.T, redisURL string) {
		ts := newTestServer(t, redisURL, func(o *Options) { o.MaxBodyBytes = limit })
		uid := jstr(ts.mustCreate(t, "/Users", userDoc("small")), "id")
		v := ts.mustVersion(t, "/Users/"+uid)
		big := func() []byte {
			data, _ := json.Marshal(userDoc("small", "displayName", strings.Repeat("x", 3*limit)))
			return data
		}
		bigPatch, _ := json.Marshal(patchDoc("replace", "displayName", strings.Repeat("y", 3*limit)))
		bigSearch, _ := json.Marshal(map[string]any{"schemas": []string{SearchSchema}, "filter": `userName eq "` + strings.Repeat("z", 3*limit) + `"`})
		chunked := func(b []byte) io.Reader { return io.MultiReader(bytes.NewReader(b)) }
		for _, c := range []struct {
			name, method, path string
			body               any
		}{
			{"POST", http.MethodPost, "/Users", big()},
			{"POST chunked", http.MethodPost, "/Users", chunked(big())},
			{"PUT", http.MethodPut, "/Users/" + uid, big()},
			{"PUT chunked", http.MethodPut, "/Users/" + uid, chunked(big())},
			{"PATCH", http.MethodPatch, "/Users/" + uid, bigPatch},
			{"PATCH chunked", http.MethodPatch, "/Users/" + uid, chunked(bigPatch)},
			{"search", http.MethodPost, "/Users/.search", bigSearch},
			{"search chunked", http.MethodPost, "/Users/.search", chunked(bigSearch)},
		} {
			t.Run(c.name, func(t *testing.T) {
				ts.callSCIM(t, testToken, c.method, c.path, c.body).expectError(t, http.StatusRequestEntityTooLarge, "")
				if got := ts.mustVersion(t, "/Users/"+uid); got != v {
					t.Errorf("version %s -> %s after a refused body", v, got)
				}
			})
		}
		t.Run("exactly the limit", func(t *testing.T) {
			doc := userDoc("exact")
			base, _ := json.Marshal(doc)
			doc["displayName"] = strings.Repeat("e", limit-len(base)-len(`,"displayName":""`))
			data, _ := json.Marshal(doc)
			if len(data) != limit {
				t.Fatalf("test body is %d bytes, want %d", len(data), limit)
			}
			ts.callSCIM(t, testToken, http.MethodPost, "/Users", chunked(data)).expect(t, http.StatusCreated)
		})
		r := ts.callSCIM(t, testToken, http.MethodGet, "/Users", nil).expect(t, http.StatusOK)
		if jnum(t, r.Body, "totalResults") != 2 {
			t.Errorf("users after refused creates: %s", r.Raw)
		}
	})
}

func TestListParameterValidation(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, redisURL string) {
		const maxResults = 5
		ts := newTestServer(t, redisURL, func(o *Options) { o.MaxResults = maxResults })
		var first string
		for i := range 7 {
			u := ts.mustCreate(t, "/Users", userDoc(fmt.Sprintf("lp%d", i)))
			if i == 0 {
				first = jstr(u, "id")
			}
		}
		q := func(params ...string) string {
			v := url.Values{}
			for i := 0; i+1 < len(params); i += 2 {
				v.Set(params[i], params[i+1])
			}
			return "/Users?" + v.Encode()
		}
		t.Run("invalid filters", func(t *testing.T) {
			for _, f := range []string{
				`userName eq`,
				`userName eq "x" and`,
				`(userName eq "x"`,
				`userName zz "x"`,
				`userName eq "unterminated`,
				`userName eq x`,
				`and`,
				`nope eq "x"`,
				`name.nope eq "x"`,
				`emails[foo eq "x"]`,
				`emails[type eq "work"`,
				`urn:example:params:scim:schemas:core:2.0:Widget:size gt 5`,
				`active gt "maybe"`,
				strings.Repeat("(", 500) + `userName eq "x"` + strings.Repeat(")", 500),
			} {
				ts.callSCIM(t, testToken, http.MethodGet, q("filter", f), nil).expectError(t, http.StatusBadRequest, "invalidFilter")
				ts.callSCIM(t, testToken, http.MethodPost, "/Users/.search", map[string]any{"schemas": []string{SearchSchema}, "filter": f}).
					expectError(t, http.StatusBadRequest, "invalidFilter")
			}
		})
		t.Run("bad parameters", func(t *testing.T) {
			for _, c := range []struct {
				path     string
				scimType string
			}{
				{q("count", "abc"), "invalidValue"},
				{q("count", "1.5"), "invalidValue"},
				{q("count", "99999999999999999999"), "invalidValue"},
				{q("startIndex", "abc"), "invalidValue"},
				{q("sortOrder", "sideways"), "invalidValue"},
				{q("sortBy", "nope"), "invalidPath"},
			} {
				ts.callSCIM(t, testToken, http.MethodGet, c.path, nil).expectError(t, http.StatusBadRequest, c.scimType)
			}
			for _, c := range []struct {
				body     any
				scimType string
			}{
				{`{"schemas": [`, "invalidSyntax"},
				{`[]`, "invalidSyntax"},
				{map[string]any{"schemas": []string{SearchSchema}, "count": "ten"}, "invalidSyntax"},
				{map[string]any{"schemas": []string{PatchOpSchema}}, "invalidValue"},
				{map[string]any{"filter": `userName eq "lp1"`}, "invalidValue"},
			} {
				ts.callSCIM(t, testToken, http.MethodPost, "/Users/.search", c.body).expectError(t, http.StatusBadRequest, c.scimType)
			}
		})
		page := func(t *testing.T, path string) (total, start, perPage int, ids []string) {
			t.Helper()
			r := ts.callSCIM(t, testToken, http.MethodGet, path, nil).expect(t, http.StatusOK)
			if s := jlist(r.Body, "schemas"); len(s) != 1 || s[0] != ListSchema {
				t.Errorf("%s: schemas %v", path, s)
			}
			rs, ok := r.Body["Resources"].([]any)
			if !ok {
				t.Errorf("%s: Resources is %v, want an array (empty when none)", path, r.Body["Resources"])
			}
			for _, x := range rs {
				ids = append(ids, jstr(x, "id"))
			}
			return jnum(t, r.Body, "totalResults"), jnum(t, r.Body, "startIndex"), jnum(t, r.Body, "itemsPerPage"), ids
		}
		for _, c := range []struct {
			name                string
			path                string
			total, start, n     int
			firstIsFirstCreated bool
		}{
			{"default page is capped by maxResults", "/Users", 7, 1, maxResults, true},
			{"huge count is clamped", q("count", "1000000000"), 7, 1, maxResults, true},
			{"negative count", q("count", "-5"), 7, 1, 0, false},
			{"zero count", q("count", "0"), 7, 1, 0, false},
			{"startIndex 0 is 1", q("startIndex", "0", "count", "2"), 7, 1, 2, true},
			{"negative startIndex is 1", q("startIndex", "-3", "count", "2"), 7, 1, 2, true},
			{"startIndex past the end", q("startIndex", "100"), 7, 100, 0, false},
			{"last partial page", q("startIndex", "6", "count", "5"), 7, 6, 2, false},
			{"filtered total", q("filter", `userName sw "lp" and not (userName eq "lp3")`, "count", "2"), 6, 1, 2, true},
		} {
			t.Run(c.name, func(t *testing.T) {
				total, start, n, ids := page(t, c.path)
				if total != c.total || start != c.start || n != c.n || len(ids) != n {
					t.Errorf("totalResults %d startIndex %d itemsPerPage %d (%d returned), want %d %d %d",
						total, start, n, len(ids), c.total, c.start, c.n)
				}
				if c.firstIsFirstCreated && (len(ids) == 0 || ids[0] != first) {
					t.Errorf("page starts with %v, want the first user %s", ids, first)
				}
			})
		}
	})
}

// TestWronglyTypedRequestFields: a SearchRequest or BulkRequest field of the
// wrong JSON type is 400 invalidSyntax whose detail names the field.
func TestWronglyTypedRequestFields(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, redisURL string) {
		ts := newTestServer(t, redisURL)
		for _, c := range []struct {
			path  string
			body  map[string]any
			field string
		}{
			{"/.search", map[string]any{"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:SearchRequest"}, "count": "2"}, "count"},
			{"/Users/.search", map[string]any{"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:SearchRequest"}, "attributes": "userName"}, "attributes"},
			{"/Bulk", map[string]any{"schemas": []string{bulkRequestSchema}, "failOnErrors": "1", "Operations": []any{}}, "failOnErrors"},
		} {
			r := ts.callSCIM(t, testToken, http.MethodPost, c.path, c.body)
			r.expectError(t, http.StatusBadRequest, "invalidSyntax")
			if d, _ := r.Body["detail"].(string); !strings.Contains(d, `"`+c.field+`"`) {
				t.Errorf("%s: detail %q does not name %q", c.path, d, c.field)
			}
		}
	})
}
