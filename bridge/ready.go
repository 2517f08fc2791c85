package bridge

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/sync/singleflight"
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
	flight  singleflight.Group // the PING in flight, shared by the checks
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
// error once timeout has passed or ctx has ended, whichever comes first. The
// PING's context is its own, not a request's: the checks that share it may
// be cancelled one by one.
func (rd *readiness) check(ctx context.Context) error {
	ch := rd.flight.DoChan("ping", func() (any, error) {
		pctx, cancel := context.WithTimeout(context.Background(), rd.timeout)
		defer cancel()
		return nil, rd.ping.Ping(pctx)
	})
	timer := time.NewTimer(rd.timeout)
	defer timer.Stop()
	select {
	case res := <-ch:
		return res.Err
	case <-timer.C:
		return fmt.Errorf("ping redis: no answer within %v", rd.timeout)
	case <-ctx.Done():
		return fmt.Errorf("ping redis: %w", ctx.Err())
	}
}
