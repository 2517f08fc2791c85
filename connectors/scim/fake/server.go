// Package fake is an in-memory stand-in for a downstream application that is itself
// a SCIM 2.0 service provider, modelled on the ODM (Genestack) UsersApi:
//
//	POST   {base}/Users        create a user, or update the user with the same login (201 both)
//	GET    {base}/Users/{id}   an active user by id (200; 404 for none)
//	GET    {base}/Users        ListResponse; filter with `eq` and `and` only, startIndex, count (default 100)
//	PATCH  {base}/Users/{id}   replace/add/remove of userName, externalId, displayName, active; atomic (200)
//	DELETE {base}/Users/{id}   deactivate (204)
//
// base defaults to /api/v1/scim. Every request needs `Authorization: bearer <token>`
// (scheme case-insensitive) or `Genestack-API-Token: <token>`; tokens are compared
// in constant time. Answers are application/scim+json; errors are SCIM error
// messages (RFC 7644 §3.12).
//
// # The login
//
// create_user "creates a new user in ODM or updates the existing user. A user can
// be updated by this endpoint if the user has the same login as in the request
// body ... Only one email can be specified", and find_users'
// `emails[type eq "work" and value eq "user@example.com"]` "returns a user with
// login = user@example.com": the login is the user's (work) email, not its
// userName. So a user's login is its one email (User.Email, shown as
// {"value", "type": "work", "primary": true}), and a POST's login is the value of
// its one email. A POST with the login of a stored user updates that user —
// userName, externalId and displayName from the body (an absent one cleared),
// active from the body (true when absent) — and answers 201, the only success the
// document lists for create_user ("the newly created or updated user"); any other
// login creates a user (201). More than one email, or one without a value, is a
// 400. The email cannot be changed afterwards: PATCH takes only the attributes
// the document lists.
//
// # Where the document is silent
//
//   - A POST without an email, and a user stored without one, have their userName
//     as login (what ODM does then is not documented). Logins, like every value,
//     are compared exactly (the document's `eq` is "identical"). The type of a
//     POST's email is not checked: ODM keeps one email, the work email.
//   - userName is unique: 409 on POST when the userName of a new login, or the
//     new userName of an existing one, is another login's; 409 likewise when
//     another login holds the externalId. PATCH documents no 409, so a PATCH that
//     would make userName or externalId collide answers 400 (scimType uniqueness).
//   - Deactivated users are invisible to GET by id (404) and to the list, as the
//     document says ("returns an active user by id", "a list of active users");
//     PATCH, DELETE and a POST of their login still reach them.
//     Options.ShowInactive switches to the other reading (they are returned with
//     active=false).
//   - Ids are decimal strings; any other id answers 400 "The supplied user ID is invalid".
//   - PATCH edits "userName, externalId, displayName, active" only. id, meta,
//     schemas, password, groups and emails are errors (400 mutability: "If the
//     user tries to edit other attributes, e.g. id, an error is returned"); an
//     attribute outside the ODM user scheme (e.g. name.familyName) is ignored.
//   - Filters: only `eq` and `and` ("Using other operators returns an error":
//     400 invalidFilter, as for any syntax error). Attribute names and operators
//     are case-insensitive; the attributes are id, userName, externalId,
//     displayName, active, emails as a value path (emails[type eq "work" and
//     value eq "x"], matched against the stored email: a user without one matches
//     no emails filter) and emails.value/type/primary. `or`, `not`, any other
//     operator, or an unknown attribute answers 400 invalidFilter.
//
// The fake is safe for concurrent use and can serve a real listener. It keeps
// its users in id order and indexes them by id, userName, externalId and email on
// every write, so an `eq` filter on one of those (alone, inside an `and`, or as
// the value of an emails[...] path) and the login a POST matches cost the same
// with a hundred users or a hundred thousand, and list pages need no sort.
package fake

import (
	"crypto/subtle"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/scim-bridge/scim-bridge/connectors/fakeserver"
)

// DefaultBasePath is where the UsersApi lives on an ODM server.
const DefaultBasePath = "/api/v1/scim"

// ContentType is the media type of every answer (RFC 7644 §3.1).
const ContentType = "application/scim+json"

// Options configure a Server.
type Options struct {
	// Token is the API token of a user with the "Manage organization" permission.
	Token string
	// ReadOnlyToken, when set, authenticates a user without that permission: every
	// request made with it answers 403.
	ReadOnlyToken string
	// BasePath is the prefix of the /Users routes; "" means DefaultBasePath.
	BasePath string
	// ShowInactive makes GET by id and the list return deactivated users (with
	// active=false) instead of hiding them.
	ShowInactive bool
	// MaxPageSize caps count on the list; 0 means no cap.
	MaxPageSize int
}

// Request is one entry of the request log.
type Request struct {
	Method string
	Path   string
	Query  string // raw query
	Status int
}

// Server is the fake. Create it with New.
type Server struct {
	opts Options
	mux  *http.ServeMux

	mu     sync.Mutex
	users  userIndex
	nextID int64

	faults fakeserver.Faults
	log    fakeserver.Log[Request]
}

// New returns an empty server.
func New(opts Options) *Server {
	if opts.BasePath == "" {
		opts.BasePath = DefaultBasePath
	}
	opts.BasePath = "/" + strings.Trim(opts.BasePath, "/")
	s := &Server{opts: opts, users: newUserIndex(), nextID: 1000}
	mux := http.NewServeMux()
	b := opts.BasePath
	if b == "/" {
		b = ""
	}
	mux.HandleFunc("POST "+b+"/Users", s.createUser)
	mux.HandleFunc("GET "+b+"/Users", s.findUsers)
	mux.HandleFunc("GET "+b+"/Users/{id}", s.getUser)
	mux.HandleFunc("PATCH "+b+"/Users/{id}", s.patchUser)
	mux.HandleFunc("DELETE "+b+"/Users/{id}", s.deleteUser)
	s.mux = mux
	return s
}

// Handler serves the fake API.
func (s *Server) Handler() http.Handler { return http.HandlerFunc(s.serve) }

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	rec := fakeserver.NewStatusWriter(w)
	rec.OnStatus = func(code int) {
		s.log.Add(Request{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Status: code})
	}
	defer rec.Finish()
	if !s.faults.Delay(r) {
		writeError(rec, http.StatusServiceUnavailable, "", "request cancelled")
		return
	}
	switch s.authenticate(r) {
	case authNone:
		writeError(rec, http.StatusUnauthorized, "", "User is not authenticated. Please supply a valid Access Token in the `Authorization` HTTP header (e.g. Authorization: bearer [token]) or Genestack API token in the `Genestack-API-Token` header.")
		return
	case authReadOnly:
		writeError(rec, http.StatusForbidden, "", `Operation is not permitted. The "Manage organization" permission is required.`)
		return
	}
	if _, pattern := s.mux.Handler(r); pattern == "" {
		s.noRoute(rec, r)
		return
	}
	f, ok := s.faults.Take(r.Method, r.URL.Path)
	switch {
	case !ok:
		s.mux.ServeHTTP(rec, r)
	case f.AfterApply:
		// Apply the request, drop its answer, answer the injected status.
		s.mux.ServeHTTP(fakeserver.Discard(), r)
		f.SetRetryAfter(rec.Header())
		writeError(rec, f.Status, "", fmt.Sprintf("injected failure %d after the request was applied", f.Status))
	default:
		f.SetRetryAfter(rec.Header())
		writeError(rec, f.Status, "", fmt.Sprintf("injected failure %d", f.Status))
	}
}

// noRoute answers a request no route takes: 405 on a known path, else 404.
func (s *Server) noRoute(w http.ResponseWriter, r *http.Request) {
	base := strings.TrimSuffix(s.opts.BasePath, "/")
	p := r.URL.Path
	rest, isUsers := strings.CutPrefix(p, base+"/Users")
	if isUsers && (rest == "" || (strings.HasPrefix(rest, "/") && len(rest) > 1 && !strings.Contains(rest[1:], "/"))) {
		w.Header().Set("Allow", "GET, POST, PATCH, DELETE")
		writeError(w, http.StatusMethodNotAllowed, "", "method not allowed")
		return
	}
	writeError(w, http.StatusNotFound, "", "no such route")
}

type authResult int

const (
	authNone authResult = iota
	authReadOnly
	authAdmin
)

// authenticate reads `Authorization: bearer <t>` or `Genestack-API-Token: <t>`.
func (s *Server) authenticate(r *http.Request) authResult {
	var tok string
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, rest, ok := strings.Cut(h, " ")
		if !ok || !strings.EqualFold(scheme, "bearer") {
			return authNone
		}
		tok = strings.TrimSpace(rest)
	} else {
		tok = strings.TrimSpace(r.Header.Get("Genestack-API-Token"))
	}
	if tok == "" {
		return authNone
	}
	if s.opts.Token != "" && subtle.ConstantTimeCompare([]byte(tok), []byte(s.opts.Token)) == 1 {
		return authAdmin
	}
	if s.opts.ReadOnlyToken != "" && subtle.ConstantTimeCompare([]byte(tok), []byte(s.opts.ReadOnlyToken)) == 1 {
		return authReadOnly
	}
	return authNone
}

// FailNext makes the next n authenticated requests answer status (e.g. 503)
// without touching any state.
func (s *Server) FailNext(n, status int) { s.faults.FailNext(n, status) }

// FailNextMethod makes the next n authenticated requests with that method
// ("" for any) answer status without touching any state; requests with other
// methods pass untouched.
func (s *Server) FailNextMethod(method string, n, status int) {
	s.faults.Inject(n, fakeserver.Fault{Method: method, Status: status})
}

// FailNextAfterApply makes the next n authenticated requests with that method
// ("" for any) take effect and then answer status instead of their real answer:
// a lost response, as when a proxy times out after the downstream committed.
// Requests with other methods pass untouched.
func (s *Server) FailNextAfterApply(method string, n, status int) {
	s.faults.Inject(n, fakeserver.Fault{Method: method, Status: status, AfterApply: true})
}

// RateLimitNext makes the next n authenticated requests answer 429 with a
// Retry-After of the given delay (whole seconds, at least 1).
func (s *Server) RateLimitNext(n int, retryAfter time.Duration) {
	s.faults.RateLimitNext(n, max(retryAfter.Truncate(time.Second), time.Second))
}

// Latency delays every answer by d (0 turns it off).
func (s *Server) Latency(d time.Duration) { s.faults.Latency(d) }

// Requests returns a copy of the request log, oldest first.
func (s *Server) Requests() []Request { return s.log.Requests() }

// Writes counts the state-changing requests (POST, PATCH, DELETE) that succeeded,
// including those whose answer was replaced by FailNextAfterApply.
func (s *Server) Writes() int { return s.log.Writes() }

// DuplicateWrites counts the successful writes a correct client never makes: a
// POST for a login a lookup would have found, or that changes nothing; a PATCH
// that changes nothing; a DELETE of a user that is already inactive.
func (s *Server) DuplicateWrites() int { return s.log.DuplicateWrites() }

// ResetCounters zeroes Writes, DuplicateWrites and the request log (e.g. after
// seeding a starting state over HTTP).
func (s *Server) ResetCounters() { s.log.Reset() }

// RateLimit makes the fake accept perSecond requests per second (a token
// bucket with bursts of up to perSecond) and answer 429 with Retry-After
// beyond (0 turns it off); see fakeserver.Faults.RateLimit.
func (s *Server) RateLimit(perSecond int) { s.faults.RateLimit(perSecond, nil) }

// RateLimited counts the requests answered 429 by RateLimit.
func (s *Server) RateLimited() int { return s.faults.RateLimited() }
