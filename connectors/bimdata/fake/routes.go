package fake

import (
	"crypto/subtle"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/scim-bridge/scim-bridge/connectors/fakeserver"
)

const maxBody = 1 << 20

// Handler returns the HTTP handler serving the documented routes at the root.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	// Each route also answers with a trailing slash; "{$}" keeps patterns exact.
	for _, sfx := range []string{"", "/{$}"} {
		mux.HandleFunc("GET /identity-provider/invitation"+sfx, s.listInvitations)
		mux.HandleFunc("GET /identity-provider/invitation/{id}"+sfx, s.getInvitation)
		mux.HandleFunc("POST /identity-provider/invitation/{id}/accept"+sfx, s.setStatus(StatusAccepted))
		mux.HandleFunc("POST /identity-provider/invitation/{id}/deny"+sfx, s.setStatus(StatusDenied))
		mux.HandleFunc("POST /identity-provider/user"+sfx, s.createUser)
		mux.HandleFunc("DELETE /identity-provider/user"+sfx, s.deleteUser)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := fakeserver.NewStatusWriter(w)
		rec.OnStatus = func(code int) {
			s.log.Add(Request{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Status: code})
			if (r.Method == http.MethodPost || r.Method == http.MethodDelete) && code < 300 {
				s.log.CountWrite()
			}
		}
		defer rec.Finish()
		s.faults.Delay(r) // a client that gave up still gets its answer written
		if s.fault(rec, r) {
			return
		}
		if !s.authorized(r) {
			writeJSON(rec, http.StatusUnauthorized, map[string]string{"detail": "Authentication credentials were not provided or are invalid."})
			return
		}
		mux.ServeHTTP(rec, r)
	})
}

// authorized checks "Authorization: Bearer <token>" or "Authorization: ApiKey <token>".
func (s *Server) authorized(r *http.Request) bool {
	scheme, cred, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || s.opts.Token == "" {
		return false
	}
	if !strings.EqualFold(scheme, "Bearer") && !strings.EqualFold(scheme, "ApiKey") {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(strings.TrimSpace(cred)), []byte(s.opts.Token)) == 1
}

func (s *Server) listInvitations(w http.ResponseWriter, r *http.Request) {
	status := r.URL.Query().Get("status")
	switch status {
	case "", StatusAccepted, StatusDenied, StatusPending:
	default:
		writeJSON(w, http.StatusBadRequest, map[string][]string{"status": {"Select a valid choice. " + status + " is not one of the available choices."}})
		return
	}
	out := []Invitation{}
	for _, inv := range s.Invitations() {
		if status == "" || inv.Status == status {
			out = append(out, inv)
		}
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) getInvitation(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.Atoi(r.PathValue("id"))
	var inv Invitation
	var ok bool
	if err == nil {
		inv, ok = s.Invitation(id)
	}
	if !ok {
		notFound(w)
		return
	}
	writeJSON(w, http.StatusOK, inv)
}

func (s *Server) setStatus(to string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, err := strconv.Atoi(r.PathValue("id"))
		if err != nil {
			notFound(w)
			return
		}
		s.mu.Lock()
		inv, ok := s.invitations[id]
		if ok {
			if inv.Status == to {
				s.log.CountDuplicate()
			}
			inv.Status = to
		}
		s.mu.Unlock()
		if !ok {
			notFound(w)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}
}

// createUserRequest is the API's CreateUserRequest model.
type createUserRequest struct {
	Email          string  `json:"email"`
	Firstname      *string `json:"firstname"`
	Lastname       *string `json:"lastname"`
	ProfilePicture *string `json:"profile_picture"`
}

func (s *Server) createUser(w http.ResponseWriter, r *http.Request) {
	var req createUserRequest
	if !decodeBody(w, r, &req, func(get func(string) (string, bool)) {
		req.Email, _ = get("email")
		if v, ok := get("firstname"); ok {
			req.Firstname = &v
		}
		if v, ok := get("lastname"); ok {
			req.Lastname = &v
		}
		if v, ok := get("profile_picture"); ok {
			req.ProfilePicture = &v
		}
	}) {
		return
	}
	email := strings.TrimSpace(req.Email)
	if email == "" || !strings.Contains(email, "@") {
		writeJSON(w, http.StatusBadRequest, map[string][]string{"email": {"Enter a valid email address."}})
		return
	}
	key := strings.ToLower(email)
	s.mu.Lock()
	u, exists := s.users[key]
	if exists {
		s.log.CountDuplicate()
	} else {
		u = &User{ID: s.nextUserID, Email: email, Firstname: req.Firstname, Lastname: req.Lastname, ProfilePicture: req.ProfilePicture}
		s.nextUserID++
		s.users[key] = u
	}
	out := *u
	s.mu.Unlock()
	status := http.StatusCreated
	if exists {
		status = http.StatusOK
	}
	writeJSON(w, status, out)
}

func (s *Server) deleteUser(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Email string `json:"email"`
	}
	if !decodeBody(w, r, &req, func(get func(string) (string, bool)) { req.Email, _ = get("email") }) {
		return
	}
	email := strings.TrimSpace(req.Email)
	if email == "" {
		writeJSON(w, http.StatusBadRequest, map[string][]string{"email": {"This field is required."}})
		return
	}
	key := strings.ToLower(email)
	s.mu.Lock()
	_, exists := s.users[key]
	delete(s.users, key)
	if !exists && s.opts.DeleteAbsentStatus < 300 {
		s.log.CountDuplicate()
	}
	s.mu.Unlock()
	if !exists {
		if s.opts.DeleteAbsentStatus == http.StatusNotFound {
			notFound(w)
			return
		}
		w.WriteHeader(s.opts.DeleteAbsentStatus)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// decodeBody reads a JSON, form-urlencoded or multipart body into v (JSON) or
// through fromForm (forms). It answers 400 and returns false on a malformed body.
func decodeBody(w http.ResponseWriter, r *http.Request, v any, fromForm func(get func(string) (string, bool))) bool {
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch mt {
	case "application/x-www-form-urlencoded", "multipart/form-data":
		var err error
		if mt == "multipart/form-data" {
			err = r.ParseMultipartForm(maxBody)
		} else {
			err = r.ParseForm()
		}
		if err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"detail": "Malformed request body."})
			return false
		}
		fromForm(func(k string) (string, bool) {
			vs, ok := r.PostForm[k]
			if !ok || len(vs) == 0 {
				return "", false
			}
			return vs[0], true
		})
		return true
	default:
		b, err := io.ReadAll(r.Body)
		if err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"detail": "Malformed request body."})
			return false
		}
		if len(strings.TrimSpace(string(b))) == 0 {
			return true // every field missing; the handler answers 400 for the required ones
		}
		if err := json.Unmarshal(b, v); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"detail": "JSON parse error."})
			return false
		}
		return true
	}
}

func notFound(w http.ResponseWriter) {
	writeJSON(w, http.StatusNotFound, map[string]string{"detail": "Not found."})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
