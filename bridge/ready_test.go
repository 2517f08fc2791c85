package bridge

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/rs/zerolog"
)

// readyBound is the upper bound the tests put on a /readyz answer: three
// times readyTimeout, for a noisy machine, and still below the read timeout
// (3s) of go-redis, the bound of a check that waits for its PING.
const readyBound = 2900 * time.Millisecond

// stallProxy forwards TCP connections to a Redis until stall is called; from
// then on it accepts connections and reads commands but never forwards them,
// as a SIGSTOPped redis-server does (its kernel still accepts and buffers).
type stallProxy struct {
	target  string
	ln      net.Listener
	stalled atomic.Bool

	mu    sync.Mutex
	conns []net.Conn
}

func startStallProxy(tb testing.TB, target string) *stallProxy {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	p := &stallProxy{target: target, ln: ln}
	go p.serve()
	tb.Cleanup(p.close)
	return p
}

// URL is the redis:// URL of the proxy.
func (p *stallProxy) URL() string { return "redis://" + p.ln.Addr().String() }

func (p *stallProxy) stall() { p.stalled.Store(true) }

func (p *stallProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			_ = c.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, c, up)
		p.mu.Unlock()
		go func() { _, _ = io.Copy(c, up) }()
		go p.forward(up, c)
	}
}

// forward copies what the client sends to Redis, or drops it once stalled.
func (p *stallProxy) forward(up, c net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := c.Read(buf)
		if n > 0 && !p.stalled.Load() {
			if _, werr := up.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (p *stallProxy) close() {
	_ = p.ln.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		_ = c.Close()
	}
}

// TestReadyzBoundedWhenRedisStalls: while Redis accepts connections but
// answers nothing (redis-server SIGSTOPped), /readyz answers 503 within about
// readyTimeout, not after go-redis's read timeout and the store's retries.
func TestReadyzBoundedWhenRedisStalls(t *testing.T) {
	t.Parallel()
	mr := miniredis.RunT(t)
	proxy := startStallProxy(t, mr.Addr())
	ts := newTestServer(t, proxy.URL())
	get := func() (int, time.Duration) {
		start := time.Now()
		resp, err := ts.srv.Client().Get(ts.srv.URL + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode, time.Since(start)
	}
	if code, _ := get(); code != http.StatusOK {
		t.Fatalf("/readyz before the stall: %d, want 200", code)
	}
	proxy.stall()
	for i := range 2 { // the second check finds the first one's PING still stuck
		code, took := get()
		if code != http.StatusServiceUnavailable {
			t.Errorf("check %d: /readyz while Redis stalls: %d, want 503", i+1, code)
		}
		if took >= readyBound {
			t.Errorf("check %d: /readyz while Redis stalls answered in %v, want < %v", i+1, took, readyBound)
		}
	}
}

// stuckPinger answers no PING for 30s, whatever its context says (as go-redis
// waits for its read timeout), and counts the PINGs started.
type stuckPinger struct {
	started atomic.Int32
	release chan struct{}
}

func (p *stuckPinger) Ping(context.Context) error {
	p.started.Add(1)
	select {
	case <-p.release:
	case <-time.After(30 * time.Second):
	}
	return nil
}

// TestReadinessAnswersWithinItsTimeout: a check against a store that does not
// answer is 503 within the check's own timeout, and checks made meanwhile
// share the one PING in flight instead of each starting one.
func TestReadinessAnswersWithinItsTimeout(t *testing.T) {
	t.Parallel()
	p := &stuckPinger{release: make(chan struct{})}
	t.Cleanup(func() { close(p.release) })
	h := newReadiness(p, readyTimeout, zerolog.Nop())
	var wg sync.WaitGroup
	for i := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			start := time.Now()
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
			if took := time.Since(start); took >= readyBound {
				t.Errorf("check %d answered in %v, want < %v", i, took, readyBound)
			}
			if rec.Code != http.StatusServiceUnavailable {
				t.Errorf("check %d: %d, want 503", i, rec.Code)
			}
		}()
	}
	wg.Wait()
	if n := p.started.Load(); n != 1 {
		t.Errorf("%d PINGs started, want 1 shared by the checks", n)
	}
}

// TestReadinessReady: a store that answers makes /readyz 200.
func TestReadinessReady(t *testing.T) {
	t.Parallel()
	p := &stuckPinger{release: make(chan struct{})}
	close(p.release)
	rec := httptest.NewRecorder()
	newReadiness(p, readyTimeout, zerolog.Nop()).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	if rec.Code != http.StatusOK || rec.Body.String() != "ready\n" {
		t.Errorf("/readyz = %d %q, want 200 ready", rec.Code, rec.Body.String())
	}
}
