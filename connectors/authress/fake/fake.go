// Package fake is an in-memory Authress ConnectionsApi for tests and the sandbox:
// POST/GET/PUT/DELETE /v1/connections[/{connectionId}], the paginated list
// (limit, cursor, filter) and GET /v1/connections/{connectionId}/users/{userId}/credentials,
// behind `Authorization: Bearer <service client access key>`.
//
// Routes, bodies and status codes follow the vendor's ConnectionsApi document:
// create 201, get 200/404, list 200, update 200/404, delete 204/404, credentials
// 200/404, 401 for a missing or wrong key, 403 for a key that may not write. Where
// the document is silent the fake assumes, and the authress adapter documents:
//   - connection ids are assigned by the server ("con_" and a counter); an id in a
//     create body is ignored;
//   - the clientSecret is write-only: answers omit it unless Options.ExposeSecrets;
//   - PUT replaces the connection, except that an omitted clientSecret keeps the
//     stored one and createdTime never changes;
//   - the list answers {"connections": [...], "pagination": {"next": {"cursor"}},
//     "links": {...}} in creation order; the cursor is opaque, a bad one is a 400,
//     and `limit` (default 100) is capped by Options.PageSize;
//   - `filter` is a case-insensitive substring match on every text field.
//
// The fake is safe for concurrent use and counts writes, and the writes a correct
// client would never make (DuplicateWrites): a create of a connection identical in
// type, authenticationUrl, clientId and issuerUrl to an existing one, a PUT that
// changes nothing the client could have seen, a DELETE of an absent connection.
package fake

import (
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/scim-bridge/scim-bridge/connectors/fakeserver"
)

// DefaultToken is the service client access key the fake accepts when
// Options.Token is empty.
const DefaultToken = "sc_key_fake"

// Options configure a Server.
type Options struct {
	// Token is the accepted bearer token; "" means DefaultToken.
	Token string
	// ReadOnlyToken, when set, is a second accepted token that may only read:
	// writes with it answer 403.
	ReadOnlyToken string
	// PageSize caps the list `limit`; 0 means 100.
	PageSize int
	// ExposeSecrets makes answers carry the stored clientSecret.
	ExposeSecrets bool
	// Now is the clock for createdTime; nil means time.Now.
	Now func() time.Time
}

// Request is one entry of the request log.
type Request struct {
	Method string
	Path   string
	Status int
}

// Server is the fake. Create it with New.
type Server struct {
	opts     Options
	tokenSum [32]byte
	roSum    [32]byte

	mu    sync.Mutex
	conns map[string]*stored
	seq   int64             // creation order
	idSeq int64             // id counter
	creds map[string]string // connectionId + "\x00" + userId -> access token

	faults     fakeserver.Faults // answered before handling
	afterWrite fakeserver.Faults // answered after applying a write
	log        fakeserver.Log[Request]
}

// stored is a connection with its position in creation order.
type stored struct {
	seq  int64
	conn Connection
}

// New returns an empty fake.
func New(opts Options) *Server {
	if opts.Token == "" {
		opts.Token = DefaultToken
	}
	if opts.PageSize <= 0 {
		opts.PageSize = 100
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Server{
		opts:     opts,
		tokenSum: sha256.Sum256([]byte(opts.Token)),
		conns:    map[string]*stored{},
		creds:    map[string]string{},
	}
	if opts.ReadOnlyToken != "" {
		s.roSum = sha256.Sum256([]byte(opts.ReadOnlyToken))
	}
	return s
}

// Handler serves the API. Mount it at the root: the routes start with /v1/.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/connections", s.createConnection)
	mux.HandleFunc("GET /v1/connections", s.listConnections)
	mux.HandleFunc("GET /v1/connections/{connectionId}", s.getConnection)
	mux.HandleFunc("PUT /v1/connections/{connectionId}", s.updateConnection)
	mux.HandleFunc("DELETE /v1/connections/{connectionId}", s.deleteConnection)
	mux.HandleFunc("GET /v1/connections/{connectionId}/users/{userId}/credentials", s.getCredentials)
	return s.middleware(mux)
}

// access is what a presented credential allows.
type access int

const (
	accessNone access = iota
	accessRead
	accessWrite
)

// authorize checks the bearer token in constant time (over fixed-size digests,
// so neither content nor length leaks).
func (s *Server) authorize(r *http.Request) access {
	h := r.Header.Get("Authorization")
	const scheme = "bearer "
	if len(h) <= len(scheme) || !equalFoldASCII(h[:len(scheme)], scheme) {
		return accessNone
	}
	sum := sha256.Sum256([]byte(h[len(scheme):]))
	if subtle.ConstantTimeCompare(sum[:], s.tokenSum[:]) == 1 {
		return accessWrite
	}
	if s.opts.ReadOnlyToken != "" && subtle.ConstantTimeCompare(sum[:], s.roSum[:]) == 1 {
		return accessRead
	}
	return accessNone
}

func equalFoldASCII(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// Put stores c as if created through the API (assigning connectionId and
// createdTime when empty) without counting a write, and returns the stored copy.
// It replaces a connection with the same id.
func (s *Server) Put(c Connection) Connection {
	s.mu.Lock()
	defer s.mu.Unlock()
	c = c.clone()
	if c.ConnectionID == "" {
		c.ConnectionID = s.nextIDLocked()
	}
	if c.CreatedTime == "" {
		c.CreatedTime = s.opts.Now().UTC().Format(time.RFC3339)
	}
	if old, ok := s.conns[c.ConnectionID]; ok {
		old.conn = c
	} else {
		s.seq++
		s.conns[c.ConnectionID] = &stored{seq: s.seq, conn: c}
	}
	return c.clone()
}

// Get returns the stored connection, clientSecret included.
func (s *Server) Get(id string) (Connection, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.conns[id]
	if !ok {
		return Connection{}, false
	}
	return st.conn.clone(), true
}

// Connections returns every stored connection in creation order, secrets included.
func (s *Server) Connections() []Connection {
	s.mu.Lock()
	defer s.mu.Unlock()
	ordered := s.orderedLocked()
	out := make([]Connection, len(ordered))
	for i, st := range ordered {
		out[i] = st.conn.clone()
	}
	return out
}

// Update edits a stored connection in place without counting a write (a change
// made by hand in the Authress portal). It reports whether the connection exists.
func (s *Server) Update(id string, fn func(*Connection)) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.conns[id]
	if !ok {
		return false
	}
	c := st.conn.clone()
	fn(&c)
	c.ConnectionID = id
	st.conn = c
	return true
}

// Remove deletes a connection without counting a write. It reports whether it existed.
func (s *Server) Remove(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.conns[id]
	delete(s.conns, id)
	return ok
}

// SetCredentials stores the credentials the credentials route returns for a user
// of a connection.
func (s *Server) SetCredentials(connectionID, userID, accessToken string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.creds[connectionID+"\x00"+userID] = accessToken
}

// Requests returns a copy of the request log.
func (s *Server) Requests() []Request { return s.log.Requests() }

// Writes counts the state-changing requests that succeeded (the change was applied).
func (s *Server) Writes() int { return s.log.Writes() }

// DuplicateWrites counts the writes a correct client would never make (see the
// package doc).
func (s *Server) DuplicateWrites() int { return s.log.DuplicateWrites() }

func (s *Server) nextIDLocked() string {
	for {
		s.idSeq++
		id := fmt.Sprintf("con_%06d", s.idSeq)
		if _, taken := s.conns[id]; !taken {
			return id
		}
	}
}
