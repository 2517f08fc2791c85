package scim_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/scim-bridge/scim-bridge/connectors"
	"github.com/scim-bridge/scim-bridge/connectors/scim/fake"
)

// BenchmarkConvergeConverged is the steady state of a reconcile run: one GET by
// the recorded id, no write.
func BenchmarkConvergeConverged(b *testing.B) {
	h := newHarness(b, setup{})
	id := h.srv.Seed(downstream(alice, true)).ID
	s, prev := userSubject(alice), rec(id)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := h.c.Converge(context.Background(), s, prev, connectors.Options{}); err != nil {
			b.Fatal(err)
		}
	}
	if h.srv.Writes() != 0 {
		b.Fatal("writes")
	}
}

// BenchmarkInventory1000 lists 1000 users in pages of 100.
func BenchmarkInventory1000(b *testing.B) {
	h := newHarness(b, setup{})
	for i := range 1000 {
		h.srv.Seed(fake.User{UserName: fmt.Sprint("u", i), Active: true})
	}
	inv := h.c.(connectors.Inventory)
	b.ReportAllocs()
	for b.Loop() {
		n := 0
		if err := inv.Inventory(context.Background(), func(connectors.Observed) error { n++; return nil }); err != nil || n != 1000 {
			b.Fatal(n, err)
		}
	}
}
