package bimplus

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/scim-bridge/scim-bridge/connectors"
	"github.com/scim-bridge/scim-bridge/connectors/bimplus/fake"
	"github.com/scim-bridge/scim-bridge/connectors/conntest"
	"github.com/scim-bridge/scim-bridge/internal/fakeclock"
)

const (
	testToken = "tok-bimplus-0123456789"
	projA     = "b8615afc-99cc-4bcd-b0ca-ff0593ce15c6"
	projB     = "c0ffee00-1111-4222-8333-444455556666"
	projC     = "deadbeef-0000-4000-8000-000000000001" // not mapped
)

// testGroups is the mapping every test starts from.
func testGroups() map[string][]Grant {
	return map[string][]Grant{
		"Design Team": {{Project: projA, Role: "Project_Editor"}},
		"Reviewers":   {{Project: projA, Role: "Project_Viewer"}, {Project: projB, Role: "Project_Viewer"}},
		"Leads":       {{Project: projB, Role: "Project_Admin"}},
	}
}

// env is a fake Bimplus with three projects and two team members, and an adapter
// pointed at it.
type env struct {
	srv   *fake.Server
	conn  connectors.Connector
	clock *fakeclock.Clock
	alice string // member id of alice@example.com
	bob   string // member id of bob@example.com
	// open opens another adapter with the same configuration (another replica).
	open func() connectors.Connector
	// dir, when set before open, is the adapter's Deps.Directory.
	dir connectors.Directory
}

func newEnv(t testing.TB, mutate func(*Config)) *env {
	t.Helper()
	return newEnvWrapped(t, mutate, nil)
}

// newEnvWrapped is newEnv with the fake's handler wrapped by wrap (nil: as is).
func newEnvWrapped(t testing.TB, mutate func(*Config), wrap func(http.Handler) http.Handler) *env {
	t.Helper()
	srv := fake.New(fake.Options{Token: testToken, Team: "acme"})
	h := srv.Handler()
	if wrap != nil {
		h = wrap(h)
	}
	hs := httptest.NewServer(h)
	t.Cleanup(hs.Close)
	e := &env{srv: srv, clock: fakeclock.New(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))}
	e.alice = srv.AddTeamMember("alice@example.com")
	e.bob = srv.AddTeamMember("bob@example.com")
	for _, p := range []string{projA, projB, projC} {
		srv.AddProject(p)
	}
	cfg := &Config{
		Base:   connectors.Base{Name: "bimplus", Type: "bimplus", URL: hs.URL + "/v2", Token: testToken, RateLimit: 1000, Burst: 1000},
		Team:   "acme",
		Groups: testGroups(),
	}
	if mutate != nil {
		mutate(cfg)
	}
	e.open = func() connectors.Connector {
		t.Helper()
		c, err := cfg.Open(context.Background(), connectors.Deps{Tenant: "t1", Directory: e.dir, Client: hs.Client(), Logger: zerolog.Nop(), Now: e.clock.Now, Throttle: conntest.NoThrottle{}})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	e.conn = e.open()
	return e
}

// set seeds a membership.
func (e *env) set(t testing.TB, project, member, role string) {
	t.Helper()
	if err := e.srv.SetMembership(project, member, role); err != nil {
		t.Fatal(err)
	}
}

// roles returns member's role per project ("" projects omitted).
func (e *env) roles(member string) map[string]string {
	out := map[string]string{}
	for _, p := range []string{projA, projB, projC} {
		if r, ok := e.srv.RoleOf(p, member); ok {
			out[p] = r
		}
	}
	return out
}

// count returns how many logged requests match method and path.
func (e *env) count(method, path string) int {
	n := 0
	for _, r := range e.srv.Requests() {
		if r.Method == method && r.Path == path {
			n++
		}
	}
	return n
}

func alice(groups ...string) connectors.Subject {
	return connectors.Subject{Kind: connectors.SubjectUser, ID: "u-alice", User: &connectors.User{
		ID: "u-alice", UserName: "alice@example.com", Email: "alice@example.com", Emails: []string{"alice@example.com"},
		Active: true, Groups: groups,
	}}
}

// record builds a record of managed memberships.
func record(m map[string]managedMembership) connectors.Record { return encodeRecord(m) }

// converge runs Converge like the bridge does: it retries retryable and
// rate-limited errors (without sleeping), carrying the returned record over.
func converge(t *testing.T, c connectors.Connector, s connectors.Subject, prev connectors.Record) (connectors.Record, []connectors.Action, []error) {
	t.Helper()
	var errs []error
	for range 10 {
		rec, acts, err := c.Converge(context.Background(), s, prev, connectors.Options{})
		if err == nil {
			return rec, acts, errs
		}
		errs = append(errs, err)
		switch connectors.ClassOf(err) {
		case connectors.Retryable, connectors.RateLimited:
			prev = rec
		default:
			t.Fatalf("converge: %v", err)
		}
	}
	t.Fatalf("converge did not succeed after 10 attempts: %v", errs)
	return connectors.Record{}, nil, nil
}
