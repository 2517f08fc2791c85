package fake

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	token   = "tok-0123456789"
	project = "b8615afc-99cc-4bcd-b0ca-ff0593ce15c6"
)

type env struct {
	hc    *http.Client
	srv   *Server
	url   string
	alice string
	bob   string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	s := New(Options{Token: token})
	hs := httptest.NewServer(s.Handler())
	t.Cleanup(hs.Close)
	e := &env{hc: hs.Client(), srv: s, url: hs.URL + "/v2/acme"}
	e.alice = s.AddTeamMember("alice@example.com")
	e.bob = s.AddTeamMember("bob@example.com")
	s.AddProject(project)
	return e
}

// do sends a request with the BimPlus token and returns status and body.
func (e *env) do(t *testing.T, method, path, body string) (int, string) {
	t.Helper()
	return e.doAuth(t, method, path, body, "BimPlus "+token)
}

func (e *env) doAuth(t *testing.T, method, path, body, auth string) (int, string) {
	t.Helper()
	status, b, err := e.send(method, path, body, auth)
	if err != nil {
		t.Fatal(err)
	}
	return status, b
}

// send is doAuth without the testing.T, for goroutines.
func (e *env) send(method, path, body, auth string) (int, string, error) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.url+path, rd)
	if err != nil {
		return 0, "", err
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := e.hc.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

func memberBodyJSON(member, role string) string {
	return `{"member":{"id":"` + member + `"},"role":{"id":"` + role + `"}}`
}

func TestAuth(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, tc := range []struct {
		name, auth string
		want       int
	}{
		{"missing", "", 401},
		{"bearer scheme", "Bearer " + token, 401},
		{"wrong token", "BimPlus nope", 401},
		{"token prefix", "BimPlus " + token[:5], 401},
		{"no token", "BimPlus", 401},
		{"right", "BimPlus " + token, 200},
		{"scheme case-insensitive", "bimplus " + token, 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got, body := e.doAuth(t, "GET", "/roles", "", tc.auth); got != tc.want {
				t.Fatalf("status %d, want %d (%s)", got, tc.want, body)
			}
		})
	}
	t.Run("empty configured token rejects all", func(t *testing.T) {
		s := New(Options{})
		hs := httptest.NewServer(s.Handler())
		defer hs.Close()
		e2 := &env{hc: hs.Client(), srv: s, url: hs.URL + "/v2/acme"}
		if got, _ := e2.doAuth(t, "GET", "/roles", "", "BimPlus "); got != 401 {
			t.Fatalf("status %d, want 401", got)
		}
	})
}

func TestRoles(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	status, body := e.do(t, "GET", "/roles", "")
	if status != 200 {
		t.Fatalf("status %d", status)
	}
	var roles []Role
	if err := json.Unmarshal([]byte(body), &roles); err != nil {
		t.Fatal(err)
	}
	names := map[string]string{}
	for _, r := range roles {
		names[r.Name] = r.ID
	}
	want := map[string]string{"Project_Editor": RoleProjectEditor, "Account_Owner": RoleAccountOwner, "Project_Admin": RoleProjectAdmin, "Project_Viewer": RoleProjectViewer}
	for n, id := range want {
		if names[n] != id {
			t.Errorf("role %s: id %q, want %q", n, names[n], id)
		}
	}
	if !strings.Contains(body, `"customRole":false`) || !strings.Contains(body, `"resource":"UserRightProject"`) {
		t.Errorf("roles body lacks the document's fields: %s", body)
	}
}

func TestMembersLifecycle(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	path := "/projects/" + project + "/members"

	// POST creates: 201 with member and role.
	status, body := e.do(t, "POST", path, memberBodyJSON(e.alice, RoleProjectEditor))
	if status != 201 {
		t.Fatalf("POST status %d: %s", status, body)
	}
	var m Membership
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		t.Fatal(err)
	}
	if m.Member.ID != e.alice || m.Member.Email != "alice@example.com" || m.Role.ID != RoleProjectEditor || m.Role.Name != "Project_Editor" {
		t.Fatalf("POST answer %+v", m)
	}
	// GET lists with email and role name.
	status, body = e.do(t, "GET", path, "")
	var list []Membership
	if err := json.Unmarshal([]byte(body), &list); err != nil || status != 200 || len(list) != 1 || list[0] != m {
		t.Fatalf("GET %d %s", status, body)
	}
	// A second POST: 409, a duplicate write.
	if status, _ = e.do(t, "POST", path, memberBodyJSON(e.alice, RoleProjectViewer)); status != 409 {
		t.Fatalf("duplicate POST status %d, want 409", status)
	}
	if r, _ := e.srv.RoleOf(project, e.alice); r != "Project_Editor" {
		t.Fatalf("duplicate POST changed the role to %s", r)
	}
	// PUT changes the role.
	if status, body = e.do(t, "PUT", path, `{"member":{"id":"`+e.alice+`","email":"alice@example.com"},"role":{"id":"`+RoleProjectViewer+`","name":"Project_Viewer"}}`); status != 200 {
		t.Fatalf("PUT status %d: %s", status, body)
	}
	if r, _ := e.srv.RoleOf(project, e.alice); r != "Project_Viewer" {
		t.Fatalf("role after PUT %s", r)
	}
	// PUT of the same role: 200, duplicate.
	if status, _ = e.do(t, "PUT", path, memberBodyJSON(e.alice, RoleProjectViewer)); status != 200 {
		t.Fatalf("no-op PUT status %d", status)
	}
	// DELETE removes; again: 404 duplicate.
	if status, _ = e.do(t, "DELETE", path, `{"member":{"id":"`+e.alice+`"}}`); status != 200 {
		t.Fatalf("DELETE status %d", status)
	}
	if _, ok := e.srv.RoleOf(project, e.alice); ok {
		t.Fatal("member still there after DELETE")
	}
	if status, _ = e.do(t, "DELETE", path, `{"member":{"id":"`+e.alice+`"}}`); status != 404 {
		t.Fatalf("second DELETE status %d, want 404", status)
	}
	if got := e.srv.Writes(); got != 4 {
		t.Errorf("Writes %d, want 4 (POST, PUT, PUT, DELETE)", got)
	}
	if got := e.srv.DuplicateWrites(); got != 3 {
		t.Errorf("DuplicateWrites %d, want 3 (POST 409, no-op PUT, DELETE 404)", got)
	}
}

func TestStatusCodes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	if err := e.srv.SetMembership(project, e.bob, "Project_Viewer"); err != nil {
		t.Fatal(err)
	}
	path := "/projects/" + project + "/members"
	missing := "/projects/00000000-0000-0000-0000-000000000000/members"
	for _, tc := range []struct {
		name, method, path, body string
		want                     int
	}{
		{"unknown team", "GET", "/../other/roles", "", 404},
		{"list unknown project", "GET", missing, "", 404},
		{"post unknown project", "POST", missing, memberBodyJSON(e.alice, RoleProjectEditor), 404},
		{"post bad json", "POST", path, `{"member":`, 400},
		{"post no member", "POST", path, `{"role":{"id":"` + RoleProjectEditor + `"}}`, 400},
		{"post no role", "POST", path, `{"member":{"id":"` + e.alice + `"}}`, 400},
		{"post not a team member", "POST", path, memberBodyJSON("nobody", RoleProjectEditor), 400},
		{"post unknown role", "POST", path, memberBodyJSON(e.alice, "nope"), 400},
		{"post account role", "POST", path, memberBodyJSON(e.alice, RoleAccountOwner), 400},
		{"put not a member", "PUT", path, memberBodyJSON(e.alice, RoleProjectEditor), 404},
		{"put unknown role", "PUT", path, memberBodyJSON(e.bob, "nope"), 400},
		{"delete no body", "DELETE", path, "", 400},
		{"delete unknown project", "DELETE", missing, `{"member":{"id":"` + e.bob + `"}}`, 404},
		{"method not allowed", "PATCH", path, memberBodyJSON(e.bob, RoleProjectEditor), 405},
		{"unknown route", "GET", "/projects", "", 404},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := tc.path
			url := e.url + p
			if strings.HasPrefix(p, "/../") {
				url = strings.TrimSuffix(e.url, "/acme") + strings.TrimPrefix(p, "/..")
			}
			req, _ := http.NewRequest(tc.method, url, strings.NewReader(tc.body))
			req.Header.Set("Authorization", "BimPlus "+token)
			resp, err := e.hc.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.want, b)
			}
		})
	}
	if e.srv.Writes() != 0 {
		t.Errorf("failed requests counted %d writes", e.srv.Writes())
	}
	if r, _ := e.srv.RoleOf(project, e.bob); r != "Project_Viewer" {
		t.Errorf("bob's role changed to %s", r)
	}
}

func TestTeamMembers(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	status, body := e.do(t, "GET", "/members", "")
	var all []TeamMember
	if err := json.Unmarshal([]byte(body), &all); err != nil || status != 200 {
		t.Fatalf("GET /members %d %s", status, body)
	}
	if len(all) != 2 || all[0].Email != "alice@example.com" || all[0].ID != e.alice || all[1].ID != e.bob {
		t.Fatalf("team %+v", all)
	}
	_, body = e.do(t, "GET", "/members?email=BOB@example.com", "")
	var one []TeamMember
	if err := json.Unmarshal([]byte(body), &one); err != nil || len(one) != 1 || one[0].ID != e.bob {
		t.Fatalf("filtered team %s", body)
	}
}

func TestFaults(t *testing.T) {
	t.Parallel()
	t.Run("FailNext", func(t *testing.T) {
		e := newEnv(t)
		e.srv.FailNext(2, 503)
		for i, want := range []int{503, 503, 200} {
			if got, _ := e.do(t, "GET", "/roles", ""); got != want {
				t.Fatalf("request %d: status %d, want %d", i, got, want)
			}
		}
	})
	t.Run("FailNextMethod", func(t *testing.T) {
		e := newEnv(t)
		e.srv.FailNextMethod("POST", 1, 500)
		path := "/projects/" + project + "/members"
		if got, _ := e.do(t, "GET", path, ""); got != 200 {
			t.Fatalf("GET status %d", got)
		}
		if got, _ := e.do(t, "POST", path, memberBodyJSON(e.alice, RoleProjectEditor)); got != 500 {
			t.Fatalf("POST status %d, want 500", got)
		}
		if _, ok := e.srv.RoleOf(project, e.alice); ok {
			t.Fatal("failed POST applied")
		}
	})
	t.Run("FailAfterApply", func(t *testing.T) {
		e := newEnv(t)
		e.srv.FailAfterApply("POST", 1, 502)
		path := "/projects/" + project + "/members"
		if got, _ := e.do(t, "POST", path, memberBodyJSON(e.alice, RoleProjectEditor)); got != 502 {
			t.Fatalf("POST status %d, want 502", got)
		}
		if r, _ := e.srv.RoleOf(project, e.alice); r != "Project_Editor" {
			t.Fatal("lost-response POST not applied")
		}
		if e.srv.Writes() != 1 {
			t.Fatalf("Writes %d, want 1", e.srv.Writes())
		}
	})
	t.Run("RateLimitNext", func(t *testing.T) {
		e := newEnv(t)
		e.srv.RateLimitNext(1, 1500*time.Millisecond)
		req, _ := http.NewRequest("GET", e.url+"/roles", nil)
		resp, err := e.hc.Do(req) // no auth: faults come first
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "2" {
			t.Fatalf("status %d Retry-After %q, want 429 and 2", resp.StatusCode, resp.Header.Get("Retry-After"))
		}
		if got, _ := e.do(t, "GET", "/roles", ""); got != 200 {
			t.Fatalf("after the fault: status %d", got)
		}
	})
	t.Run("Latency", func(t *testing.T) {
		e := newEnv(t)
		e.srv.Latency(time.Minute)
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, "GET", e.url+"/roles", nil)
		req.Header.Set("Authorization", "BimPlus "+token)
		if _, err := e.hc.Do(req); err == nil {
			t.Fatal("request finished despite a minute of latency")
		}
	})
}

func TestRequestLogAndReset(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.do(t, "GET", "/roles", "")
	e.doAuth(t, "GET", "/roles", "", "")
	log := e.srv.Requests()
	if len(log) != 2 || log[0] != (Request{Method: "GET", Path: "/v2/acme/roles", Status: 200}) || log[1].Status != 401 {
		t.Fatalf("log %+v", log)
	}
	e.srv.ResetCounters()
	if len(e.srv.Requests()) != 0 || e.srv.Writes() != 0 {
		t.Fatal("ResetCounters kept counters")
	}
}

func TestSeedHelpers(t *testing.T) {
	t.Parallel()
	s := New(Options{Token: token, Team: "bimplus"})
	if s.Team() != "bimplus" {
		t.Fatalf("team %q", s.Team())
	}
	id := s.AddTeamMember("c@example.com")
	if err := s.SetMembership("p1", id, "Project_Admin"); err != nil {
		t.Fatal(err)
	}
	if err := s.SetMembership("p1", "ghost", "Project_Admin"); err == nil {
		t.Fatal("SetMembership accepted an unknown member")
	}
	if err := s.SetMembership("p1", id, "Nope"); err == nil {
		t.Fatal("SetMembership accepted an unknown role")
	}
	s.AddRole(Role{ID: "r-custom", Name: "Site_Editor", CustomRole: true, Resources: []Resource{{Resource: ProjectResource}}})
	if s.RoleID("Site_Editor") != "r-custom" {
		t.Fatal("AddRole not visible")
	}
	if ms := s.Memberships("p1"); len(ms) != 1 || ms[0].Role.Name != "Project_Admin" {
		t.Fatalf("memberships %+v", ms)
	}
	s.RemoveTeamMember(id)
	if ms := s.Memberships("p1"); len(ms) != 0 {
		t.Fatalf("removing a team member kept its memberships: %+v", ms)
	}
}

func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	path := "/projects/" + project + "/members"
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if _, _, err := e.send("POST", path, memberBodyJSON(e.alice, RoleProjectEditor), "BimPlus "+token); err != nil {
				t.Error(err)
			}
			if _, _, err := e.send("GET", path, "", "BimPlus "+token); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if e.srv.Writes() != 1 || e.srv.DuplicateWrites() != 7 {
		t.Fatalf("Writes %d DuplicateWrites %d, want 1 and 7", e.srv.Writes(), e.srv.DuplicateWrites())
	}
}
