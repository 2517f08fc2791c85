package fake

import (
	"net/http"
	"strconv"
	"time"
)

// FailNext makes the next n requests (any route, before authentication) answer
// status without being handled, e.g. 500 or 503 for a flaky upstream.
func (s *Server) FailNext(n, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := 0; i < n; i++ {
		s.failNext = append(s.failNext, status)
	}
}

// RateLimitNext makes the next n requests answer 429 with a Retry-After of
// retryAfter (whole seconds, rounded up).
func (s *Server) RateLimitNext(n int, retryAfter time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rateLimited += n
	s.retryAfter = retryAfter
}

// FailAfterWriteNext makes the next n state-changing requests apply their change
// and then answer status instead of their success answer: the client cannot know
// whether its write happened (a lost answer, a crash after the call).
func (s *Server) FailAfterWriteNext(n, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := 0; i < n; i++ {
		s.failAfter = append(s.failAfter, status)
	}
}

// Latency delays every request by d (cut short when the client gives up).
func (s *Server) Latency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency = d
}

// takeFault pops the next injected failure: a status (and Retry-After for 429).
func (s *Server) takeFault() (status int, retryAfter time.Duration, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.rateLimited > 0 {
		s.rateLimited--
		return http.StatusTooManyRequests, s.retryAfter, true
	}
	if len(s.failNext) > 0 {
		status = s.failNext[0]
		s.failNext = s.failNext[1:]
		return status, 0, true
	}
	return 0, 0, false
}

// takeFailAfterLocked pops the next after-write failure. The caller holds s.mu.
func (s *Server) takeFailAfterLocked() (int, bool) {
	if len(s.failAfter) == 0 {
		return 0, false
	}
	status := s.failAfter[0]
	s.failAfter = s.failAfter[1:]
	return status, true
}

func (s *Server) latencyValue() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.latency
}

// statusRecorder remembers the status of an answer for the request log.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(status int) {
	r.status = status
	r.ResponseWriter.WriteHeader(status)
}

// middleware logs every request, applies latency and injected faults, and
// authenticates.
func (s *Server) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		defer func() {
			s.mu.Lock()
			s.log = append(s.log, Request{Method: r.Method, Path: r.URL.Path, Status: rec.status})
			s.mu.Unlock()
		}()
		if d := s.latencyValue(); d > 0 {
			t := time.NewTimer(d)
			select {
			case <-t.C:
			case <-r.Context().Done():
				t.Stop()
				rec.status = 0 // the client went away; nothing was answered
				return
			}
		}
		if status, retryAfter, ok := s.takeFault(); ok {
			if status == http.StatusTooManyRequests {
				secs := int64((retryAfter + time.Second - 1) / time.Second)
				rec.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
				writeError(rec, status, "TooManyRequests", "rate limit exceeded")
				return
			}
			writeError(rec, status, "InjectedFailure", "injected failure")
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
