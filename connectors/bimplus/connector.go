package bimplus

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"

	"github.com/rs/zerolog"

	"github.com/scim-bridge/scim-bridge/connectors"
)

var (
	_ connectors.Connector = (*connector)(nil)
	_ connectors.Projector = (*connector)(nil)
	_ connectors.Inventory = (*connector)(nil)
	_ connectors.Pruner    = (*connector)(nil)
	_ connectors.Config    = (*Config)(nil)
)

// connector is the opened adapter. It is safe for concurrent use.
type connector struct {
	name    string
	team    string
	groups  map[string][]Grant
	prune   bool
	api     *api
	roles   *roleCache
	members *memberCache
	// listings caches the member listing of each mapped project; locks
	// serialises the convergences of one member (see memberLocks).
	listings *listingCache
	locks    memberLocks
	// dir finds the users sharing a member's email; nil when the bridge's
	// directory cannot list them (each user is then converged on its own).
	dir connectors.UsersByEmailDirectory
	// top is the highest role mapped on each project (see topRoles).
	top map[string]string
	log zerolog.Logger
}

// Name returns the configured connector name.
func (c *connector) Name() string { return c.name }

// Handles reports true for user subjects only.
func (c *connector) Handles(kind connectors.SubjectKind) bool { return kind == connectors.SubjectUser }

// step is one planned write.
type step struct {
	op      string // create | update | delete
	project string
	member  memberRef
	role    role // create, update: the role to set; delete: the current role (ID only)
	// own is set when the step acts on the user's member (found by its
	// email), not on a recorded member whose email no longer matches.
	own    bool
	action connectors.Action
}

// Converge makes the user's Bimplus project memberships match its groups (see the
// package doc) and returns the managed memberships as the new record.
//
// Outside a dry run it holds the member's lock (see memberLocks) from reading
// the listings to the last write. A write whose answer says the cached listing
// was wrong (409, 404, 422) invalidates it, and the convergence is planned
// again once from a listing read afresh.
func (c *connector) Converge(ctx context.Context, s connectors.Subject, prev connectors.Record, opts connectors.Options) (connectors.Record, []connectors.Action, error) {
	if s.Kind != connectors.SubjectUser {
		return prev, nil, permanent("converge", "bimplus converges user subjects only, not %q", s.Kind)
	}
	if !opts.DryRun {
		key := "subject:" + s.ID
		if s.User != nil && memberKey(s.User.Email) != "" {
			key = "email:" + memberKey(s.User.Email)
		}
		unlock, err := c.locks.lock(ctx, key)
		if err != nil {
			return prev, nil, err
		}
		defer unlock()
	}
	rec, actions, err := c.converge(ctx, s, prev, opts)
	if err != nil && listingWrong(err) {
		c.log.Debug().Err(err).Msg("bimplus membership write contradicts the cached project listing; planning again from a fresh listing")
		var more []connectors.Action
		rec, more, err = c.converge(ctx, s, rec, opts)
		actions = append(actions, more...)
	}
	return rec, actions, err
}

// converge is one planning and application of Converge.
func (c *connector) converge(ctx context.Context, s connectors.Subject, prev connectors.Record, opts connectors.Options) (connectors.Record, []connectors.Action, error) {
	u := s.User
	email := ""
	if u != nil {
		email = strings.TrimSpace(u.Email)
	}
	wants, names := c.desired(u)
	if len(wants) > 0 && email == "" {
		return prev, nil, permanent("converge", "user %s has project roles to assign but no email to find its Bimplus member by", s.ID)
	}
	roles, err := c.resolveRoles(ctx, names)
	if err != nil {
		return prev, nil, err
	}
	managed := decodeRecord(prev)
	removed := decodeRemoved(prev)

	// One read per project concerned, of the entries of this user only: the
	// listings are cached (a dry run reads them afresh).
	projects := slices.Collect(maps.Keys(wants))
	for p := range managed {
		projects = append(projects, p)
	}
	if c.prune {
		projects = append(projects, c.mappedProjects()...)
	}
	slices.Sort(projects)
	projects = slices.Compact(projects)
	listings := make(map[string][]membership, len(projects))
	memberID := ""
	for _, p := range projects {
		var ids []string
		rec, isManaged := managed[p]
		if isManaged && rec.Member != "" {
			ids = []string{rec.Member}
		}
		ms, read, err := c.listings.view(ctx, c.api, p, email, ids, readAfter(opts))
		if err == nil && !read && (isManaged && !recordMatches(rec, ms) || removed[p] && len(ms) > 0) {
			// The record, saved after every write whichever replica made it,
			// knows a write the cached listing does not show: read it afresh.
			ms, _, err = c.listings.view(ctx, c.api, p, email, ids, freshness{now: true})
			read = true
		}
		if read {
			delete(removed, p)
		}
		if err != nil {
			if _, wanted := wants[p]; !wanted && connectors.IsNotFound(err) {
				continue // the project is gone, and with it any membership to remove
			}
			return prev, nil, err
		}
		listings[p] = ms
		for _, m := range ms {
			if memberID == "" && email != "" && strings.EqualFold(m.Member.Email, email) {
				memberID = m.Member.ID
			}
		}
	}

	absent := "no mapped group grants the user a role on this project"
	switch {
	case u == nil:
		absent = "the user is deleted"
	case !u.Active:
		absent = "the user is inactive"
	}
	in := planInput{projects: projects, listings: listings, wants: wants, roles: roles, managed: managed, email: email, absent: absent}
	steps, next := c.plan(in, memberID)
	if c.needSharers(steps, wants) {
		// The member may be another user's too: plan again from the union
		// of their desired roles (see the package doc).
		if in, err = c.withSharers(ctx, s.ID, in, steps, names); err != nil {
			return prev, nil, err
		}
		steps, next = c.plan(in, memberID)
	}
	needID := slices.ContainsFunc(steps, func(st step) bool { return st.op == "create" })
	var cached *memberLookup // set when memberID comes from a team listing read before this call
	if needID && memberID == "" {
		lk, err := c.findMember(ctx, email, readAfter(opts))
		if err != nil {
			return prev, nil, err
		}
		memberID = lk.id
		if !lk.fresh {
			cached = &lk
		}
		if lk.fresh && replacesRecorded(steps, memberID) {
			// The member to create is the recorded one, whose email the
			// listing read has not seen change: no delete and re-add. Only
			// an id the team answered now is trusted for that (a cached one
			// may be a member who has left since).
			steps, next = c.plan(in, memberID)
		}
	}
	actions := make([]connectors.Action, 0, len(steps))
	for i := range steps {
		if steps[i].op == "create" {
			steps[i].member.ID = memberID
			m := next[steps[i].project]
			m.Member = memberID
			next[steps[i].project] = m
		}
		actions = append(actions, steps[i].action)
	}
	if opts.DryRun {
		return prev, actions, nil
	}
	return c.apply(ctx, steps, recorder{managed: managed, removed: removed}, next, actions, email, cached, opts)
}

// resolveRoles resolves every role name the user's groups mention; an unknown
// name or a non-project role is a permanent error naming the YAML keys.
func (c *connector) resolveRoles(ctx context.Context, names []string) (map[string]role, error) {
	if len(names) == 0 {
		return nil, nil
	}
	roles, missing, err := c.roles.resolve(ctx, c.api, names)
	if err != nil {
		return nil, err
	}
	if len(missing) > 0 {
		var parts []string
		for _, n := range missing {
			parts = append(parts, fmt.Sprintf("%q (%s)", n, strings.Join(c.roleKeys(n), ", ")))
		}
		return nil, permanent("resolve roles", "team %q has no role %s", c.team, strings.Join(parts, ", "))
	}
	for _, n := range names {
		if !roles[n].isProjectRole() {
			return nil, permanent("resolve roles", "role %q (%s) is not a project role", n, strings.Join(c.roleKeys(n), ", "))
		}
	}
	return roles, nil
}

// planInput is what a convergence plans from.
type planInput struct {
	projects []string                // the projects concerned, sorted
	listings map[string][]membership // per project, the entries of the user's member and of its recorded ones
	// wants is the desired role per project of the user's member: the
	// user's own, merged with those of the users sharing its email once
	// they were looked up (withSharers).
	wants map[string]want
	// others is, per memberKey(email), the desired roles of the users other
	// than the user with that email; nil until looked up.
	others  map[string]map[string]want
	roles   map[string]role // every role name of wants and others, resolved
	managed map[string]managedMembership
	email   string // the user's email, "" when deleted or without one
	absent  string // why a membership nobody asks for is removed
}

// withSharers returns in with the users sharing the email of the members
// steps act on counted (see sharers): in.others set, the user's wants merged
// with its member's sharers', and their role names resolved. names are the
// role names the user's groups mention (see desired).
func (c *connector) withSharers(ctx context.Context, self string, in planInput, steps []step, names []string) (planInput, error) {
	keys := sharerKeys(steps, in.email)
	if len(keys) == 0 {
		return in, nil // no member email known: nobody to share it with
	}
	sh, err := c.sharers(ctx, self, keys)
	if err != nil || !sh.found {
		return in, err // nobody shares the email: the user's own plan stands
	}
	in.absent += "; no other user with the same email asks for it"
	if len(sh.wants) == 0 {
		return in, nil
	}
	roles, err := c.resolveRoles(ctx, mergeSorted(names, sh.names))
	if err != nil {
		return in, err
	}
	in.roles, in.others = roles, sh.wants
	in.wants = unionWants(in.wants, sh.wants[memberKey(in.email)], "")
	return in, nil
}

// plan computes the writes per project (in project order) and the managed
// memberships once they are all made. Create steps leave member.ID to the caller
// when memberID is not yet known.
func (c *connector) plan(in planInput, memberID string) ([]step, map[string]managedMembership) {
	email, absent := in.email, in.absent
	next := maps.Clone(in.managed)
	var steps []step
	for _, p := range in.projects {
		ms, listed := in.listings[p]
		rec, isManaged := in.managed[p]
		if !listed {
			delete(next, p)
			continue
		}
		var cur *membership
		var stale []membership
		for i := range ms {
			m := ms[i]
			switch {
			case email != "" && strings.EqualFold(m.Member.Email, email),
				// the recorded member: listed without an email, or under one the
				// listing has not seen change yet while the team says the
				// user's email is that member's
				isManaged && m.Member.ID == rec.Member &&
					(memberID != "" && memberID == m.Member.ID || memberID == "" && m.Member.Email == ""):
				if cur == nil {
					cur = &ms[i]
				}
			case isManaged && rec.Member != "" && m.Member.ID == rec.Member:
				stale = append(stale, m)
			}
		}
		for _, m := range stale {
			ref := memberRef{ID: m.Member.ID, Email: m.Member.Email}
			if w, ok := in.others[memberKey(m.Member.Email)][p]; ok {
				// Other users with that member's email want it: it stays, at
				// the role they want, and is theirs to manage.
				if r := in.roles[w.Role]; !c.sameRole(m.Role, r) {
					steps = append(steps, step{op: "update", project: p, member: ref, role: r,
						action: action(connectors.OpUpdate, p, describe(m.Member), fmt.Sprintf("role is %s, want %s (%s)", roleLabel(m.Role), r.Name, w.reason()))})
				}
				continue
			}
			steps = append(steps, step{op: "delete", project: p, member: ref, role: role{ID: m.Role.ID},
				action: action(connectors.OpDelete, p, describe(m.Member), "membership recorded as managed belongs to a member that no longer matches the user's email")})
		}
		w, wanted := in.wants[p]
		if wanted {
			r := in.roles[w.Role]
			by := w.reason()
			switch {
			case cur == nil:
				steps = append(steps, step{op: "create", project: p, member: memberRef{ID: memberID}, role: r, own: true,
					action: action(connectors.OpCreate, p, email, fmt.Sprintf("want %s (%s)", r.Name, by))})
				next[p] = managedMembership{Member: memberID, Role: r.Name}
			case !c.sameRole(cur.Role, r):
				steps = append(steps, step{op: "update", project: p, member: memberRef{ID: cur.Member.ID, Email: cur.Member.Email}, role: r, own: true,
					action: action(connectors.OpUpdate, p, describe(cur.Member), fmt.Sprintf("role is %s, want %s (%s)", roleLabel(cur.Role), r.Name, by))})
				next[p] = managedMembership{Member: cur.Member.ID, Role: r.Name}
			default:
				next[p] = managedMembership{Member: cur.Member.ID, Role: r.Name}
			}
			continue
		}
		if cur != nil && (isManaged || c.prune) {
			why := absent
			if !isManaged {
				why += " (prune_unmanaged)"
			}
			steps = append(steps, step{op: "delete", project: p, member: memberRef{ID: cur.Member.ID, Email: cur.Member.Email}, role: role{ID: cur.Role.ID}, own: true,
				action: action(connectors.OpDelete, p, describe(cur.Member), why)})
		}
		delete(next, p)
	}
	return steps, next
}

// apply makes the planned writes in order. On error it returns the record as
// known so far: projects whose writes all succeeded carry their new state.
// cached, when set, is the cached team listing the member id of the create steps
// came from: the first POST that fails as if the member were unknown re-reads
// the team and, when the member's id changed, is retried once with the new id.
func (c *connector) apply(ctx context.Context, steps []step, rc recorder, next map[string]managedMembership, actions []connectors.Action,
	email string, cached *memberLookup, opts connectors.Options,
) (connectors.Record, []connectors.Action, error) {
	done := maps.Clone(rc.managed)
	for i, st := range steps {
		var err error
		switch st.op {
		case "create":
			err = c.write(ctx, st, email)
			if err != nil && cached != nil && memberRejected(err) {
				id, rerr := c.recheckMember(ctx, email, *cached, err, readAfter(opts))
				if rerr != nil {
					return rc.encode(done), actions[:i], rerr
				}
				cached = nil
				renameCreates(steps[i:], next, id)
				st = steps[i]
				err = c.write(ctx, st, email)
			}
		default:
			err = c.write(ctx, st, email)
		}
		if err != nil {
			return rc.encode(done), actions[:i], err
		}
		c.log.Debug().Str("op", st.op).Str("project", st.project).Str("member", st.member.ID).Str("role", st.role.Name).Msg("bimplus membership write")
		if m, ok := next[st.project]; ok {
			done[st.project] = m
		} else {
			delete(done, st.project)
		}
		if st.op == "create" {
			if err := opts.Report(ctx, rc.encode(done), st.action); err != nil {
				return rc.encode(done), actions[:i+1], err
			}
		}
	}
	return rc.encode(next), actions, nil
}

// recordMatches reports whether a cached listing's entries of the user agree
// with the managed membership rec: the member is listed with the role last
// applied. A record without a member id or role (an older one) matches.
func recordMatches(rec managedMembership, ms []membership) bool {
	if rec.Member == "" || rec.Role == "" {
		return true
	}
	for _, m := range ms {
		if m.Member.ID == rec.Member {
			return m.Role.Name == "" || strings.EqualFold(m.Role.Name, rec.Role)
		}
	}
	return false
}

// write makes one planned write and keeps the project's cached listing in
// step: a success changes it in place, a failure invalidates it (the write may
// have been applied, or the listing was wrong). email is the user's, the email
// of a member created.
func (c *connector) write(ctx context.Context, st step, email string) error {
	var err error
	ch := change{op: st.op, m: membership{Member: st.member, Role: roleRef{ID: st.role.ID, Name: st.role.Name}}}
	switch st.op {
	case "create":
		err = c.api.addMember(ctx, st.project, st.member.ID, st.role.ID)
		ch.m.Member.Email = email
	case "update":
		err = c.api.updateMember(ctx, st.project, st.member, st.role)
	case "delete":
		err = c.api.removeMember(ctx, st.project, st.member.ID, st.role.ID)
	default:
		err = permanent("converge", "unknown step %q", st.op)
	}
	if err != nil {
		c.listings.invalidate(st.project)
		return &writeError{err: err}
	}
	c.listings.applied(st.project, ch)
	return nil
}

// writeError is a failed membership write.
type writeError struct{ err error }

func (e *writeError) Error() string { return e.err.Error() }
func (e *writeError) Unwrap() error { return e.err }

// listingWrong reports whether err is a membership write whose answer says the
// listing it was planned from may have been wrong: 409 (already a member), 404
// (not a member, or no such project), 422, or 400 (the vendor document names
// no status for adding a member who is already on the project: a POST
// repeated by another replica after the first one's answer was lost must not
// end as a permanent error).
func listingWrong(err error) bool {
	var we *writeError
	if !errors.As(err, &we) {
		return false
	}
	switch connectors.StatusOf(err) {
	case http.StatusConflict, http.StatusNotFound, http.StatusUnprocessableEntity, http.StatusBadRequest:
		return true
	}
	return false
}

// replacesRecorded reports whether steps delete (or, for the users sharing its
// email, update) member id, a recorded membership whose listed email looks
// stale, on a project where they also create one: the create would re-add the
// very member.
func replacesRecorded(steps []step, id string) bool {
	if id == "" {
		return false
	}
	for _, d := range steps {
		if d.own || d.member.ID != id {
			continue
		}
		for _, cr := range steps {
			if cr.op == "create" && cr.project == d.project {
				return true
			}
		}
	}
	return false
}

// renameCreates gives every create step, and the memberships they make, the
// member id id.
func renameCreates(steps []step, next map[string]managedMembership, id string) {
	for i := range steps {
		if steps[i].op != "create" {
			continue
		}
		steps[i].member.ID = id
		m := next[steps[i].project]
		m.Member = id
		next[steps[i].project] = m
	}
}

// sameRole compares a listed role with the wanted one: the same id; without
// an id in the listing, the same name (case-insensitively, as roles are
// resolved); with another id, the exact same name and an id that is none of
// the team's roles (the vendor document's own examples list Project_Viewer
// under one id in GET /roles and another in the member listing: rewriting it
// on every convergence would change nothing). An id that names another role
// of the team is another role, whatever its name (a custom PROJECT_EDITOR
// beside Project_Editor).
func (c *connector) sameRole(have roleRef, r role) bool {
	switch {
	case have.ID == "":
		return have.Name != "" && strings.EqualFold(have.Name, r.Name)
	case have.ID == r.ID:
		return true
	}
	return have.Name != "" && have.Name == r.Name && !c.roles.knownID(have.ID)
}

func roleLabel(r roleRef) string {
	if r.Name != "" {
		return r.Name
	}
	return r.ID
}

func describe(m memberRef) string {
	if m.Email != "" {
		return m.Email
	}
	return m.ID
}

func action(op connectors.Op, project, who, reason string) connectors.Action {
	return connectors.Action{Op: op, Object: fmt.Sprintf("member %s of project %s", who, project), Reason: reason}
}

func quoteAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = fmt.Sprintf("group %q", s)
	}
	return out
}

// permanent is a permanent *connectors.Error with a formatted message.
func permanent(op, format string, args ...any) error {
	return &connectors.Error{Class: connectors.Permanent, Op: op, Msg: fmt.Sprintf(format, args...)}
}

// readAfter is how fresh the listings of a convergence must be
// (connectors.Options.ReadAfter): read at or after opts.ReadAfter when it is
// set, that is, in a write convergence, since the change being converged was
// noted (a role changed by hand before it must be seen and repaired, not
// reported as converged), and in a dry run since the reconciliation pass
// began; otherwise, for a dry run one read from now on, and for a write
// convergence any cached one younger than the ttl.
func readAfter(opts connectors.Options) freshness {
	switch {
	case !opts.ReadAfter.IsZero():
		return freshness{after: opts.ReadAfter}
	case opts.DryRun:
		return freshness{now: true}
	}
	return freshness{}
}
