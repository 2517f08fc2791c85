package fake

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// SCIM schema URNs (RFC 7643 §8.7.1, RFC 7644 §3.4.2, §3.5.2, §3.12).
const (
	SchemaUser     = "urn:ietf:params:scim:schemas:core:2.0:User"
	SchemaList     = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
	SchemaPatchOp  = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
	SchemaError    = "urn:ietf:params:scim:api:messages:2.0:Error"
	defaultCount   = 100
	maxRequestBody = 1 << 20
)

// User is one downstream user as the fake stores it.
type User struct {
	ID          string
	UserName    string
	ExternalID  string
	DisplayName string
	// Email is the user's one email, shown as its work email; when set it is
	// the login (see loginOf).
	Email  string
	Active bool
}

// loginOf is the login of u, what POST /Users matches on: its work email, or
// its userName when it has none (see the package doc).
func loginOf(u *User) string {
	if u.Email != "" {
		return u.Email
	}
	return u.UserName
}

// Seed stores u as is (no request is logged or counted) and returns it with its id;
// an empty ID gets the next free one. It panics on an invalid or taken id or
// userName, which is a bug in the test that seeds. Like a hand edit (Update), it
// may give two users one login (a shared Email): POST then updates the one with
// the smallest id.
func (s *Server) Seed(u User) User {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.seedLocked(u)
}

// Restore replaces every stored user with users, stored as by Seed, and
// restarts ids where New starts them (an empty ID gets the next free one:
// "1001", "1002", ...): a downstream restored from a backup, reset, or
// restarted behind the same URL, where an id a client recorded may now name
// another user, or none. No request is logged or counted; the request log,
// the counters and pending faults are kept. It returns the users with their
// ids, and panics as Seed does.
func (s *Server) Restore(users ...User) []User {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.users, s.nextID = newUserIndex(), 1000
	out := make([]User, 0, len(users))
	for _, u := range users {
		out = append(out, s.seedLocked(u))
	}
	return out
}

// seedLocked is Seed with s.mu held.
func (s *Server) seedLocked(u User) User {
	if u.ID == "" {
		u.ID = s.newIDLocked()
	}
	if !validID(u.ID) {
		panic(fmt.Sprintf("fake: invalid id %q", u.ID))
	}
	if _, ok := s.users.byID[u.ID]; ok {
		panic(fmt.Sprintf("fake: id %q taken", u.ID))
	}
	if s.users.byUserName(u.UserName) != nil {
		panic(fmt.Sprintf("fake: userName %q taken", u.UserName))
	}
	c := u
	s.users.insert(&c)
	return u
}

// Update changes the stored user id in place (no request is logged or counted),
// e.g. to simulate an administrator's hand edit. It reports whether the user exists.
func (s *Server) Update(id string, fn func(*User)) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users.byID[id]
	if !ok {
		return false
	}
	before := *u
	fn(u)
	u.ID = id
	s.users.changed(u, before)
	return true
}

// User returns the stored user with that id, active or not.
func (s *Server) User(id string) (User, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users.byID[id]
	if !ok {
		return User{}, false
	}
	return *u, true
}

// UserByName returns the stored user with that userName (compared exactly),
// active or not.
func (s *Server) UserByName(userName string) (User, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u := s.users.byUserName(userName); u != nil {
		return *u, true
	}
	return User{}, false
}

// UserByLogin returns the stored user with that login, active or not: the
// user whose work email it is, or a user without an email whose userName it
// is (compared exactly; see the package doc).
func (s *Server) UserByLogin(login string) (User, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u := s.users.byLogin(login); u != nil {
		return *u, true
	}
	return User{}, false
}

// Users returns every stored user, active or not, ordered by id.
func (s *Server) Users() []User {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]User, 0, len(s.users.order))
	for _, u := range s.users.order {
		out = append(out, *u)
	}
	return out
}

func (s *Server) newIDLocked() string {
	for {
		s.nextID++
		id := strconv.FormatInt(s.nextID, 10)
		if _, ok := s.users.byID[id]; !ok {
			return id
		}
	}
}

// visible reports whether GET and the list show u.
func (s *Server) visible(u *User) bool { return u.Active || s.opts.ShowInactive }

func validID(id string) bool {
	if id == "" || len(id) > 18 {
		return false
	}
	for _, c := range id {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// wireEmail is one element of the emails attribute.
type wireEmail struct {
	Value   string `json:"value"`
	Type    string `json:"type,omitempty"`
	Primary bool   `json:"primary,omitempty"`
}

type wireMeta struct {
	ResourceType string `json:"resourceType"`
	Location     string `json:"location,omitempty"`
}

// wireUser is the representation of a user (RFC 7643 §4.1).
type wireUser struct {
	Schemas     []string    `json:"schemas"`
	ID          string      `json:"id"`
	UserName    string      `json:"userName"`
	ExternalID  string      `json:"externalId,omitempty"`
	DisplayName string      `json:"displayName,omitempty"`
	Active      bool        `json:"active"`
	Emails      []wireEmail `json:"emails,omitempty"`
	Meta        wireMeta    `json:"meta"`
}

func (s *Server) wire(r *http.Request, u *User) wireUser {
	w := wireUser{
		Schemas:     []string{SchemaUser},
		ID:          u.ID,
		UserName:    u.UserName,
		ExternalID:  u.ExternalID,
		DisplayName: u.DisplayName,
		Active:      u.Active,
		Meta:        wireMeta{ResourceType: "User", Location: s.location(r, u.ID)},
	}
	if u.Email != "" {
		w.Emails = []wireEmail{{Value: u.Email, Type: "work", Primary: true}}
	}
	return w
}

func (s *Server) location(r *http.Request, id string) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	base := s.opts.BasePath
	if base == "/" {
		base = ""
	}
	return scheme + "://" + r.Host + base + "/Users/" + id
}

// createBody is what POST /Users reads.
type createBody struct {
	Schemas     []string        `json:"schemas"`
	ID          string          `json:"id"`
	UserName    *string         `json:"userName"`
	ExternalID  *string         `json:"externalId"`
	DisplayName *string         `json:"displayName"`
	Active      json.RawMessage `json:"active"`
	Emails      []wireEmail     `json:"emails"`
	Password    *string         `json:"password"`
}

// createUser: POST /Users. The vendor: it "creates a new user in ODM or updates
// the existing user ... if the user has the same login as in the request body";
// "Only one email can be specified". The login of the body is its email, or its
// userName when it has none; 201 with the created or updated user either way
// (the only success the document lists). 409 when the userName (of a new
// login, or the new userName of an existing one) or the externalId is another
// login's.
func (s *Server) createUser(w http.ResponseWriter, r *http.Request) {
	var in createBody
	if err := decodeBody(r, &in); err != nil {
		writeError(w, http.StatusBadRequest, "invalidSyntax", err.Error())
		return
	}
	if in.UserName == nil || strings.TrimSpace(*in.UserName) == "" {
		writeError(w, http.StatusBadRequest, "invalidValue", "userName is required")
		return
	}
	if in.Password != nil {
		writeError(w, http.StatusBadRequest, "invalidValue", "the password cannot be set through this endpoint")
		return
	}
	if len(in.Emails) > 1 {
		writeError(w, http.StatusBadRequest, "invalidValue", "only one email can be specified")
		return
	}
	if len(in.Emails) == 1 && strings.TrimSpace(in.Emails[0].Value) == "" {
		writeError(w, http.StatusBadRequest, "invalidValue", "emails[0].value is required")
		return
	}
	active := true
	if len(in.Active) > 0 && string(in.Active) != "null" {
		b, ok := parseBool(in.Active)
		if !ok {
			writeError(w, http.StatusBadRequest, "invalidValue", "active must be a boolean")
			return
		}
		active = b
	}
	next := User{UserName: *in.UserName, Active: active}
	if in.ExternalID != nil {
		next.ExternalID = *in.ExternalID
	}
	if in.DisplayName != nil {
		next.DisplayName = *in.DisplayName
	}
	if len(in.Emails) == 1 {
		next.Email = in.Emails[0].Value
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	cur := s.users.byLogin(loginOf(&next))
	if (cur == nil || cur.UserName != next.UserName) && s.users.otherUserName(next.UserName, cur) != nil {
		writeError(w, http.StatusConflict, "uniqueness", "userName is already used by another login")
		return
	}
	if s.users.otherExternalID(next.ExternalID, cur) != nil {
		writeError(w, http.StatusConflict, "uniqueness", "externalId is already used by another user")
		return
	}
	status := http.StatusCreated
	if cur != nil {
		next.ID = cur.ID
		if len(in.Emails) == 0 {
			next.Email = cur.Email
		}
		if s.visible(cur) || next == *cur {
			s.log.CountDuplicate()
		}
		before := *cur
		*cur = next
		s.users.changed(cur, before)
	} else {
		next.ID = s.newIDLocked()
		cur = &next
		s.users.insert(cur)
	}
	s.log.CountWrite()
	out := s.wire(r, cur)
	w.Header().Set("Location", out.Meta.Location)
	writeJSON(w, status, out)
}

// getUser: GET /Users/{id}.
func (s *Server) getUser(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if !validID(id) {
		writeError(w, http.StatusBadRequest, "", "The supplied user ID is invalid.")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users.byID[id]
	if !ok || !s.visible(u) {
		writeError(w, http.StatusNotFound, "", "There are no available users with the specified id.")
		return
	}
	writeJSON(w, http.StatusOK, s.wire(r, u))
}

// listResponse is RFC 7644 §3.4.2.
type listResponse struct {
	Schemas      []string   `json:"schemas"`
	TotalResults int        `json:"totalResults"`
	StartIndex   int        `json:"startIndex"`
	ItemsPerPage int        `json:"itemsPerPage"`
	Resources    []wireUser `json:"Resources"`
}

// findUsers: GET /Users?filter=&startIndex=&count=.
func (s *Server) findUsers(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query() // parameter names are case-sensitive: FILTER is ignored
	var f expr
	if raw, ok := q["filter"]; ok && strings.TrimSpace(raw[0]) != "" {
		var err error
		if f, err = parseFilter(raw[0]); err != nil {
			writeError(w, http.StatusBadRequest, "invalidFilter", err.Error())
			return
		}
	}
	start, err := intParam(q.Get("startIndex"), 1)
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalidValue", "startIndex: "+err.Error())
		return
	}
	count, err := intParam(q.Get("count"), defaultCount)
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalidValue", "count: "+err.Error())
		return
	}
	if start < 1 { // RFC 7644 §3.4.2.4
		start = 1
	}
	if count < 0 {
		count = 0
	}
	if s.opts.MaxPageSize > 0 && count > s.opts.MaxPageSize {
		count = s.opts.MaxPageSize
	}
	out := listResponse{Schemas: []string{SchemaList}, StartIndex: start, Resources: []wireUser{}}
	s.mu.Lock()
	out.TotalResults, out.Resources = s.pageLocked(r, f, start, count)
	s.mu.Unlock()
	out.ItemsPerPage = len(out.Resources)
	writeJSON(w, http.StatusOK, out)
}

// pageLocked returns how many visible users match f (nil: every visible user)
// and the count of them from the 1-based start, in id order. It reads the
// indexes: an indexed `eq` costs the size of its holder list, an unfiltered
// list with every user visible costs the page; anything else scans the users
// once, in order, without sorting. s.mu must be held.
func (s *Server) pageLocked(r *http.Request, f expr, start, count int) (int, []wireUser) {
	page := []wireUser{}
	users := s.users.order
	if f != nil {
		if c, ok := s.users.candidates(f); ok {
			users = c
		}
	} else if s.opts.ShowInactive || s.users.inactive == 0 {
		for i := start - 1; i < len(users) && len(page) < count; i++ {
			page = append(page, s.wire(r, users[i]))
		}
		return len(users), page
	}
	total := 0
	for _, u := range users {
		if !s.visible(u) || (f != nil && !f.match(u)) {
			continue
		}
		total++
		if total >= start && len(page) < count {
			page = append(page, s.wire(r, u))
		}
	}
	return total, page
}

// patchUser: PATCH /Users/{id}. 200 with the updated user.
func (s *Server) patchUser(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if !validID(id) {
		writeError(w, http.StatusBadRequest, "", "The supplied user ID is invalid.")
		return
	}
	var in patchBody
	if err := decodeBody(r, &in); err != nil {
		writeError(w, http.StatusBadRequest, "invalidSyntax", err.Error())
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, ok := s.users.byID[id]
	if !ok {
		writeError(w, http.StatusNotFound, "", "There are no users with the specified id.")
		return
	}
	next := *cur
	if err := applyPatch(&next, in); err != nil {
		var pe *patchError
		if errors.As(err, &pe) {
			writeError(w, http.StatusBadRequest, pe.scimType, pe.msg)
		} else {
			writeError(w, http.StatusBadRequest, "invalidSyntax", err.Error())
		}
		return
	}
	if s.users.otherUserName(next.UserName, cur) != nil {
		writeError(w, http.StatusBadRequest, "uniqueness", "userName is already used by another user")
		return
	}
	if s.users.otherExternalID(next.ExternalID, cur) != nil {
		writeError(w, http.StatusBadRequest, "uniqueness", "externalId is already used by another user")
		return
	}
	if next == *cur {
		s.log.CountDuplicate()
	}
	before := *cur
	*cur = next
	s.users.changed(cur, before)
	s.log.CountWrite()
	writeJSON(w, http.StatusOK, s.wire(r, cur))
}

// deleteUser: DELETE /Users/{id} deactivates. 204.
func (s *Server) deleteUser(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if !validID(id) {
		writeError(w, http.StatusBadRequest, "", "The supplied user ID is invalid.")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users.byID[id]
	if !ok {
		writeError(w, http.StatusNotFound, "", "There are no users with the specified id.")
		return
	}
	if !u.Active {
		s.log.CountDuplicate()
	}
	before := *u
	u.Active = false
	s.users.changed(u, before)
	s.log.CountWrite()
	w.Header().Set("Content-Type", ContentType)
	w.WriteHeader(http.StatusNoContent)
}

func intParam(v string, def int) (int, error) {
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, fmt.Errorf("not an integer: %q", v)
	}
	return n, nil
}

func decodeBody(r *http.Request, v any) error {
	dec := json.NewDecoder(io.LimitReader(r.Body, maxRequestBody))
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("malformed JSON body: %v", err)
	}
	return nil
}

// parseBool accepts a JSON boolean, or "true"/"false" as a string in any case.
func parseBool(raw json.RawMessage) (bool, bool) {
	var b bool
	if err := json.Unmarshal(raw, &b); err == nil {
		return b, true
	}
	var str string
	if err := json.Unmarshal(raw, &str); err == nil {
		switch strings.ToLower(str) {
		case "true":
			return true, true
		case "false":
			return false, true
		}
	}
	return false, false
}

// scimError is RFC 7644 §3.12.
type scimError struct {
	Schemas  []string `json:"schemas"`
	Status   string   `json:"status"`
	ScimType string   `json:"scimType,omitempty"`
	Detail   string   `json:"detail,omitempty"`
}

func writeError(w http.ResponseWriter, status int, scimType, detail string) {
	writeJSON(w, status, scimError{Schemas: []string{SchemaError}, Status: strconv.Itoa(status), ScimType: scimType, Detail: detail})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"detail":"encode"}`)
	}
	w.Header().Set("Content-Type", ContentType)
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
