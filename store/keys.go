package store

// Key layout shared by the resource writes (which mark work dirty in the same
// atomic step) and the work queue. All keys of one tenant share the hash tag {tenant}.
//
//	sb:{t}:queue              ZSET  queue member → due time (unix ms)
//	sb:{t}:leases             HASH  queue member → lease JSON
//	sb:{t}:leasez             ZSET  queue member → lease expiry (unix ms)

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
