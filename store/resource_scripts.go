package store

import "github.com/redis/go-redis/v9"

// Lua scripts of the resource writes. Each write (document, every index change,
// the dirty marks in the tenant queue) is one script execution, so it is atomic on
// Redis and on the embedded store alike. The layout is described at the top of
// resource.go.
//
// A document is four lines (JSON never holds a raw newline):
//
//	<version> <created ns> <lastModified ns> <seq>
//	<index values: JSON array; user: [lower userName, externalId, lower emails...];
//	 group: [lower displayName, externalId]>
//	<attributes JSON; a group's without members>
//	<a group's members JSON>           (only when the group has a members attribute)
//
// Go computes the new index values; the script reads the old ones from the
// stored document and, when the line changed, diffs. A group's member entries
// "<Kind>|<id>" are derived here from the old and new members JSON, so one
// function defines them. Lists of strings are JSON arrays ("[]" when empty:
// Redis' cjson encodes an empty table as "{}", so encodeList special-cases it).
// Multi-valued lookup indexes are lexicographic sorted sets of "<value>\0<id>".
// Every key is built from the tenant prefix and carries the tenant's hash tag,
// so it lives in the slot of the declared KEYS.

// resourceLuaPrelude holds helpers shared by the write scripts. ARGV[1] is always
// the tenant prefix "sb:{t}:".
const resourceLuaPrelude = `
local P = ARGV[1]
local SEP, SEPEND = string.char(0), string.char(1)
local MEMBEROF = P .. 'idx:memberof'

local function decodeList(s)
  if not s or s == '' or s == '[]' then return {} end
  local t = cjson.decode(s)
  if type(t) ~= 'table' then return {} end
  return t
end

local function encodeList(t)
  if #t == 0 then return '[]' end
  return cjson.encode(t)
end

-- splitDoc returns version, created, lastModified, seq, index line, attrs, members (nil when absent).
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

-- memberKind: type "Group" (any case) or else User (RFC 7643 §4.2).
local function memberKind(m)
  local ty = m['type']
  if type(ty) == 'string' and string.lower(ty) == 'group' then return 'Group' end
  return 'User'
end

-- entriesOf returns the set of "<Kind>|<id>" of a members JSON (one per id, the
-- first type given wins) and the same entries as a list, in member order.
local function entriesOf(members)
  local set, list, seen = {}, {}, {}
  for _, m in ipairs(decodeList(members)) do
    if type(m) == 'table' and type(m['value']) == 'string' and m['value'] ~= '' and not seen[m['value']] then
      seen[m['value']] = true
      local e = memberKind(m) .. '|' .. m['value']
      set[e] = true
      list[#list + 1] = e
    end
  end
  return set, list
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

-- dropMember rewrites group gid without member (mkind, mid): version +1,
-- lastModified = nowns; the group is marked dirty. The caller removes the
-- membership from the memberof index.
local function dropMember(gid, mkind, mid, nowms, nowns, queue)
  local gk = P .. 'group:' .. gid
  local gd = redis.call('GET', gk)
  if not gd then return end
  local v, c, _, s, ix, attrs, members = splitDoc(gd)
  if members then
    local kept = {}
    for _, m in ipairs(decodeList(members)) do
      if not (type(m) == 'table' and m['value'] == mid and memberKind(m) == mkind) then
        kept[#kept + 1] = m
      end
    end
    members = encodeList(kept)
  end
  redis.call('SET', gk, joinDoc(tonumber(v) + 1, c, nowns, s, ix, attrs, members))
  redis.call('ZADD', queue, 'LT', nowms, 'Group|' .. gid)
end
`

// putScript creates (mode "c") or replaces (mode "r") one resource.
//
//	KEYS: 1 doc, 2 queue, 3 order, 4 seq counter
//	ARGV: 1 prefix, 2 kind, 3 id, 4 mode, 5 ifVersion, 6 now (unix ms, queue score),
//	      7 created (unix ns, create only), 8 lastModified (unix ns),
//	      9 index values line, 10 attrs JSON, 11 members JSON ("" = no members
//	      attribute), 12 a group's displayName as given
//
// Reply: {"ok", version, created} | {"conflict", attr} | {"notfound"} | {"precondition"}.
var putScript = redis.NewScript(resourceLuaPrelude + `
local kind, id, mode = ARGV[2], ARGV[3], ARGV[4]
local ifv = tonumber(ARGV[5])
local nowms = ARGV[6]
local doc, queue, order = KEYS[1], KEYS[2], KEYS[3]
local isUser = kind == 'User'
local newix, newmembers = ARGV[9], ARGV[11]
if newmembers == '' then newmembers = nil end

local olddoc = redis.call('GET', doc)
local oldv, oldc, olds, oldix, oldmembers
if mode == 'c' then
  if olddoc then return {'conflict', 'id'} end
  oldix = '["",""]'
else
  if not olddoc then return {'notfound'} end
  local _
  oldv, oldc, _, olds, oldix, _, oldmembers = splitDoc(olddoc)
  if ifv ~= 0 and tonumber(oldv) ~= ifv then return {'precondition'} end
end

local ixChanged = newix ~= oldix
local nx, ox
local uidx, eidx
if isUser then
  uidx, eidx = P .. 'idx:user:userName', P .. 'idx:user:externalId'
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
  if isUser and nx[2] ~= '' and nx[2] ~= ox[2] then
    local o = redis.call('HGET', eidx, nx[2])
    if o and o ~= id then return {'conflict', 'externalId'} end
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
    if isUser then
      if ox[2] ~= '' and redis.call('HGET', eidx, ox[2]) == id then redis.call('HDEL', eidx, ox[2]) end
      if nx[2] ~= '' then redis.call('HSET', eidx, nx[2], id) end
    else
      if ox[2] ~= '' then redis.call('ZREM', eidx, ox[2] .. SEP .. id) end
      if nx[2] ~= '' then redis.call('ZADD', eidx, 0, nx[2] .. SEP .. id) end
    end
  end
  if isUser then
    local eix = P .. 'idx:user:email'
    local oldset, newset = {}, {}
    for i = 3, #ox do oldset[ox[i]] = true end
    for i = 3, #nx do newset[nx[i]] = true end
    for v in pairs(oldset) do
      if not newset[v] then redis.call('ZREM', eix, v .. SEP .. id) end
    end
    for v in pairs(newset) do
      if not oldset[v] then redis.call('ZADD', eix, 0, v .. SEP .. id) end
    end
  end
end

if not isUser then
  local dn = ARGV[12]
  local names = P .. 'groupnames'
  local renamed = false
  if mode == 'r' then renamed = redis.call('HGET', names, id) ~= dn end
  redis.call('HSET', names, id, dn)
  if newmembers ~= oldmembers or renamed then
    local oldset = entriesOf(oldmembers)
    local newset, newlist = entriesOf(newmembers)
    for e in pairs(oldset) do
      if not newset[e] then
        redis.call('ZREM', MEMBEROF, e .. SEP .. id)
        redis.call('ZADD', queue, 'LT', nowms, e)
      end
    end
    for _, e in ipairs(newlist) do
      if not oldset[e] then
        redis.call('ZADD', MEMBEROF, 0, e .. SEP .. id)
        redis.call('ZADD', queue, 'LT', nowms, e)
      elseif renamed then
        redis.call('ZADD', queue, 'LT', nowms, e)
      end
    end
  end
end

redis.call('SET', doc, joinDoc(ver, created, ARGV[8], seq, newix, ARGV[10], newmembers))
redis.call('ZADD', queue, 'LT', nowms, kind .. '|' .. id)
return {'ok', ver, created}
`)

// deleteScript deletes one resource with its index entries; it leaves every group
// that had it as a member (each such group: member removed, version +1, dirty).
//
//	KEYS: 1 doc, 2 queue, 3 order
//	ARGV: 1 prefix, 2 kind, 3 id, 4 ifVersion, 5 now (unix ms), 6 now (unix ns)
//
// Reply: {"ok"} | {"notfound"} | {"precondition"}.
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

if isUser then
  local uidx, eidx = P .. 'idx:user:userName', P .. 'idx:user:externalId'
  if ox[1] ~= '' and redis.call('HGET', uidx, ox[1]) == id then redis.call('HDEL', uidx, ox[1]) end
  if ox[2] ~= '' and redis.call('HGET', eidx, ox[2]) == id then redis.call('HDEL', eidx, ox[2]) end
  local eix = P .. 'idx:user:email'
  for i = 3, #ox do redis.call('ZREM', eix, ox[i] .. SEP .. id) end
else
  local uidx = P .. 'idx:group:displayName'
  if ox[1] ~= '' and redis.call('HGET', uidx, ox[1]) == id then redis.call('HDEL', uidx, ox[1]) end
  if ox[2] ~= '' then redis.call('ZREM', P .. 'idx:group:externalId', ox[2] .. SEP .. id) end
  redis.call('HDEL', P .. 'groupnames', id)
  local _, list = entriesOf(oldmembers)
  for _, e in ipairs(list) do
    redis.call('ZREM', MEMBEROF, e .. SEP .. id)
    redis.call('ZADD', queue, 'LT', nowms, e)
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
return {'ok'}
`)
