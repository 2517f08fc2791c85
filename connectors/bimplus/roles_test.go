package bimplus

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/scim-bridge/scim-bridge/connectors"
	"github.com/scim-bridge/scim-bridge/connectors/bimplus/fake"
)

func TestRoleCache(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *Config) { c.RolesTTL = "5m" })
	ctx := context.Background()
	run := func() {
		t.Helper()
		if _, _, err := e.conn.Converge(ctx, alice("Design Team"), connectors.Record{}, connectors.Options{}); err != nil {
			t.Fatal(err)
		}
	}
	run()
	run()
	if n := e.count("GET", "/v2/acme/roles"); n != 1 {
		t.Fatalf("GET /roles %d times within the TTL, want 1", n)
	}
	e.clock.Advance(4 * time.Minute)
	run()
	if n := e.count("GET", "/v2/acme/roles"); n != 1 {
		t.Fatalf("GET /roles %d times before expiry, want 1", n)
	}
	e.clock.Advance(2 * time.Minute)
	run()
	if n := e.count("GET", "/v2/acme/roles"); n != 2 {
		t.Fatalf("GET /roles %d times after expiry, want 2", n)
	}
	// A user that wants no role reads no role.
	if _, _, err := e.conn.Converge(ctx, alice(), connectors.Record{}, connectors.Options{}); err != nil {
		t.Fatal(err)
	}
	if n := e.count("GET", "/v2/acme/roles"); n != 2 {
		t.Fatalf("GET /roles %d times, want 2", n)
	}
}

func TestRoleCacheRefreshOnMiss(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *Config) {
		c.Groups["Site"] = []Grant{{Project: projB, Role: "Site_Editor"}}
	})
	ctx := context.Background()
	// Warm the cache without the custom role.
	if _, _, err := e.conn.Converge(ctx, alice("Design Team"), connectors.Record{}, connectors.Options{}); err != nil {
		t.Fatal(err)
	}
	// The role appears downstream; the cache is fresh but misses, so it refreshes.
	e.srv.AddRole(fake.Role{ID: "5173e0e1-0000-4000-8000-000000000001", Name: "Site_Editor", CustomRole: true,
		Resources: []fake.Resource{{Resource: fake.ProjectResource, Rights: []string{"Project_Edit"}}}})
	rec, _, err := e.conn.Converge(ctx, alice("Design Team", "Site"), connectors.Record{}, connectors.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if r, _ := e.srv.RoleOf(projB, e.alice); r != "Site_Editor" {
		t.Fatalf("role on B %q, want Site_Editor (record %v)", r, recordRoles(rec))
	}
	if n := e.count("GET", "/v2/acme/roles"); n != 2 {
		t.Fatalf("GET /roles %d times, want 2 (initial, refresh on miss)", n)
	}
}

func TestUnknownRoleIsPermanent(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *Config) {
		c.Groups["Typo"] = []Grant{{Project: projB, Role: "Projekt_Editor"}}
		c.Groups["Owners"] = []Grant{{Project: projB, Role: "Account_Owner"}}
	})
	ctx := context.Background()
	// The typo loses on rank to Project_Admin from Leads, and is still reported.
	_, _, err := e.conn.Converge(ctx, alice("Leads", "Typo"), connectors.Record{}, connectors.Options{})
	if connectors.ClassOf(err) != connectors.Permanent {
		t.Fatalf("class %s, want permanent (err %v)", connectors.ClassOf(err), err)
	}
	for _, want := range []string{`"Projekt_Editor"`, `groups["Typo"][0].role`, `"acme"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
	if n := e.count("GET", "/v2/acme/roles"); n != 1 {
		t.Errorf("GET /roles %d times, want 1 (the first fetch is fresh: no refresh on miss)", n)
	}
	_, _, err = e.conn.Converge(ctx, alice("Owners"), connectors.Record{}, connectors.Options{})
	if connectors.ClassOf(err) != connectors.Permanent || !strings.Contains(err.Error(), `groups["Owners"][0].role`) ||
		!strings.Contains(err.Error(), "not a project role") {
		t.Fatalf("account role: %v", err)
	}
	if e.srv.Writes() != 0 {
		t.Fatalf("%d writes despite a configuration error", e.srv.Writes())
	}
}

func TestRoleNameCaseFallback(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *Config) {
		c.Groups["Design Team"] = []Grant{{Project: projA, Role: "project_editor"}}
	})
	if _, _, err := e.conn.Converge(context.Background(), alice("Design Team"), connectors.Record{}, connectors.Options{}); err != nil {
		t.Fatal(err)
	}
	if r, _ := e.srv.RoleOf(projA, e.alice); r != "Project_Editor" {
		t.Fatalf("role %q, want Project_Editor", r)
	}
}

func TestRank(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		a, b string
		want bool
	}{
		{"Project_Admin", "Project_Editor", true},
		{"Project_Editor", "Project_Viewer", true},
		{"Project_Viewer", "Custom_Role", true},
		{"Project_Viewer", "Project_Admin", false},
		{"site admin", "Project_Editor", true},
		{"A_Editor", "B_Editor", true}, // equal rank: smaller name
		{"B_Editor", "A_Editor", false},
	} {
		if got := outranks(tc.a, tc.b); got != tc.want {
			t.Errorf("outranks(%q, %q) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
}
