package bimplus

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/scim-bridge/scim-bridge/connectors"
)

// Type is the connector type this package implements (the `type:` key).
const Type = "bimplus"

// Defaults applied by Open.
const (
	// DefaultName is the connector name when the entry has none.
	DefaultName = "bimplus"
	// DefaultRolesTTL is how long the team's role list is cached.
	DefaultRolesTTL = 10 * time.Minute
	// DefaultMembersTTL is how long the team's member list is cached.
	DefaultMembersTTL = time.Minute
	// DefaultProjectMembersTTL is how long a mapped project's member list is
	// cached (the adapter's own writes keep it current in between).
	DefaultProjectMembersTTL = 30 * time.Second
)

// Config is a bimplus connector entry (DESIGN.md configuration contract):
//
//	connectors:
//	  - name: bimplus
//	    type: bimplus
//	    url: http://127.0.0.1:9002/v2    # API base, including /v2
//	    team: acme                       # team slug
//	    token: "${BIMPLUS_TOKEN}"        # sent as "Authorization: BimPlus <token>"
//	    groups:                          # SCIM group displayName -> project roles
//	      "Design Team": [{project: b8615afc-99cc-4bcd-b0ca-ff0593ce15c6, role: Project_Editor}]
//	    prune_unmanaged: false           # also remove memberships the bridge did not converge
//	    roles_ttl: 10m                   # how long GET /roles is cached
//	    members_ttl: 1m                  # how long GET /members is cached; 0s: not cached
//	    project_members_ttl: 30s         # how long a project's member list is cached; 0s: not kept
//
// The Base keys rate_limit, burst and timeout apply as documented on
// connectors.Base; webhook_secret is unused (Bimplus sends no webhooks here).
type Config struct {
	connectors.Base `yaml:",inline"`
	// Team is the team slug, the first path segment after the base URL. Required.
	Team string `yaml:"team"`
	// Groups maps a SCIM group displayName to the project roles its members get.
	// At least one group is required; see the package doc for how keys match.
	Groups map[string][]Grant `yaml:"groups"`
	// PruneUnmanaged, when true, lets the adapter remove memberships on mapped
	// projects that it does not manage (see the package doc). Default false.
	PruneUnmanaged bool `yaml:"prune_unmanaged"`
	// RolesTTL is how long the role list is cached, a Go duration; "" means
	// DefaultRolesTTL. A configured name missing from the cache refreshes it early.
	RolesTTL string `yaml:"roles_ttl"`
	// MembersTTL is how long the team's member list (GET /{team}/members, email →
	// member id) is cached, a Go duration; "" means DefaultMembersTTL, "0s" turns
	// the cache off (every POST of a new membership reads the team first). An
	// email missing from a listing older than one second refreshes it early, and
	// so does a POST rejected for a member id taken from the cache.
	MembersTTL string `yaml:"members_ttl"`
	// ProjectMembersTTL is how long the member list of a mapped project
	// (GET /{team}/projects/{id}/members) is cached, a Go duration; "" means
	// DefaultProjectMembersTTL, "0s" keeps none (every convergence reads its
	// projects, sharing reads with the convergences under way). The adapter's
	// own writes update the cached list in place; a failed write drops it.
	// Changes made by hand are seen once the list is older than this, and at
	// once by reconciliation, which reads afresh.
	ProjectMembersTTL string `yaml:"project_members_ttl"`
}

// Grant is one project role a group grants.
type Grant struct {
	// Project is the project id (a GUID in Bimplus). Required.
	Project string `yaml:"project"`
	// Role is the role name as GET /roles lists it, e.g. "Project_Editor". Required.
	Role string `yaml:"role"`
}

// groupKey is the YAML key of one group mapping.
func groupKey(group string) string { return "groups[" + strconv.Quote(group) + "]" }

// Validate reports every configuration problem at once, each a
// *connectors.FieldError naming its YAML key.
func (c *Config) Validate() error {
	// name may stay empty: Open falls back to DefaultName.
	errs := c.Base.Validate(Type, "url", "token")
	add := func(key, format string, args ...any) {
		errs = append(errs, &connectors.FieldError{Key: key, Msg: fmt.Sprintf(format, args...)})
	}
	switch {
	case c.Team == "":
		add("team", "required")
	case strings.ContainsAny(c.Team, "/?# \t"):
		add("team", "not a team slug: %q", c.Team)
	}
	if c.RolesTTL != "" {
		if d, err := time.ParseDuration(c.RolesTTL); err != nil || d <= 0 {
			add("roles_ttl", "not a positive duration: %q", c.RolesTTL)
		}
	}
	if c.MembersTTL != "" {
		if d, err := time.ParseDuration(c.MembersTTL); err != nil || d < 0 {
			add("members_ttl", "not a duration of 0s or more: %q", c.MembersTTL)
		}
	}
	if c.ProjectMembersTTL != "" {
		if d, err := time.ParseDuration(c.ProjectMembersTTL); err != nil || d < 0 {
			add("project_members_ttl", "not a duration of 0s or more: %q", c.ProjectMembersTTL)
		}
	}
	if len(c.Groups) == 0 {
		add("groups", "at least one group mapping is required")
	}
	groups := make([]string, 0, len(c.Groups))
	for g := range c.Groups {
		groups = append(groups, g)
	}
	slices.Sort(groups)
	for _, g := range groups {
		key := groupKey(g)
		if strings.TrimSpace(g) == "" {
			add(key, "group name must not be empty")
		}
		if len(c.Groups[g]) == 0 {
			add(key, "at least one {project, role} is required")
		}
		for i, gr := range c.Groups[g] {
			ek := fmt.Sprintf("%s[%d]", key, i)
			switch {
			case gr.Project == "":
				add(ek+".project", "required")
			case strings.ContainsAny(gr.Project, "/?#% \t"):
				add(ek+".project", "not a project id: %q", gr.Project)
			}
			if strings.TrimSpace(gr.Role) == "" {
				add(ek+".role", "required")
			}
		}
	}
	return errors.Join(errs...)
}

// Open validates the configuration, applies the defaults and returns the adapter.
// It makes no request: roles and members are read on the first convergence.
func (c *Config) Open(_ context.Context, deps connectors.Deps) (connectors.Connector, error) {
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("bimplus config: %w", err)
	}
	name := c.Name
	if name == "" {
		name = DefaultName
	}
	ttl := DefaultRolesTTL
	if c.RolesTTL != "" {
		ttl, _ = time.ParseDuration(c.RolesTTL) // validated above
	}
	membersTTL := DefaultMembersTTL
	if c.MembersTTL != "" {
		membersTTL, _ = time.ParseDuration(c.MembersTTL) // validated above
	}
	projectTTL := DefaultProjectMembersTTL
	if c.ProjectMembersTTL != "" {
		projectTTL, _ = time.ParseDuration(c.ProjectMembersTTL) // validated above
	}
	token := c.Token
	client, err := deps.NewClient(c.Base, func(r *http.Request) {
		r.Header.Set("Authorization", "BimPlus "+token)
	})
	if err != nil {
		return nil, fmt.Errorf("bimplus config: %w", err)
	}
	client.Observe = deps.ObserveHTTP
	now := deps.Now
	if now == nil {
		now = time.Now
	}
	client.Now = now
	groups := make(map[string][]Grant, len(c.Groups))
	for g, grants := range c.Groups {
		groups[g] = slices.Clone(grants)
	}
	dir, _ := deps.Directory.(connectors.UsersByEmailDirectory) // nil without one
	return &connector{
		name:     name,
		team:     c.Team,
		groups:   groups,
		prune:    c.PruneUnmanaged,
		api:      &api{c: client, team: url.PathEscape(c.Team)},
		roles:    &roleCache{ttl: ttl, now: now},
		members:  &memberCache{ttl: membersTTL, now: now, projects: mappedProjects(groups)},
		listings: newListingCache(projectTTL, now, mappedProjects(groups)),
		dir:      dir,
		top:      topRoles(groups),
		log:      deps.Logger,
	}, nil
}
