package store

// Leasing one named key outside the queue: the claim on a subject as a lock.
// Work that may write what another subject's convergence writes (a webhook's
// downstream object and the user who owns it) takes the owner's lease first,
// so the two never run at once anywhere.

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// leaseKeyScript takes the lease of a key that no claim holds.
//
//	KEYS: leases, leasez
//	ARGV: member, lease JSON, expiry ms
//
// Returns 1 when taken, 0 when a lease exists (even an expired one: Claim
// returns its key to the queue first, so a dead worker's work is not lost).
var leaseKeyScript = redis.NewScript(`
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
return 1
`)

// Lease takes the lease of k for owner, as Claim would, whether or not k is
// queued: while it is held no worker claims k (a mark meanwhile stays queued
// and is due once the lease ends). ok is false when another claim holds k. End
// the lease with Ack (a mark that arrived meanwhile becomes due at once).
func (s *Store) Lease(ctx context.Context, k WorkKey, owner string, lease time.Duration) (c Claim, ok bool, err error) {
	if err := checkWorkKey(k.Tenant, k); err != nil {
		return Claim{}, false, fmt.Errorf("lease: %w", err)
	}
	if lease < time.Millisecond {
		return Claim{}, false, fmt.Errorf("lease: %v shorter than 1ms", lease)
	}
	now := queueScore(s.now())
	exp := now + lease.Milliseconds()
	c = Claim{Key: k, Token: rand.Text(), Owner: owner, Expires: scoreTime(exp), Due: scoreTime(now)}
	rec, err := json.Marshal(leaseRecord{Token: c.Token, Owner: owner, Expires: exp, Due: now})
	if err != nil {
		return Claim{}, false, fmt.Errorf("lease: encode: %w", err)
	}
	n, err := leaseKeyScript.Run(ctx, s.rdb, []string{leasesKey(k.Tenant), leaseExpiriesKey(k.Tenant)},
		k.Subject(), string(rec), exp).Int()
	if err != nil {
		return Claim{}, false, fmt.Errorf("lease %s in tenant %q: %w", k.Subject(), k.Tenant, err)
	}
	return c, n == 1, nil
}
