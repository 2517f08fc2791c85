package bimplus

import (
	"context"
	"net/http"
	"net/http/httptest"
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
	srv := fake.New(fake.Options{Token: testToken, Team: "acme"})
	teamGets := 0
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && r.URL.Path == "/v2/acme/members" {
			teamGets++
			http.NotFound(w, r)
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
	if teamGets == 0 {
		t.Fatal("the team route was never tried")
	}
	_, _, err = c.Converge(context.Background(), newcomer("dave@example.com"), connectors.Record{}, connectors.Options{})
	if connectors.ClassOf(err) != connectors.Permanent {
		t.Fatalf("dave (on no mapped project): %v, want a permanent error", err)
	}
}
