package store

// Key layout shared by the resource writes (which mark work dirty in the same
// atomic step) and the work queue. All keys of one tenant share the hash tag {tenant}.
//
//	sb:{t}:queue              ZSET  queue member → due time (unix ms)
//	sb:{t}:leases             HASH  queue member → lease JSON
//	sb:{t}:leasez             ZSET  queue member → lease expiry (unix ms)
//	sb:{t}:sync:<connector>   HASH  subject ("<Kind>|<id>") → sync state JSON
//	sb:{t}:synccount:<conn>   HASH  sync status → number of subjects in it
//	sb:{t}:syncconns          SET   connectors that have sync state
//	sb:{t}:dead               ZSET  "<connector>|<subject>" → time it went dead (unix ms)
//	sb:{t}:once:<ns>|<id>     STRING first-seen time (unix ms), PX ttl
//	sb:{t}:lock:<name>        STRING "<fencing token>|<owner>", PX ttl
//	sb:{t}:lock:<name>:fence  STRING fencing counter (INCR)
//	sb:{t}:settle             HASH  queue member → "<first change ms>,<armed due ms>" (settle.go)
//	sb:{t}:throttle:<conn>    HASH  until → hold end (unix ms); limited → 429s seen (throttle.go)
//
// A lease JSON is {"token","owner","expires","due"}; times are unix ms.

// Work kinds a queue key can carry.
const (
	WorkUser   = "User"   // a SCIM user id
	WorkGroup  = "Group"  // a SCIM group id
	WorkTenant = "Tenant" // tenant-level subject (e.g. SSO connection); ID is the tenant id
	WorkObject = "Object" // a downstream object; ID is "<connector>/<object id>"
)

// WorkKey names one unit of work: it carries a key, never a change payload.
type WorkKey struct {
	Tenant string
	Kind   string
	ID     string
}

// queueKey is the tenant's work queue.
func queueKey(tenant string) string { return key(tenant, "queue") }

// queueMember encodes a work key inside the tenant's queue: "<kind>|<id>".
func queueMember(kind, id string) string { return kind + "|" + id }

// leasesKey holds the lease of each claimed queue member.
func leasesKey(tenant string) string { return key(tenant, "leases") }

// leaseExpiriesKey orders the leases by expiry.
func leaseExpiriesKey(tenant string) string { return key(tenant, "leasez") }

// syncKey holds the sync state of one connector, by subject.
func syncKey(tenant, connector string) string { return key(tenant, "sync", connector) }

// syncCountKey counts one connector's subjects per sync status.
func syncCountKey(tenant, connector string) string { return key(tenant, "synccount", connector) }

// syncConnsKey lists the connectors that have sync state.
func syncConnsKey(tenant string) string { return key(tenant, "syncconns") }

// deadKey orders the dead letters of all connectors by the time they went dead.
func deadKey(tenant string) string { return key(tenant, "dead") }

// deadMember encodes a dead letter: "<connector>|<subject>".
func deadMember(connector, subject string) string { return connector + "|" + subject }

// onceKey marks one idempotency id as seen.
func onceKey(tenant, namespace, id string) string { return key(tenant, "once", namespace+"|"+id) }

// lockKey holds a lock's value, "<fencing token>|<owner>".
func lockKey(tenant, name string) string { return key(tenant, "lock", name) }

// lockFenceKey is a lock's fencing counter.
func lockFenceKey(tenant, name string) string { return key(tenant, "lock", name, "fence") }
