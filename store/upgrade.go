package store

// Recover: the conversion of data written by earlier versions and the end of
// work a crashed process left half done.

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/redis/go-redis/v9"
)

// Recover brings a tenant's data to the current layout and finishes what a
// crashed process left half done. Run it at start-up for every tenant, before
// or while serving (it is idempotent and safe beside other writers):
//   - the members sets of deleted groups still being cleared are cleared, so
//     every former member is marked dirty;
//   - groups of the former layout (members inside the document) get their
//     members set, atomically and with no membership lost: a group of up to
//     64 members in one step, a larger one staged in chunks and swapped in
//     when the group did not change meanwhile (a write to a group of the
//     former layout also converts it, on first touch);
//   - the former unique externalId index of users becomes the lookup index.
func (s *Store) Recover(ctx context.Context, tenant string) error {
	if err := checkResourceKey(tenant, KindGroup, nil); err != nil {
		return fmt.Errorf("recover: %w", err)
	}
	trashed, err := s.recoverTrash(ctx, tenant)
	if err != nil {
		return fmt.Errorf("recover tenant %q: %w", tenant, err)
	}
	converted, err := s.upgradeGroups(ctx, tenant)
	if err != nil {
		return fmt.Errorf("recover tenant %q: %w", tenant, err)
	}
	if trashed+converted > 0 {
		s.log.Info().Str("tenant", tenant).Int("deleted_groups_cleared", trashed).
			Int("groups_converted", converted).Msg("store recovered")
	}
	if err := s.upgradeUserExternalIDs(ctx, tenant); err != nil {
		return fmt.Errorf("recover tenant %q: %w", tenant, err)
	}
	return nil
}

// recoverTrash clears the members sets of deleted groups left in the trash
// and returns how many it cleared.
func (s *Store) recoverTrash(ctx context.Context, tenant string) (int, error) {
	trash, err := s.rdb.SMembers(ctx, key(tenant, "trash")).Result()
	if err != nil {
		return 0, fmt.Errorf("read trash: %w", err)
	}
	prefix := key(tenant, "trash", "group") + ":"
	for _, k := range trash {
		rest, ok := strings.CutPrefix(k, prefix)
		i := strings.LastIndexByte(rest, ':')
		if !ok || i < 0 {
			continue
		}
		if err := s.clearTrash(ctx, tenant, rest[:i], k); err != nil {
			return 0, err
		}
	}
	return len(trash), nil
}

// upgradeGroups converts every group of the former layout and returns how
// many it converted.
func (s *Store) upgradeGroups(ctx context.Context, tenant string) (int, error) {
	from := "-inf"
	converted := 0
	for {
		zs, err := s.rdb.ZRangeByScoreWithScores(ctx, orderKey(tenant, KindGroup),
			&redis.ZRangeBy{Min: from, Max: "+inf", Count: loadBatch}).Result()
		if err != nil {
			return 0, fmt.Errorf("read group order: %w", err)
		}
		if len(zs) == 0 {
			return converted, nil
		}
		ids := make([]string, len(zs))
		for i, z := range zs {
			ids[i], _ = z.Member.(string)
		}
		vals, _, err := s.readDocs(ctx, tenant, KindGroup, ids, false)
		if err != nil {
			return 0, fmt.Errorf("read groups: %w", err)
		}
		for i, v := range vals {
			if doc, ok := v.(string); ok {
				if _, legacy := legacyMembers(doc); legacy {
					if err := s.upgradeGroup(ctx, tenant, ids[i], doc); err != nil {
						return 0, err
					}
					converted++
				}
			}
		}
		if len(zs) < loadBatch {
			return converted, nil
		}
		from = fmt.Sprintf("(%v", zs[len(zs)-1].Score)
	}
}

// upgradeGroup converts one group of the former layout, read as doc.
func (s *Store) upgradeGroup(ctx context.Context, tenant, gid, doc string) error {
	js, _ := legacyMembers(doc)
	ms, err := legacyMemberList(js)
	if err != nil {
		return fmt.Errorf("upgrade group %s: %w", gid, err)
	}
	if len(ms) <= memberChunk {
		// membersScript converts on touch; adding nothing changes nothing else.
		if _, err := s.changeMembers(ctx, tenant, gid, "add", checkNone, 0, 0, nil, nil, nil); err != nil && !errors.Is(err, ErrNotFound) {
			return fmt.Errorf("upgrade group %s: %w", gid, err)
		}
		return nil
	}
	staged := key(tenant, "upgrade", gid)
	if err := s.rdb.Del(ctx, staged).Err(); err != nil {
		return fmt.Errorf("upgrade group %s: %w", gid, err)
	}
	for start := 0; start < len(ms); start += loadBatch {
		chunk := ms[start:min(start+loadBatch, len(ms))]
		zs := make([]redis.Z, len(chunk))
		for i, m := range chunk {
			zs[i] = redis.Z{Member: m.entry()}
		}
		if err := s.rdb.ZAdd(ctx, staged, zs...).Err(); err != nil {
			return fmt.Errorf("upgrade group %s: stage members: %w", gid, err)
		}
	}
	done, err := upgradeGroupScript.Run(ctx, s.rdb,
		[]string{docKey(tenant, KindGroup, gid), staged, membersKey(tenant, gid)},
		tenantPrefix(tenant), doc).Int()
	if err != nil {
		return fmt.Errorf("upgrade group %s: %w", gid, err)
	}
	if done == 0 { // changed meanwhile: converted by that write, or to read again
		d, err := s.rdb.Get(ctx, docKey(tenant, KindGroup, gid)).Result()
		if errors.Is(err, redis.Nil) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("upgrade group %s: %w", gid, err)
		}
		if _, legacy := legacyMembers(d); legacy {
			return s.upgradeGroup(ctx, tenant, gid, d)
		}
	}
	return nil
}

// upgradeUserExternalIDs moves the former unique externalId hash of users
// into the lookup index, a chunk at a time.
func (s *Store) upgradeUserExternalIDs(ctx context.Context, tenant string) error {
	legacy := legacyUserExtIDIndexKey(tenant)
	var cursor uint64
	for {
		kvs, next, err := s.rdb.HScan(ctx, legacy, cursor, "", memberChunk).Result()
		if err != nil {
			return fmt.Errorf("read former externalId index: %w", err)
		}
		if len(kvs) > 0 {
			args := make([]any, 0, 1+len(kvs))
			args = append(args, tenantPrefix(tenant))
			for _, x := range kvs {
				args = append(args, x)
			}
			if err := upgradeExternalIDScript.Run(ctx, s.rdb,
				[]string{legacy, userExtIDIndexKey(tenant)}, args...).Err(); err != nil {
				return fmt.Errorf("move former externalId index: %w", err)
			}
		}
		if next == 0 {
			return nil
		}
		cursor = next
	}
}
