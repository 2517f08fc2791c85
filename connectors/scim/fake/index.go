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
//   - byName: the holders of each userName, compared exactly as the filters and
//     the POST upsert compare it (see the package doc), in id order;
//   - byExt: the holders of each non-empty externalId, in id order;
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
	inactive int
}

func newUserIndex() userIndex {
	return userIndex{byID: map[string]*User{}, byName: map[string][]*User{}, byExt: map[string][]*User{}}
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
// an `eq` with a string value on id, userName or a non-empty externalId, or an
// `and` with such an operand (the shortest list wins). The list is in id order
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
