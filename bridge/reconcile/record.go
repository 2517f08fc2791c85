package reconcile

import (
	"context"
	"errors"
	"time"

	"github.com/scim-bridge/scim-bridge/store"
)

// recordTimeout bounds the store write of a run's record, which is made even
// when the run's context ended (a run stopped by shutdown is recorded too).
const recordTimeout = 5 * time.Second

// runOutcome classifies how a run ended, for its record and the run counter:
//
//   - store.ReconcileOK: no error and every subject and object could be checked;
//   - store.ReconcileAborted: the run stopped before it was done — refused at the
//     deletion threshold, the reconcile lock lost, or its context ended;
//   - store.ReconcileFailed: any other error, or a plan with errors (some
//     subjects could not be checked or orphans not pruned), as the CLI's exit
//     status counts it.
func runOutcome(ctx context.Context, plan *Plan, err error) string {
	switch {
	case err == nil && (plan == nil || len(plan.Errors) == 0):
		return store.ReconcileOK
	case errors.Is(err, ErrTooManyDeletions), errors.Is(err, store.ErrLockLost),
		errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded), ctx.Err() != nil:
		return store.ReconcileAborted
	}
	return store.ReconcileFailed
}

// record counts a run in Metrics and records it in the store, where its time,
// outcome and plan counts are shared by every replica (the time of a tenant's
// last successful run is what the alert on reconciliations not running reads).
// Only full runs that may change something are recorded: a dry run or a run
// restricted to one connector repairs nothing by itself; a run of an unknown
// tenant or connector never started.
func (rc *Reconciler) record(ctx context.Context, tenantID string, opts RunOptions, plan *Plan, err error) {
	if opts.DryRun || opts.Connector != "" || rc.tenants.Get(tenantID) == nil {
		return
	}
	outcome := runOutcome(ctx, plan, err)
	if rc.opts.Metrics != nil {
		rc.opts.Metrics.ReconcileRun(tenantID, outcome)
	}
	run := store.ReconcileRun{At: rc.now(), Outcome: outcome}
	if plan != nil {
		run.Checked, run.Changes, run.Deletions, run.Errors = plan.Checked, len(plan.Items), plan.Deletions, len(plan.Errors)
	}
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	if err := rc.store.RecordReconcile(wctx, tenantID, run); err != nil {
		rc.log.Warn().Err(err).Str("tenant", tenantID).Str("outcome", outcome).Msg("reconcile: the run could not be recorded")
	}
}
