package fake

import (
	"math"
	"net/http"
	"strconv"
	"time"
)

// fault is one injected failure, consumed by the first request it matches.
type fault struct {
	method     string // "" matches any method
	status     int
	retryAfter time.Duration
	afterApply bool // let the request take effect, then answer status
}

// FailNext makes the next n requests answer status (meant for 5xx) without
// touching the state.
func (s *Server) FailNext(n, status int) {
	s.addFaults(n, fault{status: status})
}

// FailNextMethod makes the next n requests with that method answer status
// without touching the state; other requests pass.
func (s *Server) FailNextMethod(method string, n, status int) {
	s.addFaults(n, fault{method: method, status: status})
}

// FailAfterApply makes the next n requests with that method take effect and then
// answer status instead of their own answer: a response lost after the downstream
// applied the write, as when a client crashes or a proxy times out mid-request.
func (s *Server) FailAfterApply(method string, n, status int) {
	s.addFaults(n, fault{method: method, status: status, afterApply: true})
}

// RateLimitNext makes the next n requests answer 429 with a Retry-After of
// retryAfter (whole seconds, rounded up; 0 sends no header) without touching the state.
func (s *Server) RateLimitNext(n int, retryAfter time.Duration) {
	s.addFaults(n, fault{status: http.StatusTooManyRequests, retryAfter: retryAfter})
}

// Latency delays every answer by d (0 turns it off). The delay ends early when
// the client gives up.
func (s *Server) Latency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency = d
}

func (s *Server) addFaults(n int, f fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.faults = append(s.faults, f)
	}
}

// takeFault removes and returns the first fault matching method.
func (s *Server) takeFault(method string) (fault, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, f := range s.faults {
		if f.method == "" || f.method == method {
			s.faults = append(s.faults[:i], s.faults[i+1:]...)
			return f, true
		}
	}
	return fault{}, false
}

// writeFault answers an injected fault.
func writeFault(w http.ResponseWriter, f fault) {
	if f.retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(f.retryAfter.Seconds()))))
	}
	msg := "Internal server error."
	if f.status == http.StatusTooManyRequests {
		msg = "Too many requests."
	}
	writeJSON(w, f.status, errorBody{Message: msg})
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
