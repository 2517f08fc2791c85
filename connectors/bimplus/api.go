package bimplus

import (
	"context"
	"fmt"
	"net/http"
	"net/url"

	"github.com/scim-bridge/scim-bridge/connectors"
)

// memberRef is the "member" object of the project member routes.
type memberRef struct {
	ID    string `json:"id"`
	Email string `json:"email,omitempty"`
}

// roleRef is the "role" object of the project member routes.
type roleRef struct {
	ID   string `json:"id"`
	Name string `json:"name,omitempty"`
}

// membership is one entry of a project's member list, and the body of POST, PUT
// and DELETE on it.
type membership struct {
	Member memberRef `json:"member"`
	Role   roleRef   `json:"role"`
}

// roleResource is one entry of a role's "resources".
type roleResource struct {
	Resource string `json:"resource"`
}

// role is one entry of GET /roles.
type role struct {
	ID        string         `json:"id"`
	Name      string         `json:"name"`
	Resources []roleResource `json:"resources"`
}

// projectResource names the resource of project roles.
const projectResource = "UserRightProject"

// isProjectRole reports whether r is a project role; a role without a resources
// list is given the benefit of the doubt.
func (r role) isProjectRole() bool {
	if len(r.Resources) == 0 {
		return true
	}
	for _, res := range r.Resources {
		if res.Resource == projectResource {
			return true
		}
	}
	return false
}

// teamMember is one entry of GET /{team}/members: {"id","email"}, or the same
// nested under "member".
type teamMember struct {
	ID     string     `json:"id"`
	Email  string     `json:"email"`
	Member *memberRef `json:"member"`
}

func (m teamMember) ref() memberRef {
	if m.ID == "" && m.Member != nil {
		return *m.Member
	}
	return memberRef{ID: m.ID, Email: m.Email}
}

// api is the set of Bimplus routes the adapter calls.
type api struct {
	c    *connectors.Client
	team string // path-escaped
}

func (a *api) membersPath(project string) string {
	return "/" + a.team + "/projects/" + url.PathEscape(project) + "/members"
}

func (a *api) listRoles(ctx context.Context) ([]role, error) {
	var out []role
	if _, err := a.c.Do(ctx, http.MethodGet, "/"+a.team+"/roles", nil, &out); err != nil {
		return nil, fmt.Errorf("list roles: %w", err)
	}
	return out, nil
}

func (a *api) listTeam(ctx context.Context) ([]memberRef, error) {
	var raw []teamMember
	if _, err := a.c.Do(ctx, http.MethodGet, "/"+a.team+"/members", nil, &raw); err != nil {
		return nil, fmt.Errorf("list team members: %w", err)
	}
	out := make([]memberRef, 0, len(raw))
	for _, m := range raw {
		out = append(out, m.ref())
	}
	return out, nil
}

// listMembers reads a project's members (see listingCache for how the adapter
// shares and keeps them).
func (a *api) listMembers(ctx context.Context, project string) ([]membership, error) {
	var out []membership
	if _, err := a.c.Do(ctx, http.MethodGet, a.membersPath(project), nil, &out); err != nil {
		return nil, fmt.Errorf("list members of project %s: %w", project, err)
	}
	return out, nil
}

func (a *api) addMember(ctx context.Context, project, memberID, roleID string) error {
	body := membership{Member: memberRef{ID: memberID}, Role: roleRef{ID: roleID}}
	if _, err := a.c.Do(ctx, http.MethodPost, a.membersPath(project), body, nil); err != nil {
		return fmt.Errorf("add member %s to project %s: %w", memberID, project, err)
	}
	return nil
}

func (a *api) updateMember(ctx context.Context, project string, m memberRef, r role) error {
	body := membership{Member: m, Role: roleRef{ID: r.ID, Name: r.Name}}
	if _, err := a.c.Do(ctx, http.MethodPut, a.membersPath(project), body, nil); err != nil {
		return fmt.Errorf("update member %s of project %s: %w", m.ID, project, err)
	}
	return nil
}

// removeMember deletes a membership; a 404 means it is already gone.
func (a *api) removeMember(ctx context.Context, project, memberID, roleID string) error {
	body := map[string]any{"member": memberRef{ID: memberID}}
	if roleID != "" { // a listing without role ids: name the member only
		body["role"] = roleRef{ID: roleID}
	}
	if _, err := a.c.Do(ctx, http.MethodDelete, a.membersPath(project), body, nil); err != nil {
		if connectors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("remove member %s from project %s: %w", memberID, project, err)
	}
	return nil
}
