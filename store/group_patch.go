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
	// ReplaceMembers makes Add the group's whole membership (RFC 7644
	// §3.5.2.3 replace on "members"; Remove must be empty): the members not
	// in Add are removed, computed from one read of the members. A
	// replacement supersedes one of the same group still running (see
	// ReplaceMembers).
	ReplaceMembers bool
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
	var (
		epoch int64
		// pre: the attributes a replacement computed before it began,
		// used by its first attempt (no second read of the group)
		pre *patchStep
	)
	if p.ReplaceMembers {
		if len(removes) > 0 {
			return 0, fmt.Errorf("a replacement of the members removes nothing by id")
		}
		if err := s.checkMembersExist(ctx, tenant, adds); err != nil {
			return 0, err
		}
		// What can fail is checked before the replacement begins (and again
		// in its first step): a replacement that fails must not supersede
		// one still running its steps. The attributes are computed, and the
		// new displayName checked for uniqueness, by beginReplace's step.
		name := ""
		if p.Attrs != nil {
			pre = &patchStep{ifVersion: ifVersion}
			if err := s.patchAttrs(ctx, tenant, groupID, p.Attrs, pre); err != nil {
				return 0, err
			}
			if pre.hasAttrs {
				name = strings.ToLower(pre.display)
			}
		}
		var err error
		if epoch, err = s.beginReplace(ctx, tenant, groupID, ifVersion, name); err != nil {
			return 0, err
		}
		defer s.endReplace(ctx, tenant, groupID, epoch)
		if adds, removes, err = s.memberDiff(ctx, tenant, groupID, adds); err != nil {
			return 0, err
		}
	} else if len(adds)+len(removes) > memberChunk {
		if err := s.checkMembersExist(ctx, tenant, adds); err != nil {
			return 0, err
		}
	}
	// Every added member was checked before this step when there are more
	// steps (or a replacement read the members): the later ones leave out a
	// member deleted since (its delete has removed it from its groups).
	check := checkAll
	if p.ReplaceMembers || len(adds)+len(removes) > memberChunk {
		check = checkGone
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
		step := patchStep{ifVersion: ifVersion}
		switch {
		case attempt == 0 && pre != nil:
			step = *pre
		case p.Attrs != nil:
			if err := s.patchAttrs(ctx, tenant, groupID, p.Attrs, &step); err != nil {
				return 0, err
			}
		}
		step.adds, step.removes, step.epoch, step.check = adds[:nAdd], removes[:nRem], epoch, check
		v, ren, sup, err := s.runPatchStep(ctx, tenant, groupID, step)
		if errors.Is(err, errAttrsChanged) && attempt < 100 {
			continue
		}
		if err != nil {
			return 0, err
		}
		ver, renamed = v, ren
		if sup {
			// A later replacement of the members began: it sets them.
			adds, removes = adds[:nAdd], removes[:nRem]
		}
		break
	}
	err := s.patchRest(ctx, tenant, groupID, adds[nAdd:], removes[nRem:], epoch, &ver)
	if err != nil && !errors.Is(err, errSuperseded) {
		return 0, err
	}
	if renamed {
		if err := s.markMembersDirty(ctx, tenant, groupID); err != nil {
			return 0, err
		}
	}
	return ver, nil
}

// patchRest applies the member changes of a patch after its first step (see
// PatchGroup), raising *ver to the group's version after them.
func (s *Store) patchRest(ctx context.Context, tenant, groupID string, adds []Member, removes []string, epoch int64, ver *int64) error {
	if len(adds) > 0 {
		v, err := s.changeMembers(ctx, tenant, groupID, "add", checkGone, epoch, 0, adds, nil, nil)
		*ver = max(*ver, v)
		if err != nil {
			return err
		}
	}
	if len(removes) > 0 {
		v, err := s.removeMembers(ctx, tenant, groupID, removes, epoch, 0)
		*ver = max(*ver, v)
		if err != nil {
			return err
		}
	}
	return nil
}

// memberDiff turns a replacement of a group's members by want into the
// members to add and the ids to remove, reading the stored members once.
func (s *Store) memberDiff(ctx context.Context, tenant, groupID string, want []Member) (adds []Member, removes []string, err error) {
	wanted := make(map[string]bool, len(want))
	for _, m := range want {
		wanted[m.ID] = true
	}
	present := make(map[string]bool, len(want))
	err = s.ForEachMemberRef(ctx, tenant, groupID, 0, func(ms []Member) error {
		for _, m := range ms {
			if wanted[m.ID] {
				present[m.ID] = true
			} else {
				removes = append(removes, m.ID)
			}
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	for _, m := range want {
		if !present[m.ID] {
			adds = append(adds, m)
		}
	}
	return adds, removes, nil
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
	// epoch: the replacement this step belongs to (0: none); check: the
	// check mode of the added members (checkAll or checkGone).
	epoch int64
	check string
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
func (s *Store) runPatchStep(ctx context.Context, tenant, groupID string, st patchStep) (ver int64, renamed, superseded bool, err error) {
	now := s.now()
	args := make([]any, 0, 12+3*len(st.adds)+len(st.removes))
	epoch := epochArg(st.epoch)
	ix := ""
	if st.hasAttrs {
		ix = st.ix
	}
	args = append(args, tenantPrefix(tenant), groupID, st.ifVersion, now.UnixMilli(), now.UnixNano(),
		ix, st.expect, st.attrs, st.display, strconv.Itoa(len(st.adds)), st.check, epoch)
	for _, m := range st.adds {
		args = append(args, m.ID, string(m.Kind), m.Display)
	}
	for _, id := range st.removes {
		args = append(args, id)
	}
	res, err := groupPatchScript.Run(ctx, s.rdb,
		[]string{docKey(tenant, KindGroup, groupID), membersKey(tenant, groupID), queueKey(tenant)}, args...).Slice()
	if err != nil {
		return 0, false, false, err
	}
	if len(res) > 0 {
		switch res[0] {
		case "unknown":
			ue := &UnknownMemberError{}
			for _, x := range res[1:] {
				id, _ := x.(string)
				ue.IDs = append(ue.IDs, id)
			}
			return 0, false, false, ue
		case "attrschanged":
			return 0, false, false, errAttrsChanged
		}
	}
	if res, err = scriptStatus(res); err != nil {
		return 0, false, false, err
	}
	v, ok := res[1].(int64)
	if !ok || len(res) != 4 {
		return 0, false, false, fmt.Errorf("unexpected script reply %v", res)
	}
	return v, res[2] == int64(1), res[3] == int64(1), nil
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
//	      11 "1": an added id that is not a user or group fails the step;
//	      "2": it is left out (checked before: deleted since),
//	      12 the replacement's epoch ("": not a replacement of the members;
//	      otherwise, when a later replacement has begun, the step changes
//	      the attributes only and replies superseded 1),
//	      13..12+3n add: triples id, kind ("" = whichever exists, a user
//	      first), display; then the ids to remove
//
// Reply: {"ok", version, renamed, superseded} | {"unknown", id...} |
// {"attrschanged"} | {"conflict", "displayName"} | {"notfound"} |
// {"precondition"}.
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
local addEnd, remEnd = 12 + 3 * tonumber(ARGV[10]), #ARGV
local superseded = 0
if ARGV[12] ~= '' and redis.call('HGET', EPOCH, gid) ~= ARGV[12] then
  superseded, addEnd, remEnd = 1, 12, 12
end
-- the member ids of this step: a step of a running replacement leaves alone
-- those another writer changed since it began; another writer notes them
local function stepIDs()
  local ids = {}
  for i = 13, addEnd, 3 do ids[#ids + 1] = ARGV[i] end
  for i = addEnd + 1, remEnd do ids[#ids + 1] = ARGV[i] end
  return ids
end
local leave, note = {}, false
if ARGV[12] == '' then
  note = replacing(gid)
elseif superseded == 0 then
  leave = touchedOf(gid, stepIDs())
end

-- the members to add exist (kind '' resolves, a user first)
local kinds, unknown, displays = memberKinds(13, addEnd, false)
local skip = {}
if unknown then
  if ARGV[11] ~= '2' then return unknown end
  for j = 2, #unknown do skip[unknown[j]] = true end
end

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
if addEnd > 12 then
  if not members then members = '=' end
  local probe = {}
  for i = 13, addEnd, 3 do probe[#probe + 1] = (kinds[i] or 'User') .. '|' .. ARGV[i] .. SEP .. gid end
  local present = redis.call('ZMSCORE', MEMBEROF, unpack(probe))
  for i = 13, addEnd, 3 do
    local j = (i - 13) / 3 + 1
    if not present[j] and not skip[ARGV[i]] and not leave[ARGV[i]] then batchAdd(b, gid, ARGV[i], kinds[i], displays[i], nowms, probe[j]) end
  end
end
batchRemoveIDs(b, gid, mk, addEnd + 1, remEnd, nowms, leave)
flushBatch(b, mk, queue)
if note then noteTouched(gid, stepIDs()) end
if b.n > 0 then changed = 1 end
if renamed == 1 then changed = 1 end

if changed == 0 then
  if members ~= before then redis.call('SET', doc, joinDoc(v, c, m, s, ix, attrs, members)) end
  return {'ok', tonumber(v), 0, superseded}
end
v = tonumber(v) + 1
redis.call('SET', doc, joinDoc(v, c, nowns, s, ix, attrs, members))
redis.call('ZADD', queue, 'LT', nowms, 'Group|' .. gid)
return {'ok', v, renamed, superseded}
`)
