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
	// globex has nothing due: its share is lent to acme.
	b.claimed("globex", 0, 16)
	if got := b.allowance("acme", 16); got != 16 {
		t.Fatalf("acme allowance with globex idle %d, want 16", got)
	}
	b.claimed("acme", 16, 16)
	// globex has work again: the borrowed workers come back as acme's jobs end,
	// and acme gets none of them while globex is below its share.
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
	for range 4 {
		b.done("acme")
	}
	if got := b.allowance("acme", 4); got != 0 {
		t.Fatalf("acme allowance %d while above its share and globex below, want 0", got)
	}
	// A single tenant has every worker.
	one := newBudgets(32, []string{"acme"})
	if got := one.allowance("acme", 32); got != 32 {
		t.Fatalf("single tenant allowance %d, want 32", got)
	}
}
