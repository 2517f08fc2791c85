package bridge

import (
	"net/http"
	"slices"
	"testing"
)

// TestExternalIDNotUnique: externalId belongs to the client (RFC 7643 §3.1): it
// is not unique, and an eq lookup returns every resource carrying it.
func TestExternalIDNotUnique(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, redisURL string) {
		ts := newTestServer(t, redisURL)
		a := jstr(ts.mustCreate(t, "/Users", userDoc("ext.a", "externalId", "shared-ext")), "id")
		b := jstr(ts.mustCreate(t, "/Users", userDoc("ext.b", "externalId", "shared-ext")), "id")
		ids, total := ts.listIDs(t, "/Users", "filter", `externalId eq "shared-ext"`)
		if total != 2 || !slices.Equal(ids, []string{a, b}) {
			t.Errorf("externalId eq: %v (total %d), want [%s %s]", ids, total, a, b)
		}
		// Case-exact: another case is another value.
		if ids, _ := ts.listIDs(t, "/Users", "filter", `externalId eq "SHARED-EXT"`); len(ids) != 0 {
			t.Errorf("externalId is case-exact, got %v", ids)
		}
		// userName stays unique.
		ts.callSCIM(t, testToken, http.MethodPost, "/Users", userDoc("EXT.A", "externalId", "other")).expectError(t, http.StatusConflict, "uniqueness")
		ga := jstr(ts.mustCreate(t, "/Groups", map[string]any{"schemas": []string{GroupSchema}, "displayName": "Ext G1", "externalId": "g-ext"}), "id")
		gb := jstr(ts.mustCreate(t, "/Groups", map[string]any{"schemas": []string{GroupSchema}, "displayName": "Ext G2", "externalId": "g-ext"}), "id")
		if ids, _ := ts.listIDs(t, "/Groups", "filter", `externalId eq "g-ext"`); !slices.Equal(ids, []string{ga, gb}) {
			t.Errorf("group externalId eq: %v", ids)
		}
		// PATCH and PUT onto a taken externalId are fine too.
		ts.callSCIM(t, testToken, http.MethodPatch, "/Users/"+a, patchDoc("replace", "externalId", "third")).expect(t, http.StatusOK)
		ts.callSCIM(t, testToken, http.MethodPut, "/Users/"+b, userDoc("ext.b", "externalId", "third")).expect(t, http.StatusOK)
		if ids, _ := ts.listIDs(t, "/Users", "filter", `externalId eq "third"`); len(ids) != 2 {
			t.Errorf("after PATCH/PUT: %v", ids)
		}
	})
}
