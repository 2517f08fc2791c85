package fanout

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/scim-bridge/scim-bridge/bridge/internal/tenant"
	"github.com/scim-bridge/scim-bridge/store"
)

// pollCounter is a store whose queue always has work due now, counting how
// often the dispatcher looks.
type pollCounter struct {
	Store
	claims, nextDues atomic.Int64
}

func (p *pollCounter) Claim(context.Context, string, string, time.Duration, int) ([]store.Claim, error) {
	p.claims.Add(1)
	return nil, nil
}

func (p *pollCounter) NextDue(context.Context, string) (time.Time, bool, error) {
	p.nextDues.Add(1)
	return time.Now().Add(-time.Minute), true, nil
}

// A tenant without connectors has dirty marks (every write makes them) that no
// one ever claims: they must not make the dispatcher poll the store in a loop.
func TestDispatcherIgnoresTenantsWithoutConnectors(t *testing.T) {
	t.Parallel()
	ts, err := tenant.NewSet([]*tenant.Tenant{{ID: "quiet"}})
	if err != nil {
		t.Fatal(err)
	}
	st := &pollCounter{}
	w := New(Options{Store: st, Tenants: ts, Logger: zerolog.Nop(), Now: time.Now})
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	w.Run(ctx, 4)
	// Sleeping IdlePoll between looks allows one or two in 300 ms; the bug
	// looked every millisecond.
	if n := st.nextDues.Load() + st.claims.Load(); n > 4 {
		t.Fatalf("dispatcher looked at the store %d times in 300 ms for a tenant without connectors", n)
	}
}
