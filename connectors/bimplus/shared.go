package bimplus

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/scim-bridge/scim-bridge/connectors"
)

// A Bimplus member is found by email, so SCIM users sharing an email (a shared
// mailbox, a person with two IdP accounts) share one member: its desired role
// on a project is the highest any of the active users with its email gets
// there (see "Users sharing an email" in the package doc).

// topRoles returns, per mapped project, the role no other grant on it
// outranks: a user wanting that role there wants what the union of every
// user sharing its email wants, whoever they are.
func topRoles(groups map[string][]Grant) map[string]string {
	top := map[string]string{}
	for _, grants := range groups {
		for _, g := range grants {
			if cur, ok := top[g.Project]; !ok || outranks(g.Role, cur) {
				top[g.Project] = g.Role
			}
		}
	}
	return top
}

// needSharers reports whether the writes planned from the user's own desired
// roles (wants) could differ once the users sharing a member's email are
// counted: a delete (another user may still want the membership), or a role
// set below the project's top role (another user may want a higher one). A
// plan with no writes, or one that only sets top roles, needs no lookup: what
// the union could add is a role another user wants above this user's, which
// that user's own convergence sets.
func (c *connector) needSharers(steps []step, wants map[string]want) bool {
	if c.dir == nil {
		return false
	}
	for _, st := range steps {
		switch st.op {
		case "delete":
			return true
		case "create", "update":
			if w, ok := wants[st.project]; !ok || w.Role != c.top[st.project] {
				return true
			}
		}
	}
	return false
}

// sharerKeys returns the member emails (as memberKey) the steps act on, sorted:
// the user's own for the steps on its member, the listed one of a recorded
// member that no longer matches the user's email. A member without a known
// email is left out: no user can be found sharing it.
func sharerKeys(steps []step, email string) []string {
	var keys []string
	for _, st := range steps {
		k := memberKey(st.member.Email)
		if st.own {
			k = memberKey(email)
		}
		if k != "" {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return slices.Compact(keys)
}

// sharing is what sharers found.
type sharing struct {
	// wants is, per key, the union of the desired roles of the other users
	// with that email (see desired and unionWants); keys whose users want
	// nothing are left out.
	wants map[string]map[string]want
	names []string // the role names that win in wants, sorted
	found bool     // some other user has one of the emails
}

// sharers looks up, once per key (see sharerKeys), the SCIM users other than
// self whose email (connectors.User.Email, the one the member is found by) is
// that member email. Inactive users want nothing, and a user found by one of
// its other emails is not the member's.
func (c *connector) sharers(ctx context.Context, self string, keys []string) (sharing, error) {
	out := sharing{wants: make(map[string]map[string]want, len(keys))}
	for _, k := range keys {
		users, err := c.dir.UsersByEmail(ctx, k)
		if err != nil {
			return sharing{}, &connectors.Error{Class: connectors.Retryable, Op: "find the users sharing a member's email", Err: err}
		}
		var union map[string]want
		for i := range users {
			u := &users[i]
			if u.ID == self || memberKey(u.Email) != k {
				continue
			}
			out.found = true
			w, _ := c.desired(u)
			union = unionWants(union, w, sharerLabel(u))
		}
		if len(union) == 0 {
			continue
		}
		out.wants[k] = union
		for _, w := range union {
			out.names = append(out.names, w.Role)
		}
	}
	slices.Sort(out.names)
	out.names = slices.Compact(out.names)
	return out, nil
}

// sharerLabel names a user in the reasons of the actions.
func sharerLabel(u *connectors.User) string {
	if u.UserName != "" {
		return u.UserName
	}
	return u.ID
}

// unionWants returns a copy of the desired roles a merged with b: per project
// the role that outranks the other (see outranks); equal roles merge the
// groups and users that grant them. With by set, b are the desired roles of
// the user by, another user with the same email (they are credited to by,
// not to groups of the user a belongs to).
func unionWants(a, b map[string]want, by string) map[string]want {
	out := maps.Clone(a)
	if out == nil {
		out = make(map[string]want, len(b))
	}
	for p, w := range b {
		if by != "" {
			w = want{Role: w.Role, Sharers: []string{by}}
		}
		cur, ok := out[p]
		switch {
		case !ok || outranks(w.Role, cur.Role):
			out[p] = w
		case w.Role == cur.Role:
			cur.Groups = mergeSorted(cur.Groups, w.Groups)
			cur.Sharers = mergeSorted(cur.Sharers, w.Sharers)
			out[p] = cur
		}
	}
	return out
}

// mergeSorted returns the sorted union of a and b, without duplicates.
func mergeSorted(a, b []string) []string {
	if len(b) == 0 {
		return a
	}
	out := slices.Concat(a, b)
	slices.Sort(out)
	return slices.Compact(out)
}

// maxSharersNamed bounds the users a reason names (a shared mailbox may have
// many accounts).
const maxSharersNamed = 3

// reason says who asks for w: the user's groups, then the users sharing its
// email.
func (w want) reason() string {
	parts := quoteAll(w.Groups)
	if n := len(w.Sharers); n > 0 {
		names := w.Sharers[:min(n, maxSharersNamed)]
		s := "user " + strings.Join(names, ", ")
		if n > len(names) {
			s += fmt.Sprintf(" and %d more", n-len(names))
		}
		parts = append(parts, s+" with the same email")
	}
	return strings.Join(parts, ", ")
}
