package fanout

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/rs/zerolog"

	"github.com/scim-bridge/scim-bridge/bridge/internal/clip"
	"github.com/scim-bridge/scim-bridge/connectors"
	"github.com/scim-bridge/scim-bridge/store"
)

// Retry policy of the worker: bounded, jittered exponential backoff that tells
// sporadic errors from a failing API, as production controllers do. An error of
// a connector whose recent success ratio for the tenant is high (health.go) is
// sporadic: it is retried within seconds (after half the base, then doubling
// up to sporadicCap) for the first sporadicStreak attempts of a subject. Only
// while the API fails broadly, or when one subject keeps failing where others
// succeed, does the delay grow to backoffCap. A 429 with Retry-After is retried
// when the downstream said, whatever the attempts before. A new retry rule
// belongs in this file.
const (
	// DefaultBackoffBase is the delay before the first retry of an API
	// failing broadly.
	DefaultBackoffBase = 1 * time.Second
	backoffCap         = 10 * time.Minute
	// sporadicCap bounds the delay of a sporadic error (before jitter): six
	// sporadic errors in a row of one subject (one in 4,000 at a 25% failure
	// rate per convergence) cost about 10 s, not a minute.
	sporadicCap = 2 * time.Second
	// sporadicStreak is how many failed attempts in a row of one subject are
	// still sporadic on a healthy connector: at a 50% failure rate (the worst
	// healthy one) eight in a row happen with probability 0.4%; beyond that
	// the subject itself is the problem and the delay doubles from sporadicCap.
	sporadicStreak = 8
	// maxAttempts: a subject still failing after this many retryable attempts goes
	// to the dead-letter set (visible in status, re-playable with retry). The
	// sporadicStreak quick attempts take about a quarter of a minute, so the
	// limit is the former 15 plus 5 of them: a subject failing alone on a
	// healthy connector still goes dead after about an hour, as before.
	maxAttempts = 20
	// DefaultLeaseTTL is how long a claimed key stays leased without a
	// heartbeat; a running convergence extends it every third of it, so a
	// crashed replica's work waits seconds, not minutes.
	DefaultLeaseTTL = 15 * time.Second
	claimBatch      = 64
	// IdlePoll is the longest the dispatcher sleeps between two looks at the
	// queue (other replicas and webhooks add work too).
	IdlePoll = 500 * time.Millisecond
)

// backoff returns the delay before attempt n (1-based) of an error that is not
// sporadic: base·2^(n-1), capped, with ±20% jitter.
func backoff(base time.Duration, n int) time.Duration {
	return jitter(doubled(base, n-1, backoffCap))
}

// retryDelay returns the delay after the n-th failed attempt (1-based) of a
// subject; sporadic says the connector mostly succeeds. See the constants.
func retryDelay(base time.Duration, n int, sporadic bool) time.Duration {
	switch {
	case !sporadic:
		return backoff(base, n)
	case n <= sporadicStreak:
		return jitter(doubled(max(base/2, time.Millisecond), n-1, sporadicCap))
	default:
		return jitter(doubled(max(sporadicCap, base), n-sporadicStreak, backoffCap))
	}
}

// doubled returns d doubled k times, at most limit.
func doubled(d time.Duration, k int, limit time.Duration) time.Duration {
	for i := 0; i < k && d < limit; i++ {
		d *= 2
	}
	return min(d, limit)
}

// jitter returns d ±20%.
func jitter(d time.Duration) time.Duration {
	return d + time.Duration(rand.Int64N(int64(d)/5*2+1)) - d/5
}

// spread returns a time shortly after until (up to a fifth of the wait, plus up to
// 100 ms), so subjects held back by one Retry-After do not all come due at once.
func spread(now, until time.Time) time.Time {
	d := until.Sub(now)
	if d < 0 {
		d = 0
	}
	return until.Add(time.Duration(rand.Int64N(int64(d)/5 + int64(100*time.Millisecond))))
}

// retryRule applies the retry policy to a failed convergence: a permanent error
// or too many attempts park the subject in the dead-letter set; a 429 with
// Retry-After is retried shortly after that time, however many attempts came
// before (the downstream refused the request; it did not fail it); anything
// else is retried after a jittered backoff (short while the connector mostly
// succeeds, see retryDelay), and never before a Retry-After it carries (a 503).
// Whether the other subjects of the connector wait too is the throttle's call
// (connectors.Adaptive): it holds every request, on every replica, when the
// refusals are not alone. It updates st and returns when to retry (zero: not
// at all).
func (w *Worker) retryRule(tenantID, connector string, st *store.SyncState, err error) time.Time {
	class := connectors.ClassOf(err)
	st.LastError = clip.Error(err) // it may quote a userName of any size

	var retryAt time.Time
	switch {
	case class == connectors.Permanent:
		st.Status = store.SyncDead
	case st.Attempts >= maxAttempts:
		st.Status = store.SyncDead
		st.LastError = fmt.Sprintf("gave up after %d attempts: %s", st.Attempts, st.LastError)
	default:
		now := w.now()
		st.Status = store.SyncRetrying
		ra := connectors.RetryAfterOf(err)
		if class == connectors.RateLimited && ra > 0 {
			retryAt = spread(now, now.Add(ra))
			break
		}
		delay := retryDelay(w.opts.BackoffBase, st.Attempts, w.health.healthy(tenantID, connector, now))
		if ra >= delay {
			retryAt = spread(now, now.Add(ra))
		} else {
			retryAt = now.Add(delay)
		}
	}
	st.NextRetry = retryAt
	return retryAt
}

// observe counts the outcome of a convergence that reached the downstream in
// the connector's health: successes, and failures of an API that answered
// badly (5xx, timeouts). A refusal of the throttle, a 429 or a 4xx says
// nothing about whether the API works.
func (w *Worker) observe(tenantID, connector string, err error) {
	switch {
	case err == nil:
		w.health.record(tenantID, connector, w.now(), true)
	case connectors.ClassOf(err) == connectors.Retryable && connectors.StatusOf(err) != http.StatusConflict:
		// a 409 is retried, but it is a refusal like any 4xx, not a failure
		w.health.record(tenantID, connector, w.now(), false)
	}
}

// failureEvent is the log line of a failed attempt: a warning when the error is
// new for the subject or the subject just went dead, a debug line when it
// failed again the same way (a line per attempt would flood the log during an
// outage).
func (w *Worker) failureEvent(prevStatus, prevError string, st *store.SyncState) *zerolog.Event {
	if st.Status == store.SyncDead || prevStatus != store.SyncRetrying || prevError != st.LastError {
		return w.log.Warn()
	}
	return w.log.Debug()
}
