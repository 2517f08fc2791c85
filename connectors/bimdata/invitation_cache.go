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
// The adapter keeps it truthful about its own writes: an accept or deny removes
// the invitation; a failed or uncertain write drops the whole list. An
// invitation created downstream while the list is cached is seen at the next
// listing; the "invitation created" webhook converges it at once through the
// invitation subject, which always reads the invitation itself.
type invitationCache struct {
	ttl   time.Duration
	now   func() time.Time
	fetch func(context.Context) ([]invitation, error)

	mu      sync.Mutex
	list    []invitation
	expires time.Time
	valid   bool
	gen     uint64        // bumped by every change; a fetch started before is not stored
	loading chan struct{} // non-nil while a fetch is in flight
}

func newInvitationCache(ttl time.Duration, now func() time.Time, fetch func(context.Context) ([]invitation, error)) *invitationCache {
	return &invitationCache{ttl: ttl, now: now, fetch: fetch}
}

// pending returns the pending invitations, from the cache when fresh. The slice
// is the caller's.
func (c *invitationCache) pending(ctx context.Context) ([]invitation, error) {
	if c.ttl <= 0 {
		return c.fetch(ctx)
	}
	for {
		c.mu.Lock()
		if c.valid && c.now().Before(c.expires) {
			out := slices.Clone(c.list)
			c.mu.Unlock()
			return out, nil
		}
		if wait := c.loading; wait != nil {
			c.mu.Unlock()
			select {
			case <-wait:
				continue // the leader stored a fresh list, or failed: look again
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		done := make(chan struct{})
		c.loading = done
		gen := c.gen
		c.mu.Unlock()

		list, err := c.fetch(ctx)

		c.mu.Lock()
		c.loading = nil
		close(done)
		if err == nil && gen == c.gen {
			c.list, c.valid, c.expires = slices.Clone(list), true, c.now().Add(c.ttl)
		}
		c.mu.Unlock()
		return list, err
	}
}

// store replaces the cached list with a listing the adapter just made.
func (c *invitationCache) store(list []invitation) {
	if c.ttl <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	c.list, c.valid, c.expires = slices.Clone(list), true, c.now().Add(c.ttl)
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
