package bridge

import (
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"testing"
)

// tagForm is our entity tags' form: W/"<version>", or W/"<version>-<digest>"
// for a user showing groups.
var tagForm = regexp.MustCompile(`^W/"([1-9][0-9]*)(-[0-9a-f]{16})?"$`)

// tagVersion is the version an entity tag names (0: not one of ours).
func tagVersion(tag string) int {
	m := tagForm.FindStringSubmatch(tag)
	if m == nil {
		return 0
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// checkETag fails t unless the reply's ETag header has our form and, when the
// body carries meta (a projection may leave it out), equals meta.version.
func checkETag(t *testing.T, r scimReply) string {
	t.Helper()
	tag := r.Header.Get("ETag")
	if !tagForm.MatchString(tag) {
		t.Errorf("ETag %q, want W/\"<n>\" or W/\"<n>-<digest>\"", tag)
	}
	if _, ok := r.Body["meta"]; ok {
		if v := jstr(r.Body, "meta.version"); v != tag {
			t.Errorf("ETag %q, meta.version %q: want equal", tag, v)
		}
	}
	return tag
}

func TestETags(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, redisURL string) {
		ts := newTestServer(t, redisURL)
		post := ts.callSCIM(t, testToken, http.MethodPost, "/Users", userDoc("etag.user")).expect(t, http.StatusCreated)
		if tag := checkETag(t, post); tag != `W/"1"` {
			t.Errorf("new resource ETag %s, want W/\"1\"", tag)
		}
		uid := jstr(post.Body, "id")
		path := "/Users/" + uid

		t.Run("every single-resource response", func(t *testing.T) {
			checkETag(t, ts.callSCIM(t, testToken, http.MethodGet, path, nil).expect(t, http.StatusOK))
			checkETag(t, ts.callSCIM(t, testToken, http.MethodGet, path+"?attributes=userName", nil).expect(t, http.StatusOK))
			put := ts.callSCIM(t, testToken, http.MethodPut, path, userDoc("etag.user", "title", "A")).expect(t, http.StatusOK)
			checkETag(t, put)
			patch := ts.callSCIM(t, testToken, http.MethodPatch, path, patchDoc("replace", "title", "B")).expect(t, http.StatusOK)
			checkETag(t, patch)
			if jstr(patch.Body, "meta.version") == jstr(put.Body, "meta.version") {
				t.Errorf("PATCH did not change the version (%s)", jstr(put.Body, "meta.version"))
			}
			g := ts.callSCIM(t, testToken, http.MethodPost, "/Groups", groupDoc("ETag Group")).expect(t, http.StatusCreated)
			checkETag(t, g)
			gp := ts.callSCIM(t, testToken, http.MethodPatch, "/Groups/"+jstr(g.Body, "id"),
				patchDoc("add", "members", []any{map[string]any{"value": uid}})).expect(t, http.StatusNoContent)
			if tag := checkETag(t, gp); tag != `W/"2"` || tag != ts.mustVersion(t, "/Groups/"+jstr(g.Body, "id")) {
				t.Errorf("group PATCH ETag %s, want the new version W/\"2\"", tag)
			}
		})

		// Okta's GET-then-PUT of an unchanged user: same ETag, same
		// lastModified (nothing written, nothing to converge).
		t.Run("unchanged PUT", func(t *testing.T) {
			u := ts.mustCreate(t, "/Users", userDoc("etag.same", "title", "T"))
			p := "/Users/" + jstr(u, "id")
			got := ts.callSCIM(t, testToken, http.MethodGet, p, nil).expect(t, http.StatusOK)
			put := ts.callSCIM(t, testToken, http.MethodPut, p, got.Body).expect(t, http.StatusOK)
			if checkETag(t, put) != checkETag(t, got) || jstr(put.Body, "meta.lastModified") != jstr(got.Body, "meta.lastModified") {
				t.Errorf("unchanged PUT: %s %s, was %s %s", put.Header.Get("ETag"), jstr(put.Body, "meta.lastModified"),
					got.Header.Get("ETag"), jstr(got.Body, "meta.lastModified"))
			}
			put = ts.callSCIM(t, testToken, http.MethodPut, p, userDoc("etag.same", "title", "U")).expect(t, http.StatusOK)
			if checkETag(t, put) == checkETag(t, got) {
				t.Errorf("a changing PUT kept ETag %s", put.Header.Get("ETag"))
			}
		})

		t.Run("If-None-Match", func(t *testing.T) {
			cur := ts.mustVersion(t, path)
			n := tagVersion(cur)
			for _, inm := range []string{cur, cur[2:], `W/"999", ` + cur, "*"} {
				r := ts.callSCIM(t, testToken, http.MethodGet, path, nil, "If-None-Match", inm).expect(t, http.StatusNotModified)
				if len(r.Raw) != 0 {
					t.Errorf("304 with a body: %s", r.Raw)
				}
				if r.Header.Get("ETag") != cur {
					t.Errorf("304 ETag %q, want %q", r.Header.Get("ETag"), cur)
				}
			}
			// the user is in a group: its version alone is not its tag
			for _, inm := range []string{`W/"1"`, fmt.Sprintf(`W/"%d"`, n), fmt.Sprintf(`W/"%d"`, n+1), `"garbage"`} {
				r := ts.callSCIM(t, testToken, http.MethodGet, path, nil, "If-None-Match", inm).expect(t, http.StatusOK)
				if jstr(r.Body, "id") != uid {
					t.Errorf("If-None-Match %s: body %s", inm, r.Raw)
				}
				checkETag(t, r)
			}
		})

		// A user's groups are derived: a membership or group name change
		// changes its representation without its version, and so its tag.
		t.Run("groups change a user's tag", func(t *testing.T) {
			u := jstr(ts.mustCreate(t, "/Users", userDoc("etag.member")), "id")
			up := "/Users/" + u
			get := func(inm string, want int) string {
				t.Helper()
				var r scimReply
				if inm == "" {
					r = ts.callSCIM(t, testToken, http.MethodGet, up, nil).expect(t, want)
				} else {
					r = ts.callSCIM(t, testToken, http.MethodGet, up, nil, "If-None-Match", inm).expect(t, want)
				}
				if want == http.StatusOK {
					return checkETag(t, r)
				}
				return r.Header.Get("ETag")
			}
			alone := get("", http.StatusOK)
			g := jstr(ts.mustCreate(t, "/Groups", groupDoc("ETag Members", u)), "id")
			member := get(alone, http.StatusOK)
			if member == alone || tagVersion(member) != tagVersion(alone) {
				t.Fatalf("tag %s in a group, %s before: want another tag of the same version", member, alone)
			}
			if got := get(member, http.StatusNotModified); got != member {
				t.Errorf("304 ETag %s, want %s", got, member)
			}
			// the list shows the same tag
			l := ts.callSCIM(t, testToken, http.MethodGet, "/Users?filter=userName%20eq%20%22etag.member%22", nil).expect(t, http.StatusOK)
			if rs := jlist(l.Body, "Resources"); len(rs) != 1 || jstr(rs[0].(map[string]any), "meta.version") != member {
				t.Errorf("list: %s, want meta.version %s", l.Raw, member)
			}
			ts.callSCIM(t, testToken, http.MethodPatch, "/Groups/"+g, patchDoc("replace", "displayName", "ETag Members 2")).expect(t, http.StatusNoContent)
			renamed := get(member, http.StatusOK)
			if renamed == member {
				t.Errorf("tag %s unchanged by the group's rename", renamed)
			}
			// If-Match holds on the version: a user's write is not refused
			// because a group changed.
			r := ts.callSCIM(t, testToken, http.MethodPatch, up, patchDoc("replace", "title", "x"), "If-Match", member).expect(t, http.StatusOK)
			if tagVersion(checkETag(t, r)) != tagVersion(member)+1 {
				t.Errorf("PATCH with If-Match %s: %s", member, r.Header.Get("ETag"))
			}
			// a projection without groups has the version's tag
			p := ts.callSCIM(t, testToken, http.MethodGet, up+"?attributes=userName", nil).expect(t, http.StatusOK)
			if tag := checkETag(t, p); tag != fmt.Sprintf(`W/"%d"`, tagVersion(member)+1) {
				t.Errorf("projected tag %s", tag)
			}
			ts.callSCIM(t, testToken, http.MethodDelete, "/Groups/"+g, nil).expect(t, http.StatusNoContent)
			if tag := get("", http.StatusOK); tag != fmt.Sprintf(`W/"%d"`, tagVersion(member)+1) {
				t.Errorf("tag %s out of every group", tag)
			}
		})

		t.Run("If-Match", func(t *testing.T) {
			for _, c := range []struct {
				method string
				body   func(i int) any
				status int
			}{
				{http.MethodPut, func(i int) any { return userDoc("etag.user", "title", fmt.Sprint("put", i)) }, http.StatusOK},
				{http.MethodPatch, func(i int) any { return patchDoc("replace", "title", fmt.Sprint("patch", i)) }, http.StatusOK},
			} {
				cur := ts.mustVersion(t, path)
				for i, stale := range []string{`W/"1"`, `W/"12345"`, `"garbage"`, `W/"-1"`} {
					ts.callSCIM(t, testToken, c.method, path, c.body(i), "If-Match", stale).
						expectError(t, http.StatusPreconditionFailed, "")
					if v := ts.mustVersion(t, path); v != cur {
						t.Fatalf("%s with If-Match %s changed the version %s -> %s", c.method, stale, cur, v)
					}
				}
				n := tagVersion(cur)
				r := ts.callSCIM(t, testToken, c.method, path, c.body(10), "If-Match", cur).expect(t, c.status)
				if tag := checkETag(t, r); tagVersion(tag) != n+1 {
					t.Errorf("%s with matching If-Match: ETag %s, want W/\"%d\"", c.method, tag, n+1)
				}
				// Weak comparison: the strong form of the same version matches too.
				r = ts.callSCIM(t, testToken, c.method, path, c.body(11), "If-Match", fmt.Sprintf(`"%d"`, n+1)).expect(t, c.status)
				checkETag(t, r)
				r = ts.callSCIM(t, testToken, c.method, path, c.body(12), "If-Match", "*").expect(t, c.status)
				if tag := checkETag(t, r); tagVersion(tag) != n+3 {
					t.Errorf("%s with If-Match *: ETag %s, want W/\"%d\"", c.method, tag, n+3)
				}
			}
			// A no-op PATCH writes nothing: same version.
			cur := ts.mustVersion(t, path)
			r := ts.callSCIM(t, testToken, http.MethodPatch, path, patchDoc("replace", "userName", "etag.user"), "If-Match", cur).expect(t, http.StatusOK)
			if checkETag(t, r) != cur {
				t.Errorf("no-op PATCH changed the version %s -> %s", cur, r.Header.Get("ETag"))
			}
			// Missing resources are 404 whatever If-Match says.
			for _, m := range []string{http.MethodPut, http.MethodPatch, http.MethodDelete} {
				var body any
				switch m {
				case http.MethodPut:
					body = userDoc("ghost")
				case http.MethodPatch:
					body = patchDoc("replace", "title", "x")
				}
				ts.callSCIM(t, testToken, m, "/Users/no-such-id", body, "If-Match", `W/"1"`).expectError(t, http.StatusNotFound, "")
			}
		})

		t.Run("DELETE", func(t *testing.T) {
			victim := jstr(ts.mustCreate(t, "/Users", userDoc("etag.victim")), "id")
			ts.callSCIM(t, testToken, http.MethodPatch, "/Users/"+victim, patchDoc("replace", "title", "x")).expect(t, http.StatusOK)
			for _, stale := range []string{`W/"1"`, `W/"3"`, `"nope"`} {
				ts.callSCIM(t, testToken, http.MethodDelete, "/Users/"+victim, nil, "If-Match", stale).
					expectError(t, http.StatusPreconditionFailed, "")
				ts.callSCIM(t, testToken, http.MethodGet, "/Users/"+victim, nil).expect(t, http.StatusOK)
			}
			ts.callSCIM(t, testToken, http.MethodDelete, "/Users/"+victim, nil, "If-Match", `W/"2"`).expect(t, http.StatusNoContent)
			ts.callSCIM(t, testToken, http.MethodGet, "/Users/"+victim, nil).expectError(t, http.StatusNotFound, "")
			ts.callSCIM(t, testToken, http.MethodDelete, "/Users/"+victim, nil).expectError(t, http.StatusNotFound, "")

			other := jstr(ts.mustCreate(t, "/Users", userDoc("etag.other")), "id")
			ts.callSCIM(t, testToken, http.MethodDelete, "/Users/"+other, nil, "If-Match", "*").expect(t, http.StatusNoContent)
			ts.callSCIM(t, testToken, http.MethodGet, "/Users/"+other, nil).expectError(t, http.StatusNotFound, "")
		})

		t.Run("group", func(t *testing.T) {
			gid := jstr(ts.mustCreate(t, "/Groups", groupDoc("ETag Group 2")), "id")
			gp := "/Groups/" + gid
			ts.callSCIM(t, testToken, http.MethodPatch, gp, patchDoc("add", "members", []any{map[string]any{"value": uid}}), "If-Match", `W/"7"`).
				expectError(t, http.StatusPreconditionFailed, "")
			ts.callSCIM(t, testToken, http.MethodPut, gp, groupDoc("Renamed", uid), "If-Match", `W/"7"`).
				expectError(t, http.StatusPreconditionFailed, "")
			if v := ts.mustVersion(t, gp); v != `W/"1"` {
				t.Errorf("group version %s after refused writes", v)
			}
			r := ts.callSCIM(t, testToken, http.MethodPatch, gp, patchDoc("add", "members", []any{map[string]any{"value": uid}}), "If-Match", `W/"1"`).
				expect(t, http.StatusNoContent)
			if r.Header.Get("ETag") != `W/"2"` {
				t.Errorf("group PATCH ETag %q, want W/\"2\"", r.Header.Get("ETag"))
			}
			r = ts.callSCIM(t, testToken, http.MethodPut, gp, groupDoc("Renamed", uid), "If-Match", `W/"2"`).expect(t, http.StatusOK)
			if checkETag(t, r) != `W/"3"` || len(jlist(r.Body, "members")) != 1 {
				t.Errorf("group PUT: %s", r.Raw)
			}
			// A projected PATCH answer is the new version, whatever If-Match named.
			r = ts.callSCIM(t, testToken, http.MethodPatch, gp+"?attributes=displayName", patchDoc("replace", "displayName", "Renamed 2"), "If-Match", `W/"3"`).
				expect(t, http.StatusOK)
			if checkETag(t, r) != `W/"4"` {
				t.Errorf("projected group PATCH: %s", r.Raw)
			}
		})

		// RFC 7232: If-None-Match fails a write of a resource it names (or of
		// any existing one, "*"); If-Match is a list; a GET whose If-Match does
		// not hold is 412 too.
		t.Run("conditions", func(t *testing.T) {
			target := jstr(ts.mustCreate(t, "/Users", userDoc("etag.cond")), "id")
			up := "/Users/" + target
			gid := jstr(ts.mustCreate(t, "/Groups", groupDoc("ETag Cond")), "id")
			gp := "/Groups/" + gid
			writes := []struct {
				method, path string
				body         any
			}{
				{http.MethodPut, up, userDoc("etag.cond", "title", "t")},
				{http.MethodPatch, up, patchDoc("replace", "title", "p")},
				{http.MethodPatch, gp, patchDoc("add", "members", []any{map[string]any{"value": uid}})},
				{http.MethodPut, gp, groupDoc("ETag Cond", uid)},
				{http.MethodDelete, gp, nil},
				{http.MethodDelete, up, nil},
			}
			for _, w := range writes {
				cur := ts.mustVersion(t, w.path)
				for _, h := range [][2]string{
					{"If-None-Match", cur}, {"If-None-Match", "*"}, {"If-None-Match", `W/"999", ` + cur},
					{"If-Match", `W/"998", W/"999"`}, {"If-Match", cur}, // with If-None-Match below
				} {
					hdr := []string{h[0], h[1]}
					if h[0] == "If-Match" && h[1] == cur {
						hdr = append(hdr, "If-None-Match", cur)
					}
					ts.callSCIM(t, testToken, w.method, w.path, w.body, hdr...).expectError(t, http.StatusPreconditionFailed, "")
					if v := ts.mustVersion(t, w.path); v != cur {
						t.Fatalf("%s %s with %v wrote: %s -> %s", w.method, w.path, hdr, cur, v)
					}
				}
				want := http.StatusOK
				switch {
				case w.method == http.MethodDelete:
					want = http.StatusNoContent
				case w.method == http.MethodPatch && w.path == gp:
					want = http.StatusNoContent
				}
				ts.callSCIM(t, testToken, w.method, w.path, w.body, "If-Match", `W/"999", `+cur, "If-None-Match", `W/"999"`).expect(t, want)
			}
			for _, p := range []string{"/Users/" + uid} {
				cur := ts.mustVersion(t, p)
				ts.callSCIM(t, testToken, http.MethodGet, p, nil, "If-Match", `W/"999"`).expectError(t, http.StatusPreconditionFailed, "")
				ts.callSCIM(t, testToken, http.MethodGet, p, nil, "If-Match", `W/"999", `+cur).expect(t, http.StatusOK)
			}
			g2 := "/Groups/" + jstr(ts.mustCreate(t, "/Groups", groupDoc("ETag Cond 2")), "id")
			ts.callSCIM(t, testToken, http.MethodGet, g2, nil, "If-Match", `W/"999"`).expectError(t, http.StatusPreconditionFailed, "")
			ts.callSCIM(t, testToken, http.MethodGet, g2+"?excludedAttributes=members", nil, "If-Match", "*").expect(t, http.StatusOK)
		})
	})
}
