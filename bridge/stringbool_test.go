package bridge

import (
	"net/http"
	"net/url"
	"testing"
)

// TestStringBooleans: Entra and Microsoft's validator send booleans as
// "True"/"False"; they are accepted wherever the schema says boolean (POST,
// PUT, PATCH with and without path, filters) and stored and returned as JSON
// booleans. Any other string stays 400 invalidValue.
func TestStringBooleans(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, redisURL string) {
		ts := newTestServer(t, redisURL)
		post := ts.callSCIM(t, testToken, http.MethodPost, "/Users", userDoc("sb.user", "active", "True")).expect(t, http.StatusCreated)
		if post.Body["active"] != true {
			t.Errorf("POST active %v (%T), want true", post.Body["active"], post.Body["active"])
		}
		path := "/Users/" + jstr(post.Body, "id")
		put := ts.callSCIM(t, testToken, http.MethodPut, path, userDoc("sb.user", "active", "False")).expect(t, http.StatusOK)
		if put.Body["active"] != false {
			t.Errorf("PUT active %v, want false", put.Body["active"])
		}
		ts.callSCIM(t, testToken, http.MethodPatch, path, patchDoc("Replace", "active", "true")).expect(t, http.StatusOK)
		if got := ts.mustGet(t, path)["active"]; got != true {
			t.Errorf("after PATCH with path: active %v, want true", got)
		}
		ts.callSCIM(t, testToken, http.MethodPatch, path, patchDoc("Replace", "", map[string]any{"active": "False"})).expect(t, http.StatusOK)
		if got := ts.mustGet(t, path)["active"]; got != false {
			t.Errorf("after path-less PATCH: active %v, want false", got)
		}
		// Emails' primary is a boolean too.
		ts.callSCIM(t, testToken, http.MethodPatch, path, patchDoc("add", "emails", []any{map[string]any{"value": "sb2@example.com", "primary": "True"}})).expect(t, http.StatusOK)
		for _, e := range jlist(ts.mustGet(t, path), "emails") {
			if p, ok := e.(map[string]any)["primary"]; ok {
				if _, isBool := p.(bool); !isBool {
					t.Errorf("emails.primary stored as %T", p)
				}
			}
		}
		for _, f := range []string{`active eq "False"`, `active eq "false"`, `active eq false`} {
			if ids, _ := ts.listIDs(t, "/Users", "filter", f); len(ids) != 1 {
				t.Errorf("filter %s: %d users, want 1", f, len(ids))
			}
		}
		if ids, _ := ts.listIDs(t, "/Users", "filter", `active eq "True"`); len(ids) != 0 {
			t.Errorf(`filter active eq "True": %d users, want 0`, len(ids))
		}
		ts.callSCIM(t, testToken, http.MethodPost, "/Users", userDoc("sb.bad", "active", "yes")).expectError(t, http.StatusBadRequest, "invalidValue")
		ts.callSCIM(t, testToken, http.MethodPut, path, userDoc("sb.user", "active", "1")).expectError(t, http.StatusBadRequest, "invalidValue")
		ts.callSCIM(t, testToken, http.MethodPatch, path, patchDoc("replace", "active", "nope")).expectError(t, http.StatusBadRequest, "invalidValue")
		ts.callSCIM(t, testToken, http.MethodGet, "/Users?filter="+url.QueryEscape(`active eq "maybe"`), nil).expectError(t, http.StatusBadRequest, "invalidFilter")
		// Bulk operations take the same path.
		res := ts.bulkResults(t, bulkDoc(0, bulkOp("POST", "/Users", "b", userDoc("sb.bulk", "active", "False"))))
		if len(res) != 1 || res[0]["status"] != "201" {
			t.Fatalf("bulk %v", res)
		}
		if ids, _ := ts.listIDs(t, "/Users", "filter", `userName eq "sb.bulk" and active eq false`); len(ids) != 1 {
			t.Errorf("bulk-created user with active \"False\" not found as active eq false")
		}
	})
}
