package subject

import (
	"encoding/json"
	"fmt"

	"github.com/scim-bridge/scim-bridge/connectors"
	"github.com/scim-bridge/scim-bridge/store"
)

// Record decodes the connector record kept in a sync state (nil or empty: the
// zero record). A record is only a hint to the adapter, so callers that get an
// error log it and converge from the zero record rather than stop.
func Record(st *store.SyncState) (connectors.Record, error) {
	var rec connectors.Record
	if st == nil || len(st.Record) == 0 {
		return rec, nil
	}
	if err := json.Unmarshal(st.Record, &rec); err != nil {
		return connectors.Record{}, fmt.Errorf("decode record of %s %s: %w", st.Connector, st.Subject, err)
	}
	return rec, nil
}
