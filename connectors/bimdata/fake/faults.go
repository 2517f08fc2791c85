package fake

import (
	"math"
	"net/http"
	"strconv"
	"time"
)

// FailNext makes the next n requests answer status (meant for 5xx) without
// touching the state.
func (s *Server) FailNext(n, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failN, s.failStatus = n, status
}

// FailNextOn makes the next n requests with that method and exact path answer
// status without touching the state; other requests are served normally.
func (s *Server) FailNextOn(method, path string, n, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.routeFaults = append(s.routeFaults, routeFault{method: method, path: path, n: n, status: status})
}

// routeFault is one pending FailNextOn.
type routeFault struct {
	method, path string
	n, status    int
}

// RateLimitNext makes the next n requests answer 429 with a Retry-After of
// retryAfter (whole seconds, rounded up; 0 sends no header) without touching the state.
func (s *Server) RateLimitNext(n int, retryAfter time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.limitN, s.retryAfter = n, retryAfter
}

// Latency delays every answer by d (0 turns it off). The delay ends early when
// the client gives up.
func (s *Server) Latency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency = d
}

// fault answers an injected fault and reports whether it did.
func (s *Server) fault(w http.ResponseWriter, r *http.Request) bool {
	s.mu.Lock()
	var status int
	var retryAfter time.Duration
	for i := range s.routeFaults {
		f := &s.routeFaults[i]
		if f.n > 0 && f.method == r.Method && f.path == r.URL.Path {
			f.n--
			status = f.status
			break
		}
	}
	switch {
	case status != 0:
	case s.limitN > 0:
		s.limitN--
		status, retryAfter = http.StatusTooManyRequests, s.retryAfter
	case s.failN > 0:
		s.failN--
		status = s.failStatus
	}
	s.mu.Unlock()
	if status == 0 {
		return false
	}
	if retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(retryAfter.Seconds()))))
	}
	detail := "Request was throttled."
	if status != http.StatusTooManyRequests {
		detail = "Something really bad happened."
	}
	writeJSON(w, status, map[string]string{"detail": detail})
	return true
}

// delay waits for the configured latency or the request's end.
func (s *Server) delay(r *http.Request) {
	s.mu.Lock()
	d := s.latency
	s.mu.Unlock()
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-r.Context().Done():
	}
}
