package audit

import (
	"time"

	"github.com/scim-bridge/scim-bridge/bridge/reconcile"
	"github.com/scim-bridge/scim-bridge/store"
)

// ReconcileRun records one reconciliation run: its plan's counts, what was
// repaired, who triggered it and how it ended. It fits reconcile.Options.OnRun.
func (r *Recorder) ReconcileRun(tenantID string, opts reconcile.RunOptions, plan *reconcile.Plan, d time.Duration, err error) {
	trigger := opts.Trigger
	if trigger == "" {
		trigger = "api"
	}
	e := store.AuditEntry{Kind: store.AuditReconcile, Connector: opts.Connector, Trigger: trigger, DurationMS: d.Milliseconds(), Outcome: "applied"}
	if plan != nil {
		e.Counts = map[string]int{"checked": plan.Checked, "changes": len(plan.Items), "deletions": plan.Deletions, "errors": len(plan.Errors)}
		ops := map[string]int{}
		for _, it := range plan.Items {
			ops[string(it.Op)]++
		}
		for op, n := range ops {
			e.Counts["op:"+op] = n
		}
		switch {
		case plan.DryRun:
			e.Outcome = "dry-run"
		case plan.Refused:
			e.Outcome = "refused"
		default:
			e.Counts["repairs"] = len(plan.Items)
		}
	}
	if err != nil {
		e.Outcome, e.Error = "failed", err.Error()
	}
	r.Record(tenantID, e)
}
