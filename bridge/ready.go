package bridge

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/rs/zerolog"
)

// readyTimeout bounds one /readyz check: a Redis that has not answered its
// PING by then (stopped, partitioned, swapping) is reported unready with a 503
// inside the probe's own timeout (3s in the Helm chart), so the probe sees an
// answer rather than a timeout of its own.
const readyTimeout = time.Second

// pinger is what readiness asks: whether Redis answers (the store).
type pinger interface {
	Ping(ctx context.Context) error
}

// readiness serves /readyz: 200 when Redis answers a PING within timeout, 503
// otherwise.
//
// The check does not wait for the PING to give up: go-redis does not end a
// socket read when its context ends (its read timeout bounds it, and the
// store's retries of reads may follow), so against a Redis that accepts
// connections but never answers a PING returns seconds after its context's
// deadline. The handler answers at its own deadline instead, and a PING that
// outlasts it ends in the background. One PING is in flight at a time: checks
// arriving meanwhile share its answer, so a prober calling /readyz every
// second during an outage cannot pile up stuck PINGs.
type readiness struct {
	ping    pinger
	timeout time.Duration
	log     zerolog.Logger

	mu     sync.Mutex
	flight *pingFlight // the PING in flight; nil when none
}

// pingFlight is one PING: err is set before done is closed.
type pingFlight struct {
	done chan struct{}
	err  error
}

func newReadiness(p pinger, timeout time.Duration, log zerolog.Logger) *readiness {
	return &readiness{ping: p, timeout: timeout, log: log}
}

func (rd *readiness) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if err := rd.check(r.Context()); err != nil {
		rd.log.Warn().Err(err).Msg("readiness check failed")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte("redis unavailable\n"))
		return
	}
	_, _ = w.Write([]byte("ready\n"))
}

// check returns the answer of the PING in flight (or of a new one), or an
// error once timeout has passed or ctx has ended, whichever comes first.
func (rd *readiness) check(ctx context.Context) error {
	f := rd.pingOnce()
	timer := time.NewTimer(rd.timeout)
	defer timer.Stop()
	select {
	case <-f.done:
		return f.err
	case <-timer.C:
		return fmt.Errorf("ping redis: no answer within %v", rd.timeout)
	case <-ctx.Done():
		return fmt.Errorf("ping redis: %w", ctx.Err())
	}
}

// pingOnce returns the PING in flight, or starts one. Its context is its own,
// not a request's: the checks that share it may be cancelled one by one.
func (rd *readiness) pingOnce() *pingFlight {
	rd.mu.Lock()
	defer rd.mu.Unlock()
	if rd.flight != nil {
		return rd.flight
	}
	f := &pingFlight{done: make(chan struct{})}
	rd.flight = f
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), rd.timeout)
		defer cancel()
		f.err = rd.ping.Ping(ctx)
		rd.mu.Lock()
		rd.flight = nil
		rd.mu.Unlock()
		close(f.done)
	}()
	return f
}
