// Package fake is an in-memory Bimplus API v2 (roles and project members) for
// tests, the sandbox command and end-to-end runs of the bridge.
//
// Its handler serves, below "/v2", exactly the routes of the vendor document plus
// one team-members listing the document does not show:
//
//	GET    /v2/{team}/roles                        200 [Role]
//	GET    /v2/{team}/projects/{project}/members   200 [Membership]; 404 unknown project
//	POST   /v2/{team}/projects/{project}/members   body {"member":{"id"},"role":{"id"}};
//	                                               201 Membership; 409 already a member
//	PUT    /v2/{team}/projects/{project}/members   body {"member":{"id"},"role":{"id"}};
//	                                               200 (no body); 404 not a member
//	DELETE /v2/{team}/projects/{project}/members   body {"member":{"id"}}; 200 (no body);
//	                                               404 not a member
//	GET    /v2/{team}/members                      200 [TeamMember]; optional ?email=
//
// Every request must carry "Authorization: BimPlus <token>" (scheme compared
// case-insensitively, token in constant time); anything else answers 401. A team
// other than Options.Team answers 404.
//
// Where the document is silent the fake makes these choices:
//   - GET /v2/{team}/members lists the team's members as {"id","email"} (the same
//     shape as "member" in a project listing); ?email= filters case-insensitively.
//     This is how a client finds a member id from an email.
//   - DELETE names the member to remove in a JSON body {"member":{"id"}} (a
//     "role" object may accompany it and is ignored), like POST and PUT on the
//     same resource; a missing member id answers 400.
//   - POST of a member that is not in the team, or of an unknown role or a role
//     that is not a project role (e.g. Account_Owner), answers 400; POST of a
//     member already in the project answers 409 and changes nothing.
//   - PUT of an unknown or non-project role answers 400.
//   - Listings are not paged (the document shows plain arrays) and are sorted by
//     email, then id.
//   - Error answers are JSON {"message": "..."}.
//
// Counters: Writes counts every POST, PUT and DELETE answered 2xx;
// DuplicateWrites counts the requests a client that knew the state would never
// send: a POST of an existing membership (409), a PUT that sets the role the
// member already has (200), a DELETE of an absent membership (404).
package fake

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/scim-bridge/scim-bridge/connectors/fakeserver"
)

// Resource is one entry of a role's "resources" list.
type Resource struct {
	Resource string   `json:"resource"`
	Rights   []string `json:"rights"`
}

// Role is the document's role model (GET /roles).
type Role struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	CustomRole bool       `json:"customRole"`
	Resources  []Resource `json:"resources"`
}

// isProjectRole reports whether r grants project rights.
func (r Role) isProjectRole() bool {
	for _, res := range r.Resources {
		if res.Resource == ProjectResource {
			return true
		}
	}
	return false
}

// ProjectResource is the resource name of project roles.
const ProjectResource = "UserRightProject"

// Role ids of the document's example.
const (
	RoleProjectEditor = "f11d32e2-30b7-4f81-8a74-2165ecc00cf6"
	RoleAccountOwner  = "2baca0e4-2eee-4f7c-bc56-22ed54a1859c"
	RoleProjectAdmin  = "a298b28d-9711-4a76-9a7d-910cbf144ee5"
	RoleProjectViewer = "a618d075-7e4a-4bde-9d58-d2979696fa96"
)

// DefaultRoles returns the four roles of the document's GET /roles example.
func DefaultRoles() []Role {
	return []Role{
		{ID: RoleProjectEditor, Name: "Project_Editor", Resources: []Resource{{Resource: ProjectResource, Rights: []string{"Project_Edit", "Project_View", "Model_ViewAll"}}}},
		{ID: RoleAccountOwner, Name: "Account_Owner", Resources: []Resource{{Resource: "UserRightGlobal", Rights: []string{"AllProjects", "AllModels", "Project_Create"}}}},
		{ID: RoleProjectAdmin, Name: "Project_Admin", Resources: []Resource{{Resource: ProjectResource, Rights: []string{"Project_Admin", "Project_Edit", "Project_Delete", "Project_View", "Model_ViewAll", "Model_Create"}}}},
		{ID: RoleProjectViewer, Name: "Project_Viewer", Resources: []Resource{{Resource: ProjectResource, Rights: []string{"Project_View", "Model_ViewAll"}}}},
	}
}

// MemberRef is the "member" object of the project member routes.
type MemberRef struct {
	ID    string `json:"id"`
	Email string `json:"email,omitempty"`
}

// RoleRef is the "role" object of the project member routes.
type RoleRef struct {
	ID   string `json:"id"`
	Name string `json:"name,omitempty"`
}

// Membership is one entry of a project's member list.
type Membership struct {
	Member MemberRef `json:"member"`
	Role   RoleRef   `json:"role"`
}

// TeamMember is one entry of GET /v2/{team}/members.
type TeamMember struct {
	ID    string `json:"id"`
	Email string `json:"email"`
}

// Request is one entry of the request log.
type Request struct {
	Method string
	Path   string
	Status int
}

// Options configure a Server.
type Options struct {
	// Token is the only credential accepted. Required: an empty Token makes every
	// request answer 401.
	Token string
	// Team is the team slug served; "" means "acme".
	Team string
	// Roles are the roles of the team; nil means DefaultRoles().
	Roles []Role
}

// Server is the fake API. It is safe for concurrent use.
type Server struct {
	opts Options

	mu       sync.Mutex
	roles    []Role
	team     map[string]TeamMember        // by member id
	projects map[string]map[string]string // project id → member id → role id
	nextID   int

	faults fakeserver.Faults
	log    fakeserver.Log[Request]
}

// New returns a server with the configured roles and no members or projects.
func New(opts Options) *Server {
	if opts.Team == "" {
		opts.Team = "acme"
	}
	roles := opts.Roles
	if roles == nil {
		roles = DefaultRoles()
	}
	return &Server{
		opts:     opts,
		roles:    slices.Clone(roles),
		team:     map[string]TeamMember{},
		projects: map[string]map[string]string{},
		nextID:   1,
	}
}

// Team returns the team slug the server serves.
func (s *Server) Team() string { return s.opts.Team }

// AddTeamMember adds a team member with a fresh id and returns the id.
func (s *Server) AddTeamMember(email string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := fmt.Sprintf("00000000-0000-4000-8000-%012x", s.nextID)
	s.nextID++
	s.team[id] = TeamMember{ID: id, Email: email}
	return id
}

// AddTeamMemberWithID adds (or replaces) the team member id.
func (s *Server) AddTeamMemberWithID(id, email string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.team[id] = TeamMember{ID: id, Email: email}
}

// RemoveTeamMember removes a member from the team and from every project.
func (s *Server) RemoveTeamMember(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.team, id)
	for _, m := range s.projects {
		delete(m, id)
	}
}

// AddRole adds (or replaces, by id) a role of the team.
func (s *Server) AddRole(r Role) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.roles {
		if s.roles[i].ID == r.ID {
			s.roles[i] = r
			return
		}
	}
	s.roles = append(s.roles, r)
}

// AddProject creates an empty project (no-op when it exists).
func (s *Server) AddProject(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.projects[id] == nil {
		s.projects[id] = map[string]string{}
	}
}

// SetMembership gives memberID roleName on project, creating the project when
// needed, without counting a write. It fails on an unknown member or role.
func (s *Server) SetMembership(project, memberID, roleName string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.team[memberID]; !ok {
		return fmt.Errorf("fake: no team member %q", memberID)
	}
	r, ok := s.roleByName(roleName)
	if !ok {
		return fmt.Errorf("fake: no role %q", roleName)
	}
	if s.projects[project] == nil {
		s.projects[project] = map[string]string{}
	}
	s.projects[project][memberID] = r.ID
	return nil
}

// RemoveMembership removes memberID from project without counting a write.
func (s *Server) RemoveMembership(project, memberID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.projects[project], memberID)
}

// Memberships returns project's member list as GET would answer it.
func (s *Server) Memberships(project string) []Membership {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.memberships(project)
}

// RoleOf returns the role name memberID has on project.
func (s *Server) RoleOf(project, memberID string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rid, ok := s.projects[project][memberID]
	if !ok {
		return "", false
	}
	return s.roleName(rid), true
}

// RoleID returns the id of the role named name ("" when unknown).
func (s *Server) RoleID(name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, _ := s.roleByName(name)
	return r.ID
}

// Writes returns the number of POST, PUT and DELETE requests answered 2xx.
func (s *Server) Writes() int { return s.log.Writes() }

// DuplicateWrites returns the number of writes a client that knew the state would
// never make (see the package doc).
func (s *Server) DuplicateWrites() int { return s.log.DuplicateWrites() }

// Requests returns a copy of the request log, oldest first.
func (s *Server) Requests() []Request { return s.log.Requests() }

// ResetCounters zeroes Writes, DuplicateWrites and the request log, keeping the state.
func (s *Server) ResetCounters() { s.log.Reset() }

// memberships lists a project; s.mu must be held.
func (s *Server) memberships(project string) []Membership {
	out := make([]Membership, 0, len(s.projects[project]))
	for mid, rid := range s.projects[project] {
		out = append(out, Membership{
			Member: MemberRef{ID: mid, Email: s.team[mid].Email},
			Role:   RoleRef{ID: rid, Name: s.roleName(rid)},
		})
	}
	slices.SortFunc(out, func(a, b Membership) int {
		return cmp.Or(cmp.Compare(strings.ToLower(a.Member.Email), strings.ToLower(b.Member.Email)), cmp.Compare(a.Member.ID, b.Member.ID))
	})
	return out
}

// roleByName finds a role by exact name; s.mu must be held.
func (s *Server) roleByName(name string) (Role, bool) {
	for _, r := range s.roles {
		if r.Name == name {
			return r, true
		}
	}
	return Role{}, false
}

// roleByID finds a role by id; s.mu must be held.
func (s *Server) roleByID(id string) (Role, bool) {
	for _, r := range s.roles {
		if r.ID == id {
			return r, true
		}
	}
	return Role{}, false
}

// roleName names a role id; s.mu must be held.
func (s *Server) roleName(id string) string {
	r, _ := s.roleByID(id)
	return r.Name
}
