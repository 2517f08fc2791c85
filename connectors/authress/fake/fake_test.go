package fake

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

const token = "sc_key_test_0123456789"

type answer struct {
	status int
	header http.Header
	body   []byte
}

func (a answer) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(a.body, v); err != nil {
		t.Fatalf("decode %s: %v", a.body, err)
	}
}

func call(t *testing.T, h http.Handler, auth, method, path string, body any) answer {
	t.Helper()
	return callCtx(t, context.Background(), h, auth, method, path, body)
}

func callCtx(t *testing.T, ctx context.Context, h http.Handler, auth, method, path string, body any) answer {
	t.Helper()
	var rd *strings.Reader
	switch b := body.(type) {
	case nil:
		rd = strings.NewReader("")
	case string:
		rd = strings.NewReader(b)
	default:
		js, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = strings.NewReader(string(js))
	}
	req := httptest.NewRequestWithContext(ctx, method, path, rd)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return answer{status: rec.Code, header: rec.Header(), body: rec.Body.Bytes()}
}

func bearer(tok string) string { return "Bearer " + tok }

func oauth(clientID string) Connection {
	return Connection{
		Type:              "OAUTH2",
		AuthenticationURL: "https://idp.example/authorize",
		TokenURL:          "https://idp.example/token",
		ClientID:          clientID,
		ClientSecret:      "s3cret-" + clientID,
	}
}

func TestAuth(t *testing.T) {
	t.Parallel()
	s := New(Options{Token: token, ReadOnlyToken: "read-only-key"})
	h := s.Handler()
	for _, tc := range []struct {
		name, auth, method string
		want               int
	}{
		{"missing", "", "GET", http.StatusUnauthorized},
		{"wrong token", bearer("nope"), "GET", http.StatusUnauthorized},
		{"token prefix", bearer(token[:len(token)-1]), "GET", http.StatusUnauthorized},
		{"other scheme", "Basic " + token, "GET", http.StatusUnauthorized},
		{"no token", "Bearer ", "GET", http.StatusUnauthorized},
		{"ok", bearer(token), "GET", http.StatusOK},
		{"scheme case-insensitive", "bearer " + token, "GET", http.StatusOK},
		{"read-only reads", bearer("read-only-key"), "GET", http.StatusOK},
		{"read-only cannot write", bearer("read-only-key"), "POST", http.StatusForbidden},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var body any
			if tc.method == "POST" {
				body = oauth("c")
			}
			a := call(t, h, tc.auth, tc.method, "/v1/connections", body)
			if a.status != tc.want {
				t.Fatalf("status %d, want %d (%s)", a.status, tc.want, a.body)
			}
			if tc.want >= 400 {
				var e apiError
				a.decode(t, &e)
				if e.Title == "" {
					t.Fatalf("error body without title: %s", a.body)
				}
			}
		})
	}
	if s.Writes() != 0 {
		t.Fatalf("writes %d after rejected requests", s.Writes())
	}
}

func TestConnectionRoutes(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	s := New(Options{Token: token, Now: func() time.Time { return now }})
	h := s.Handler()
	auth := bearer(token)

	// Create: 201, server-assigned id (a client id is ignored), createdTime,
	// default type, secret not echoed.
	in := oauth("abc")
	in.Type = ""
	in.ConnectionID = "mine"
	in.Tags = map[string]string{"k": "v"}
	a := call(t, h, auth, "POST", "/v1/connections", in)
	if a.status != http.StatusCreated {
		t.Fatalf("create: %d %s", a.status, a.body)
	}
	if ct := a.header.Get("Content-Type"); ct != "application/links+json" {
		t.Fatalf("content type %q", ct)
	}
	var created Connection
	a.decode(t, &created)
	if created.ConnectionID == "" || created.ConnectionID == "mine" {
		t.Fatalf("connectionId %q, want a server-assigned one", created.ConnectionID)
	}
	if created.Type != "OAUTH2" || created.CreatedTime != "2026-01-02T03:04:05Z" || created.ClientSecret != "" {
		t.Fatalf("created %+v", created)
	}
	id := created.ConnectionID
	if st, _ := s.Get(id); st.ClientSecret != "s3cret-abc" || st.Tags["k"] != "v" {
		t.Fatalf("stored %+v", st)
	}

	// Get: 200, 404.
	a = call(t, h, auth, "GET", "/v1/connections/"+id, nil)
	var got Connection
	a.decode(t, &got)
	if a.status != http.StatusOK || got.ClientID != "abc" || got.ClientSecret != "" {
		t.Fatalf("get: %d %+v", a.status, got)
	}
	if a := call(t, h, auth, "GET", "/v1/connections/con_missing", nil); a.status != http.StatusNotFound {
		t.Fatalf("get missing: %d", a.status)
	}

	// Update: replaces, keeps createdTime and (when omitted) the secret.
	upd := Connection{Type: "OAUTH2", AuthenticationURL: "https://idp.example/authorize", ClientID: "abc",
		TokenURL: "https://idp.example/token2", CreatedTime: "1999-01-01T00:00:00Z"}
	a = call(t, h, auth, "PUT", "/v1/connections/"+id, upd)
	if a.status != http.StatusOK {
		t.Fatalf("update: %d %s", a.status, a.body)
	}
	st, _ := s.Get(id)
	if st.TokenURL != "https://idp.example/token2" || st.Tags != nil || st.ClientSecret != "s3cret-abc" ||
		st.CreatedTime != "2026-01-02T03:04:05Z" || st.ConnectionID != id {
		t.Fatalf("after update %+v", st)
	}
	if a := call(t, h, auth, "PUT", "/v1/connections/con_missing", upd); a.status != http.StatusNotFound {
		t.Fatalf("update missing: %d", a.status)
	}
	if a := call(t, h, auth, "PUT", "/v1/connections/"+id, "{not json"); a.status != http.StatusBadRequest {
		t.Fatalf("update bad body: %d", a.status)
	}
	if a := call(t, h, auth, "POST", "/v1/connections", "[1,2]"); a.status != http.StatusBadRequest {
		t.Fatalf("create bad body: %d", a.status)
	}

	// Credentials: 200 for a known user, 404 otherwise.
	s.SetCredentials(id, "user-1", "at-123")
	a = call(t, h, auth, "GET", "/v1/connections/"+id+"/users/user-1/credentials", nil)
	var cr UserConnectionCredentials
	a.decode(t, &cr)
	if a.status != http.StatusOK || cr.AccessToken != "at-123" {
		t.Fatalf("credentials: %d %+v", a.status, cr)
	}
	if a := call(t, h, auth, "GET", "/v1/connections/"+id+"/users/user-2/credentials", nil); a.status != http.StatusNotFound {
		t.Fatalf("credentials of unknown user: %d", a.status)
	}

	// Delete: 204, then 404.
	if a := call(t, h, auth, "DELETE", "/v1/connections/"+id, nil); a.status != http.StatusNoContent || len(a.body) != 0 {
		t.Fatalf("delete: %d %s", a.status, a.body)
	}
	if a := call(t, h, auth, "DELETE", "/v1/connections/"+id, nil); a.status != http.StatusNotFound {
		t.Fatalf("delete again: %d", a.status)
	}
	if a := call(t, h, auth, "GET", "/v1/connections/"+id+"/users/user-1/credentials", nil); a.status != http.StatusNotFound {
		t.Fatalf("credentials of deleted connection: %d", a.status)
	}
	if a := call(t, h, auth, "PATCH", "/v1/connections/"+id, upd); a.status != http.StatusMethodNotAllowed {
		t.Fatalf("PATCH: %d", a.status)
	}

	if w, d := s.Writes(), s.DuplicateWrites(); w != 3 || d != 1 {
		t.Fatalf("writes %d duplicates %d, want 3 and 1 (the second delete)", w, d)
	}
	reqs := s.Requests()
	if last := reqs[len(reqs)-1]; last.Method != "PATCH" || last.Path != "/v1/connections/"+id || last.Status != http.StatusMethodNotAllowed {
		t.Fatalf("last logged request %+v", last)
	}
}

func TestListPagination(t *testing.T) {
	t.Parallel()
	s := New(Options{Token: token, PageSize: 2})
	h := s.Handler()
	auth := bearer(token)
	var ids []string
	for i := range 5 {
		c := oauth(fmt.Sprintf("client-%d", i))
		if i == 3 {
			c.Data = &ConnectionData{Name: "Okta Production"}
		}
		ids = append(ids, s.Put(c).ConnectionID)
	}

	var seen []string
	cursor := ""
	pages := 0
	for {
		path := "/v1/connections"
		if cursor != "" {
			path += "?cursor=" + cursor
		}
		a := call(t, h, auth, "GET", path, nil)
		if a.status != http.StatusOK {
			t.Fatalf("list: %d %s", a.status, a.body)
		}
		var p connectionCollection
		a.decode(t, &p)
		pages++
		for _, c := range p.Connections {
			if c.ClientSecret != "" {
				t.Fatalf("list leaks the client secret")
			}
			seen = append(seen, c.ConnectionID)
		}
		if p.Pagination.Next == nil {
			if p.Links.Next != nil {
				t.Fatalf("links.next without pagination.next")
			}
			break
		}
		if p.Links.Next == nil || !strings.Contains(p.Links.Next.Href, "cursor="+p.Pagination.Next.Cursor) {
			t.Fatalf("links.next %+v does not carry the cursor", p.Links.Next)
		}
		cursor = p.Pagination.Next.Cursor
	}
	if pages != 3 || strings.Join(seen, ",") != strings.Join(ids, ",") {
		t.Fatalf("%d pages, ids %v, want 3 pages and %v", pages, seen, ids)
	}

	for _, tc := range []struct {
		query string
		want  int
		n     int
	}{
		{"limit=1", http.StatusOK, 1},
		{"limit=50", http.StatusOK, 2}, // capped by the page size
		{"limit=0", http.StatusBadRequest, 0},
		{"limit=x", http.StatusBadRequest, 0},
		{"cursor=garbage!", http.StatusBadRequest, 0},
		{"filter=okta%20PROD", http.StatusOK, 1},
		{"filter=CLIENT-4", http.StatusOK, 1},
		{"filter=s3cret", http.StatusOK, 0}, // secrets are not searchable
	} {
		a := call(t, h, auth, "GET", "/v1/connections?"+tc.query, nil)
		if a.status != tc.want {
			t.Fatalf("%s: status %d, want %d", tc.query, a.status, tc.want)
		}
		if a.status == http.StatusOK {
			var p connectionCollection
			a.decode(t, &p)
			if len(p.Connections) != tc.n {
				t.Fatalf("%s: %d connections, want %d", tc.query, len(p.Connections), tc.n)
			}
		}
	}

	// An empty account answers an empty array, not null.
	a := call(t, New(Options{Token: token}).Handler(), auth, "GET", "/v1/connections", nil)
	if !strings.Contains(string(a.body), `"connections":[]`) {
		t.Fatalf("empty list: %s", a.body)
	}
}

func TestExposeSecrets(t *testing.T) {
	t.Parallel()
	s := New(Options{Token: token, ExposeSecrets: true})
	id := s.Put(oauth("x")).ConnectionID
	a := call(t, s.Handler(), bearer(token), "GET", "/v1/connections/"+id, nil)
	var c Connection
	a.decode(t, &c)
	if c.ClientSecret != "s3cret-x" {
		t.Fatalf("secret %q, want it exposed", c.ClientSecret)
	}
}

func TestDuplicateWrites(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		expose bool
		req    func(id string) (method, path string, body any)
		dup    int
	}{
		{"create of an existing connection", false, func(string) (string, string, any) {
			return "POST", "/v1/connections", oauth("a")
		}, 1},
		{"create of another connection", false, func(string) (string, string, any) {
			return "POST", "/v1/connections", oauth("b")
		}, 0},
		{"put changing nothing", false, func(id string) (string, string, any) {
			c := oauth("a")
			c.ClientSecret = ""
			return "PUT", "/v1/connections/" + id, c
		}, 1},
		{"put re-sending a hidden secret", false, func(id string) (string, string, any) {
			return "PUT", "/v1/connections/" + id, oauth("a")
		}, 0},
		{"put re-sending a visible secret", true, func(id string) (string, string, any) {
			return "PUT", "/v1/connections/" + id, oauth("a")
		}, 1},
		{"put changing a field", false, func(id string) (string, string, any) {
			c := oauth("a")
			c.TokenURL = "https://other/token"
			return "PUT", "/v1/connections/" + id, c
		}, 0},
		{"delete of an absent connection", false, func(string) (string, string, any) {
			return "DELETE", "/v1/connections/con_absent", nil
		}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := New(Options{Token: token, ExposeSecrets: tc.expose})
			id := s.Put(oauth("a")).ConnectionID
			m, p, b := tc.req(id)
			call(t, s.Handler(), bearer(token), m, p, b)
			if d := s.DuplicateWrites(); d != tc.dup {
				t.Fatalf("duplicates %d, want %d", d, tc.dup)
			}
		})
	}
}

func TestFaults(t *testing.T) {
	t.Parallel()
	s := New(Options{Token: token})
	h := s.Handler()
	auth := bearer(token)

	s.FailNext(2, http.StatusServiceUnavailable)
	for i := range 2 {
		if a := call(t, h, auth, "GET", "/v1/connections", nil); a.status != http.StatusServiceUnavailable {
			t.Fatalf("request %d: %d, want 503", i, a.status)
		}
	}
	if a := call(t, h, auth, "GET", "/v1/connections", nil); a.status != http.StatusOK {
		t.Fatalf("after faults: %d", a.status)
	}

	s.RateLimitNext(1, 1500*time.Millisecond)
	a := call(t, h, "", "GET", "/v1/connections", nil) // before authentication
	if a.status != http.StatusTooManyRequests || a.header.Get("Retry-After") != "2" {
		t.Fatalf("rate limit: %d Retry-After %q", a.status, a.header.Get("Retry-After"))
	}

	s.FailAfterWriteNext(1, http.StatusBadGateway)
	if a := call(t, h, auth, "POST", "/v1/connections", oauth("z")); a.status != http.StatusBadGateway {
		t.Fatalf("after-write failure: %d", a.status)
	}
	if n := len(s.Connections()); n != 1 || s.Writes() != 1 {
		t.Fatalf("the failed-after-write create was not applied: %d connections, %d writes", n, s.Writes())
	}

	s.Latency(time.Hour)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	callCtx(t, ctx, h, auth, "GET", "/v1/connections", nil)
	reqs := s.Requests()
	if last := reqs[len(reqs)-1]; last.Status != 0 {
		t.Fatalf("abandoned request logged with status %d", last.Status)
	}
	s.Latency(0)
}

func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	s := New(Options{Token: token, PageSize: 3})
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	client := srv.Client()
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body := strings.NewReader(fmt.Sprintf(`{"type":"OAUTH2","authenticationUrl":"https://a","clientId":"c%d"}`, i))
			req, _ := http.NewRequest("POST", srv.URL+"/v1/connections", body)
			req.Header.Set("Authorization", bearer(token))
			if resp, err := client.Do(req); err == nil {
				resp.Body.Close()
			}
			req, _ = http.NewRequest("GET", srv.URL+"/v1/connections", nil)
			req.Header.Set("Authorization", bearer(token))
			if resp, err := client.Do(req); err == nil {
				resp.Body.Close()
			}
		}()
	}
	wg.Wait()
	if n := len(s.Connections()); n != 20 || s.Writes() != 20 || s.DuplicateWrites() != 0 {
		t.Fatalf("%d connections, %d writes, %d duplicates", n, s.Writes(), s.DuplicateWrites())
	}
	if n := len(s.Requests()); n != 40 {
		t.Fatalf("%d logged requests, want 40", n)
	}
}
