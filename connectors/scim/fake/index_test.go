package fake

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// names lists the userNames of a ListResponse.
func names(t *testing.T, a answer) []string {
	t.Helper()
	out := []string{}
	for _, r := range resources(t, a) {
		out = append(out, r["userName"].(string))
	}
	return out
}

func TestIndexedLookups(t *testing.T) {
	t.Parallel()
	type lookup struct {
		filter string
		want   []string
	}
	cases := []struct {
		name string
		// run acts on the server, then the lookups are checked.
		run     func(t *testing.T, e *env)
		lookups []lookup
	}{
		{
			name: "PATCH rename moves the userName in the index",
			run: func(t *testing.T, e *env) {
				u := e.s.Seed(User{UserName: "alice", ExternalID: "e1", Active: true})
				if a := e.do("PATCH", "/Users/"+u.ID, `{"Operations":[{"op":"replace","path":"userName","value":"alice2"}]}`); a.status != 200 {
					t.Fatalf("rename: %d %v", a.status, a.body)
				}
				// The old login is free: POST creates a new user, not an update.
				if a := e.do("POST", "/Users", `{"userName":"alice"}`); a.status != 201 || a.body["id"] == u.ID {
					t.Fatalf("POST old login: %d %v", a.status, a.body)
				}
				// The new login is taken: POST updates the renamed user.
				if a := e.do("POST", "/Users", `{"userName":"alice2","externalId":"e1","displayName":"A2"}`); a.status != 201 || a.body["id"] != u.ID {
					t.Fatalf("POST new login: %d %v", a.status, a.body)
				}
			},
			lookups: []lookup{
				{`userName eq "alice2"`, []string{"alice2"}},
				{`userName eq "alice2" and externalId eq "e1"`, []string{"alice2"}},
				{`userName eq "alice" and externalId eq "e1"`, []string{}},
				{`userName eq "alice"`, []string{"alice"}},
			},
		},
		{
			name: "userName is compared exactly in every case",
			run: func(t *testing.T, e *env) {
				for _, n := range []string{"Alice", "alice", "ALICE"} {
					if a := e.do("POST", "/Users", `{"userName":"`+n+`"}`); a.status != 201 {
						t.Fatalf("POST %s: %d", n, a.status)
					}
				}
				if n := len(e.s.Users()); n != 3 {
					t.Fatalf("%d users: logins differing in case are distinct", n)
				}
			},
			lookups: []lookup{
				{`userName eq "alice"`, []string{"alice"}},
				{`USERNAME eq "Alice"`, []string{"Alice"}},
				{`userName eq "ALICE"`, []string{"ALICE"}},
				{`userName eq "aLiCe"`, []string{}},
			},
		},
		{
			name: "externalId is compared exactly; a PATCH frees the old value",
			run: func(t *testing.T, e *env) {
				u := e.s.Seed(User{UserName: "bob", ExternalID: "Ext-1", Active: true})
				e.s.Seed(User{UserName: "carol", Active: true})
				if a := e.do("PATCH", "/Users/"+u.ID, `{"Operations":[{"op":"replace","path":"externalId","value":"Ext-2"}]}`); a.status != 200 {
					t.Fatalf("PATCH: %d %v", a.status, a.body)
				}
				// Ext-1 is free now: another login may take it without a 409.
				if a := e.do("POST", "/Users", `{"userName":"dave","externalId":"Ext-1"}`); a.status != 201 {
					t.Fatalf("POST freed externalId: %d %v", a.status, a.body)
				}
				// Ext-2 is held: 409 for another login.
				if a := e.do("POST", "/Users", `{"userName":"erin","externalId":"Ext-2"}`); a.status != 409 {
					t.Fatalf("POST held externalId: %d %v", a.status, a.body)
				}
			},
			lookups: []lookup{
				{`externalId eq "Ext-2"`, []string{"bob"}},
				{`externalId eq "ext-2"`, []string{}},
				{`externalId eq "Ext-1"`, []string{"dave"}},
				{`externalId eq ""`, []string{"carol"}},
				{`externalId eq null`, []string{"carol"}},
			},
		},
		{
			name: "PATCH remove of externalId drops it from the index",
			run: func(t *testing.T, e *env) {
				u := e.s.Seed(User{UserName: "fay", ExternalID: "x9", Active: true})
				if a := e.do("PATCH", "/Users/"+u.ID, `{"Operations":[{"op":"remove","path":"externalId"}]}`); a.status != 200 {
					t.Fatalf("PATCH: %d", a.status)
				}
			},
			lookups: []lookup{{`externalId eq "x9"`, []string{}}, {`externalId eq null`, []string{"fay"}}},
		},
		{
			name: "hand edits are indexed, and shared values list every holder in id order",
			run: func(t *testing.T, e *env) {
				a := e.s.Seed(User{ID: "20", UserName: "gus", ExternalID: "g", Active: true})
				b := e.s.Seed(User{ID: "3", UserName: "hal", Active: true})
				e.s.Update(a.ID, func(u *User) { u.UserName = "hal"; u.ExternalID = "shared" })
				e.s.Update(b.ID, func(u *User) { u.ExternalID = "shared"; u.DisplayName = "H" })
			},
			lookups: []lookup{
				{`userName eq "gus"`, []string{}},
				{`externalId eq "g"`, []string{}},
				{`userName eq "hal"`, []string{"hal", "hal"}},
				{`externalId eq "shared" and displayName eq "H"`, []string{"hal"}},
				{`id eq "20"`, []string{"hal"}},
				{`id eq "21"`, []string{}},
			},
		},
		{
			name: "deactivation hides a user from indexed lookups and the list",
			run: func(t *testing.T, e *env) {
				u := e.s.Seed(User{UserName: "ivy", ExternalID: "i", Active: true})
				e.s.Seed(User{UserName: "jan", Active: true})
				if a := e.do("DELETE", "/Users/"+u.ID, ""); a.status != 204 {
					t.Fatalf("DELETE: %d", a.status)
				}
				if a := e.do("GET", "/Users", ""); a.body["totalResults"] != 1.0 {
					t.Fatalf("list after DELETE: %v", a.body["totalResults"])
				}
				e.s.Update(u.ID, func(u *User) { u.Active = true })
				if a := e.do("GET", "/Users", ""); a.body["totalResults"] != 2.0 {
					t.Fatalf("list after reactivation: %v", a.body["totalResults"])
				}
				e.do("PATCH", "/Users/"+u.ID, `{"Operations":[{"op":"replace","path":"active","value":false}]}`)
			},
			lookups: []lookup{{`userName eq "ivy"`, []string{}}, {`externalId eq "i"`, []string{}}, {`userName eq "jan"`, []string{"jan"}}},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, Options{})
			tc.run(t, e)
			for _, l := range tc.lookups {
				a := e.do("GET", filterQuery(l.filter), "")
				if a.status != 200 {
					t.Fatalf("%s: %d %v", l.filter, a.status, a.body)
				}
				if got := names(t, a); !slices.Equal(got, l.want) || a.body["totalResults"] != float64(len(l.want)) {
					t.Errorf("%s: got %q (total %v), want %q", l.filter, got, a.body["totalResults"], l.want)
				}
			}
			checkIndex(t, e.s)
		})
	}
}

// TestEmailFiltersUseTheIndex: a filter that pins the email's value (the
// document's work email filter, alone or inside an `and`, or emails.value eq)
// is answered from the email index, not a scan.
func TestEmailFiltersUseTheIndex(t *testing.T) {
	t.Parallel()
	s := New(Options{Token: testToken})
	for i := range 50 {
		s.Seed(User{UserName: fmt.Sprint("u", i), Email: fmt.Sprintf("u%d@x.io", i), Active: true})
	}
	for _, tc := range []struct {
		filter  string
		indexed bool
	}{
		{`emails[type eq "work" and value eq "u7@x.io"]`, true},
		{`emails[value eq "u7@x.io" and type eq "work"]`, true},
		{`emails[(type eq "work") and (value eq "u7@x.io")]`, true},
		{`active eq true and emails[type eq "work" and value eq "u7@x.io"]`, true},
		{`emails.value eq "u7@x.io"`, true},
		{`emails[type eq "work"]`, false},
		{`emails[value eq ""]`, false},
	} {
		f, err := parseFilter(tc.filter)
		if err != nil {
			t.Fatalf("%s: %v", tc.filter, err)
		}
		s.mu.Lock()
		list, ok := s.users.candidates(f)
		s.mu.Unlock()
		if ok != tc.indexed || (ok && (len(list) != 1 || list[0].Email != "u7@x.io")) {
			t.Errorf("%s: candidates %v (indexed %v), want indexed %v", tc.filter, list, ok, tc.indexed)
		}
	}
}

func TestListOrderIsNumeric(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Options{})
	for _, id := range []string{"100", "9", "1000", "25"} {
		e.s.Seed(User{ID: id, UserName: "u" + id, Active: true})
	}
	e.do("POST", "/Users", `{"userName":"next"}`) // gets 1001
	want := []string{"u9", "u25", "u100", "u1000", "next"}
	if got := names(t, e.do("GET", "/Users", "")); !slices.Equal(got, want) {
		t.Fatalf("list %q, want %q", got, want)
	}
	if got := names(t, e.do("GET", "/Users?startIndex=2&count=2", "")); !slices.Equal(got, want[1:3]) {
		t.Fatalf("page %q, want %q", got, want[1:3])
	}
	var ids []string
	for _, u := range e.s.Users() {
		ids = append(ids, u.ID)
	}
	if !slices.Equal(ids, []string{"9", "25", "100", "1000", "1001"}) {
		t.Fatalf("Users() ids %q", ids)
	}
}

// TestIndexMatchesScan applies random writes and hand edits, then checks that
// every list answer equals a brute-force evaluation over all users.
func TestIndexMatchesScan(t *testing.T) {
	t.Parallel()
	for _, show := range []bool{false, true} {
		t.Run(fmt.Sprintf("ShowInactive=%v", show), func(t *testing.T) {
			t.Parallel()
			s := New(Options{Token: testToken, ShowInactive: show})
			h := s.Handler()
			seed := uint64(1)
			if show {
				seed = 2
			}
			rng := rand.New(rand.NewPCG(seed, 7))
			name := func() string { return fmt.Sprint("n", rng.IntN(30)) }
			ext := func() string {
				if rng.IntN(4) == 0 {
					return ""
				}
				return fmt.Sprint("x", rng.IntN(30))
			}
			// email is none, an address, or one of the names (a login that is
			// a user's userName when that user has no email).
			email := func() string {
				switch rng.IntN(4) {
				case 0:
					return ""
				case 1:
					return name()
				}
				return fmt.Sprintf("m%d@x.io", rng.IntN(30))
			}
			emails := func() string {
				if m := email(); m != "" {
					return fmt.Sprintf(`,"emails":[{"value":%q}]`, m)
				}
				return ""
			}
			call := func(method, path, body string) {
				req := httptest.NewRequest(method, DefaultBasePath+path, strings.NewReader(body))
				req.Header.Set("Authorization", "bearer "+testToken)
				h.ServeHTTP(httptest.NewRecorder(), req)
			}
			randomID := func() string {
				us := s.Users()
				if len(us) == 0 {
					return "1"
				}
				return us[rng.IntN(len(us))].ID
			}
			for range 400 {
				switch rng.IntN(6) {
				case 0, 1:
					call("POST", "/Users", fmt.Sprintf(`{"userName":%q,"externalId":%q,"active":%v%s}`, name(), ext(), rng.IntN(3) > 0, emails()))
				case 2:
					call("PATCH", "/Users/"+randomID(), fmt.Sprintf(`{"Operations":[{"op":"replace","value":{"userName":%q,"externalId":%q,"active":%v}}]}`, name(), ext(), rng.IntN(2) == 0))
				case 3:
					call("DELETE", "/Users/"+randomID(), "")
				case 4:
					n, x, m, act := name(), ext(), email(), rng.IntN(2) == 0
					s.Update(randomID(), func(u *User) { u.UserName, u.ExternalID, u.Email, u.Active = n, x, m, act })
				case 5:
					n, id := name(), strconv.Itoa(rng.IntN(5000))
					_, nameTaken := s.UserByName(n)
					_, idTaken := s.User(id)
					if !nameTaken && !idTaken {
						s.Seed(User{ID: id, UserName: n, ExternalID: ext(), Email: email(), Active: rng.IntN(2) == 0})
					}
				}
			}
			checkIndex(t, s)
			var filters []string
			for i := range 30 {
				filters = append(filters,
					fmt.Sprintf(`userName eq "n%d"`, i),
					fmt.Sprintf(`externalId eq "x%d"`, i),
					fmt.Sprintf(`userName eq "n%d" and externalId eq "x%d"`, i, (i*7)%30),
					fmt.Sprintf(`(active eq true) and externalId eq "x%d"`, i),
					fmt.Sprintf(`emails[type eq "work" and value eq "m%d@x.io"]`, i),
					fmt.Sprintf(`emails[type eq "work" and value eq "n%d"] and userName eq "n%d"`, i, (i*7)%30),
					fmt.Sprintf(`emails.value eq "m%d@x.io"`, i))
			}
			filters = append(filters, "", `externalId eq ""`, `active eq false`, `id eq "1001"`, `userName eq null`,
				`emails.value eq ""`, `emails.value eq null`, `emails[type eq "work"]`, `emails[value eq ""]`)
			for _, f := range filters {
				for _, pg := range [][2]int{{1, 100}, {2, 3}, {5, 100}} {
					checkAgainstScan(t, s, f, pg[0], pg[1])
				}
			}
		})
	}
}

// checkAgainstScan compares one list answer with a scan of every user.
func checkAgainstScan(t *testing.T, s *Server, filter string, start, count int) {
	t.Helper()
	var f expr
	if filter != "" {
		var err error
		if f, err = parseFilter(filter); err != nil {
			t.Fatal(err)
		}
	}
	all := s.Users()
	slices.SortFunc(all, func(a, b User) int {
		x, _ := strconv.ParseInt(a.ID, 10, 64)
		y, _ := strconv.ParseInt(b.ID, 10, 64)
		return int(x - y)
	})
	var want []string
	for _, u := range all {
		if (u.Active || s.opts.ShowInactive) && (f == nil || f.match(&u)) {
			want = append(want, u.ID)
		}
	}
	total := len(want)
	want = want[min(start-1, len(want)):]
	want = want[:min(count, len(want))]
	target := fmt.Sprintf("%s/Users?startIndex=%d&count=%d", DefaultBasePath, start, count)
	if filter != "" {
		target += "&filter=" + url.QueryEscape(filter)
	}
	req := httptest.NewRequest(http.MethodGet, target, nil)
	req.Header.Set("Authorization", "bearer "+testToken)
	w := httptest.NewRecorder()
	s.Handler().ServeHTTP(w, req)
	var got listResponse
	if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil || w.Code != 200 {
		t.Fatalf("%s: %d %v", target, w.Code, err)
	}
	ids := []string{}
	for _, r := range got.Resources {
		ids = append(ids, r.ID)
	}
	if got.TotalResults != total || !slices.Equal(ids, append([]string{}, want...)) {
		t.Errorf("%q start %d count %d: total %d ids %q, want total %d ids %q", filter, start, count, got.TotalResults, ids, total, want)
	}
}

// checkIndex verifies the index invariants against the users themselves.
func checkIndex(t *testing.T, s *Server) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	x := &s.users
	if len(x.order) != len(x.byID) {
		t.Fatalf("order has %d users, byID %d", len(x.order), len(x.byID))
	}
	if !slices.IsSortedFunc(x.order, compareUsers) {
		t.Fatal("order is not sorted by id")
	}
	inactive, names, exts, mails := 0, 0, 0, 0
	for _, u := range x.order {
		if x.byID[u.ID] != u {
			t.Fatalf("byID[%s] is not the user in order", u.ID)
		}
		if !u.Active {
			inactive++
		}
		if !slices.Contains(x.byName[u.UserName], u) {
			t.Fatalf("user %s missing from byName[%q]", u.ID, u.UserName)
		}
		if u.ExternalID != "" && !slices.Contains(x.byExt[u.ExternalID], u) {
			t.Fatalf("user %s missing from byExt[%q]", u.ID, u.ExternalID)
		}
		if u.Email != "" && !slices.Contains(x.byEmail[u.Email], u) {
			t.Fatalf("user %s missing from byEmail[%q]", u.ID, u.Email)
		}
	}
	for k, hs := range x.byEmail {
		mails += len(hs)
		for _, h := range hs {
			if h.Email != k {
				t.Fatalf("byEmail[%q] holds %q", k, h.Email)
			}
		}
		if len(hs) == 0 || !slices.IsSortedFunc(hs, compareUsers) {
			t.Fatalf("byEmail[%q]: %d holders", k, len(hs))
		}
	}
	for k, hs := range x.byName {
		names += len(hs)
		for _, h := range hs {
			if h.UserName != k {
				t.Fatalf("byName[%q] holds %q", k, h.UserName)
			}
		}
		if len(hs) == 0 || !slices.IsSortedFunc(hs, compareUsers) {
			t.Fatalf("byName[%q]: %d holders, sorted %v", k, len(hs), slices.IsSortedFunc(hs, compareUsers))
		}
	}
	for k, hs := range x.byExt {
		exts += len(hs)
		for _, h := range hs {
			if h.ExternalID != k {
				t.Fatalf("byExt[%q] holds %q", k, h.ExternalID)
			}
		}
		if len(hs) == 0 || !slices.IsSortedFunc(hs, compareUsers) {
			t.Fatalf("byExt[%q]: %d holders", k, len(hs))
		}
	}
	withExt, withEmail := 0, 0
	for _, u := range x.order {
		if u.ExternalID != "" {
			withExt++
		}
		if u.Email != "" {
			withEmail++
		}
	}
	if names != len(x.order) || exts != withExt || mails != withEmail || inactive != x.inactive {
		t.Fatalf("byName %d entries for %d users; byExt %d for %d; byEmail %d for %d; inactive %d, counted %d",
			names, len(x.order), exts, withExt, mails, withEmail, x.inactive, inactive)
	}
	// byLogin is the smallest-id user whose login is the value.
	for _, u := range x.order {
		var first *User
		for _, v := range x.order {
			if loginOf(v) == loginOf(u) {
				first = v
				break
			}
		}
		if got := x.byLogin(loginOf(u)); got != first {
			t.Fatalf("byLogin(%q) = %v, want user %s", loginOf(u), got, first.ID)
		}
	}
}
