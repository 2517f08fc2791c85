package bimplus

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/scim-bridge/scim-bridge/connectors"
)

func validConfig() *Config {
	return &Config{
		Base:   connectors.Base{Name: "bimplus", Type: "bimplus", URL: "http://127.0.0.1:9002/v2", Token: "t0k3n-value"},
		Team:   "acme",
		Groups: testGroups(),
	}
}

// fieldKeys returns the keys of every *FieldError in err.
func fieldKeys(err error) []string {
	var keys []string
	var walk func(error)
	walk = func(err error) {
		if err == nil {
			return
		}
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			for _, e := range j.Unwrap() {
				walk(e)
			}
			return
		}
		var fe *connectors.FieldError
		if errors.As(err, &fe) {
			keys = append(keys, fe.Key)
		}
	}
	walk(err)
	slices.Sort(keys)
	return keys
}

func TestValidate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		mutate func(*Config)
		keys   []string
	}{
		{"valid", func(*Config) {}, nil},
		{"missing url", func(c *Config) { c.URL = "" }, []string{"url"}},
		{"relative url", func(c *Config) { c.URL = "/v2" }, []string{"url"}},
		{"ftp url", func(c *Config) { c.URL = "ftp://host/v2" }, []string{"url"}},
		{"url with query", func(c *Config) { c.URL = "http://host/v2?x=1" }, []string{"url"}},
		{"missing token", func(c *Config) { c.Token = "" }, []string{"token"}},
		{"blank token", func(c *Config) { c.Token = " " }, []string{"token"}},
		{"wrong type", func(c *Config) { c.Type = "bimdata" }, []string{"type"}},
		{"no name (Open uses DefaultName)", func(c *Config) { c.Name = "" }, nil},
		{"missing team", func(c *Config) { c.Team = "" }, []string{"team"}},
		{"team with slash", func(c *Config) { c.Team = "a/b" }, []string{"team"}},
		{"bad timeout", func(c *Config) { c.Timeout = "soon" }, []string{"timeout"}},
		{"negative rate", func(c *Config) { c.RateLimit = -1; c.Burst = -2 }, []string{"burst", "rate_limit"}},
		{"bad roles_ttl", func(c *Config) { c.RolesTTL = "-1m" }, []string{"roles_ttl"}},
		{"negative members_ttl", func(c *Config) { c.MembersTTL = "-1s" }, []string{"members_ttl"}},
		{"members_ttl not a duration", func(c *Config) { c.MembersTTL = "soon" }, []string{"members_ttl"}},
		{"members_ttl 0s disables the cache", func(c *Config) { c.MembersTTL = "0s" }, nil},
		{"negative project_members_ttl", func(c *Config) { c.ProjectMembersTTL = "-1s" }, []string{"project_members_ttl"}},
		{"project_members_ttl not a duration", func(c *Config) { c.ProjectMembersTTL = "later" }, []string{"project_members_ttl"}},
		{"project_members_ttl 0s keeps no listing", func(c *Config) { c.ProjectMembersTTL = "0s" }, nil},
		{"no groups", func(c *Config) { c.Groups = nil }, []string{"groups"}},
		{"empty group", func(c *Config) { c.Groups["Design Team"] = nil }, []string{`groups["Design Team"]`}},
		{"blank group name", func(c *Config) { c.Groups[" "] = []Grant{{Project: projA, Role: "Project_Viewer"}} }, []string{`groups[" "]`}},
		{"grant without project and role", func(c *Config) {
			c.Groups["Leads"] = append(c.Groups["Leads"], Grant{})
		}, []string{`groups["Leads"][1].project`, `groups["Leads"][1].role`}},
		{"project with a slash", func(c *Config) { c.Groups["Design Team"][0].Project = "a/../b" }, []string{`groups["Design Team"][0].project`}},
		{"all at once", func(c *Config) { c.URL, c.Token, c.Team = "", "", "" }, []string{"team", "token", "url"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := validConfig()
			tc.mutate(c)
			err := c.Validate()
			if got := fieldKeys(err); !slices.Equal(got, tc.keys) {
				t.Fatalf("keys %q, want %q (err: %v)", got, tc.keys, err)
			}
			if (err == nil) != (tc.keys == nil) {
				t.Fatalf("err %v, want keys %q", err, tc.keys)
			}
			if _, oerr := c.Open(context.Background(), connectors.Deps{}); (oerr == nil) != (tc.keys == nil) {
				t.Fatalf("Open err %v, want keys %q", oerr, tc.keys)
			}
		})
	}
}

func TestConfigYAML(t *testing.T) {
	t.Parallel()
	const doc = `
name: bim
type: bimplus
url: http://127.0.0.1:9002/v2
team: acme
token: secret-token
rate_limit: 5
groups:
  "Design Team": [{project: b8615afc-99cc-4bcd-b0ca-ff0593ce15c6, role: Project_Editor}]
prune_unmanaged: true
roles_ttl: 90s
members_ttl: 0s
project_members_ttl: 45s
`
	var c Config
	if err := yaml.Unmarshal([]byte(doc), &c); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.Name != "bim" || c.URL != "http://127.0.0.1:9002/v2" || c.Token != "secret-token" || c.RateLimit != 5 ||
		c.Team != "acme" || !c.PruneUnmanaged || c.RolesTTL != "90s" || c.MembersTTL != "0s" || c.ProjectMembersTTL != "45s" ||
		!slices.Equal(c.Groups["Design Team"], []Grant{{Project: projA, Role: "Project_Editor"}}) {
		t.Fatalf("decoded %+v", c)
	}
	conn, err := c.Open(context.Background(), connectors.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	if conn.Name() != "bim" {
		t.Fatalf("name %q", conn.Name())
	}
	if ttl := conn.(*connector).members.ttl; ttl != 0 {
		t.Fatalf("members_ttl 0s opened as %s", ttl)
	}
	if ttl := conn.(*connector).listings.ttl; ttl != 45*time.Second {
		t.Fatalf("project_members_ttl 45s opened as %s", ttl)
	}
	if !conn.Handles(connectors.SubjectUser) || conn.Handles(connectors.SubjectTenant) || conn.Handles(connectors.SubjectObject) {
		t.Fatal("Handles: want users only")
	}
}

func TestOpenDefaults(t *testing.T) {
	t.Parallel()
	c := validConfig()
	c.Name = ""
	conn, err := c.Open(context.Background(), connectors.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	impl := conn.(*connector)
	if impl.name != DefaultName || impl.roles.ttl != DefaultRolesTTL || impl.members.ttl != DefaultMembersTTL ||
		impl.listings.ttl != DefaultProjectMembersTTL || impl.prune {
		t.Fatalf("defaults: name %q roles ttl %s members ttl %s project members ttl %s prune %v", impl.name, impl.roles.ttl, impl.members.ttl, impl.listings.ttl, impl.prune)
	}
	// Open keeps its own copy of the mapping.
	c.Groups["Design Team"][0].Role = "Project_Admin"
	if impl.groups["Design Team"][0].Role != "Project_Editor" {
		t.Fatal("Open shares the caller's mapping")
	}
	if err := (&Config{}).Validate(); err == nil || !strings.Contains(err.Error(), "url: is required") {
		t.Fatalf("empty config: %v", err)
	}
}
