package fakeserver

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

func TestFaultsTakeInOrder(t *testing.T) {
	t.Parallel()
	var fs Faults
	fs.FailNext(2, 503)
	fs.FailNextOn("POST", "/a", 1, 502)
	fs.RateLimitNext(1, 3*time.Second)
	fs.Inject(1, Fault{Method: "PUT", Status: 500, AfterApply: true})
	fs.FailNext(0, 599) // nothing
	type req struct{ method, path string }
	for i, tc := range []struct {
		req
		want   int // 0: no fault
		after  bool
		detail string
	}{
		{req{"GET", "/a"}, 503, false, "oldest first"},
		{req{"POST", "/b"}, 503, false, "second FailNext"},
		{req{"GET", "/a"}, 429, false, "skips the POST /a fault"},
		{req{"POST", "/b"}, 0, false, "PUT and POST /a faults do not match"},
		{req{"PUT", "/c"}, 500, true, "method fault"},
		{req{"POST", "/a"}, 502, false, "route fault"},
		{req{"POST", "/a"}, 0, false, "queue empty"},
	} {
		f, ok := fs.Take(tc.method, tc.path)
		got := 0
		if ok {
			got = f.Status
		}
		if got != tc.want || f.AfterApply != tc.after {
			t.Fatalf("take %d (%s): %+v %v, want status %d after %v", i, tc.detail, f, ok, tc.want, tc.after)
		}
	}
}

func TestRetryAfter(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		d      time.Duration
		header string // "" = no header
		secs   string
	}{
		{0, "", "0"},
		{-time.Second, "", "0"},
		{time.Nanosecond, "1", "1"},
		{time.Second, "1", "1"},
		{1500 * time.Millisecond, "2", "2"},
		{3 * time.Second, "3", "3"},
	} {
		t.Run(tc.d.String(), func(t *testing.T) {
			t.Parallel()
			if got := RetryAfterSeconds(tc.d); got != tc.secs {
				t.Fatalf("RetryAfterSeconds(%s) = %q, want %q", tc.d, got, tc.secs)
			}
			var fs Faults
			fs.RateLimitNext(1, tc.d)
			f, ok := fs.Take("GET", "/")
			if !ok || f.Status != http.StatusTooManyRequests {
				t.Fatalf("fault %+v %v", f, ok)
			}
			h := http.Header{}
			f.SetRetryAfter(h)
			if got, set := h.Get("Retry-After"), len(h) > 0; got != tc.header || set != (tc.header != "") {
				t.Fatalf("Retry-After %q (set %v), want %q", got, set, tc.header)
			}
		})
	}
}

func TestFaultsDelay(t *testing.T) {
	t.Parallel()
	var fs Faults
	r := httptest.NewRequest("GET", "/", nil)
	if !fs.Delay(r) {
		t.Fatal("no latency: Delay reported a gone client")
	}
	fs.Latency(20 * time.Millisecond)
	begin := time.Now()
	if !fs.Delay(r) || time.Since(begin) < 20*time.Millisecond {
		t.Fatalf("Delay returned after %s", time.Since(begin))
	}
	fs.Latency(time.Hour)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if fs.Delay(r.WithContext(ctx)) {
		t.Fatal("a cancelled request waited out the latency")
	}
	fs.Latency(0)
	if !fs.Delay(r.WithContext(ctx)) {
		t.Fatal("latency 0: Delay reported a gone client")
	}
}

// TestFaultsConcurrent: every injected fault is taken exactly once.
func TestFaultsConcurrent(t *testing.T) {
	t.Parallel()
	var fs Faults
	const n = 200
	var wg sync.WaitGroup
	var mu sync.Mutex
	taken := 0
	for range 4 {
		wg.Add(2)
		go func() {
			defer wg.Done()
			fs.FailNext(n/4, 500)
			fs.Latency(0)
		}()
		go func() {
			defer wg.Done()
			for range n {
				if _, ok := fs.Take("GET", "/"); ok {
					mu.Lock()
					taken++
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	for {
		if _, ok := fs.Take("GET", "/"); !ok {
			break
		}
		taken++
	}
	if taken != n {
		t.Fatalf("took %d faults, want %d", taken, n)
	}
}

func TestFaultsRateLimitTokenBucket(t *testing.T) {
	t.Parallel()
	var fs Faults
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	fs.RateLimit(3, func() time.Time { return now })
	// A burst of 3 passes; the fourth request finds no token.
	for i := range 3 {
		if _, limited := fs.Take("GET", "/a"); limited {
			t.Fatalf("request %d of the first 3 was limited", i)
		}
	}
	f, limited := fs.Take("GET", "/a")
	if !limited || f.Status != http.StatusTooManyRequests {
		t.Fatalf("fourth request: %+v, %v; want 429", f, limited)
	}
	h := http.Header{}
	f.SetRetryAfter(h)
	if h.Get("Retry-After") != "1" {
		t.Fatalf("Retry-After %q, want 1", h.Get("Retry-After"))
	}
	// 3 a second on average: one token every 333 ms.
	now = now.Add(340 * time.Millisecond)
	if _, limited := fs.Take("GET", "/a"); limited {
		t.Fatal("limited after a token came back")
	}
	if _, limited := fs.Take("GET", "/a"); !limited {
		t.Fatal("a second request passed on one token")
	}
	if n := fs.RateLimited(); n != 2 {
		t.Fatalf("RateLimited() = %d, want 2", n)
	}
	// An injected fault comes first and does not count.
	fs.FailNext(1, 503)
	if f, _ := fs.Take("GET", "/a"); f.Status != 503 {
		t.Fatalf("injected fault: %+v", f)
	}
	fs.RateLimit(0, nil)
	for range 10 {
		if _, limited := fs.Take("GET", "/a"); limited {
			t.Fatal("limited after the limit was turned off")
		}
	}
}
