package bimplus

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/scim-bridge/scim-bridge/connectors"
)

// memberRecheckAfter is how old a cached team listing must be before an email
// missing from it makes the cache read the team again. A miss on a younger
// listing is final (the user is not a team member) when the listing was also
// sent after the change being converged (see memberCache.find).
const memberRecheckAfter = time.Second

// memberCache maps the team's member emails to member ids, read from
// GET /{team}/members and shared by every convergence of one connector. A
// listing serves for ttl; an email it does not hold refreshes it once, unless
// it is younger than memberRecheckAfter and was sent after the change being
// converged (see find). Concurrent refreshes share one request.
// A ttl of 0 turns the cache off: every lookup reads the team.
type memberCache struct {
	ttl time.Duration
	now func() time.Time
	// projects are the mapped projects, read instead of the team when the API
	// has no GET /{team}/members (it answers 404): their member listings carry
	// the same {"id","email"} of the team members already on them.
	projects []string

	mu      sync.Mutex
	ids     map[string]string // memberKey(email) → member id; nil until the first listing
	fetched time.Time         // when the request of the current listing started
	gen     uint64            // counts the listings read; 0 means none
	flight  *memberFlight     // the listing being read, if any
}

// memberFlight is one GET /{team}/members in progress; done is closed when it
// ends, and err is its outcome. waiters counts the callers that joined it
// (guarded by memberCache.mu).
type memberFlight struct {
	done    chan struct{}
	err     error
	waiters int
}

// memberLookup is the answer of memberCache.find.
type memberLookup struct {
	id string // "" when the team has no member with the email
	// gen is the generation of the listing read; pass it to find to get a newer one.
	gen uint64
	// fresh reports that the listing was read during this call (by it, or by a
	// request it waited for): a newer one cannot be had now.
	fresh bool
}

// memberKey is how emails are compared: trimmed and lower-cased.
func memberKey(email string) string { return strings.ToLower(strings.TrimSpace(email)) }

// find returns the member id of email. With stale > 0, a listing of that
// generation or older is not used: it is read again (once, even when several
// callers ask at the same time).
//
// A miss, which the caller turns into a permanent error, is answered only from
// a listing sent at or after fr's time (fr.after, or the call's start with
// fr.now): a member added to the team before the change being converged
// (connectors.Options.ReadAfter) was maybe not in an older listing, and is
// looked for again instead of being declared absent. A hit may come from any
// listing younger than the ttl: a member id that has gone stale since makes
// the POST fail, and recheckMember reads the team again.
func (c *memberCache) find(ctx context.Context, a *api, email string, stale uint64, fr freshness) (memberLookup, error) {
	key := memberKey(email)
	if c.ttl <= 0 {
		ids, err := readTeam(ctx, a, c.projects)
		if err != nil {
			return memberLookup{}, err
		}
		return memberLookup{id: ids[key], fresh: true}, nil
	}
	// A listing sent after this call began is as fresh as can be had, even
	// when fr names a later time (the bridge's clock ahead of ours).
	after := fr.after
	if now := c.now(); fr.now || after.After(now) {
		after = now
	}
	joined := false // this call read, or waited for, a listing
	for {
		c.mu.Lock()
		if c.ids != nil && c.gen > stale {
			now := c.now()
			age := now.Sub(c.fetched)
			id, ok := c.ids[key]
			current := !c.fetched.Before(after) // sent after the change being converged
			if ok && (joined || age < c.ttl) || !ok && current && (joined || age < c.ttl && age < memberRecheckAfter) {
				out := memberLookup{id: id, gen: c.gen, fresh: joined}
				c.mu.Unlock()
				return out, nil
			}
		}
		if f := c.flight; f != nil {
			f.waiters++
			c.mu.Unlock()
			select {
			case <-f.done:
			case <-ctx.Done():
				return memberLookup{}, fmt.Errorf("list team members: %w", ctx.Err())
			}
			if f.err != nil {
				return memberLookup{}, f.err
			}
			joined = true
			continue
		}
		f := &memberFlight{done: make(chan struct{})}
		c.flight = f
		start := c.now()
		c.mu.Unlock()

		// The read runs without the caller's cancellation: others may wait
		// for it (the Client timeout bounds it), as in listingCache.
		ids, err := readTeam(context.WithoutCancel(ctx), a, c.projects)
		c.mu.Lock()
		if err == nil {
			c.ids, c.fetched = ids, start
			c.gen++
		}
		f.err = err
		c.flight = nil
		close(f.done)
		c.mu.Unlock()
		if err != nil {
			return memberLookup{}, err
		}
		joined = true
	}
}

// readTeam reads the team and indexes it by memberKey; when several entries
// share an email, the first one listed with an id wins.
func readTeam(ctx context.Context, a *api, projects []string) (map[string]string, error) {
	team, err := a.listTeam(ctx)
	if teamRouteMissing(err) {
		team, err = projectsMembers(ctx, a, projects)
	}
	if err != nil {
		return nil, err
	}
	ids := make(map[string]string, len(team))
	for _, m := range team {
		k := memberKey(m.Email)
		if _, dup := ids[k]; dup || m.ID == "" || k == "" {
			continue
		}
		ids[k] = m.ID
	}
	return ids, nil
}

// teamRouteMissing reports whether the team member listing failed because the
// API does not offer the route (the vendor document does not list it): 404,
// 405 or 501.
func teamRouteMissing(err error) bool {
	switch connectors.StatusOf(err) {
	case http.StatusNotFound, http.StatusMethodNotAllowed, http.StatusNotImplemented:
		return true
	}
	return false
}

// projectsMembers gathers the members of the given projects, for an API without
// a team member listing: a user can then be given a role on one mapped project
// once they are a member of another (a project admin invited them).
func projectsMembers(ctx context.Context, a *api, projects []string) ([]memberRef, error) {
	var out []memberRef
	for _, p := range projects {
		ms, err := a.listMembers(ctx, p)
		if connectors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return nil, err
		}
		for _, m := range ms {
			out = append(out, m.Member)
		}
	}
	return out, nil
}

// findMember returns the team member id of email from the member cache; a user
// who is not a team member in a listing as fresh as fr asks (see
// memberCache.find) is a permanent error.
func (c *connector) findMember(ctx context.Context, email string, fr freshness) (memberLookup, error) {
	lk, err := c.members.find(ctx, c.api, email, 0, fr)
	if err != nil {
		return memberLookup{}, err
	}
	if lk.id == "" {
		return memberLookup{}, c.notTeamMember(email)
	}
	return lk, nil
}

// recheckMember runs after a POST with a member id taken from a cached listing
// failed with postErr, as when the member left the team or was re-created under
// a new id since the listing. It reads the team again and returns the member's
// current id when it differs, so the caller can retry once; otherwise the error
// to report: the user is not a team member any more, or postErr itself.
func (c *connector) recheckMember(ctx context.Context, email string, was memberLookup, postErr error, fr freshness) (string, error) {
	lk, err := c.members.find(ctx, c.api, email, was.gen, fr)
	switch {
	case err != nil:
		return "", err
	case lk.id == "":
		return "", c.notTeamMember(email)
	case lk.id == was.id:
		return "", postErr
	}
	c.log.Debug().Str("member", was.id).Str("now", lk.id).Msg("bimplus member id changed since the cached team listing")
	return lk.id, nil
}

func (c *connector) notTeamMember(email string) error {
	return permanent("find member", "team %q has no member with email %q; invite the user to the team first", c.team, email)
}

// memberRejected reports whether a failed POST may mean that the member id is
// unknown downstream: 400 (what the fake answers for a member outside the team;
// the vendor document names no status), 404 or 422.
func memberRejected(err error) bool {
	switch connectors.StatusOf(err) {
	case http.StatusBadRequest, http.StatusNotFound, http.StatusUnprocessableEntity:
		return true
	}
	return false
}
