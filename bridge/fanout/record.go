package fanout

// Store writes of the worker that must not be fire-and-forget: the sync record,
// the ack or retry of a claim, the lease extension. Each is retried with a
// jittered backoff while the store says it is unavailable (Redis restarting,
// loading, failing over). Every one of these writes is idempotent from the
// worker's point of view (a sync record is written whole; a release or
// extension checks the claim's token), so a write whose reply was lost may be
// sent again; a release that already happened then answers ErrLeaseLost,
// which counts as done.

import (
	"context"
	"errors"
	"time"

	"github.com/scim-bridge/scim-bridge/store"
)

const (
	// storeRetryBase and storeRetryCap bound the pauses between two attempts
	// of one store write.
	storeRetryBase = 50 * time.Millisecond
	storeRetryCap  = 2 * time.Second
	// DefaultRecordBudget is how long one store write of the worker is retried
	// while the store is unavailable: longer than a Redis restart loading a
	// modest data set, bounded so a shutdown does not hang for ever.
	DefaultRecordBudget = 2 * time.Minute
)

// unavailable reports whether err says the store is unavailable for now.
func (w *Worker) unavailable(err error) bool {
	return err != nil && w.opts.Unavailable != nil && w.opts.Unavailable(err)
}

// storeWrite runs write until it succeeds, fails for another reason than an
// unavailable store, or RecordBudget has passed. It runs even when ctx is
// cancelled (a shutdown still records what the downstream already did); only
// the budget ends it then. After a first unavailable attempt, ErrLeaseLost
// means an earlier attempt ran (its reply was lost): that is success.
func (w *Worker) storeWrite(ctx context.Context, write func(ctx context.Context) error) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), w.opts.RecordBudget)
	defer cancel()
	return w.retryUnavailable(ctx, write)
}

// retryUnavailable is storeWrite bound to ctx.
func (w *Worker) retryUnavailable(ctx context.Context, write func(ctx context.Context) error) error {
	return w.retryUnavailableLost(ctx, true, write)
}

// retryUnavailableLost is retryUnavailable; lostIsDone says whether
// ErrLeaseLost after an unavailable attempt means that attempt ran (a
// release). For an extension it never does: re-sent with the same token, an
// extension that already ran succeeds again, so ErrLeaseLost is a real loss.
func (w *Worker) retryUnavailableLost(ctx context.Context, lostIsDone bool, write func(ctx context.Context) error) error {
	pause := storeRetryBase
	for attempt := 1; ; attempt++ {
		err := write(ctx)
		switch {
		case err == nil:
			return nil
		case lostIsDone && attempt > 1 && errors.Is(err, store.ErrLeaseLost):
			return nil
		case !w.unavailable(err):
			return err
		}
		if !sleepCtx(ctx, jitter(pause)) {
			return err
		}
		pause = min(pause*2, storeRetryCap)
	}
}

// sleepCtx waits d or until ctx ends; false when ctx ended first.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
