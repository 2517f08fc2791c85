package store

// Reconciliation runs per tenant: when the last run ended, how, and what its
// plan held, plus the same for the last successful run. Kept in Redis so every
// replica (and a one-shot `reconcile` process) reports one shared history.
//
//	sb:{t}:reconcile:runs   HASH  "last" → run JSON, "success" → run JSON

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Outcomes of a reconciliation run.
const (
	ReconcileOK      = "ok"      // the run completed: every subject checked, the plan applied
	ReconcileFailed  = "failed"  // the run ended with an error, or some subjects could not be checked
	ReconcileAborted = "aborted" // the run stopped before applying: deletion threshold, lock lost, shutdown
)

// ReconcileOutcomes lists every outcome, in a stable order.
var ReconcileOutcomes = []string{ReconcileOK, ReconcileFailed, ReconcileAborted}

// Fields of the reconcile runs hash.
const (
	reconcileLastField    = "last"
	reconcileSuccessField = "success"
)

// ReconcileRun is the record of one reconciliation run of a tenant.
type ReconcileRun struct {
	// At is when the run ended (millisecond precision, UTC when read back).
	At time.Time `json:"at"`
	// Outcome is ReconcileOK, ReconcileFailed or ReconcileAborted.
	Outcome string `json:"outcome"`
	// Checked, Changes, Deletions and Errors count the run's plan: subjects
	// checked, changes planned, deletions among them, subjects or objects that
	// could not be checked.
	Checked   int `json:"checked"`
	Changes   int `json:"changes"`
	Deletions int `json:"deletions"`
	Errors    int `json:"errors"`
}

// ReconcileHistory is what the store keeps of a tenant's reconciliation runs.
// A zero run (At.IsZero()) means none was recorded.
type ReconcileHistory struct {
	Last        ReconcileRun // the last recorded run, whatever its outcome
	LastSuccess ReconcileRun // the last recorded run whose outcome was ReconcileOK
}

// reconcileRunsKey holds a tenant's reconcile history.
func reconcileRunsKey(tenant string) string { return key(tenant, "reconcile", "runs") }

func validReconcileOutcome(o string) bool {
	switch o {
	case ReconcileOK, ReconcileFailed, ReconcileAborted:
		return true
	}
	return false
}

// RecordReconcile records run as tenant's last run and, when its outcome is
// ReconcileOK, as its last successful run too, in one atomic write. Runs of a
// tenant are serialized by its reconcile lock, so the last write is the latest
// run; the store does not compare times.
func (s *Store) RecordReconcile(ctx context.Context, tenant string, run ReconcileRun) error {
	switch {
	case tenant == "" || strings.ContainsAny(tenant, "{}"):
		return fmt.Errorf("record reconcile: tenant %q: must be non-empty and contain no braces", tenant)
	case !validReconcileOutcome(run.Outcome):
		return fmt.Errorf("record reconcile of tenant %q: outcome %q: want one of %v", tenant, run.Outcome, ReconcileOutcomes)
	case run.At.IsZero():
		return fmt.Errorf("record reconcile of tenant %q: no time", tenant)
	}
	run.At = scoreTime(queueScore(run.At))
	b, err := json.Marshal(run)
	if err != nil {
		return fmt.Errorf("record reconcile of tenant %q: %w", tenant, err)
	}
	fields := []any{reconcileLastField, b}
	if run.Outcome == ReconcileOK {
		fields = append(fields, reconcileSuccessField, b)
	}
	if err := s.rdb.HSet(ctx, reconcileRunsKey(tenant), fields...).Err(); err != nil {
		return fmt.Errorf("record reconcile of tenant %q: %w", tenant, err)
	}
	return nil
}

// ReconcileHistory reads what RecordReconcile kept of tenant's runs; a tenant
// without any recorded run has a zero history and no error.
func (s *Store) ReconcileHistory(ctx context.Context, tenant string) (ReconcileHistory, error) {
	if tenant == "" || strings.ContainsAny(tenant, "{}") {
		return ReconcileHistory{}, fmt.Errorf("reconcile history: tenant %q: must be non-empty and contain no braces", tenant)
	}
	vals, err := s.rdb.HMGet(ctx, reconcileRunsKey(tenant), reconcileLastField, reconcileSuccessField).Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return ReconcileHistory{}, fmt.Errorf("reconcile history of tenant %q: %w", tenant, err)
	}
	var h ReconcileHistory
	for i, dst := range []*ReconcileRun{&h.Last, &h.LastSuccess} {
		if i >= len(vals) || vals[i] == nil {
			continue
		}
		v, ok := vals[i].(string)
		if !ok {
			return ReconcileHistory{}, fmt.Errorf("reconcile history of tenant %q: unexpected %T", tenant, vals[i])
		}
		if err := json.Unmarshal([]byte(v), dst); err != nil {
			return ReconcileHistory{}, fmt.Errorf("reconcile history of tenant %q: %w", tenant, err)
		}
		dst.At = dst.At.UTC()
	}
	return h, nil
}
