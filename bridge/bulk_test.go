package bridge

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/scim-bridge/scim-bridge/store/redistest"
)

const bulkRequestSchema = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"

func bulkDoc(failOnErrors int, ops ...map[string]any) map[string]any {
	d := map[string]any{"schemas": []string{bulkRequestSchema}, "Operations": ops}
	if failOnErrors > 0 {
		d["failOnErrors"] = failOnErrors
	}
	return d
}

func bulkOp(method, path, bulkID string, data any) map[string]any {
	op := map[string]any{"method": method, "path": path}
	if bulkID != "" {
		op["bulkId"] = bulkID
	}
	if data != nil {
		op["data"] = data
	}
	return op
}

// bulkResults posts a bulk request, expects 200 and returns its Operations.
func (ts *testServer) bulkResults(t *testing.T, doc map[string]any) []map[string]any {
	t.Helper()
	r := ts.callSCIM(t, testToken, http.MethodPost, "/Bulk", doc).expect(t, http.StatusOK)
	if s := jlist(r.Body, "schemas"); len(s) != 1 || s[0] != "urn:ietf:params:scim:api:messages:2.0:BulkResponse" {
		t.Errorf("bulk response schemas %v", s)
	}
	var out []map[string]any
	for _, o := range jlist(r.Body, "Operations") {
		out = append(out, o.(map[string]any))
	}
	return out
}

func TestBulk(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, redisURL string) {
		ts := newTestServer(t, redisURL, func(o *Options) { o.BulkMaxOperations = 20; o.BulkMaxPayloadBytes = 64 << 10 })

		t.Run("service provider config advertises the limits", func(t *testing.T) {
			spc := ts.callSCIM(t, "", http.MethodGet, "/ServiceProviderConfig", nil).expect(t, http.StatusOK).Body
			if lookupPath(spc, "bulk.supported") != true || jnum(t, spc, "bulk.maxOperations") != 20 || jnum(t, spc, "bulk.maxPayloadSize") != 64<<10 {
				t.Errorf("bulk %v", spc["bulk"])
			}
		})

		t.Run("every method, bulkId references in paths and members", func(t *testing.T) {
			victim := jstr(ts.mustCreate(t, "/Users", userDoc("bulk.victim")), "id")
			res := ts.bulkResults(t, bulkDoc(0,
				// The group refers to a user created by a later operation.
				bulkOp("POST", "/Groups", "g1", map[string]any{"schemas": []string{GroupSchema}, "displayName": "Bulk Team",
					"members": []any{map[string]any{"value": "bulkId:u1"}}}),
				bulkOp("POST", "/Users", "u1", userDoc("bulk.one")),
				bulkOp("PATCH", "/Users/bulkId:u1", "", patchDoc("replace", "displayName", "Bulk One")),
				bulkOp("PUT", "/Users/"+victim, "", userDoc("bulk.victim", "title", "Replaced")),
				bulkOp("DELETE", "/Users/"+victim, "", nil),
			))
			if len(res) != 5 {
				t.Fatalf("%d results, want 5: %v", len(res), res)
			}
			wantMethod := []string{"POST", "POST", "PATCH", "PUT", "DELETE"}
			wantStatus := []string{"201", "201", "200", "200", "204"}
			for i, r := range res {
				if r["method"] != wantMethod[i] || r["status"] != wantStatus[i] {
					t.Errorf("result %d: %v, want %s %s", i, r, wantMethod[i], wantStatus[i])
				}
			}
			if res[0]["bulkId"] != "g1" || res[1]["bulkId"] != "u1" {
				t.Errorf("bulkIds %v %v", res[0]["bulkId"], res[1]["bulkId"])
			}
			uLoc, _ := res[1]["location"].(string)
			gLoc, _ := res[0]["location"].(string)
			if !strings.HasPrefix(uLoc, ts.srv.URL+"/scim/v2/Users/") || !strings.HasPrefix(gLoc, ts.srv.URL+"/scim/v2/Groups/") {
				t.Fatalf("locations %q %q", uLoc, gLoc)
			}
			uid := uLoc[strings.LastIndexByte(uLoc, '/')+1:]
			for i := range 4 {
				if v, _ := res[i]["version"].(string); !strings.HasPrefix(v, `W/"`) {
					t.Errorf("result %d: version %q", i, v)
				}
			}
			if res[2]["location"] != uLoc {
				t.Errorf("PATCH location %v, want %s", res[2]["location"], uLoc)
			}
			u := ts.mustGet(t, "/Users/"+uid)
			if jstr(u, "displayName") != "Bulk One" {
				t.Errorf("user after bulk PATCH: %v", u)
			}
			if res[2]["version"] != jstr(u, "meta.version") {
				t.Errorf("PATCH version %v, resource version %s", res[2]["version"], jstr(u, "meta.version"))
			}
			g := ts.mustGet(t, gLoc[len(ts.srv.URL+"/scim/v2"):])
			if ms := jlist(g, "members"); len(ms) != 1 || jstr(ms[0], "value") != uid {
				t.Errorf("group members %v, want [%s]", ms, uid)
			}
			ts.callSCIM(t, testToken, http.MethodGet, "/Users/"+victim, nil).expect(t, http.StatusNotFound)
		})

		// An operation waiting for a bulkId holds back later operations on the
		// same resource; a bulkId quoted in a value filter is resolved; every
		// result but a failed POST has a location (RFC 7644 §3.7).
		t.Run("order per resource, references in filters, locations", func(t *testing.T) {
			e := jstr(ts.mustCreate(t, "/Users", userDoc("bulk.order.e")), "id")
			gid := jstr(ts.mustCreate(t, "/Groups", groupDoc("Bulk Order")), "id")
			members := func(id string) any { return []any{map[string]any{"value": id}} }
			res := ts.bulkResults(t, bulkDoc(0,
				bulkOp("POST", "/Users", "u", userDoc("bulk.order.u")),
				bulkOp("PATCH", "/Groups/"+gid, "", patchDoc("replace", "members", members("bulkId:u"))),
				bulkOp("PATCH", "/Groups/"+gid, "", patchDoc("replace", "members", members(e))),
				bulkOp("POST", "/Users", "w", userDoc("bulk.order.w")),
				bulkOp("POST", "/Groups", "g", map[string]any{"schemas": []string{GroupSchema}, "displayName": "Bulk Filter", "members": members("bulkId:w")}),
				bulkOp("PATCH", "/Groups/bulkId:g", "", patchDoc("remove", `members[value eq "bulkId:w"]`, nil)),
				bulkOp("DELETE", "/Users/bulkId:u", "", nil),
				bulkOp("PATCH", "/Users/no-such-user", "", patchDoc("replace", "title", "x")),
			))
			if len(res) != 8 {
				t.Fatalf("%d results: %v", len(res), res)
			}
			if v1, v2 := res[1]["version"], res[2]["version"]; v1 != `W/"2"` || v2 != `W/"3"` {
				t.Errorf("the two PATCHes of the group ran out of order: versions %v, %v", v1, v2)
			}
			if ms := jlist(ts.mustGet(t, "/Groups/"+gid), "members"); len(ms) != 1 || jstr(ms[0], "value") != e {
				t.Errorf("group members %v, want the last PATCH's [%s]", ms, e)
			}
			gLoc, _ := res[4]["location"].(string)
			if ms := jlist(ts.mustGet(t, gLoc[len(ts.srv.URL+"/scim/v2"):]), "members"); len(ms) != 0 || res[5]["status"] != "204" {
				t.Errorf("remove by members[value eq \"bulkId:w\"]: %v, members %v", res[5], ms)
			}
			for i, r := range res {
				if loc, _ := r["location"].(string); !strings.HasPrefix(loc, ts.srv.URL+"/scim/v2/") {
					t.Errorf("result %d has no location: %v", i, r)
				}
			}
			if res[7]["status"] != "404" || res[7]["location"] != ts.srv.URL+"/scim/v2/Users/no-such-user" {
				t.Errorf("failed PATCH: %v", res[7])
			}
			ts.callSCIM(t, testToken, http.MethodPost, "/Bulk", map[string]any{"schemas": []string{bulkRequestSchema}}).
				expectError(t, http.StatusBadRequest, "invalidSyntax")
		})

		t.Run("errors do not stop the job unless failOnErrors", func(t *testing.T) {
			mk := func(id, name string) map[string]any { return bulkOp("POST", "/Users", id, userDoc(name)) }
			res := ts.bulkResults(t, bulkDoc(0, mk("a", "bulk.dup"), mk("b", "bulk.dup"), mk("c", "bulk.other")))
			if len(res) != 3 || res[0]["status"] != "201" || res[1]["status"] != "409" || res[2]["status"] != "201" {
				t.Fatalf("results %v", res)
			}
			if lookupPath(res[1], "response.scimType") != "uniqueness" || lookupPath(res[1], "response.status") != "409" {
				t.Errorf("error response %v", res[1]["response"])
			}
			res = ts.bulkResults(t, bulkDoc(1, mk("d", "bulk.dup"), mk("e", "bulk.never")))
			if len(res) != 1 || res[0]["status"] != "409" {
				t.Fatalf("failOnErrors=1: results %v", res)
			}
			if ids, _ := ts.listIDs(t, "/Users", "filter", `userName eq "bulk.never"`); len(ids) != 0 {
				t.Errorf("operation after failOnErrors ran")
			}
			ts.callSCIM(t, testToken, http.MethodPost, "/Bulk", map[string]any{"schemas": []string{bulkRequestSchema}, "failOnErrors": 0, "Operations": []any{}}).
				expectError(t, http.StatusBadRequest, "invalidValue")
		})

		t.Run("a reference to a failed or unknown operation is a 409", func(t *testing.T) {
			res := ts.bulkResults(t, bulkDoc(0,
				bulkOp("POST", "/Users", "bad", map[string]any{"schemas": []string{UserSchema}}), // no userName
				bulkOp("POST", "/Groups", "g", groupDoc("Refers to bad", "bulkId:bad")),
				bulkOp("PATCH", "/Users/bulkId:nowhere", "", patchDoc("replace", "active", false)),
			))
			if len(res) != 3 || res[0]["status"] != "400" || res[1]["status"] != "409" || res[2]["status"] != "409" {
				t.Fatalf("results %v", res)
			}
			if ids, _ := ts.listIDs(t, "/Groups", "filter", `displayName eq "Refers to bad"`); len(ids) != 0 {
				t.Errorf("group referring to a failed operation was created")
			}
		})

		t.Run("circular references between groups are resolved", func(t *testing.T) {
			res := ts.bulkResults(t, bulkDoc(0,
				bulkOp("POST", "/Groups", "A", groupDoc("Circle A", "bulkId:B")),
				bulkOp("POST", "/Groups", "B", groupDoc("Circle B", "bulkId:A")),
			))
			if len(res) != 2 || res[0]["status"] != "201" || res[1]["status"] != "201" {
				t.Fatalf("results %v", res)
			}
			id := func(r map[string]any) string { l := r["location"].(string); return l[strings.LastIndexByte(l, '/')+1:] }
			a, b := id(res[0]), id(res[1])
			for _, c := range [][2]string{{a, b}, {b, a}} {
				g := ts.mustGet(t, "/Groups/"+c[0])
				if ms := jlist(g, "members"); len(ms) != 1 || jstr(ms[0], "value") != c[1] || jstr(ms[0], "type") != "Group" {
					t.Errorf("group %s members %v, want group %s", c[0], ms, c[1])
				}
				if v := ts.mustVersion(t, "/Groups/"+c[0]); res[slices.Index([]string{a, b}, c[0])]["version"] != v {
					t.Errorf("group %s: bulk version %v, resource version %s", c[0], res[slices.Index([]string{a, b}, c[0])]["version"], v)
				}
			}
			// A cycle through a non-member attribute cannot be broken: 409.
			res = ts.bulkResults(t, bulkDoc(0,
				bulkOp("POST", "/Users", "x", userDoc("cycle.x", "externalId", "bulkId:y")),
				bulkOp("POST", "/Users", "y", userDoc("cycle.y", "externalId", "bulkId:x")),
			))
			if len(res) != 2 || res[0]["status"] != "409" || res[1]["status"] != "409" {
				t.Errorf("unbreakable cycle: %v", res)
			}
		})

		t.Run("version is If-Match", func(t *testing.T) {
			u := ts.mustCreate(t, "/Users", userDoc("bulk.versioned"))
			path := "/Users/" + jstr(u, "id")
			stale := jstr(u, "meta.version")
			ts.callSCIM(t, testToken, http.MethodPatch, path, patchDoc("replace", "title", "moved on")).expect(t, http.StatusOK)
			op := bulkOp("PATCH", path, "", patchDoc("replace", "title", "stale write"))
			op["version"] = stale
			res := ts.bulkResults(t, bulkDoc(0, op))
			if len(res) != 1 || res[0]["status"] != "412" {
				t.Fatalf("results %v", res)
			}
			if got := jstr(ts.mustGet(t, path), "title"); got != "moved on" {
				t.Errorf("title %q after a failed conditional bulk PATCH", got)
			}
		})

		t.Run("an operation is as atomic as its single request", func(t *testing.T) {
			u := ts.mustCreate(t, "/Users", userDoc("bulk.atomic"))
			path := "/Users/" + jstr(u, "id")
			res := ts.bulkResults(t, bulkDoc(0, bulkOp("PATCH", path, "", patchDoc(
				"replace", "title", "half", "replace", "userName", 42))))
			if len(res) != 1 || res[0]["status"] != "400" {
				t.Fatalf("results %v", res)
			}
			if got := ts.mustGet(t, path); jstr(got, "title") != "" || jstr(got, "meta.version") != jstr(u, "meta.version") {
				t.Errorf("a failed bulk PATCH changed the resource: %v", got)
			}
		})

		t.Run("bad operations", func(t *testing.T) {
			res := ts.bulkResults(t, bulkDoc(0,
				bulkOp("POST", "/Users", "", userDoc("bulk.nobulkid")),
				bulkOp("GET", "/Users", "", nil),
				bulkOp("POST", "/Widgets", "w", map[string]any{}),
				bulkOp("DELETE", "/Users", "", nil),
				bulkOp("POST", "/Bulk", "n", bulkDoc(0)),
			))
			for i, r := range res {
				if s, _ := r["status"].(string); s != "400" {
					t.Errorf("operation %d: %v, want 400", i, r)
				}
			}
			ts.callSCIM(t, testToken, http.MethodPost, "/Bulk", bulkDoc(0, bulkOp("POST", "/Users", "d", userDoc("a")), bulkOp("POST", "/Users", "d", userDoc("b")))).
				expectError(t, http.StatusBadRequest, "invalidValue")
			ts.callSCIM(t, testToken, http.MethodGet, "/Bulk", nil).expectError(t, http.StatusMethodNotAllowed, "")
		})

		t.Run("limits are enforced with 413", func(t *testing.T) {
			var ops []map[string]any
			for i := range 21 {
				ops = append(ops, bulkOp("POST", "/Users", fmt.Sprint(i), userDoc(fmt.Sprintf("bulk.limit%d", i))))
			}
			r := ts.callSCIM(t, testToken, http.MethodPost, "/Bulk", bulkDoc(0, ops...))
			r.expectError(t, http.StatusRequestEntityTooLarge, "tooLarge")
			if d := jstr(r.Body, "detail"); !strings.Contains(d, "maxOperations 20") || !strings.Contains(d, "maxPayloadSize 65536") {
				t.Errorf("detail %q does not name the limits", d)
			}
			big := bulkDoc(0, bulkOp("POST", "/Users", "big", userDoc("bulk.big", "title", strings.Repeat("x", 70<<10))))
			ts.callSCIM(t, testToken, http.MethodPost, "/Bulk", big).expectError(t, http.StatusRequestEntityTooLarge, "tooLarge")
			if ids, _ := ts.listIDs(t, "/Users", "filter", `userName sw "bulk.limit"`); len(ids) != 0 {
				t.Errorf("a rejected bulk request created %d users", len(ids))
			}
		})
	})
}

// TestBulkConcurrentCreatesWithBulkIDText: creates without references run
// concurrently on Redis; one whose data holds the bare text "bulkId:" (an
// empty reference) is still substituted, which read the created ids while
// the other creates wrote them (under -race: a data race; without it, the
// process could die of a concurrent map access). The text stays as sent.
func TestBulkConcurrentCreatesWithBulkIDText(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, redistest.Start(t), func(o *Options) { o.BulkMaxOperations = 200; o.BulkMaxPayloadBytes = 1 << 20 })
	var ops []map[string]any
	for i := range 64 {
		ops = append(ops, bulkOp("POST", "/Users", fmt.Sprintf("u%d", i), userDoc(fmt.Sprintf("race.%d", i), "title", "bulkId:")))
	}
	res := ts.bulkResults(t, bulkDoc(0, ops...))
	if len(res) != 64 {
		t.Fatalf("%d results, want 64", len(res))
	}
	for _, r := range res {
		if r["status"] != "201" {
			t.Fatalf("result %v, want 201", r)
		}
	}
	r := ts.callSCIM(t, testToken, http.MethodGet, "/Users?filter=userName%20eq%20%22race.7%22", nil).expect(t, http.StatusOK)
	if got := jlist(r.Body, "Resources"); len(got) != 1 || got[0].(map[string]any)["title"] != "bulkId:" {
		t.Fatalf("race.7: %v, want its title kept as \"bulkId:\"", got)
	}
}
