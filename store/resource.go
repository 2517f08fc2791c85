package store

// Resource key layout. Every key carries the tenant's hash tag {t}; <Kind> is
// "User" or "Group", <kind> is "user" or "group". One key per resource keeps
// the embedded store's per-key costs low.
//
//	sb:{t}:<kind>:<id>               STRING the document, read with one GET / MGET; four
//	                                        lines: "<version> <created> <lastModified> <seq>"
//	                                        (times in unix ns, seq = creation sequence), the
//	                                        index values (for the write scripts), the
//	                                        attributes JSON and, for a group with members,
//	                                        the members JSON (see resource_scripts.go)
//	sb:{t}:seq                       STRING creation sequence counter (INCR)
//	sb:{t}:order:<kind>              ZSET  id → creation sequence (stable paging, count)
//	sb:{t}:idx:user:userName         HASH  lower-cased userName → id (unique)
//	sb:{t}:idx:user:externalId       HASH  externalId → id (unique, case-exact)
//	sb:{t}:idx:group:displayName     HASH  lower-cased displayName → id (unique)
//	sb:{t}:idx:user:email            ZSET  "<lower-cased emails.value>\0<user id>", score 0
//	sb:{t}:idx:group:externalId      ZSET  "<externalId>\0<group id>", score 0
//	sb:{t}:idx:memberof              ZSET  "<Kind>|<member id>\0<group id>", score 0
//	sb:{t}:groupnames                HASH  group id → displayName as given
//	sb:{t}:queue                     ZSET  dirty marks "<Kind>|<id>" → due (unix ms), see keys.go
//
// The ZSET indexes are lexicographic (ZRANGEBYLEX "[<value>\0" "(<value>\1"):
// many ids per value, one key per tenant. Ids never hold "\0", tenants no
// braces. A write is one Lua script (resource_scripts.go): document, indexes and
// dirty marks change together or not at all. Dirty marks use ZADD LT: a key
// already queued keeps its earlier due time.

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// kindPart is the lower-case key segment of a kind.
func kindPart(kind Kind) string {
	if kind == KindGroup {
		return "group"
	}
	return "user"
}

// tenantPrefix is "sb:{t}:", the prefix the scripts build keys from.
func tenantPrefix(tenant string) string { return key(tenant) + ":" }

func docKey(tenant string, kind Kind, id string) string {
	return key(tenant, kindPart(kind), id)
}

func orderKey(tenant string, kind Kind) string { return key(tenant, "order", kindPart(kind)) }

func seqKey(tenant string) string { return key(tenant, "seq") }

func userNameIndexKey(tenant string) string  { return key(tenant, "idx", "user", "userName") }
func userExtIDIndexKey(tenant string) string { return key(tenant, "idx", "user", "externalId") }
func groupNameIndexKey(tenant string) string { return key(tenant, "idx", "group", "displayName") }
func emailIndexKey(tenant string) string     { return key(tenant, "idx", "user", "email") }
func groupExtIDIndexKey(tenant string) string {
	return key(tenant, "idx", "group", "externalId")
}
func memberOfIndexKey(tenant string) string { return key(tenant, "idx", "memberof") }
func groupNamesKey(tenant string) string    { return key(tenant, "groupnames") }

// lexMember is the member of a lexicographic index for value and id.
func lexMember(value, id string) string { return value + "\x00" + id }

// lexRange returns the ZRANGEBYLEX bounds of the members of value.
func lexRange(value string) (from, to string) { return "[" + value + "\x00", "(" + value + "\x01" }

// lexIDs picks the ids of value out of a ZRANGEBYLEX reply over lexRange(value)
// (a member of a longer value that starts with value+"\0" is not one of them).
func lexIDs(value string, members []string) []string {
	ids := make([]string, 0, len(members))
	for _, m := range members {
		if id := m[len(value)+1:]; !strings.Contains(id, "\x00") {
			ids = append(ids, id)
		}
	}
	return ids
}

// checkResourceKey validates what every resource method needs: a tenant that
// cannot break the hash tag, a known kind and, when id is non-nil, a non-empty
// id. (Create also refuses a NUL in the id, the separator of the lexicographic
// indexes; such a resource cannot exist, so the other methods find nothing.)
func checkResourceKey(tenant string, kind Kind, id *string) error {
	if tenant == "" || strings.ContainsAny(tenant, "{}") {
		return fmt.Errorf("invalid tenant %q", tenant)
	}
	if kind != KindUser && kind != KindGroup {
		return fmt.Errorf("invalid resource kind %q", kind)
	}
	if id != nil && *id == "" {
		return errors.New("empty resource id")
	}
	return nil
}

// Create stores a new resource (see the contract in api.go). The store sets
// r.Version to 1; a zero r.Created becomes now and a zero r.LastModified becomes
// r.Created. An id already used by a resource of that kind gives *ConflictError
// with Attr "id"; a taken userName, externalId (users) or displayName (groups)
// gives *ConflictError naming it. Marks dirty the resource and, for a group, each
// member, in the same atomic step.
func (s *Store) Create(ctx context.Context, tenant string, r *Resource) error {
	if err := checkResourceKey(tenant, r.Kind, &r.ID); err != nil {
		return fmt.Errorf("create: %w", err)
	}
	if strings.ContainsRune(r.ID, 0) {
		return fmt.Errorf("create: invalid resource id %q", r.ID)
	}
	now := s.now()
	if r.Created.IsZero() {
		r.Created = now
	}
	if r.LastModified.IsZero() {
		r.LastModified = r.Created
	}
	d, err := encodeDoc(r)
	if err != nil {
		return fmt.Errorf("create: %w", err)
	}
	reply, err := s.runPut(ctx, tenant, r, "c", 0, now.UnixMilli(), d)
	if err != nil {
		return fmt.Errorf("create %s %s: %w", r.Kind, r.ID, err)
	}
	r.Version = reply.version
	return nil
}

// Replace overwrites a resource's attributes (see the contract in api.go).
// ifVersion 0 is unconditional; otherwise a different stored version gives
// ErrPrecondition. A missing resource gives ErrNotFound, a taken unique value
// *ConflictError. On success r.Version is the new version and r.Created the
// stored creation time; r.LastModified is kept as given (zero becomes now).
func (s *Store) Replace(ctx context.Context, tenant string, r *Resource, ifVersion int64) error {
	if err := checkResourceKey(tenant, r.Kind, &r.ID); err != nil {
		return fmt.Errorf("replace: %w", err)
	}
	now := s.now()
	if r.LastModified.IsZero() {
		r.LastModified = now
	}
	d, err := encodeDoc(r)
	if err != nil {
		return fmt.Errorf("replace: %w", err)
	}
	reply, err := s.runPut(ctx, tenant, r, "r", ifVersion, now.UnixMilli(), d)
	if err != nil {
		return fmt.Errorf("replace %s %s: %w", r.Kind, r.ID, err)
	}
	r.Version = reply.version
	r.Created = reply.created
	return nil
}

// Delete removes a resource (see the contract in api.go). ifVersion 0 is
// unconditional; otherwise a different stored version gives ErrPrecondition. A
// missing resource gives ErrNotFound. The resource leaves every group that had it
// as a member (each such group: version +1, lastModified now, marked dirty); a
// deleted group's former members are marked dirty, and so is the deleted resource.
func (s *Store) Delete(ctx context.Context, tenant string, kind Kind, id string, ifVersion int64) error {
	if err := checkResourceKey(tenant, kind, &id); err != nil {
		return fmt.Errorf("delete: %w", err)
	}
	now := s.now()
	res, err := deleteScript.Run(ctx, s.rdb,
		[]string{docKey(tenant, kind, id), queueKey(tenant), orderKey(tenant, kind)},
		tenantPrefix(tenant), string(kind), id, ifVersion, now.UnixMilli(), now.UnixNano()).Slice()
	if err == nil {
		_, err = scriptStatus(res)
	}
	if err != nil {
		return fmt.Errorf("delete %s %s: %w", kind, id, err)
	}
	return nil
}

// putReply is the outcome of a successful putScript run.
type putReply struct {
	version int64
	created time.Time
}

func (s *Store) runPut(ctx context.Context, tenant string, r *Resource, mode string, ifVersion, nowMS int64, d encodedDoc) (putReply, error) {
	res, err := putScript.Run(ctx, s.rdb,
		[]string{docKey(tenant, r.Kind, r.ID), queueKey(tenant), orderKey(tenant, r.Kind), seqKey(tenant)},
		tenantPrefix(tenant), string(r.Kind), r.ID, mode, ifVersion, nowMS,
		r.Created.UnixNano(), r.LastModified.UnixNano(),
		d.ix, d.attrs, d.members, d.display).Slice()
	if err != nil {
		return putReply{}, err
	}
	res, err = scriptStatus(res)
	if err != nil {
		return putReply{}, err
	}
	if len(res) != 3 {
		return putReply{}, fmt.Errorf("unexpected script reply %v", res)
	}
	var out putReply
	ver, ok := res[1].(int64)
	if !ok {
		return putReply{}, fmt.Errorf("unexpected version in script reply %v", res)
	}
	out.version = ver
	cs, _ := res[2].(string)
	created, err := strconv.ParseInt(cs, 10, 64)
	if err != nil {
		return putReply{}, fmt.Errorf("unexpected created in script reply %v: %w", res, err)
	}
	out.created = time.Unix(0, created).UTC()
	return out, nil
}

// scriptStatus maps a write script's status reply to the package's errors; on
// "ok" it returns the reply for the caller to read further values.
func scriptStatus(res []any) ([]any, error) {
	if len(res) == 0 {
		return nil, errors.New("empty script reply")
	}
	status, _ := res[0].(string)
	switch status {
	case "ok":
		return res, nil
	case "notfound":
		return nil, ErrNotFound
	case "precondition":
		return nil, ErrPrecondition
	case "conflict":
		attr := ""
		if len(res) > 1 {
			attr, _ = res[1].(string)
		}
		return nil, &ConflictError{Attr: attr}
	}
	return nil, fmt.Errorf("unexpected script reply %v", res)
}

// Get returns one resource, or ErrNotFound. One round trip.
func (s *Store) Get(ctx context.Context, tenant string, kind Kind, id string) (*Resource, error) {
	if err := checkResourceKey(tenant, kind, &id); err != nil {
		return nil, fmt.Errorf("get: %w", err)
	}
	doc, err := s.rdb.Get(ctx, docKey(tenant, kind, id)).Result()
	if errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("get %s %s: %w", kind, id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get %s %s: %w", kind, id, err)
	}
	r, _, err := decodeDoc(new(jsonDecoder), kind, id, doc)
	if err != nil {
		return nil, fmt.Errorf("get: %w", err)
	}
	return r, nil
}

// GetMany returns the resources with the given ids that exist, in the order of
// ids (missing ids are skipped, repeated ids repeated). One round trip (MGET)
// per 1,000 ids.
func (s *Store) GetMany(ctx context.Context, tenant string, kind Kind, ids []string) ([]*Resource, error) {
	if err := checkResourceKey(tenant, kind, nil); err != nil {
		return nil, fmt.Errorf("get many: %w", err)
	}
	docs, err := s.loadDocs(ctx, tenant, kind, ids)
	if err != nil {
		return nil, err
	}
	out := make([]*Resource, len(docs))
	for i, d := range docs {
		out[i] = d.r
	}
	return out, nil
}

// loadedDoc is a resource with its creation sequence.
type loadedDoc struct {
	r   *Resource
	seq int64
}

// loadBatch bounds the keys of one MGET.
const loadBatch = 1000

// loadDocs reads ids with MGET, skipping missing ones, order kept.
func (s *Store) loadDocs(ctx context.Context, tenant string, kind Kind, ids []string) ([]loadedDoc, error) {
	out := make([]loadedDoc, 0, len(ids))
	keys := make([]string, 0, min(len(ids), loadBatch))
	var dec jsonDecoder
	for start := 0; start < len(ids); start += loadBatch {
		chunk := ids[start:min(start+loadBatch, len(ids))]
		keys = keys[:0]
		for _, id := range chunk {
			keys = append(keys, docKey(tenant, kind, id))
		}
		vals, err := s.rdb.MGet(ctx, keys...).Result()
		if err != nil {
			return nil, fmt.Errorf("load %s documents: %w", kind, err)
		}
		for i, v := range vals {
			doc, ok := v.(string)
			if !ok {
				continue
			}
			r, seq, err := decodeDoc(&dec, kind, chunk[i], doc)
			if err != nil {
				return nil, fmt.Errorf("load: %w", err)
			}
			out = append(out, loadedDoc{r: r, seq: seq})
		}
	}
	return out, nil
}

// Count returns the number of resources of kind in tenant (O(1)).
func (s *Store) Count(ctx context.Context, tenant string, kind Kind) (int, error) {
	if err := checkResourceKey(tenant, kind, nil); err != nil {
		return 0, fmt.Errorf("count: %w", err)
	}
	n, err := s.rdb.ZCard(ctx, orderKey(tenant, kind)).Result()
	if err != nil {
		return 0, fmt.Errorf("count %s: %w", kind, err)
	}
	return int(n), nil
}
