package fake

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

const testToken = "fake-testToken-0123456789"

type env struct {
	t   *testing.T
	s   *Server
	hc  *http.Client
	url string
}

func newEnv(t *testing.T, opts Options) *env {
	t.Helper()
	if opts.Token == "" {
		opts.Token = testToken
	}
	s := New(opts)
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	return &env{t: t, s: s, hc: srv.Client(), url: srv.URL + DefaultBasePath}
}

type answer struct {
	status int
	header http.Header
	body   map[string]any
}

// do sends a request with the admin testToken as a bearer.
func (e *env) do(method, path, body string) answer {
	return e.doWith(method, path, body, map[string]string{"Authorization": "bearer " + testToken})
}

func (e *env) doWith(method, path, body string, headers map[string]string) answer {
	e.t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.url+path, r)
	if err != nil {
		e.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := e.hc.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	a := answer{status: resp.StatusCode, header: resp.Header}
	if len(b) > 0 {
		if err := json.Unmarshal(b, &a.body); err != nil {
			e.t.Fatalf("%s %s: answer is not JSON: %q", method, path, b)
		}
	}
	if resp.StatusCode != http.StatusNoContent && resp.Header.Get("Content-Type") != ContentType {
		e.t.Fatalf("%s %s: Content-Type %q", method, path, resp.Header.Get("Content-Type"))
	}
	return a
}

func filterQuery(f string) string { return "/Users?filter=" + url.QueryEscape(f) }

func resources(t *testing.T, a answer) []map[string]any {
	t.Helper()
	raw, ok := a.body["Resources"].([]any)
	if !ok {
		t.Fatalf("no Resources in %v", a.body)
	}
	out := make([]map[string]any, len(raw))
	for i, r := range raw {
		out[i] = r.(map[string]any)
	}
	return out
}

func TestAuth(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Options{ReadOnlyToken: "viewer-testToken-abc"})
	cases := []struct {
		name    string
		headers map[string]string
		want    int
	}{
		{"missing", nil, 401},
		{"wrong bearer", map[string]string{"Authorization": "bearer nope"}, 401},
		{"wrong scheme", map[string]string{"Authorization": "Basic " + testToken}, 401},
		{"empty bearer", map[string]string{"Authorization": "bearer "}, 401},
		{"lowercase bearer", map[string]string{"Authorization": "bearer " + testToken}, 200},
		{"Bearer", map[string]string{"Authorization": "Bearer " + testToken}, 200},
		{"Genestack-API-Token", map[string]string{"Genestack-API-Token": testToken}, 200},
		{"wrong Genestack-API-Token", map[string]string{"Genestack-API-Token": "x"}, 401},
		{"read-only testToken", map[string]string{"Authorization": "bearer viewer-testToken-abc"}, 403},
	}
	for _, tc := range cases {
		if a := e.doWith("GET", "/Users", "", tc.headers); a.status != tc.want {
			t.Errorf("%s: status %d, want %d", tc.name, a.status, tc.want)
		}
	}
	if a := e.doWith("POST", "/Users", `{"userName":"x"}`, nil); a.status != 401 || e.s.Writes() != 0 {
		t.Fatalf("unauthenticated POST: %d, writes %d", a.status, e.s.Writes())
	}
}

func TestCreate(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Options{})
	a := e.do("POST", "/Users", `{"schemas":["`+SchemaUser+`"],"userName":"alice","externalId":"e1","displayName":"Alice","emails":[{"value":"a@x.io"}]}`)
	if a.status != 201 {
		t.Fatalf("status %d %v", a.status, a.body)
	}
	id, _ := a.body["id"].(string)
	if id == "" || a.body["userName"] != "alice" || a.body["active"] != true || a.body["externalId"] != "e1" {
		t.Fatalf("body %v", a.body)
	}
	if loc := a.header.Get("Location"); !strings.HasSuffix(loc, DefaultBasePath+"/Users/"+id) {
		t.Fatalf("Location %q", loc)
	}
	if e.s.Writes() != 1 || e.s.DuplicateWrites() != 0 {
		t.Fatalf("writes %d dup %d", e.s.Writes(), e.s.DuplicateWrites())
	}
	// Same login (the email): updates the user (201), and a correct client would
	// have found it.
	a = e.do("POST", "/Users", `{"userName":"alice","displayName":"Alice B","emails":[{"value":"a@x.io","type":"work","primary":true}]}`)
	if a.status != 201 || a.body["id"] != id || a.body["displayName"] != "Alice B" {
		t.Fatalf("update by POST: %d %v", a.status, a.body)
	}
	if u, _ := e.s.User(id); u.ExternalID != "" || u.Email != "a@x.io" {
		t.Fatalf("stored %+v", u)
	}
	if len(e.s.Users()) != 1 || e.s.Writes() != 2 || e.s.DuplicateWrites() != 1 {
		t.Fatalf("users %d writes %d dup %d", len(e.s.Users()), e.s.Writes(), e.s.DuplicateWrites())
	}
	bad := []struct {
		name, body string
		want       int
	}{
		{"no userName", `{"displayName":"x"}`, 400},
		{"empty userName", `{"userName":" "}`, 400},
		{"two emails", `{"userName":"b","emails":[{"value":"1@x"},{"value":"2@x"}]}`, 400},
		{"email without a value", `{"userName":"b","emails":[{"type":"work"}]}`, 400},
		{"userName of another login, no email", `{"userName":"alice"}`, 409},
		{"userName of another login, another email", `{"userName":"alice","emails":[{"value":"b@x.io"}]}`, 409},
		{"password", `{"userName":"b","password":"p"}`, 400},
		{"malformed", `{"userName":`, 400},
		{"active not bool", `{"userName":"b","active":3}`, 400},
		{"externalId of another login", `{"userName":"bob","externalId":"e2"}`, 0},
		{"externalId conflict", `{"userName":"carol","externalId":"e2"}`, 409},
	}
	for _, tc := range bad {
		a := e.do("POST", "/Users", tc.body)
		if tc.want == 0 {
			if a.status != 201 {
				t.Fatalf("%s: %d", tc.name, a.status)
			}
			continue
		}
		if a.status != tc.want {
			t.Errorf("%s: status %d, want %d", tc.name, a.status, tc.want)
		}
		if a.body["schemas"].([]any)[0] != SchemaError || a.body["status"] != fmt.Sprint(tc.want) {
			t.Errorf("%s: error body %v", tc.name, a.body)
		}
	}
	if a := e.do("POST", "/Users", `{"userName":"carol","externalId":"e2"}`); a.body["scimType"] != "uniqueness" {
		t.Fatalf("409 scimType: %v", a.body)
	}
	if u, _ := e.s.User(id); u.UserName != "alice" || u.Email != "a@x.io" || u.DisplayName != "Alice B" {
		t.Fatalf("a refused POST changed the user: %+v", u)
	}
}

// TestLogin: the login is the work email, as the document has it ("updates
// the existing user ... if the user has the same login as in the request
// body"; emails[type eq "work" and value eq "x"] "returns a user with login =
// x"), and the userName when there is no email.
func TestLogin(t *testing.T) {
	t.Parallel()
	for _, show := range []bool{false, true} {
		t.Run(fmt.Sprintf("ShowInactive=%v", show), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, Options{ShowInactive: show})
			odm := e.s.Seed(User{UserName: "bjensen", ExternalID: "hr-1", DisplayName: "Barbara", Email: "user@example.com", Active: true})
			noEmail := e.s.Seed(User{UserName: "carol", Active: true})
			off := e.s.Seed(User{UserName: "dave.old", Email: "dave@example.com", Active: false})

			// The same login under another userName: that user, renamed, 201.
			a := e.do("POST", "/Users", `{"userName":"barbara.jensen","externalId":"okta-7","displayName":"Barbara J","emails":[{"value":"user@example.com","type":"work","primary":true}]}`)
			if a.status != 201 || a.body["id"] != odm.ID {
				t.Fatalf("POST of an existing login: %d %v", a.status, a.body)
			}
			want := User{ID: odm.ID, UserName: "barbara.jensen", ExternalID: "okta-7", DisplayName: "Barbara J", Email: "user@example.com", Active: true}
			if u, _ := e.s.User(odm.ID); u != want {
				t.Fatalf("stored %+v, want %+v", u, want)
			}
			if u, ok := e.s.UserByLogin("user@example.com"); !ok || u.ID != odm.ID {
				t.Fatalf("UserByLogin: %+v %v", u, ok)
			}
			emails, _ := e.do("GET", "/Users/"+odm.ID, "").body["emails"].([]any)
			if len(emails) != 1 || fmt.Sprint(emails[0]) != "map[primary:true type:work value:user@example.com]" {
				t.Fatalf("emails %v", emails)
			}
			// The old userName is free: a new login may take it.
			if a := e.do("POST", "/Users", `{"userName":"bjensen","emails":[{"value":"bj@example.com"}]}`); a.status != 201 || a.body["id"] == odm.ID {
				t.Fatalf("POST of the freed userName: %d %v", a.status, a.body)
			}
			// A deactivated login is updated too (hidden or not), active from the body.
			if a := e.do("POST", "/Users", `{"userName":"dave","emails":[{"value":"dave@example.com"}]}`); a.status != 201 || a.body["id"] != off.ID || a.body["active"] != true {
				t.Fatalf("POST of a deactivated login: %d %v", a.status, a.body)
			}
			// Without an email the login is the userName; a user stored without
			// an email has its userName as login.
			if a := e.do("POST", "/Users", `{"userName":"carol","displayName":"Carol"}`); a.status != 201 || a.body["id"] != noEmail.ID {
				t.Fatalf("POST without email: %d %v", a.status, a.body)
			}
			if a := e.do("POST", "/Users", `{"userName":"c2","emails":[{"value":"carol"}]}`); a.status != 201 || a.body["id"] != noEmail.ID {
				t.Fatalf("POST of the email that is a user's userName login: %d %v", a.status, a.body)
			}
			if n := len(e.s.Users()); n != 4 {
				t.Fatalf("%d users, want 4: %+v", n, e.s.Users())
			}
			// PATCH cannot change the email (the login).
			if a := e.do("PATCH", "/Users/"+odm.ID, `{"Operations":[{"op":"replace","path":"emails","value":[{"value":"new@example.com"}]}]}`); a.status != 400 || a.body["scimType"] != "mutability" {
				t.Fatalf("PATCH emails: %d %v", a.status, a.body)
			}
			if a := e.do("PATCH", "/Users/"+odm.ID, `{"Operations":[{"op":"replace","value":{"emails[type eq \"work\"].value":"new@example.com"}}]}`); a.status != 400 {
				t.Fatalf("PATCH of an email value path: %d %v", a.status, a.body)
			}
			if u, _ := e.s.User(odm.ID); u.Email != "user@example.com" {
				t.Fatalf("email changed by PATCH: %+v", u)
			}
			checkIndex(t, e.s)
		})
	}
}

func TestGetAndInactiveVisibility(t *testing.T) {
	t.Parallel()
	for _, show := range []bool{false, true} {
		t.Run(fmt.Sprintf("ShowInactive=%v", show), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, Options{ShowInactive: show})
			on := e.s.Seed(User{UserName: "on", Active: true})
			off := e.s.Seed(User{UserName: "off", Active: false})
			if a := e.do("GET", "/Users/"+on.ID, ""); a.status != 200 || a.body["userName"] != "on" {
				t.Fatalf("get: %d %v", a.status, a.body)
			}
			if a := e.do("GET", "/Users/99999", ""); a.status != 404 {
				t.Fatalf("unknown id: %d", a.status)
			}
			if a := e.do("GET", "/Users/abc", ""); a.status != 400 {
				t.Fatalf("invalid id: %d", a.status)
			}
			a := e.do("GET", "/Users/"+off.ID, "")
			if show && (a.status != 200 || a.body["active"] != false) {
				t.Fatalf("inactive shown: %d %v", a.status, a.body)
			}
			if !show && a.status != 404 {
				t.Fatalf("inactive hidden: %d", a.status)
			}
			want := 1
			if show {
				want = 2
			}
			if a := e.do("GET", "/Users", ""); a.body["totalResults"] != float64(want) {
				t.Fatalf("list: %v", a.body)
			}
			// A hand edit (Update) is not a request: no log, no write.
			if !e.s.Update(on.ID, func(u *User) { u.DisplayName = "edited" }) || e.s.Update("31337", func(*User) {}) {
				t.Fatal("Update")
			}
			if got, _ := e.s.User(on.ID); got.DisplayName != "edited" || e.s.Writes() != 0 {
				t.Fatalf("after Update: %+v writes %d", got, e.s.Writes())
			}
			// PATCH and DELETE reach inactive users either way.
			if a := e.do("PATCH", "/Users/"+off.ID, `{"Operations":[{"op":"replace","path":"displayName","value":"Off"}]}`); a.status != 200 {
				t.Fatalf("patch inactive: %d %v", a.status, a.body)
			}
			if a := e.do("DELETE", "/Users/"+off.ID, ""); a.status != 204 || e.s.DuplicateWrites() != 1 {
				t.Fatalf("delete inactive: %d dup %d", a.status, e.s.DuplicateWrites())
			}
			// POST of a hidden inactive login is legitimate (nothing could find it).
			e.s.ResetCounters()
			e.do("POST", "/Users", `{"userName":"off"}`)
			wantDup := 0
			if show {
				wantDup = 1
			}
			if u, _ := e.s.UserByName("off"); !u.Active || u.ID != off.ID || e.s.DuplicateWrites() != wantDup {
				t.Fatalf("POST reactivation: %+v dup %d", u, e.s.DuplicateWrites())
			}
		})
	}
}

func TestList(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Options{})
	for i := range 250 {
		e.s.Seed(User{UserName: fmt.Sprintf("u%03d", i), Active: true})
	}
	a := e.do("GET", "/Users", "")
	if a.status != 200 || a.body["totalResults"] != 250.0 || a.body["itemsPerPage"] != 100.0 || a.body["startIndex"] != 1.0 || len(resources(t, a)) != 100 {
		t.Fatalf("default page: %d %v %v %v", a.status, a.body["totalResults"], a.body["itemsPerPage"], a.body["startIndex"])
	}
	if a.body["schemas"].([]any)[0] != SchemaList {
		t.Fatalf("schemas %v", a.body["schemas"])
	}
	a = e.do("GET", "/Users?startIndex=201&count=100", "")
	rs := resources(t, a)
	if len(rs) != 50 || rs[0]["userName"] != "u200" || a.body["startIndex"] != 201.0 {
		t.Fatalf("last page: %d %v", len(rs), rs[0])
	}
	if a := e.do("GET", "/Users?startIndex=0&count=-3", ""); len(resources(t, a)) != 0 || a.body["totalResults"] != 250.0 {
		t.Fatalf("count<0: %v", a.body)
	}
	if a := e.do("GET", "/Users?startIndex=x", ""); a.status != 400 {
		t.Fatalf("bad startIndex: %d", a.status)
	}
	// Parameter names are case-sensitive: FILTER is ignored.
	if a := e.do("GET", "/Users?FILTER="+url.QueryEscape(`userName eq "u001"`), ""); a.body["totalResults"] != 250.0 {
		t.Fatalf("FILTER: %v", a.body["totalResults"])
	}
	capped := newEnv(t, Options{MaxPageSize: 7})
	for i := range 10 {
		capped.s.Seed(User{UserName: fmt.Sprint("x", i), Active: true})
	}
	if a := capped.do("GET", "/Users?count=100", ""); len(resources(t, a)) != 7 || a.body["itemsPerPage"] != 7.0 {
		t.Fatalf("capped: %v", a.body["itemsPerPage"])
	}
}

func TestFilter(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Options{})
	e.s.Seed(User{UserName: "bjensen", ExternalID: "E1", DisplayName: "Barbara", Email: "user@example.com", Active: true})
	e.s.Seed(User{UserName: `we"ird\name`, ExternalID: "E2", Active: true})
	e.s.Seed(User{UserName: "BJENSEN2", Active: true})
	cases := []struct {
		filter string
		want   []string // userNames; nil with status 400
	}{
		{`userName eq "bjensen"`, []string{"bjensen"}},
		{`USERNAME EQ "bjensen"`, []string{"bjensen"}},
		{`userName eq "BJENSEN"`, []string{}}, // identical values only
		{`urn:ietf:params:scim:schemas:core:2.0:User:userName eq "bjensen"`, []string{"bjensen"}},
		{`externalId eq "E2"`, []string{`we"ird\name`}},
		{`userName eq "we\"ird\\name"`, []string{`we"ird\name`}},
		{`userName eq "nobody"`, []string{}},
		{`userName eq "bjensen" and externalId eq "E1"`, []string{"bjensen"}},
		{`userName eq "bjensen" AND externalId eq "E2"`, []string{}},
		{`(userName eq "bjensen") and active eq true`, []string{"bjensen"}},
		{`emails[type eq "work" and value eq "user@example.com"]`, []string{"bjensen"}},
		{`emails[type eq "work" and value eq "user@example.com"] and userName eq "bjensen"`, []string{"bjensen"}},
		{`emails.value eq "user@example.com"`, []string{"bjensen"}},
		// The work email filter of the document, alone and with `and`, in any case.
		{`EMAILS[TYPE EQ "work" AND VALUE EQ "user@example.com"]`, []string{"bjensen"}},
		{`emails[value eq "user@example.com" and type eq "work"]`, []string{"bjensen"}},
		{`emails[type eq "work" and value eq "user@example.com"] and userName eq "BJENSEN2"`, []string{}},
		{`emails[type eq "work" and value eq "user@example.com"] and externalId eq "E1" and active eq true`, []string{"bjensen"}},
		{`emails[type eq "home" and value eq "user@example.com"]`, []string{}},
		{`emails[type eq "work" and value eq "USER@example.com"]`, []string{}}, // identical values only
		{`emails[type eq "work" and value eq "bjensen"]`, []string{}},          // a userName is no email
		{`emails[type eq "work"]`, []string{"bjensen"}},
		{`emails[type eq "work" or value eq "user@example.com"]`, nil},
		{`emails[value co "example"]`, nil},
		{`emails[type eq "work" and value ne "x"]`, nil},
		{`emails[type eq "work" and value eq "user@example.com"] or userName eq "bjensen"`, nil},
		{`emails[not (type eq "work")]`, nil},
		{`userName gt "a"`, nil},
		{`displayName eq null`, []string{`we"ird\name`, "BJENSEN2"}},
		{`userName ne "bjensen"`, nil},
		{`userName co "jen"`, nil},
		{`userName sw "b"`, nil},
		{`userName pr`, nil},
		{`userName eq "a" or userName eq "b"`, nil},
		{`not (userName eq "a")`, nil},
		{`title eq "x"`, nil},
		{`emails[foo eq "x"]`, nil},
		{`userName eq "unterminated`, nil},
		{`userName eq`, nil},
		{`userName eq "a" junk`, nil},
	}
	for _, tc := range cases {
		a := e.do("GET", filterQuery(tc.filter), "")
		if tc.want == nil {
			if a.status != 400 || a.body["scimType"] != "invalidFilter" {
				t.Errorf("%s: %d %v, want 400 invalidFilter", tc.filter, a.status, a.body)
			}
			continue
		}
		if a.status != 200 {
			t.Errorf("%s: status %d %v", tc.filter, a.status, a.body)
			continue
		}
		var got []string
		for _, r := range resources(t, a) {
			got = append(got, r["userName"].(string))
		}
		if strings.Join(got, "|") != strings.Join(tc.want, "|") {
			t.Errorf("%s: got %q, want %q", tc.filter, got, tc.want)
		}
	}
}

func TestPatch(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Options{})
	u := e.s.Seed(User{UserName: "alice", ExternalID: "e1", DisplayName: "Alice", Active: true})
	e.s.Seed(User{UserName: "bob", ExternalID: "e2", Active: true})
	p := "/Users/" + u.ID
	cases := []struct {
		name, body string
		status     int
		want       User // checked when status is 200
		dup        bool
	}{
		{"replace with path", `{"schemas":["` + SchemaPatchOp + `"],"Operations":[{"op":"replace","path":"userName","value":"alice2"}]}`, 200,
			User{UserName: "alice2", ExternalID: "e1", DisplayName: "Alice", Active: true}, false},
		{"path-less replace, op in any case", `{"Operations":[{"op":"Replace","value":{"displayName":"A","active":false}}]}`, 200,
			User{UserName: "alice2", ExternalID: "e1", DisplayName: "A", Active: false}, false},
		{"add and remove", `{"Operations":[{"op":"add","path":"active","value":true},{"op":"remove","path":"externalId"}]}`, 200,
			User{UserName: "alice2", DisplayName: "A", Active: true}, false},
		{"unsupported attribute ignored", `{"Operations":[{"op":"replace","path":"name.familyName","value":"X"}]}`, 200,
			User{UserName: "alice2", DisplayName: "A", Active: true}, true},
		{"id is an error", `{"Operations":[{"op":"replace","path":"id","value":"7"}]}`, 400, User{}, false},
		{"atomic", `{"Operations":[{"op":"replace","path":"displayName","value":"Changed"},{"op":"remove","path":"userName"}]}`, 400, User{}, false},
		{"userName taken", `{"Operations":[{"op":"replace","path":"userName","value":"bob"}]}`, 400, User{}, false},
		{"externalId taken", `{"Operations":[{"op":"replace","path":"externalId","value":"e2"}]}`, 400, User{}, false},
		{"bad op", `{"Operations":[{"op":"move","path":"userName","value":"x"}]}`, 400, User{}, false},
		{"no operations", `{"Operations":[]}`, 400, User{}, false},
		{"active not bool", `{"Operations":[{"op":"replace","path":"active","value":"maybe"}]}`, 400, User{}, false},
		{"remove without path", `{"Operations":[{"op":"remove"}]}`, 400, User{}, false},
	}
	for _, tc := range cases {
		w, d := e.s.Writes(), e.s.DuplicateWrites()
		a := e.do("PATCH", p, tc.body)
		if a.status != tc.status {
			t.Fatalf("%s: status %d %v, want %d", tc.name, a.status, a.body, tc.status)
		}
		got, _ := e.s.User(u.ID)
		if tc.status != 200 {
			if got.DisplayName != "A" || got.UserName != "alice2" || e.s.Writes() != w {
				t.Fatalf("%s: a failed PATCH changed state: %+v", tc.name, got)
			}
			continue
		}
		tc.want.ID = u.ID
		if got != tc.want {
			t.Fatalf("%s: stored %+v, want %+v", tc.name, got, tc.want)
		}
		if a.body["userName"] != tc.want.UserName {
			t.Fatalf("%s: answer %v", tc.name, a.body)
		}
		if e.s.Writes() != w+1 || (e.s.DuplicateWrites() != d) == !tc.dup {
			t.Fatalf("%s: writes %d→%d dup %d→%d", tc.name, w, e.s.Writes(), d, e.s.DuplicateWrites())
		}
	}
	if a := e.do("PATCH", "/Users/4242", `{"Operations":[{"op":"replace","path":"active","value":true}]}`); a.status != 404 {
		t.Fatalf("unknown: %d", a.status)
	}
	if a := e.do("PATCH", "/Users/x", `{"Operations":[]}`); a.status != 400 {
		t.Fatalf("invalid id: %d", a.status)
	}
}

func TestDelete(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Options{})
	u := e.s.Seed(User{UserName: "alice", Active: true})
	if a := e.do("DELETE", "/Users/"+u.ID, ""); a.status != 204 {
		t.Fatalf("delete: %d", a.status)
	}
	if got, ok := e.s.User(u.ID); !ok || got.Active {
		t.Fatalf("after delete: %+v %v", got, ok)
	}
	if e.s.Writes() != 1 || e.s.DuplicateWrites() != 0 {
		t.Fatalf("writes %d dup %d", e.s.Writes(), e.s.DuplicateWrites())
	}
	if a := e.do("DELETE", "/Users/"+u.ID, ""); a.status != 204 || e.s.DuplicateWrites() != 1 {
		t.Fatalf("second delete: %d dup %d", a.status, e.s.DuplicateWrites())
	}
	if a := e.do("DELETE", "/Users/777", ""); a.status != 404 {
		t.Fatalf("unknown: %d", a.status)
	}
	if a := e.do("DELETE", "/Users/x", ""); a.status != 400 {
		t.Fatalf("invalid id: %d", a.status)
	}
	if a := e.do("PUT", "/Users/"+u.ID, `{}`); a.status != http.StatusMethodNotAllowed {
		t.Fatalf("PUT: %d", a.status)
	}
}

func TestFaults(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Options{})
	e.s.FailNext(2, 503)
	for range 2 {
		if a := e.do("POST", "/Users", `{"userName":"a"}`); a.status != 503 {
			t.Fatalf("FailNext: %d", a.status)
		}
	}
	if len(e.s.Users()) != 0 || e.s.Writes() != 0 {
		t.Fatal("a failed request changed state")
	}
	e.s.RateLimitNext(1, 3*time.Second)
	if a := e.do("GET", "/Users", ""); a.status != 429 || a.header.Get("Retry-After") != "3" {
		t.Fatalf("RateLimitNext: %d %q", a.status, a.header.Get("Retry-After"))
	}
	e.s.FailNextAfterApply("POST", 1, 502)
	if a := e.do("GET", "/Users", ""); a.status != 200 {
		t.Fatalf("a GET consumed a POST fault: %d", a.status)
	}
	if a := e.do("POST", "/Users", `{"userName":"a"}`); a.status != 502 {
		t.Fatalf("FailNextAfterApply: %d", a.status)
	}
	if _, ok := e.s.UserByName("a"); !ok || e.s.Writes() != 1 {
		t.Fatal("FailNextAfterApply did not apply the request")
	}
	e.s.Latency(30 * time.Millisecond)
	start := time.Now()
	e.do("GET", "/Users", "")
	if time.Since(start) < 30*time.Millisecond {
		t.Fatal("Latency not applied")
	}
	e.s.Latency(0)
	log := e.s.Requests()
	if len(log) != 6 || log[0].Method != "POST" || log[0].Status != 503 || log[2].Status != 429 || log[3].Path != DefaultBasePath+"/Users" {
		t.Fatalf("log %+v", log)
	}
	e.s.ResetCounters()
	if e.s.Writes() != 0 || len(e.s.Requests()) != 0 {
		t.Fatal("ResetCounters")
	}
}

func TestConcurrentCreates(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Options{})
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e.do("POST", "/Users", fmt.Sprintf(`{"userName":"u%d"}`, i%5))
			e.do("GET", "/Users", "")
		}()
	}
	wg.Wait()
	if n := len(e.s.Users()); n != 5 {
		t.Fatalf("%d users, want 5", n)
	}
	if e.s.Writes() != 20 || e.s.DuplicateWrites() != 15 {
		t.Fatalf("writes %d dup %d", e.s.Writes(), e.s.DuplicateWrites())
	}
}

func TestBasePath(t *testing.T) {
	t.Parallel()
	s := New(Options{Token: testToken, BasePath: "scim/v2/"})
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	req, _ := http.NewRequest("GET", srv.URL+"/scim/v2/Users", nil)
	req.Header.Set("Genestack-API-Token", testToken)
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
}

// TestRestore: Restore replaces every user and restarts ids, so an id a
// client recorded now names another user, or none; the indexes follow.
func TestRestore(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Options{})
	for _, n := range []string{"ada", "carol", "dora"} {
		if a := e.do("POST", "/Users", fmt.Sprintf(`{"userName":%q,"emails":[{"value":"%s@acme.test","type":"work"}]}`, n, n)); a.status != 201 {
			t.Fatalf("POST %s: %d", n, a.status)
		}
	}
	got := e.s.Restore(User{UserName: "frank", Email: "frank@acme.test", Active: true}, User{ID: "1003", UserName: "ada", Email: "ada@acme.test", Active: true})
	if got[0].ID != "1001" || got[1].ID != "1003" {
		t.Fatalf("restored ids %q, %q; want 1001, 1003", got[0].ID, got[1].ID)
	}
	if a := e.do("GET", "/Users/1001", ""); a.status != 200 || a.body["userName"] != "frank" {
		t.Fatalf("GET 1001 after restore: %d %v", a.status, a.body["userName"])
	}
	if a := e.do("GET", "/Users/1002", ""); a.status != 404 {
		t.Fatalf("GET 1002 after restore: %d", a.status)
	}
	a := e.do("GET", "/Users?filter="+url.QueryEscape(`userName eq "carol"`), "")
	if a.body["totalResults"] != 0.0 {
		t.Fatalf("carol still listed: %v", a.body)
	}
	if _, ok := e.s.UserByLogin("carol@acme.test"); ok {
		t.Fatal("carol's login still indexed")
	}
	// The next id after the restored ones is the next free one.
	if a := e.do("POST", "/Users", `{"userName":"gina"}`); a.status != 201 || a.body["id"] != "1002" {
		t.Fatalf("POST after restore: %d id %v", a.status, a.body["id"])
	}
	if a := e.do("POST", "/Users", `{"userName":"hal"}`); a.body["id"] != "1004" {
		t.Fatalf("POST after restore: id %v, want 1004 (1003 is taken)", a.body["id"])
	}
}
