package bimdata

import (
	"context"
	"slices"
	"sync"
	"time"
)

// invitationCache holds the list of pending invitations for a short time so that
// a burst of user convergences (bulk provisioning, a reconcile run) costs one
// listing instead of one per user. Concurrent misses share one fetch.
//
// A listing serves a caller only when its GET was sent at or after the time
// the caller names (connectors.Options.ReadAfter: when the change being
// converged was noted) and less than ttl ago. An invitation created downstream
// before that time may be missing from an older listing, and a convergence
// working from it would leave the invitation pending while reporting success;
// a listing sent after it may be shared by every convergence marked before it,
// so a burst marked together still costs one listing.
//
// The adapter keeps it truthful about its own writes: an accept or deny removes
// the invitation; a failed or uncertain write drops the whole list. The
// "invitation created" webhook also converges the invitation through its own
// subject, which always reads the invitation itself.
type invitationCache struct {
	ttl   time.Duration
	now   func() time.Time
	fetch func(context.Context) ([]invitation, error)

	mu      sync.Mutex
	list    []invitation
	fetched time.Time // when the GET of list was sent
	valid   bool
	gen     uint64            // bumped by every change; a fetch started before is not stored
	flight  *invitationFlight // non-nil while a fetch is in flight
}

// invitationFlight is one listing under way; done is closed when it ends.
type invitationFlight struct {
	sent time.Time // when its GET was sent
	done chan struct{}
}

func newInvitationCache(ttl time.Duration, now func() time.Time, fetch func(context.Context) ([]invitation, error)) *invitationCache {
	return &invitationCache{ttl: ttl, now: now, fetch: fetch}
}

// pending returns the pending invitations from a listing sent at or after
// after (zero: any) and within the ttl, listing them again when the cache
// holds no such listing. A listing sent after the call began is always fresh
// enough: nothing newer can be had. Callers that need a listing at the same
// moment share one GET; a caller that finds one under way that was sent too
// early waits for it and then sends the next one (for everyone then waiting).
// The slice is the caller's.
func (c *invitationCache) pending(ctx context.Context, after time.Time) ([]invitation, error) {
	if c.ttl <= 0 {
		return c.fetch(ctx)
	}
	c.mu.Lock()
	// An after in the future (the bridge's clock ahead of ours) asks for no
	// more than a listing sent from now on.
	if now := c.now(); after.After(now) {
		after = now
	}
	for {
		if c.valid && !c.fetched.Before(after) && c.now().Sub(c.fetched) < c.ttl {
			out := slices.Clone(c.list)
			c.mu.Unlock()
			return out, nil
		}
		if f := c.flight; f != nil {
			c.mu.Unlock()
			select {
			case <-f.done:
				// The leader stored a listing (used above if it was sent late
				// enough), or failed, or a write made it obsolete: look again.
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			c.mu.Lock()
			continue
		}
		f := &invitationFlight{sent: c.now(), done: make(chan struct{})}
		c.flight = f
		gen := c.gen
		c.mu.Unlock()

		list, err := c.fetch(ctx)

		c.mu.Lock()
		c.flight = nil
		close(f.done)
		if err == nil && gen == c.gen {
			c.list, c.valid, c.fetched = slices.Clone(list), true, f.sent
		}
		c.mu.Unlock()
		return list, err
	}
}

// store replaces the cached list with a listing the adapter just made, whose
// GET was sent at sent.
func (c *invitationCache) store(list []invitation, sent time.Time) {
	if c.ttl <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	c.list, c.valid, c.fetched = slices.Clone(list), true, sent
}

// remove drops one invitation that is no longer pending.
func (c *invitationCache) remove(id flexID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	c.list = slices.DeleteFunc(c.list, func(inv invitation) bool { return inv.ID == id })
}

// invalidate forgets the list.
func (c *invitationCache) invalidate() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	c.valid, c.list = false, nil
}
