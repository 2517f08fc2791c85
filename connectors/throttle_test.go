package connectors_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scim-bridge/scim-bridge/connectors"
)

// memHolds is a ThrottleStore shared by the throttles of one test, as Redis
// is shared by replicas.
type memHolds struct {
	mu      sync.Mutex
	until   time.Time
	limited int
}

func (m *memHolds) Hold(_ context.Context, until time.Time, limited bool) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if until.After(m.until) {
		m.until = until
	}
	if limited {
		m.limited++
	}
	return nil
}

func (m *memHolds) HeldUntil(context.Context) (time.Time, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.until, nil
}

func acquire(t *testing.T, th connectors.Throttle) func(connectors.Feedback) {
	t.Helper()
	done, err := th.Acquire(context.Background())
	if err != nil {
		t.Fatalf("acquire: %v", err)
	}
	return done
}

func TestThrottleHoldIsShared(t *testing.T) {
	t.Parallel()
	store := &memHolds{}
	a := connectors.NewThrottle(connectors.ThrottleOptions{Store: store})
	b := connectors.NewThrottle(connectors.ThrottleOptions{Store: store})
	acquire(t, a)(connectors.Feedback{Status: 429, Hold: 2 * time.Second})
	for name, th := range map[string]*connectors.Adaptive{"same replica": a, "other replica": b} {
		_, err := th.Acquire(context.Background())
		if connectors.ClassOf(err) != connectors.RateLimited || connectors.StatusOf(err) != 0 {
			t.Fatalf("%s: Acquire during the hold = %v, want a rate-limited error sent nowhere", name, err)
		}
		if ra := connectors.RetryAfterOf(err); ra < 1900*time.Millisecond || ra > 2*time.Second {
			t.Errorf("%s: RetryAfter %v, want about 2s", name, ra)
		}
	}
	if store.limited != 1 {
		t.Errorf("store counted %d rate-limited answers, want 1", store.limited)
	}
	if st := a.Status(); st.RateLimited != 1 || st.HeldUntil.IsZero() {
		t.Errorf("status %+v, want one 429 and a hold", st)
	}
}

func TestThrottleWaitsOutShortHolds(t *testing.T) {
	t.Parallel()
	// A 1s Retry-After within MaxHoldWait is waited out, not failed.
	th := connectors.NewThrottle(connectors.ThrottleOptions{MaxHoldWait: 2 * time.Second})
	start := time.Now()
	acquire(t, th)(connectors.Feedback{Status: 429, Hold: time.Second})
	acquire(t, th)(connectors.Feedback{Status: 200})
	if d := time.Since(start); d < 900*time.Millisecond {
		t.Fatalf("second request left after %v, inside the 1s hold", d)
	}
}

func TestThrottleConcurrencyAIMD(t *testing.T) {
	t.Parallel()
	th := connectors.NewThrottle(connectors.ThrottleOptions{MaxConcurrency: 4})
	if l := th.Status().Limit; l != 4 {
		t.Fatalf("initial limit %d, want the ceiling 4", l)
	}
	var dones []func(connectors.Feedback)
	for range 4 {
		dones = append(dones, acquire(t, th))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := th.Acquire(ctx); err == nil {
		t.Fatal("a fifth request got a slot with a limit of 4")
	}
	// One congestion event halves the limit once, however many of the
	// requests sent before it report trouble.
	dones[0](connectors.Feedback{Status: 503})
	dones[1](connectors.Feedback{Timeout: true})
	dones[2](connectors.Feedback{Status: 503})
	dones[3](connectors.Feedback{Status: 200})
	if l := th.Status().Limit; l != 2 {
		t.Fatalf("limit after one congestion event %d, want 2", l)
	}
	// Additive increase: back to the ceiling after enough answered requests.
	for range 20 {
		acquire(t, th)(connectors.Feedback{Status: 200})
	}
	if l := th.Status().Limit; l != 4 {
		t.Fatalf("limit after 20 successes %d, want 4", l)
	}
	// A request sent after the decrease that fails is a new event.
	acquire(t, th)(connectors.Feedback{Timeout: true})
	if l := th.Status().Limit; l != 2 {
		t.Fatalf("limit after a new timeout %d, want 2", l)
	}
	// Never below 1.
	for range 5 {
		acquire(t, th)(connectors.Feedback{Status: 503})
	}
	if l := th.Status().Limit; l != 1 {
		t.Fatalf("limit %d, want the floor 1", l)
	}
}

func TestThrottleLearnsPace(t *testing.T) {
	t.Parallel()
	th := connectors.NewThrottle(connectors.ThrottleOptions{MaxConcurrency: 64})
	if r := th.Status().Rate; r != 0 {
		t.Fatalf("pace before any 429: %v, want none", r)
	}
	for range 100 {
		acquire(t, th)(connectors.Feedback{Status: 200})
	}
	acquire(t, th)(connectors.Feedback{Status: 429})
	st := th.Status()
	// 100 accepted within the last second: the pace is 95% of at least 100/s.
	if st.Rate < 95 || st.Fixed {
		t.Fatalf("learned pace %v (fixed %v), want at least 95/s, learned", st.Rate, st.Fixed)
	}
	// The pace is kept: 30 requests at 95/s take about 0.3s.
	start := time.Now()
	for range 30 {
		acquire(t, th)(connectors.Feedback{Status: 200})
	}
	want := time.Duration(float64(29) / st.Rate * float64(time.Second))
	if d := time.Since(start); d < want*9/10 {
		t.Fatalf("30 requests in %v, faster than the pace allows (%v)", d, want)
	}
}

func TestThrottleFixedRate(t *testing.T) {
	t.Parallel()
	th := connectors.NewThrottle(connectors.Base{Rate: 50}.ThrottleOptions())
	start := time.Now()
	for range 11 {
		acquire(t, th)(connectors.Feedback{Status: 200})
	}
	if d := time.Since(start); d < 190*time.Millisecond {
		t.Fatalf("11 requests at 50/s took %v, want at least 200ms", d)
	}
	acquire(t, th)(connectors.Feedback{Status: 429})
	if st := th.Status(); st.Rate != 50 || !st.Fixed {
		t.Fatalf("status %+v: a fixed rate must stay as configured", st)
	}
}

func TestHoldOf(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	h := func(kv ...string) http.Header {
		out := http.Header{}
		for i := 0; i+1 < len(kv); i += 2 {
			out.Set(kv[i], kv[i+1])
		}
		return out
	}
	for _, tc := range []struct {
		name   string
		status int
		header http.Header
		want   time.Duration
	}{
		{"429 seconds", 429, h("Retry-After", "2"), 2 * time.Second},
		{"503 HTTP date", 503, h("Retry-After", now.Add(5*time.Second).Format(http.TimeFormat)), 5 * time.Second},
		{"429 without Retry-After", 429, h(), 0},
		{"500 ignores Retry-After", 500, h("Retry-After", "3"), 0},
		{"RateLimit headers exhausted", 200, h("RateLimit-Remaining", "0", "RateLimit-Reset", "7"), 7 * time.Second},
		{"RateLimit headers left", 200, h("RateLimit-Remaining", "3", "RateLimit-Reset", "7"), 0},
		{"X-RateLimit epoch reset", 200, h("X-RateLimit-Remaining", "0", "X-RateLimit-Reset", "1767323105"), 60 * time.Second},
		{"combined field", 200, h("RateLimit", `"default";r=0;t=4`), 4 * time.Second},
		{"combined field old draft", 200, h("RateLimit", "limit=10, remaining=0, reset=3"), 3 * time.Second},
		{"longest wins", 429, h("Retry-After", "1", "X-RateLimit-Remaining", "0", "X-RateLimit-Reset", "9"), 9 * time.Second},
	} {
		if got := connectors.HoldOf(tc.status, tc.header, now); got != tc.want {
			t.Errorf("%s: HoldOf = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestClientFeedsThrottle: a 429 with Retry-After holds every later request of
// the connector, none of which reaches the server.
func TestClientFeedsThrottle(t *testing.T) {
	t.Parallel()
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hits.Add(1) == 1 {
			w.Header().Set("Retry-After", "2")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	c, err := connectors.NewClient(connectors.Base{URL: srv.URL, Token: "tok-0123456789"}, srv.Client(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Do(context.Background(), http.MethodGet, "/x", nil, nil); connectors.StatusOf(err) != 429 {
		t.Fatalf("first request: %v, want the 429", err)
	}
	_, err = c.Do(context.Background(), http.MethodGet, "/x", nil, nil)
	if connectors.ClassOf(err) != connectors.RateLimited || connectors.RetryAfterOf(err) <= time.Second {
		t.Fatalf("second request: %v, want held for about 2s", err)
	}
	if n := hits.Load(); n != 1 {
		t.Fatalf("server saw %d requests, want 1", n)
	}
}
