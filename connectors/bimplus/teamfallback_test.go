package bimplus

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/rs/zerolog"

	"github.com/scim-bridge/scim-bridge/connectors"
	"github.com/scim-bridge/scim-bridge/connectors/bimplus/fake"
)

// TestMemberIDFromProjectsWithoutTeamRoute: against an API that has only the
// documented project routes (GET /{team}/members answers 404), a user who is a
// member of one mapped project is found there and given the role another mapped
// project's group asks for; a user on no mapped project is a permanent error.
func TestMemberIDFromProjectsWithoutTeamRoute(t *testing.T) {
	t.Parallel()
	for _, status := range []int{http.StatusNotFound, http.StatusMethodNotAllowed} {
		t.Run(strconv.Itoa(status), func(t *testing.T) {
			t.Parallel()
			testWithoutTeamRoute(t, status)
		})
	}
}

func testWithoutTeamRoute(t *testing.T, status int) {
	srv := fake.New(fake.Options{Token: testToken, Team: "acme"})
	var teamGets atomic.Int32
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && r.URL.Path == "/v2/acme/members" {
			teamGets.Add(1)
			http.Error(w, "no such route", status)
			return
		}
		srv.Handler().ServeHTTP(w, r)
	}))
	t.Cleanup(hs.Close)
	carol := srv.AddTeamMember("carol@example.com")
	srv.AddTeamMember("dave@example.com") // in the team, on no project
	for _, p := range []string{projA, projB} {
		srv.AddProject(p)
	}
	if err := srv.SetMembership(projB, carol, "Project_Viewer"); err != nil {
		t.Fatal(err)
	}
	cfg := &Config{
		Base:   connectors.Base{Name: "bimplus", Type: "bimplus", URL: hs.URL + "/v2", Token: testToken, RateLimit: 1000, Burst: 1000},
		Team:   "acme",
		Groups: map[string][]Grant{"Design Team": {{Project: projA, Role: "Project_Editor"}}, "Reviewers": {{Project: projB, Role: "Project_Viewer"}}},
	}
	c, err := cfg.Open(context.Background(), connectors.Deps{Tenant: "t1", Client: hs.Client(), Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = c.Converge(context.Background(), newcomer("carol@example.com"), connectors.Record{}, connectors.Options{})
	if err != nil {
		t.Fatalf("carol: %v", err)
	}
	if r, _ := srv.RoleOf(projA, carol); r != "Project_Editor" {
		t.Fatalf("carol on project A: %q, want Project_Editor", r)
	}
	if teamGets.Load() == 0 {
		t.Fatal("the team route was never tried")
	}
	_, _, err = c.Converge(context.Background(), newcomer("dave@example.com"), connectors.Record{}, connectors.Options{})
	if connectors.ClassOf(err) != connectors.Permanent {
		t.Fatalf("dave (on no mapped project): %v, want a permanent error", err)
	}
}

// TestRepeatedAddAnswered400: a replica whose cached project listing predates
// another replica's add POSTs the same membership again; an API that answers
// such a repeat with 400 (the vendor document names no status for it) makes
// the convergence read the project again and find the membership in place:
// no error, no dead letter, no second membership.
func TestRepeatedAddAnswered400(t *testing.T) {
	t.Parallel()
	srv := fake.New(fake.Options{Token: testToken, Team: "acme"})
	var repeats atomic.Int32
	var erin string
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && r.URL.Path == "/v2/acme/projects/"+projA+"/members" {
			if _, there := srv.RoleOf(projA, erin); there {
				repeats.Add(1)
				http.Error(w, `{"message":"Bad request."}`, http.StatusBadRequest)
				return
			}
		}
		srv.Handler().ServeHTTP(w, r)
	}))
	t.Cleanup(hs.Close)
	erin = srv.AddTeamMember("erin@example.com")
	srv.AddTeamMember("frank@example.com")
	srv.AddProject(projA)
	open := func() connectors.Connector {
		cfg := &Config{
			Base:   connectors.Base{Name: "bimplus", Type: "bimplus", URL: hs.URL + "/v2", Token: testToken, RateLimit: 1000, Burst: 1000},
			Team:   "acme",
			Groups: map[string][]Grant{"Design Team": {{Project: projA, Role: "Project_Editor"}}},
		}
		c, err := cfg.Open(context.Background(), connectors.Deps{Tenant: "t1", Client: hs.Client(), Logger: zerolog.Nop()})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	a, b := open(), open()
	ctx := context.Background()
	designer := func(email string) connectors.Subject {
		s := newcomer(email)
		s.User.Groups = []string{"Design Team"}
		return s
	}
	// b lists project A (frank joins it) before a adds erin.
	if _, _, err := b.Converge(ctx, designer("frank@example.com"), connectors.Record{}, connectors.Options{}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := a.Converge(ctx, designer("erin@example.com"), connectors.Record{}, connectors.Options{}); err != nil {
		t.Fatal(err)
	}
	rec, _, err := b.Converge(ctx, designer("erin@example.com"), connectors.Record{}, connectors.Options{})
	if err != nil {
		t.Fatalf("replica b: %v, want the membership found in place", err)
	}
	if repeats.Load() != 1 {
		t.Fatalf("%d repeated POSTs, want 1 (b's listing was stale)", repeats.Load())
	}
	if r, _ := srv.RoleOf(projA, erin); r != "Project_Editor" || rec.IDs["project:"+projA] != erin {
		t.Fatalf("role %q, record %v", r, rec.IDs)
	}
}
