package fanout

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/scim-bridge/scim-bridge/bridge/internal/fakeconn"
	"github.com/scim-bridge/scim-bridge/bridge/internal/tenant"
	"github.com/scim-bridge/scim-bridge/connectors"
	"github.com/scim-bridge/scim-bridge/internal/fakeclock"
	"github.com/scim-bridge/scim-bridge/store"
)

// readAfterEnv is a worker and a store on fake clocks (the store's ahead of
// the worker's by storeAhead) with a connector that records the Options of
// every convergence.
type readAfterEnv struct {
	st    *store.Store
	clk   *fakeclock.Clock
	w     *Worker
	t     *tenant.Tenant
	mu    sync.Mutex
	fail  error // the next convergence's error, if any
	calls []connectors.Options
}

func newReadAfterEnv(t *testing.T, storeAhead time.Duration) *readAfterEnv {
	t.Helper()
	e := &readAfterEnv{clk: fakeclock.New(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))}
	st, err := store.Open(context.Background(), store.Options{Logger: zerolog.Nop(), Now: func() time.Time { return e.clk.Now().Add(storeAhead) }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	e.st = st
	conn := &fakeconn.Connector{ConnName: "down", Kinds: []connectors.SubjectKind{connectors.SubjectUser},
		ConvergeFunc: func(_ context.Context, s connectors.Subject, prev connectors.Record, opts connectors.Options) (connectors.Record, []connectors.Action, error) {
			e.mu.Lock()
			defer e.mu.Unlock()
			e.calls = append(e.calls, opts)
			if err := e.fail; err != nil {
				e.fail = nil
				return prev, nil, err
			}
			return connectors.Record{IDs: map[string]string{"user": s.ID}}, nil, nil
		}}
	ts, err := tenant.NewSet([]*tenant.Tenant{{ID: "acme", Connectors: []connectors.Connector{conn}}})
	if err != nil {
		t.Fatal(err)
	}
	e.t = ts.Get("acme")
	e.w = New(Options{Store: st, Tenants: ts, Logger: zerolog.Nop(), Now: e.clk.Now, Owner: "w1", LeaseTTL: time.Minute})
	return e
}

func (e *readAfterEnv) setFail(err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.fail = err
}

// processNext claims the one due key and processes it as the dispatcher
// does; it returns the claim and the Options the connector was handed.
func (e *readAfterEnv) processNext(t *testing.T) (store.Claim, connectors.Options) {
	t.Helper()
	cs, err := e.st.Claim(context.Background(), "acme", "w1", time.Minute, 10)
	if err != nil || len(cs) != 1 {
		t.Fatalf("claim: %d claims, err %v; want 1", len(cs), err)
	}
	e.mu.Lock()
	before := len(e.calls)
	e.mu.Unlock()
	e.w.process(context.Background(), e.t, cs[0])
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.calls) != before+1 {
		t.Fatalf("%d convergences for the claim, want 1", len(e.calls)-before)
	}
	return cs[0], e.calls[len(e.calls)-1]
}

// TestConvergenceReadsAfterTheClaimsDueTime: a write convergence is handed
// Options.ReadAfter = the claimed key's due time (when its change was noted,
// or its retry came due), so the connector does not trust a cached read older
// than the change; a replay, the later time of the replay; a forced
// convergence (a webhook) gets now; and no time is passed on from the future.
func TestConvergenceReadsAfterTheClaimsDueTime(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("mark and retry", func(t *testing.T) {
		t.Parallel()
		e := newReadAfterEnv(t, 0)
		createUser(t, e.st, "alice") // marked dirty now
		marked := e.clk.Now()
		e.setFail(err500)
		e.clk.Advance(5 * time.Second) // claimed a while after the mark
		c, opts := e.processNext(t)
		if opts.DryRun || !c.Due.Equal(marked) || !opts.ReadAfter.Equal(c.Due) {
			t.Fatalf("ReadAfter %v (dry run %v), want the claim's due time %v (marked %v)", opts.ReadAfter, opts.DryRun, c.Due, marked)
		}
		e.clk.Advance(time.Hour) // past the retry
		c, opts = e.processNext(t)
		if !c.Due.After(marked.Add(5*time.Second)) || !opts.ReadAfter.Equal(c.Due) {
			t.Fatalf("retry: ReadAfter %v, want the retry's due time %v", opts.ReadAfter, c.Due)
		}
	})

	t.Run("forced", func(t *testing.T) {
		t.Parallel()
		e := newReadAfterEnv(t, 0)
		createUser(t, e.st, "alice")
		e.processNext(t)
		e.clk.Advance(time.Second)
		if err := e.st.ForceConverge(ctx, "acme", aliceKey, "down"); err != nil {
			t.Fatal(err)
		}
		e.clk.Advance(3 * time.Second)
		_, opts := e.processNext(t)
		if !opts.ReadAfter.Equal(e.clk.Now()) {
			t.Fatalf("forced: ReadAfter %v, want now %v", opts.ReadAfter, e.clk.Now())
		}
	})

	t.Run("replayed dead letter", func(t *testing.T) {
		t.Parallel()
		e := newReadAfterEnv(t, 0)
		createUser(t, e.st, "alice")
		e.setFail(err400)
		e.processNext(t) // parked in the dead-letter set
		e.clk.Advance(time.Second)
		if err := e.st.MarkDirty(ctx, "acme", aliceKey); err != nil { // an earlier mark, still queued
			t.Fatal(err)
		}
		e.clk.Advance(time.Second)
		replayed := e.clk.Now()
		if err := e.st.Replay(ctx, "acme", "down", aliceKey.Subject()); err != nil {
			t.Fatal(err)
		}
		e.clk.Advance(time.Second)
		c, opts := e.processNext(t)
		if !c.Due.Before(replayed) || !opts.ReadAfter.Equal(replayed) {
			t.Fatalf("replay: ReadAfter %v (due %v), want the replay's time %v", opts.ReadAfter, c.Due, replayed)
		}
	})

	t.Run("due time ahead of the worker's clock", func(t *testing.T) {
		t.Parallel()
		e := newReadAfterEnv(t, time.Hour)
		createUser(t, e.st, "alice")
		c, opts := e.processNext(t)
		if !c.Due.After(e.clk.Now()) || !opts.ReadAfter.Equal(e.clk.Now()) {
			t.Fatalf("ReadAfter %v for a due time %v, want now %v", opts.ReadAfter, c.Due, e.clk.Now())
		}
	})
}
