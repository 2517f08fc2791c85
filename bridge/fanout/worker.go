// Package fanout is the work-queue consumer of the bridge: a dispatcher claims
// due keys from the store, a pool of workers converges each connector concerned
// (each on its own, concurrently), records the sync state, and acks the key or
// schedules its retry. It is level-triggered: a worker always reads the current
// desired state, never a change payload.
//
// The retry rules (backoff, attempts before the dead-letter set, Retry-After)
// live in retry.go; the convergence of one subject and its sync
// state record in converge.go.
package fanout

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/scim-bridge/scim-bridge/bridge/internal/clip"
	"github.com/scim-bridge/scim-bridge/bridge/internal/tenant"
	"github.com/scim-bridge/scim-bridge/store"
)

// Store is what the worker reads and writes: the work queue and its leases,
// settling, the connectors' shared holds, sync states, and users with their groups.
type Store interface {
	Claim(ctx context.Context, tenant, owner string, lease time.Duration, max int) ([]store.Claim, error)
	NextDue(ctx context.Context, tenant string) (next time.Time, ok bool, err error)
	Ack(ctx context.Context, c store.Claim) error
	Retry(ctx context.Context, c store.Claim, due time.Time) error
	Settle(ctx context.Context, c store.Claim, quiet, maxDelay time.Duration) (time.Time, error)
	Defer(ctx context.Context, c store.Claim, due time.Time) error
	ThrottleStates(ctx context.Context, tenant string, connectors []string) (map[string]store.ThrottleState, error)
	Lease(ctx context.Context, k store.WorkKey, owner string, lease time.Duration) (store.Claim, bool, error)
	Extend(ctx context.Context, c store.Claim, lease time.Duration) error
	GetSyncsTakingForced(ctx context.Context, tenant, subject string, connectors []string) (map[string]*store.SyncState, map[string]bool, error)
	PutSync(ctx context.Context, tenant string, st *store.SyncState) error
	GetUserWithGroups(ctx context.Context, tenant, id string) (*store.Resource, []store.GroupRef, error)
	ForceConverge(ctx context.Context, tenant string, k store.WorkKey, connectors ...string) error
	KeepForced(ctx context.Context, tenant, subject string, connectors ...string) error
}

// Metrics is told the outcome of every convergence (outcome is the recorded
// sync status) and how long the connector took.
type Metrics interface {
	Converged(tenant, connector, outcome string, d time.Duration)
}

// Hooks let tests stop a worker at each step of a convergence. A hook that
// returns an error makes the subject due again at once, its state unchanged.
type Hooks struct {
	BeforeConverge func(tenant, connector, subject string) error
	AfterConverge  func(tenant, connector, subject string) error
}

// Options configure a Worker. Store, Tenants and Now are required.
type Options struct {
	Store   Store
	Tenants *tenant.Set
	Logger  zerolog.Logger
	Now     func() time.Time
	// Owner names this replica in leases.
	Owner string
	// Metrics, when set, is told about every convergence.
	Metrics Metrics
	// Audit, when set, is told about every convergence (audit.go).
	Audit Auditor
	// BackoffBase and LeaseTTL default to DefaultBackoffBase and DefaultLeaseTTL;
	// tests shorten them.
	BackoffBase time.Duration
	LeaseTTL    time.Duration
	// Unavailable, when set, classifies a store error as "the store is
	// unavailable for now" (Redis down, loading, failing over): such writes
	// are retried with backoff (see record.go) and the dispatcher pauses.
	// Typically store.Unavailable.
	Unavailable func(error) bool
	// RecordBudget bounds the retries of one store write; 0 means
	// DefaultRecordBudget.
	RecordBudget time.Duration
	// InstanceTTL is how long this replica counts as alive after a heartbeat
	// (when the store supports liveness, see Liveness); 0 means
	// DefaultInstanceTTL.
	InstanceTTL time.Duration
	Hooks       Hooks
}

// Worker is the work-queue consumer: a dispatcher claims due keys and a pool of
// workers converges them, each connector independently.
type Worker struct {
	opts    Options
	store   Store
	tenants *tenant.Set
	log     zerolog.Logger
	now     func() time.Time
	kick    chan struct{}

	health health
}

// New builds a worker.
func New(opts Options) *Worker {
	if opts.BackoffBase <= 0 {
		opts.BackoffBase = DefaultBackoffBase
	}
	if opts.LeaseTTL <= 0 {
		opts.LeaseTTL = DefaultLeaseTTL
	}
	if opts.RecordBudget <= 0 {
		opts.RecordBudget = DefaultRecordBudget
	}
	if opts.InstanceTTL <= 0 {
		opts.InstanceTTL = DefaultInstanceTTL
	}
	return &Worker{
		opts: opts, store: opts.Store, tenants: opts.Tenants, log: opts.Logger, now: opts.Now,
		kick: make(chan struct{}, 1),
	}
}

// Kick wakes the dispatcher (after a local write) without waiting for its poll.
func (w *Worker) Kick() {
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

// Run claims and processes work with that many workers until ctx is done. It
// claims only as many keys as it has idle workers, so a claimed key's lease
// starts when its work does; leases are extended while a convergence runs.
func (w *Worker) Run(ctx context.Context, workers int) {
	busy := make(chan struct{}, workers) // one token per running job
	freed := make(chan struct{}, 1)
	stopLiveness := w.startLiveness(ctx)
	defer stopLiveness() // after every job released its claim
	var wg sync.WaitGroup
	defer wg.Wait()
	owner := w.opts.Owner
	var pause pauser
	var withWork []string
	for _, t := range w.tenants.All() {
		if len(t.Connectors) > 0 {
			withWork = append(withWork, t.ID)
		}
	}
	budget := newBudgets(workers, withWork)
	for ctx.Err() == nil {
		claimed := 0
		for _, t := range w.tenants.All() {
			free := workers - len(busy)
			if free <= 0 {
				break
			}
			if len(t.Connectors) == 0 {
				continue
			}
			want := min(budget.allowance(t.ID, free), claimBatch)
			if want <= 0 {
				continue // this tenant uses its share; the rest is kept for others
			}
			cs, err := w.store.Claim(ctx, t.ID, owner, w.opts.LeaseTTL, want)
			if err != nil {
				if ctx.Err() != nil {
					continue
				}
				if w.unavailable(err) {
					pause.down(w, err)
					break // every tenant lives in the same store
				}
				w.log.Error().Str("error", clip.Error(err)).Str("tenant", t.ID).Msg("claim work")
				continue
			}
			pause.up(w)
			budget.claimed(t.ID, len(cs), want)
			claimed += len(cs)
			for _, c := range cs {
				busy <- struct{}{}
				wg.Add(1)
				go func() {
					defer wg.Done()
					w.process(ctx, t, c)
					budget.done(t.ID)
					<-busy
					select {
					case freed <- struct{}{}:
					default:
					}
				}()
			}
		}
		if claimed > 0 && len(busy) < workers {
			continue
		}
		var (
			wait  <-chan time.Time
			timer *time.Timer
		)
		if len(busy) < workers {
			d := w.nextWait(ctx)
			if pause.paused {
				d = pause.wait()
			}
			timer = time.NewTimer(d)
			wait = timer.C
		}
		select {
		case <-ctx.Done():
		case <-w.kick:
		case <-freed:
		case <-wait:
		}
		if timer != nil {
			timer.Stop()
		}
	}
}

// nextWait is how long the dispatcher may sleep: until the earliest due item, at
// most IdlePoll (other replicas and webhooks add work too).
func (w *Worker) nextWait(ctx context.Context) time.Duration {
	wait := IdlePoll
	now := w.now()
	for _, t := range w.tenants.All() {
		if len(t.Connectors) == 0 {
			// Nothing here is ever claimed (Run skips the tenant): its due
			// marks must not make the dispatcher spin.
			continue
		}
		due, ok, err := w.store.NextDue(ctx, t.ID)
		if err != nil || !ok {
			continue
		}
		if d := due.Sub(now); d < wait {
			wait = d
		}
	}
	if wait < time.Millisecond {
		wait = time.Millisecond
	}
	return wait
}

// process converges every connector concerned by one claimed key, then acks it
// or schedules its retry.
func (w *Worker) process(ctx context.Context, t *tenant.Tenant, c store.Claim) {
	if at := w.settleUntil(ctx, t, c); !at.IsZero() {
		// Changed too recently: released untouched until the quiet period ends.
		w.release(ctx, t, c, at, false)
		return
	}
	// A lease lost mid-convergence (this replica stalled past it: a pause, a
	// partition) ends the convergence: another replica owns the key now.
	cctx, cancel := context.WithCancel(ctx)
	var lost atomic.Bool
	stop := w.keepLeaseOr(ctx, t, c, func() { lost.Store(true); cancel() })
	retryAt, err := w.converge(cctx, t, c)
	stop()
	cancel()
	switch {
	case lost.Load():
		w.remark(ctx, t, c)
		return
	case err != nil && ctx.Err() != nil:
		retryAt = w.now() // interrupted by shutdown: due again at once
	case err != nil:
		// The desired state could not even be read: try again soon.
		w.log.Error().Str("error", clip.Error(err)).Str("tenant", t.ID).Str("subject", clip.String(c.Key.Subject())).Msg("sync: read desired state")
		retryAt = w.now().Add(backoff(w.opts.BackoffBase, 1))
	}
	w.release(ctx, t, c, retryAt, true)
}

// release ends the claim c: acked when at is zero, else due again at at.
// converged says a convergence ran: its retry comes due without a new quiet
// period (a change meanwhile still settles).
func (w *Worker) release(ctx context.Context, t *tenant.Tenant, c store.Claim, at time.Time, converged bool) {
	// Release the lease even when shutting down: what was recorded stays recorded,
	// and an interrupted convergence is due again at once instead of after the
	// lease expires. (A worker that dies here loses the lease the hard way.)
	// While the store is unavailable the release is retried: the lease stays
	// extended meanwhile, so no other replica converges the key twice.
	stop := w.keepLease(ctx, t, c)
	err := w.storeWrite(ctx, func(ctx context.Context) error {
		switch {
		case at.IsZero():
			return w.store.Ack(ctx, c)
		case converged && settles(t, c.Key):
			return w.store.Defer(ctx, c, at)
		default:
			return w.store.Retry(ctx, c, at)
		}
	})
	stop()
	switch {
	case errors.Is(err, store.ErrLeaseLost):
		w.remark(ctx, t, c)
	case err != nil:
		w.log.Warn().Str("error", clip.Error(err)).Str("tenant", t.ID).Str("subject", clip.String(c.Key.Subject())).Msg("sync: release lease")
	}
}

// remark handles a claim whose lease this replica lost before it ended (it
// stalled past the lease: a pause, a partition): another replica may have
// converged the key meanwhile, and a write of this one may still have landed
// after that, with a desired state that is no longer current, while the
// records say synced. The key's next convergence is forced for every
// connector (store.ForceConverge: a flag, not a rewrite of the records, which
// a convergence in flight would overwrite), so its current state is
// converged once more, under a valid lease, from the downstream's truth.
func (w *Worker) remark(ctx context.Context, t *tenant.Tenant, c store.Claim) {
	subj := c.Key.Subject()
	w.log.Warn().Str("tenant", t.ID).Str("subject", clip.String(subj)).
		Msg("sync: lease lost before the claim ended (this replica stalled); the key is converged again")
	// The key's own connectors only: a flag for one that never converges the
	// key would never be taken. Without them (the desired state unreadable)
	// the key is still marked dirty.
	var names []string
	targets, err := w.targets(ctx, t, c.Key)
	for _, tg := range targets {
		names = append(names, tg.conn.Name())
	}
	if werr := w.storeWrite(ctx, func(ctx context.Context) error { return w.store.ForceConverge(ctx, t.ID, c.Key, names...) }); werr != nil {
		err = errors.Join(err, werr)
	}
	if err != nil {
		w.log.Error().Str("error", clip.Error(err)).Str("tenant", t.ID).Str("subject", clip.String(subj)).Msg("sync: converge again after a lost lease")
	}
}

// keepLease extends the lease of c every third of its TTL until the returned
// stop is called, so a slow downstream never lets another replica take the key.
func (w *Worker) keepLease(ctx context.Context, t *tenant.Tenant, c store.Claim) (stop func()) {
	return w.keepLeaseOr(ctx, t, c, nil)
}

// keepLeaseOr is keepLease calling onLost (when set) if an extension finds the
// lease gone (ErrLeaseLost).
func (w *Worker) keepLeaseOr(ctx context.Context, t *tenant.Tenant, c store.Claim, onLost func()) (stop func()) {
	return every(ctx, w.opts.LeaseTTL/3, func(ctx context.Context) bool {
		err := w.retryUnavailableLost(ctx, false, func(ctx context.Context) error {
			// One attempt may not outlive the lease it renews.
			ctx, cancel := context.WithTimeout(ctx, w.opts.LeaseTTL/3)
			defer cancel()
			return w.store.Extend(ctx, c, w.opts.LeaseTTL)
		})
		if err != nil && ctx.Err() == nil {
			w.log.Warn().Str("error", clip.Error(err)).Str("tenant", t.ID).Str("subject", clip.String(c.Key.Subject())).Msg("sync: extend lease")
			if onLost != nil && errors.Is(err, store.ErrLeaseLost) {
				onLost()
			}
			return false
		}
		return true
	})
}

// every runs fn every d in a goroutine until fn returns false, ctx ends or the
// returned stop is called; stop cancels the ctx fn runs under and waits for
// the goroutine to end.
func every(ctx context.Context, d time.Duration, fn func(ctx context.Context) bool) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		tick := time.NewTicker(d)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				if !fn(ctx) {
					return
				}
			}
		}
	}()
	return func() { cancel(); <-finished }
}
