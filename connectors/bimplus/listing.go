package bimplus

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
)

// listingCache keeps the member listing of each mapped project in memory, so
// that N convergences on one project cost a bounded number of listings instead
// of N (the API offers no other way to read one membership than the whole
// project's list). It is shared by every convergence of one connector and safe
// for concurrent use.
//
// A listing serves for ttl from the moment its GET was sent; an older one is
// read again, once for all the callers that need it at that moment. A caller
// may also need a listing sent at or after a given time (freshness.after: in a
// write convergence, when the change it converges was noted, so a role changed
// by hand before that change is seen); one read sent after that time serves
// every such caller, so a burst of convergences marked together still costs
// one listing per project. The
// adapter's own successful writes update the cached listing in place (apply);
// a write that fails invalidates it (invalidate): the next caller reads the
// project again. Writes that complete while a listing is being read are
// replayed on it when it arrives, so a listing never loses a write the adapter
// already made, whichever of the two the API saw first.
//
// Memory is one listing per mapped project; other projects (found only in a
// user's record once their mapping is gone) are read for every call and not
// kept. A ttl of 0 keeps nothing for later calls: each call reads the project,
// sharing the read with the calls that need it at the same moment.
type listingCache struct {
	ttl    time.Duration
	now    func() time.Time
	mapped map[string]bool

	mu       sync.Mutex
	projects map[string]*listing
}

// listing is the cached state of one project; every field is guarded by
// listingCache.mu.
type listing struct {
	byID    map[string]*cachedMember   // member id → entry; nil until a read succeeded
	byEmail map[string][]*cachedMember // memberKey(email) → entries, in listing order
	seq     uint64                     // the next entry's position in listing order
	fetched time.Time                  // when the GET of the data was sent

	// started counts the reads started; have is the number of the read the data
	// comes from (0: none); valid is the oldest read number whose data may be
	// served (raised by invalidate, so that neither the data nor a read under
	// way when a write failed is served).
	started, have, valid uint64
	flight               *listingFlight
}

// cachedMember is one entry of a cached listing.
type cachedMember struct {
	m   membership
	seq uint64
}

// listingFlight is one GET of a project's members under way. journal holds
// the writes applied while it runs, replayed on its result.
type listingFlight struct {
	n       uint64
	sent    time.Time // when the GET was sent
	done    chan struct{}
	err     error
	journal []change
}

// change is one successful membership write of the adapter.
type change struct {
	op string // create | update | delete
	m  membership
}

func newListingCache(ttl time.Duration, now func() time.Time, projects []string) *listingCache {
	mapped := make(map[string]bool, len(projects))
	for _, p := range projects {
		mapped[p] = true
	}
	return &listingCache{ttl: ttl, now: now, mapped: mapped, projects: map[string]*listing{}}
}

// freshness is how fresh a listing a caller needs: with now, read by a GET
// sent after the call began (reconciliation must see changes made by hand);
// with after, read by a GET sent at or after that time (one read serves every
// subject of a reconciliation pass, or every convergence of changes noted
// before it: see connectors.Options.ReadAfter); else a cached listing younger
// than the ttl serves. Any listing must also be younger than the ttl, unless
// it was read during the call.
type freshness struct {
	now   bool
	after time.Time
}

// view returns the entries of project's listing whose email matches email
// (compared as memberKey; "" matches nothing) or whose member id is one of ids,
// in listing order, as fresh as f asks (see freshness). read reports that the
// listing was read during the call.
func (c *listingCache) view(ctx context.Context, a *api, project, email string, ids []string, f freshness) (out []membership, read bool, err error) {
	key := memberKey(email)
	read, err = c.read(ctx, a, project, f, func(l *listing) {
		var hits []*cachedMember
		if key != "" {
			hits = append(hits, l.byEmail[key]...)
		}
		for _, id := range ids {
			if e := l.byID[id]; e != nil && !slices.Contains(hits, e) {
				hits = append(hits, e)
			}
		}
		out = inListingOrder(hits)
	}, func(ms []membership) {
		for _, m := range ms {
			if (key != "" && memberKey(m.Member.Email) == key) || slices.Contains(ids, m.Member.ID) {
				out = append(out, m)
			}
		}
	})
	return out, read, err
}

// all returns every entry of project's listing in listing order, as fresh as
// f asks.
func (c *listingCache) all(ctx context.Context, a *api, project string, f freshness) ([]membership, error) {
	var out []membership
	_, err := c.read(ctx, a, project, f, func(l *listing) {
		hits := make([]*cachedMember, 0, len(l.byID))
		for _, e := range l.byID {
			hits = append(hits, e)
		}
		out = inListingOrder(hits)
	}, func(ms []membership) { out = ms })
	return out, err
}

// inListingOrder sorts entries into listing order and returns their memberships.
func inListingOrder(hits []*cachedMember) []membership {
	slices.SortFunc(hits, func(x, y *cachedMember) int { return cmp.Compare(x.seq, y.seq) })
	out := make([]membership, len(hits))
	for i, e := range hits {
		out[i] = e.m
	}
	return out
}

// read calls pick with the project's cached listing (c.mu held) once it is
// usable (see freshness), reading it first when needed; for a project that is not cached it
// calls direct with a listing read for this call. It reports whether the
// listing was read during the call (by it, or by a read it waited for).
func (c *listingCache) read(ctx context.Context, a *api, project string, fr freshness, pick func(*listing), direct func([]membership)) (bool, error) {
	if !c.mapped[project] {
		ms, err := a.listMembers(ctx, project)
		if err == nil {
			direct(ms)
		}
		return true, err
	}
	c.mu.Lock()
	l := c.projects[project]
	if l == nil {
		l = &listing{}
		c.projects[project] = l
	}
	need := l.valid
	switch {
	case fr.now:
		need = max(need, l.started+1) // a read that starts from now on
	case !fr.after.IsZero() && (l.have == 0 || l.fetched.Before(fr.after)):
		// The data was read too early. A read under way that was sent at or
		// after fr.after serves (the callers of a burst marked together share
		// it); else one that starts from now on.
		n := l.started + 1
		if f := l.flight; f != nil && !f.sent.Before(fr.after) {
			n = f.n
		}
		need = max(need, n)
	}
	joined := false // the data was read during this call
	for {
		need = max(need, l.valid)
		if l.byID != nil && l.have >= need && l.have > 0 && (joined || c.now().Sub(l.fetched) < c.ttl) {
			pick(l)
			c.mu.Unlock()
			return joined, nil
		}
		if f := l.flight; f != nil {
			c.mu.Unlock()
			select {
			case <-f.done:
			case <-ctx.Done():
				return false, fmt.Errorf("list members of project %s: %w", project, ctx.Err())
			}
			if f.n >= need {
				if f.err != nil {
					return false, f.err
				}
				joined = true
			}
			c.mu.Lock()
			continue
		}
		l.started++
		start := c.now()
		f := &listingFlight{n: l.started, sent: start, done: make(chan struct{})}
		l.flight = f
		c.mu.Unlock()

		// The read runs without the caller's cancellation: others may wait
		// for it (the Client timeout bounds it).
		ms, err := a.listMembers(context.WithoutCancel(ctx), project)

		c.mu.Lock()
		if err == nil {
			l.fill(ms, start, f.n)
			for _, ch := range f.journal {
				l.apply(ch)
			}
		}
		f.err = err
		l.flight = nil
		close(f.done)
		if err != nil {
			c.mu.Unlock()
			return false, err
		}
		joined = true
	}
}

// fill replaces l's data with a listing read by GET number n sent at start.
func (l *listing) fill(ms []membership, start time.Time, n uint64) {
	l.byID = make(map[string]*cachedMember, len(ms))
	l.byEmail = make(map[string][]*cachedMember, len(ms))
	l.seq = 0
	roles := map[roleRef]roleRef{} // one copy of each role's strings
	for _, m := range ms {
		if r, ok := roles[m.Role]; ok {
			m.Role = r
		} else {
			roles[m.Role] = m.Role
		}
		if l.byID[m.Member.ID] != nil {
			continue // listed twice: the first entry wins
		}
		l.add(m)
	}
	l.fetched, l.have = start, n
}

// add appends an entry; the member id must not be listed yet.
func (l *listing) add(m membership) {
	e := &cachedMember{m: m, seq: l.seq}
	l.seq++
	l.byID[m.Member.ID] = e
	if k := memberKey(m.Member.Email); k != "" {
		l.byEmail[k] = append(l.byEmail[k], e)
	}
}

// remove drops the entry of member id, if any.
func (l *listing) remove(id string) {
	e := l.byID[id]
	if e == nil {
		return
	}
	delete(l.byID, id)
	k := memberKey(e.m.Member.Email)
	if k == "" {
		return
	}
	rest := slices.DeleteFunc(l.byEmail[k], func(x *cachedMember) bool { return x == e })
	if len(rest) == 0 {
		delete(l.byEmail, k)
	} else {
		l.byEmail[k] = rest
	}
}

// apply makes one successful write of the adapter in the data: a create or an
// update sets the member's role (adding the entry when absent), a delete
// removes it.
func (l *listing) apply(ch change) {
	if l.byID == nil {
		return
	}
	e := l.byID[ch.m.Member.ID]
	switch {
	case ch.op == "delete":
		l.remove(ch.m.Member.ID)
	case e == nil:
		l.add(ch.m)
	default:
		if ch.m.Member.Email == "" || strings.EqualFold(ch.m.Member.Email, e.m.Member.Email) {
			e.m.Role = ch.m.Role
			return
		}
		l.remove(ch.m.Member.ID)
		l.add(ch.m)
	}
}

// applied records a successful membership write of the adapter on project:
// the cached listing changes in place, and a read under way replays it.
func (c *listingCache) applied(project string, ch change) {
	c.mu.Lock()
	defer c.mu.Unlock()
	l := c.projects[project]
	if l == nil {
		return
	}
	l.apply(ch)
	if l.flight != nil {
		l.flight.journal = append(l.flight.journal, ch)
	}
}

// invalidate makes the next caller read project again, without serving the
// cached listing nor one being read now.
func (c *listingCache) invalidate(project string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if l := c.projects[project]; l != nil {
		l.valid = l.started + 1
	}
}
