package bridge

import (
	"time"

	"github.com/scim-bridge/scim-bridge/bridge/fanout"
	"github.com/scim-bridge/scim-bridge/store"
)

// The store's instance heartbeats let the workers release the claims of a
// killed replica within seconds (fanout.Liveness).
var _ fanout.Liveness = (*store.Store)(nil)

// storeUnavailable classifies a store error as "Redis is down, loading or
// failing over" (store.Unavailable): the SCIM and admin endpoints answer 503
// with Retry-After, the sync workers pause and retry their writes.
func storeUnavailable(err error) (time.Duration, bool) {
	return store.Unavailable(err)
}
