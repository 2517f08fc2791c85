package fanout

// Liveness of this replica and the release of claims no live replica holds, so
// a crashed replica costs seconds of delay, not a whole lease; and the pause
// of the dispatcher while the store is unavailable.

import (
	"context"
	"time"

	"github.com/scim-bridge/scim-bridge/bridge/internal/clip"
)

const (
	// DefaultInstanceTTL is how long a replica counts as alive after its last
	// heartbeat; it beats every third of it.
	DefaultInstanceTTL = 6 * time.Second
	// pauseMax is the longest the dispatcher waits between two looks at an
	// unavailable store.
	pauseMax = 2 * time.Second
)

// Liveness is the optional store capability behind instance heartbeats: a
// store that has it lets the worker announce itself and release the claims of
// replicas that stopped announcing themselves (store.Store has it).
type Liveness interface {
	KeepAlive(ctx context.Context, owner string, ttl time.Duration) error
	Retire(ctx context.Context, owner string) error
	ReleaseOrphanedClaims(ctx context.Context, tenant string) (int, error)
}

// startLiveness announces this replica at once and then every third of
// InstanceTTL, and on each beat releases the claims of dead replicas (at
// start-up too: the claims of this replica's previous life). The returned stop
// retires the replica: its claims are all released by then.
func (w *Worker) startLiveness(ctx context.Context) (stop func()) {
	lv, ok := w.store.(Liveness)
	if !ok || w.opts.Owner == "" {
		return func() {}
	}
	beat := func(ctx context.Context) {
		if err := lv.KeepAlive(ctx, w.opts.Owner, w.opts.InstanceTTL); err != nil {
			if ctx.Err() == nil && !w.unavailable(err) {
				w.log.Warn().Str("error", clip.Error(err)).Msg("sync: instance heartbeat")
			}
			return
		}
		for _, t := range w.tenants.All() {
			n, err := lv.ReleaseOrphanedClaims(ctx, t.ID)
			switch {
			case err != nil && ctx.Err() == nil && !w.unavailable(err):
				w.log.Warn().Str("error", clip.Error(err)).Str("tenant", t.ID).Msg("sync: release orphaned claims")
			case n > 0:
				w.log.Info().Int("released", n).Str("tenant", t.ID).Msg("sync: released the claims of a stopped replica")
				w.Kick()
			}
		}
	}
	beat(ctx)
	stopBeats := every(ctx, w.opts.InstanceTTL/3, func(ctx context.Context) bool { beat(ctx); return true })
	return func() {
		stopBeats()
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		if err := lv.Retire(rctx, w.opts.Owner); err != nil {
			w.log.Debug().Str("error", clip.Error(err)).Msg("sync: retire instance")
		}
	}
}

// pauser tracks whether the store is unavailable: the dispatcher then logs
// once, waits with a growing pause (at most pauseMax) between two looks, and
// logs once again when the store answers.
type pauser struct {
	paused bool
	next   time.Duration
	since  time.Time
}

func (p *pauser) down(w *Worker, err error) {
	if !p.paused {
		p.paused, p.next, p.since = true, storeRetryBase, time.Now()
		w.log.Warn().Str("error", clip.Error(err)).Msg("sync: store unavailable, workers paused")
	}
}

func (p *pauser) up(w *Worker) {
	if p.paused {
		p.paused = false
		w.log.Info().Dur("after", time.Since(p.since)).Msg("sync: store available again, workers resumed")
	}
}

// wait returns the next pause while the store is unavailable.
func (p *pauser) wait() time.Duration {
	d := jitter(p.next)
	p.next = min(p.next*2, pauseMax)
	return d
}
