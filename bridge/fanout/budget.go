package fanout

import "sync"

// budgets split the workers of one replica between tenants, so a tenant whose
// downstream is slow, throttled or down never takes the workers another tenant
// needs: each tenant with work has a share of workers/tenants of its own; the
// share of a tenant with nothing due is lent to the others until it has work
// again, and comes back as the borrowed jobs end. A tenant never takes every
// worker while others may get work: a few stay idle (reserve, one per other
// tenant up to a quarter of the workers), so work arriving for an idle tenant
// starts at once instead of waiting for a borrowed job to end (a convergence
// against a slow downstream can take seconds). It is safe for concurrent use
// (jobs end on their own goroutines).
type budgets struct {
	mu      sync.Mutex
	workers int
	share   int
	reserve int             // workers no tenant may borrow into
	busy    map[string]int  // running jobs per tenant
	active  map[string]bool // the tenant had work due at its last claim
}

// newBudgets splits workers between the tenants named.
func newBudgets(workers int, tenants []string) *budgets {
	b := &budgets{workers: workers, share: max(1, workers/max(1, len(tenants))),
		busy: map[string]int{}, active: map[string]bool{}}
	if len(tenants) > 1 {
		b.reserve = min(len(tenants)-1, max(1, workers/4))
	}
	for _, t := range tenants {
		b.active[t] = true // until its first claim says otherwise
	}
	return b
}

// allowance is how many keys tenant may claim now, with free idle workers: free
// minus what the other active tenants have not used of their shares, but never
// less than what is left of tenant's own share; beyond its share, never into
// the reserve.
func (b *budgets) allowance(tenant string, free int) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	reserved := 0
	for u, active := range b.active {
		if u != tenant && active {
			reserved += max(0, b.share-b.busy[u])
		}
	}
	own := min(free, max(0, b.share-b.busy[tenant]))
	borrow := min(free-reserved, max(0, b.workers-b.reserve-b.busy[tenant]))
	return max(own, borrow)
}

// claimed records the outcome of a claim for tenant: n keys claimed, asked for
// want. A tenant that got none has nothing due; its share is lent out.
func (b *budgets) claimed(tenant string, n, want int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.busy[tenant] += n
	if want > 0 {
		b.active[tenant] = n > 0
	}
}

// done records the end of one of tenant's jobs.
func (b *budgets) done(tenant string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.busy[tenant]--
}
