package store

// PatchGroup: a group's attributes and some of its members changed in one
// atomic step (RFC 7644 §3.5.2: the operations of a PATCH apply together or
// not at all), without reading its members.

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/scim-bridge/scim-bridge/filter"
)

// GroupPatch is one PATCH of a group as the store applies it.
type GroupPatch struct {
	// Attrs, when non-nil, computes the group's new attributes (without
	// "members", which it must not set) from the current group, read without
	// its members. It may be called more than once: when another write
	// changed the group's attributes between the read and the write, the
	// patch is computed again on the new ones (members changed by others are
	// no reason). It must not keep or modify its argument.
	Attrs func(cur *Resource) (map[string]any, error)
	// Add are the members to add (a member already there stays as it is);
	// each must be a user or group of the tenant (of its Kind, when given).
	Add []Member
	// Remove are the ids of the members to remove (ids that are not members
	// are ignored); none may also be in Add.
	Remove []string
}

// PatchGroup applies p to a group and returns its new version. When p changes
// at most 64 members it is one atomic step: the new attributes (with their
// indexes; a displayName taken by another group gives *ConflictError), the
// added members (an unknown one gives *UnknownMemberError) and the removed
// ones are written together or, on any error, nothing is. Larger patches check
// every added member first, then apply the attributes with the first 64
// member changes and the rest in steps of 64 (as AddMembers).
//
// ifVersion 0 is unconditional: concurrent member changes never conflict,
// and a concurrent change of the attributes only makes p.Attrs run again.
// Otherwise the stored version must be ifVersion (ErrPrecondition). A missing
// group gives ErrNotFound. The version goes up by one (more for a patch in
// several steps) when anything changed; the group and each member whose
// membership changed are marked dirty in the same step, and every member when
// the displayName changed.
func (s *Store) PatchGroup(ctx context.Context, tenant, groupID string, p GroupPatch, ifVersion int64) (int64, error) {
	if err := checkResourceKey(tenant, KindGroup, &groupID); err != nil {
		return 0, fmt.Errorf("patch group: %w", err)
	}
	ver, err := s.patchGroup(ctx, tenant, groupID, p, ifVersion)
	if err != nil {
		return 0, fmt.Errorf("patch group %s: %w", groupID, err)
	}
	return ver, nil
}

func (s *Store) patchGroup(ctx context.Context, tenant, groupID string, p GroupPatch, ifVersion int64) (int64, error) {
	adds, unknown := distinctMembers(p.Add)
	if len(unknown) > 0 {
		return 0, &UnknownMemberError{IDs: unknown}
	}
	removes := distinctIDs(p.Remove)
	if len(adds)+len(removes) > memberChunk {
		if err := s.checkMembersExist(ctx, tenant, adds); err != nil {
			return 0, err
		}
	}
	// The first step: the attributes and up to memberChunk member changes.
	nAdd := min(len(adds), memberChunk)
	nRem := min(len(removes), memberChunk-nAdd)
	if len(removes) > memberChunk {
		// Many removals: removeMembers picks the cheaper way for all of them
		// (a look-up per id, or one read of the set), instead of a look-up
		// per id for the first few.
		nRem = 0
	}
	var (
		ver     int64
		renamed bool
	)
	for attempt := 0; ; attempt++ {
		step := patchStep{ifVersion: ifVersion, adds: adds[:nAdd], removes: removes[:nRem]}
		if p.Attrs != nil {
			if err := s.patchAttrs(ctx, tenant, groupID, p.Attrs, &step); err != nil {
				return 0, err
			}
		}
		v, ren, err := s.runPatchStep(ctx, tenant, groupID, step)
		if errors.Is(err, errAttrsChanged) && attempt < 100 {
			continue
		}
		if err != nil {
			return 0, err
		}
		ver, renamed = v, ren
		break
	}
	if rest := adds[nAdd:]; len(rest) > 0 {
		v, err := s.changeMembers(ctx, tenant, groupID, "add", true, 0, rest, nil)
		if err != nil {
			return 0, err
		}
		ver = v
	}
	if rest := removes[nRem:]; len(rest) > 0 {
		v, err := s.removeMembers(ctx, tenant, groupID, rest, 0)
		if err != nil {
			return 0, err
		}
		ver = max(ver, v)
	}
	if renamed {
		if err := s.markMembersDirty(ctx, tenant, groupID); err != nil {
			return 0, err
		}
	}
	return ver, nil
}

// errAttrsChanged: the group's attributes changed since they were read.
var errAttrsChanged = errors.New("group attributes changed meanwhile")

// patchStep is one run of groupPatchScript.
type patchStep struct {
	ifVersion int64
	// attrs: the attributes line read (expected), and the new document parts;
	// hasAttrs false leaves the attributes as they are.
	hasAttrs  bool
	expect    string
	ix, attrs string
	display   string
	adds      []Member
	removes   []string
}

// patchAttrs reads the group's document and computes its new attributes.
func (s *Store) patchAttrs(ctx context.Context, tenant, groupID string, fn func(*Resource) (map[string]any, error), step *patchStep) error {
	doc, err := s.rdb.Get(ctx, docKey(tenant, KindGroup, groupID)).Result()
	if errors.Is(err, redis.Nil) {
		return ErrNotFound
	}
	if err != nil {
		return err
	}
	d, err := decodeDoc(new(filter.JSONDecoder), KindGroup, groupID, doc)
	if err != nil {
		return err
	}
	delete(d.r.Attrs, "members") // a group of the former layout
	if step.ifVersion != 0 && d.r.Version != step.ifVersion {
		return ErrPrecondition
	}
	attrs, err := fn(d.r)
	if err != nil {
		return err
	}
	if _, ok := attrs["members"]; ok {
		return errors.New("the attributes of a group patch hold members")
	}
	enc, err := encodeDoc(&Resource{ID: groupID, Kind: KindGroup, Attrs: attrs})
	if err != nil {
		return err
	}
	ix, old := docLines(doc)
	if enc.ix == ix && enc.attrs == old {
		return nil // unchanged: the attributes stay as they are
	}
	step.hasAttrs = true
	step.expect = old
	step.ix, step.attrs, step.display = enc.ix, enc.attrs, enc.display
	return nil
}

// docLines returns the index values and attributes lines of a stored document.
func docLines(doc string) (ix, attrs string) {
	_, rest, _ := strings.Cut(doc, "\n")
	ix, rest, _ = strings.Cut(rest, "\n")
	attrs, _, _ = strings.Cut(rest, "\n")
	return ix, attrs
}

// distinctIDs returns ids without repeats, order kept.
func distinctIDs(ids []string) []string {
	seen := make(map[string]bool, len(ids))
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if id != "" && !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

// runPatchStep runs groupPatchScript; it reports whether the displayName
// changed.
func (s *Store) runPatchStep(ctx context.Context, tenant, groupID string, st patchStep) (int64, bool, error) {
	now := s.now()
	args := make([]any, 0, 12+3*len(st.adds)+len(st.removes))
	ix := ""
	if st.hasAttrs {
		ix = st.ix
	}
	args = append(args, tenantPrefix(tenant), groupID, st.ifVersion, now.UnixMilli(), now.UnixNano(),
		ix, st.expect, st.attrs, st.display, strconv.Itoa(len(st.adds)))
	for _, m := range st.adds {
		args = append(args, m.ID, string(m.Kind), m.Display)
	}
	for _, id := range st.removes {
		args = append(args, id)
	}
	res, err := groupPatchScript.Run(ctx, s.rdb,
		[]string{docKey(tenant, KindGroup, groupID), membersKey(tenant, groupID), queueKey(tenant)}, args...).Slice()
	if err != nil {
		return 0, false, err
	}
	if len(res) > 0 {
		switch res[0] {
		case "unknown":
			ue := &UnknownMemberError{}
			for _, x := range res[1:] {
				id, _ := x.(string)
				ue.IDs = append(ue.IDs, id)
			}
			return 0, false, ue
		case "attrschanged":
			return 0, false, errAttrsChanged
		}
	}
	if res, err = scriptStatus(res); err != nil {
		return 0, false, err
	}
	v, ok := res[1].(int64)
	if !ok || len(res) != 3 {
		return 0, false, fmt.Errorf("unexpected script reply %v", res)
	}
	return v, res[2] == int64(1), nil
}

// groupPatchScript changes a group's attributes (optional) and some of its
// members in one step. Every check (version, attributes unchanged since read,
// added members exist, displayName unique) comes before any write.
//
//	KEYS: 1 group doc, 2 members set, 3 queue
//	ARGV: 1 prefix, 2 group id, 3 ifVersion, 4 now (unix ms), 5 now (unix ns),
//	      6 new index values line ("" leaves the attributes as they are),
//	      7 the attributes line they were computed from, 8 new attributes JSON,
//	      9 displayName as given, 10 n = number of members to add,
//	      11..10+3n add: triples id, kind ("" = whichever exists, a user
//	      first), display; then the ids to remove
//
// Reply: {"ok", version, renamed} | {"unknown", id...} | {"attrschanged"} |
// {"conflict", "displayName"} | {"notfound"} | {"precondition"}.
var groupPatchScript = redis.NewScript(resourceLuaPrelude + `
local gid, nowms, nowns = ARGV[2], ARGV[4], ARGV[5]
local ifv = tonumber(ARGV[3])
local doc, mk, queue = KEYS[1], KEYS[2], KEYS[3]
local gd = redis.call('GET', doc)
if not gd then return {'notfound'} end
local v, c, m, s, ix, attrs, members = splitDoc(gd)
if ifv ~= 0 and tonumber(v) ~= ifv then return {'precondition'} end
local newix = ARGV[6]
if newix ~= '' and attrs ~= ARGV[7] then return {'attrschanged'} end
local addEnd = 10 + 3 * tonumber(ARGV[10])

-- the members to add exist (kind '' resolves, a user first)
local kinds, unknown, displays = memberKinds(11, addEnd, false)
if unknown then return unknown end

local changed, renamed = 0, 0
local nx, ox
if newix ~= '' and newix ~= ix then
  nx, ox = decodeList(newix), decodeList(ix)
  if nx[1] ~= '' and nx[1] ~= ox[1] then
    local o = redis.call('HGET', P .. 'idx:group:displayName', nx[1])
    if o and o ~= gid then return {'conflict', 'displayName'} end
  end
end

-- writes
if nx then
  local uidx, eidx = P .. 'idx:group:displayName', P .. 'idx:group:externalId'
  if nx[1] ~= ox[1] then
    if ox[1] ~= '' and redis.call('HGET', uidx, ox[1]) == gid then redis.call('HDEL', uidx, ox[1]) end
    if nx[1] ~= '' then redis.call('HSET', uidx, nx[1], gid) end
  end
  if nx[2] ~= ox[2] then
    if ox[2] ~= '' then redis.call('ZREM', eidx, ox[2] .. SEP .. gid) end
    if nx[2] ~= '' then redis.call('ZADD', eidx, 0, nx[2] .. SEP .. gid) end
  end
end
if newix ~= '' then
  local names = P .. 'groupnames'
  if redis.call('HGET', names, gid) ~= ARGV[9] then
    redis.call('HSET', names, gid, ARGV[9])
    renamed = 1
  end
  if newix ~= ix or ARGV[8] ~= attrs then changed = 1 end
  ix, attrs = newix, ARGV[8]
end

local before = members
members = upgradeMembers(gid, members)
local b = newBatch()
if addEnd > 10 then
  if not members then members = '=' end
  local probe = {}
  for i = 11, addEnd, 3 do probe[#probe + 1] = kinds[i] .. '|' .. ARGV[i] .. SEP .. gid end
  local present = redis.call('ZMSCORE', MEMBEROF, unpack(probe))
  for i = 11, addEnd, 3 do
    local j = (i - 11) / 3 + 1
    if not present[j] then batchAdd(b, gid, ARGV[i], kinds[i], displays[i], nowms, probe[j]) end
  end
end
for i = addEnd + 1, #ARGV do batchRemove(b, gid, mk, ARGV[i], nowms) end
flushBatch(b, mk, queue)
if b.n > 0 then changed = 1 end
if renamed == 1 then changed = 1 end

if changed == 0 then
  if members ~= before then redis.call('SET', doc, joinDoc(v, c, m, s, ix, attrs, members)) end
  return {'ok', tonumber(v), 0}
end
v = tonumber(v) + 1
redis.call('SET', doc, joinDoc(v, c, nowns, s, ix, attrs, members))
redis.call('ZADD', queue, 'LT', nowms, 'Group|' .. gid)
return {'ok', v, renamed}
`)
