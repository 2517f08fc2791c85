package fanout

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/scim-bridge/scim-bridge/bridge/internal/fakeconn"
	"github.com/scim-bridge/scim-bridge/bridge/internal/tenant"
	"github.com/scim-bridge/scim-bridge/connectors"
	"github.com/scim-bridge/scim-bridge/store"
)

// errLoading stands for Redis answering LOADING: the command did not run.
var errLoading = errors.New("LOADING Redis is loading the dataset in memory")

// flakyStore fails the first writes of each kind named in fail with
// errLoading, as a Redis restart does.
type flakyStore struct {
	*store.Store
	mu   sync.Mutex
	fail map[string]int // method → failures left
}

func (f *flakyStore) take(op string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail[op] > 0 {
		f.fail[op]--
		return errLoading
	}
	return nil
}

func (f *flakyStore) PutSync(ctx context.Context, tenant string, st *store.SyncState) error {
	if err := f.take("PutSync"); err != nil {
		return err
	}
	return f.Store.PutSync(ctx, tenant, st)
}

func (f *flakyStore) Ack(ctx context.Context, c store.Claim) error {
	if err := f.take("Ack"); err != nil {
		return err
	}
	return f.Store.Ack(ctx, c)
}

func (f *flakyStore) Retry(ctx context.Context, c store.Claim, due time.Time) error {
	if err := f.take("Retry"); err != nil {
		return err
	}
	return f.Store.Retry(ctx, c, due)
}

func (f *flakyStore) Extend(ctx context.Context, c store.Claim, lease time.Duration) error {
	if err := f.take("Extend"); err != nil {
		return err
	}
	return f.Store.Extend(ctx, c, lease)
}

// creator is a downstream without a lookup: a convergence without a record
// creates (a duplicate when one was already made).
type creator struct {
	creates atomic.Int32
}

func (c *creator) converge(ctx context.Context, s connectors.Subject, prev connectors.Record, opts connectors.Options) (connectors.Record, []connectors.Action, error) {
	if prev.IDs["user"] != "" || s.User == nil {
		return prev, nil, nil
	}
	c.creates.Add(1)
	rec := connectors.Record{IDs: map[string]string{"user": "u-" + s.ID}}
	act := connectors.Action{Op: connectors.OpCreate, Object: "user " + s.ID}
	if err := opts.Report(ctx, rec, act); err != nil {
		return rec, []connectors.Action{act}, err
	}
	// A slow read after the create (behind a rate limiter, say).
	time.Sleep(20 * time.Millisecond)
	return rec, []connectors.Action{act}, nil
}

func openTestStore(t *testing.T) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), store.Options{Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

// runWorker runs a worker over st with conn until the test ends.
func runWorker(t *testing.T, st Store, conn connectors.Connector, owner string) {
	t.Helper()
	startWorker(t, st, conn, owner, Options{LeaseTTL: time.Second})
}

// startWorker runs a worker with opts (Store, Tenants, Logger, Now, Owner,
// BackoffBase and Unavailable filled in) until the test ends.
func startWorker(t *testing.T, st Store, conn connectors.Connector, owner string, opts Options) {
	t.Helper()
	set, err := tenant.NewSet([]*tenant.Tenant{{ID: "acme", Connectors: []connectors.Connector{conn}}})
	if err != nil {
		t.Fatal(err)
	}
	opts.Store, opts.Tenants, opts.Logger, opts.Now, opts.Owner = st, set, zerolog.Nop(), time.Now, owner
	opts.BackoffBase = 10 * time.Millisecond
	opts.Unavailable = func(err error) bool { return errors.Is(err, errLoading) }
	w := New(opts)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); w.Run(ctx, 4) }()
	t.Cleanup(func() { cancel(); <-done })
}

func createUser(t *testing.T, st *store.Store, id string) {
	t.Helper()
	err := st.Create(context.Background(), "acme", &store.Resource{ID: id, Kind: store.KindUser, Attrs: map[string]any{"userName": id, "active": true}})
	if err != nil {
		t.Fatal(err)
	}
}

func waitFor(t *testing.T, d time.Duration, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Issue 11, defect 1: a store that answers LOADING to the sync record, the ack
// and the lease extension must not make the worker converge the subject again
// without its record (a second create downstream).
func TestStoreWritesRetriedWhileUnavailable(t *testing.T) {
	t.Parallel()
	for _, op := range []string{"PutSync", "Ack", "Extend"} {
		t.Run(op, func(t *testing.T) {
			t.Parallel()
			st := openTestStore(t)
			flaky := &flakyStore{Store: st, fail: map[string]int{op: 3}}
			down := &creator{}
			conn := &fakeconn.Connector{ConnName: "down", Kinds: []connectors.SubjectKind{connectors.SubjectUser}, ConvergeFunc: down.converge}
			createUser(t, st, "alice")
			runWorker(t, flaky, conn, "w1")
			waitFor(t, 10*time.Second, func() error {
				s, err := st.GetSync(context.Background(), "acme", "down", "User|alice")
				if err != nil {
					return err
				}
				if s.Status != store.SyncSynced {
					return errors.New("not synced yet: " + s.Status)
				}
				qs, err := st.QueueStats(context.Background(), "acme")
				if err != nil {
					return err
				}
				if qs.Leased != 0 || qs.Pending != 0 {
					return errors.New("queue not drained")
				}
				return nil
			})
			time.Sleep(100 * time.Millisecond) // a wrongful retry would run now
			if n := down.creates.Load(); n != 1 {
				t.Fatalf("%d creates downstream, want 1", n)
			}
		})
	}
}

// deadStore is the store as seen by a process that was killed: once dead,
// nothing it sends arrives (no heartbeat, no lease extension, no release).
type deadStore struct {
	*store.Store
	dead atomic.Bool
}

var errDead = errors.New("process killed")

func (d *deadStore) KeepAlive(ctx context.Context, owner string, ttl time.Duration) error {
	if d.dead.Load() {
		return errDead
	}
	return d.Store.KeepAlive(ctx, owner, ttl)
}

func (d *deadStore) Extend(ctx context.Context, c store.Claim, lease time.Duration) error {
	if d.dead.Load() {
		return errDead
	}
	return d.Store.Extend(ctx, c, lease)
}

func (d *deadStore) Ack(ctx context.Context, c store.Claim) error {
	if d.dead.Load() {
		return errDead
	}
	return d.Store.Ack(ctx, c)
}

func (d *deadStore) Retry(ctx context.Context, c store.Claim, due time.Time) error {
	if d.dead.Load() {
		return errDead
	}
	return d.Store.Retry(ctx, c, due)
}

func (d *deadStore) Retire(ctx context.Context, owner string) error {
	if d.dead.Load() {
		return errDead
	}
	return d.Store.Retire(ctx, owner)
}

// Issue 11, defect 3: the work a killed replica had claimed is taken over in
// seconds (its heartbeats stop, a live replica releases its claims), not after
// the whole lease.
func TestKilledReplicaWorkTakenOverInSeconds(t *testing.T) {
	t.Parallel()
	st := openTestStore(t)
	createUser(t, st, "alice")

	dying := &deadStore{Store: st}
	inFlight := make(chan struct{})
	hang := make(chan struct{})
	var once sync.Once
	first := &fakeconn.Connector{ConnName: "down", Kinds: []connectors.SubjectKind{connectors.SubjectUser},
		ConvergeFunc: func(ctx context.Context, s connectors.Subject, prev connectors.Record, _ connectors.Options) (connectors.Record, []connectors.Action, error) {
			once.Do(func() {
				dying.dead.Store(true) // kill -9 in the middle of the convergence
				close(inFlight)
			})
			<-hang
			return prev, nil, errDead
		}}
	startWorker(t, dying, first, "killed", Options{LeaseTTL: 15 * time.Second, InstanceTTL: 600 * time.Millisecond})
	t.Cleanup(func() { close(hang) }) // before the worker's own cleanup
	<-inFlight
	killedAt := time.Now()

	var took atomic.Int64
	second := &fakeconn.Connector{ConnName: "down", Kinds: []connectors.SubjectKind{connectors.SubjectUser},
		ConvergeFunc: func(ctx context.Context, s connectors.Subject, prev connectors.Record, _ connectors.Options) (connectors.Record, []connectors.Action, error) {
			took.CompareAndSwap(0, int64(time.Since(killedAt)))
			return prev, nil, nil
		}}
	startWorker(t, st, second, "survivor", Options{LeaseTTL: 15 * time.Second, InstanceTTL: 600 * time.Millisecond})
	waitFor(t, 10*time.Second, func() error {
		if took.Load() == 0 {
			return errors.New("the killed replica's claim was not taken over")
		}
		return nil
	})
	// The lease was 15 s: only the release of orphaned claims explains this.
	if d := time.Duration(took.Load()); d > 5*time.Second {
		t.Errorf("taken over %v after the kill, want seconds", d)
	}
}

// stolenAckStore acks for real but answers the first ack with ErrLeaseLost, as
// when this replica stalled past its lease and another one took the key over
// (and acked it) meanwhile.
type stolenAckStore struct {
	*store.Store
	stolen atomic.Bool
}

func (s *stolenAckStore) Ack(ctx context.Context, c store.Claim) error {
	if err := s.Store.Ack(ctx, c); err != nil {
		return err
	}
	if s.stolen.CompareAndSwap(false, true) {
		return store.ErrLeaseLost
	}
	return nil
}

// TestLostLeaseConvergesAgain: a replica that finds its lease gone when it
// ends a convergence (it stalled; another replica converged the key) marks
// the key dirty again, so the current desired state is converged once more:
// the stalled replica's late write may have undone the other's.
func TestLostLeaseConvergesAgain(t *testing.T) {
	t.Parallel()
	st := &stolenAckStore{Store: openTestStore(t)}
	createUser(t, st.Store, "alice")
	var converges atomic.Int32
	conn := &fakeconn.Connector{ConnName: "down", Kinds: []connectors.SubjectKind{connectors.SubjectUser},
		ConvergeFunc: func(ctx context.Context, s connectors.Subject, prev connectors.Record, _ connectors.Options) (connectors.Record, []connectors.Action, error) {
			converges.Add(1)
			return connectors.Record{IDs: map[string]string{"user": "u1"}}, nil, nil
		}}
	runWorker(t, st, conn, "stalled")
	waitFor(t, 10*time.Second, func() error {
		if converges.Load() < 2 {
			return errors.New("the key was not converged again after the lost lease")
		}
		return nil
	})
}

// scriptedExtendStore answers the first lease extensions with the given
// errors in turn, then extends for real.
type scriptedExtendStore struct {
	*store.Store
	answers []error
	calls   atomic.Int32
}

func (s *scriptedExtendStore) Extend(ctx context.Context, c store.Claim, lease time.Duration) error {
	if i := int(s.calls.Add(1)) - 1; i < len(s.answers) {
		return s.answers[i]
	}
	return s.Store.Extend(ctx, c, lease)
}

// TestLostLeaseEndsTheConvergence: an extension that finds the lease gone
// cancels the convergence in flight (another replica owns the key now), and
// the key is converged again afterwards.
func TestLostLeaseEndsTheConvergence(t *testing.T) {
	t.Parallel()
	st := &scriptedExtendStore{Store: openTestStore(t), answers: []error{store.ErrLeaseLost}}
	createUser(t, st.Store, "alice")
	var calls, cancelled atomic.Int32
	conn := &fakeconn.Connector{ConnName: "down", Kinds: []connectors.SubjectKind{connectors.SubjectUser},
		ConvergeFunc: func(ctx context.Context, s connectors.Subject, prev connectors.Record, _ connectors.Options) (connectors.Record, []connectors.Action, error) {
			if calls.Add(1) == 1 {
				select { // a slow downstream call, past the first extension
				case <-ctx.Done():
					cancelled.Add(1)
					return prev, nil, ctx.Err()
				case <-time.After(5 * time.Second):
				}
			}
			return connectors.Record{IDs: map[string]string{"user": "u1"}}, nil, nil
		}}
	startWorker(t, st, conn, "stalled", Options{LeaseTTL: 300 * time.Millisecond})
	waitFor(t, 10*time.Second, func() error {
		if cancelled.Load() != 1 || calls.Load() < 2 {
			return fmt.Errorf("cancelled %d, calls %d; want the first convergence cancelled and a second one", cancelled.Load(), calls.Load())
		}
		return nil
	})
}

// TestLeaseLostDuringOutageEndsTheConvergence: an extension answered as an
// unavailable store (LOADING) and then, retried, with ErrLeaseLost lost its
// lease during the outage, which an extension (unlike a release) never
// mistakes for its own earlier success.
func TestLeaseLostDuringOutageEndsTheConvergence(t *testing.T) {
	t.Parallel()
	st := &scriptedExtendStore{Store: openTestStore(t), answers: []error{errLoading, store.ErrLeaseLost}}
	createUser(t, st.Store, "alice")
	cancelled := make(chan struct{})
	var once sync.Once
	conn := &fakeconn.Connector{ConnName: "down", Kinds: []connectors.SubjectKind{connectors.SubjectUser},
		ConvergeFunc: func(ctx context.Context, s connectors.Subject, prev connectors.Record, _ connectors.Options) (connectors.Record, []connectors.Action, error) {
			select {
			case <-ctx.Done():
				once.Do(func() { close(cancelled) })
				return prev, nil, ctx.Err()
			case <-time.After(8 * time.Second):
				return prev, nil, nil
			}
		}}
	startWorker(t, st, conn, "stalled", Options{LeaseTTL: 600 * time.Millisecond})
	select {
	case <-cancelled:
	case <-time.After(6 * time.Second):
		t.Fatal("the lease lost during a store outage did not end the convergence")
	}
}

// TestForcedDuringConvergence: a convergence forced while another one of the
// same key runs (a webhook's news, a stalled replica's late write) is not
// undone by the running one's final record: the key is converged once more.
func TestForcedDuringConvergence(t *testing.T) {
	t.Parallel()
	st := openTestStore(t)
	createUser(t, st, "alice")
	inFlight := make(chan struct{})
	release := make(chan struct{})
	var calls atomic.Int32
	conn := &fakeconn.Connector{ConnName: "down", Kinds: []connectors.SubjectKind{connectors.SubjectUser},
		ConvergeFunc: func(ctx context.Context, s connectors.Subject, prev connectors.Record, _ connectors.Options) (connectors.Record, []connectors.Action, error) {
			if calls.Add(1) == 1 {
				close(inFlight)
				<-release
			}
			return connectors.Record{IDs: map[string]string{"user": "u1"}}, nil, nil
		}}
	runWorker(t, st, conn, "w")
	<-inFlight
	if err := st.ForceConverge(context.Background(), "acme", store.WorkKey{Tenant: "acme", Kind: store.WorkUser, ID: "alice"}, "down"); err != nil {
		t.Fatal(err)
	}
	close(release)
	waitFor(t, 10*time.Second, func() error {
		if calls.Load() < 2 {
			return errors.New("the convergence forced during another one was skipped")
		}
		return nil
	})
}
