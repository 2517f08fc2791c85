// Package store persists scim-bridge state in Redis: SCIM resources with their
// unique and lookup indexes, versions, group membership as a set per group with
// its reverse index, the per-tenant work queue with leases, instance liveness,
// sync state per (tenant, connector, subject), dead letters, idempotency keys
// and locks.
//
// One *Store serves an embedded in-memory Redis (miniredis, for trials: state is
// lost on exit) or a real Redis / Redis Cluster / Sentinel through
// redis.UniversalClient. Every key of a tenant carries the hash tag {tenant}, so a
// tenant's keys share one cluster slot and per-tenant transactions stay legal.
//
// Contract shared by every method: ctx is honoured; ErrNotFound, ErrConflict,
// ErrPrecondition and ErrUnknownMember are returned wrapped and are tested with
// errors.Is (Unavailable tells a Redis outage, for a 503); a write and
// the dirty mark of its key(s) happen in one atomic Redis step (a Lua script or
// MULTI/EXEC), so an acknowledged SCIM write is never left without its fan-out.
package store

// NOTE: this file fixes the API the rest of the project programs against.
// Signatures may gain siblings but must not change. (Since membership became
// sets: a group's members come back in id order with "value", "type" and,
// when known, "display", the member's name at the time of the read; other
// sub-attributes of members are not kept.)

import (
	"errors"
	"time"

	"github.com/scim-bridge/scim-bridge/filter"
)

// Sentinel errors callers act on.
var (
	// ErrNotFound: no resource (or record) with that key in that tenant.
	ErrNotFound = errors.New("not found")
	// ErrConflict: a unique attribute (userName, group displayName) or the id is
	// taken by another resource. Returned as *ConflictError.
	ErrConflict = errors.New("uniqueness conflict")
	// ErrPrecondition: the resource's version is not the one the caller expected.
	ErrPrecondition = errors.New("version precondition failed")
)

// ConflictError names the unique attribute that collided.
type ConflictError struct {
	Attr string // "id", "userName" or "displayName"
}

func (e *ConflictError) Error() string { return "uniqueness conflict on " + e.Attr }

// Unwrap makes errors.Is(err, ErrConflict) true.
func (e *ConflictError) Unwrap() error { return ErrConflict }

// Kind is a SCIM resource type.
type Kind string

// Resource kinds.
const (
	KindUser  Kind = "User"
	KindGroup Kind = "Group"
)

// Resource is one stored SCIM resource.
type Resource struct {
	ID           string
	Kind         Kind
	Version      int64 // starts at 1, +1 on every write; meta.version is W/"<Version>"
	Created      time.Time
	LastModified time.Time
	// Attrs holds the normalized SCIM attributes (see filter.Normalize) without id,
	// meta and schemas. A user's read-only "groups" is never stored: it is derived
	// from group membership (GroupsOf).
	Attrs map[string]any
}

// GroupRef is a group a user belongs to, for the user's derived "groups" attribute.
type GroupRef struct {
	ID          string
	DisplayName string
}

// Query selects a page of resources of one kind in one tenant.
type Query struct {
	Filter     *filter.Filter // nil: all
	SortBy     func(a, b map[string]any) int
	Descending bool
	StartIndex int // 1-based
	Count      int // page size; 0 returns only Total
	// ExcludeMembers returns groups without their "members" (RFC 7644 §3.9
	// excludedAttributes=members): O(1) per group whatever its size. A filter
	// on members.value still uses the reverse index.
	ExcludeMembers bool
	// WithGroups (users) fills Page.Groups with the derived "groups" of the
	// users of the page; an index lookup of one value reads them in the same
	// round trip as the users.
	WithGroups bool
}

// Page is the answer to a Query.
type Page struct {
	Total     int
	Resources []*Resource
	// Groups holds, with Query.WithGroups, the groups of each user of the
	// page that has any (as GroupsOf).
	Groups map[string][]GroupRef
}

// The resource methods (implemented in resource.go and friends):
//
//   Create(ctx, tenant string, r *Resource) error
//       r.ID, r.Kind, r.Attrs, r.Created and r.LastModified are set by the caller;
//       the store sets r.Version = 1 (higher for a group created with more than
//       64 members). Unique indexes: user userName (lower-cased), group
//       displayName (lower-cased); taken → *ConflictError. Lookup indexes (many
//       ids per value): externalId (case-exact, users and groups; RFC 7643 gives
//       it no uniqueness), user emails.value (lower-cased) and the reverse index
//       member → groups. A group's members live in a set of their own
//       (members.go). Creation order is kept for stable paging. Marks dirty: the
//       resource; for a group, each member. Member ids are not checked (the
//       SCIM layer resolves them first), but one that is no longer a user or
//       group when written (deleted since) is left out.
//   Get(ctx, tenant string, kind Kind, id string) (*Resource, error)
//   GetMany(ctx, tenant string, kind Kind, ids []string) ([]*Resource, error)  // missing ids skipped, order kept
//   Replace(ctx, tenant string, r *Resource, ifVersion int64) error
//       ifVersion 0: unconditional; else ErrPrecondition when the stored version
//       differs. Updates indexes; r.Version becomes stored+1; Created is kept.
//       Marks dirty: the resource; for a group, every user whose membership changed
//       and, when displayName changed, every member.
//   Delete(ctx, tenant string, kind Kind, id string, ifVersion int64) error
//       Deleting a user removes it from every group (each such group's version +1).
//       Marks dirty: the resource (its absence is the desired state); for a group,
//       each former member.
//   Query(ctx, tenant string, kind Kind, q Query) (Page, error)
//       Uses q.Filter.Plan() to avoid scans; ordered by creation unless SortBy.
//   GroupsOf(ctx, tenant string, userIDs []string) (map[string][]GroupRef, error)
//   Count(ctx, tenant string, kind Kind) (int, error)
//   ForEach(ctx, tenant string, kind Kind, batch int, fn func([]*Resource) error) error  // streams in creation order
//
// Group membership (members.go): AddMembers, RemoveMembers and ReplaceMembers
// change a group's members set in O(members changed), bumping its version and
// marking the changed members and the group dirty in the same atomic step
// (in steps of 64 for larger changes: the added members are all checked
// before the first step, and a later step leaves out one deleted since;
// replacements of one group are ordered, a later one superseding an earlier
// one still running its steps, so they never leave a mix); GetGroup and
// MemberCount read a group without its members in O(1); ForEachMember streams
// them in bounded memory.
// Recover (upgrade.go) converts data of the former layout at start-up.
//
// The work-queue, sync-state, dead-letter, idempotency, lock and liveness
// methods are documented in queue.go, syncstate.go, once.go, lock.go and
// instance.go; retries and the Unavailable classifier in retry.go.
