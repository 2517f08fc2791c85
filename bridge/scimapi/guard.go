package scimapi

// Guards in front of the SCIM handlers: a per-tenant cap on requests served at
// once (so one tenant cannot starve another), the answer while the store is
// unavailable, and the encoding rules of request bodies.

import (
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/scim-bridge/scim-bridge/bridge/internal/clip"
)

const (
	// DefaultMaxConcurrent is Options.MaxConcurrent's default: far above what
	// an IdP sends (Entra and Okta keep a handful of connections per app), low
	// enough that one tenant cannot take every worker of the process.
	DefaultMaxConcurrent = 64
	// busyRetryAfter is the Retry-After of a 429 for too many requests at once.
	busyRetryAfter = time.Second
)

// inflight counts the requests of each tenant being served.
type inflight struct {
	mu sync.Mutex
	n  map[string]int
}

// admit reserves one of tenant's concurrent request slots; the caller calls
// release when done. Beyond the cap it returns a 429 with Retry-After.
func (srv *Server) admit(w http.ResponseWriter, tenant string) (release func(), err error) {
	limit := srv.opts.MaxConcurrent
	if limit <= 0 {
		limit = DefaultMaxConcurrent
	}
	f := &srv.inflight
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.n == nil {
		f.n = map[string]int{}
	}
	if f.n[tenant] >= limit {
		return nil, &HTTPError{Status: http.StatusTooManyRequests, RetryAfter: busyRetryAfter,
			Detail: "too many concurrent requests for this tenant; retry later"}
	}
	f.n[tenant]++
	return func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.n[tenant]--; f.n[tenant] <= 0 {
			delete(f.n, tenant)
		}
	}, nil
}

// unavailable turns the 500 of a store error that means "Redis is down or
// loading" into 503 with Retry-After (RFC 7231 §6.6.4): IdPs retry a 503,
// while Entra counts 500s toward quarantine.
func (srv *Server) unavailable(he *HTTPError) *HTTPError {
	if he.Status != http.StatusInternalServerError || he.Err == nil || srv.opts.Unavailable == nil {
		return he
	}
	ra, ok := srv.opts.Unavailable(he.Err)
	if !ok {
		return he
	}
	return &HTTPError{Status: http.StatusServiceUnavailable, RetryAfter: ra, Err: he.Err,
		Detail: "the store is temporarily unavailable; retry later"}
}

// checkEncoding enforces RFC 8259 §8.1: JSON exchanged between systems is
// UTF-8. A declared charset other than UTF-8 is 415; bytes that are not UTF-8
// are 400 invalidSyntax (decoding them would replace them with U+FFFD, and two
// different userNames could then collide).
func checkEncoding(r *http.Request, body []byte) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		if _, params, err := mime.ParseMediaType(ct); err == nil {
			if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") && !strings.EqualFold(cs, "utf8") {
				return &HTTPError{Status: http.StatusUnsupportedMediaType,
					Detail: "request bodies must be UTF-8 (RFC 8259 §8.1); charset " + strconv.Quote(clip.N(cs, 40)) + " is not supported"}
			}
		}
	}
	if !utf8.Valid(body) {
		return errBadRequest("invalidSyntax", "the request body is not valid UTF-8 (RFC 8259 §8.1)")
	}
	return nil
}
