package fanout

import "sync"

// budgets split the workers of one replica between tenants, so a tenant whose
// downstream is slow, throttled or down never takes the workers another tenant
// needs: each tenant with work has a share of workers/tenants of its own; the
// share of a tenant with nothing due is lent to the others until it has work
// again, and comes back as the borrowed jobs end. It is safe for concurrent use
// (jobs end on their own goroutines).
type budgets struct {
	mu      sync.Mutex
	workers int
	share   int
	busy    map[string]int  // running jobs per tenant
	active  map[string]bool // the tenant had work due at its last claim
}

// newBudgets splits workers between the tenants named.
func newBudgets(workers int, tenants []string) *budgets {
	b := &budgets{workers: workers, share: max(1, workers/max(1, len(tenants))),
		busy: map[string]int{}, active: map[string]bool{}}
	for _, t := range tenants {
		b.active[t] = true // until its first claim says otherwise
	}
	return b
}

// allowance is how many keys tenant may claim now, with free idle workers: free
// minus what the other active tenants have not used of their shares, but never
// less than what is left of tenant's own share.
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
	return max(own, free-reserved)
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
