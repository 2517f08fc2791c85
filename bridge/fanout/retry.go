package fanout

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/scim-bridge/scim-bridge/bridge/internal/clip"
	"github.com/scim-bridge/scim-bridge/connectors"
	"github.com/scim-bridge/scim-bridge/store"
)

// Retry policy of the worker (alertmanager-style bounded, jittered exponential
// backoff). A new retry rule belongs in this file.
const (
	// DefaultBackoffBase is the delay before the first retry.
	DefaultBackoffBase = 1 * time.Second
	backoffCap         = 10 * time.Minute
	// maxAttempts: a subject still failing after this many retryable attempts goes
	// to the dead-letter set (visible in status, re-playable with retry).
	maxAttempts = 15
	// DefaultLeaseTTL is how long a claimed key stays leased without a
	// heartbeat; a running convergence extends it every third of it, so a
	// crashed replica's work waits seconds, not minutes.
	DefaultLeaseTTL = 15 * time.Second
	claimBatch      = 64
	// IdlePoll is the longest the dispatcher sleeps between two looks at the
	// queue (other replicas and webhooks add work too).
	IdlePoll = 500 * time.Millisecond
)

// backoff returns the delay before attempt n (1-based): base·2^(n-1), capped,
// with ±20% jitter.
func backoff(base time.Duration, n int) time.Duration {
	d := base
	for i := 1; i < n && d < backoffCap; i++ {
		d *= 2
	}
	if d > backoffCap {
		d = backoffCap
	}
	j := time.Duration(rand.Int64N(int64(d)/5*2+1)) - d/5
	return d + j
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

// cooldowns hold the connectors of a tenant that asked the bridge to back off
// (429 with Retry-After): no call before the time recorded.
type cooldowns struct {
	mu    sync.Mutex
	until map[string]time.Time // tenant/connector → no calls before
}

func (c *cooldowns) get(tenantID, connector string) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.until[tenantID+"/"+connector]
}

func (c *cooldowns) set(tenantID, connector string, until time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.until == nil {
		c.until = map[string]time.Time{}
	}
	k := tenantID + "/" + connector
	if until.After(c.until[k]) {
		c.until[k] = until
	}
}

// retryRule applies the retry policy to a failed convergence: a permanent error
// or too many attempts park the subject in the dead-letter set; anything else is
// retried after a jittered backoff, or after the downstream's Retry-After (which
// also holds every call of that connector until then). It updates st and
// returns when to retry (zero: not at all).
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
		delay := backoff(w.opts.BackoffBase, st.Attempts)
		if class == connectors.RateLimited {
			if ra := connectors.RetryAfterOf(err); ra > 0 {
				delay = ra
			}
			w.cooldowns.set(tenantID, connector, w.now().Add(delay))
		}
		st.Status = store.SyncRetrying
		retryAt = spread(w.now(), w.now().Add(delay))
	}
	st.NextRetry = retryAt
	return retryAt
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
