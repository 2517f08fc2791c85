package fake

import (
	"cmp"
	"crypto/subtle"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"

	"github.com/scim-bridge/scim-bridge/connectors/fakeserver"
)

// errorBody is the JSON of every error answer.
type errorBody struct {
	Message string `json:"message"`
}

// memberBody is the request body of POST, PUT and DELETE on project members.
type memberBody struct {
	Member *MemberRef `json:"member"`
	Role   *RoleRef   `json:"role"`
}

// Handler returns the HTTP handler serving the API below "/v2".
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v2/{team}/roles", s.listRoles)
	mux.HandleFunc("GET /v2/{team}/members", s.listTeam)
	mux.HandleFunc("GET /v2/{team}/projects/{project}/members", s.listMembers)
	mux.HandleFunc("POST /v2/{team}/projects/{project}/members", s.addMember)
	mux.HandleFunc("PUT /v2/{team}/projects/{project}/members", s.updateMember)
	mux.HandleFunc("DELETE /v2/{team}/projects/{project}/members", s.removeMember)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := fakeserver.NewStatusWriter(w)
		rec.OnStatus = func(code int) { s.log.Add(Request{Method: r.Method, Path: r.URL.Path, Status: code}) }
		s.serve(rec, r, mux)
		rec.Finish()
	})
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request, mux *http.ServeMux) {
	s.faults.Delay(r) // a client that gave up still gets its answer written
	if f, ok := s.faults.Take(r.Method, r.URL.Path); ok {
		if f.AfterApply && s.authorized(r) {
			mux.ServeHTTP(fakeserver.Discard(), r)
		}
		writeFault(w, f)
		return
	}
	if !s.authorized(r) {
		w.Header().Set("WWW-Authenticate", "BimPlus")
		writeJSON(w, http.StatusUnauthorized, errorBody{Message: "Authorization has been denied for this request."})
		return
	}
	mux.ServeHTTP(w, r)
}

// authorized checks "Authorization: BimPlus <token>" in constant time.
func (s *Server) authorized(r *http.Request) bool {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "BimPlus") || s.opts.Token == "" {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(strings.TrimSpace(tok)), []byte(s.opts.Token)) == 1
}

// teamOK answers 404 for a team the server does not serve.
func (s *Server) teamOK(w http.ResponseWriter, r *http.Request) bool {
	if r.PathValue("team") != s.opts.Team {
		writeJSON(w, http.StatusNotFound, errorBody{Message: "Team not found."})
		return false
	}
	return true
}

func (s *Server) listRoles(w http.ResponseWriter, r *http.Request) {
	if !s.teamOK(w, r) {
		return
	}
	s.mu.Lock()
	roles := slices.Clone(s.roles)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, roles)
}

func (s *Server) listTeam(w http.ResponseWriter, r *http.Request) {
	if !s.teamOK(w, r) {
		return
	}
	email := r.URL.Query().Get("email")
	s.mu.Lock()
	out := make([]TeamMember, 0, len(s.team))
	for _, m := range s.team {
		if email == "" || strings.EqualFold(m.Email, email) {
			out = append(out, m)
		}
	}
	s.mu.Unlock()
	sortTeam(out)
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) listMembers(w http.ResponseWriter, r *http.Request) {
	if !s.teamOK(w, r) {
		return
	}
	p := r.PathValue("project")
	s.mu.Lock()
	_, ok := s.projects[p]
	var out []Membership
	if ok {
		out = s.memberships(p)
	}
	s.mu.Unlock()
	if !ok {
		writeJSON(w, http.StatusNotFound, errorBody{Message: "Project not found."})
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) addMember(w http.ResponseWriter, r *http.Request) {
	body, ok := s.memberRequest(w, r, true)
	if !ok {
		return
	}
	p := r.PathValue("project")
	s.mu.Lock()
	defer s.mu.Unlock()
	members, ok := s.projects[p]
	if !ok {
		writeJSON(w, http.StatusNotFound, errorBody{Message: "Project not found."})
		return
	}
	tm, ok := s.team[body.Member.ID]
	if !ok {
		writeJSON(w, http.StatusBadRequest, errorBody{Message: "The member is not a member of the team."})
		return
	}
	role, ok := s.roleByID(body.Role.ID)
	if !ok || !role.isProjectRole() {
		writeJSON(w, http.StatusBadRequest, errorBody{Message: "The role is not a project role."})
		return
	}
	if _, exists := members[tm.ID]; exists {
		s.log.CountDuplicate()
		writeJSON(w, http.StatusConflict, errorBody{Message: "The member is already assigned to the project."})
		return
	}
	members[tm.ID] = role.ID
	s.log.CountWrite()
	writeJSON(w, http.StatusCreated, Membership{
		Member: MemberRef{ID: tm.ID, Email: tm.Email},
		Role:   RoleRef{ID: role.ID, Name: role.Name},
	})
}

func (s *Server) updateMember(w http.ResponseWriter, r *http.Request) {
	body, ok := s.memberRequest(w, r, true)
	if !ok {
		return
	}
	p := r.PathValue("project")
	s.mu.Lock()
	defer s.mu.Unlock()
	members, ok := s.projects[p]
	if !ok {
		writeJSON(w, http.StatusNotFound, errorBody{Message: "Project not found."})
		return
	}
	cur, ok := members[body.Member.ID]
	if !ok {
		writeJSON(w, http.StatusNotFound, errorBody{Message: "The member is not assigned to the project."})
		return
	}
	role, ok := s.roleByID(body.Role.ID)
	if !ok || !role.isProjectRole() {
		writeJSON(w, http.StatusBadRequest, errorBody{Message: "The role is not a project role."})
		return
	}
	if cur == role.ID {
		s.log.CountDuplicate()
	}
	members[body.Member.ID] = role.ID
	s.log.CountWrite()
	w.WriteHeader(http.StatusOK)
}

func (s *Server) removeMember(w http.ResponseWriter, r *http.Request) {
	body, ok := s.memberRequest(w, r, false)
	if !ok {
		return
	}
	p := r.PathValue("project")
	s.mu.Lock()
	defer s.mu.Unlock()
	members, ok := s.projects[p]
	if !ok {
		writeJSON(w, http.StatusNotFound, errorBody{Message: "Project not found."})
		return
	}
	if _, ok := members[body.Member.ID]; !ok {
		s.log.CountDuplicate()
		writeJSON(w, http.StatusNotFound, errorBody{Message: "The member is not assigned to the project."})
		return
	}
	delete(members, body.Member.ID)
	s.log.CountWrite()
	w.WriteHeader(http.StatusOK)
}

// memberRequest checks the team and decodes the body; needRole requires role.id.
func (s *Server) memberRequest(w http.ResponseWriter, r *http.Request, needRole bool) (memberBody, bool) {
	if !s.teamOK(w, r) {
		return memberBody{}, false
	}
	var body memberBody
	data, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err == nil {
		err = json.Unmarshal(data, &body)
	}
	switch {
	case err != nil:
		writeJSON(w, http.StatusBadRequest, errorBody{Message: "The request body is not valid JSON."})
		return memberBody{}, false
	case body.Member == nil || body.Member.ID == "":
		writeJSON(w, http.StatusBadRequest, errorBody{Message: "member.id is required."})
		return memberBody{}, false
	case needRole && (body.Role == nil || body.Role.ID == ""):
		writeJSON(w, http.StatusBadRequest, errorBody{Message: "role.id is required."})
		return memberBody{}, false
	}
	return body, true
}

func sortTeam(ms []TeamMember) {
	slices.SortFunc(ms, func(a, b TeamMember) int {
		return cmp.Or(cmp.Compare(strings.ToLower(a.Email), strings.ToLower(b.Email)), cmp.Compare(a.ID, b.ID))
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
