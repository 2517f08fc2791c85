// Package tenant holds the configured tenants of a bridge as every concern reads
// them: id, schedule, deletion threshold, connectors and webhook
// secrets. It is built once by the bridge and never changed afterwards, so the
// sub-packages share it without locks.
package tenant

import (
	"fmt"
	"regexp"
	"time"

	"github.com/scim-bridge/scim-bridge/connectors"
)

// DefaultDeletionThreshold is the deletion threshold of a tenant that sets none.
const DefaultDeletionThreshold = 500

// idPattern is what a tenant id may look like (it appears in URLs and Redis keys).
var idPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// Tenant is one configured tenant.
type Tenant struct {
	ID                string
	ReconcileEvery    time.Duration
	DeletionThreshold int
	// Connectors in configuration order.
	Connectors     []connectors.Connector
	WebhookSecrets map[string]string
	// Settle is the quiet period of a changed user before its convergence,
	// never beyond SettleMax after its first unconverged change; 0: none.
	Settle, SettleMax time.Duration
	// Throttles are the throttles of the connectors, by name (a connector
	// without one is absent), for status and metrics.
	Throttles map[string]connectors.ThrottleReporter
	byName    map[string]connectors.Connector
}

// Connector returns the tenant's connector called name, or nil.
func (t *Tenant) Connector(name string) connectors.Connector { return t.byName[name] }

// Set is the tenants of one bridge, in configuration order.
type Set struct {
	order []*Tenant
	byID  map[string]*Tenant
}

// NewSet validates the tenants (id syntax, unique ids, unique connector names
// within a tenant) and indexes them. A zero DeletionThreshold becomes
// DefaultDeletionThreshold.
func NewSet(ts []*Tenant) (*Set, error) {
	s := &Set{byID: map[string]*Tenant{}}
	for _, t := range ts {
		if !idPattern.MatchString(t.ID) {
			return nil, fmt.Errorf("tenant id %q: must match %s", t.ID, idPattern)
		}
		if _, dup := s.byID[t.ID]; dup {
			return nil, fmt.Errorf("tenant %q configured twice", t.ID)
		}
		if t.DeletionThreshold <= 0 {
			t.DeletionThreshold = DefaultDeletionThreshold
		}
		t.byName = map[string]connectors.Connector{}
		for _, c := range t.Connectors {
			if _, dup := t.byName[c.Name()]; dup {
				return nil, fmt.Errorf("tenant %q: connector %q configured twice", t.ID, c.Name())
			}
			t.byName[c.Name()] = c
		}
		s.byID[t.ID] = t
		s.order = append(s.order, t)
	}
	return s, nil
}

// Get returns the tenant with that id, or nil.
func (s *Set) Get(id string) *Tenant { return s.byID[id] }

// All returns every tenant in configuration order; the slice must not be changed.
func (s *Set) All() []*Tenant { return s.order }
