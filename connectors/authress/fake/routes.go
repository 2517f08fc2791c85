package fake

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

const maxBody = 1 << 20

// contentType is what the API answers with (Accept: application/links+json).
const contentType = "application/links+json"

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, code, title string) {
	writeJSON(w, status, apiError{ErrorCode: code, Title: title})
}

// decodeConnection reads a Connection body; unknown fields are ignored.
func decodeConnection(r *http.Request) (Connection, error) {
	var c Connection
	dec := json.NewDecoder(io.LimitReader(r.Body, maxBody))
	if err := dec.Decode(&c); err != nil {
		return Connection{}, err
	}
	if dec.More() {
		return Connection{}, errors.New("trailing data after the connection")
	}
	return c, nil
}

// view is the connection as answers show it.
func (s *Server) view(c Connection) Connection {
	c = c.clone()
	if !s.opts.ExposeSecrets {
		c.ClientSecret = ""
	}
	return c
}

func (s *Server) orderedLocked() []*stored {
	out := make([]*stored, 0, len(s.conns))
	for _, st := range s.conns {
		out = append(out, st)
	}
	slices.SortFunc(out, func(a, b *stored) int { return int(a.seq - b.seq) })
	return out
}

// createConnection: POST /v1/connections → 201 with the created connection.
func (s *Server) createConnection(w http.ResponseWriter, r *http.Request) {
	c, err := decodeConnection(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, "InvalidRequest", "the body is not a connection")
		return
	}
	s.mu.Lock()
	c.ConnectionID = s.nextIDLocked()
	c.CreatedTime = s.opts.Now().UTC().Format(time.RFC3339)
	if c.Type == "" {
		c.Type = "OAUTH2"
	}
	for _, st := range s.conns {
		if st.conn.identity() == c.identity() {
			s.log.CountDuplicate()
			break
		}
	}
	s.seq++
	s.conns[c.ConnectionID] = &stored{seq: s.seq, conn: c.clone()}
	s.log.CountWrite()
	out := s.view(c)
	s.mu.Unlock()
	s.answerWrite(w, http.StatusCreated, out)
}

// getConnection: GET /v1/connections/{connectionId} → 200, or 404.
func (s *Server) getConnection(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("connectionId")
	s.mu.Lock()
	st, ok := s.conns[id]
	var out Connection
	if ok {
		out = s.view(st.conn)
	}
	s.mu.Unlock()
	if !ok {
		writeError(w, http.StatusNotFound, "NotFound", "the connection does not exist")
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// updateConnection: PUT /v1/connections/{connectionId} → 200 with the updated
// connection, or 404.
func (s *Server) updateConnection(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("connectionId")
	c, err := decodeConnection(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, "InvalidRequest", "the body is not a connection")
		return
	}
	s.mu.Lock()
	st, ok := s.conns[id]
	if !ok {
		s.mu.Unlock()
		writeError(w, http.StatusNotFound, "NotFound", "the connection does not exist")
		return
	}
	sentSecret := c.ClientSecret != ""
	c.ConnectionID = id
	c.CreatedTime = st.conn.CreatedTime
	if c.Type == "" {
		c.Type = "OAUTH2"
	}
	if !sentSecret {
		c.ClientSecret = st.conn.ClientSecret
	}
	// Re-sending a write-only secret is not a duplicate: the client cannot read it.
	if c.equal(st.conn) && (s.opts.ExposeSecrets || !sentSecret) {
		s.log.CountDuplicate()
	}
	st.conn = c.clone()
	s.log.CountWrite()
	out := s.view(c)
	s.mu.Unlock()
	s.answerWrite(w, http.StatusOK, out)
}

// deleteConnection: DELETE /v1/connections/{connectionId} → 204, or 404.
func (s *Server) deleteConnection(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("connectionId")
	s.mu.Lock()
	if _, ok := s.conns[id]; !ok {
		s.log.CountDuplicate()
		s.mu.Unlock()
		writeError(w, http.StatusNotFound, "NotFound", "the connection does not exist")
		return
	}
	delete(s.conns, id)
	for k := range s.creds {
		if strings.HasPrefix(k, id+"\x00") {
			delete(s.creds, k)
		}
	}
	s.log.CountWrite()
	s.mu.Unlock()
	s.answerWrite(w, http.StatusNoContent, nil)
}

// getCredentials: GET /v1/connections/{connectionId}/users/{userId}/credentials
// → 200 {"accessToken"}, or 404 when the connection or the user's credentials
// do not exist.
func (s *Server) getCredentials(w http.ResponseWriter, r *http.Request) {
	id, user := r.PathValue("connectionId"), r.PathValue("userId")
	s.mu.Lock()
	_, ok := s.conns[id]
	token, hasCreds := s.creds[id+"\x00"+user]
	s.mu.Unlock()
	if !ok || !hasCreds {
		writeError(w, http.StatusNotFound, "NotFound", "the connection or user does not exist")
		return
	}
	writeJSON(w, http.StatusOK, UserConnectionCredentials{AccessToken: token})
}

// listConnections: GET /v1/connections?limit&cursor&filter → 200 ConnectionCollection.
func (s *Server) listConnections(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit := 100
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			writeError(w, http.StatusBadRequest, "InvalidRequest", "limit must be a positive integer")
			return
		}
		limit = n
	}
	limit = min(limit, s.opts.PageSize)
	var after int64
	if v := q.Get("cursor"); v != "" {
		n, ok := decodeCursor(v)
		if !ok {
			writeError(w, http.StatusBadRequest, "InvalidRequest", "invalid cursor")
			return
		}
		after = n
	}
	filter := strings.ToLower(q.Get("filter"))

	s.mu.Lock()
	page := connectionCollection{Connections: []Connection{}}
	var last int64
	more := false
	for _, st := range s.orderedLocked() {
		if st.seq <= after || !matches(st.conn, filter) {
			continue
		}
		if len(page.Connections) == limit {
			more = true
			break
		}
		page.Connections = append(page.Connections, s.view(st.conn))
		last = st.seq
	}
	s.mu.Unlock()

	page.Links.Self.Href = r.URL.RequestURI()
	if more {
		cur := encodeCursor(last)
		page.Pagination.Next = &paginationNext{Cursor: cur}
		nq := url.Values{}
		for k, v := range q {
			nq[k] = v
		}
		nq.Set("cursor", cur)
		page.Links.Next = &link{Href: r.URL.Path + "?" + nq.Encode()}
	}
	writeJSON(w, http.StatusOK, page)
}

func matches(c Connection, filter string) bool {
	if filter == "" {
		return true
	}
	for _, t := range c.texts() {
		if strings.Contains(strings.ToLower(t), filter) {
			return true
		}
	}
	return false
}

func encodeCursor(seq int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte("after:" + strconv.FormatInt(seq, 10)))
}

func decodeCursor(v string) (int64, bool) {
	b, err := base64.RawURLEncoding.DecodeString(v)
	if err != nil {
		return 0, false
	}
	rest, ok := strings.CutPrefix(string(b), "after:")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(rest, 10, 64)
	return n, err == nil && n >= 0
}
