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

const token = "fake-token-0123456789"

func start(t *testing.T, opts Options) (*Server, *httptest.Server) {
	t.Helper()
	if opts.Token == "" {
		opts.Token = token
	}
	s := New(opts)
	hs := httptest.NewServer(s.Handler())
	t.Cleanup(hs.Close)
	return s, hs
}

type call struct {
	method, path, auth, contentType, body string
}

func do(t *testing.T, hs *httptest.Server, c call) (int, http.Header, string) {
	t.Helper()
	var body io.Reader
	if c.body != "" {
		body = strings.NewReader(c.body)
	}
	req, err := http.NewRequest(c.method, hs.URL+c.path, body)
	if err != nil {
		t.Fatal(err)
	}
	if c.auth == "" {
		c.auth = "Bearer " + token
	}
	if c.auth != "-" {
		req.Header.Set("Authorization", c.auth)
	}
	if c.contentType == "" && c.body != "" {
		c.contentType = "application/json"
	}
	if c.contentType != "" {
		req.Header.Set("Content-Type", c.contentType)
	}
	resp, err := hs.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

func TestAuth(t *testing.T) {
	t.Parallel()
	_, hs := start(t, Options{})
	for _, tc := range []struct {
		name, auth string
		want       int
	}{
		{"missing", "-", 401},
		{"wrong token", "Bearer nope", 401},
		{"token prefix only", "Bearer " + token[:5], 401},
		{"other scheme", "Basic " + token, 401},
		{"no scheme", token, 401},
		{"bearer", "Bearer " + token, 200},
		{"bearer lower case", "bearer " + token, 200},
		{"api key", "ApiKey " + token, 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, _, body := do(t, hs, call{method: "GET", path: "/identity-provider/invitation", auth: tc.auth})
			if got != tc.want {
				t.Fatalf("status %d, want %d (%s)", got, tc.want, body)
			}
			if strings.Contains(body, token) {
				t.Fatalf("answer echoes the token: %s", body)
			}
		})
	}
	t.Run("empty configured token rejects everything", func(t *testing.T) {
		s := New(Options{})
		hs := httptest.NewServer(s.Handler())
		defer hs.Close()
		if got, _, _ := do(t, hs, call{method: "GET", path: "/identity-provider/invitation", auth: "Bearer "}); got != 401 {
			t.Fatalf("status %d, want 401", got)
		}
	})
}

func TestInvitationRoutes(t *testing.T) {
	t.Parallel()
	s, hs := start(t, Options{})
	s.AddInvitation(Invitation{Email: "a@example.com"})
	s.AddInvitation(Invitation{Email: "b@example.com", Status: StatusAccepted})
	s.AddInvitation(Invitation{Email: "c@example.com", Status: StatusDenied})

	list := func(q string) []Invitation {
		t.Helper()
		code, _, body := do(t, hs, call{method: "GET", path: "/identity-provider/invitation" + q})
		if code != 200 {
			t.Fatalf("list%s: status %d", q, code)
		}
		var out []Invitation
		if err := json.Unmarshal([]byte(body), &out); err != nil {
			t.Fatalf("list%s: %v: %s", q, err, body)
		}
		return out
	}
	if got := list(""); len(got) != 3 {
		t.Fatalf("all: %d invitations, want 3", len(got))
	}
	for q, want := range map[string]string{"?status=P": "a@example.com", "?status=A": "b@example.com", "?status=D": "c@example.com"} {
		got := list(q)
		if len(got) != 1 || got[0].Email != want {
			t.Fatalf("list%s = %+v, want only %s", q, got, want)
		}
	}
	if got := list("/"); len(got) != 3 {
		t.Fatalf("trailing slash: %d invitations, want 3", len(got))
	}
	// The documented fields are all present in the JSON.
	_, _, raw := do(t, hs, call{method: "GET", path: "/identity-provider/invitation/1"})
	for _, f := range []string{"id", "client_id", "redirect_uri", "cloud_name", "cloud_role", "project_role", "email", "status"} {
		if !strings.Contains(raw, `"`+f+`"`) {
			t.Errorf("invitation JSON lacks %q: %s", f, raw)
		}
	}

	for _, tc := range []struct {
		name, method, path string
		want               int
		writes, dups       int
	}{
		{"bad status filter", "GET", "/identity-provider/invitation?status=X", 400, 0, 0},
		{"get", "GET", "/identity-provider/invitation/1", 200, 0, 0},
		{"get unknown", "GET", "/identity-provider/invitation/99", 404, 0, 0},
		{"get non-integer", "GET", "/identity-provider/invitation/abc", 404, 0, 0},
		{"accept pending", "POST", "/identity-provider/invitation/1/accept", 204, 1, 0},
		{"accept again", "POST", "/identity-provider/invitation/1/accept", 204, 1, 1},
		{"accept unknown", "POST", "/identity-provider/invitation/99/accept", 404, 0, 0},
		{"deny accepted", "POST", "/identity-provider/invitation/2/deny", 204, 1, 0},
		{"deny denied", "POST", "/identity-provider/invitation/3/deny", 204, 1, 1},
		{"accept denied", "POST", "/identity-provider/invitation/3/accept", 204, 1, 0},
		{"deny unknown", "POST", "/identity-provider/invitation/99/deny", 404, 0, 0},
		{"wrong method", "DELETE", "/identity-provider/invitation/1", 405, 0, 0},
		{"unknown route", "GET", "/identity-provider/nothing", 404, 0, 0},
	} {
		s.ResetCounters()
		code, _, body := do(t, hs, call{method: tc.method, path: tc.path})
		if code != tc.want {
			t.Errorf("%s: status %d, want %d (%s)", tc.name, code, tc.want, body)
		}
		if s.Writes() != tc.writes || s.DuplicateWrites() != tc.dups {
			t.Errorf("%s: writes %d dups %d, want %d %d", tc.name, s.Writes(), s.DuplicateWrites(), tc.writes, tc.dups)
		}
		if code == 204 && body != "" {
			t.Errorf("%s: 204 with a body %q", tc.name, body)
		}
	}
	want := map[int]string{1: StatusAccepted, 2: StatusDenied, 3: StatusAccepted}
	for id, st := range want {
		if inv, _ := s.Invitation(id); inv.Status != st {
			t.Errorf("invitation %d status %q, want %q", id, inv.Status, st)
		}
	}
}

func TestUserRoutes(t *testing.T) {
	t.Parallel()
	s, hs := start(t, Options{})
	for _, tc := range []struct {
		name, method, contentType, body string
		want, writes, dups              int
	}{
		{"create", "POST", "", `{"email":"a@example.com","firstname":"Ann","lastname":"Lee"}`, 201, 1, 0},
		{"create existing, other case", "POST", "", `{"email":"A@Example.com","firstname":"X","lastname":"Y"}`, 200, 1, 1},
		{"create form", "POST", "application/x-www-form-urlencoded", url.Values{"email": {"b@example.com"}, "firstname": {"Bob"}}.Encode(), 201, 1, 0},
		{"create without email", "POST", "", `{"firstname":"x"}`, 400, 0, 0},
		{"create empty body", "POST", "", "", 400, 0, 0},
		{"create malformed", "POST", "", `{"email":`, 400, 0, 0},
		{"delete", "DELETE", "", `{"email":"a@example.com"}`, 204, 1, 0},
		{"delete absent", "DELETE", "", `{"email":"a@example.com"}`, 204, 1, 1},
		{"delete without email", "DELETE", "", `{}`, 400, 0, 0},
		{"get is not a route", "GET", "", "", 405, 0, 0},
	} {
		s.ResetCounters()
		code, _, body := do(t, hs, call{method: tc.method, path: "/identity-provider/user", contentType: tc.contentType, body: tc.body})
		if code != tc.want {
			t.Errorf("%s: status %d, want %d (%s)", tc.name, code, tc.want, body)
		}
		if s.Writes() != tc.writes || s.DuplicateWrites() != tc.dups {
			t.Errorf("%s: writes %d dups %d, want %d %d", tc.name, s.Writes(), s.DuplicateWrites(), tc.writes, tc.dups)
		}
	}
	if _, ok := s.User("a@example.com"); ok {
		t.Fatal("a@example.com still exists after delete")
	}
	b, ok := s.User("B@EXAMPLE.COM")
	if !ok || b.Firstname == nil || *b.Firstname != "Bob" || b.Lastname != nil {
		t.Fatalf("form-created user = %+v", b)
	}

	t.Run("create answers the ShortUser", func(t *testing.T) {
		code, _, body := do(t, hs, call{method: "POST", path: "/identity-provider/user", body: `{"email":"c@example.com","firstname":"C","lastname":"D"}`})
		var u User
		if err := json.Unmarshal([]byte(body), &u); err != nil || code != 201 || u.ID == 0 || u.Email != "c@example.com" || *u.Firstname != "C" {
			t.Fatalf("status %d user %+v err %v", code, u, err)
		}
		code, _, body = do(t, hs, call{method: "POST", path: "/identity-provider/user", body: `{"email":"c@example.com","firstname":"Other","lastname":"D"}`})
		var again User
		_ = json.Unmarshal([]byte(body), &again)
		if code != 200 || again.ID != u.ID || *again.Firstname != "C" {
			t.Fatalf("existing: status %d user %+v, want 200 and the stored user unchanged", code, again)
		}
	})
}

func TestDeleteAbsentStatus(t *testing.T) {
	t.Parallel()
	s, hs := start(t, Options{DeleteAbsentStatus: 404})
	code, _, _ := do(t, hs, call{method: "DELETE", path: "/identity-provider/user", body: `{"email":"nobody@example.com"}`})
	if code != 404 || s.Writes() != 0 || s.DuplicateWrites() != 0 {
		t.Fatalf("status %d writes %d dups %d, want 404 0 0", code, s.Writes(), s.DuplicateWrites())
	}
}

func TestFaults(t *testing.T) {
	t.Parallel()
	s, hs := start(t, Options{})
	s.AddInvitation(Invitation{Email: "a@example.com"})

	s.FailNext(2, 503)
	for i := 0; i < 2; i++ {
		if code, _, _ := do(t, hs, call{method: "POST", path: "/identity-provider/invitation/1/accept"}); code != 503 {
			t.Fatalf("attempt %d: status %d, want 503", i, code)
		}
	}
	if inv, _ := s.Invitation(1); inv.Status != StatusPending || s.Writes() != 0 {
		t.Fatalf("a failed request changed state: %+v writes %d", inv, s.Writes())
	}

	s.RateLimitNext(1, 1500*time.Millisecond)
	code, h, _ := do(t, hs, call{method: "GET", path: "/identity-provider/invitation"})
	if code != 429 || h.Get("Retry-After") != "2" {
		t.Fatalf("status %d Retry-After %q, want 429 and 2", code, h.Get("Retry-After"))
	}

	s.FailNextOn("POST", "/identity-provider/invitation/1/accept", 1, 500)
	if code, _, _ := do(t, hs, call{method: "GET", path: "/identity-provider/invitation/1"}); code != 200 {
		t.Fatalf("other route: status %d, want 200", code)
	}
	if code, _, _ := do(t, hs, call{method: "POST", path: "/identity-provider/invitation/1/accept"}); code != 500 {
		t.Fatalf("targeted route: status %d, want 500", code)
	}
	if code, _, _ := do(t, hs, call{method: "POST", path: "/identity-provider/invitation/1/accept"}); code != 204 {
		t.Fatalf("after the fault: status %d, want 204", code)
	}

	// Faults are answered before authentication, like an overloaded front.
	s.FailNext(1, 502)
	if code, _, _ := do(t, hs, call{method: "GET", path: "/identity-provider/invitation", auth: "-"}); code != 502 {
		t.Fatalf("status %d, want 502", code)
	}

	s.Latency(30 * time.Millisecond)
	begin := time.Now()
	do(t, hs, call{method: "GET", path: "/identity-provider/invitation"})
	if el := time.Since(begin); el < 30*time.Millisecond {
		t.Fatalf("answer after %s, want at least the latency", el)
	}
	s.Latency(0)

	log := s.Requests()
	last := log[len(log)-1]
	if last.Method != "GET" || last.Path != "/identity-provider/invitation" || last.Status != 200 {
		t.Fatalf("last logged request %+v", last)
	}
}

func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	s, hs := start(t, Options{})
	const n = 20
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body := fmt.Sprintf(`{"email":"u%d@example.com","firstname":"U","lastname":"%d"}`, i%5, i)
			req, _ := http.NewRequest("POST", hs.URL+"/identity-provider/user", strings.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+token)
			req.Header.Set("Content-Type", "application/json")
			resp, err := hs.Client().Do(req)
			if err == nil {
				resp.Body.Close()
			}
			_ = s.Users()
		}()
	}
	wg.Wait()
	if got := len(s.Users()); got != 5 {
		t.Fatalf("%d users, want 5", got)
	}
	if s.Writes() != n || s.DuplicateWrites() != n-5 {
		t.Fatalf("writes %d dups %d, want %d %d", s.Writes(), s.DuplicateWrites(), n, n-5)
	}
}
