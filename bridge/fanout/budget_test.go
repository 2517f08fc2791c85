package fanout

import "testing"

func TestBudgetsSeparateSharesAndLending(t *testing.T) {
	t.Parallel()
	b := newBudgets(32, []string{"acme", "globex"})
	// Both have work: acme cannot take globex's share.
	if got := b.allowance("acme", 32); got != 16 {
		t.Fatalf("acme allowance %d, want its share 16", got)
	}
	b.claimed("acme", 16, 16)
	if got := b.allowance("acme", 16); got != 0 {
		t.Fatalf("acme allowance with its share in use %d, want 0", got)
	}
	if got := b.allowance("globex", 16); got != 16 {
		t.Fatalf("globex allowance %d, want 16", got)
	}
	// globex has nothing due: its share is lent to acme, all but the one
	// worker kept idle for globex's next work.
	b.claimed("globex", 0, 16)
	if got := b.allowance("acme", 16); got != 15 {
		t.Fatalf("acme allowance with globex idle %d, want 15 (one worker in reserve)", got)
	}
	b.claimed("acme", 15, 15)
	if got := b.allowance("acme", 1); got != 0 {
		t.Fatalf("acme allowance %d for the reserved worker, want 0", got)
	}
	// globex has work again: it starts at once on the reserved worker, and
	// the borrowed workers come back as acme's jobs end; acme gets none of
	// them while globex is below its share.
	if got := b.allowance("globex", 1); got != 1 {
		t.Fatalf("globex allowance %d, want the reserved worker", got)
	}
	b.claimed("globex", 1, 1)
	for range 4 {
		b.done("acme")
	}
	if got := b.allowance("globex", 4); got != 4 {
		t.Fatalf("globex allowance %d, want the 4 freed workers", got)
	}
	b.claimed("globex", 4, 4)
	if got := b.allowance("acme", 0); got != 0 {
		t.Fatalf("acme allowance %d with no idle worker", got)
	}
	for range 3 {
		b.done("acme")
	}
	if got := b.allowance("acme", 3); got != 0 {
		t.Fatalf("acme allowance %d while above its share and globex below, want 0", got)
	}
	// Many tenants: the reserve is at most a quarter of the workers.
	many := newBudgets(8, []string{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j"})
	for _, u := range []string{"b", "c", "d", "e", "f", "g", "h", "i", "j"} {
		many.claimed(u, 0, 1)
	}
	if got := many.allowance("a", 8); got != 6 {
		t.Fatalf("lone busy tenant of ten, 8 workers: allowance %d, want 6", got)
	}
	// A single tenant has every worker.
	one := newBudgets(32, []string{"acme"})
	if got := one.allowance("acme", 32); got != 32 {
		t.Fatalf("single tenant allowance %d, want 32", got)
	}
}
