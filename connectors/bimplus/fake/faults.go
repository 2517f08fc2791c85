package fake

import (
	"net/http"
	"time"

	"github.com/scim-bridge/scim-bridge/connectors/fakeserver"
)

// Injected faults are queued: each request takes the oldest one it matches, so
// faults are answered in the order they were injected. They are answered before
// authentication, like an overloaded front.

// FailNext makes the next n requests answer status (meant for 5xx) without
// touching the state.
func (s *Server) FailNext(n, status int) { s.faults.FailNext(n, status) }

// FailNextMethod makes the next n requests with that method answer status
// without touching the state; other requests pass.
func (s *Server) FailNextMethod(method string, n, status int) {
	s.faults.Inject(n, fakeserver.Fault{Method: method, Status: status})
}

// FailAfterApply makes the next n requests with that method take effect and then
// answer status instead of their own answer: a response lost after the downstream
// applied the write, as when a client crashes or a proxy times out mid-request.
func (s *Server) FailAfterApply(method string, n, status int) {
	s.faults.Inject(n, fakeserver.Fault{Method: method, Status: status, AfterApply: true})
}

// RateLimitNext makes the next n requests answer 429 with a Retry-After of
// retryAfter (whole seconds, rounded up; 0 sends no header) without touching the state.
func (s *Server) RateLimitNext(n int, retryAfter time.Duration) {
	s.faults.RateLimitNext(n, retryAfter)
}

// Latency delays every answer by d (0 turns it off). The delay ends early when
// the client gives up.
func (s *Server) Latency(d time.Duration) { s.faults.Latency(d) }

// writeFault answers an injected fault.
func writeFault(w http.ResponseWriter, f fakeserver.Fault) {
	f.SetRetryAfter(w.Header())
	msg := "Internal server error."
	if f.Status == http.StatusTooManyRequests {
		msg = "Too many requests."
	}
	writeJSON(w, f.Status, errorBody{Message: msg})
}

// RateLimit makes the fake accept perSecond requests per second (a token
// bucket with bursts of up to perSecond) and answer 429 with Retry-After
// beyond (0 turns it off); see fakeserver.Faults.RateLimit.
func (s *Server) RateLimit(perSecond int) { s.faults.RateLimit(perSecond, nil) }

// RateLimited counts the requests answered 429 by RateLimit.
func (s *Server) RateLimited() int { return s.faults.RateLimited() }
