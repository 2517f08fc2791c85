package bridge

import (
	"github.com/scim-bridge/scim-bridge/connectors"
	"github.com/scim-bridge/scim-bridge/store"
)

// NewThrottle returns the throttle of tenant's connector configured by b (its
// max_concurrency, rate and burst keys), whose holds every replica on st
// shares. Open the connector with it (connectors.Deps.Throttle) and hand it to
// the bridge (TenantOptions.Throttles) for status and metrics.
func NewThrottle(st *store.Store, tenantID string, b connectors.Base) *connectors.Adaptive {
	o := b.ThrottleOptions()
	o.Store = st.Throttle(tenantID, b.Name)
	return connectors.NewThrottle(o)
}
