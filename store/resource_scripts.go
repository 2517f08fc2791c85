package store

import "github.com/redis/go-redis/v9"

// Lua scripts of the resource writes. Each write (document, every index change,
// the dirty marks in the tenant queue) is one script execution, so it is atomic on
// Redis and on the embedded store alike. The layout is described at the top of
// resource.go.
//
// A document is three or four lines (JSON never holds a raw newline):
//
//	<version> <created ns> <lastModified ns> <seq>
//	<index values: JSON array; user: [lower userName, externalId, lower emails...];
//	 group: [lower displayName, externalId]>
//	<attributes JSON; a group's without members>
//	"="          (a group whose members attribute is present: they live in the
//	              group's members set, see below)
//	<members JSON> (the former layout, converted on first write or by Recover)
//	<display>    (a user: its displayName, else userName, as a JSON string; what
//	              a group shows as its "display", read from the end of the
//	              document (Store.fillDisplays) and by the group PUT's member
//	              resolution. A user written before this line existed has three
//	              lines: the display then comes from its attributes)
//
// A group's members are the sorted set sb:{t}:members:<gid>, every score 0,
// members "<id>\0<Kind>\0<display>" (display is what a group PUT resolved, ""
// from a PATCH: reads never show it, they take each member's current name, see
// Store.fillDisplays): lexicographic by id, so one member is found
// with ZRANGEBYLEX "[<id>\0" "(<id>\1" and the set is read in id order in
// bounded chunks. Every membership is also in the reverse index
// sb:{t}:idx:memberof ("<Kind>|<id>\0<gid>"). A membership change costs
// O(log n) per member changed, never O(group size).
//
// Go computes the new index values; the script reads the old ones from the
// stored document and, when the line changed, diffs. Multi-valued lookup indexes
// are lexicographic sorted sets of "<value>\0<id>". Every key is built from the
// tenant prefix and carries the tenant's hash tag, so it lives in the slot of the
// declared KEYS. Scripts that could touch an unbounded number of members do a
// bounded part and report what is left; Go runs the rest in chunks.

// resourceLuaPrelude holds helpers shared by the write scripts. ARGV[1] is always
// the tenant prefix "sb:{t}:".
const resourceLuaPrelude = `
local P = ARGV[1]
local SEP, SEPEND = string.char(0), string.char(1)
local MEMBEROF = P .. 'idx:memberof'
-- EPOCH holds per group the number of member replacements begun (see
-- Store.beginReplace): a replacement in several steps stops when a later one
-- has begun.
local EPOCH = P .. 'replace-epoch'

-- A replacement of a group's members that runs in steps is linearised at its
-- beginning: a member change by any other writer that lands while it runs
-- (a PATCH, an add or remove of members) counts as after it. Such a writer
-- notes the ids it touched in TOUCHED(gid) while RUNNING(gid) (the running
-- replacement's epoch) exists; the replacement's later steps leave those ids
-- as the writer left them. Both keys expire when a replacement stops
-- stepping without ending (a crash); every step renews them.
local REPLACE_TTL = 60000 -- ms; each step renews it, and steps follow each other within milliseconds
local function runningKey(gid) return P .. 'replace-running:' .. gid end
local function touchedKey(gid) return P .. 'replace-touched:' .. gid end

-- noteTouched records ids (a list) as changed by a writer outside the
-- running replacement of gid (replacing(gid) is true).
local function replacing(gid) return redis.call('EXISTS', runningKey(gid)) == 1 end

local function noteTouched(gid, ids)
  if #ids == 0 then return end
  local tk = touchedKey(gid)
  for i = 1, #ids, 4000 do
    redis.call('SADD', tk, unpack(ids, i, math.min(i + 3999, #ids)))
  end
  redis.call('PEXPIRE', tk, REPLACE_TTL)
end

-- touchedOf returns, as a set, those of ids (a list) that another writer
-- changed since the running replacement of gid began (a step of that
-- replacement leaves them alone), and renews the replacement's keys.
local function touchedOf(gid, ids)
  local tk, out = touchedKey(gid), {}
  redis.call('PEXPIRE', runningKey(gid), REPLACE_TTL)
  if redis.call('EXISTS', tk) == 0 then return out end
  redis.call('PEXPIRE', tk, REPLACE_TTL)
  for _, id in ipairs(ids) do
    if redis.call('SISMEMBER', tk, id) == 1 then out[id] = true end
  end
  return out
end

-- startReplace begins replacement epoch of gid's members: stepped (Go
-- continues it) notes the writes of others from now on; otherwise (done in
-- this script) nothing runs any more.
local function startReplace(gid, epoch, stepped)
  redis.call('DEL', touchedKey(gid))
  if stepped then
    redis.call('SET', runningKey(gid), epoch, 'PX', REPLACE_TTL)
  else
    redis.call('DEL', runningKey(gid))
  end
end

local function decodeList(s)
  if not s or s == '' or s == '[]' then return {} end
  local ok, t = pcall(cjson.decode, s)
  if not ok or type(t) ~= 'table' then return {} end
  return t
end

-- splitDoc returns version, created, lastModified, seq, index line, attrs and
-- the members line (nil when absent).
local function splitDoc(d)
  local n1 = string.find(d, '\n', 1, true)
  local n2 = string.find(d, '\n', n1 + 1, true)
  local n3 = string.find(d, '\n', n2 + 1, true)
  local v, c, m, s = string.match(string.sub(d, 1, n1 - 1), '^(%S+) (%S+) (%S+) (%S+)$')
  local ix = string.sub(d, n1 + 1, n2 - 1)
  if n3 then
    return v, c, m, s, ix, string.sub(d, n2 + 1, n3 - 1), string.sub(d, n3 + 1)
  end
  return v, c, m, s, ix, string.sub(d, n2 + 1), nil
end

local function joinDoc(v, c, m, s, ix, attrs, members)
  local d = v .. ' ' .. c .. ' ' .. m .. ' ' .. s .. '\n' .. ix .. '\n' .. attrs
  if members then d = d .. '\n' .. members end
  return d
end

local function membersKey(gid) return P .. 'members:' .. gid end

-- callChunked runs command cmd on key with the arguments args, a few thousand
-- per call (unpack has a limit), in groups of step (2 for score, member).
local function callChunked(cmd, key, args, step)
  local per = 4000 - 4000 % step
  for i = 1, #args, per do
    redis.call(cmd, key, unpack(args, i, math.min(i + per - 1, #args)))
  end
end

-- memberKind: type "Group" (any case) or else User (RFC 7643 §4.2).
local function memberKind(m)
  local ty = m['type']
  if type(ty) == 'string' and string.lower(ty) == 'group' then return 'Group' end
  return 'User'
end

-- parseEntry splits a members-set entry into id, kind, display.
local function parseEntry(e)
  local a = string.find(e, SEP, 1, true)
  local b = string.find(e, SEP, a + 1, true)
  return string.sub(e, 1, a - 1), string.sub(e, a + 1, b - 1), string.sub(e, b + 1)
end

-- findEntry returns the entry of member id in members set mk, or nil; with
-- kind, only an entry of that kind (a user and a group may share an id).
local function findEntry(mk, id, kind)
  if kind then
    return redis.call('ZRANGEBYLEX', mk, '[' .. id .. SEP .. kind .. SEP, '(' .. id .. SEP .. kind .. SEPEND, 'LIMIT', 0, 1)[1]
  end
  return redis.call('ZRANGEBYLEX', mk, '[' .. id .. SEP, '(' .. id .. SEPEND, 'LIMIT', 0, 1)[1]
end

-- addEntry makes (id, kind, display) a member of group gid. In mode 'add' an
-- existing member is kept as it is; in mode 'set' the member ends with one
-- entry, of the given kind: an entry of another kind (a group sharing a
-- user's id, or the member's former kind) is removed, as is a second entry of
-- the same kind. A stored display is not compared: a group's reader takes its
-- members' current displays (Store.fillDisplays), so an entry that differs
-- only in its display is the same membership. Returns 1 when the membership
-- is new, 2 when an entry of another kind went, else 0. A new member and a
-- removed one are indexed and marked dirty.
local function addEntry(gid, mk, id, kind, display, mode, nowms, queue)
  local found = redis.call('ZRANGEBYLEX', mk, '[' .. id .. SEP, '(' .. id .. SEPEND)
  if #found > 0 and mode == 'add' then return 0 end
  local kept, changed = false, 0
  for _, old in ipairs(found) do
    local _, okind = parseEntry(old)
    if okind == kind and not kept then
      kept = true
    elseif okind == kind then
      redis.call('ZREM', mk, old) -- a second entry of the member: same index entry
    else
      redis.call('ZREM', mk, old)
      redis.call('ZREM', MEMBEROF, okind .. '|' .. id .. SEP .. gid)
      redis.call('ZADD', queue, 'LT', nowms, okind .. '|' .. id)
      changed = 2
    end
  end
  if kept then return changed end
  redis.call('ZADD', mk, 0, id .. SEP .. kind .. SEP .. display)
  redis.call('ZADD', MEMBEROF, 0, kind .. '|' .. id .. SEP .. gid)
  redis.call('ZADD', queue, 'LT', nowms, kind .. '|' .. id)
  if #found > 0 then return 2 end
  return 1
end

-- dropEntry removes entry e from group gid's set mk, its reverse index entry,
-- and marks the former member dirty.
local function dropEntry(gid, mk, e, nowms, queue)
  local id, kind = parseEntry(e)
  redis.call('ZREM', mk, e)
  redis.call('ZREM', MEMBEROF, kind .. '|' .. id .. SEP .. gid)
  redis.call('ZADD', queue, 'LT', nowms, kind .. '|' .. id)
end

-- upgradeMembers converts a members line of the former layout (a JSON array)
-- into group gid's members set and returns the new members line "=". Any
-- other line is returned unchanged.
local function upgradeMembers(gid, members)
  if not members or string.sub(members, 1, 1) ~= '[' then return members end
  local mk = membersKey(gid)
  local seen = {}
  for _, m in ipairs(decodeList(members)) do
    if type(m) == 'table' and type(m['value']) == 'string' and m['value'] ~= '' and not seen[m['value']] then
      seen[m['value']] = true
      local d = m['display']
      if type(d) ~= 'string' then d = '' end
      local kind = memberKind(m)
      redis.call('ZADD', mk, 0, m['value'] .. SEP .. kind .. SEP .. d)
      redis.call('ZADD', MEMBEROF, 0, kind .. '|' .. m['value'] .. SEP .. gid)
    end
  end
  return '='
end

-- A batch of membership changes of group gid, written with one command per
-- key by flushBatch: newBatch(), then batchAdd / batchRemove per member.
local function newBatch() return {setAdds = {}, setRems = {}, idxAdds = {}, idxRems = {}, marks = {}, n = 0} end

-- idx, when given, is the member's reverse index entry k|id\0gid.
local function batchAdd(b, gid, id, k, display, nowms, idx)
  b.setAdds[#b.setAdds + 1] = '0' -- a string: Redis would format a number with sprintf
  b.setAdds[#b.setAdds + 1] = id .. SEP .. k .. SEP .. display
  b.idxAdds[#b.idxAdds + 1] = '0'
  b.idxAdds[#b.idxAdds + 1] = idx or k .. '|' .. id .. SEP .. gid
  b.marks[#b.marks + 1] = nowms
  b.marks[#b.marks + 1] = k .. '|' .. id
  b.n = b.n + 1
end

-- batchDrop removes the member of entry e, which is in the set.
local function batchDrop(b, gid, e, nowms)
  local id, kind = parseEntry(e)
  b.setRems[#b.setRems + 1] = e
  b.idxRems[#b.idxRems + 1] = kind .. '|' .. id .. SEP .. gid
  b.marks[#b.marks + 1] = nowms
  b.marks[#b.marks + 1] = kind .. '|' .. id
  b.n = b.n + 1
end

-- batchRemove removes member id (a user and a group sharing the id alike).
local function batchRemove(b, gid, mk, id, nowms)
  for _, e in ipairs(redis.call('ZRANGEBYLEX', mk, '[' .. id .. SEP, '(' .. id .. SEPEND, 'LIMIT', 0, 2)) do
    batchDrop(b, gid, e, nowms)
  end
end

-- batchRemoveIDs removes the members ARGV[from..to] (ids; a user and a group
-- sharing an id alike) in a few commands: the reverse index tells which kinds
-- each id is a member as, a probe of the exact entries finds those written
-- without a display (by a PATCH), and only an entry that carries one (written
-- by a PUT or the former layout) is looked up by id.
local function batchRemoveIDs(b, gid, mk, from, to, nowms, skip)
  if to < from then return end
  local idx, exact = {}, {}
  for i = from, to do
    local id = ARGV[i]
    if not (skip and skip[id]) then
      idx[#idx + 1] = 'User|' .. id .. SEP .. gid
      idx[#idx + 1] = 'Group|' .. id .. SEP .. gid
      exact[#exact + 1] = id .. SEP .. 'User' .. SEP
      exact[#exact + 1] = id .. SEP .. 'Group' .. SEP
    end
  end
  if #idx == 0 then return end
  local held = redis.call('ZMSCORE', MEMBEROF, unpack(idx))
  local probe, at = {}, {}
  for j = 1, #idx do
    if held[j] then
      probe[#probe + 1] = exact[j]
      at[#at + 1] = j
    end
  end
  if #probe == 0 then return end
  local found = redis.call('ZMSCORE', mk, unpack(probe))
  for n, j in ipairs(at) do
    if found[n] then
      batchDrop(b, gid, exact[j], nowms)
    else
      local pre = exact[j]
      for _, e in ipairs(redis.call('ZRANGEBYLEX', mk, '[' .. pre, '(' .. string.sub(pre, 1, -2) .. SEPEND, 'LIMIT', 0, 2)) do
        batchDrop(b, gid, e, nowms)
      end
    end
  end
end

local function flushBatch(b, mk, queue)
  if #b.setRems > 0 then
    redis.call('ZREM', mk, unpack(b.setRems))
    redis.call('ZREM', MEMBEROF, unpack(b.idxRems))
  end
  if #b.setAdds > 0 then
    redis.call('ZADD', mk, unpack(b.setAdds))
    redis.call('ZADD', MEMBEROF, unpack(b.idxAdds))
  end
  if #b.marks > 0 then redis.call('ZADD', queue, 'LT', unpack(b.marks)) end
end

-- userDisplay returns the display of a user member from the user's stored
-- document: its fourth line (a JSON string), or, for a document written
-- before that line existed, its displayName or else userName.
local function userDisplay(d)
  local n1 = string.find(d, '\n', 1, true)
  local n2 = n1 and string.find(d, '\n', n1 + 1, true)
  local n3 = n2 and string.find(d, '\n', n2 + 1, true)
  if n3 and string.byte(d, n3 + 1) == 34 then -- a quote
    if not string.find(d, '\\', n3 + 2, true) then return string.sub(d, n3 + 2, -2) end
    local ok, x = pcall(cjson.decode, string.sub(d, n3 + 1))
    if ok and type(x) == 'string' then return x end
  end
  if not n2 then return '' end
  local ok, a = pcall(cjson.decode, string.sub(d, n2 + 1, (n3 or 0) - 1))
  if not ok or type(a) ~= 'table' then return '' end
  if type(a['displayName']) == 'string' and a['displayName'] ~= '' then return a['displayName'] end
  if type(a['userName']) == 'string' then return a['userName'] end
  return ''
end

-- memberKinds resolves the members to add, given as triples id, kind,
-- display in ARGV[from..to]: kind '' is whichever exists, a user first. It
-- returns the kinds by ARGV index and, when some id is neither a user nor a
-- group (of its kind, when given), {"unknown", id...} (the kinds of the
-- others still given). With withDisplay it
-- also returns the displays (a user's displayName or userName, read with one
-- MGET; a group's displayName); without, the displays are all '' (a group
-- reads its members' displays when it is read, see Store.fillDisplays) and
-- the common case, every member an existing user, is one EXISTS of them all.
local function memberKinds(from, to, withDisplay)
  local kinds, displays, ukeys, at, n = {}, {}, {}, {}, 0
  for i = from, to, 3 do
    displays[i] = ''
    n = n + 1
    if ARGV[i + 1] ~= 'Group' then
      ukeys[#ukeys + 1] = P .. 'user:' .. ARGV[i]
      at[#at + 1] = i
    end
  end
  if not withDisplay and n > 0 and #ukeys == n and redis.call('EXISTS', unpack(ukeys)) == n then
    for i = from, to, 3 do kinds[i] = 'User' end
    return kinds, nil, displays
  end
  local docs = {}
  if #ukeys > 0 then
    if withDisplay then
      local got = redis.call('MGET', unpack(ukeys))
      for j, i in ipairs(at) do docs[i] = got[j] end
    else
      for j, i in ipairs(at) do
        if redis.call('EXISTS', ukeys[j]) == 1 then docs[i] = '' end
      end
    end
  end
  local unknown = {'unknown'}
  for i = from, to, 3 do
    local id, k, d = ARGV[i], ARGV[i + 1], docs[i]
    if d then
      kinds[i] = 'User'
      if withDisplay then displays[i] = userDisplay(d) end
    elseif k ~= 'User' and redis.call('EXISTS', P .. 'group:' .. id) == 1 then
      kinds[i] = 'Group'
      if withDisplay then displays[i] = redis.call('HGET', P .. 'groupnames', id) or '' end
    else
      unknown[#unknown + 1] = id
    end
  end
  if #unknown > 1 then return kinds, unknown, displays end
  return kinds, nil, displays
end

-- goneEntries returns, as a set of ids, the members among the entries
-- ARGV[from..to] ("<id>\0<kind>\0<display>", resolved before the write) that
-- are no longer a user or group of their kind: deleted meanwhile, so left out
-- (their delete has removed them from their groups; adding them now would
-- leave a member that does not exist). The group self, being written, counts
-- as existing. One EXISTS when all exist.
local function goneEntries(from, to, self)
  local keys = {}
  for i = from, to do
    local mid, mkind = parseEntry(ARGV[i])
    if not (mkind == 'Group' and mid == self) then keys[#keys + 1] = P .. string.lower(mkind) .. ':' .. mid end
  end
  local gone = {}
  if #keys == 0 or redis.call('EXISTS', unpack(keys)) == #keys then return gone end
  for i = from, to do
    local mid, mkind = parseEntry(ARGV[i])
    if not (mkind == 'Group' and mid == self) and redis.call('EXISTS', P .. string.lower(mkind) .. ':' .. mid) == 0 then
      gone[mid] = true
    end
  end
  return gone
end

-- lexIDs returns the ids stored under value in a lexicographic index, and the
-- index members themselves.
local function lexIDs(key, value)
  local prefix = value .. SEP
  local ids, members = {}, {}
  for _, m in ipairs(redis.call('ZRANGEBYLEX', key, '[' .. prefix, '(' .. value .. SEPEND)) do
    local id = string.sub(m, #prefix + 1)
    if not string.find(id, SEP, 1, true) then
      ids[#ids + 1] = id
      members[#members + 1] = m
    end
  end
  return ids, members
end

-- dropMember removes member (mkind, mid) from group gid: version +1,
-- lastModified = nowns; the group is marked dirty. The caller removes the
-- membership from the memberof index.
local function dropMember(gid, mkind, mid, nowms, nowns, queue)
  local gk = P .. 'group:' .. gid
  local gd = redis.call('GET', gk)
  if not gd then return end
  local v, c, _, s, ix, attrs, members = splitDoc(gd)
  members = upgradeMembers(gid, members)
  local mk = membersKey(gid)
  local e = findEntry(mk, mid, mkind)
  if e then redis.call('ZREM', mk, e) end
  redis.call('SET', gk, joinDoc(tonumber(v) + 1, c, nowns, s, ix, attrs, members))
  redis.call('ZADD', queue, 'LT', nowms, 'Group|' .. gid)
end
`

// putScript creates (mode "c") or replaces (mode "r") one resource; mode "R"
// replaces and also returns the groups the resource is a member of.
//
//	KEYS: 1 doc, 2 queue, 3 order, 4 seq counter
//	ARGV: 1 prefix, 2 kind, 3 id, 4 mode, 5 ifVersion (or "<version>:<lastModified ns>"), 6 now (unix ms, queue score),
//	      7 created (unix ns, create only), 8 lastModified (unix ns),
//	      9 index values line, 10 attrs JSON, 11 "=" when a group's members
//	      attribute is present, else "", 12 a group's displayName as given,
//	      13 inline limit: when > 0, ARGV[14..] are all the desired member
//	      entries and the membership is replaced here if the stored set holds
//	      at most that many; 0: Go replaces the membership in chunks afterwards
//
// Reply: {"ok", version, created, done, renamed, epoch, lastModified, [gid, displayName]... | [id]...} |
// {"conflict", attr} | {"notfound"} | {"precondition"}. done is 1 when the
// membership is final (always for users), renamed 1 when a group's
// displayName changed; epoch is the group's replacement epoch a replacement
// (mode "r") began, for the steps Go continues it with (0 otherwise);
// lastModified (unix ns) is the stored one: the given one, or the former one
// when a user was replaced by what it was (not written); the pairs (mode
// "R") are the groups it is in. Inline member entries that no
// longer exist (deleted since they were resolved) are left out: their ids
// end a group's reply.
var putScript = redis.NewScript(resourceLuaPrelude + `
local kind, id, mode = ARGV[2], ARGV[3], ARGV[4]
local withGroups = mode == 'R'
if withGroups then mode = 'r' end
-- ARGV[5]: the version the stored resource must have (0: any), or
-- "<version>:<lastModified ns>" (both must match)
local ifv, iflm = string.match(ARGV[5], '^(%d+):(%d+)$')
if ifv then ifv = tonumber(ifv) else ifv = tonumber(ARGV[5]) end
local nowms = ARGV[6]
local doc, queue, order = KEYS[1], KEYS[2], KEYS[3]
local isUser = kind == 'User'
local newix = ARGV[9]
local newmembers = ARGV[11]
if newmembers == '' then newmembers = nil end

local olddoc = redis.call('GET', doc)
local oldv, oldc, oldm, olds, oldix, oldattrs, oldmembers
if mode == 'c' then
  if olddoc then return {'conflict', 'id'} end
  oldix = '["",""]'
else
  if not olddoc then return {'notfound'} end
  oldv, oldc, oldm, olds, oldix, oldattrs, oldmembers = splitDoc(olddoc)
  if ifv ~= 0 and tonumber(oldv) ~= ifv then return {'precondition'} end
  if iflm and oldm ~= iflm then return {'precondition'} end
end

-- withGroupsOf appends to reply the groups the resource is in (mode "R").
local function withGroupsOf(reply)
  if not withGroups then return reply end
  local gids = lexIDs(MEMBEROF, kind .. '|' .. id)
  if #gids > 0 then
    local names = redis.call('HMGET', P .. 'groupnames', unpack(gids))
    for i, gid in ipairs(gids) do
      if names[i] then
        reply[#reply + 1] = gid
        reply[#reply + 1] = names[i]
      end
    end
  end
  return reply
end

local ixChanged = newix ~= oldix
-- A user replaced by what it is already is not written: same version, same
-- lastModified, nothing marked (RFC 7232: the same representation keeps its
-- entity tag; Okta's GET-then-PUT of an unchanged user converges nothing).
if mode == 'r' and isUser and not ixChanged and ARGV[10] == oldattrs and ARGV[11] == (oldmembers or '') then
  return withGroupsOf({'ok', tonumber(oldv), oldc, 1, 0, 0, oldm})
end
local nx, ox
local uidx, eidx
if isUser then
  uidx, eidx = P .. 'idx:user:userName', P .. 'idx:user:extid'
else
  uidx, eidx = P .. 'idx:group:displayName', P .. 'idx:group:externalId'
end
if ixChanged then
  nx, ox = decodeList(newix), decodeList(oldix)
  -- uniqueness, checked before anything is written
  if nx[1] ~= '' and nx[1] ~= ox[1] then
    local o = redis.call('HGET', uidx, nx[1])
    if o and o ~= id then
      if isUser then return {'conflict', 'userName'} end
      return {'conflict', 'displayName'}
    end
  end
end

local ver, created, seq
if mode == 'c' then
  ver = 1
  created = ARGV[7]
  seq = redis.call('INCR', KEYS[4])
  redis.call('ZADD', order, seq, id)
else
  ver = tonumber(oldv) + 1
  created = oldc
  seq = olds
end

if ixChanged then
  if nx[1] ~= ox[1] then
    if ox[1] ~= '' and redis.call('HGET', uidx, ox[1]) == id then redis.call('HDEL', uidx, ox[1]) end
    if nx[1] ~= '' then redis.call('HSET', uidx, nx[1], id) end
  end
  if nx[2] ~= ox[2] then
    if ox[2] ~= '' then
      redis.call('ZREM', eidx, ox[2] .. SEP .. id)
      if isUser then
        -- the former unique index (a hash), until Recover has converted it
        local legacy = P .. 'idx:user:externalId'
        if redis.call('HGET', legacy, ox[2]) == id then redis.call('HDEL', legacy, ox[2]) end
      end
    end
    if nx[2] ~= '' then redis.call('ZADD', eidx, 0, nx[2] .. SEP .. id) end
  end
  if isUser then
    local eix = P .. 'idx:user:email'
    local oldset, newset = {}, {}
    for i = 3, #ox do oldset[ox[i]] = true end
    for i = 3, #nx do newset[nx[i]] = true end
    local rems, adds = {}, {}
    for v in pairs(oldset) do
      if not newset[v] then rems[#rems + 1] = v .. SEP .. id end
    end
    for v in pairs(newset) do
      if not oldset[v] then
        adds[#adds + 1] = '0'
        adds[#adds + 1] = v .. SEP .. id
      end
    end
    callChunked('ZREM', eix, rems, 1)
    callChunked('ZADD', eix, adds, 2)
  end
end

local done, renamed, epoch, goneIDs = 1, 0, 0, {}
-- same: a group replaced by what it is already (attributes, members) is not
-- written either (see the user case above)
local same = mode == 'r' and not ixChanged and ARGV[10] == oldattrs and ARGV[11] == (oldmembers or '')
if not isUser then
  local dn = ARGV[12]
  local names = P .. 'groupnames'
  if mode == 'r' and redis.call('HGET', names, id) ~= dn then renamed = 1 end
  redis.call('HSET', names, id, dn)
  oldmembers = upgradeMembers(id, oldmembers)
  local mk = membersKey(id)
  -- a replacement supersedes one still running in steps (membersScript)
  if mode == 'r' then epoch = redis.call('HINCRBY', EPOCH, id, 1) end
  local limit = tonumber(ARGV[13])
  if limit > 0 and redis.call('ZCARD', mk) <= limit then
    local gone = goneEntries(14, #ARGV, id)
    local want = {}
    for i = 14, #ARGV do
      local mid = parseEntry(ARGV[i])
      if gone[mid] then goneIDs[#goneIDs + 1] = mid else want[mid] = true end
    end
    for _, e in ipairs(redis.call('ZRANGE', mk, 0, -1)) do
      local mid = parseEntry(e)
      if not want[mid] then
        dropEntry(id, mk, e, nowms, queue)
        same = false
      end
    end
    for i = 14, #ARGV do
      local mid, mkind, md = parseEntry(ARGV[i])
      if not gone[mid] and addEntry(id, mk, mid, mkind, md, 'set', nowms, queue) > 0 then same = false end
    end
    if renamed == 1 then
      for _, e in ipairs(redis.call('ZRANGE', mk, 0, -1)) do
        local mid, mkind = parseEntry(e)
        redis.call('ZADD', queue, 'LT', nowms, mkind .. '|' .. mid)
      end
    end
  else
    done = 0
  end
  if mode == 'r' then startReplace(id, epoch, done == 0) end
  if renamed == 1 or done == 0 then same = false end
  if same then
    local reply = {'ok', tonumber(oldv), oldc, 1, 0, epoch, oldm}
    for _, mid in ipairs(goneIDs) do reply[#reply + 1] = mid end
    return reply
  end
end

redis.call('SET', doc, joinDoc(ver, created, ARGV[8], seq, newix, ARGV[10], newmembers))
redis.call('ZADD', queue, 'LT', nowms, kind .. '|' .. id)
local reply = {'ok', ver, created, done, renamed, epoch, ARGV[8]}
for _, mid in ipairs(goneIDs) do reply[#reply + 1] = mid end
return withGroupsOf(reply)
`)

// deleteScript deletes one resource with its index entries; it leaves every group
// that had it as a member (each such group: member removed, version +1, dirty).
// A deleted group's members set is cleared here when it holds at most the
// inline limit; a larger one is renamed to a trash key that Go empties in
// chunks (trashScript), marking the former members dirty.
//
//	KEYS: 1 doc, 2 queue, 3 order, 4 trash key for a large members set
//	ARGV: 1 prefix, 2 kind, 3 id, 4 ifVersion, 5 now (unix ms), 6 now (unix ns),
//	      7 inline limit
//
// Reply: {"ok", trashed} | {"notfound"} | {"precondition"}; trashed is 1 when
// KEYS[4] now holds members to clear.
var deleteScript = redis.NewScript(resourceLuaPrelude + `
local kind, id = ARGV[2], ARGV[3]
local ifv = tonumber(ARGV[4])
local nowms, nowns = ARGV[5], ARGV[6]
local doc, queue, order = KEYS[1], KEYS[2], KEYS[3]
local isUser = kind == 'User'

local olddoc = redis.call('GET', doc)
if not olddoc then return {'notfound'} end
local oldv, _, _, _, oldix, _, oldmembers = splitDoc(olddoc)
if ifv ~= 0 and tonumber(oldv) ~= ifv then return {'precondition'} end
local ox = decodeList(oldix)
local trashed = 0

if isUser then
  local uidx = P .. 'idx:user:userName'
  if ox[1] ~= '' and redis.call('HGET', uidx, ox[1]) == id then redis.call('HDEL', uidx, ox[1]) end
  if ox[2] ~= '' then
    redis.call('ZREM', P .. 'idx:user:extid', ox[2] .. SEP .. id)
    local legacy = P .. 'idx:user:externalId'
    if redis.call('HGET', legacy, ox[2]) == id then redis.call('HDEL', legacy, ox[2]) end
  end
  local rems = {}
  for i = 3, #ox do rems[#rems + 1] = ox[i] .. SEP .. id end
  callChunked('ZREM', P .. 'idx:user:email', rems, 1)
else
  local uidx = P .. 'idx:group:displayName'
  if ox[1] ~= '' and redis.call('HGET', uidx, ox[1]) == id then redis.call('HDEL', uidx, ox[1]) end
  if ox[2] ~= '' then redis.call('ZREM', P .. 'idx:group:externalId', ox[2] .. SEP .. id) end
  redis.call('HDEL', P .. 'groupnames', id)
  redis.call('HDEL', EPOCH, id)
  redis.call('DEL', runningKey(id), touchedKey(id))
  local mk = membersKey(id)
  if oldmembers and string.sub(oldmembers, 1, 1) == '[' then
    local seen = {}
    for _, m in ipairs(decodeList(oldmembers)) do
      if type(m) == 'table' and type(m['value']) == 'string' and m['value'] ~= '' and not seen[m['value']] then
        seen[m['value']] = true
        local e = memberKind(m) .. '|' .. m['value']
        redis.call('ZREM', MEMBEROF, e .. SEP .. id)
        redis.call('ZADD', queue, 'LT', nowms, e)
      end
    end
  elseif redis.call('ZCARD', mk) <= tonumber(ARGV[7]) then
    for _, e in ipairs(redis.call('ZRANGE', mk, 0, -1)) do dropEntry(id, mk, e, nowms, queue) end
  else
    redis.call('RENAME', mk, KEYS[4])
    redis.call('SADD', P .. 'trash', KEYS[4])
    trashed = 1
  end
end

local gids, members = lexIDs(MEMBEROF, kind .. '|' .. id)
for i, gid in ipairs(gids) do
  if not (kind == 'Group' and gid == id) then
    dropMember(gid, kind, id, nowms, nowns, queue)
  end
  redis.call('ZREM', MEMBEROF, members[i])
end
redis.call('DEL', doc)
redis.call('ZREM', order, id)
redis.call('ZADD', queue, 'LT', nowms, kind .. '|' .. id)
return {'ok', trashed}
`)

// trashScript clears the given entries of a deleted group's trashed members
// set (read by Go; entries no longer there are skipped): each former member
// leaves the reverse index (unless a group re-created with that id has it as
// a member again) and is marked dirty.
//
//	KEYS: 1 trash key, 2 queue
//	ARGV: 1 prefix, 2 group id, 3 now (unix ms), 4.. entries
//
// Reply: the number of entries left.
var trashScript = redis.NewScript(resourceLuaPrelude + `
local gid, nowms = ARGV[2], ARGV[3]
local mk = membersKey(gid)
if #ARGV >= 4 then
  local there = redis.call('ZMSCORE', KEYS[1], unpack(ARGV, 4))
  local regrown = redis.call('EXISTS', mk) == 1
  local gone, idx, marks = {}, {}, {}
  for i = 4, #ARGV do
    if there[i - 3] then
      local e = ARGV[i]
      local id, kind = parseEntry(e)
      if not (regrown and findEntry(mk, id, kind)) then
        idx[#idx + 1] = kind .. '|' .. id .. SEP .. gid
      end
      marks[#marks + 1] = nowms
      marks[#marks + 1] = kind .. '|' .. id
      gone[#gone + 1] = e
    end
  end
  if #idx > 0 then redis.call('ZREM', MEMBEROF, unpack(idx)) end
  if #marks > 0 then redis.call('ZADD', KEYS[2], 'LT', unpack(marks)) end
  if #gone > 0 then redis.call('ZREM', KEYS[1], unpack(gone)) end
end
local left = redis.call('ZCARD', KEYS[1])
if left == 0 then redis.call('SREM', P .. 'trash', KEYS[1]) end
return left
`)

// membersScript changes some members of one group: op "add" (existing members
// kept as they are), "set" (existing members take the given kind; see addEntry),
// "remove" (by id) or "drop" (by entry of the set, as read before). The
// group's version goes up by one and it is marked dirty when
// anything changed; so is every member whose membership changed. Index and
// queue writes are batched into one command each.
//
//	KEYS: 1 group doc, 2 members set, 3 queue
//	ARGV: 1 prefix, 2 group id, 3 ifVersion, 4 now (unix ms), 5 now (unix ns),
//	      6 op, 7 add/set: "1" check that every added id is a user or group
//	      of the tenant (kind "" resolves to whichever exists, a user first),
//	      "2" likewise but leave out the ids that are not (they were checked
//	      before the request's first step: deleted since), "0" no check,
//	      8 the replacement's epoch ("": not a replacement; otherwise nothing
//	      is written when a later replacement has begun),
//	      9.. add/set: triples id, kind, display; remove: ids (all distinct);
//	      drop: entries "<id>\0<kind>\0<display>" (all distinct)
//
// Reply: {"ok", version, changed, id...} (the ids left out by check mode
// "2") | {"unknown", id...} | {"notfound"} | {"precondition"} |
// {"superseded", version}.
var membersScript = redis.NewScript(resourceLuaPrelude + `
local gid, nowms, nowns, op = ARGV[2], ARGV[4], ARGV[5], ARGV[6]
local ifv = tonumber(ARGV[3])
local doc, mk, queue = KEYS[1], KEYS[2], KEYS[3]
local gd = redis.call('GET', doc)
if not gd then return {'notfound'} end
local v, c, m, s, ix, attrs, members = splitDoc(gd)
if ifv ~= 0 and tonumber(v) ~= ifv then return {'precondition'} end
if ARGV[8] ~= '' and redis.call('HGET', EPOCH, gid) ~= ARGV[8] then return {'superseded', tonumber(v)} end

-- the ids of this step, for the notes of a running replacement
local function stepIDs()
  local ids = {}
  if op == 'remove' then
    for i = 9, #ARGV do ids[#ids + 1] = ARGV[i] end
  elseif op == 'drop' then
    for i = 9, #ARGV do ids[#ids + 1] = (parseEntry(ARGV[i])) end
  else
    for i = 9, #ARGV, 3 do ids[#ids + 1] = ARGV[i] end
  end
  return ids
end
-- leave: the ids a step of a replacement leaves alone (changed by another
-- writer since it began); note: this write is another writer's
local leave, note = {}, false
if ARGV[8] ~= '' then leave = touchedOf(gid, stepIDs()) else note = replacing(gid) end

local changed, skipped = 0, {}
local before = members
local b = newBatch()
if op == 'remove' then
  members = upgradeMembers(gid, members)
  batchRemoveIDs(b, gid, mk, 9, #ARGV, nowms, leave)
elseif op == 'drop' then
  -- entries read from the set by Go: one ZMSCORE; an entry changed since is
  -- removed by its id
  members = upgradeMembers(gid, members)
  if #ARGV >= 9 then
    local present = redis.call('ZMSCORE', mk, unpack(ARGV, 9))
    for i = 9, #ARGV do
      local id = parseEntry(ARGV[i])
      if leave[id] then
      elseif present[i - 8] then
        batchDrop(b, gid, ARGV[i], nowms)
      else
        batchRemove(b, gid, mk, id, nowms)
      end
    end
  end
else
  local kinds, displays, skip = {}, {}, {}
  if ARGV[7] ~= '0' then
    local unknown
    kinds, unknown, displays = memberKinds(9, #ARGV, false)
    if unknown then
      if ARGV[7] ~= '2' then return unknown end
      for j = 2, #unknown do
        skip[unknown[j]] = true
        skipped[#skipped + 1] = unknown[j]
      end
    end
  end
  for id in pairs(leave) do skip[id] = true end
  members = upgradeMembers(gid, members)
  -- one ZMSCORE tells which memberships exist already: the reverse index
  -- (add) or the exact entries (set); an empty set (a group being created)
  -- has none to look for
  local empty = redis.call('EXISTS', mk) == 0
  local at, probe = {}, {}
  for i = 9, #ARGV, 3 do
    if not skip[ARGV[i]] then
      local k = kinds[i] or ARGV[i + 1]
      if k == '' then k = 'User' end
      kinds[i] = k
      at[#at + 1] = i
      if empty then
      elseif op == 'add' then
        probe[#probe + 1] = k .. '|' .. ARGV[i] .. SEP .. gid
      else
        probe[#probe + 1] = ARGV[i] .. SEP .. k .. SEP .. ARGV[i + 2]
      end
    end
  end
  local present = {}
  if #probe > 0 then present = redis.call('ZMSCORE', op == 'add' and MEMBEROF or mk, unpack(probe)) end
  -- set: a member whose exact entry is absent is new unless the reverse index
  -- holds it under either kind (one ZMSCORE; only those are looked up)
  local held = {}
  if op == 'set' and not empty then
    local idx, hat = {}, {}
    for j, i in ipairs(at) do
      if not present[j] then
        hat[#hat + 1] = i
        idx[#idx + 1] = 'User|' .. ARGV[i] .. SEP .. gid
        idx[#idx + 1] = 'Group|' .. ARGV[i] .. SEP .. gid
      end
    end
    if #idx > 0 then
      local sc = redis.call('ZMSCORE', MEMBEROF, unpack(idx))
      for j, i in ipairs(hat) do held[i] = sc[2 * j - 1] or sc[2 * j] end
    end
  end
  for j, i in ipairs(at) do
    local id, k = ARGV[i], kinds[i]
    if not present[j] then
      -- add: absent from the reverse index means not a member (a user and a
      -- group sharing an id are two members); set: look for the entry to update
      local old = nil
      if held[i] then old = findEntry(mk, id) end
      local disp = displays[i] or ARGV[i + 2]
      if not old then
        batchAdd(b, gid, id, k, disp, nowms, (op == 'add' and not empty) and probe[j] or nil)
      elseif op == 'set' and addEntry(gid, mk, id, k, disp, op, nowms, queue) > 0 then
        changed = changed + 1
      end
    end
  end
  if not members then members = '=' end
end
flushBatch(b, mk, queue)
changed = changed + b.n
if note then noteTouched(gid, stepIDs()) end

if changed == 0 then
  if members ~= before then redis.call('SET', doc, joinDoc(v, c, m, s, ix, attrs, members)) end
  return {'ok', tonumber(v), 0, unpack(skipped)}
end
v = tonumber(v) + 1
redis.call('SET', doc, joinDoc(v, c, nowns, s, ix, attrs, members))
redis.call('ZADD', queue, 'LT', nowms, 'Group|' .. gid)
return {'ok', v, changed, unpack(skipped)}
`)

// upgradeGroupScript finishes the conversion of a large group of the former
// layout: the members set was staged in KEYS[2] in chunks; if the document is
// still the one Go read, the staged set becomes the group's members set and
// the document's members line becomes "=" (version unchanged: the content is
// the same). Reply: 1 converted, 0 the group changed or vanished meanwhile.
//
//	KEYS: 1 group doc, 2 staged set, 3 members set
//	ARGV: 1 prefix, 2 the document Go read
var upgradeGroupScript = redis.NewScript(resourceLuaPrelude + `
local gd = redis.call('GET', KEYS[1])
if gd ~= ARGV[2] then
  redis.call('DEL', KEYS[2])
  return 0
end
local v, c, m, s, ix, attrs = splitDoc(gd)
if redis.call('EXISTS', KEYS[2]) == 1 then
  redis.call('RENAME', KEYS[2], KEYS[3])
else
  redis.call('DEL', KEYS[3])
end
redis.call('SET', KEYS[1], joinDoc(v, c, m, s, ix, attrs, '='))
return 1
`)

// upgradeExternalIDScript moves entries of the former unique externalId index
// of users (a hash) into the lookup index, each only if the hash still maps
// the value to that id.
//
//	KEYS: 1 former hash, 2 lookup index
//	ARGV: 1 prefix, 2.. pairs value, id
var upgradeExternalIDScript = redis.NewScript(resourceLuaPrelude + `
for i = 2, #ARGV, 2 do
  if redis.call('HGET', KEYS[1], ARGV[i]) == ARGV[i + 1] then
    redis.call('ZADD', KEYS[2], 0, ARGV[i] .. SEP .. ARGV[i + 1])
    redis.call('HDEL', KEYS[1], ARGV[i])
  end
end
return redis.call('HLEN', KEYS[1])
`)
