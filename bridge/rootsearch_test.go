package bridge

import (
	"fmt"
	"net/http"
	"slices"
	"testing"
)

// TestRootSearch: GET / and POST /.search query Users and Groups together (RFC
// 7644 §3.4.3): one ListResponse, each resource with its own schemas and
// meta.resourceType, paging and sorting over the merged sequence.
func TestRootSearch(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, redisURL string) {
		ts := newTestServer(t, redisURL)
		var users, groups []string
		for i := range 5 {
			users = append(users, jstr(ts.mustCreate(t, "/Users", userDoc(fmt.Sprintf("root%d", i), "displayName", fmt.Sprintf("Zed %d", i))), "id"))
		}
		for i := range 3 {
			groups = append(groups, jstr(ts.mustCreate(t, "/Groups", groupDoc(fmt.Sprintf("Alpha %d", i), users[i])), "id"))
		}
		all := append(slices.Clone(users), groups...)

		t.Run("everything, users then groups", func(t *testing.T) {
			r := ts.callSCIM(t, testToken, http.MethodGet, "/", nil).expect(t, http.StatusOK)
			if jnum(t, r.Body, "totalResults") != 8 {
				t.Fatalf("totalResults %v, want 8", r.Body["totalResults"])
			}
			var got []string
			for _, res := range jlist(r.Body, "Resources") {
				id := jstr(res, "id")
				got = append(got, id)
				wantType, wantSchema := "User", UserSchema
				if slices.Contains(groups, id) {
					wantType, wantSchema = "Group", GroupSchema
				}
				if rt := jstr(res, "meta.resourceType"); rt != wantType {
					t.Errorf("%s: meta.resourceType %q, want %q", id, rt, wantType)
				}
				if s := jlist(res, "schemas"); len(s) == 0 || s[0] != wantSchema {
					t.Errorf("%s: schemas %v, want %s first", id, s, wantSchema)
				}
			}
			if !slices.Equal(got, all) {
				t.Errorf("order %v, want %v", got, all)
			}
		})

		t.Run("index pages across the type boundary", func(t *testing.T) {
			var got []string
			for start := 1; start <= 8; start += 3 {
				ids, total := ts.listIDs(t, "/", "startIndex", fmt.Sprint(start), "count", "3")
				if total != 8 {
					t.Errorf("totalResults %d, want 8", total)
				}
				got = append(got, ids...)
			}
			if !slices.Equal(got, all) {
				t.Errorf("pages %v, want %v", got, all)
			}
		})

		t.Run("filter on an attribute of both types", func(t *testing.T) {
			ids, total := ts.listIDs(t, "/", "filter", `displayName sw "Alpha"`)
			if total != 3 || !slices.Equal(ids, groups) {
				t.Errorf("got %v (total %d), want the groups %v", ids, total, groups)
			}
		})

		t.Run("filter on an attribute of users only", func(t *testing.T) {
			ids, total := ts.listIDs(t, "/", "filter", `userName eq "root3"`)
			if total != 1 || len(ids) != 1 || ids[0] != users[3] {
				t.Errorf("got %v (total %d), want [%s]", ids, total, users[3])
			}
			// Indexed lookups stay indexed: the same answer by id.
			ids, _ = ts.listIDs(t, "/", "filter", fmt.Sprintf(`id eq %q`, groups[1]))
			if !slices.Equal(ids, []string{groups[1]}) {
				t.Errorf("id eq: got %v", ids)
			}
		})

		t.Run("filter no type understands", func(t *testing.T) {
			ts.callSCIM(t, testToken, http.MethodGet, "/?filter=nosuchattr%20eq%20%22x%22", nil).expectError(t, http.StatusBadRequest, "invalidFilter")
			ts.callSCIM(t, testToken, http.MethodGet, "/?filter=userName%20eq", nil).expectError(t, http.StatusBadRequest, "invalidFilter")
		})

		t.Run("sorted across types, paged", func(t *testing.T) {
			// displayName: groups "Alpha n" sort before users "Zed n".
			want := append(slices.Clone(groups), users...)
			var got []string
			for start := 1; start <= 8; start += 3 {
				ids, _ := ts.listIDs(t, "/", "sortBy", "displayName", "startIndex", fmt.Sprint(start), "count", "3")
				got = append(got, ids...)
			}
			if !slices.Equal(got, want) {
				t.Errorf("ascending %v, want %v", got, want)
			}
			desc, _ := ts.listIDs(t, "/", "sortBy", "displayName", "sortOrder", "descending")
			slices.Reverse(want)
			if !slices.Equal(desc, want) {
				t.Errorf("descending %v, want %v", desc, want)
			}
			// userName exists on users only: groups have no value and sort last.
			byUser, _ := ts.listIDs(t, "/", "sortBy", "userName", "sortOrder", "descending")
			wantUser := append([]string{users[4], users[3], users[2], users[1], users[0]}, groups...)
			if !slices.Equal(byUser, wantUser) {
				t.Errorf("sortBy userName descending %v, want %v", byUser, wantUser)
			}
		})

		t.Run("POST /.search with projection", func(t *testing.T) {
			r := ts.callSCIM(t, testToken, http.MethodPost, "/.search", map[string]any{
				"schemas": []string{SearchSchema}, "filter": `displayName sw "Alpha 1" or userName eq "root0"`,
				"attributes": []string{"displayName"}, "startIndex": 1, "count": 10,
			}).expect(t, http.StatusOK)
			rs := jlist(r.Body, "Resources")
			if len(rs) != 2 || jstr(rs[0], "id") != users[0] || jstr(rs[1], "id") != groups[1] {
				t.Fatalf("got %s", r.Raw)
			}
			if _, has := rs[0].(map[string]any)["userName"]; has {
				t.Errorf("attributes=displayName still returns userName: %v", rs[0])
			}
			if _, has := rs[1].(map[string]any)["members"]; has {
				t.Errorf("attributes=displayName still returns members: %v", rs[1])
			}
		})

		t.Run("methods", func(t *testing.T) {
			ts.callSCIM(t, testToken, http.MethodPost, "/", userDoc("x")).expectError(t, http.StatusMethodNotAllowed, "")
			ts.callSCIM(t, testToken, http.MethodGet, "/.search", nil).expectError(t, http.StatusMethodNotAllowed, "")
			ts.callSCIM(t, "", http.MethodGet, "/", nil).expectError(t, http.StatusUnauthorized, "")
			ts.callSCIM(t, testToken2, http.MethodGet, "/", nil).expect(t, http.StatusOK)
			if ids, total := ts.listIDs(t, "/", "count", "0"); total != 8 || len(ids) != 0 {
				t.Errorf("count=0: %d resources, total %d", len(ids), total)
			}
		})
	})
}
