package bridge

import (
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"

	"github.com/scim-bridge/scim-bridge/store"
)

// memberValues returns the sorted member ids of a group as GET returns them.
func (ts *testServer) memberValues(t testing.TB, gid string) []string {
	t.Helper()
	var got []string
	for _, m := range jlist(ts.mustGet(t, "/Groups/"+gid), "members") {
		got = append(got, jstr(m, "value"))
	}
	slices.Sort(got)
	return got
}

func sorted(ids ...string) []string {
	out := slices.Clone(ids)
	slices.Sort(out)
	return out
}

func TestGroupPatchMemberShapes(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, redisURL string) {
		ts := newTestServer(t, redisURL)
		u := make([]string, 6)
		for i := range u {
			u[i] = jstr(ts.mustCreate(t, "/Users", userDoc(fmt.Sprintf("shape%d", i))), "id")
		}
		gid := jstr(ts.mustCreate(t, "/Groups", groupDoc("Shapes", u[0])), "id")
		nested := jstr(ts.mustCreate(t, "/Groups", groupDoc("Nested")), "id")
		val := func(ids ...string) []any {
			out := make([]any, len(ids))
			for i, id := range ids {
				out[i] = map[string]any{"value": id}
			}
			return out
		}
		steps := []struct {
			name string
			body map[string]any
			want []string
		}{
			{"add a value list (Okta, Entra)", patchDoc("add", "members", val(u[1], u[2])), sorted(u[0], u[1], u[2])},
			{"remove with a value list (Entra)", patchDoc("Remove", "members", val(u[0], u[5])), sorted(u[1], u[2])},
			{"remove by value filter (Okta)", patchDoc("remove", `members[value eq "`+u[1]+`"]`, nil), sorted(u[2])},
			{"path-less add carrying members", patchDoc("Add", "", map[string]any{"members": val(u[3])}), sorted(u[2], u[3])},
			{"a nested group", patchDoc("add", "members", []any{map[string]any{"value": nested, "type": "Group"}}), sorted(u[2], u[3], nested)},
			{"replace of members", patchDoc("replace", "members", val(u[4], u[3])), sorted(u[3], u[4])},
			{"path-less replace carrying members and displayName",
				patchDoc("replace", "", map[string]any{"displayName": "Shapes 2", "members": val(u[5])}), sorted(u[5])},
			{"add then remove of one id is a removal", patchDoc("add", "members", val(u[0]), "remove", `members[value eq "`+u[0]+`"]`, nil), sorted(u[5])},
			{"remove then add of one id is an addition", patchDoc("remove", "members", val(u[5]), "add", "members", val(u[5])), sorted(u[5])},
			{"remove all members", patchDoc("remove", "members", nil), nil},
		}
		for _, s := range steps {
			ts.callSCIM(t, testToken, http.MethodPatch, "/Groups/"+gid, s.body).expect(t, http.StatusNoContent)
			if got := ts.memberValues(t, gid); !slices.Equal(got, s.want) {
				t.Fatalf("%s: members %v, want %v", s.name, got, s.want)
			}
		}
		if g := ts.mustGet(t, "/Groups/"+gid); jstr(g, "displayName") != "Shapes 2" {
			t.Fatalf("displayName %q after a path-less replace", jstr(g, "displayName"))
		}
		// A member's display is its own name; its $ref and type follow its kind.
		ts.callSCIM(t, testToken, http.MethodPatch, "/Groups/"+gid,
			patchDoc("add", "members", []any{map[string]any{"value": u[0], "display": "not the name"}, map[string]any{"value": nested}})).
			expect(t, http.StatusNoContent)
		for _, m := range jlist(ts.mustGet(t, "/Groups/"+gid), "members") {
			want := map[string]string{u[0]: "shape0", nested: "Nested"}[jstr(m, "value")]
			kind := map[string]string{u[0]: "User", nested: "Group"}[jstr(m, "value")]
			if jstr(m, "display") != want || jstr(m, "type") != kind || jstr(m, "$ref") != ts.srv.URL+"/scim/v2/"+kind+"s/"+jstr(m, "value") {
				t.Errorf("member %v: want display %q, type %s", m, want, kind)
			}
		}
	})
}

// An operation list applies as a whole or not at all, and If-Match is honoured.
func TestGroupPatchAllOrNothing(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, redisURL string) {
		ts := newTestServer(t, redisURL)
		a := jstr(ts.mustCreate(t, "/Users", userDoc("aon-a")), "id")
		b := jstr(ts.mustCreate(t, "/Users", userDoc("aon-b")), "id")
		gid := jstr(ts.mustCreate(t, "/Groups", groupDoc("AllOrNothing", a)), "id")
		ts.mustCreate(t, "/Groups", groupDoc("Taken"))
		before := ts.mustGet(t, "/Groups/"+gid)
		cases := []struct {
			name     string
			body     map[string]any
			status   int
			scimType string
		}{
			{"unknown member beside a rename", patchDoc("replace", "displayName", "Renamed", "add", "members",
				[]any{map[string]any{"value": b}, map[string]any{"value": "no-such-user"}}), 400, "invalidValue"},
			{"taken displayName beside member changes", patchDoc("add", "members", []any{map[string]any{"value": b}},
				"remove", "members", []any{map[string]any{"value": a}}, "replace", "displayName", "TAKEN"), 409, "uniqueness"},
			{"removing displayName beside member changes", patchDoc("add", "members", []any{map[string]any{"value": b}},
				"remove", "displayName", nil), 400, "invalidValue"},
			{"a member without value", patchDoc("add", "members", []any{map[string]any{"display": "x"}}), 400, "invalidValue"},
		}
		for _, c := range cases {
			ts.callSCIM(t, testToken, http.MethodPatch, "/Groups/"+gid, c.body).expectError(t, c.status, c.scimType)
		}
		ts.callSCIM(t, testToken, http.MethodPatch, "/Groups/"+gid,
			patchDoc("add", "members", []any{map[string]any{"value": b}}), "If-Match", `W/"7"`).expect(t, http.StatusPreconditionFailed)
		after := ts.mustGet(t, "/Groups/"+gid)
		if jstr(after, "meta.version") != jstr(before, "meta.version") || jstr(after, "displayName") != "AllOrNothing" ||
			!slices.Equal(ts.memberValues(t, gid), []string{a}) {
			t.Fatalf("a rejected PATCH changed the group: %v", after)
		}
		// With the right version: one new version for the whole list.
		r := ts.callSCIM(t, testToken, http.MethodPatch, "/Groups/"+gid,
			patchDoc("add", "members", []any{map[string]any{"value": b}}, "replace", "externalId", "ext-9"),
			"If-Match", jstr(before, "meta.version")).expect(t, http.StatusNoContent)
		if r.Header.Get("ETag") != `W/"2"` {
			t.Fatalf("ETag %q after one PATCH of version 1", r.Header.Get("ETag"))
		}
		// A projected response is the group as stored.
		got := ts.callSCIM(t, testToken, http.MethodPatch, "/Groups/"+gid+"?attributes=members.value,externalId",
			patchDoc("remove", `members[value eq "`+a+`"]`, nil)).expect(t, http.StatusOK).Body
		if jstr(got, "externalId") != "ext-9" || len(jlist(got, "members")) != 1 || jstr(jlist(got, "members")[0], "value") != b ||
			jstr(jlist(got, "members")[0], "display") != "" || jstr(got, "displayName") != "" {
			t.Fatalf("projected PATCH response %v", got)
		}
	})
}

// Member PATCHes of one group in flight together all land, with a rename
// racing them; none is refused.
func TestGroupPatchConcurrentWithRename(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, redisURL string) {
		ts := newTestServer(t, redisURL)
		const n = 40
		ids := make([]string, n)
		for i := range ids {
			ids[i] = jstr(ts.mustCreate(t, "/Users", userDoc(fmt.Sprintf("race%02d", i))), "id")
		}
		gid := jstr(ts.mustCreate(t, "/Groups", groupDoc("Race")), "id")
		var wg sync.WaitGroup
		errs := make(chan error, n+5)
		for i := range n {
			wg.Go(func() {
				r, err := ts.sendSCIM(testToken, http.MethodPatch, "/Groups/"+gid,
					patchDoc("add", "members", []any{map[string]any{"value": ids[i]}}))
				if err == nil && r.Status != http.StatusNoContent {
					err = fmt.Errorf("add %d: %d %s", i, r.Status, r.Raw)
				}
				if err != nil {
					errs <- err
				}
			})
		}
		for i := range 5 {
			wg.Go(func() {
				r, err := ts.sendSCIM(testToken, http.MethodPatch, "/Groups/"+gid,
					patchDoc("replace", "displayName", fmt.Sprintf("Race %d", i)))
				if err == nil && r.Status != http.StatusNoContent {
					err = fmt.Errorf("rename %d: %d %s", i, r.Status, r.Raw)
				}
				if err != nil {
					errs <- err
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		if got := ts.memberValues(t, gid); !slices.Equal(got, sorted(ids...)) {
			t.Fatalf("%d members after %d concurrent adds", len(got), n)
		}
		if v := ts.mustVersion(t, "/Groups/"+gid); v != fmt.Sprintf(`W/"%d"`, 1+n+5) {
			t.Fatalf("version %s, want one per change", v)
		}
	})
}

// GET of a group streams members in chunks: more than one chunk, projections
// of members and their sub-attributes, ETags, and list pages without members.
func TestGroupReadMembersStreamed(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, redisURL string) {
		ts := newTestServer(t, redisURL)
		const n = 1203
		ids := make([]string, n)
		st := ts.b.Store()
		for i := range ids {
			ids[i] = fmt.Sprintf("bulk-%05d", i)
		}
		createUsersDirect(t, st, ids)
		gid := jstr(ts.mustCreate(t, "/Groups", groupDoc("Big")), "id")
		for start := 0; start < n; start += 50 {
			batch := make([]any, 0, 50)
			for _, id := range ids[start:min(start+50, n)] {
				batch = append(batch, map[string]any{"value": id})
			}
			ts.callSCIM(t, testToken, http.MethodPatch, "/Groups/"+gid, patchDoc("add", "members", batch)).expect(t, http.StatusNoContent)
		}
		full := ts.callSCIM(t, testToken, http.MethodGet, "/Groups/"+gid, nil).expect(t, http.StatusOK)
		ms := jlist(full.Body, "members")
		if len(ms) != n {
			t.Fatalf("%d members streamed, want %d", len(ms), n)
		}
		for i, m := range ms {
			if jstr(m, "value") != ids[i] || jstr(m, "display") != ids[i] || jstr(m, "type") != "User" {
				t.Fatalf("member %d: %v", i, m)
			}
		}
		if full.Header.Get("ETag") != jstr(full.Body, "meta.version") {
			t.Fatalf("ETag %q, meta.version %q", full.Header.Get("ETag"), jstr(full.Body, "meta.version"))
		}
		ts.callSCIM(t, testToken, http.MethodGet, "/Groups/"+gid, nil, "If-None-Match", full.Header.Get("ETag")).expect(t, http.StatusNotModified)
		for path, check := range map[string]func(map[string]any) bool{
			"?excludedAttributes=members": func(g map[string]any) bool { return g["members"] == nil && jstr(g, "displayName") == "Big" },
			"?attributes=displayName":     func(g map[string]any) bool { return g["members"] == nil && jstr(g, "id") == gid },
			"?attributes=members.value": func(g map[string]any) bool {
				m := jlist(g, "members")
				return len(m) == n && len(m[0].(map[string]any)) == 1 && g["displayName"] == nil
			},
			"?excludedAttributes=members.display": func(g map[string]any) bool {
				m := jlist(g, "members")
				return len(m) == n && m[0].(map[string]any)["display"] == nil && jstr(m[0], "$ref") != ""
			},
		} {
			if g := ts.mustGet(t, "/Groups/"+gid+path); !check(g) {
				t.Errorf("GET %s: %.300v", path, g)
			}
		}
		list := ts.mustGet(t, "/Groups?excludedAttributes=members")
		if r := jlist(list, "Resources"); len(r) != 1 || r[0].(map[string]any)["members"] != nil {
			t.Errorf("list without members: %.300v", list)
		}
		f := fmt.Sprintf(`/Groups?filter=id+eq+%%22%s%%22+and+members.value+eq+%%22%s%%22&excludedAttributes=members`, gid, ids[700])
		if got := ts.mustGet(t, f); jnum(t, got, "totalResults") != 1 {
			t.Errorf("members.value filter: %v", got)
		}
		f = fmt.Sprintf(`/Groups?filter=members%%5Bvalue+eq+%%22%s%%22%%5D&excludedAttributes=members`, "nobody")
		if got := ts.mustGet(t, f); jnum(t, got, "totalResults") != 0 {
			t.Errorf("members[value eq] filter of a non-member: %v", got)
		}
	})
}

// createUsersDirect stores users with the given ids (userName = id) straight
// through the store, faster than one POST each.
func createUsersDirect(t *testing.T, st *store.Store, ids []string) {
	t.Helper()
	for _, id := range ids {
		r := &store.Resource{ID: id, Kind: store.KindUser, Attrs: map[string]any{"userName": id, "active": true}}
		if err := st.Create(t.Context(), "acme", r); err != nil {
			t.Fatalf("create user %s: %v", id, err)
		}
	}
}
