package store

// Group membership as first-class data: a sorted set per group plus the reverse
// index member → groups (layout in resource_scripts.go). Every change costs
// O(members changed); reads stream the set in bounded chunks.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/scim-bridge/scim-bridge/filter"
)

// memberChunk bounds the members one write script changes, so that no script
// holds Redis for more than about half a millisecond (measured: ~9 µs per
// member on a busy 2-core machine), whatever the group's size.
const memberChunk = 64

// memberWriteChunk bounds the members one membersScript (or resolveScript)
// run handles when a request changes many: the script batches its writes into
// one command per key, so a member costs a few microseconds (up to about 10 in
// a replace on a busy 2-core machine, where runs of 200 took 2.0–3.3 ms) and
// 100 stay near 1 ms on real Redis. The embedded store pays a large fixed cost per
// run (it builds a Lua state and compiles the script each time) and serves
// one process: it takes embeddedWriteChunk per run.
const (
	memberWriteChunk   = 100
	embeddedWriteChunk = 1000
)

// writeChunk is the members per write script run on this store.
func (s *Store) writeChunk() int {
	if s.embedded != nil {
		return embeddedWriteChunk
	}
	return memberWriteChunk
}

// memberReadChunk bounds the members one read returns.
const memberReadChunk = 1000

// ErrUnknownMember: a member to add is neither a user nor a group of the tenant.
// Returned as *UnknownMemberError.
var ErrUnknownMember = errors.New("unknown member")

// UnknownMemberError names the member ids that are neither users nor groups.
type UnknownMemberError struct {
	IDs []string
}

func (e *UnknownMemberError) Error() string {
	return "unknown member(s) " + strings.Join(e.IDs, ", ")
}

// Unwrap makes errors.Is(err, ErrUnknownMember) true.
func (e *UnknownMemberError) Unwrap() error { return ErrUnknownMember }

// Member is one member of a group (RFC 7643 §4.2 "members").
type Member struct {
	ID string
	// Kind is KindUser or KindGroup. In AddMembers and ReplaceMembers an empty
	// Kind means whichever of the two exists (a user first).
	Kind Kind
	// Display is the member's "display": when read (ForEachMember, a group
	// read with its members) the member's current name, a user's displayName
	// or else userName, a group's displayName. Writes ignore a given one: a
	// membership is stored without the member's name (fillDisplays).
	Display string
}

// entry is the member's element in its group's members set.
func (m Member) entry() string { return m.ID + "\x00" + string(m.Kind) + "\x00" + m.Display }

// parseEntry is the inverse of Member.entry.
func parseEntry(e string) Member {
	id, rest, _ := strings.Cut(e, "\x00")
	kind, display, _ := strings.Cut(rest, "\x00")
	return Member{ID: id, Kind: Kind(kind), Display: display}
}

// View renders the member as an element of a group's "members": value, type
// and, when known, display.
func (m Member) View() map[string]any {
	v := map[string]any{"value": m.ID, "type": string(m.Kind)}
	if m.Display != "" {
		v["display"] = m.Display
	}
	return v
}

func membersKey(tenant, groupID string) string { return key(tenant, "members", groupID) }

// AddMembers adds members to a group (RFC 7644 §3.5.2.1 add on "members"): members
// already in the group stay as they are. Every id must be a user or group of
// the tenant (a Kind, when given, must match), otherwise *UnknownMemberError
// and nothing changes. ifVersion 0 is unconditional, else ErrPrecondition when
// the group's version differs; a missing group gives ErrNotFound. When anything
// changed the group's version goes up by one (returned) and the group plus
// each new member are marked dirty, in the same atomic step. Up to 64 members
// are one atomic step; more are added in steps of 64 (after checking them
// all), of which only the first checks ifVersion. Concurrent calls on one group
// never conflict.
func (s *Store) AddMembers(ctx context.Context, tenant, groupID string, members []Member, ifVersion int64) (int64, error) {
	if err := checkResourceKey(tenant, KindGroup, &groupID); err != nil {
		return 0, fmt.Errorf("add members: %w", err)
	}
	ms, unknown := distinctMembers(members)
	if len(unknown) > 0 {
		return 0, fmt.Errorf("add members to group %s: %w", groupID, &UnknownMemberError{IDs: unknown})
	}
	check := checkAll
	if len(ms) > memberChunk {
		if err := s.checkMembersExist(ctx, tenant, ms); err != nil {
			return 0, fmt.Errorf("add members to group %s: %w", groupID, err)
		}
		check = checkGone
	}
	ver, err := s.changeMembers(ctx, tenant, groupID, "add", check, 0, ifVersion, ms, nil, nil)
	if err != nil {
		return 0, fmt.Errorf("add members to group %s: %w", groupID, err)
	}
	return ver, nil
}

// RemoveMembers removes the members with the given ids from a group (RFC 7644
// §3.5.2.2); ids that are not members are ignored. Versions, preconditions,
// dirty marks and steps as for AddMembers; the group's version only changes
// when a member was removed.
func (s *Store) RemoveMembers(ctx context.Context, tenant, groupID string, ids []string, ifVersion int64) (int64, error) {
	if err := checkResourceKey(tenant, KindGroup, &groupID); err != nil {
		return 0, fmt.Errorf("remove members: %w", err)
	}
	ver, err := s.removeMembers(ctx, tenant, groupID, distinctIDs(ids), 0, ifVersion)
	if err != nil {
		return 0, fmt.Errorf("remove members from group %s: %w", groupID, err)
	}
	return ver, nil
}

// ReplaceMembers makes members the group's whole membership (PUT, or replace on
// "members"): the difference with the stored set is computed once, reading
// the stored set in chunks, and applied in steps of at most memberWriteChunk
// changes (embeddedWriteChunk on the embedded store), so a
// group of any size is replaced without blocking Redis. Unknown ids, versions,
// preconditions and dirty marks as for AddMembers; a member that stays keeps
// its membership, taking the given Kind (a given Display is not kept:
// displays are read with the group). A member deleted after the check is left
// out. Replacements of one group are ordered: one that begins while another
// is still running its steps supersedes it (the earlier one stops, as if it
// had finished just before the later one began), so two concurrent
// replacements never leave a mix of both.
func (s *Store) ReplaceMembers(ctx context.Context, tenant, groupID string, members []Member, ifVersion int64) (int64, error) {
	if err := checkResourceKey(tenant, KindGroup, &groupID); err != nil {
		return 0, fmt.Errorf("replace members: %w", err)
	}
	ms, unknown := distinctMembers(members)
	if len(unknown) > 0 {
		return 0, fmt.Errorf("replace members of group %s: %w", groupID, &UnknownMemberError{IDs: unknown})
	}
	if err := s.checkMembersExist(ctx, tenant, ms); err != nil {
		return 0, fmt.Errorf("replace members of group %s: %w", groupID, err)
	}
	epoch, err := s.beginReplace(ctx, tenant, groupID, ifVersion, "")
	if err != nil {
		return 0, fmt.Errorf("replace members of group %s: %w", groupID, err)
	}
	defer s.endReplace(ctx, tenant, groupID, epoch)
	// ifVersion again on the first write: a change since beginReplace is 412
	ver, err := s.replaceMembers(ctx, tenant, groupID, ms, checkGone, epoch, ifVersion, nil)
	if err != nil {
		return 0, fmt.Errorf("replace members of group %s: %w", groupID, err)
	}
	return ver, nil
}

// removeMembers removes the members with the given (distinct) ids. Finding a
// member by id is a lexicographic range read per id; when the ids are many
// and a good part of the group, the set is read once in chunks instead and
// the members' entries are dropped, so removing N members stays O(N + group)
// on both backends (the embedded store sorts a set per range read).
func (s *Store) removeMembers(ctx context.Context, tenant, groupID string, ids []string, epoch, ifVersion int64) (int64, error) {
	if len(ids) <= s.writeChunk() {
		return s.changeMembers(ctx, tenant, groupID, "remove", checkNone, epoch, ifVersion, nil, ids, nil)
	}
	n, err := s.rdb.ZCard(ctx, membersKey(tenant, groupID)).Result()
	if err != nil {
		return 0, err
	}
	if n > int64(4*len(ids)) {
		return s.changeMembers(ctx, tenant, groupID, "remove", checkNone, epoch, ifVersion, nil, ids, nil)
	}
	gone := make(map[string]struct{}, len(ids))
	for _, id := range ids {
		gone[id] = struct{}{}
	}
	var drop []string
	err = s.forEachMember(ctx, tenant, groupID, memberReadChunk, func(batch []Member) error {
		for _, m := range batch {
			if _, ok := gone[m.ID]; ok {
				drop = append(drop, m.entry())
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return s.changeMembers(ctx, tenant, groupID, "drop", checkNone, epoch, ifVersion, nil, drop, nil)
}

// replaceMembers removes the stored members not in ms, then sets ms, in
// steps of the replacement of the given epoch (see beginReplace); when a
// later replacement supersedes it, it stops and returns the group's version
// then, without error.
func (s *Store) replaceMembers(ctx context.Context, tenant, groupID string, ms []Member, check string, epoch, ifVersion int64, gone *[]string) (int64, error) {
	ver, err := s.replaceMemberSteps(ctx, tenant, groupID, ms, check, epoch, ifVersion, gone)
	if errors.Is(err, errSuperseded) {
		return ver, nil
	}
	return ver, err
}

func (s *Store) replaceMemberSteps(ctx context.Context, tenant, groupID string, ms []Member, check string, epoch, ifVersion int64, gone *[]string) (int64, error) {
	want := make(map[string]struct{}, len(ms))
	for _, m := range ms {
		want[m.ID] = struct{}{}
	}
	var drop []string
	ver := int64(0)
	err := s.forEachMember(ctx, tenant, groupID, memberReadChunk, func(batch []Member) error {
		for _, m := range batch {
			if _, ok := want[m.ID]; !ok {
				drop = append(drop, m.entry())
			}
		}
		if len(drop) >= memberReadChunk {
			v, err := s.changeMembers(ctx, tenant, groupID, "drop", checkNone, epoch, ifVersion, nil, drop, nil)
			if err != nil {
				ver = v
				return err
			}
			ver, ifVersion, drop = v, 0, drop[:0]
		}
		return nil
	})
	if err != nil {
		return ver, err
	}
	if len(drop) > 0 {
		v, err := s.changeMembers(ctx, tenant, groupID, "drop", checkNone, epoch, ifVersion, nil, drop, nil)
		if err != nil {
			return v, err
		}
		ver, ifVersion = v, 0
	}
	if len(ms) > 0 || ver == 0 {
		v, err := s.changeMembers(ctx, tenant, groupID, "set", check, epoch, ifVersion, ms, nil, gone)
		if err != nil {
			return v, err
		}
		ver = v
	}
	return ver, nil
}

// Check modes of membersScript for the ids to add or set.
const (
	checkNone = "0" // none (ids known to exist, or removals)
	checkAll  = "1" // an unknown id fails the step
	checkGone = "2" // ids checked before the request's first step: one no longer there was deleted since and is left out
)

// epochArg is a replacement's epoch as the scripts take it ("": none).
func epochArg(epoch int64) string {
	if epoch == 0 {
		return ""
	}
	return strconv.FormatInt(epoch, 10)
}

// errSuperseded: a later replacement of the group's members has begun; the
// earlier one stops (see beginReplace).
var errSuperseded = errors.New("superseded by a later replacement of the members")

// beginReplace begins a replacement of a group's members in steps and
// returns its epoch, which each step passes: a step of an earlier
// replacement finds a later epoch and stops (errSuperseded), so
// replacements of one group are ordered even when each takes many steps,
// and the later one reads the members after the earlier one's last write.
// ifVersion as for AddMembers and name, when not "", the group's new
// displayName (lower-cased) that must not be another group's: both checked in
// the same atomic step, so a replacement that fails them supersedes nothing.
func (s *Store) beginReplace(ctx context.Context, tenant, groupID string, ifVersion int64, name string) (int64, error) {
	res, err := beginReplaceScript.Run(ctx, s.rdb, []string{docKey(tenant, KindGroup, groupID)},
		tenantPrefix(tenant), groupID, ifVersion, name).Slice()
	if err != nil {
		return 0, fmt.Errorf("begin replace: %w", err)
	}
	if res, err = scriptStatus(res); err != nil {
		return 0, err
	}
	epoch, ok := res[1].(int64)
	if !ok {
		return 0, fmt.Errorf("begin replace: unexpected script reply %v", res)
	}
	return epoch, nil
}

// beginReplaceScript: KEYS 1 group doc; ARGV 1 prefix, 2 group id, 3
// ifVersion, 4 new displayName lower-cased ("": unchanged). Reply {"ok",
// epoch} | {"notfound"} | {"precondition"} | {"conflict", "displayName"}.
var beginReplaceScript = redis.NewScript(resourceLuaPrelude + `
local d = redis.call('GET', KEYS[1])
if not d then return {'notfound'} end
local ifv = tonumber(ARGV[3])
if ifv ~= 0 and tonumber(string.match(d, '^(%d+)')) ~= ifv then return {'precondition'} end
if ARGV[4] ~= '' then
  local o = redis.call('HGET', ARGV[1] .. 'idx:group:displayName', ARGV[4])
  if o and o ~= ARGV[2] then return {'conflict', 'displayName'} end
end
local epoch = redis.call('HINCRBY', EPOCH, ARGV[2], 1)
startReplace(ARGV[2], epoch, true)
return {'ok', epoch}
`)

// endReplace ends a replacement of a group's members that ran in steps: the
// writes of others are no longer noted for it (see resourceLuaPrelude). A
// later replacement has ended it already. Its failure only leaves the notes
// to expire.
func (s *Store) endReplace(ctx context.Context, tenant, groupID string, epoch int64) {
	if epoch == 0 {
		return
	}
	_ = endReplaceScript.Run(ctx, s.rdb, []string{docKey(tenant, KindGroup, groupID)},
		tenantPrefix(tenant), groupID, epoch).Err()
}

// endReplaceScript: KEYS 1 group doc (for the slot); ARGV 1 prefix, 2 group
// id, 3 epoch.
var endReplaceScript = redis.NewScript(resourceLuaPrelude + `
local gid = ARGV[2]
if redis.call('GET', runningKey(gid)) == ARGV[3] then
  redis.call('DEL', runningKey(gid), touchedKey(gid))
end
return 0
`)

// distinctMembers keeps the first member of each id; ids that cannot exist
// (empty, holding a NUL) are returned as unknown.
func distinctMembers(members []Member) (out []Member, unknown []string) {
	seen := make(map[string]bool, len(members))
	out = make([]Member, 0, len(members))
	for _, m := range members {
		if m.ID == "" || strings.ContainsRune(m.ID, 0) || (m.Kind != "" && m.Kind != KindUser && m.Kind != KindGroup) {
			unknown = append(unknown, m.ID)
			continue
		}
		if !seen[m.ID] {
			seen[m.ID] = true
			out = append(out, m)
		}
	}
	return out, unknown
}

// checkMembersExist reports *UnknownMemberError for the members that are
// neither users nor groups (of their Kind, when given): per 1,000 members one
// EXISTS of them all as users (the common case), else pipelined EXISTS per
// member, one round trip.
func (s *Store) checkMembersExist(ctx context.Context, tenant string, ms []Member) error {
	var unknown []string
	for start := 0; start < len(ms); start += loadBatch {
		chunk := ms[start:min(start+loadBatch, len(ms))]
		if s.allUsers(ctx, tenant, chunk) {
			continue
		}
		pipe := s.rdb.Pipeline()
		users := make([]*redis.IntCmd, len(chunk))
		groups := make([]*redis.IntCmd, len(chunk))
		for i, m := range chunk {
			if m.Kind != KindGroup {
				users[i] = pipe.Exists(ctx, docKey(tenant, KindUser, m.ID))
			}
			if m.Kind != KindUser {
				groups[i] = pipe.Exists(ctx, docKey(tenant, KindGroup, m.ID))
			}
		}
		if _, err := pipe.Exec(ctx); err != nil {
			return fmt.Errorf("check members: %w", err)
		}
		for i, m := range chunk {
			if (users[i] == nil || users[i].Val() == 0) && (groups[i] == nil || groups[i].Val() == 0) {
				unknown = append(unknown, m.ID)
			}
		}
	}
	if len(unknown) > 0 {
		return &UnknownMemberError{IDs: unknown}
	}
	return nil
}

// allUsers reports whether every member of ms is (said or taken to be) a
// user and exists as one: a single EXISTS. False on any error (the caller
// then checks member by member).
func (s *Store) allUsers(ctx context.Context, tenant string, ms []Member) bool {
	keys := make([]string, 0, len(ms))
	for _, m := range ms {
		if m.Kind == KindGroup {
			return false
		}
		keys = append(keys, docKey(tenant, KindUser, m.ID))
	}
	n, err := s.rdb.Exists(ctx, keys...).Result()
	return err == nil && n == int64(len(keys))
}

// changeMembers runs membersScript over ms (add, set) or ids (remove: ids,
// drop: entries) in chunks of writeChunk; only the first chunk checks
// ifVersion. It returns the group's version after the last chunk. With an
// epoch (not 0), a step that finds a later replacement begun stops:
// errSuperseded, with the group's version then. The ids check mode
// checkGone left out are appended to *gone (when gone is not nil).
func (s *Store) changeMembers(ctx context.Context, tenant, groupID, op, check string, epoch, ifVersion int64, ms []Member, ids []string, gone *[]string) (int64, error) {
	n := len(ms) + len(ids)
	var ver int64
	chunk := s.writeChunk()
	for start := 0; start == 0 || start < n; start += chunk {
		end := min(start+chunk, n)
		now := s.now()
		args := make([]any, 0, 8+3*(end-start))
		args = append(args, tenantPrefix(tenant), groupID, ifVersion, now.UnixMilli(), now.UnixNano(), op, check, epochArg(epoch))
		if op == "remove" || op == "drop" {
			for _, id := range ids[start:end] {
				args = append(args, id)
			}
		} else {
			for _, m := range ms[start:end] {
				args = append(args, m.ID, string(m.Kind), m.Display)
			}
		}
		res, err := membersScript.Run(ctx, s.rdb,
			[]string{docKey(tenant, KindGroup, groupID), membersKey(tenant, groupID), queueKey(tenant)}, args...).Slice()
		if err != nil {
			return 0, err
		}
		if len(res) > 0 && res[0] == "unknown" {
			ue := &UnknownMemberError{}
			for _, x := range res[1:] {
				id, _ := x.(string)
				ue.IDs = append(ue.IDs, id)
			}
			return 0, ue
		}
		if len(res) == 2 && res[0] == "superseded" {
			v, _ := res[1].(int64)
			return max(ver, v), errSuperseded
		}
		if res, err = scriptStatus(res); err != nil {
			return 0, err
		}
		v, ok := res[1].(int64)
		if !ok || len(res) < 3 {
			return 0, fmt.Errorf("unexpected script reply %v", res)
		}
		if gone != nil {
			for _, x := range res[3:] {
				id, _ := x.(string)
				*gone = append(*gone, id)
			}
		}
		ver, ifVersion = v, 0
	}
	return ver, nil
}

// ForEachMember calls fn with the members of a group in id order, at most batch
// (<= 0: 1,000) at a time, in bounded memory: each call reads the next chunk
// after the last id seen, so members added or removed meanwhile never make it
// skip or repeat another member. Each member has its current display
// (fillDisplays). ErrNotFound when the group does not exist. It stops at fn's
// first error, which it returns.
func (s *Store) ForEachMember(ctx context.Context, tenant, groupID string, batch int, fn func([]Member) error) error {
	return s.eachMember(ctx, tenant, groupID, batch, func(ms []Member) error {
		if err := s.fillDisplays(ctx, tenant, ms); err != nil {
			return err
		}
		return fn(ms)
	})
}

// ForEachMemberRef is ForEachMember without the displays (Display is
// empty): the ids and kinds, for a caller that only compares memberships.
func (s *Store) ForEachMemberRef(ctx context.Context, tenant, groupID string, batch int, fn func([]Member) error) error {
	return s.eachMember(ctx, tenant, groupID, batch, func(ms []Member) error {
		for i := range ms {
			ms[i].Display = ""
		}
		return fn(ms)
	})
}

func (s *Store) eachMember(ctx context.Context, tenant, groupID string, batch int, fn func([]Member) error) error {
	if err := checkResourceKey(tenant, KindGroup, &groupID); err != nil {
		return fmt.Errorf("for each member: %w", err)
	}
	if batch <= 0 {
		batch = memberReadChunk
	}
	if err := s.forEachMember(ctx, tenant, groupID, batch, fn); err != nil {
		return fmt.Errorf("members of group %s: %w", groupID, err)
	}
	return nil
}

// displayChunk bounds the members whose displays one round trip reads.
const displayChunk = 256

// displayTail is how much of the end of a user's document fillDisplays reads:
// the display line is the last, and is rarely longer.
const displayTail = 160

// fillDisplays gives each member its current display (RFC 7643 §4.2, a
// read-only, human-readable name): a user's displayName or else userName, a
// group's displayName. A membership is stored without the member's name, so
// adding members reads nothing of them but their existence, and a member's
// rename shows in every group at once; the names are read here instead,
// displayChunk members per pipelined round trip: the last displayTail bytes
// of each user's document (its display line; the whole document when that
// line is longer or missing) and an HMGET of the group names. A member
// deleted meanwhile gets no display.
func (s *Store) fillDisplays(ctx context.Context, tenant string, ms []Member) error {
	for start := 0; start < len(ms); start += displayChunk {
		chunk := ms[start:min(start+displayChunk, len(ms))]
		pipe := s.rdb.Pipeline()
		tails := make([]*redis.StringCmd, len(chunk))
		var gids []string
		for i, m := range chunk {
			if m.Kind == KindGroup {
				gids = append(gids, m.ID)
			} else {
				tails[i] = pipe.GetRange(ctx, docKey(tenant, KindUser, m.ID), -displayTail, -1)
			}
		}
		var groups *redis.SliceCmd
		if len(gids) > 0 {
			groups = pipe.HMGet(ctx, groupNamesKey(tenant), gids...)
		}
		if _, err := pipe.Exec(ctx); err != nil {
			return fmt.Errorf("member displays: %w", err)
		}
		var gv []any
		if groups != nil {
			if gv = groups.Val(); len(gv) != len(gids) {
				return fmt.Errorf("member displays: %d group names read, want %d", len(gv), len(gids))
			}
		}
		var whole []int // users whose display line is not all in the tail
		for i := range chunk {
			if tails[i] == nil {
				chunk[i].Display, _ = gv[0].(string)
				gv = gv[1:]
				continue
			}
			d, ok := tailDisplay(tails[i].Val())
			if !ok {
				whole = append(whole, i)
			}
			chunk[i].Display = d
		}
		if len(whole) == 0 {
			continue
		}
		keys := make([]string, len(whole))
		for j, i := range whole {
			keys[j] = docKey(tenant, KindUser, chunk[i].ID)
		}
		docs, err := s.rdb.MGet(ctx, keys...).Result()
		if err != nil {
			return fmt.Errorf("member displays: read %d users: %w", len(keys), err)
		}
		if len(docs) != len(keys) {
			return fmt.Errorf("member displays: %d users read, want %d", len(docs), len(keys))
		}
		for j, i := range whole {
			doc, _ := docs[j].(string)
			chunk[i].Display = docDisplay(doc)
		}
	}
	return nil
}

// tailDisplay is the display in the end of a user's document (see docDisplay):
// ok is false when the end does not hold the whole display line. An empty
// tail (no such user) is no display.
func tailDisplay(tail string) (string, bool) {
	if tail == "" {
		return "", true
	}
	i := strings.LastIndexByte(tail, '\n')
	if i < 0 {
		return "", false
	}
	return lineDisplay(tail[i+1:])
}

// lineDisplay decodes a document's display line, a JSON string; ok is false
// when the line is not one.
func lineDisplay(line string) (string, bool) {
	if len(line) < 2 || line[0] != '"' || line[len(line)-1] != '"' {
		return "", false
	}
	if !strings.ContainsRune(line, '\\') {
		return line[1 : len(line)-1], true
	}
	var d string
	if json.Unmarshal([]byte(line), &d) != nil {
		return "", false
	}
	return d, true
}

// docDisplay is the display of a user from its stored document: the fourth
// line (a JSON string, see encodeDoc), or for a document written before that
// line existed, its displayName or else userName. "" for no document.
func docDisplay(doc string) string {
	if doc == "" {
		return ""
	}
	_, rest, _ := strings.Cut(doc, "\n") // header
	_, rest, _ = strings.Cut(rest, "\n") // index values
	attrs, line, ok := strings.Cut(rest, "\n")
	if ok {
		if d, ok := lineDisplay(line); ok {
			return d
		}
	}
	a, err := filter.DecodeJSONObject(attrs)
	if err != nil {
		return ""
	}
	return userDisplay(a)
}

func (s *Store) forEachMember(ctx context.Context, tenant, groupID string, batch int, fn func([]Member) error) error {
	pipe := s.rdb.Pipeline()
	docCmd := pipe.Get(ctx, docKey(tenant, KindGroup, groupID))
	first := pipe.ZRangeArgs(ctx, memberRange(tenant, groupID, "-", batch))
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return err
	}
	doc, err := docCmd.Result()
	if errors.Is(err, redis.Nil) {
		return ErrNotFound
	}
	if err != nil {
		return err
	}
	if legacy, ok := legacyMembers(doc); ok {
		ms, err := legacyMemberList(legacy)
		if err != nil {
			return err
		}
		for start := 0; start < len(ms); start += batch {
			if err := fn(ms[start:min(start+batch, len(ms))]); err != nil {
				return err
			}
		}
		return nil
	}
	entries := first.Val()
	for len(entries) > 0 {
		ms := make([]Member, len(entries))
		for i, e := range entries {
			ms[i] = parseEntry(e)
		}
		if err := fn(ms); err != nil {
			return err
		}
		if len(entries) < batch {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		entries, err = s.rdb.ZRangeArgs(ctx, memberRange(tenant, groupID, "("+entries[len(entries)-1], batch)).Result()
		if err != nil {
			return err
		}
	}
	return nil
}

// memberRange reads up to count entries of a members set after from ("-" or
// "(<entry>").
func memberRange(tenant, groupID, from string, count int) redis.ZRangeArgs {
	return redis.ZRangeArgs{Key: membersKey(tenant, groupID), Start: from, Stop: "+", ByLex: true, Count: int64(count)}
}

// legacyMembers returns the members JSON of a document of the former layout.
func legacyMembers(doc string) (string, bool) {
	i := strings.IndexByte(doc, '\n')
	if i < 0 {
		return "", false
	}
	j := strings.IndexByte(doc[i+1:], '\n')
	if j < 0 {
		return "", false
	}
	rest := doc[i+1+j+1:]
	k := strings.IndexByte(rest, '\n')
	if k < 0 || !strings.HasPrefix(rest[k+1:], "[") {
		return "", false
	}
	return rest[k+1:], true
}

// legacyMemberList decodes a former-layout members JSON into members.
func legacyMemberList(js string) ([]Member, error) {
	arr, err := filter.DecodeJSONArray(js)
	if err != nil {
		return nil, fmt.Errorf("decode members: %w", err)
	}
	return membersOf(arr)
}

// MemberCount returns the number of members of a group: O(1). ErrNotFound when
// the group does not exist.
func (s *Store) MemberCount(ctx context.Context, tenant, groupID string) (int, error) {
	_, n, err := s.GetGroup(ctx, tenant, groupID)
	return n, err
}

// GetGroup returns a group without its members (no "members" in Attrs) and
// the number of its members, in one round trip whatever the group's size
// (RFC 7644 §3.9 excludedAttributes=members). ErrNotFound when absent.
func (s *Store) GetGroup(ctx context.Context, tenant, id string) (*Resource, int, error) {
	if err := checkResourceKey(tenant, KindGroup, &id); err != nil {
		return nil, 0, fmt.Errorf("get group: %w", err)
	}
	pipe := s.rdb.Pipeline()
	docCmd := pipe.Get(ctx, docKey(tenant, KindGroup, id))
	card := pipe.ZCard(ctx, membersKey(tenant, id))
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, 0, fmt.Errorf("get group %s: %w", id, err)
	}
	doc, err := docCmd.Result()
	if errors.Is(err, redis.Nil) {
		return nil, 0, fmt.Errorf("get group %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("get group %s: %w", id, err)
	}
	d, err := decodeDoc(new(filter.JSONDecoder), KindGroup, id, doc)
	if err != nil {
		return nil, 0, fmt.Errorf("get group: %w", err)
	}
	n := int(card.Val())
	if legacy, ok := d.r.Attrs["members"]; ok {
		ms, err := membersOf(legacy)
		if err != nil {
			return nil, 0, fmt.Errorf("get group %s: %w", id, err)
		}
		n = len(ms)
		delete(d.r.Attrs, "members")
	}
	return d.r, n, nil
}

// memberViews renders members as a group's "members" value.
func memberViews(ms []Member) []any {
	out := make([]any, len(ms))
	for i, m := range ms {
		out[i] = m.View()
	}
	return out
}

// fillMembers completes a group with its members (groupMembers), each with
// its current display.
func (s *Store) fillMembers(ctx context.Context, tenant string, d decodedDoc, first []string) error {
	ms, ok, err := s.groupMembers(ctx, tenant, d, first)
	if err != nil || !ok {
		return err
	}
	return s.fillGroupDisplays(ctx, tenant, []groupWithMembers{{d, ms}})
}

// groupMembers returns the members of group d without their displays, and
// false when it has no members attribute. A group of the current layout reads
// its set: first is the set's first chunk, read with the document (nil: not
// read yet), and a full chunk continues with the next ones. A group of the
// former layout (its members still in its document, each with the display
// stored then, until its first write or Recover converts it) takes them from
// its document.
func (s *Store) groupMembers(ctx context.Context, tenant string, d decodedDoc, first []string) ([]Member, bool, error) {
	if !d.setMembers {
		raw, ok := d.r.Attrs["members"]
		if !ok || d.r.Kind != KindGroup {
			return nil, false, nil
		}
		ms, err := membersOf(raw)
		if err != nil {
			return nil, false, fmt.Errorf("members of group %s: %w", d.r.ID, err)
		}
		return ms, true, nil
	}
	if first == nil {
		var err error
		if first, err = s.rdb.ZRangeArgs(ctx, memberRange(tenant, d.r.ID, "-", memberReadChunk)).Result(); err != nil {
			return nil, false, fmt.Errorf("members of group %s: %w", d.r.ID, err)
		}
	}
	ms := make([]Member, 0, len(first))
	for _, e := range first {
		ms = append(ms, parseEntry(e))
	}
	for last := first; len(last) == memberReadChunk; {
		var err error
		last, err = s.rdb.ZRangeArgs(ctx, memberRange(tenant, d.r.ID, "("+last[len(last)-1], memberReadChunk)).Result()
		if err != nil {
			return nil, false, fmt.Errorf("members of group %s: %w", d.r.ID, err)
		}
		for _, e := range last {
			ms = append(ms, parseEntry(e))
		}
	}
	return ms, true, nil
}

// ResolveMembers finds each member among the tenant's users and groups (a
// user first when its Kind is empty) and gives it its Kind and Display: the
// user's displayName or else userName, the group's displayName (RFC 7643
// §4.2). It reads them inside Redis (resolveScript, writeChunk members
// per run): only kinds and displays travel, never the documents. Members that
// are neither give *UnknownMemberError naming them all.
func (s *Store) ResolveMembers(ctx context.Context, tenant string, ms []Member) ([]Member, error) {
	if err := checkResourceKey(tenant, KindUser, nil); err != nil {
		return nil, fmt.Errorf("resolve members: %w", err)
	}
	out := make([]Member, len(ms))
	copy(out, ms)
	var unknown []string
	for start := 0; start < len(out); start += s.writeChunk() {
		chunk := out[start:min(start+s.writeChunk(), len(out))]
		args := make([]any, 0, 1+3*len(chunk))
		args = append(args, tenantPrefix(tenant))
		for _, m := range chunk {
			args = append(args, m.ID, string(m.Kind), "")
		}
		res, err := resolveScript.Run(ctx, s.rdb, []string{docKey(tenant, KindUser, chunk[0].ID)}, args...).StringSlice()
		if err != nil {
			return nil, fmt.Errorf("resolve members: %w", err)
		}
		if len(res) > 0 && res[0] == "unknown" {
			unknown = append(unknown, res[1:]...)
			continue
		}
		if len(res) != 1+2*len(chunk) {
			return nil, fmt.Errorf("resolve members: unexpected reply of %d items", len(res))
		}
		for i := range chunk {
			chunk[i].Kind, chunk[i].Display = Kind(res[1+2*i]), res[2+2*i]
		}
	}
	if len(unknown) > 0 {
		return nil, &UnknownMemberError{IDs: unknown}
	}
	return out, nil
}

// resolveScript returns the kind and display of members given as triples id,
// kind ("" = whichever exists, a user first), "" (see memberKinds).
//
//	KEYS: 1 any key of the tenant (its slot)
//	ARGV: 1 prefix, 2.. triples
//
// Reply: {"ok", kind, display, ...} | {"unknown", id...}.
var resolveScript = redis.NewScript(resourceLuaPrelude + `
local kinds, unknown, displays = memberKinds(2, #ARGV, true)
if unknown then return unknown end
local out = {'ok'}
for i = 2, #ARGV, 3 do
  out[#out + 1] = kinds[i]
  out[#out + 1] = displays[i]
end
return out
`)
