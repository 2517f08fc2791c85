package bridge

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/scim-bridge/scim-bridge/connectors"
	"github.com/scim-bridge/scim-bridge/store"
)

// Retry policy of the sync worker (alertmanager-style bounded, jittered
// exponential backoff).
const (
	backoffBase = 1 * time.Second
	backoffCap  = 10 * time.Minute
	// maxAttempts: a subject still failing after this many retryable attempts goes
	// to the dead-letter set (visible in status, re-playable with retry).
	maxAttempts = 15
	leaseTTL    = 2 * time.Minute
	claimBatch  = 64
	idlePoll    = 500 * time.Millisecond
)

// backoff returns the delay before attempt n (1-based): base·2^(n-1), capped,
// with ±20% jitter.
func backoff(base time.Duration, n int) time.Duration {
	d := base
	for i := 1; i < n && d < backoffCap; i++ {
		d *= 2
	}
	if d > backoffCap {
		d = backoffCap
	}
	j := time.Duration(rand.Int64N(int64(d)/5*2+1)) - d/5
	return d + j
}

// spread returns a time shortly after until (up to a fifth of the wait, plus up to
// 100 ms), so subjects held back by one Retry-After do not all come due at once.
func spread(now, until time.Time) time.Time {
	d := until.Sub(now)
	if d < 0 {
		d = 0
	}
	return until.Add(time.Duration(rand.Int64N(int64(d)/5 + int64(100*time.Millisecond))))
}

// syncHooks let tests stop a worker at each step of a convergence.
type syncHooks struct {
	beforeConverge func(tenant, connector, subject string) error
	afterConverge  func(tenant, connector, subject string) error
}

// syncer is the work-queue consumer: a dispatcher claims due keys and a pool of
// workers converges them, each connector independently.
type syncer struct {
	b     *Bridge
	kick  chan struct{}
	hooks syncHooks
	// backoffBase and leaseTTL default to the constants; tests shorten them.
	backoffBase time.Duration
	leaseTTL    time.Duration

	mu       sync.Mutex
	cooldown map[string]time.Time // tenant/connector → no calls before (429 Retry-After)
}

func newSyncer(b *Bridge) *syncer {
	return &syncer{
		b: b, kick: make(chan struct{}, 1), cooldown: map[string]time.Time{},
		backoffBase: backoffBase, leaseTTL: leaseTTL,
	}
}

// Kick wakes the dispatcher (after a local write) without waiting for its poll.
func (s *syncer) Kick() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

type job struct {
	t *tenant
	c store.Claim
}

// run claims and processes work until ctx is done. It claims only as many keys
// as it has idle workers, so a claimed key's lease starts when its work does;
// leases are extended while a convergence runs.
func (s *syncer) run(ctx context.Context, workers int) {
	busy := make(chan struct{}, workers) // one token per running job
	freed := make(chan struct{}, 1)
	var wg sync.WaitGroup
	defer wg.Wait()
	owner := s.b.opts.InstanceID
	for ctx.Err() == nil {
		claimed := 0
		for _, t := range s.b.order {
			free := workers - len(busy)
			if free <= 0 {
				break
			}
			if len(t.connectors) == 0 {
				continue
			}
			cs, err := s.b.store.Claim(ctx, t.id, owner, s.leaseTTL, min(free, claimBatch))
			if err != nil {
				if ctx.Err() == nil {
					s.b.log.Error().Err(err).Str("tenant", t.id).Msg("claim work")
				}
				continue
			}
			claimed += len(cs)
			for _, c := range cs {
				busy <- struct{}{}
				wg.Add(1)
				go func() {
					defer wg.Done()
					s.process(ctx, t, c)
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
			timer = time.NewTimer(s.nextWait(ctx))
			wait = timer.C
		}
		select {
		case <-ctx.Done():
		case <-s.kick:
		case <-freed:
		case <-wait:
		}
		if timer != nil {
			timer.Stop()
		}
	}
}

// nextWait is how long the dispatcher may sleep: until the earliest due item, at
// most idlePoll (other replicas and webhooks add work too).
func (s *syncer) nextWait(ctx context.Context) time.Duration {
	wait := idlePoll
	now := s.b.now()
	for _, t := range s.b.order {
		due, ok, err := s.b.store.NextDue(ctx, t.id)
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
func (s *syncer) process(ctx context.Context, t *tenant, c store.Claim) {
	stop := s.keepLease(ctx, t, c)
	retryAt, err := s.converge(ctx, t, c.Key)
	stop()
	switch {
	case err != nil && ctx.Err() != nil:
		retryAt = s.b.now() // interrupted by shutdown: due again at once
	case err != nil:
		// The desired state could not even be read: try again soon.
		s.b.log.Error().Err(err).Str("tenant", t.id).Str("subject", c.Key.Kind+"|"+c.Key.ID).Msg("sync: read desired state")
		retryAt = s.b.now().Add(backoff(s.backoffBase, 1))
	}
	// Release the lease even when shutting down: what was recorded stays recorded,
	// and an interrupted convergence is due again at once instead of after the
	// lease expires. (A worker that dies here loses the lease the hard way.)
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if retryAt.IsZero() {
		err = s.b.store.Ack(rctx, c)
	} else {
		err = s.b.store.Retry(rctx, c, retryAt)
	}
	if err != nil {
		s.b.log.Warn().Err(err).Str("tenant", t.id).Str("subject", c.Key.Kind+"|"+c.Key.ID).Msg("sync: release lease")
	}
}

// keepLease extends the lease of c every third of its TTL until the returned
// stop is called, so a slow downstream never lets another replica take the key.
func (s *syncer) keepLease(ctx context.Context, t *tenant, c store.Claim) (stop func()) {
	done := make(chan struct{})
	go func() {
		tick := time.NewTicker(s.leaseTTL / 3)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-tick.C:
				if err := s.b.store.Extend(ctx, c, s.leaseTTL); err != nil && ctx.Err() == nil {
					s.b.log.Warn().Err(err).Str("tenant", t.id).Str("subject", c.Key.Kind+"|"+c.Key.ID).Msg("sync: extend lease")
					return
				}
			}
		}
	}()
	return func() { close(done) }
}

// target is one connector's share of a claimed key.
type target struct {
	conn    connectors.Connector
	subject connectors.Subject
}

// targets derives, for a claimed key, the connectors concerned and their subject.
func (s *syncer) targets(ctx context.Context, t *tenant, k store.WorkKey) ([]target, error) {
	var out []target
	switch k.Kind {
	case store.WorkUser:
		u, err := loadUser(ctx, s.b.store, t.id, k.ID)
		if err != nil {
			return nil, err
		}
		subj := connectors.Subject{Kind: connectors.SubjectUser, ID: k.ID, User: u}
		for _, c := range t.connectors {
			if c.Handles(connectors.SubjectUser) {
				out = append(out, target{c, subj})
			}
		}
	case store.WorkTenant:
		subj := connectors.Subject{Kind: connectors.SubjectTenant, ID: t.id}
		for _, c := range t.connectors {
			if c.Handles(connectors.SubjectTenant) {
				out = append(out, target{c, subj})
			}
		}
	case store.WorkObject:
		name, obj, ok := strings.Cut(k.ID, "/")
		c := t.byName[name]
		if ok && c != nil && c.Handles(connectors.SubjectObject) {
			out = append(out, target{c, connectors.Subject{Kind: connectors.SubjectObject, ID: obj}})
		}
	case store.WorkGroup:
		// Group writes mark the affected members themselves; no connector
		// converges a group as such.
	}
	return out, nil
}

// converge runs every target of k concurrently (one failing or slow connector
// never delays another) and returns the earliest retry time needed, zero if none.
func (s *syncer) converge(ctx context.Context, t *tenant, k store.WorkKey) (time.Time, error) {
	targets, err := s.targets(ctx, t, k)
	if err != nil || len(targets) == 0 {
		return time.Time{}, err
	}
	subject := k.Kind + "|" + k.ID
	names := make([]string, len(targets))
	for i, tg := range targets {
		names[i] = tg.conn.Name()
	}
	states, err := s.b.store.GetSyncs(ctx, t.id, subject, names)
	if err != nil {
		return time.Time{}, fmt.Errorf("read sync state: %w", err)
	}
	var (
		mu      sync.Mutex
		retryAt time.Time
		wg      sync.WaitGroup
	)
	for _, tg := range targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			at := s.convergeOne(ctx, t, subject, tg, states[tg.conn.Name()])
			if !at.IsZero() {
				mu.Lock()
				if retryAt.IsZero() || at.Before(retryAt) {
					retryAt = at
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return retryAt, nil
}

// convergeOne converges one connector for one subject and records the outcome.
// It returns when the subject must be retried for this connector (zero: done).
func (s *syncer) convergeOne(ctx context.Context, t *tenant, subject string, tg target, st *store.SyncState) time.Time {
	name := tg.conn.Name()
	hash := desiredHash(tg.conn, tg.subject)
	now := s.b.now()
	if st == nil {
		st = &store.SyncState{Connector: name, Subject: subject}
	}
	switch {
	case st.Status == store.SyncSynced && st.AppliedHash == hash:
		return time.Time{} // nothing changed since the last success
	case st.Status == store.SyncDead && st.InFlightHash == hash:
		return time.Time{} // parked until replayed or until the desired state changes
	case st.Status == store.SyncRetrying && st.InFlightHash == hash && st.NextRetry.After(now):
		return st.NextRetry // an early mark: the retry is not due yet
	}
	if until := s.cooling(t.id, name); until.After(now) {
		return spread(now, until) // the downstream asked us to back off (429)
	}
	if st.InFlightHash != hash {
		st.Attempts = 0 // a new desired state starts a new series of attempts
	}
	if h := s.hooks.beforeConverge; h != nil {
		if err := h(t.id, name, subject); err != nil {
			return now
		}
	}
	var prev connectors.Record
	if len(st.Record) > 0 {
		_ = json.Unmarshal(st.Record, &prev)
	}
	start := time.Now()
	rec, actions, err := tg.conn.Converge(ctx, tg.subject, prev, connectors.Options{})
	elapsed := time.Since(start)
	if h := s.hooks.afterConverge; h != nil {
		if herr := h(t.id, name, subject); herr != nil {
			return now
		}
	}
	if ctx.Err() != nil && err != nil {
		return now // interrupted by shutdown: due again at once, state unchanged
	}
	if raw, merr := json.Marshal(rec); merr == nil && (err == nil || len(rec.IDs) > 0 || len(rec.State) > 0) {
		st.Record = raw
	}
	st.Attempts++
	st.InFlightHash = hash
	st.UpdatedAt = s.b.now()
	var retryAt time.Time
	ev := s.b.log.Info()
	if err == nil {
		st.Status, st.AppliedHash, st.LastError, st.NextRetry, st.Attempts = store.SyncSynced, hash, "", time.Time{}, 0
	} else {
		class := connectors.ClassOf(err)
		st.LastError = err.Error()
		switch {
		case class == connectors.Permanent:
			st.Status = store.SyncDead
		case st.Attempts >= maxAttempts:
			st.Status = store.SyncDead
			st.LastError = fmt.Sprintf("gave up after %d attempts: %s", st.Attempts, st.LastError)
		default:
			delay := backoff(s.backoffBase, st.Attempts)
			if class == connectors.RateLimited {
				if ra := connectors.RetryAfterOf(err); ra > 0 {
					delay = ra
				}
				s.coolDown(t.id, name, s.b.now().Add(delay))
			}
			st.Status = store.SyncRetrying
			retryAt = spread(s.b.now(), s.b.now().Add(delay))
		}
		st.NextRetry = retryAt
		ev = s.b.log.Warn().Str("class", class.String()).Str("error", st.LastError)
	}
	s.b.metrics.inc("scim_bridge_convergences_total", "tenant", t.id, "connector", name, "outcome", st.Status)
	ev.Str("tenant", t.id).Str("connector", name).Str("subject", subject).
		Str("outcome", st.Status).Int("attempt", st.Attempts).Int("writes", len(actions)).
		Dur("duration", elapsed).Msg("converge")
	// Record even when shutting down: the downstream already changed.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if perr := s.b.store.PutSync(rctx, t.id, st); perr != nil {
		s.b.log.Error().Err(perr).Str("tenant", t.id).Str("connector", name).Str("subject", subject).Msg("record sync state")
		if retryAt.IsZero() {
			retryAt = s.b.now().Add(backoff(s.backoffBase, 1))
		}
	}
	return retryAt
}

func (s *syncer) cooling(tenantID, connector string) time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cooldown[tenantID+"/"+connector]
}

func (s *syncer) coolDown(tenantID, connector string, until time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := tenantID + "/" + connector
	if until.After(s.cooldown[k]) {
		s.cooldown[k] = until
	}
}
