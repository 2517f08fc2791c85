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

// encodeRecord writes the managed memberships into a record.
func encodeRecord(m map[string]managedMembership) connectors.Record {
	if len(m) == 0 {
		return connectors.Record{}
	}
	r := connectors.Record{IDs: make(map[string]string, len(m))}
	st := recordState{Roles: make(map[string]string, len(m))}
	for _, p := range slices.Sorted(maps.Keys(m)) {
		r.IDs[projectKeyPrefix+p] = m[p].Member
		st.Roles[p] = m[p].Role
	}
	r.State, _ = json.Marshal(st) // a map of strings always encodes
	return r
}
