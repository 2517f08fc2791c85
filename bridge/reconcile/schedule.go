package bridge

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/scim-bridge/scim-bridge/store"
)

// scheduleReconcile runs a reconciliation of t every t.reconcileEvery until ctx is
// done. With several replicas on one Redis, a lock elects one runner per tenant
// at a time; the lock is renewed while the run lasts and checked again before the
// plan is applied, so a replica that lost it (paused, partitioned) does not act.
func (b *Bridge) scheduleReconcile(ctx context.Context, t *tenant) {
	if t.reconcileEvery <= 0 || len(t.connectors) == 0 {
		return
	}
	timer := time.NewTimer(t.reconcileEvery)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		if _, err := b.ReconcileLocked(ctx, t.id, ReconcileOptions{}); err != nil && ctx.Err() == nil {
			if errors.Is(err, store.ErrLocked) {
				b.log.Debug().Str("tenant", t.id).Msg("reconcile: another replica holds the lock")
			} else {
				b.log.Error().Err(err).Str("tenant", t.id).Msg("scheduled reconcile")
			}
		}
		timer.Reset(t.reconcileEvery)
	}
}

// ReconcileLocked is Reconcile under the tenant's reconcile lock (store.ErrLocked
// when another replica is running one).
func (b *Bridge) ReconcileLocked(ctx context.Context, tenantID string, opts ReconcileOptions) (*Plan, error) {
	lock, err := b.store.AcquireLock(ctx, tenantID, reconcileLockName, b.opts.InstanceID, reconcileLockTTL)
	if err != nil {
		return nil, fmt.Errorf("reconcile lock: %w", err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	lost := make(chan struct{})
	go func() {
		tick := time.NewTicker(reconcileLockTTL / 3)
		defer tick.Stop()
		for {
			select {
			case <-runCtx.Done():
				return
			case <-tick.C:
				if err := b.store.RenewLock(runCtx, lock, reconcileLockTTL); err != nil {
					if runCtx.Err() == nil {
						b.log.Warn().Err(err).Str("tenant", tenantID).Msg("reconcile lock lost; stopping the run")
						close(lost)
						cancel()
					}
					return
				}
			}
		}
	}()
	defer func() { _ = b.store.ReleaseLock(context.WithoutCancel(ctx), lock) }()
	start := b.now()
	plan, err := b.Reconcile(runCtx, tenantID, opts)
	select {
	case <-lost:
		return plan, fmt.Errorf("reconcile %s: %w", tenantID, store.ErrLockLost)
	default:
	}
	if plan != nil {
		b.log.Info().Str("tenant", tenantID).Int("checked", plan.Checked).Int("changes", len(plan.Items)).
			Int("deletions", plan.Deletions).Bool("dry_run", plan.DryRun).Bool("refused", plan.Refused).
			Int("errors", len(plan.Errors)).Dur("duration", b.now().Sub(start)).Msg("reconcile run")
	}
	return plan, err
}
