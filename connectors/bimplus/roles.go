package bimplus

import (
	"context"
	"slices"
	"strings"
	"sync"
	"time"
)

// roleCache holds the team's roles for ttl, shared by every convergence of one
// connector.
type roleCache struct {
	ttl time.Duration
	now func() time.Time

	mu      sync.Mutex
	roles   []role
	fetched time.Time
}

// resolve returns the role of each name (in order) and the names the team does
// not have. An expired or empty cache is refreshed; a name missing from a cache
// that this call did not just fetch refreshes it once more.
func (c *roleCache) resolve(ctx context.Context, a *api, names []string) (map[string]role, []string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	fresh := false
	if c.roles == nil || c.now().Sub(c.fetched) >= c.ttl {
		if err := c.refresh(ctx, a); err != nil {
			return nil, nil, err
		}
		fresh = true
	}
	found, missing := c.lookup(names)
	if len(missing) > 0 && !fresh {
		if err := c.refresh(ctx, a); err != nil {
			return nil, nil, err
		}
		found, missing = c.lookup(names)
	}
	return found, missing, nil
}

// refresh reads GET /roles; c.mu must be held.
func (c *roleCache) refresh(ctx context.Context, a *api) error {
	roles, err := a.listRoles(ctx)
	if err != nil {
		return err
	}
	if roles == nil {
		roles = []role{}
	}
	c.roles, c.fetched = roles, c.now()
	return nil
}

// lookup finds each name exactly, else case-insensitively (the smallest
// matching name when several differ only in case); c.mu must be held.
func (c *roleCache) lookup(names []string) (map[string]role, []string) {
	found := make(map[string]role, len(names))
	var missing []string
	for _, n := range names {
		if _, ok := found[n]; ok {
			continue
		}
		if r, ok := c.find(n); ok {
			found[n] = r
		} else if !slices.Contains(missing, n) {
			missing = append(missing, n)
		}
	}
	return found, missing
}

// knownID reports whether id is the id of one of the team's roles.
func (c *roleCache) knownID(id string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.ContainsFunc(c.roles, func(r role) bool { return r.ID == id })
}

func (c *roleCache) find(name string) (role, bool) {
	var fold *role
	for i := range c.roles {
		r := &c.roles[i]
		if r.Name == name {
			return *r, true
		}
		if strings.EqualFold(r.Name, name) && (fold == nil || r.Name < fold.Name) {
			fold = r
		}
	}
	if fold != nil {
		return *fold, true
	}
	return role{}, false
}
