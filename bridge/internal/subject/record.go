package bridge

import (
	"encoding/json"
	"strings"

	"github.com/scim-bridge/scim-bridge/connectors"
	"github.com/scim-bridge/scim-bridge/filter"
)

func decodeRecord(raw []byte, rec *connectors.Record) error {
	if len(raw) == 0 {
		return nil
	}
	return json.Unmarshal(raw, rec)
}

// compileEq builds the filter `attr eq "value"` with the value safely quoted.
func compileEq(rt *resourceType, attr, value string) (*filter.Filter, error) {
	q, err := json.Marshal(strings.ToValidUTF8(value, ""))
	if err != nil {
		return nil, err
	}
	return filter.Compile(rt.rs, attr+" eq "+string(q))
}
