package reconcile

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/scim-bridge/scim-bridge/connectors"
	"github.com/scim-bridge/scim-bridge/store"
)

// syncBuffer is a log sink safe for the run's goroutines and the test.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// heldRenewals is the embedded store whose lock renewals are held once sent:
// a renewal waits until the run's context ends or the lock is released, then
// runs as a command already on the wire does, whatever its context has become.
// It records whether the lock was released while a renewal was in flight.
type heldRenewals struct {
	*store.Store

	started     chan struct{} // closed when the first renewal starts
	startOnce   sync.Once
	released    chan struct{} // closed once ReleaseLock has released the lock
	releaseOnce sync.Once

	mu                 sync.Mutex
	inFlight           int
	releasedInFlight   bool
	renewalsAfterClose int
}

func newHeldRenewals(st *store.Store) *heldRenewals {
	return &heldRenewals{Store: st, started: make(chan struct{}), released: make(chan struct{})}
}

func (s *heldRenewals) RenewLock(ctx context.Context, l *store.Lock, ttl time.Duration) error {
	s.mu.Lock()
	s.inFlight++
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.inFlight--
		s.mu.Unlock()
	}()
	s.startOnce.Do(func() { close(s.started) })
	select {
	case <-ctx.Done():
	case <-s.released:
	case <-time.After(30 * time.Second): // never reached unless the run is stuck
	}
	return s.Store.RenewLock(context.WithoutCancel(ctx), l, ttl)
}

func (s *heldRenewals) ReleaseLock(ctx context.Context, l *store.Lock) error {
	s.mu.Lock()
	if s.inFlight > 0 {
		s.releasedInFlight = true
	}
	s.mu.Unlock()
	err := s.Store.ReleaseLock(ctx, l)
	s.releaseOnce.Do(func() { close(s.released) })
	return err
}

// TestRunEndStopsRenewalBeforeRelease: at the normal end of a run the lock's
// renewal is stopped and waited for before the lock is released, so a renewal
// in flight never meets a released lock and no "lock lost" is logged.
func TestRunEndStopsRenewalBeforeRelease(t *testing.T) {
	t.Parallel()
	e := newRecEnv(t, 0)
	spy := newHeldRenewals(e.st)
	var logs syncBuffer
	rc := New(Options{Store: spy, Tenants: e.rc.tenants, Logger: zerolog.New(&logs), Now: e.rc.now, Owner: "replica-1"})
	rc.lockRenewEvery = time.Millisecond
	// The run lasts until a renewal is in flight, so it ends during one.
	e.conn.ConvergeFunc = func(ctx context.Context, _ connectors.Subject, prev connectors.Record, _ connectors.Options) (connectors.Record, []connectors.Action, error) {
		select {
		case <-spy.started:
			return prev, nil, nil
		case <-ctx.Done():
			return prev, nil, ctx.Err()
		case <-time.After(30 * time.Second):
			return prev, nil, errors.New("no renewal of the lock within 30s")
		}
	}
	if _, err := rc.ReconcileLocked(context.Background(), "acme", RunOptions{}); err != nil {
		t.Fatalf("run: %v", err)
	}
	spy.mu.Lock()
	releasedInFlight := spy.releasedInFlight
	spy.mu.Unlock()
	if releasedInFlight {
		t.Error("the lock was released while its renewal was in flight")
	}
	if out := logs.String(); strings.Contains(out, "lock lost") {
		t.Errorf("a normal end of the run logged a lost lock:\n%s", out)
	}
	// The lock was released all the same: another replica takes it at once.
	other, err := e.st.AcquireLock(context.Background(), "acme", LockName, "replica-2", time.Minute)
	if err != nil {
		t.Fatalf("lock after the run: %v", err)
	}
	_ = e.st.ReleaseLock(context.Background(), other)
}

// lostRenewals is the embedded store on which every renewal finds the lock
// taken over (another replica took it while this one was paused).
type lostRenewals struct{ *store.Store }

func (lostRenewals) RenewLock(context.Context, *store.Lock, time.Duration) error {
	return fmt.Errorf("renew lock: %w", store.ErrLockLost)
}

// TestRunStopsWhenLockLost: a renewal that fails during the run stops it,
// says so in the log, and the run ends with store.ErrLockLost.
func TestRunStopsWhenLockLost(t *testing.T) {
	t.Parallel()
	e := newRecEnv(t, 0)
	var logs syncBuffer
	rc := New(Options{Store: lostRenewals{e.st}, Tenants: e.rc.tenants, Logger: zerolog.New(&logs), Now: e.rc.now, Owner: "replica-1"})
	rc.lockRenewEvery = time.Millisecond
	e.conn.ConvergeFunc = func(ctx context.Context, _ connectors.Subject, prev connectors.Record, _ connectors.Options) (connectors.Record, []connectors.Action, error) {
		select {
		case <-ctx.Done(): // the lost lock cancels the run
			return prev, nil, ctx.Err()
		case <-time.After(30 * time.Second):
			return prev, nil, errors.New("the run was not stopped within 30s")
		}
	}
	if _, err := rc.ReconcileLocked(context.Background(), "acme", RunOptions{}); !errors.Is(err, store.ErrLockLost) {
		t.Fatalf("run that lost its lock: %v, want store.ErrLockLost", err)
	}
	if out := logs.String(); !strings.Contains(out, "reconcile lock lost") {
		t.Errorf("the lost lock was not logged:\n%s", out)
	}
}
