package fake

import (
	"slices"
	"strings"
)

// userIndex holds the stored users and the lookups the handlers make, kept up
// to date on every write so that no request scans or sorts every user:
//   - byID: the users by id;
//   - order: every user in id order (ids are decimal: shorter first, then
//     lexical), so that list pages need no sort;
//   - byName: the holders of each userName, compared exactly as the filters
//     compare it (see the package doc), in id order;
//   - byExt: the holders of each non-empty externalId, in id order;
//   - byEmail: the holders of each non-empty (work) email, in id order: with
//     byName, the login a POST updates (see loginOf);
//   - inactive: how many users are inactive, so that an unfiltered list knows
//     when every user is visible.
//
// A holder list has one entry unless a hand edit (Seed, Update) made two users
// share a value; a request never does. Its methods need Server.mu held.
type userIndex struct {
	byID     map[string]*User
	order    []*User
	byName   map[string][]*User
	byExt    map[string][]*User
	byEmail  map[string][]*User
	inactive int
}

func newUserIndex() userIndex {
	return userIndex{byID: map[string]*User{}, byName: map[string][]*User{}, byExt: map[string][]*User{}, byEmail: map[string][]*User{}}
}

// compareID orders decimal ids numerically (validID rejects anything else).
func compareID(a, b string) int {
	if len(a) != len(b) {
		return len(a) - len(b)
	}
	return strings.Compare(a, b)
}

func compareUsers(a, b *User) int { return compareID(a.ID, b.ID) }

// insert adds a new user; its id must be free.
func (x *userIndex) insert(u *User) {
	x.byID[u.ID] = u
	x.order = insertSorted(x.order, u)
	x.byName[u.UserName] = insertSorted(x.byName[u.UserName], u)
	if u.ExternalID != "" {
		x.byExt[u.ExternalID] = insertSorted(x.byExt[u.ExternalID], u)
	}
	if u.Email != "" {
		x.byEmail[u.Email] = insertSorted(x.byEmail[u.Email], u)
	}
	if !u.Active {
		x.inactive++
	}
}

// changed re-indexes u after an in-place edit; before is its previous value.
func (x *userIndex) changed(u *User, before User) {
	if before.UserName != u.UserName {
		removeFrom(x.byName, before.UserName, u)
		x.byName[u.UserName] = insertSorted(x.byName[u.UserName], u)
	}
	if before.ExternalID != u.ExternalID {
		if before.ExternalID != "" {
			removeFrom(x.byExt, before.ExternalID, u)
		}
		if u.ExternalID != "" {
			x.byExt[u.ExternalID] = insertSorted(x.byExt[u.ExternalID], u)
		}
	}
	if before.Email != u.Email {
		if before.Email != "" {
			removeFrom(x.byEmail, before.Email, u)
		}
		if u.Email != "" {
			x.byEmail[u.Email] = insertSorted(x.byEmail[u.Email], u)
		}
	}
	switch {
	case before.Active && !u.Active:
		x.inactive++
	case !before.Active && u.Active:
		x.inactive--
	}
}

// byUserName returns the user with that exact userName (the one with the
// smallest id if a hand edit made several), or nil.
func (x *userIndex) byUserName(name string) *User {
	if hs := x.byName[name]; len(hs) > 0 {
		return hs[0]
	}
	return nil
}

// byLogin returns the user whose login (loginOf) is login, the one with the
// smallest id if a hand edit made several, or nil: a holder of that email, or
// a user without an email whose userName it is.
func (x *userIndex) byLogin(login string) *User {
	var best *User
	if hs := x.byEmail[login]; len(hs) > 0 {
		best = hs[0]
	}
	for _, u := range x.byName[login] {
		if u.Email == "" {
			if best == nil || compareUsers(u, best) < 0 {
				best = u
			}
			break // in id order: the first is the smallest
		}
	}
	return best
}

// otherExternalID returns a user other than self holding the non-empty
// externalId ext, or nil.
func (x *userIndex) otherExternalID(ext string, self *User) *User {
	if ext == "" {
		return nil
	}
	return otherThan(x.byExt[ext], self)
}

// otherUserName returns a user other than self holding userName name, or nil.
func (x *userIndex) otherUserName(name string, self *User) *User {
	return otherThan(x.byName[name], self)
}

// candidates narrows a filter to the users it can match, from the indexes:
// an `eq` with a string value on id, userName, a non-empty externalId or a
// non-empty emails.value, a value path emails[...] whose filter holds such a
// `value eq`, or an `and` with such an operand (the shortest list wins). The list is in id order
// and must not be modified; the filter must still be applied to each entry.
// ok is false when the filter needs a scan of every user.
func (x *userIndex) candidates(f expr) (list []*User, ok bool) {
	switch e := f.(type) {
	case eqExpr:
		v, isString := e.value.(string)
		if !isString {
			return nil, false
		}
		switch e.attr {
		case "id":
			if u := x.byID[v]; u != nil {
				return []*User{u}, true
			}
			return nil, true
		case "username":
			return x.byName[v], true
		case "externalid":
			if v == "" {
				return nil, false // users without an externalId are not indexed
			}
			return x.byExt[v], true
		case "emails.value":
			if v == "" {
				return nil, false
			}
			return x.byEmail[v], true
		}
	case emailsPath:
		if v, ok := emailValue(e.sub); ok {
			return x.byEmail[v], true
		}
	case andExpr:
		l, lok := x.candidates(e.l)
		r, rok := x.candidates(e.r)
		switch {
		case lok && (!rok || len(l) <= len(r)):
			return l, true
		case rok:
			return r, true
		}
	}
	return nil, false
}

// emailValue finds a `value eq "v"` (v a non-empty string) that an email must
// satisfy for sub to match it: sub itself, or an operand of its `and`s.
func emailValue(sub subExpr) (string, bool) {
	switch e := sub.(type) {
	case eqSub:
		v, ok := e.value.(string)
		return v, ok && e.attr == "value" && v != ""
	case andSub:
		if v, ok := emailValue(e.l); ok {
			return v, true
		}
		return emailValue(e.r)
	}
	return "", false
}

// insertSorted inserts u into a list in id order, appending in the common case
// of a new largest id.
func insertSorted(list []*User, u *User) []*User {
	if n := len(list); n == 0 || compareUsers(list[n-1], u) < 0 {
		return append(list, u)
	}
	i, _ := slices.BinarySearchFunc(list, u, compareUsers)
	return slices.Insert(list, i, u)
}

// removeFrom drops u from the holders of key, and the key when none remain.
func removeFrom(m map[string][]*User, key string, u *User) {
	hs := m[key]
	i := slices.Index(hs, u)
	if i < 0 {
		return
	}
	if len(hs) == 1 {
		delete(m, key)
		return
	}
	m[key] = slices.Delete(hs, i, i+1)
}

func otherThan(hs []*User, self *User) *User {
	for _, h := range hs {
		if h != self {
			return h
		}
	}
	return nil
}
