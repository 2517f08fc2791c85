package fanout

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/scim-bridge/scim-bridge/bridge/internal/fakeconn"
	"github.com/scim-bridge/scim-bridge/bridge/internal/tenant"
	"github.com/scim-bridge/scim-bridge/connectors"
	"github.com/scim-bridge/scim-bridge/store"
)

func forcedWorker(t *testing.T, st Store, conns []connectors.Connector, owner string) (cancel func(), done chan struct{}) {
	t.Helper()
	set, err := tenant.NewSet([]*tenant.Tenant{{ID: "acme", Connectors: conns}})
	if err != nil {
		t.Fatal(err)
	}
	w := New(Options{Store: st, Tenants: set, Logger: zerolog.Nop(), Now: time.Now, Owner: owner,
		BackoffBase: 10 * time.Millisecond, LeaseTTL: time.Second,
		Unavailable: func(err error) bool { return errors.Is(err, errLoading) }})
	ctx, c := context.WithCancel(context.Background())
	done = make(chan struct{})
	go func() { defer close(done); w.Run(ctx, 4) }()
	t.Cleanup(func() { c(); <-done })
	return c, done
}

// countingConn converges users into the record {"user": "u1"}, counting calls.
func countingConn(calls *atomic.Int32) *fakeconn.Connector {
	return &fakeconn.Connector{ConnName: "down", Kinds: []connectors.SubjectKind{connectors.SubjectUser},
		ConvergeFunc: func(ctx context.Context, s connectors.Subject, prev connectors.Record, _ connectors.Options) (connectors.Record, []connectors.Action, error) {
			calls.Add(1)
			return connectors.Record{IDs: map[string]string{"user": "u1"}}, nil, nil
		}}
}

var aliceKey = store.WorkKey{Tenant: "acme", Kind: store.WorkUser, ID: "alice"}

// A convergence forced while the connector is held (429 Retry-After of
// another subject) runs after the hold; it is not skipped as synced.
func TestForcedKeptThroughAThrottleHold(t *testing.T) {
	st := openTestStore(t)
	createUser(t, st, "alice")
	var calls atomic.Int32
	conn := countingConn(&calls)
	forcedWorker(t, st, []connectors.Connector{conn}, "w")
	waitFor(t, 5*time.Second, func() error {
		if calls.Load() < 1 {
			return errors.New("not converged")
		}
		return nil
	})
	time.Sleep(200 * time.Millisecond)
	ctx := context.Background()
	if err := st.Throttle("acme", "down").Hold(ctx, time.Now().Add(1500*time.Millisecond), true); err != nil {
		t.Fatal(err)
	}
	if err := st.ForceConverge(ctx, "acme", aliceKey, "down"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(4 * time.Second)
	if n := calls.Load(); n < 2 {
		left, _ := st.TakeForced(ctx, "acme", aliceKey.Subject(), []string{"down"})
		t.Fatalf("forced convergence lost behind a throttle hold: %d convergences, flag left %v", n, left)
	}
}

// A forced convergence interrupted by a shutdown is still forced for the next
// replica, not skipped as synced.
func TestForcedKeptThroughAShutdown(t *testing.T) {
	st := openTestStore(t)
	createUser(t, st, "alice")
	var calls atomic.Int32
	inFlight := make(chan struct{})
	conn1 := &fakeconn.Connector{ConnName: "down", Kinds: []connectors.SubjectKind{connectors.SubjectUser},
		ConvergeFunc: func(ctx context.Context, s connectors.Subject, prev connectors.Record, _ connectors.Options) (connectors.Record, []connectors.Action, error) {
			if calls.Add(1) == 2 {
				close(inFlight)
				<-ctx.Done()
				return prev, nil, ctx.Err()
			}
			return connectors.Record{IDs: map[string]string{"user": "u1"}}, nil, nil
		}}
	cancel, done := forcedWorker(t, st, []connectors.Connector{conn1}, "r1")
	waitFor(t, 5*time.Second, func() error {
		if calls.Load() < 1 {
			return errors.New("not converged")
		}
		return nil
	})
	time.Sleep(200 * time.Millisecond)
	if err := st.ForceConverge(context.Background(), "acme", aliceKey, "down"); err != nil {
		t.Fatal(err)
	}
	<-inFlight
	cancel()
	<-done
	var calls2 atomic.Int32
	conn2 := &fakeconn.Connector{ConnName: "down", Kinds: []connectors.SubjectKind{connectors.SubjectUser},
		ConvergeFunc: func(ctx context.Context, s connectors.Subject, prev connectors.Record, _ connectors.Options) (connectors.Record, []connectors.Action, error) {
			calls2.Add(1)
			return connectors.Record{IDs: map[string]string{"user": "u1"}}, nil, nil
		}}
	forcedWorker(t, st, []connectors.Connector{conn2}, "r2")
	time.Sleep(2 * time.Second)
	if calls2.Load() == 0 {
		t.Fatal("forced convergence interrupted by shutdown was never run again (flag taken, record still synced)")
	}
}

// A flag raised before the subject's first record is taken by its first
// convergence: none stays in sb:{t}:forced.
func TestForcedFlagTakenByTheFirstConvergence(t *testing.T) {
	st := openTestStore(t)
	createUser(t, st, "alice")
	var calls atomic.Int32
	users := countingConn(&calls)
	tenantOnly := &fakeconn.Connector{ConnName: "sso", Kinds: []connectors.SubjectKind{connectors.SubjectTenant}}
	ctx := context.Background()
	// as the webhook does for a subject never converged yet
	if err := st.ForceConverge(ctx, "acme", aliceKey, "down"); err != nil {
		t.Fatal(err)
	}
	forcedWorker(t, st, []connectors.Connector{users, tenantOnly}, "w")
	waitFor(t, 5*time.Second, func() error {
		if calls.Load() < 1 {
			return errors.New("not converged")
		}
		return nil
	})
	time.Sleep(time.Second)
	left, err := st.TakeForced(ctx, "acme", aliceKey.Subject(), []string{"down", "sso"})
	if err != nil {
		t.Fatal(err)
	}
	if len(left) > 0 {
		t.Fatalf("after %d convergence(s) the flags %v are still set (no later convergence will take them)", calls.Load(), fmt.Sprint(left))
	}
}
