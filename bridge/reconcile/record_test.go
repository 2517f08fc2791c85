package reconcile

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/scim-bridge/scim-bridge/bridge/internal/fakeconn"
	"github.com/scim-bridge/scim-bridge/bridge/internal/tenant"
	"github.com/scim-bridge/scim-bridge/connectors"
	"github.com/scim-bridge/scim-bridge/store"
)

// runCounter is a Metrics that counts runs by tenant and outcome.
type runCounter struct {
	mu   sync.Mutex
	runs map[string]int // tenant + " " + outcome
}

func (c *runCounter) ReconcileRun(tenant, outcome string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.runs[tenant+" "+outcome]++
}

func (c *runCounter) get(tenant, outcome string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.runs[tenant+" "+outcome]
}

// recEnv is a Reconciler on the embedded store with tenant acme, whose one
// connector odm converges as converge says (nil: nothing to change).
type recEnv struct {
	rc      *Reconciler
	st      *store.Store
	metrics *runCounter
	now     time.Time
	conn    *fakeconn.Connector
}

func newRecEnv(t *testing.T, every time.Duration) *recEnv {
	t.Helper()
	st, err := store.Open(context.Background(), store.Options{Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	e := &recEnv{st: st, metrics: &runCounter{runs: map[string]int{}}, now: time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)}
	e.conn = &fakeconn.Connector{ConnName: "odm", Kinds: []connectors.SubjectKind{connectors.SubjectTenant}}
	set, err := tenant.NewSet([]*tenant.Tenant{
		{ID: "acme", ReconcileEvery: every, DeletionThreshold: 1, Connectors: []connectors.Connector{e.conn}},
		{ID: "idle", ReconcileEvery: time.Hour}, // no connector: never scheduled
	})
	if err != nil {
		t.Fatal(err)
	}
	e.rc = New(Options{Store: st, Tenants: set, Logger: zerolog.Nop(), Now: func() time.Time { return e.now }, Owner: "replica-1", Metrics: e.metrics})
	return e
}

func (e *recEnv) history(t *testing.T) store.ReconcileHistory {
	t.Helper()
	h, err := e.st.ReconcileHistory(context.Background(), "acme")
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// converge returns a ConvergeFunc planning actions, or failing with err.
func converge(err error, actions ...connectors.Action) func(context.Context, connectors.Subject, connectors.Record, connectors.Options) (connectors.Record, []connectors.Action, error) {
	return func(_ context.Context, _ connectors.Subject, prev connectors.Record, _ connectors.Options) (connectors.Record, []connectors.Action, error) {
		return prev, actions, err
	}
}

// TestRunsRecorded: every full run that may change something is counted by
// outcome and recorded in the store (time, outcome, plan counts); the last
// successful run is kept apart. Dry runs and runs of one connector are not.
func TestRunsRecorded(t *testing.T) {
	t.Parallel()
	e := newRecEnv(t, 0)
	ctx := context.Background()
	t1 := e.now

	// ok: one tenant subject checked, one update planned and applied.
	e.conn.ConvergeFunc = converge(nil, connectors.Action{Op: connectors.OpUpdate, Object: "connection/1", Reason: "drift"})
	if _, err := e.rc.ReconcileLocked(ctx, "acme", RunOptions{}); err != nil {
		t.Fatal(err)
	}
	okRun := store.ReconcileRun{At: t1, Outcome: store.ReconcileOK, Checked: 1, Changes: 1}
	if h := e.history(t); h.Last != okRun || h.LastSuccess != okRun {
		t.Fatalf("after an ok run: %+v", h)
	}

	// failed: the subject cannot be checked.
	e.now = t1.Add(time.Hour)
	e.conn.ConvergeFunc = converge(errors.New("503 from downstream"))
	if p, err := e.rc.ReconcileLocked(ctx, "acme", RunOptions{}); err != nil || len(p.Errors) != 1 {
		t.Fatalf("run with a failing check: %v, %+v", err, p)
	}
	if h := e.history(t); h.Last != (store.ReconcileRun{At: e.now, Outcome: store.ReconcileFailed, Checked: 1, Errors: 1}) || h.LastSuccess != okRun {
		t.Fatalf("after a failed run: %+v", h)
	}

	// aborted: more deletions than the threshold (1).
	e.now = t1.Add(2 * time.Hour)
	e.conn.ConvergeFunc = converge(nil, connectors.Action{Op: connectors.OpDelete, Object: "a"}, connectors.Action{Op: connectors.OpDelete, Object: "b"})
	if _, err := e.rc.Reconcile(ctx, "acme", RunOptions{}); !errors.Is(err, ErrTooManyDeletions) {
		t.Fatalf("run above the threshold: %v", err)
	}
	if h := e.history(t); h.Last != (store.ReconcileRun{At: e.now, Outcome: store.ReconcileAborted, Checked: 1, Changes: 2, Deletions: 2}) || h.LastSuccess != okRun {
		t.Fatalf("after a refused run: %+v", h)
	}

	// Not recorded: a dry run, a run of one connector, a run of an unknown
	// tenant or connector, a run another replica's lock kept from starting.
	e.now = t1.Add(3 * time.Hour)
	e.conn.ConvergeFunc = nil
	before := e.history(t)
	if _, err := e.rc.ReconcileLocked(ctx, "acme", RunOptions{DryRun: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.rc.ReconcileLocked(ctx, "acme", RunOptions{Connector: "odm"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.rc.Reconcile(ctx, "acme", RunOptions{Connector: "nope"}); err == nil {
		t.Fatal("a run of an unknown connector succeeded")
	}
	if _, err := e.rc.Reconcile(ctx, "nobody", RunOptions{}); err == nil {
		t.Fatal("a run of an unknown tenant succeeded")
	}
	other, err := e.st.AcquireLock(ctx, "acme", LockName, "replica-2", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.rc.ReconcileLocked(ctx, "acme", RunOptions{}); !errors.Is(err, store.ErrLocked) {
		t.Fatalf("run while another replica holds the lock: %v", err)
	}
	if err := e.st.ReleaseLock(ctx, other); err != nil {
		t.Fatal(err)
	}
	if h := e.history(t); h != before {
		t.Fatalf("a run that must not be recorded was: %+v, was %+v", h, before)
	}

	for outcome, want := range map[string]int{store.ReconcileOK: 1, store.ReconcileFailed: 1, store.ReconcileAborted: 1} {
		if got := e.metrics.get("acme", outcome); got != want {
			t.Errorf("runs %s = %d, want %d (all: %v)", outcome, got, want, e.metrics.runs)
		}
	}
	if n := len(e.metrics.runs); n != 3 {
		t.Errorf("runs counted under other labels: %v", e.metrics.runs)
	}
}

// TestRunStopped: a run whose context ends (shutdown) is aborted, and still
// recorded; a run that cannot take its lock because Redis fails is failed.
func TestRunStopped(t *testing.T) {
	t.Parallel()
	e := newRecEnv(t, 0)
	ctx, cancel := context.WithCancel(context.Background())
	e.conn.ConvergeFunc = func(ctx context.Context, _ connectors.Subject, prev connectors.Record, _ connectors.Options) (connectors.Record, []connectors.Action, error) {
		cancel()
		return prev, nil, fmt.Errorf("list connections: %w", ctx.Err())
	}
	if _, err := e.rc.ReconcileLocked(ctx, "acme", RunOptions{}); err == nil {
		t.Fatal("a cancelled run succeeded")
	}
	if h := e.history(t); h.Last.Outcome != store.ReconcileAborted || !h.LastSuccess.At.IsZero() {
		t.Fatalf("after a cancelled run: %+v", h)
	}
	if got := e.metrics.get("acme", store.ReconcileAborted); got != 1 {
		t.Errorf("aborted runs = %d, want 1", got)
	}

	e.st.Close() // Redis gone
	if _, err := e.rc.ReconcileLocked(context.Background(), "acme", RunOptions{}); err == nil {
		t.Fatal("a run without Redis succeeded")
	}
	if got := e.metrics.get("acme", store.ReconcileFailed); got != 1 {
		t.Errorf("failed runs = %d, want 1 (a run that could not start)", got)
	}
}

func TestRunOutcome(t *testing.T) {
	t.Parallel()
	done, cancel := context.WithCancel(context.Background())
	cancel()
	live := context.Background()
	for _, tc := range []struct {
		name string
		ctx  context.Context
		plan *Plan
		err  error
		want string
	}{
		{"clean", live, &Plan{}, nil, store.ReconcileOK},
		{"plan errors", live, &Plan{Errors: []string{"odm User|1: 500"}}, nil, store.ReconcileFailed},
		{"error", live, nil, errors.New("read users: connection reset"), store.ReconcileFailed},
		{"threshold", live, &Plan{Refused: true}, fmt.Errorf("%w: 9 deletions", ErrTooManyDeletions), store.ReconcileAborted},
		{"lock lost", live, nil, fmt.Errorf("reconcile acme: %w", store.ErrLockLost), store.ReconcileAborted},
		{"cancelled", live, nil, fmt.Errorf("reconcile odm: %w", context.Canceled), store.ReconcileAborted},
		{"shutdown", done, nil, errors.New("i/o on a closed connection"), store.ReconcileAborted},
	} {
		if got := runOutcome(tc.ctx, tc.plan, tc.err); got != tc.want {
			t.Errorf("%s: runOutcome = %q, want %q", tc.name, got, tc.want)
		}
	}
}

// TestScheduledRunRecorded: the scheduler's runs are recorded like on-demand
// ones; Interval says which tenants it runs.
func TestScheduledRunRecorded(t *testing.T) {
	t.Parallel()
	e := newRecEnv(t, 20*time.Millisecond)
	if got := e.rc.Interval("acme"); got != 20*time.Millisecond {
		t.Errorf("Interval(acme) = %v", got)
	}
	if got := e.rc.Interval("idle"); got != 0 {
		t.Errorf("Interval of a tenant without connectors = %v, want 0", got)
	}
	if got := e.rc.Interval("nobody"); got != 0 {
		t.Errorf("Interval of an unknown tenant = %v, want 0", got)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		e.rc.Schedule(ctx)
	}()
	for e.metrics.get("acme", store.ReconcileOK) < 2 && ctx.Err() == nil {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-done
	if got := e.metrics.get("acme", store.ReconcileOK); got < 2 {
		t.Fatalf("scheduled ok runs = %d, want at least 2", got)
	}
	if h := e.history(t); h.LastSuccess.Outcome != store.ReconcileOK || h.LastSuccess.Checked != 1 {
		t.Fatalf("history after scheduled runs: %+v", h)
	}
	if got := e.metrics.get("idle", store.ReconcileOK); got != 0 {
		t.Errorf("an unscheduled tenant ran %d times", got)
	}
}
