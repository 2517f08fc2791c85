package fanout

import (
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/scim-bridge/scim-bridge/connectors"
	"github.com/scim-bridge/scim-bridge/store"
)

// Auditor is told every convergence for the audit trail. Record must not block.
type Auditor interface {
	Record(tenant string, e store.AuditEntry)
}

// audit records one convergence: the actions taken, the outcome, the error
// class and why the next attempt is when it is.
func (w *Worker) audit(tenantID, subj string, st *store.SyncState, actions []connectors.Action, err error, elapsed time.Duration) {
	if w.opts.Audit == nil {
		return
	}
	e := store.AuditEntry{
		Kind: store.AuditDownstream, Subject: subj, Connector: st.Connector, Outcome: st.Status,
		DurationMS: elapsed.Milliseconds(), Attempt: st.Attempts, Action: describeActions(actions),
	}
	if err != nil {
		e.ErrorClass = connectors.ClassOf(err).String()
		e.Error = st.LastError
		e.Reason = RetryReason(err, st)
		e.Until = st.NextRetry
	}
	w.opts.Audit.Record(tenantID, e)
}

// RetryReason says why a failed subject is retried when it is (or not at all).
func RetryReason(err error, st *store.SyncState) string {
	class := connectors.ClassOf(err)
	switch {
	case st.Status == store.SyncDead && class == connectors.Permanent:
		return "permanent error: parked in the dead letters until retried or changed"
	case st.Status == store.SyncDead:
		return "gave up after too many attempts: parked in the dead letters"
	case class == connectors.RateLimited && connectors.RetryAfterOf(err) > 0:
		return "throttle: the downstream asked to wait (Retry-After " + connectors.RetryAfterOf(err).String() + "); every call of this connector waits"
	case class == connectors.RateLimited:
		return "throttle: rate limited; exponential backoff"
	}
	var ce *connectors.Error
	if errors.As(err, &ce) && ce.Status >= 500 {
		return "backoff: downstream error, exponential backoff with jitter"
	}
	return "backoff: exponential backoff with jitter after attempt " + strconv.Itoa(st.Attempts)
}

func describeActions(actions []connectors.Action) string {
	if len(actions) == 0 {
		return ""
	}
	parts := make([]string, 0, min(len(actions), 10))
	for i, a := range actions {
		if i == 10 {
			parts = append(parts, "…")
			break
		}
		parts = append(parts, string(a.Op)+" "+a.Object)
	}
	return strings.Join(parts, "; ")
}
