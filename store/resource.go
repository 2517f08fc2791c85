package store

// Resource key layout. Every key carries the tenant's hash tag {t}; <Kind> is
// "User" or "Group", <kind> is "user" or "group". One key per resource (plus
// one members set per group) keeps the embedded store's per-key costs low.
//
//	sb:{t}:<kind>:<id>               STRING the document, read with one GET / MGET: a
//	                                        header "<version> <created> <lastModified> <seq>"
//	                                        (times in unix ns, seq = creation sequence), the
//	                                        index values (for the write scripts), the
//	                                        attributes JSON and, for a group with a members
//	                                        attribute, "=" (see resource_scripts.go)
//	sb:{t}:members:<gid>             ZSET  a group's members "<id>\0<Kind>\0<display>", score 0
//	                                        (display: "" when written by a PATCH; never shown,
//	                                        a read takes the member's current name)
//	sb:{t}:seq                       STRING creation sequence counter (INCR)
//	sb:{t}:order:<kind>              ZSET  id → creation sequence (stable paging, count)
//	sb:{t}:idx:user:userName         HASH  lower-cased userName → id (unique)
//	sb:{t}:idx:group:displayName     HASH  lower-cased displayName → id (unique)
//	sb:{t}:idx:user:extid            ZSET  "<externalId>\0<user id>", score 0 (case-exact)
//	sb:{t}:idx:group:externalId      ZSET  "<externalId>\0<group id>", score 0
//	sb:{t}:idx:user:email            ZSET  "<lower-cased emails.value>\0<user id>", score 0
//	sb:{t}:idx:memberof              ZSET  "<Kind>|<member id>\0<group id>", score 0
//	sb:{t}:groupnames                HASH  group id → displayName as given
//	sb:{t}:trash                     SET   members sets of deleted groups still being cleared
//	sb:{t}:queue                     ZSET  dirty marks "<Kind>|<id>" → due (unix ms), see keys.go
//
// externalId is a lookup index, not a unique one: RFC 7643 §3.1 leaves it to the
// client, so several resources may carry the same value. (The former layout kept
// users' externalId in a unique hash sb:{t}:idx:user:externalId; Recover moves it.)
// The ZSET indexes are lexicographic (ZRANGEBYLEX "[<value>\0" "(<value>\1"):
// many ids per value, one key per tenant. Ids never hold "\0", tenants no
// braces. A write is one Lua script (resource_scripts.go): document, indexes and
// dirty marks change together or not at all, except that membership changes of
// more than 64 members are applied in steps (members.go). Dirty marks use
// ZADD LT: a key already queued keeps its earlier due time.

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/scim-bridge/scim-bridge/filter"
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
func userExtIDIndexKey(tenant string) string { return key(tenant, "idx", "user", "extid") }

// legacyUserExtIDIndexKey is the former unique externalId hash of users.
func legacyUserExtIDIndexKey(tenant string) string { return key(tenant, "idx", "user", "externalId") }
func groupNameIndexKey(tenant string) string       { return key(tenant, "idx", "group", "displayName") }
func emailIndexKey(tenant string) string           { return key(tenant, "idx", "user", "email") }
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
// with Attr "id"; a taken userName (users) or displayName (groups) gives
// *ConflictError naming it (externalId is not unique). Marks dirty the resource
// and, for a group, each member, in the same atomic step; a group created with
// more than 64 members gets the rest in further steps (each bumping its
// version), so r.Version is then above 1. Member ids are not checked here
// (AddMembers checks them).
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
	reply, err := s.runPut(ctx, tenant, r, "c", int64(0), now, d)
	if err != nil {
		return fmt.Errorf("create %s %s: %w", r.Kind, r.ID, err)
	}
	r.Version = reply.version
	s.rememberUser(tenant, r, d.attrs)
	return nil
}

// Replace overwrites a resource's attributes (see the contract in api.go).
// ifVersion 0 is unconditional; otherwise a different stored version gives
// ErrPrecondition. A missing resource gives ErrNotFound, a taken unique value
// *ConflictError. On success r.Version is the new version and r.Created the
// stored creation time; r.LastModified is kept as given (zero becomes now).
func (s *Store) Replace(ctx context.Context, tenant string, r *Resource, ifVersion int64) error {
	_, err := s.replace(ctx, tenant, r, ifVersion, "r")
	return err
}

// ReplaceUser is Replace for a user that also returns the groups the user is
// a member of, read in the same atomic step (one round trip for a PUT and
// its answer).
func (s *Store) ReplaceUser(ctx context.Context, tenant string, r *Resource, ifVersion int64) ([]GroupRef, error) {
	if r.Kind != KindUser {
		return nil, fmt.Errorf("replace user: %s %s is not a user", r.Kind, r.ID)
	}
	reply, err := s.replace(ctx, tenant, r, ifVersion, "R")
	return reply.groups, err
}

// replace runs putScript in mode "r" or "R"; cond is the version the stored
// resource must have (int64, 0: any) or "<version>:<lastModified ns>".
func (s *Store) replace(ctx context.Context, tenant string, r *Resource, cond any, mode string) (putReply, error) {
	if err := checkResourceKey(tenant, r.Kind, &r.ID); err != nil {
		return putReply{}, fmt.Errorf("replace: %w", err)
	}
	now := s.now()
	if r.LastModified.IsZero() {
		r.LastModified = now
	}
	d, err := encodeDoc(r)
	if err != nil {
		return putReply{}, fmt.Errorf("replace: %w", err)
	}
	reply, err := s.runPut(ctx, tenant, r, mode, cond, now, d)
	if err != nil {
		if r.Kind == KindUser {
			s.users.drop(tenant, r.ID)
		}
		return putReply{}, fmt.Errorf("replace %s %s: %w", r.Kind, r.ID, err)
	}
	r.Version = reply.version
	r.Created = reply.created
	if !reply.lastModified.IsZero() {
		r.LastModified = reply.lastModified
	}
	s.rememberUser(tenant, r, d.attrs)
	return reply, nil
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
	trash := key(tenant, "trash", kindPart(kind), id, rand.Text())
	res, err := deleteScript.Run(ctx, s.rdb,
		[]string{docKey(tenant, kind, id), queueKey(tenant), orderKey(tenant, kind), trash},
		tenantPrefix(tenant), string(kind), id, ifVersion, now.UnixMilli(), now.UnixNano(), memberChunk).Slice()
	if kind == KindUser {
		s.users.drop(tenant, id)
	}
	if err == nil {
		res, err = scriptStatus(res)
	}
	if err != nil {
		return fmt.Errorf("delete %s %s: %w", kind, id, err)
	}
	if len(res) > 1 && res[1] == int64(1) {
		if err := s.clearTrash(ctx, tenant, id, trash); err != nil {
			return fmt.Errorf("delete %s %s: %w", kind, id, err)
		}
	}
	return nil
}

// clearTrash empties the trashed members set of deleted group gid: it reads
// the set in chunks of memberReadChunk and clears each in steps of
// writeChunk, marking each former member dirty.
func (s *Store) clearTrash(ctx context.Context, tenant, gid, trash string) error {
	for {
		entries, err := s.rdb.ZRange(ctx, trash, 0, memberReadChunk-1).Result()
		if err != nil {
			return fmt.Errorf("clear members of deleted group: %w", err)
		}
		for start := 0; start == 0 || start < len(entries); start += s.writeChunk() {
			part := entries[start:min(start+s.writeChunk(), len(entries))]
			args := make([]any, 0, 3+len(part))
			args = append(args, tenantPrefix(tenant), gid, s.now().UnixMilli())
			for _, e := range part {
				args = append(args, e)
			}
			left, err := trashScript.Run(ctx, s.rdb, []string{trash, queueKey(tenant)}, args...).Int64()
			if err != nil {
				return fmt.Errorf("clear members of deleted group: %w", err)
			}
			if left == 0 {
				return nil
			}
		}
	}
}

// putReply is the outcome of a successful putScript run.
type putReply struct {
	version      int64
	created      time.Time
	lastModified time.Time  // as stored (a replacement by the same user keeps the former one)
	groups       []GroupRef // mode "R": the groups the resource is in
}

// runPut runs putScript; for a group whose membership is too large for one
// step (more than memberChunk members stored or wanted), it then replaces the
// membership in steps and, after a rename, marks every member dirty.
func (s *Store) runPut(ctx context.Context, tenant string, r *Resource, mode string, ifVersion any, now time.Time, d encodedDoc) (putReply, error) {
	inline := 0
	if len(d.entries) <= memberChunk {
		inline = memberChunk
	}
	args := make([]any, 0, 13+len(d.entries))
	args = append(args, tenantPrefix(tenant), string(r.Kind), r.ID, mode, ifVersion, now.UnixMilli(),
		r.Created.UnixNano(), r.LastModified.UnixNano(), d.ix, d.attrs, d.members, d.display, inline)
	if inline > 0 {
		for _, e := range d.entries {
			args = append(args, e)
		}
	}
	res, err := putScript.Run(ctx, s.rdb,
		[]string{docKey(tenant, r.Kind, r.ID), queueKey(tenant), orderKey(tenant, r.Kind), seqKey(tenant)},
		args...).Slice()
	if err != nil {
		return putReply{}, err
	}
	res, err = scriptStatus(res)
	if err != nil {
		return putReply{}, err
	}
	if len(res) < 7 || (r.Kind == KindUser && len(res)%2 == 0) {
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
	ls, _ := res[6].(string)
	if lm, err := strconv.ParseInt(ls, 10, 64); err == nil {
		out.lastModified = time.Unix(0, lm).UTC()
	}
	epoch, _ := res[5].(int64)
	var gone []string
	if r.Kind == KindGroup {
		for _, x := range res[7:] {
			id, _ := x.(string)
			gone = append(gone, id)
		}
	} else {
		for i := 7; i+1 < len(res); i += 2 {
			gid, _ := res[i].(string)
			name, _ := res[i+1].(string)
			out.groups = append(out.groups, GroupRef{ID: gid, DisplayName: name})
		}
	}
	// The members left out (deleted since they were resolved) leave the
	// group as the caller renders it too.
	defer func() { dropMemberAttrs(r, gone) }()
	if res[3] == int64(1) {
		return out, nil
	}
	ms := make([]Member, len(d.entries))
	for i, e := range d.entries {
		ms[i] = parseEntry(e)
	}
	if mode == "c" {
		// A new group: nothing to remove or update, only to add (a member a
		// concurrent PATCH added meanwhile stays as it is; one deleted since
		// it was resolved is left out).
		v, err := s.changeMembers(ctx, tenant, r.ID, "add", checkGone, 0, 0, ms, nil, &gone)
		if err != nil {
			return putReply{}, fmt.Errorf("add members: %w", err)
		}
		out.version = max(out.version, v)
		return out, nil
	}
	defer s.endReplace(ctx, tenant, r.ID, epoch)
	if v, err := s.replaceMembers(ctx, tenant, r.ID, ms, checkGone, epoch, 0, &gone); err != nil {
		return putReply{}, fmt.Errorf("replace members: %w", err)
	} else if v > out.version {
		out.version = v
	}
	if res[4] == int64(1) {
		if err := s.markMembersDirty(ctx, tenant, r.ID); err != nil {
			return putReply{}, err
		}
	}
	return out, nil
}

// dropMemberAttrs removes the members with the given ids from r's "members"
// (a new list; the caller's is not modified).
func dropMemberAttrs(r *Resource, ids []string) {
	if len(ids) == 0 {
		return
	}
	list, ok := r.Attrs["members"].([]any)
	if !ok {
		return
	}
	drop := make(map[string]bool, len(ids))
	for _, id := range ids {
		drop[id] = true
	}
	kept := make([]any, 0, len(list))
	for _, m := range list {
		if mm, ok := m.(map[string]any); ok && drop[stringAttr(mm, "value")] {
			continue
		}
		kept = append(kept, m)
	}
	r.Attrs = maps.Clone(r.Attrs)
	r.Attrs["members"] = kept
}

// markMembersDirty marks every member of a group dirty, a chunk at a time.
func (s *Store) markMembersDirty(ctx context.Context, tenant, groupID string) error {
	return s.forEachMember(ctx, tenant, groupID, memberReadChunk, func(ms []Member) error {
		keys := make([]WorkKey, len(ms))
		for i, m := range ms {
			keys[i] = WorkKey{Tenant: tenant, Kind: string(m.Kind), ID: m.ID}
		}
		return s.MarkDirty(ctx, tenant, keys...)
	})
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

// Get returns one resource, or ErrNotFound. One round trip (a group of more
// than 1,000 members takes one more per 1,000: see GetGroup and
// ForEachMember to avoid reading them all).
func (s *Store) Get(ctx context.Context, tenant string, kind Kind, id string) (*Resource, error) {
	if err := checkResourceKey(tenant, kind, &id); err != nil {
		return nil, fmt.Errorf("get: %w", err)
	}
	if kind == KindGroup {
		docs, err := s.loadDocs(ctx, tenant, kind, []string{id}, true)
		if err != nil {
			return nil, fmt.Errorf("get %s %s: %w", kind, id, err)
		}
		if len(docs) == 0 {
			return nil, fmt.Errorf("get %s %s: %w", kind, id, ErrNotFound)
		}
		return docs[0].r, nil
	}
	doc, err := s.rdb.Get(ctx, docKey(tenant, kind, id)).Result()
	if errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("get %s %s: %w", kind, id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get %s %s: %w", kind, id, err)
	}
	d, err := decodeDoc(new(filter.JSONDecoder), kind, id, doc)
	if err != nil {
		return nil, fmt.Errorf("get: %w", err)
	}
	s.rememberDoc(tenant, d.r, doc)
	return d.r, nil
}

// GetMany returns the resources with the given ids that exist, in the order of
// ids (missing ids are skipped, repeated ids repeated). One round trip (MGET)
// per 1,000 ids.
func (s *Store) GetMany(ctx context.Context, tenant string, kind Kind, ids []string) ([]*Resource, error) {
	if err := checkResourceKey(tenant, kind, nil); err != nil {
		return nil, fmt.Errorf("get many: %w", err)
	}
	docs, err := s.loadDocs(ctx, tenant, kind, ids, true)
	if err != nil {
		return nil, err
	}
	out := make([]*Resource, len(docs))
	for i, d := range docs {
		out[i] = d.r
	}
	return out, nil
}

// loadBatch bounds the keys of one MGET.
const loadBatch = 1000

// loadDocs reads ids with MGET, skipping missing ones, order kept. With
// members, groups get their members, read in the same round trip (up to 1,000
// each; larger groups take more).
func (s *Store) loadDocs(ctx context.Context, tenant string, kind Kind, ids []string, members bool) ([]decodedDoc, error) {
	out := make([]decodedDoc, 0, len(ids))
	var dec filter.JSONDecoder
	withMembers := members && kind == KindGroup
	for start := 0; start < len(ids); start += loadBatch {
		chunk := ids[start:min(start+loadBatch, len(ids))]
		vals, firsts, err := s.readDocs(ctx, tenant, kind, chunk, withMembers)
		if err != nil {
			return nil, fmt.Errorf("load %s documents: %w", kind, err)
		}
		var withSets []groupWithMembers
		for i, v := range vals {
			doc, ok := v.(string)
			if !ok {
				continue
			}
			d, err := decodeDoc(&dec, kind, chunk[i], doc)
			if err != nil {
				return nil, fmt.Errorf("load: %w", err)
			}
			if withMembers {
				first := firsts[i].Val()
				if first == nil {
					first = []string{}
				}
				ms, ok, err := s.groupMembers(ctx, tenant, d, first)
				if err != nil {
					return nil, fmt.Errorf("load: %w", err)
				}
				if ok {
					withSets = append(withSets, groupWithMembers{d, ms})
				}
			} else if d.setMembers {
				d.setMembers = false
			}
			out = append(out, d)
		}
		if err := s.fillGroupDisplays(ctx, tenant, withSets); err != nil {
			return nil, fmt.Errorf("load: %w", err)
		}
	}
	return out, nil
}

// groupWithMembers is a group read and its members, without their displays yet.
type groupWithMembers struct {
	d  decodedDoc
	ms []Member
}

// fillGroupDisplays gives the members of several groups their displays in as
// few round trips as their total count needs (fillDisplays), not one per
// group, and sets each group's members attribute.
func (s *Store) fillGroupDisplays(ctx context.Context, tenant string, gs []groupWithMembers) error {
	total := 0
	for _, g := range gs {
		total += len(g.ms)
	}
	all := make([]Member, 0, total)
	for _, g := range gs {
		all = append(all, g.ms...)
	}
	if err := s.fillDisplays(ctx, tenant, all); err != nil {
		return fmt.Errorf("members of %d groups: %w", len(gs), err)
	}
	for _, g := range gs {
		ms := all[:len(g.ms):len(g.ms)]
		all = all[len(g.ms):]
		g.d.r.Attrs["members"] = memberViews(ms)
	}
	return nil
}

// readDocs reads the documents of ids (GET for one, MGET for more) and, with
// members, the first chunk of each group's members set, in one round trip.
func (s *Store) readDocs(ctx context.Context, tenant string, kind Kind, ids []string, members bool) ([]any, []*redis.StringSliceCmd, error) {
	if !members {
		if len(ids) == 1 {
			doc, err := s.rdb.Get(ctx, docKey(tenant, kind, ids[0])).Result()
			if errors.Is(err, redis.Nil) {
				return []any{nil}, nil, nil
			}
			if err != nil {
				return nil, nil, err
			}
			return []any{doc}, nil, nil
		}
		keys := make([]string, len(ids))
		for i, id := range ids {
			keys[i] = docKey(tenant, kind, id)
		}
		vals, err := s.rdb.MGet(ctx, keys...).Result()
		return vals, nil, err
	}
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = docKey(tenant, kind, id)
	}
	pipe := s.rdb.Pipeline()
	mget := pipe.MGet(ctx, keys...)
	firsts := make([]*redis.StringSliceCmd, len(ids))
	for i, id := range ids {
		firsts[i] = pipe.ZRangeArgs(ctx, memberRange(tenant, id, "-", memberReadChunk))
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, nil, err
	}
	return mget.Val(), firsts, nil
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
