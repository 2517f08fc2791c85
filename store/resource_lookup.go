package store

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/scim-bridge/scim-bridge/filter"
)

// GroupsOf returns, for each given user id, the groups that have the user as a
// direct member (RFC 7643 §4.1.2 "groups", type "direct"), ordered by displayName
// (case-insensitive) then id. Users without groups are absent from the map. Two
// round trips for any number of users.
func (s *Store) GroupsOf(ctx context.Context, tenant string, userIDs []string) (map[string][]GroupRef, error) {
	if err := checkResourceKey(tenant, KindUser, nil); err != nil {
		return nil, fmt.Errorf("groups of: %w", err)
	}
	out := make(map[string][]GroupRef)
	if len(userIDs) == 0 {
		return out, nil
	}
	pipe := s.rdb.Pipeline()
	cmds := make(map[string]lexCmd, len(userIDs))
	for _, id := range userIDs {
		if _, dup := cmds[id]; !dup {
			cmds[id] = lexLookup(ctx, pipe, memberOfIndexKey(tenant), queueMember(WorkUser, id))
		}
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("groups of: read memberships: %w", err)
	}
	memberships := make(map[string][]string, len(cmds))
	for uid, c := range cmds {
		memberships[uid] = c.ids()
	}
	return s.groupRefs(ctx, tenant, memberships)
}

// groupRefs names the groups of each user (user id → group ids): one HMGET of
// the group names, groups sorted by displayName then id; users without groups
// are left out.
func (s *Store) groupRefs(ctx context.Context, tenant string, memberships map[string][]string) (map[string][]GroupRef, error) {
	out := make(map[string][]GroupRef)
	var gids []string
	seen := make(map[string]bool)
	for _, ids := range memberships {
		for _, g := range ids {
			if !seen[g] {
				seen[g] = true
				gids = append(gids, g)
			}
		}
	}
	if len(gids) == 0 {
		return out, nil
	}
	names, err := s.rdb.HMGet(ctx, groupNamesKey(tenant), gids...).Result()
	if err != nil {
		return nil, fmt.Errorf("groups of: read group names: %w", err)
	}
	nameOf := make(map[string]string, len(gids))
	for i, g := range gids {
		if n, ok := names[i].(string); ok { // absent: deleted meanwhile
			nameOf[g] = n
		}
	}
	for uid, ids := range memberships {
		var refs []GroupRef
		for _, g := range ids {
			if n, ok := nameOf[g]; ok {
				refs = append(refs, GroupRef{ID: g, DisplayName: n})
			}
		}
		if len(refs) == 0 {
			continue
		}
		sortGroupRefs(refs)
		out[uid] = refs
	}
	return out, nil
}

// sortGroupRefs orders groups by displayName (case-insensitive), then id.
func sortGroupRefs(refs []GroupRef) {
	slices.SortFunc(refs, func(a, b GroupRef) int {
		if c := cmp.Compare(strings.ToLower(a.DisplayName), strings.ToLower(b.DisplayName)); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
}

// GetUserWithGroups is Get of a user and GroupsOf it in one round trip (two when
// the user belongs to a group: the group names are a second read).
func (s *Store) GetUserWithGroups(ctx context.Context, tenant, id string) (*Resource, []GroupRef, error) {
	if err := checkResourceKey(tenant, KindUser, &id); err != nil {
		return nil, nil, fmt.Errorf("get: %w", err)
	}
	pipe := s.rdb.Pipeline()
	docCmd := pipe.Get(ctx, docKey(tenant, KindUser, id))
	member := lexLookup(ctx, pipe, memberOfIndexKey(tenant), queueMember(WorkUser, id))
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, nil, fmt.Errorf("get %s %s: %w", KindUser, id, err)
	}
	doc, err := docCmd.Result()
	if errors.Is(err, redis.Nil) {
		return nil, nil, fmt.Errorf("get %s %s: %w", KindUser, id, ErrNotFound)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("get %s %s: %w", KindUser, id, err)
	}
	d, err := decodeDoc(new(filter.JSONDecoder), KindUser, id, doc)
	if err != nil {
		return nil, nil, fmt.Errorf("get: %w", err)
	}
	r := d.r
	s.rememberDoc(tenant, r, doc)
	gids := member.ids()
	if len(gids) == 0 {
		return r, nil, nil
	}
	refs, err := s.groupRefs(ctx, tenant, map[string][]string{id: gids})
	if err != nil {
		return nil, nil, err
	}
	return r, refs[id], nil
}

// FindUserIDsByEmail returns the ids of the users having email among their
// emails.value, or as their userName when they have no emails (Okta and Entra
// often send none: the userName is then the user's email, as the connectors
// see it), compared case-insensitively, oldest first. None is an empty result,
// not an error.
func (s *Store) FindUserIDsByEmail(ctx context.Context, tenant, email string) ([]string, error) {
	if err := checkResourceKey(tenant, KindUser, nil); err != nil {
		return nil, fmt.Errorf("find users by email: %w", err)
	}
	if email == "" {
		return nil, nil
	}
	lower := strings.ToLower(email)
	from, to := lexRange(lower)
	members, err := s.rdb.ZRangeByLex(ctx, emailIndexKey(tenant), &redis.ZRangeBy{Min: from, Max: to}).Result()
	if err != nil {
		return nil, fmt.Errorf("find users by email: %w", err)
	}
	ids := lexIDs(lower, members)
	if strings.Contains(lower, "@") {
		id, err := s.userNameWithoutEmails(ctx, tenant, lower)
		if err != nil {
			return nil, fmt.Errorf("find users by email: %w", err)
		}
		if id != "" && !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	if len(ids) < 2 {
		return ids, nil
	}
	return s.inCreationOrder(ctx, tenant, KindUser, ids)
}

// FindUserIDByUserName returns the id of the user with that userName
// (case-insensitive), "" when there is none.
func (s *Store) FindUserIDByUserName(ctx context.Context, tenant, userName string) (string, error) {
	if err := checkResourceKey(tenant, KindUser, nil); err != nil {
		return "", fmt.Errorf("find user by userName: %w", err)
	}
	id, err := s.rdb.HGet(ctx, userNameIndexKey(tenant), strings.ToLower(userName)).Result()
	if errors.Is(err, redis.Nil) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("find user by userName: %w", err)
	}
	return id, nil
}

// userNameWithoutEmails returns the id of the user whose userName is lower
// (case-insensitively) when that user has no emails, else "".
func (s *Store) userNameWithoutEmails(ctx context.Context, tenant, lower string) (string, error) {
	id, err := s.FindUserIDByUserName(ctx, tenant, lower)
	if err != nil || id == "" {
		return "", err
	}
	doc, err := s.rdb.Get(ctx, docKey(tenant, KindUser, id)).Result()
	if errors.Is(err, redis.Nil) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	ix, _ := docLines(doc)
	var values []string // [lower userName, externalId, lower emails...]
	if json.Unmarshal([]byte(ix), &values) != nil || len(values) > 2 || len(values) == 0 || values[0] != lower {
		return "", nil // has emails, or renamed since the index was read
	}
	return id, nil
}

// inCreationOrder sorts ids by creation sequence, dropping ids that are no
// longer in the order set.
func (s *Store) inCreationOrder(ctx context.Context, tenant string, kind Kind, ids []string) ([]string, error) {
	scores, err := s.rdb.ZMScore(ctx, orderKey(tenant, kind), ids...).Result()
	if err != nil {
		return nil, fmt.Errorf("read creation order: %w", err)
	}
	type scored struct {
		id  string
		seq float64
	}
	tmp := make([]scored, 0, len(ids))
	for i, id := range ids {
		if scores[i] > 0 { // sequences start at 1; 0 means absent
			tmp = append(tmp, scored{id, scores[i]})
		}
	}
	slices.SortFunc(tmp, func(a, b scored) int { return cmp.Compare(a.seq, b.seq) })
	out := make([]string, len(tmp))
	for i, t := range tmp {
		out[i] = t.id
	}
	return out, nil
}

// resolveLookups answers a filter plan from the indexes: the distinct ids of
// every resource of kind that some lookup finds. ok is
// false when a lookup names an attribute this kind has no index for (the
// caller scans instead).
func (s *Store) resolveLookups(ctx context.Context, tenant string, kind Kind, lookups []filter.Lookup) (ids []string, ok bool, err error) {
	var direct []string
	pipe := s.rdb.Pipeline()
	var hashCmds []*redis.StringCmd
	var lexCmds []lexCmd
	var memberCmds []lexCmd
	for _, l := range lookups {
		for _, v := range l.Values {
			switch {
			case l.Attr == "id":
				direct = append(direct, v)
			case l.Attr == "userName" && kind == KindUser:
				hashCmds = append(hashCmds, pipe.HGet(ctx, userNameIndexKey(tenant), v))
			case l.Attr == "displayName" && kind == KindGroup:
				hashCmds = append(hashCmds, pipe.HGet(ctx, groupNameIndexKey(tenant), v))
			case l.Attr == "externalId" && kind == KindUser:
				lexCmds = append(lexCmds, lexLookup(ctx, pipe, userExtIDIndexKey(tenant), v))
			case l.Attr == "externalId" && kind == KindGroup:
				lexCmds = append(lexCmds, lexLookup(ctx, pipe, groupExtIDIndexKey(tenant), v))
			case l.Attr == "emails.value" && kind == KindUser:
				lexCmds = append(lexCmds, lexLookup(ctx, pipe, emailIndexKey(tenant), v))
			case l.Attr == "members.value" && kind == KindGroup:
				memberCmds = append(memberCmds,
					lexLookup(ctx, pipe, memberOfIndexKey(tenant), queueMember(WorkUser, v)),
					lexLookup(ctx, pipe, memberOfIndexKey(tenant), queueMember(WorkGroup, v)))
			default:
				return nil, false, nil
			}
		}
	}
	if len(hashCmds)+len(lexCmds)+len(memberCmds) > 0 {
		cmds, _ := pipe.Exec(ctx) // per-command errors checked below
		for _, c := range cmds {
			if err := c.Err(); err != nil && !errors.Is(err, redis.Nil) {
				return nil, false, fmt.Errorf("resolve index lookups: %w", err)
			}
		}
	}
	seen := make(map[string]bool)
	add := func(id string) {
		if id != "" && !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	for _, id := range direct {
		add(id)
	}
	for _, c := range hashCmds {
		if c.Err() == nil {
			add(c.Val())
		}
	}
	for _, c := range lexCmds {
		for _, id := range c.ids() {
			add(id)
		}
	}
	for _, c := range memberCmds {
		for _, gid := range c.ids() {
			add(gid)
		}
	}
	return ids, true, nil
}

// lexCmd is a queued lookup of one value in a lexicographic index.
type lexCmd struct {
	value string
	cmd   *redis.StringSliceCmd
}

func lexLookup(ctx context.Context, pipe redis.Pipeliner, key, value string) lexCmd {
	from, to := lexRange(value)
	return lexCmd{value: value, cmd: pipe.ZRangeByLex(ctx, key, &redis.ZRangeBy{Min: from, Max: to})}
}

// ids returns the ids found, once the pipeline ran.
func (c lexCmd) ids() []string { return lexIDs(c.value, c.cmd.Val()) }

// lookupScript answers one index lookup together with the documents it finds,
// in one round trip (the IdPs' userName / externalId eq before every write),
// and, when asked, the groups of each user found.
//
//	KEYS: 1 index
//	ARGV: 1 tenant prefix ("sb:{t}:"), 2 "h" (a unique hash) or "l" (a
//	      lexicographic index), 3 the value, 4 the kind's key part ("user"),
//	      5 "g": also each user's groups
//
// Reply: a flat array id, document, n, then n pairs group id, displayName,
// for each resource found (n is 0 without "g").
var lookupScript = redis.NewScript(`
local ids = {}
if ARGV[2] == 'h' then
  local id = redis.call('HGET', KEYS[1], ARGV[3])
  if id then ids[1] = id end
else
  local prefix = ARGV[3] .. string.char(0)
  for _, m in ipairs(redis.call('ZRANGEBYLEX', KEYS[1], '[' .. prefix, '(' .. ARGV[3] .. string.char(1))) do
    local id = string.sub(m, #prefix + 1)
    if not string.find(id, string.char(0), 1, true) then ids[#ids + 1] = id end
  end
end
local out = {}
local P = ARGV[1]
for _, id in ipairs(ids) do
  local d = redis.call('GET', P .. ARGV[4] .. ':' .. id)
  if d then
    out[#out + 1] = id
    out[#out + 1] = d
    local at = #out + 1
    out[at] = 0
    if ARGV[5] == 'g' then
      local prefix = 'User|' .. id .. string.char(0)
      local gids = {}
      for _, m in ipairs(redis.call('ZRANGEBYLEX', P .. 'idx:memberof', '[' .. prefix, '(User|' .. id .. string.char(1))) do
        local gid = string.sub(m, #prefix + 1)
        if not string.find(gid, string.char(0), 1, true) then gids[#gids + 1] = gid end
      end
      if #gids > 0 then
        local names = redis.call('HMGET', P .. 'groupnames', unpack(gids))
        local n = 0
        for i, gid in ipairs(gids) do
          if names[i] then
            out[#out + 1] = gid
            out[#out + 1] = names[i]
            n = n + 1
          end
        end
        out[at] = n
      end
    end
  end
end
return out
`)

// singleLookup returns the index key and script mode of a lookup of one value
// on an indexed attribute of kind; ok is false for anything else.
func singleLookup(tenant string, kind Kind, lookups []filter.Lookup) (index, mode, value string, ok bool) {
	if len(lookups) != 1 || len(lookups[0].Values) != 1 {
		return "", "", "", false
	}
	l := lookups[0]
	switch {
	case l.Attr == "userName" && kind == KindUser:
		return userNameIndexKey(tenant), "h", l.Values[0], true
	case l.Attr == "displayName" && kind == KindGroup:
		return groupNameIndexKey(tenant), "h", l.Values[0], true
	case l.Attr == "externalId" && kind == KindUser:
		return userExtIDIndexKey(tenant), "l", l.Values[0], true
	case l.Attr == "externalId" && kind == KindGroup:
		return groupExtIDIndexKey(tenant), "l", l.Values[0], true
	case l.Attr == "emails.value" && kind == KindUser:
		return emailIndexKey(tenant), "l", l.Values[0], true
	}
	return "", "", "", false
}

// lookupDocs runs lookupScript: the documents of the resources found,
// ordered by creation; groups get their members when members is set; with
// groups, each user's groups (as GroupsOf).
func (s *Store) lookupDocs(ctx context.Context, tenant string, kind Kind, index, mode, value string, members, groups bool) ([]decodedDoc, map[string][]GroupRef, error) {
	g := ""
	if groups {
		g = "g"
	}
	res, err := lookupScript.Run(ctx, s.rdb, []string{index}, tenantPrefix(tenant), mode, value, kindPart(kind), g).Slice()
	if err != nil {
		return nil, nil, fmt.Errorf("index lookup: %w", err)
	}
	out := make([]decodedDoc, 0, 1)
	var refs map[string][]GroupRef
	var dec filter.JSONDecoder
	for i := 0; i+2 < len(res); {
		id, _ := res[i].(string)
		doc, _ := res[i+1].(string)
		n, _ := res[i+2].(int64)
		i += 3
		d, err := decodeDoc(&dec, kind, id, doc)
		if err != nil {
			return nil, nil, fmt.Errorf("index lookup: %w", err)
		}
		if members {
			if err := s.fillMembers(ctx, tenant, d, nil); err != nil {
				return nil, nil, err
			}
		}
		out = append(out, d)
		if n > 0 {
			gs := make([]GroupRef, 0, n)
			for ; n > 0 && i+1 < len(res); n-- {
				gid, _ := res[i].(string)
				name, _ := res[i+1].(string)
				gs = append(gs, GroupRef{ID: gid, DisplayName: name})
				i += 2
			}
			sortGroupRefs(gs)
			if refs == nil {
				refs = make(map[string][]GroupRef)
			}
			refs[id] = gs
		}
	}
	if len(out) > 1 {
		slices.SortFunc(out, func(a, b decodedDoc) int { return cmp.Compare(a.seq, b.seq) })
	}
	return out, refs, nil
}
