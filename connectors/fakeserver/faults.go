package fakeserver

import (
	"net/http"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Fault is one injected failure, consumed by the first request it matches.
type Fault struct {
	// Method and Path restrict the requests the fault matches; "" matches any.
	// Path is compared exactly with the request's URL path.
	Method, Path string
	// Status is the answer's status code.
	Status int
	// RetryAfter, when positive, is sent as a Retry-After header in whole
	// seconds, rounded up (RFC 9110 §10.2.3).
	RetryAfter time.Duration
	// AfterApply asks the fake to handle the request (its change takes effect)
	// and then answer Status instead of its own answer: a lost response.
	AfterApply bool
}

// matches reports whether the fault applies to a request.
func (f Fault) matches(method, path string) bool {
	return (f.Method == "" || f.Method == method) && (f.Path == "" || f.Path == path)
}

// SetRetryAfter sets the Retry-After header of h from f.RetryAfter; it does
// nothing when f.RetryAfter is not positive.
func (f Fault) SetRetryAfter(h http.Header) {
	if f.RetryAfter > 0 {
		h.Set("Retry-After", RetryAfterSeconds(f.RetryAfter))
	}
}

// RetryAfterSeconds formats d as the delay-seconds of a Retry-After header:
// whole seconds, rounded up, "0" for d <= 0.
func RetryAfterSeconds(d time.Duration) string {
	if d <= 0 {
		return "0"
	}
	return strconv.FormatInt(int64((d+time.Second-1)/time.Second), 10)
}

// Faults is the fault injection of one fake server: a queue of pending faults,
// consumed first in first out by the requests they match, and a latency added
// to every request. The zero value injects nothing. It is safe for concurrent
// use; a fake may call it while holding its own lock.
type Faults struct {
	mu      sync.Mutex
	pending []Fault
	latency time.Duration
	limit   *rateLimit
}

// rateLimit is a token bucket: perSecond tokens a second, at most perSecond
// in store.
type rateLimit struct {
	bucket  *rate.Limiter
	limited int // requests answered 429
	now     func() time.Time
}

// Inject queues n copies of f behind the faults already pending.
func (fs *Faults) Inject(n int, f Fault) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	for range n {
		fs.pending = append(fs.pending, f)
	}
}

// FailNext makes the next n requests answer status.
func (fs *Faults) FailNext(n, status int) { fs.Inject(n, Fault{Status: status}) }

// FailNextOn makes the next n requests with that method and exact path answer
// status; other requests pass.
func (fs *Faults) FailNextOn(method, path string, n, status int) {
	fs.Inject(n, Fault{Method: method, Path: path, Status: status})
}

// RateLimitNext makes the next n requests answer 429 Too Many Requests with a
// Retry-After of retryAfter (whole seconds, rounded up; 0 sends no header).
func (fs *Faults) RateLimitNext(n int, retryAfter time.Duration) {
	fs.Inject(n, Fault{Status: http.StatusTooManyRequests, RetryAfter: retryAfter})
}

// RateLimit makes the fake accept perSecond requests per second on average,
// in bursts of up to perSecond, like an API gateway's token bucket: a request
// finding no token answers 429 with a Retry-After of the whole seconds until
// the next one (pending faults come first). perSecond <= 0 turns the limit
// off. now is the clock; nil means time.Now.
func (fs *Faults) RateLimit(perSecond int, now func() time.Time) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if perSecond <= 0 {
		fs.limit = nil
		return
	}
	if now == nil {
		now = time.Now
	}
	fs.limit = &rateLimit{bucket: rate.NewLimiter(rate.Limit(perSecond), perSecond), now: now}
}

// RateLimited returns the number of requests answered 429 by the RateLimit
// mode since it was turned on.
func (fs *Faults) RateLimited() int {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if fs.limit == nil {
		return 0
	}
	return fs.limit.limited
}

// admit takes one token; it returns the 429 fault when there is none.
func (l *rateLimit) admit() (Fault, bool) {
	now := l.now()
	r := l.bucket.ReserveN(now, 1)
	d := r.DelayFrom(now)
	if d == 0 {
		return Fault{}, false
	}
	r.CancelAt(now)
	l.limited++
	return Fault{Status: http.StatusTooManyRequests, RetryAfter: d}, true
}

// Take removes and returns the oldest pending fault that matches the method
// and path of a request; without one, it counts the request against the rate
// limit and returns its 429 when the limit is reached.
func (fs *Faults) Take(method, path string) (Fault, bool) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if f, ok := fs.takePendingLocked(method, path); ok {
		return f, true
	}
	if fs.limit != nil {
		return fs.limit.admit()
	}
	return Fault{}, false
}

func (fs *Faults) takePendingLocked(method, path string) (Fault, bool) {
	for i, f := range fs.pending {
		if f.matches(method, path) {
			fs.pending = append(fs.pending[:i:i], fs.pending[i+1:]...)
			return f, true
		}
	}
	return Fault{}, false
}

// Latency delays every request by d from now on (0 turns it off).
func (fs *Faults) Latency(d time.Duration) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.latency = d
}

// Delay waits for the configured latency. It returns false when the request's
// context ended first (the client gave up), true otherwise.
func (fs *Faults) Delay(r *http.Request) bool {
	fs.mu.Lock()
	d := fs.latency
	fs.mu.Unlock()
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		return false
	}
}
