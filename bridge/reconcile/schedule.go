package reconcile

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/scim-bridge/scim-bridge/bridge/internal/tenant"
	"github.com/scim-bridge/scim-bridge/store"
)

// Schedule runs a reconciliation of every tenant that has a reconcile_every,
// each on its own timer, until ctx is done.
func (rc *Reconciler) Schedule(ctx context.Context) {
	var wg sync.WaitGroup
	for _, t := range rc.tenants.All() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rc.schedule(ctx, t)
		}()
	}
	wg.Wait()
}

// schedule runs a reconciliation of t every t.ReconcileEvery until ctx is done.
// With several replicas on one Redis, a lock elects one runner per tenant at a
// time. The lock is renewed while the run lasts; when a renewal fails the run's
// context is cancelled, so a replica that lost the lock (paused, partitioned)
// stops checking and marking at its next store or downstream call. There is no
// separate check of the lock between planning and applying: a plan interrupted
// that way may be partly applied, which is harmless because applying only marks
// subjects dirty and the next run finds what is left.
func (rc *Reconciler) schedule(ctx context.Context, t *tenant.Tenant) {
	every := interval(t)
	if every == 0 {
		return
	}
	timer := time.NewTimer(every)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		if _, err := rc.ReconcileLocked(ctx, t.ID, RunOptions{Trigger: "schedule"}); err != nil && ctx.Err() == nil {
			if errors.Is(err, store.ErrLocked) {
				rc.log.Debug().Str("tenant", t.ID).Msg("reconcile: another replica holds the lock")
			} else {
				rc.log.Error().Err(err).Str("tenant", t.ID).Msg("scheduled reconcile")
			}
		}
		timer.Reset(every)
	}
}

// Interval is how often Schedule reconciles tenantID: its reconcile_every, or 0
// when it is not scheduled (no interval, no connector, unknown tenant).
func (rc *Reconciler) Interval(tenantID string) time.Duration {
	if t := rc.tenants.Get(tenantID); t != nil {
		return interval(t)
	}
	return 0
}

// interval is t's schedule; 0 means none.
func interval(t *tenant.Tenant) time.Duration {
	if t.ReconcileEvery <= 0 || len(t.Connectors) == 0 {
		return 0
	}
	return t.ReconcileEvery
}

// ReconcileLocked is Reconcile under the tenant's reconcile lock (store.ErrLocked
// when another replica is running one).
func (rc *Reconciler) ReconcileLocked(ctx context.Context, tenantID string, opts RunOptions) (*Plan, error) {
	lock, err := rc.store.AcquireLock(ctx, tenantID, LockName, rc.opts.Owner, reconcileLockTTL)
	if err != nil {
		err = fmt.Errorf("reconcile lock: %w", err)
		if !errors.Is(err, store.ErrLocked) {
			rc.record(ctx, tenantID, opts, nil, err) // the run could not start: Redis failing
		}
		return nil, err
	}
	runCtx, cancel := context.WithCancel(ctx)
	lost := make(chan struct{})
	renewDone := make(chan struct{}) // closed when the renewal goroutine has returned
	go func() {
		defer close(renewDone)
		tick := time.NewTicker(rc.lockRenewEvery)
		defer tick.Stop()
		for {
			select {
			case <-runCtx.Done():
				return
			case <-tick.C:
				if err := rc.store.RenewLock(runCtx, lock, reconcileLockTTL); err != nil {
					if runCtx.Err() == nil {
						rc.log.Warn().Err(err).Str("tenant", tenantID).Msg("reconcile lock lost; stopping the run")
						close(lost)
						cancel()
					}
					return
				}
			}
		}
	}()
	// The renewal stops, and is waited for, before the lock is released: a
	// renewal still in flight after the release would find the lock gone while
	// the run's context is live, and report a lost lock at a normal end.
	defer func() {
		cancel()
		<-renewDone
		_ = rc.store.ReleaseLock(context.WithoutCancel(ctx), lock)
	}()
	start := rc.now()
	plan, err := rc.reconcile(runCtx, tenantID, opts)
	select {
	case <-lost:
		err = fmt.Errorf("reconcile %s: %w", tenantID, store.ErrLockLost)
	default:
	}
	rc.record(ctx, tenantID, opts, plan, err)
	if plan != nil {
		rc.log.Info().Str("tenant", tenantID).Int("checked", plan.Checked).Int("changes", len(plan.Items)).
			Int("deletions", plan.Deletions).Bool("dry_run", plan.DryRun).Bool("refused", plan.Refused).
			Int("errors", len(plan.Errors)).Dur("duration", rc.now().Sub(start)).Msg("reconcile run")
	}
	if rc.opts.OnRun != nil {
		rc.opts.OnRun(tenantID, opts, plan, rc.now().Sub(start), err)
	}
	return plan, err
}
