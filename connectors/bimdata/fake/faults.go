package fake

import (
	"net/http"
	"time"
)

// FailNext makes the next n requests answer status (meant for 5xx) without
// touching the state. Faults are queued: each is answered in turn, in the
// order they were injected.
func (s *Server) FailNext(n, status int) { s.faults.FailNext(n, status) }

// FailNextOn makes the next n requests with that method and exact path answer
// status without touching the state; other requests are served normally.
func (s *Server) FailNextOn(method, path string, n, status int) {
	s.faults.FailNextOn(method, path, n, status)
}

// RateLimitNext makes the next n requests answer 429 with a Retry-After of
// retryAfter (whole seconds, rounded up; 0 sends no header) without touching the state.
func (s *Server) RateLimitNext(n int, retryAfter time.Duration) {
	s.faults.RateLimitNext(n, retryAfter)
}

// Latency delays every answer by d (0 turns it off). The delay ends early when
// the client gives up.
func (s *Server) Latency(d time.Duration) { s.faults.Latency(d) }

// fault answers an injected fault, before authentication, and reports whether it did.
func (s *Server) fault(w http.ResponseWriter, r *http.Request) bool {
	f, ok := s.faults.Take(r.Method, r.URL.Path)
	if !ok {
		return false
	}
	f.SetRetryAfter(w.Header())
	detail := "Request was throttled."
	if f.Status != http.StatusTooManyRequests {
		detail = "Something really bad happened."
	}
	writeJSON(w, f.Status, map[string]string{"detail": detail})
	return true
}

// RateLimit makes the fake accept perSecond requests per second (a token
// bucket with bursts of up to perSecond) and answer 429 with Retry-After
// beyond (0 turns it off); see fakeserver.Faults.RateLimit.
func (s *Server) RateLimit(perSecond int) { s.faults.RateLimit(perSecond, nil) }

// RateLimited counts the requests answered 429 by RateLimit.
func (s *Server) RateLimited() int { return s.faults.RateLimited() }
