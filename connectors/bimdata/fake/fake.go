// Package fake is an in-memory BIMData identity-provider API (the SsoApi routes)
// for tests, the sandbox command and end-to-end runs of the bridge.
//
// It serves, relative to its base URL, exactly the routes of the vendor document:
//
//	GET    /identity-provider/invitation            list ([Invitation]; optional ?status=A|D|P)
//	GET    /identity-provider/invitation/{id}       one Invitation, 404 when unknown
//	POST   /identity-provider/invitation/{id}/accept 204; 404 when unknown
//	POST   /identity-provider/invitation/{id}/deny   204; 404 when unknown
//	POST   /identity-provider/user                  ShortUser; 201 new, 200 already existing
//	DELETE /identity-provider/user                  body {"email"}; 204
//
// Every request must carry "Authorization: Bearer <token>" or the API-key form
// "Authorization: ApiKey <token>"; anything else answers 401. Tokens are compared
// in constant time.
//
// Where the document is silent the fake makes these choices, which the adapter
// tolerates either way:
//   - users are keyed by email, compared case-insensitively;
//   - create_user needs a non-empty email (400 otherwise) and accepts JSON,
//     form-urlencoded and multipart bodies as the document lists; it never changes
//     an existing user (200 answers the user as stored);
//   - delete_user of an email with no user answers Options.DeleteAbsentStatus
//     (204 by default, as the document lists no 404 for that route);
//   - accept works from pending or denied (the document says a denied invitation
//     may be accepted), deny from any status; an unknown ?status value answers 400.
//
// Counters: Writes counts every write request (POST, DELETE) answered 2xx;
// DuplicateWrites counts the subset a client that knew the state would never send:
// a create_user for an existing email, a delete_user for an absent one, an accept
// of an accepted invitation, a deny of a denied one.
package fake

import (
	"cmp"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/scim-bridge/scim-bridge/connectors/fakeserver"
)

// Invitation statuses, as the document lists them.
const (
	StatusAccepted = "A"
	StatusDenied   = "D"
	StatusPending  = "P"
)

// Invitation is the API's Invitation model.
type Invitation struct {
	ID                int    `json:"id"`
	ClientID          int    `json:"client_id"`
	RedirectURI       string `json:"redirect_uri"`
	CloudName         string `json:"cloud_name"`
	CloudRole         int    `json:"cloud_role"`
	ProjectName       string `json:"project_name,omitempty"`
	ProjectRole       *int   `json:"project_role"`
	Email             string `json:"email"`
	Status            string `json:"status"`
	SenderProviderSub string `json:"sender_provider_sub,omitempty"`
}

// User is the API's ShortUser model.
type User struct {
	ID             int     `json:"id"`
	Email          string  `json:"email"`
	Firstname      *string `json:"firstname"`
	Lastname       *string `json:"lastname"`
	ProfilePicture *string `json:"profile_picture"`
}

// Request is one entry of the request log.
type Request struct {
	Method string
	Path   string
	Query  string
	Status int
}

// Options configure a Server.
type Options struct {
	// Token is the only credential accepted (Bearer or ApiKey scheme). Required:
	// an empty Token makes every request answer 401.
	Token string
	// DeleteAbsentStatus is what DELETE /identity-provider/user answers for an
	// email that has no user: 0 means 204. Set it to 404 to play a stricter server.
	DeleteAbsentStatus int
}

// Server is the fake API. It is safe for concurrent use.
type Server struct {
	opts Options

	mu          sync.Mutex
	invitations map[int]*Invitation
	users       map[string]*User // by lower-cased email
	nextInvID   int
	nextUserID  int

	faults fakeserver.Faults
	log    fakeserver.Log[Request]
}

// New returns an empty server.
func New(opts Options) *Server {
	if opts.DeleteAbsentStatus == 0 {
		opts.DeleteAbsentStatus = http.StatusNoContent
	}
	return &Server{
		opts:        opts,
		invitations: map[int]*Invitation{},
		users:       map[string]*User{},
		nextInvID:   1,
		nextUserID:  1,
	}
}

// AddInvitation stores inv and returns it as stored: ID 0 gets the next free id,
// an empty Status becomes pending, an empty CloudName and RedirectURI get defaults.
func (s *Server) AddInvitation(inv Invitation) Invitation {
	s.mu.Lock()
	defer s.mu.Unlock()
	if inv.ID == 0 {
		inv.ID = s.nextInvID
	}
	if inv.ID >= s.nextInvID {
		s.nextInvID = inv.ID + 1
	}
	if inv.Status == "" {
		inv.Status = StatusPending
	}
	if inv.CloudName == "" {
		inv.CloudName = "cloud"
	}
	if inv.RedirectURI == "" {
		inv.RedirectURI = "https://example.invalid/accepted"
	}
	if inv.CloudRole == 0 {
		inv.CloudRole = 50
	}
	cp := inv
	s.invitations[inv.ID] = &cp
	return inv
}

// Invitation returns the invitation with that id.
func (s *Server) Invitation(id int) (Invitation, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	inv, ok := s.invitations[id]
	if !ok {
		return Invitation{}, false
	}
	return *inv, true
}

// Invitations returns every invitation, by id.
func (s *Server) Invitations() []Invitation {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Invitation, 0, len(s.invitations))
	for _, inv := range s.invitations {
		out = append(out, *inv)
	}
	slices.SortFunc(out, func(a, b Invitation) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

// AddUser stores a user (ID 0 gets the next free id) and returns it as stored.
func (s *Server) AddUser(u User) User {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u.ID == 0 {
		u.ID = s.nextUserID
	}
	if u.ID >= s.nextUserID {
		s.nextUserID = u.ID + 1
	}
	cp := u
	s.users[strings.ToLower(u.Email)] = &cp
	return u
}

// User returns the user with that email (case-insensitive).
func (s *Server) User(email string) (User, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[strings.ToLower(email)]
	if !ok {
		return User{}, false
	}
	return *u, true
}

// Users returns every user, by id.
func (s *Server) Users() []User {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]User, 0, len(s.users))
	for _, u := range s.users {
		out = append(out, *u)
	}
	slices.SortFunc(out, func(a, b User) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

// Writes returns the number of write requests (POST, DELETE) answered 2xx.
func (s *Server) Writes() int { return s.log.Writes() }

// DuplicateWrites returns the number of writes that changed nothing (see the
// package doc for what counts).
func (s *Server) DuplicateWrites() int { return s.log.DuplicateWrites() }

// Requests returns a copy of the request log, oldest first.
func (s *Server) Requests() []Request { return s.log.Requests() }

// ResetCounters zeroes Writes, DuplicateWrites and the request log, keeping the state.
func (s *Server) ResetCounters() { s.log.Reset() }
