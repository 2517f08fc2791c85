package scimapi

// PATCH of a group (RFC 7644 §3.5.2) as set operations on its membership:
// the member operations of every shape IdPs send become one store.GroupPatch
// (members to add, ids to remove) that never reads the group's member list,
// and the other operations (displayName, externalId) are applied to the
// group's attributes inside the same store step.
//
// Atomicity: the operation list is validated and folded into its net effect
// first (an id added then removed is removed, and the reverse); members to
// add are resolved (they must exist; their display is taken from the user's
// displayName or userName, or the group's displayName); then one
// store.PatchGroup writes the attributes, the added and the removed members
// together, after checking If-Match, the uniqueness of displayName and the
// existence of the added members, or writes nothing. The attribute operations
// are applied to the attributes read just before the write; when another
// request changed the attributes meanwhile the store applies them again to
// the new ones (concurrent member changes are no reason). A PATCH changing
// more than 64 members is checked as a whole and then written in steps of
// 64 (the first one with the attributes), so no step holds Redis for long.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/scim-bridge/scim-bridge/filter"
	"github.com/scim-bridge/scim-bridge/store"
)

// groupCoreURN prefixes URN-qualified names of the group's core attributes.
const groupCoreURN = "urn:ietf:params:scim:schemas:core:2.0:group:"

// memberRef is a member named by a PATCH: its id and, when given, its type.
type memberRef struct {
	id   string
	kind store.Kind // "" when the request did not say
}

// memberPlan is the net effect of a PATCH's member operations.
type memberPlan struct {
	// replace: the group's members become exactly want (a replace of
	// "members", or a remove of all of them), then the later operations.
	replace bool
	want    []memberRef    // replace: the members; else the members to add
	wantIdx map[string]int // id → index in want (-1: dropped)
	remove  map[string]bool
	removes []string // order of first removal
}

func newMemberPlan() *memberPlan {
	return &memberPlan{wantIdx: map[string]int{}, remove: map[string]bool{}}
}

func (p *memberPlan) add(m memberRef) {
	if i, ok := p.wantIdx[m.id]; ok && i >= 0 {
		return // adding a member already there changes nothing
	}
	delete(p.remove, m.id)
	p.wantIdx[m.id] = len(p.want)
	p.want = append(p.want, m)
}

func (p *memberPlan) drop(id string) {
	if i, ok := p.wantIdx[id]; ok && i >= 0 {
		p.wantIdx[id] = -1
	}
	if !p.replace && !p.remove[id] {
		p.remove[id] = true
		p.removes = append(p.removes, id)
	}
}

func (p *memberPlan) replaceAll(ms []memberRef) {
	p.replace = true
	p.want, p.wantIdx, p.remove, p.removes = nil, map[string]int{}, map[string]bool{}, nil
	for _, m := range ms {
		p.add(m)
	}
}

// adds returns the members to add (replace: the wanted ones).
func (p *memberPlan) adds() []memberRef {
	out := make([]memberRef, 0, len(p.want))
	for i, m := range p.want {
		if p.wantIdx[m.id] == i {
			out = append(out, m)
		}
	}
	return out
}

// removals returns the ids to remove, none of them also added.
func (p *memberPlan) removals() []string {
	out := make([]string, 0, len(p.removes))
	for _, id := range p.removes {
		if p.remove[id] {
			out = append(out, id)
		}
	}
	return out
}

// planGroupPatch splits a group PATCH into the operations on the group's
// other attributes (in order) and the net effect of its member operations.
// ok is false when a member operation has a shape the set operations do not
// cover (a filter on display or type, a sub-attribute path): such a PATCH
// takes the general read-modify-write path. Errors are 400s.
func planGroupPatch(ops []filter.Operation) (attrOps []filter.Operation, mp *memberPlan, ok bool, err error) {
	mp = newMemberPlan()
	for _, op := range ops {
		if op.Path == "" {
			obj, isObj := op.Value.(map[string]any)
			if !isObj {
				attrOps = append(attrOps, op)
				continue
			}
			rest := make(map[string]any, len(obj))
			var members any
			hasMembers := false
			for k, v := range obj {
				if isMembersName(k) {
					members, hasMembers = v, true
					continue
				}
				rest[k] = v
			}
			if hasMembers {
				refs, err := memberRefs(members)
				if err != nil {
					return nil, nil, false, err
				}
				if op.Op == filter.OpReplace {
					mp.replaceAll(refs)
				} else {
					for _, m := range refs {
						mp.add(m)
					}
				}
			}
			if len(rest) > 0 || !hasMembers {
				attrOps = append(attrOps, filter.Operation{Op: op.Op, Value: rest})
			}
			continue
		}
		if isMembersName(op.Path) {
			switch op.Op {
			case filter.OpAdd, filter.OpReplace:
				refs, err := memberRefs(op.Value)
				if err != nil {
					return nil, nil, false, err
				}
				if op.Op == filter.OpReplace {
					mp.replaceAll(refs)
					continue
				}
				for _, m := range refs {
					mp.add(m)
				}
			case filter.OpRemove:
				if op.Value == nil {
					mp.replaceAll(nil) // remove all members
					continue
				}
				// Entra: remove the listed members only.
				refs, err := memberRefs(op.Value)
				if err != nil {
					return nil, nil, false, err
				}
				for _, m := range refs {
					mp.drop(m.id)
				}
			}
			continue
		}
		if id, isEq := memberValueFilter(op.Path); isEq && op.Op == filter.OpRemove {
			mp.drop(id)
			continue
		}
		if mentionsMembers(op.Path) {
			return nil, nil, false, nil
		}
		attrOps = append(attrOps, op)
	}
	return attrOps, mp, true, nil
}

// isMembersName reports whether name is the attribute "members" (any case,
// URN-qualified or not).
func isMembersName(name string) bool {
	if len(name) > len(groupCoreURN) && strings.EqualFold(name[:len(groupCoreURN)], groupCoreURN) {
		name = name[len(groupCoreURN):]
	}
	return strings.EqualFold(name, "members")
}

// mentionsMembers reports whether a path is about members (a sub-attribute
// or a value filter).
func mentionsMembers(path string) bool {
	name := path
	if i := strings.IndexAny(name, "[."); i >= 0 {
		name = name[:i]
	}
	if strings.HasPrefix(strings.ToLower(path), groupCoreURN) {
		rest := path[len(groupCoreURN):]
		if i := strings.IndexAny(rest, "[."); i >= 0 {
			rest = rest[:i]
		}
		name = rest
	}
	return strings.EqualFold(strings.TrimSpace(name), "members")
}

// memberValueFilter parses `members[value eq "id"]` (names and operator in
// any case, URN-qualified or not) and returns the id.
func memberValueFilter(path string) (string, bool) {
	open := strings.IndexByte(path, '[')
	if open < 0 || !strings.HasSuffix(path, "]") || !isMembersName(strings.TrimSpace(path[:open])) {
		return "", false
	}
	inner := strings.TrimSpace(path[open+1 : len(path)-1])
	attr, rest, ok := strings.Cut(inner, " ")
	if !ok || !strings.EqualFold(attr, "value") {
		return "", false
	}
	rest = strings.TrimSpace(rest)
	op, lit, ok := strings.Cut(rest, " ")
	if !ok || !strings.EqualFold(op, "eq") {
		return "", false
	}
	var id string
	if err := json.Unmarshal([]byte(strings.TrimSpace(lit)), &id); err != nil || id == "" {
		return "", false
	}
	return id, true
}

// memberRefs reads the value of a member operation: a list of objects (or
// one object) with a non-empty "value" and optionally "type".
func memberRefs(v any) ([]memberRef, error) {
	var list []any
	switch x := v.(type) {
	case []any:
		list = x
	case map[string]any:
		list = []any{x}
	case nil:
		return nil, nil
	default:
		return nil, errBadRequest("invalidValue", "members must be a list of objects with a \"value\"")
	}
	out := make([]memberRef, 0, len(list))
	for _, e := range list {
		m, ok := e.(map[string]any)
		if !ok {
			return nil, errBadRequest("invalidValue", "each member must be an object with a \"value\"")
		}
		var ref memberRef
		for k, x := range m {
			switch {
			case strings.EqualFold(k, "value"):
				ref.id, _ = x.(string)
			case strings.EqualFold(k, "type"):
				if t, _ := x.(string); strings.EqualFold(t, "group") {
					ref.kind = store.KindGroup
				} else if strings.EqualFold(t, "user") {
					ref.kind = store.KindUser
				}
			}
		}
		if ref.id == "" {
			return nil, errBadRequest("invalidValue", "each member must have a non-empty \"value\"")
		}
		out = append(out, ref)
	}
	return out, nil
}

// patchGroup serves a group PATCH whose member operations are set operations
// (see the top of this file). handled is false when the PATCH needs the
// general path.
func (srv *Server) patchGroup(w http.ResponseWriter, r *http.Request, tenant string, rt *resourceType, id string, ops []filter.Operation, ifVersion int64) (handled bool, err error) {
	attrOps, mp, ok, err := planGroupPatch(ops)
	if err != nil || !ok {
		return ok, err
	}
	ctx := r.Context()
	gp := store.GroupPatch{}
	if len(attrOps) > 0 {
		gp.Attrs = func(cur *store.Resource) (map[string]any, error) {
			out, changed, err := filter.Apply(rt.rs, cur.Attrs, attrOps)
			if err != nil {
				return nil, err
			}
			if !changed {
				return cur.Attrs, nil
			}
			if err := checkRequired(rt, out); err != nil {
				return nil, err
			}
			delete(out, "members")
			return out, nil
		}
	}
	// The store checks that the added members exist inside the write step
	// (no read of them here) and, for a replacement, computes the difference
	// with the stored members, ordered against concurrent replacements.
	gp.Add = memberList(mp.adds())
	if mp.replace {
		gp.ReplaceMembers = true
	} else {
		gp.Remove = mp.removals()
	}
	ver, err := srv.store.PatchGroup(ctx, tenant, id, gp, ifVersion)
	if err != nil {
		var ue *store.UnknownMemberError
		switch {
		case errors.As(err, &ue):
			return true, errBadRequest("invalidValue", "member %q is not a user or group of this tenant", ue.IDs[0])
		case errors.Is(err, store.ErrNotFound):
			return true, errNotFound(rt.kind, id)
		}
		return true, err
	}
	srv.written()
	noteWrite(ctx, rt.kind, id, nil, ops)
	o := renderOptsFor(srv, r)
	if !o.projected() {
		// RFC 7644 §3.5.2 allows 204: Entra and Okta push membership changes to
		// groups that may hold thousands of members; echoing them is waste.
		w.Header().Set("ETag", etag(ver))
		w.WriteHeader(http.StatusNoContent)
		return true, nil
	}
	return true, srv.serveGroup(w, r, tenant, rt, id, o, http.StatusOK)
}

// resolveAdds finds the members to add among the tenant's users and groups
// (a user first when the type is not given) and gives each its display: the
// user's displayName or else userName, the group's displayName (RFC 7643
// §4.2). An unknown member is 400 invalidValue. The display is not stored
// with the membership: a group read later shows each member's name as it is
// then.
func (srv *Server) resolveAdds(ctx context.Context, tenant string, refs []memberRef) ([]store.Member, error) {
	if len(refs) == 0 {
		return nil, nil
	}
	out, err := srv.store.ResolveMembers(ctx, tenant, memberList(refs))
	var ue *store.UnknownMemberError
	if errors.As(err, &ue) {
		return nil, errBadRequest("invalidValue", "member %q is not a user or group of this tenant", ue.IDs[0])
	}
	if err != nil {
		return nil, fmt.Errorf("resolve group members: %w", err)
	}
	return out, nil
}

// memberList turns member references into store members without display:
// the store resolves kind and display when it adds them.
func memberList(refs []memberRef) []store.Member {
	out := make([]store.Member, len(refs))
	for i, m := range refs {
		out[i] = store.Member{ID: m.id, Kind: m.kind}
	}
	return out
}
