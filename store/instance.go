package store

// Instance liveness: short leases renewed by a heartbeat, and the release, by
// a starting (or any) process, of the claims no live process holds.
//
//	sb:instance:<owner>   STRING "1", PX ttl: the owner is alive while it exists
//	sb:instances          ZSET  owner → last heartbeat (unix ms): owners that
//	                            ever announced themselves (pruned after a day)
//
// These two keys are not a tenant's (no hash tag): one process serves many
// tenants. Only owners listed in sb:instances are ever judged dead, so claims
// of a process that never announces itself (an earlier version during a
// rolling upgrade) are left to their lease expiry.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// instanceForget is how long an owner stays listed after its last heartbeat.
const instanceForget = 24 * time.Hour

func instanceKey(owner string) string { return Prefix + ":instance:" + owner }

func instancesKey() string { return Prefix + ":instances" }

// KeepAlive announces that owner (the Owner its claims carry) is alive for
// ttl. A process calls it at start-up, before its first Claim, and then
// every ttl/3 or so; when the heartbeats stop (a crash, kill -9, a network
// partition) the owner counts as dead ttl later and ReleaseOrphanedClaims
// hands its claims to others. Pair it with leases a few times ttl, extended
// (Extend) while a convergence runs: a crash then costs seconds, not the
// whole lease.
func (s *Store) KeepAlive(ctx context.Context, owner string, ttl time.Duration) error {
	if owner == "" {
		return errors.New("keep alive: empty owner")
	}
	if ttl < time.Millisecond {
		return fmt.Errorf("keep alive: ttl %v shorter than 1ms", ttl)
	}
	now := s.now()
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, instanceKey(owner), "1", ttl)
		p.ZAdd(ctx, instancesKey(), redis.Z{Score: float64(now.UnixMilli()), Member: owner})
		p.ZRemRangeByScore(ctx, instancesKey(), "-inf", strconv.FormatInt(now.Add(-instanceForget).UnixMilli(), 10))
		return nil
	})
	if err != nil {
		return fmt.Errorf("keep alive %q: %w", owner, err)
	}
	return nil
}

// Retire ends owner's liveness at once (a clean shutdown, after its claims
// were acked or retried): whatever it still holds is released by the next
// ReleaseOrphanedClaims.
func (s *Store) Retire(ctx context.Context, owner string) error {
	if err := s.rdb.Del(ctx, instanceKey(owner)).Err(); err != nil {
		return fmt.Errorf("retire %q: %w", owner, err)
	}
	return nil
}

// ReleaseOrphanedClaims returns to tenant's queue, due now, every claimed key
// whose owner announced itself with KeepAlive and is no longer alive. It
// returns how many it released. A process runs it at start-up for each tenant
// (and may run it periodically); each release checks the claim's token
// atomically, so a claim renewed or taken over meanwhile is left alone.
func (s *Store) ReleaseOrphanedClaims(ctx context.Context, tenant string) (int, error) {
	if tenant == "" {
		return 0, errors.New("release orphaned claims: empty tenant")
	}
	leases, err := s.rdb.HGetAll(ctx, leasesKey(tenant)).Result()
	if err != nil {
		return 0, fmt.Errorf("release orphaned claims of tenant %q: %w", tenant, err)
	}
	if len(leases) == 0 {
		return 0, nil
	}
	type held struct{ member, token string }
	byOwner := make(map[string][]held)
	for m, v := range leases {
		var rec leaseRecord
		if json.Unmarshal([]byte(v), &rec) != nil {
			continue
		}
		byOwner[rec.Owner] = append(byOwner[rec.Owner], held{m, rec.Token})
	}
	owners := make([]string, 0, len(byOwner))
	for o := range byOwner {
		owners = append(owners, o)
	}
	listed, err := s.rdb.ZMScore(ctx, instancesKey(), owners...).Result()
	if err != nil {
		return 0, fmt.Errorf("release orphaned claims of tenant %q: %w", tenant, err)
	}
	released := 0
	now := queueScore(s.now())
	for i, o := range owners {
		if listed[i] == 0 { // never announced: left to its lease expiry
			continue
		}
		alive, err := s.rdb.Exists(ctx, instanceKey(o)).Result()
		if err != nil {
			return released, fmt.Errorf("release orphaned claims of tenant %q: %w", tenant, err)
		}
		if alive == 1 {
			continue
		}
		for _, h := range byOwner[o] {
			ok, err := releaseScript.Run(ctx, s.rdb,
				[]string{queueKey(tenant), leasesKey(tenant), leaseExpiriesKey(tenant)},
				h.member, h.token, now, now).Int()
			if err != nil {
				return released, fmt.Errorf("release orphaned claim %s of tenant %q: %w", h.member, tenant, err)
			}
			released += ok
		}
	}
	return released, nil
}
