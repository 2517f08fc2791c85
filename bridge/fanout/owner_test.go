package fanout

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scim-bridge/scim-bridge/bridge/internal/fakeconn"
	"github.com/scim-bridge/scim-bridge/connectors"
	"github.com/scim-bridge/scim-bridge/store"
)

// ownedConn is a fake whose objects are owned by a user (connectors.Owned).
type ownedConn struct{ *fakeconn.Connector }

func (ownedConn) Owner(ctx context.Context, s connectors.Subject) (*connectors.Subject, error) {
	return &connectors.Subject{Kind: connectors.SubjectUser, ID: "alice"}, nil
}

// TestOwnerLeaseKeptDuringAConvergence: an object's convergence holds its
// owner's lease for as long as it runs (here three lease TTLs), so the owner,
// marked meanwhile, never converges beside it.
func TestOwnerLeaseKeptDuringAConvergence(t *testing.T) {
	t.Parallel()
	st := openTestStore(t)
	createUser(t, st, "alice")
	var objRunning, userRunning, overlap atomic.Int32
	fc := &fakeconn.Connector{ConnName: "inv", ConvergeFunc: func(ctx context.Context, s connectors.Subject, prev connectors.Record, o connectors.Options) (connectors.Record, []connectors.Action, error) {
		switch s.Kind {
		case connectors.SubjectObject:
			objRunning.Store(1)
			defer objRunning.Store(0)
			select { // a slow downstream: 3 lease TTLs
			case <-time.After(3 * time.Second):
			case <-ctx.Done():
			}
			if userRunning.Load() == 1 {
				overlap.Add(1)
			}
		case connectors.SubjectUser:
			userRunning.Store(1)
			defer userRunning.Store(0)
			if objRunning.Load() == 1 {
				overlap.Add(1)
			}
			time.Sleep(50 * time.Millisecond)
		}
		return prev, nil, nil
	}}
	ctx := context.Background()
	// the object first, the user only once the object's convergence runs
	if err := st.MarkDirty(ctx, "acme", store.WorkKey{Tenant: "acme", Kind: store.WorkObject, ID: "inv/inv1"}); err != nil {
		t.Fatal(err)
	}
	startWorker(t, st, ownedConn{fc}, "replica-a", Options{LeaseTTL: time.Second})
	waitFor(t, 2*time.Second, func() error {
		if objRunning.Load() == 1 {
			return nil
		}
		return context.DeadlineExceeded
	})
	time.Sleep(1500 * time.Millisecond) // past the owner's lease TTL
	// a change of alice (forced: her desired hash is unchanged)
	if err := st.ForceConverge(ctx, "acme", store.WorkKey{Tenant: "acme", Kind: store.WorkUser, ID: "alice"}, "inv"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second)
	if n := overlap.Load(); n > 0 {
		t.Fatalf("the owner (user alice) converged %d time(s) while a convergence of its object held (supposedly) its lease", n)
	}
}
