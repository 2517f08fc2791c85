package store

// A small cache of the users this process read or wrote last, so that a PATCH
// (read, apply, conditional write) usually costs one round trip instead of
// two. It is never trusted for an answer on its own: a write computed from a
// cached user is conditional on the exact stored state the entry describes
// (its version and its lastModified, compared inside the write script), so an
// entry made stale by another replica, a restored backup or a lost write
// costs the read it spared and nothing else.

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/scim-bridge/scim-bridge/filter"
)

// userCacheSize bounds the users the cache holds, userCacheBytes the bytes
// of their attributes (about 1 KB for an Okta-shaped user: 16,384 of them
// take about 16 MB); a user whose attributes exceed userCacheMaxEntry (one
// with thousands of emails) is not kept.
const (
	userCacheSize     = 16384
	userCacheBytes    = 32 << 20
	userCacheMaxEntry = 64 << 10
)

// cachedUser is the stored state of one user: its header numbers and its
// attributes line as stored.
type cachedUser struct {
	version, created, modified int64
	attrs                      string
}

// cacheKey names a cached user.
type cacheKey struct{ tenant, id string }

// size is what the entry counts against the byte budget.
func (u cachedUser) size(k cacheKey) int { return len(u.attrs) + len(k.tenant) + len(k.id) + 64 }

// userCache maps a tenant's user id to the user's last known stored state; the
// oldest entry leaves first when it holds len(ring) users or maxBytes.
type userCache struct {
	mu       sync.Mutex
	m        map[cacheKey]cachedUser
	ring     []cacheKey // oldest at head
	head, n  int
	bytes    int
	maxBytes int
}

func newUserCache(entries, maxBytes int) *userCache {
	return &userCache{m: make(map[cacheKey]cachedUser), ring: make([]cacheKey, entries), maxBytes: maxBytes}
}

func (c *userCache) get(tenant, id string) (cachedUser, bool) {
	c.mu.Lock()
	u, ok := c.m[cacheKey{tenant, id}]
	c.mu.Unlock()
	return u, ok
}

// put records the stored state of a user, unless an entry of a later version
// is there already (a slower reader must not replace a newer write).
func (c *userCache) put(tenant, id string, u cachedUser) {
	k := cacheKey{tenant, id}
	c.mu.Lock()
	defer c.mu.Unlock()
	old, had := c.m[k]
	if had && old.version > u.version {
		return
	}
	if len(c.ring) == 0 || u.size(k) > userCacheMaxEntry {
		if had {
			c.bytes -= old.size(k)
			delete(c.m, k) // its ring slot is skipped when it comes up
		}
		return
	}
	if had {
		c.bytes += u.size(k) - old.size(k)
		c.m[k] = u
	} else {
		if c.n == len(c.ring) {
			c.evictOldest()
		}
		c.ring[(c.head+c.n)%len(c.ring)] = k
		c.n++
		c.m[k] = u
		c.bytes += u.size(k)
	}
	for c.bytes > c.maxBytes && c.n > 0 {
		c.evictOldest()
	}
}

// evictOldest removes the entry at the head of the ring (if its key is still
// cached: a dropped key's slot stays until it comes up).
func (c *userCache) evictOldest() {
	k := c.ring[c.head]
	c.ring[c.head] = cacheKey{}
	c.head = (c.head + 1) % len(c.ring)
	c.n--
	if u, ok := c.m[k]; ok {
		c.bytes -= u.size(k)
		delete(c.m, k)
	}
}

// drop forgets a user (deleted, or its stored state unknown).
func (c *userCache) drop(tenant, id string) {
	k := cacheKey{tenant, id}
	c.mu.Lock()
	if u, ok := c.m[k]; ok {
		c.bytes -= u.size(k)
		delete(c.m, k)
	}
	c.mu.Unlock()
}

// rememberUser records r as stored with attributes line attrs.
func (s *Store) rememberUser(tenant string, r *Resource, attrs string) {
	if r.Kind != KindUser {
		return
	}
	s.users.put(tenant, r.ID, cachedUser{
		version: r.Version, created: r.Created.UnixNano(), modified: r.LastModified.UnixNano(), attrs: attrs,
	})
}

// rememberDoc records a user's document as read from the store.
func (s *Store) rememberDoc(tenant string, r *Resource, doc string) {
	_, attrs := docLines(doc)
	s.rememberUser(tenant, r, attrs)
}

// GetUserForUpdate returns a user to compute a write from, and whether it
// came from this process's cache rather than from the store. A cached user
// may be stale: write with ReplaceUserFrom, which refuses (ErrPrecondition) a
// user that changed since, then read it with Get and compute again; and do
// not answer a request from a cached user without writing. ErrNotFound when
// the user is neither cached nor stored.
func (s *Store) GetUserForUpdate(ctx context.Context, tenant, id string) (*Resource, bool, error) {
	if err := checkResourceKey(tenant, KindUser, &id); err != nil {
		return nil, false, fmt.Errorf("get user for update: %w", err)
	}
	if u, ok := s.users.get(tenant, id); ok {
		attrs, err := new(filter.JSONDecoder).DecodeObject(u.attrs)
		if err == nil {
			if attrs == nil {
				attrs = map[string]any{}
			}
			return &Resource{
				ID: id, Kind: KindUser, Version: u.version,
				Created:      time.Unix(0, u.created).UTC(),
				LastModified: time.Unix(0, u.modified).UTC(),
				Attrs:        attrs,
			}, true, nil
		}
		s.users.drop(tenant, id)
	}
	r, err := s.Get(ctx, tenant, KindUser, id)
	return r, false, err
}

// ReplaceUserFrom is ReplaceUser conditional on base being exactly the stored
// user: the same version and the same lastModified (a version alone could
// repeat after a restore from backup). Otherwise ErrPrecondition and nothing
// changes.
func (s *Store) ReplaceUserFrom(ctx context.Context, tenant string, r *Resource, base *Resource) ([]GroupRef, error) {
	if r.Kind != KindUser {
		return nil, fmt.Errorf("replace user: %s %s is not a user", r.Kind, r.ID)
	}
	cond := strconv.FormatInt(base.Version, 10) + ":" + strconv.FormatInt(base.LastModified.UnixNano(), 10)
	reply, err := s.replace(ctx, tenant, r, cond, "R")
	return reply.groups, err
}
