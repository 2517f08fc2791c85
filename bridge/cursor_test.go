package bridge

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/scim-bridge/scim-bridge/internal/fakeclock"
	"github.com/scim-bridge/scim-bridge/store/redistest"
)

// cursorPage GETs one cursor page and returns its ids, nextCursor and totalResults.
func (ts *testServer) cursorPage(t *testing.T, endpoint, cursor string, params ...string) ([]string, string, int) {
	t.Helper()
	v := url.Values{"cursor": {cursor}}
	for i := 0; i+1 < len(params); i += 2 {
		v.Set(params[i], params[i+1])
	}
	r := ts.callSCIM(t, testToken, http.MethodGet, endpoint+"?"+v.Encode(), nil).expect(t, http.StatusOK)
	if _, has := r.Body["startIndex"]; has {
		t.Errorf("cursor page carries startIndex: %s", r.Raw)
	}
	var ids []string
	for _, x := range jlist(r.Body, "Resources") {
		ids = append(ids, jstr(x, "id"))
	}
	if n := jnum(t, r.Body, "itemsPerPage"); n != len(ids) {
		t.Errorf("itemsPerPage %d, %d resources", n, len(ids))
	}
	next := jstr(r.Body, "nextCursor")
	for _, c := range next {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("-._~", c)) {
			t.Fatalf("nextCursor %q has a character outside RFC 3986 unreserved", next)
		}
	}
	return ids, next, jnum(t, r.Body, "totalResults")
}

// walk follows nextCursor from the first page to the last.
func (ts *testServer) walk(t *testing.T, endpoint string, between func(page int), params ...string) []string {
	t.Helper()
	var all []string
	cursor := ""
	for page := 0; ; page++ {
		ids, next, _ := ts.cursorPage(t, endpoint, cursor, params...)
		all = append(all, ids...)
		if next == "" {
			return all
		}
		if page > 100 {
			t.Fatal("cursor walk does not end")
		}
		if between != nil {
			between(page)
		}
		cursor = next
	}
}

// TestCursorPagination: RFC 9865 cursors on /Users, /Groups and root search.
func TestCursorPagination(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, redisURL string) {
		clock := fakeclock.New(time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC))
		ts := newTestServer(t, redisURL, func(o *Options) { o.Now = clock.Now; o.CursorTimeout = 10 * time.Minute })
		var users []string
		for i := range 12 {
			users = append(users, jstr(ts.mustCreate(t, "/Users", userDoc(fmt.Sprintf("cur%02d", i), "title", fmt.Sprintf("T%02d", 11-i))), "id"))
		}
		var groups []string
		for i := range 3 {
			groups = append(groups, jstr(ts.mustCreate(t, "/Groups", groupDoc(fmt.Sprintf("CurGroup %d", i), users[i])), "id"))
		}

		t.Run("service provider config", func(t *testing.T) {
			spc := ts.callSCIM(t, "", http.MethodGet, "/ServiceProviderConfig", nil).expect(t, http.StatusOK).Body
			if lookupPath(spc, "pagination.cursor") != true || lookupPath(spc, "pagination.index") != true ||
				jstr(spc, "pagination.defaultPaginationMethod") != "index" || jnum(t, spc, "pagination.cursorTimeout") != 600 ||
				jnum(t, spc, "pagination.maxPageSize") != DefaultMaxResults {
				t.Errorf("pagination %v", spc["pagination"])
			}
		})

		t.Run("pages cover everything once, last page has no nextCursor", func(t *testing.T) {
			ids, next, total := ts.cursorPage(t, "/Users", "", "count", "5")
			if len(ids) != 5 || next == "" || total != 12 {
				t.Fatalf("first page %v next %q total %d", ids, next, total)
			}
			if got := ts.walk(t, "/Users", nil, "count", "5"); !slices.Equal(got, users) {
				t.Errorf("walk %v, want %v", got, users)
			}
			if got := ts.walk(t, "/Groups", nil, "count", "2"); !slices.Equal(got, groups) {
				t.Errorf("groups walk %v, want %v", got, groups)
			}
			if got := ts.walk(t, "/", nil, "count", "4"); !slices.Equal(got, append(slices.Clone(users), groups...)) {
				t.Errorf("root walk %v", got)
			}
			// A page that ends exactly at the last match has no nextCursor.
			if _, next, _ := ts.cursorPage(t, "/Groups", "", "count", "3"); next != "" {
				t.Errorf("exact last page has nextCursor %q", next)
			}
			// Filtered (an index plan and a scan) and sorted walks.
			if got := ts.walk(t, "/Users", nil, "count", "2", "filter", `userName sw "cur0"`); !slices.Equal(got, users[:10]) {
				t.Errorf("filtered walk %v", got)
			}
			if got := ts.walk(t, "/Users", nil, "count", "1", "filter", fmt.Sprintf("userName eq %q or userName eq %q", "cur03", "cur07")); !slices.Equal(got, []string{users[3], users[7]}) {
				t.Errorf("indexed walk %v", got)
			}
			want := slices.Clone(users)
			slices.Reverse(want) // title T11..T00 ascending is creation order reversed
			if got := ts.walk(t, "/Users", nil, "count", "5", "sortBy", "title"); !slices.Equal(got, want) {
				t.Errorf("sorted walk %v, want %v", got, want)
			}
			if got := ts.walk(t, "/", nil, "count", "4", "sortBy", "displayName", "sortOrder", "descending"); len(got) != 15 || !slices.Equal(got[:3], []string{groups[2], groups[1], groups[0]}) {
				t.Errorf("sorted root walk %v", got)
			}
		})

		t.Run("POST .search takes cursor in the body", func(t *testing.T) {
			body := map[string]any{"schemas": []string{SearchSchema}, "cursor": "", "count": 7}
			r := ts.callSCIM(t, testToken, http.MethodPost, "/Users/.search", body).expect(t, http.StatusOK)
			next := jstr(r.Body, "nextCursor")
			if len(jlist(r.Body, "Resources")) != 7 || next == "" {
				t.Fatalf("first .search page %s", r.Raw)
			}
			body["cursor"] = next
			r = ts.callSCIM(t, testToken, http.MethodPost, "/Users/.search", body).expect(t, http.StatusOK)
			if rs := jlist(r.Body, "Resources"); len(rs) != 5 || jstr(rs[0], "id") != users[7] || r.Body["nextCursor"] != nil {
				t.Errorf("second .search page %s", r.Raw)
			}
		})

		t.Run("stable under concurrent creates and deletes", func(t *testing.T) {
			extra := 0
			deleted := map[string]bool{}
			got := ts.walk(t, "/Users", func(page int) {
				// Before each next page: delete an already-returned user and a
				// not-yet-returned one, create two new users.
				for _, victim := range []string{users[page], users[len(users)-1-page]} {
					if !deleted[victim] {
						deleted[victim] = true
						ts.callSCIM(t, testToken, http.MethodDelete, "/Users/"+victim, nil).expect(t, http.StatusNoContent)
					}
				}
				for range 2 {
					ts.mustCreate(t, "/Users", userDoc(fmt.Sprintf("cur.new%02d", extra)))
					extra++
				}
			}, "count", "3")
			seen := map[string]int{}
			for _, id := range got {
				seen[id]++
			}
			for _, id := range users {
				if deleted[id] {
					continue
				}
				if seen[id] != 1 {
					t.Errorf("user %s present throughout was returned %d times", id, seen[id])
				}
			}
			for id, n := range seen {
				if n > 1 {
					t.Errorf("%s returned %d times", id, n)
				}
			}
		})

		t.Run("invalid, tampered, foreign and expired cursors", func(t *testing.T) {
			_, next, _ := ts.cursorPage(t, "/Users", "", "count", "2")
			for name, c := range map[string]string{
				"garbage":  "not-a-cursor",
				"tampered": next[:len(next)-2] + map[bool]string{true: "AA", false: "BB"}[!strings.HasSuffix(next, "AA")],
				"payload":  "e30." + next[strings.IndexByte(next, '.')+1:],
			} {
				ts.callSCIM(t, testToken, http.MethodGet, "/Users?count=2&cursor="+url.QueryEscape(c), nil).expectError(t, http.StatusBadRequest, "invalidCursor")
				_ = name
			}
			// Another query (filter changed), another endpoint, another tenant.
			ts.callSCIM(t, testToken, http.MethodGet, "/Users?count=2&filter=active%20eq%20true&cursor="+next, nil).expectError(t, http.StatusBadRequest, "invalidCursor")
			ts.callSCIM(t, testToken, http.MethodGet, "/Groups?cursor="+next, nil).expectError(t, http.StatusBadRequest, "invalidCursor")
			ts.callSCIM(t, testToken2, http.MethodGet, "/Users?count=2&cursor="+next, nil).expectError(t, http.StatusBadRequest, "invalidCursor")
			// count may change between pages.
			ts.callSCIM(t, testToken, http.MethodGet, "/Users?count=4&cursor="+next, nil).expect(t, http.StatusOK)
			clock.Advance(11 * time.Minute)
			ts.callSCIM(t, testToken, http.MethodGet, "/Users?count=2&cursor="+next, nil).expectError(t, http.StatusBadRequest, "expiredCursor")
		})

		t.Run("parameter errors", func(t *testing.T) {
			ts.callSCIM(t, testToken, http.MethodGet, "/Users?cursor=&count=0", nil).expectError(t, http.StatusBadRequest, "invalidCount")
			ts.callSCIM(t, testToken, http.MethodGet, "/Users?cursor=&count=abc", nil).expectError(t, http.StatusBadRequest, "invalidCount")
			ts.callSCIM(t, testToken, http.MethodGet, "/Users?cursor=&startIndex=2", nil).expectError(t, http.StatusBadRequest, "invalidValue")
			// Index paging is unchanged.
			ids, total := ts.listIDs(t, "/Users", "startIndex", "2", "count", "2")
			if len(ids) != 2 || total == 0 {
				t.Errorf("index paging: %v %d", ids, total)
			}
		})
	})
}

// TestCursorsAcrossReplicas: two replicas on one Redis without cursor_secret
// share the store's cursor key, so a load-balanced client's next page is
// valid on whichever replica serves it.
func TestCursorsAcrossReplicas(t *testing.T) {
	t.Parallel()
	redisURL := redistest.Start(t)
	a, b := newTestServer(t, redisURL), newTestServer(t, redisURL)
	var users []string
	for i := range 5 {
		users = append(users, jstr(a.mustCreate(t, "/Users", userDoc(fmt.Sprintf("rep%02d", i))), "id"))
	}
	ids, next, _ := a.cursorPage(t, "/Users", "", "count", "2")
	for _, srv := range []*testServer{b, a, b} {
		more, n, _ := srv.cursorPage(t, "/Users", next, "count", "2")
		ids, next = append(ids, more...), n
		if next == "" {
			break
		}
	}
	if !slices.Equal(ids, users) || next != "" {
		t.Fatalf("pages over two replicas: %v (next %q), want %v", ids, next, users)
	}
}

// TestCursorKeyRecreated: when Redis loses the shared cursor key (a
// failover, a restore) and a restarted replica creates another, the replicas
// still running read it again within a minute instead of staying split.
func TestCursorKeyRecreated(t *testing.T) {
	t.Parallel()
	redisURL := redistest.Start(t)
	clock := fakeclock.New(time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC))
	opts := func(o *Options) { o.Now = clock.Now; o.CursorTimeout = 10 * time.Minute }
	a := newTestServer(t, redisURL, opts)
	var users []string
	for i := range 4 {
		users = append(users, jstr(a.mustCreate(t, "/Users", userDoc(fmt.Sprintf("rek%02d", i))), "id"))
	}
	a.cursorPage(t, "/Users", "", "count", "2") // a reads the key
	if err := a.b.Store().Client().Del(context.Background(), "sb:cursor-key").Err(); err != nil {
		t.Fatal(err)
	}
	b := newTestServer(t, redisURL, opts) // restarted: creates another key
	ids, next, _ := b.cursorPage(t, "/Users", "", "count", "2")
	clock.Advance(2 * time.Minute)
	more, next, _ := a.cursorPage(t, "/Users", next, "count", "2")
	if ids = append(ids, more...); !slices.Equal(ids, users) || next != "" {
		t.Fatalf("pages across a replica with the recreated key: %v (next %q), want %v", ids, next, users)
	}
}
