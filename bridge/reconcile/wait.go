package reconcile

import (
	"context"
	"fmt"
	"time"

	"github.com/scim-bridge/scim-bridge/store"
)

// Polling of the waits: how often, and how long WaitReleased waits at most for
// the leases of a tenant's work to be released.
const (
	repairPoll = 100 * time.Millisecond
	leasePoll  = 20 * time.Millisecond
	leaseGrace = 2 * time.Second
)

// WaitRepaired polls the sync state of every subject p touched until each is
// synced or dead (true when all are synced) or ctx ends (false). It waits for
// every subject rather than stopping at the first dead one: the caller stops its
// workers next, and a repair still in flight would be left half-done, its lease
// held until it expires. Each dead subject is added to p's errors, as is a
// timeout. Orphans are not waited for: their prune ran during the run itself.
func (rc *Reconciler) WaitRepaired(ctx context.Context, p *Plan) bool {
	tick := time.NewTicker(repairPoll)
	defer tick.Stop()
	for {
		settled := true
		var dead []string
		seen := map[string]bool{}
		for _, it := range p.Items {
			if it.Subject == OrphanSubject || seen[it.Connector+" "+it.Subject] {
				continue
			}
			seen[it.Connector+" "+it.Subject] = true
			st, err := rc.store.GetSync(ctx, p.Tenant, it.Connector, it.Subject)
			switch {
			case err == nil && st.Status == store.SyncSynced:
			case err == nil && st.Status == store.SyncDead:
				dead = append(dead, fmt.Sprintf("%s %s: not repaired: %s", it.Connector, it.Subject, st.LastError))
			default:
				settled = false
			}
		}
		if settled {
			p.Errors = append(p.Errors, dead...)
			return len(dead) == 0
		}
		select {
		case <-ctx.Done():
			p.Errors = append(p.Errors, dead...)
			p.Errors = append(p.Errors, "repairs did not converge in time")
			return false
		case <-tick.C:
		}
	}
}

// WaitReleased waits (at most leaseGrace) until the tenants of plans hold no
// leased work: a worker records a subject's state before it releases the lease,
// and one stopped in between would leave the lease to expire. Leases of other
// running processes count too, hence the bound.
func (rc *Reconciler) WaitReleased(ctx context.Context, plans []*Plan) {
	ctx, cancel := context.WithTimeout(ctx, leaseGrace)
	defer cancel()
	tick := time.NewTicker(leasePoll)
	defer tick.Stop()
	for _, p := range plans {
		for {
			qs, err := rc.store.QueueStats(ctx, p.Tenant)
			if err != nil || qs.Leased == 0 {
				break
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}
}
