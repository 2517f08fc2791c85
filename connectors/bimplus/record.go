package bimplus

import (
	"encoding/json"
	"maps"
	"slices"
	"strings"

	"github.com/scim-bridge/scim-bridge/connectors"
)

// projectKeyPrefix prefixes the Record.IDs key of a managed membership.
const projectKeyPrefix = "project:"

// managedMembership is one membership the bridge manages for a user.
type managedMembership struct {
	Member string // member id
	Role   string // role name last applied
}

// recordState is the adapter-private Record.State.
type recordState struct {
	// Roles is the role name applied per project.
	Roles map[string]string `json:"roles,omitempty"`
	// Removed lists the projects whose managed membership the bridge removed
	// and has not seen gone in a listing read since (see recorder).
	Removed []string `json:"removed,omitempty"`
}

// decodeRecord reads the managed memberships from a record. Either half (IDs or
// State) is enough to mark a project managed; a malformed State is ignored, as
// the record is only a hint.
func decodeRecord(r connectors.Record) map[string]managedMembership {
	out := map[string]managedMembership{}
	for k, v := range r.IDs {
		if p, ok := strings.CutPrefix(k, projectKeyPrefix); ok && p != "" {
			out[p] = managedMembership{Member: v}
		}
	}
	var st recordState
	if len(r.State) > 0 && json.Unmarshal(r.State, &st) == nil {
		for p, role := range st.Roles {
			m := out[p]
			m.Role = role
			out[p] = m
		}
	}
	return out
}

// decodeRemoved reads the projects a record lists as removed.
func decodeRemoved(r connectors.Record) map[string]bool {
	var st recordState
	if len(r.State) == 0 || json.Unmarshal(r.State, &st) != nil || len(st.Removed) == 0 {
		return nil
	}
	out := make(map[string]bool, len(st.Removed))
	for _, p := range st.Removed {
		out[p] = true
	}
	return out
}

// encodeRecord writes the managed memberships into a record.
func encodeRecord(m map[string]managedMembership) connectors.Record {
	return encodeRecordRemoved(m, nil)
}

// encodeRecordRemoved writes the managed memberships and the removed projects
// (those not managed) into a record.
func encodeRecordRemoved(m map[string]managedMembership, removed map[string]bool) connectors.Record {
	var gone []string
	for p := range removed {
		if _, ok := m[p]; !ok {
			gone = append(gone, p)
		}
	}
	if len(m) == 0 && len(gone) == 0 {
		return connectors.Record{}
	}
	slices.Sort(gone)
	r := connectors.Record{}
	st := recordState{Removed: gone}
	if len(m) > 0 {
		r.IDs = make(map[string]string, len(m))
		st.Roles = make(map[string]string, len(m))
	}
	for _, p := range slices.Sorted(maps.Keys(m)) {
		r.IDs[projectKeyPrefix+p] = m[p].Member
		st.Roles[p] = m[p].Role
	}
	r.State, _ = json.Marshal(st) // maps and slices of strings always encode
	return r
}

// recorder encodes the records of one convergence. A managed membership the
// convergence removes is remembered in the record as removed: another replica
// whose cached listing still shows it then reads the project afresh before
// relying on it. The mark is dropped once a listing read during a convergence
// has been seen, or the project is managed again.
type recorder struct {
	managed map[string]managedMembership // as the convergence started
	removed map[string]bool              // the marks to keep
}

// encode is the record of the managed memberships m.
func (r recorder) encode(m map[string]managedMembership) connectors.Record {
	removed := maps.Clone(r.removed)
	for p := range r.managed {
		if _, ok := m[p]; !ok {
			if removed == nil {
				removed = map[string]bool{}
			}
			removed[p] = true
		}
	}
	return encodeRecordRemoved(m, removed)
}
