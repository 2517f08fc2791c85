package fake

import (
	"net/http"
	"time"

	"github.com/scim-bridge/scim-bridge/connectors/fakeserver"
)

// FailNext makes the next n requests (any route, before authentication) answer
// status without being handled, e.g. 500 or 503 for a flaky upstream. Faults
// are queued with those of RateLimitNext and answered in the order injected.
func (s *Server) FailNext(n, status int) { s.faults.FailNext(n, status) }

// RateLimitNext makes the next n requests answer 429 with a Retry-After of
// retryAfter (whole seconds, rounded up).
func (s *Server) RateLimitNext(n int, retryAfter time.Duration) {
	s.faults.RateLimitNext(n, retryAfter)
}

// FailAfterWriteNext makes the next n state-changing requests apply their change
// and then answer status instead of their success answer: the client cannot know
// whether its write happened (a lost answer, a crash after the call).
func (s *Server) FailAfterWriteNext(n, status int) { s.afterWrite.FailNext(n, status) }

// Latency delays every request by d (cut short when the client gives up).
func (s *Server) Latency(d time.Duration) { s.faults.Latency(d) }

// answerWrite answers a write that was applied (and counted): the next
// after-write failure when one is pending (FailAfterWriteNext), else status with
// body as JSON (nil: no body).
func (s *Server) answerWrite(w http.ResponseWriter, status int, body any) {
	if f, lost := s.afterWrite.Take("", ""); lost {
		writeError(w, f.Status, "InjectedFailure", "injected failure after the write")
		return
	}
	if body == nil {
		w.WriteHeader(status)
		return
	}
	writeJSON(w, status, body)
}

// middleware logs every request, applies latency and injected faults, and
// authenticates.
func (s *Server) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.faults.Delay(r) {
			// The client went away; nothing was answered.
			s.log.Add(Request{Method: r.Method, Path: r.URL.Path, Status: 0})
			return
		}
		rec := fakeserver.NewStatusWriter(w)
		rec.OnStatus = func(code int) { s.log.Add(Request{Method: r.Method, Path: r.URL.Path, Status: code}) }
		defer rec.Finish()
		if f, ok := s.faults.Take(r.Method, r.URL.Path); ok {
			if f.Status == http.StatusTooManyRequests {
				rec.Header().Set("Retry-After", fakeserver.RetryAfterSeconds(f.RetryAfter))
				writeError(rec, f.Status, "TooManyRequests", "rate limit exceeded")
				return
			}
			writeError(rec, f.Status, "InjectedFailure", "injected failure")
			return
		}
		switch s.authorize(r) {
		case accessNone:
			rec.Header().Set("WWW-Authenticate", `Bearer realm="authress"`)
			writeError(rec, http.StatusUnauthorized, "Unauthorized",
				"the request JWT found in the Authorization header is no longer valid")
			return
		case accessRead:
			if r.Method != http.MethodGet && r.Method != http.MethodHead {
				writeError(rec, http.StatusForbidden, "Forbidden",
					"the user does not have permission to change connections")
				return
			}
		}
		next.ServeHTTP(rec, r)
	})
}

// RateLimit makes the fake accept perSecond requests per second (a token
// bucket with bursts of up to perSecond) and answer 429 with Retry-After
// beyond (0 turns it off); see fakeserver.Faults.RateLimit.
func (s *Server) RateLimit(perSecond int) { s.faults.RateLimit(perSecond, nil) }

// RateLimited counts the requests answered 429 by RateLimit.
func (s *Server) RateLimited() int { return s.faults.RateLimited() }
