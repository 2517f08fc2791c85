package connectors

import (
	"context"
	"fmt"
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Throttle paces the requests of one connector of one tenant: Client.Do asks it
// before every request and tells it how the request went. One Throttle serves
// every convergence of the connector; the bridge shares its holds between
// replicas through a ThrottleStore.
type Throttle interface {
	// Acquire waits until one request may leave and returns the function the
	// caller must call once with the request's outcome. It fails at once with a
	// RateLimited *Error (Status 0, RetryAfter set) when the connector is held
	// for longer than the throttle waits out itself, so the caller can put its
	// work aside without spending an attempt; and with ctx's error.
	Acquire(ctx context.Context) (done func(Feedback), err error)
}

// Feedback is the outcome of one request, as a Throttle needs it.
type Feedback struct {
	// Status is the HTTP status of the answer; 0 when none came.
	Status int
	// Timeout: no answer in time, or the connection failed.
	Timeout bool
	// Hold is how long the downstream asked for no request at all: the
	// Retry-After of a 429 or 503, or the reset of an exhausted rate-limit
	// header (see HoldOf). 0 means no hold.
	Hold time.Duration
}

// ThrottleStore keeps the holds of one (tenant, connector) where every replica
// of the bridge sees them (the bridge keeps them in Redis).
type ThrottleStore interface {
	// Hold records that no request may leave before until; a later hold
	// already recorded stays. limited counts one rate-limited answer (429).
	Hold(ctx context.Context, until time.Time, limited bool) error
	// HeldUntil returns the hold in force: zero, or a time that may be past.
	HeldUntil(ctx context.Context) (time.Time, error)
}

// Defaults of the throttle keys.
const (
	// DefaultMaxConcurrency is the ceiling of the adaptive concurrency limit
	// when max_concurrency is not set.
	DefaultMaxConcurrency = 16
	// DefaultMaxHoldWait is the longest hold Acquire waits out itself.
	DefaultMaxHoldWait = 250 * time.Millisecond
)

// Tuning of the adaptive throttle.
const (
	// paceShare is the share of the observed accepted rate the pace is set to
	// after a rate-limited answer: the margin absorbs the jitter between when a
	// request leaves and when the API counts it.
	paceShare = 0.95
	// paceProbe and paceProbeEvery: while no answer is rate-limited, the pace
	// rises by paceProbe every paceProbeEvery, so a raised limit is found again.
	paceProbe      = 1.01
	paceProbeEvery = 10 * time.Second
	// paceWindow is the window over which the accepted rate is observed: the
	// answers (not the sends) within it, which is what the API counted when it
	// said no.
	paceWindow = time.Second
	// minPace: fewer accepted requests per second than this teach no pace
	// (the connector was not busy; the hold alone answers the limit).
	minPace = 10
	// decrease is the multiplicative decrease of the concurrency limit.
	decrease = 0.5
)

// ThrottleOptions configure NewThrottle.
type ThrottleOptions struct {
	// MaxConcurrency is the ceiling of the concurrency limit (at least 1); 0
	// means DefaultMaxConcurrency. The limit starts there, rises by one per
	// limit's worth of answered requests, and halves (down to 1) on a 429, a
	// 503 or a timeout.
	MaxConcurrency int
	// Rate, when positive, is a fixed pace in requests per second (an API's
	// published limit). When 0 the pace is learned: none until a 429, then
	// paceShare of the rate the API accepted in the second before it (its
	// answers), rising
	// slowly while no 429 comes.
	Rate float64
	// Burst is the burst of a fixed Rate; 0 means 1.
	Burst int
	// Store shares holds with the other replicas; nil keeps them in this process.
	Store ThrottleStore
	// MaxHoldWait is the longest hold Acquire waits out; longer holds fail
	// Acquire at once. 0 means DefaultMaxHoldWait; negative never waits.
	MaxHoldWait time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// ThrottleOptions returns the throttle options of the Base keys
// max_concurrency, rate (or its older name rate_limit) and burst.
func (b Base) ThrottleOptions() ThrottleOptions {
	r := b.Rate
	if r == 0 {
		r = b.RateLimit
	}
	return ThrottleOptions{MaxConcurrency: b.MaxConcurrency, Rate: r, Burst: b.Burst}
}

// ThrottleStatus is what a throttle reports for status pages and metrics.
type ThrottleStatus struct {
	// HeldUntil is the latest hold this process knows of (zero: none).
	HeldUntil time.Time
	// Limit is the current concurrency limit; MaxConcurrency its ceiling.
	Limit, MaxConcurrency int
	// InFlight is the number of requests under way.
	InFlight int
	// Rate is the pace in force in requests per second (0: none); Fixed tells
	// whether it was configured rather than learned.
	Rate  float64
	Fixed bool
	// RateLimited counts the 429 answers seen by this process.
	RateLimited int64
}

// ThrottleReporter is a throttle that reports its state.
type ThrottleReporter interface {
	Status() ThrottleStatus
}

// Adaptive is the Throttle of the bridge: a hold shared through a
// ThrottleStore, an AIMD concurrency limit and a fixed or learned pace. It is
// safe for concurrent use.
type Adaptive struct {
	o   ThrottleOptions
	now func() time.Time

	mu       sync.Mutex
	limit    float64 // concurrency limit, in [1, MaxConcurrency]
	inflight int
	waiters  []chan struct{} // FIFO of Acquire calls waiting for a slot
	held     time.Time       // latest hold known here
	sent     uint64          // requests sent so far
	cutAt    uint64          // requests sent before this one do not decrease again
	accepted []time.Time     // answer times of accepted requests within paceWindow
	pace     *rate.Limiter   // nil: no pace
	probed   time.Time       // last rate-limited answer or pace rise
	limited  int64
}

var (
	_ Throttle         = (*Adaptive)(nil)
	_ ThrottleReporter = (*Adaptive)(nil)
)

// NewThrottle returns an adaptive throttle.
func NewThrottle(o ThrottleOptions) *Adaptive {
	if o.MaxConcurrency <= 0 {
		o.MaxConcurrency = DefaultMaxConcurrency
	}
	if o.Burst <= 0 {
		o.Burst = 1
	}
	if o.MaxHoldWait == 0 {
		o.MaxHoldWait = DefaultMaxHoldWait
	}
	a := &Adaptive{o: o, now: o.Now, limit: float64(o.MaxConcurrency)}
	if a.now == nil {
		a.now = time.Now
	}
	if o.Rate > 0 {
		a.pace = rate.NewLimiter(rate.Limit(o.Rate), o.Burst)
	}
	return a
}

// Acquire implements Throttle: a concurrency slot first, then the pace, then
// the hold (read from the store last, so a hold set by any replica while this
// request waited is seen).
func (a *Adaptive) Acquire(ctx context.Context) (func(Feedback), error) {
	if err := a.slot(ctx); err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			a.free()
		}
	}()
	for shared := false; ; {
		until := a.heldUntil(ctx, shared)
		now := a.now()
		if until.After(now) {
			wait := until.Sub(now)
			if a.o.MaxHoldWait < 0 || wait > a.o.MaxHoldWait {
				return nil, &Error{Class: RateLimited, Op: "throttle", RetryAfter: wait,
					Msg: "connector held until " + until.UTC().Format(time.RFC3339Nano)}
			}
			if err := sleep(ctx, wait); err != nil {
				return nil, err
			}
			shared = false
			continue // then the pace again: a hold's end is no burst
		}
		if shared {
			break
		}
		a.mu.Lock()
		pace := a.pace
		a.mu.Unlock()
		if pace != nil {
			if err := pace.Wait(ctx); err != nil {
				return nil, fmt.Errorf("throttle: %w", err)
			}
		}
		shared = true // last, the hold every replica sees
	}
	a.mu.Lock()
	a.sent++
	seq := a.sent
	a.mu.Unlock()
	ok = true
	var once sync.Once
	return func(f Feedback) { once.Do(func() { a.done(ctx, seq, f) }) }, nil
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return fmt.Errorf("throttle: %w", ctx.Err())
	case <-t.C:
		return nil
	}
}

// heldUntil is the local hold or, with shared, the later of it and the one in
// the store. A store that cannot be read leaves the local hold in force.
func (a *Adaptive) heldUntil(ctx context.Context, shared bool) time.Time {
	a.mu.Lock()
	until := a.held
	a.mu.Unlock()
	if shared && a.o.Store != nil {
		if shared, err := a.o.Store.HeldUntil(ctx); err == nil && shared.After(until) {
			a.mu.Lock()
			if shared.After(a.held) {
				a.held = shared
			}
			a.mu.Unlock()
			until = shared
		}
	}
	return until
}

// slot waits for a concurrency slot.
func (a *Adaptive) slot(ctx context.Context) error {
	a.mu.Lock()
	if a.inflight < int(a.limit) && len(a.waiters) == 0 {
		a.inflight++
		a.mu.Unlock()
		return nil
	}
	ch := make(chan struct{})
	a.waiters = append(a.waiters, ch)
	a.mu.Unlock()
	select {
	case <-ch:
		return nil // the slot was handed over by free
	case <-ctx.Done():
		a.mu.Lock()
		defer a.mu.Unlock()
		for i, w := range a.waiters {
			if w == ch {
				a.waiters = append(a.waiters[:i:i], a.waiters[i+1:]...)
				return fmt.Errorf("throttle: %w", ctx.Err())
			}
		}
		// Handed over just as ctx ended: give it back.
		a.inflight--
		a.handOverLocked()
		return fmt.Errorf("throttle: %w", ctx.Err())
	}
}

// free releases a slot.
func (a *Adaptive) free() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.inflight--
	a.handOverLocked()
}

// handOverLocked gives free slots to waiters, oldest first.
func (a *Adaptive) handOverLocked() {
	for len(a.waiters) > 0 && a.inflight < int(a.limit) {
		ch := a.waiters[0]
		a.waiters = a.waiters[1:]
		a.inflight++
		close(ch)
	}
}

// done takes the feedback of request seq.
func (a *Adaptive) done(ctx context.Context, seq uint64, f Feedback) {
	now := a.now()
	limited := f.Status == 429
	var hold time.Time
	if f.Hold > 0 {
		hold = now.Add(f.Hold)
	}
	a.mu.Lock()
	if hold.After(a.held) {
		a.held = hold
	}
	congested := limited || f.Status == 503 || f.Timeout
	fresh := seq > a.cutAt // sent after the last decrease: a new congestion event
	switch {
	case congested && fresh:
		a.cutAt = a.sent
		a.limit = max(1, a.limit*decrease)
		if limited {
			a.learnPaceLocked(now)
		}
	case congested:
	case f.Status != 0:
		a.limit = min(float64(a.o.MaxConcurrency), a.limit+1/a.limit)
		a.accepted = append(a.accepted, now)
		if a.accepted[0].Before(now.Add(-paceWindow)) {
			a.trimAcceptedLocked(now)
		}
		a.probePaceLocked(now)
	}
	if limited {
		a.limited++
	}
	a.inflight--
	a.handOverLocked()
	a.mu.Unlock()
	if a.o.Store != nil && (!hold.IsZero() || limited) {
		// Best effort: an unreachable store leaves the hold local.
		_ = a.o.Store.Hold(context.WithoutCancel(ctx), hold, limited)
	}
}

// learnPaceLocked sets the learned pace after a rate-limited answer.
func (a *Adaptive) learnPaceLocked(now time.Time) {
	a.probed = now
	if a.o.Rate > 0 {
		return // a fixed pace is the operator's word
	}
	a.trimAcceptedLocked(now)
	// The estimate of the limit is what the API accepted, not the pace: a 429
	// that jitter caused below the limit does not ratchet the pace down.
	observed := float64(len(a.accepted)) / paceWindow.Seconds()
	if observed < minPace {
		return
	}
	r := rate.Limit(math.Max(1, observed*paceShare))
	if a.pace == nil {
		a.pace = rate.NewLimiter(r, 1)
		return
	}
	a.pace.SetLimitAt(now, r)
}

// probePaceLocked raises a learned pace while no answer is rate-limited.
func (a *Adaptive) probePaceLocked(now time.Time) {
	if a.pace == nil || a.o.Rate > 0 || now.Sub(a.probed) < paceProbeEvery {
		return
	}
	a.probed = now
	a.pace.SetLimitAt(now, a.pace.Limit()*paceProbe)
}

// trimAcceptedLocked drops accepted send times older than paceWindow.
func (a *Adaptive) trimAcceptedLocked(now time.Time) {
	cut := now.Add(-paceWindow)
	i := 0
	for i < len(a.accepted) && a.accepted[i].Before(cut) {
		i++
	}
	if i > 0 {
		a.accepted = append(a.accepted[:0], a.accepted[i:]...)
	}
}

// Status reports the throttle's state.
func (a *Adaptive) Status() ThrottleStatus {
	a.mu.Lock()
	defer a.mu.Unlock()
	st := ThrottleStatus{
		HeldUntil: a.held, Limit: int(a.limit), MaxConcurrency: a.o.MaxConcurrency,
		InFlight: a.inflight, Fixed: a.o.Rate > 0, RateLimited: a.limited,
	}
	if a.pace != nil {
		st.Rate = float64(a.pace.Limit())
	}
	return st
}
