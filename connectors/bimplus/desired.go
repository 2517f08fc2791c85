package bimplus

import (
	"cmp"
	"slices"
	"strconv"
	"strings"

	"github.com/scim-bridge/scim-bridge/connectors"
)

// Role ranks, from the role name (see rank).
const (
	rankOther = iota
	rankViewer
	rankEditor
	rankAdmin
)

// rank derives a role's privilege from its name: "Admin" > "Editor" > "Viewer"
// (substring, case-insensitive); any other name ranks lowest.
func rank(name string) int {
	n := strings.ToLower(name)
	switch {
	case strings.Contains(n, "admin"):
		return rankAdmin
	case strings.Contains(n, "editor"):
		return rankEditor
	case strings.Contains(n, "viewer"):
		return rankViewer
	}
	return rankOther
}

// outranks reports whether role a wins over role b on one project: higher rank,
// then the smaller name.
func outranks(a, b string) bool {
	if ra, rb := rank(a), rank(b); ra != rb {
		return ra > rb
	}
	return a < b
}

// want is the desired role of the user's member on one project.
type want struct {
	Role   string   // role name as configured
	Groups []string // the mapping keys granting exactly this role to the user
	// Sharers names the other users with the same email whose groups grant
	// exactly this role (see unionWants), sorted.
	Sharers []string
}

// matchGroups returns the mapping keys a user's group matches: the exact key, or
// else every key equal to it under case folding (sorted).
func (c *connector) matchGroups(group string) []string {
	if _, ok := c.groups[group]; ok {
		return []string{group}
	}
	var keys []string
	for k := range c.groups {
		if strings.EqualFold(k, group) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}

// desired computes the user's desired role per project, and every role name its
// groups mention (winning or not), so a misconfigured name never goes unnoticed.
// An inactive or absent user wants nothing.
func (c *connector) desired(u *connectors.User) (map[string]want, []string) {
	out := map[string]want{}
	if u == nil || !u.Active {
		return out, nil
	}
	var names []string
	seen := map[string]bool{}
	for _, g := range u.Groups {
		for _, key := range c.matchGroups(g) {
			if seen[key] {
				continue
			}
			seen[key] = true
			for _, gr := range c.groups[key] {
				if !slices.Contains(names, gr.Role) {
					names = append(names, gr.Role)
				}
				cur, ok := out[gr.Project]
				switch {
				case !ok || outranks(gr.Role, cur.Role):
					out[gr.Project] = want{Role: gr.Role, Groups: []string{key}}
				case gr.Role == cur.Role && !slices.Contains(cur.Groups, key):
					cur.Groups = append(cur.Groups, key)
					slices.Sort(cur.Groups)
					out[gr.Project] = cur
				}
			}
		}
	}
	slices.Sort(names)
	return out, names
}

// roleKeys names the YAML keys that configure role name, for error messages.
func (c *connector) roleKeys(name string) []string {
	groups := make([]string, 0, len(c.groups))
	for g := range c.groups {
		groups = append(groups, g)
	}
	slices.Sort(groups)
	var keys []string
	for _, g := range groups {
		for i, gr := range c.groups[g] {
			if gr.Role == name {
				keys = append(keys, groupKey(g)+"["+strconv.Itoa(i)+"].role")
			}
		}
	}
	return keys
}

// projection is what a convergence depends on (see connectors.Projector).
type projection struct {
	Email  string          `json:"email"`
	Active bool            `json:"active"`
	Roles  []projectedRole `json:"roles,omitempty"`
}

type projectedRole struct {
	Project string `json:"project"`
	Role    string `json:"role"`
}

// Project implements connectors.Projector: the user's email (lower-cased, as it
// is matched case-insensitively), whether it is active, and its desired project
// roles sorted by project. A deleted user projects to the zero value. It is the
// user's own share of its member's roles only: a change of another user with
// the same email converges that user, which counts this one's share then (see
// "Users sharing an email" in the package doc).
func (c *connector) Project(s connectors.Subject) any {
	var p projection
	if s.User == nil {
		return p
	}
	p.Email = strings.ToLower(s.User.Email)
	p.Active = s.User.Active
	w, _ := c.desired(s.User)
	for proj, x := range w {
		p.Roles = append(p.Roles, projectedRole{Project: proj, Role: x.Role})
	}
	slices.SortFunc(p.Roles, func(a, b projectedRole) int { return cmp.Compare(a.Project, b.Project) })
	return p
}
