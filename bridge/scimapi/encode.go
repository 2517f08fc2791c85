package scimapi

import "github.com/scim-bridge/scim-bridge/store"

// marshalView encodes a resource view like json.Marshal, without reflection
// (store.AppendJSON): the response of every request goes through it.
// FuzzAppendView keeps it in agreement with encoding/json.
func marshalView(v map[string]any) ([]byte, error) {
	return store.AppendJSON(make([]byte, 0, 1024), v)
}
