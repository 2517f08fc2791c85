package bridge

import (
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// listIDs GETs a list and returns its ids, totalResults and itemsPerPage,
// checking that itemsPerPage is the number of resources returned.
func (ts *testServer) listIDs(t testing.TB, endpoint string, params ...string) (ids []string, total int) {
	t.Helper()
	v := url.Values{}
	for i := 0; i+1 < len(params); i += 2 {
		v.Set(params[i], params[i+1])
	}
	r := ts.callSCIM(t, testToken, http.MethodGet, endpoint+"?"+v.Encode(), nil).expect(t, http.StatusOK)
	rs, ok := r.Body["Resources"].([]any)
	if !ok {
		t.Fatalf("Resources is %v, want an array", r.Body["Resources"])
	}
	if n := jnum(t, r.Body, "itemsPerPage"); n != len(rs) {
		t.Errorf("itemsPerPage %d, but %d resources returned", n, len(rs))
	}
	for _, x := range rs {
		ids = append(ids, jstr(x, "id"))
	}
	return ids, jnum(t, r.Body, "totalResults")
}

func TestListPagingAndFilters(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, redisURL string) {
		ts := newTestServer(t, redisURL)
		const n = 25
		ids := make([]string, n)
		byName := map[string]string{}
		for i := range n {
			name := fmt.Sprintf("page%02d", i)
			u := userDoc(name, "externalId", fmt.Sprintf("ext-%02d", i), "active", i%5 != 0)
			if i%2 == 0 {
				u["emails"] = []any{
					map[string]any{"value": name + "@example.com", "type": "work", "primary": true},
					map[string]any{"value": name + "@home.example", "type": "home"},
				}
			}
			ids[i] = jstr(ts.mustCreate(t, "/Users", u), "id")
			byName[name] = ids[i]
		}

		t.Run("pages of 10 cover everything once", func(t *testing.T) {
			var all []string
			for start := 1; start <= n; start += 10 {
				page, total := ts.listIDs(t, "/Users", "startIndex", fmt.Sprint(start), "count", "10")
				if total != n {
					t.Errorf("totalResults %d, want %d", total, n)
				}
				if want := min(10, n-start+1); len(page) != want {
					t.Errorf("page at %d has %d resources, want %d", start, len(page), want)
				}
				all = append(all, page...)
			}
			if !slices.Equal(all, ids) {
				t.Errorf("pages in order %v, want creation order %v", all, ids)
			}
		})
		t.Run("sorted pages", func(t *testing.T) {
			for _, order := range []string{"ascending", "descending"} {
				var all []string
				for start := 1; start <= n; start += 10 {
					page, _ := ts.listIDs(t, "/Users", "startIndex", fmt.Sprint(start), "count", "10", "sortBy", "userName", "sortOrder", order)
					all = append(all, page...)
				}
				want := slices.Clone(ids) // names were created in ascending order
				if order == "descending" {
					slices.Reverse(want)
				}
				if !slices.Equal(all, want) {
					t.Errorf("sortOrder=%s: %v, want %v", order, all, want)
				}
			}
		})
		t.Run("filters", func(t *testing.T) {
			for _, c := range []struct {
				filter string
				want   []string // user names
			}{
				{`userName eq "page07"`, []string{"page07"}},
				{`userName eq "PAGE07"`, []string{"page07"}}, // caseExact false
				{`externalId eq "ext-07"`, []string{"page07"}},
				{`externalId eq "EXT-07"`, nil}, // caseExact true
				{`id eq "` + ids[3] + `"`, []string{"page03"}},
				{`emails.value eq "PAGE04@example.com"`, []string{"page04"}},
				{`emails[type eq "home" and value eq "page06@home.example"]`, []string{"page06"}},
				{`emails[type eq "home"]`, []string{"page00", "page02", "page04", "page06", "page08", "page10", "page12", "page14", "page16", "page18", "page20", "page22", "page24"}},
				{`userName eq "page01" or userName eq "page02" or externalId eq "ext-03"`, []string{"page01", "page02", "page03"}},
				{`active eq false`, []string{"page00", "page05", "page10", "page15", "page20"}},
				{`active eq true and userName sw "page1"`, []string{"page11", "page12", "page13", "page14", "page16", "page17", "page18", "page19"}},
				{`not (active eq true) and userName ew "0"`, []string{"page00", "page10", "page20"}},
				{`userName gt "page22"`, []string{"page23", "page24"}},
				{`userName eq "nobody"`, nil},
				{`meta.created pr`, nil}, // filled in below: everything
			} {
				t.Run(c.filter, func(t *testing.T) {
					want := make([]string, 0, len(c.want))
					for _, name := range c.want {
						want = append(want, byName[name])
					}
					if c.filter == `meta.created pr` {
						want = ids
					}
					got, total := ts.listIDs(t, "/Users", "filter", c.filter)
					if total != len(want) || !slices.Equal(got, want) {
						t.Errorf("filter %s: %d %v, want %d %v", c.filter, total, got, len(want), want)
					}
					// totalResults counts all matches even when the page is smaller.
					page, total := ts.listIDs(t, "/Users", "filter", c.filter, "count", "2", "startIndex", "2")
					if total != len(want) {
						t.Errorf("paged totalResults %d, want %d", total, len(want))
					}
					if wantPage := want[min(1, len(want)):min(3, len(want))]; !slices.Equal(page, wantPage) {
						t.Errorf("page 2 of 2: %v, want %v", page, wantPage)
					}
				})
			}
		})
		t.Run("empty result is an empty list", func(t *testing.T) {
			r := ts.callSCIM(t, testToken, http.MethodGet, `/Users?filter=`+url.QueryEscape(`userName eq "ghost"`), nil).expect(t, http.StatusOK)
			if !strings.Contains(string(r.Raw), `"Resources":[]`) || jnum(t, r.Body, "totalResults") != 0 {
				t.Errorf("empty result: %s", r.Raw)
			}
		})
		t.Run("search equals GET", func(t *testing.T) {
			for _, c := range []map[string]any{
				{},
				{"filter": `active eq true`, "sortBy": "userName", "sortOrder": "descending", "startIndex": 3, "count": 4},
				{"filter": `userName sw "page1"`, "attributes": []string{"userName", "externalId"}},
				{"filter": `emails[type eq "home"]`, "excludedAttributes": []string{"emails", "meta"}, "count": 0},
			} {
				v := url.Values{}
				body := map[string]any{"schemas": []string{SearchSchema}}
				for k, x := range c {
					body[k] = x
					if l, ok := x.([]string); ok {
						v.Set(k, strings.Join(l, ","))
					} else {
						v.Set(k, fmt.Sprint(x))
					}
				}
				get := ts.callSCIM(t, testToken, http.MethodGet, "/Users?"+v.Encode(), nil).expect(t, http.StatusOK)
				post := ts.callSCIM(t, testToken, http.MethodPost, "/Users/.search", body).expect(t, http.StatusOK)
				if !reflect.DeepEqual(get.Body, post.Body) {
					t.Errorf("%v:\nGET  %s\nPOST %s", c, get.Raw, post.Raw)
				}
				if post.Header.Get("Content-Type") != contentTypeSCIM {
					t.Errorf(".search Content-Type %q", post.Header.Get("Content-Type"))
				}
			}
		})
		t.Run("groups", func(t *testing.T) {
			a := jstr(ts.mustCreate(t, "/Groups", groupDoc("Alpha", ids[0], ids[1])), "id")
			b := jstr(ts.mustCreate(t, "/Groups", groupDoc("beta", ids[1])), "id")
			for _, c := range []struct {
				filter string
				want   []string
			}{
				{`displayName eq "ALPHA"`, []string{a}},
				{`members.value eq "` + ids[1] + `"`, []string{a, b}},
				{`members[value eq "` + ids[0] + `"]`, []string{a}},
				{`displayName sw "b"`, []string{b}},
			} {
				if got, total := ts.listIDs(t, "/Groups", "filter", c.filter); total != len(c.want) || !slices.Equal(got, c.want) {
					t.Errorf("groups filter %s: %v, want %v", c.filter, got, c.want)
				}
			}
			if got, _ := ts.listIDs(t, "/Groups", "sortBy", "displayName", "sortOrder", "descending"); !slices.Equal(got, []string{b, a}) {
				t.Errorf("groups by displayName descending %v, want [beta Alpha]", got)
			}
		})
	})
}

// TestListSortMissingValues: resources without the sortBy value come last
// when ascending and first when descending (RFC 7644 §3.4.2.3).
func TestListSortMissingValues(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, redisURL string) {
		ts := newTestServer(t, redisURL)
		id := map[string]string{}
		for _, u := range []struct{ userName, displayName, family string }{
			{"carol", "Carol", ""},
			{"Alice", "", "Zed"},
			{"dave", "dave", "Young"},
			{"bob", "", ""},
			{"EVE", "Eve", "Adams"},
		} {
			doc := userDoc(u.userName)
			if u.displayName != "" {
				doc["displayName"] = u.displayName
			}
			if u.family != "" {
				doc["name"] = map[string]any{"familyName": u.family}
			}
			id[u.userName] = jstr(ts.mustCreate(t, "/Users", doc), "id")
		}
		for _, c := range []struct {
			sortBy, order string
			want          []string
		}{
			{"userName", "ascending", []string{"Alice", "bob", "carol", "dave", "EVE"}}, // caseExact false
			{"userName", "descending", []string{"EVE", "dave", "carol", "bob", "Alice"}},
			{"userName", "", []string{"Alice", "bob", "carol", "dave", "EVE"}},
			{"displayName", "ascending", []string{"carol", "dave", "EVE", "Alice", "bob"}},
			{"displayName", "descending", []string{"Alice", "bob", "EVE", "dave", "carol"}}, // missing first (RFC 7644 §3.4.2.3)
			{"name.familyName", "ascending", []string{"EVE", "dave", "Alice", "carol", "bob"}},
			{"name.familyName", "descending", []string{"carol", "bob", "Alice", "dave", "EVE"}},
			{"NAME.FAMILYNAME", "ascending", []string{"EVE", "dave", "Alice", "carol", "bob"}},
			{UserSchema + ":userName", "descending", []string{"EVE", "dave", "carol", "bob", "Alice"}},
		} {
			t.Run(c.sortBy+" "+c.order, func(t *testing.T) {
				want := make([]string, len(c.want))
				for i, n := range c.want {
					want[i] = id[n]
				}
				params := []string{"sortBy", c.sortBy}
				if c.order != "" {
					params = append(params, "sortOrder", c.order)
				}
				got, total := ts.listIDs(t, "/Users", params...)
				if total != len(want) || !slices.Equal(got, want) {
					names := map[string]string{}
					for n, i := range id {
						names[i] = n
					}
					var gotNames []string
					for _, i := range got {
						gotNames = append(gotNames, names[i])
					}
					t.Errorf("sortBy=%s sortOrder=%s: %v, want %v", c.sortBy, c.order, gotNames, c.want)
				}
			})
		}
	})
}

// TestMalformedQueryString: a query string that does not parse (an unencoded
// ';', a bad '%' escape) is 400, never read as if the broken parameters were
// absent (a lookup answered with the whole tenant).
func TestMalformedQueryString(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, redisURL string) {
		ts := newTestServer(t, redisURL)
		ts.mustCreate(t, "/Users", userDoc("query.one"))
		for _, q := range []string{
			`/Users?filter=userName%20eq%20%22a;b@example.com%22`,
			`/Users?filter=userName%20eq%20%2250%off@example.com%22`,
			`/Groups?count=%ZZ`,
			`/?filter=%ZZ`,
		} {
			ts.callSCIM(t, testToken, http.MethodGet, q, nil).expectError(t, http.StatusBadRequest, "invalidSyntax")
		}
		r := ts.callSCIM(t, testToken, http.MethodGet, `/Users?filter=userName%20eq%20%22a%3Bb@example.com%22`, nil).expect(t, http.StatusOK)
		if n := jnum(t, r.Body, "totalResults"); n != 0 {
			t.Errorf("an encoded ';' in a filter: %v results", n)
		}
	})
}
