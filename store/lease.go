package store

// Leases of claimed work items: release (Ack, Retry) and renewal (Extend).

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// releaseScript ends a lease if the token still matches.
//
//	KEYS: queue, leases, leasez
//	ARGV: member, token, now ms, retry due ms ("" for a plain release)
//
// A mark that arrived during the lease left the key in the queue (possibly with
// its score pushed to the lease expiry by a Claim): it becomes due now. A retry
// then schedules the key with ZADD LT, so such a newer mark wins. Returns 1 when
// released, 0 when the lease is not this token's.
var releaseScript = redis.NewScript(`
local v = redis.call('HGET', KEYS[2], ARGV[1])
if not v then return 0 end
if cjson.decode(v)['token'] ~= ARGV[2] then return 0 end
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
local s = redis.call('ZSCORE', KEYS[1], ARGV[1])
if s and tonumber(s) > tonumber(ARGV[3]) then
  redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
end
if ARGV[4] ~= '' then
  redis.call('ZADD', KEYS[1], 'LT', ARGV[4], ARGV[1])
end
return 1
`)

// extendScript renews a lease if the token still matches.
//
//	KEYS: leases, leasez
//	ARGV: member, token, new lease JSON, new expiry ms
var extendScript = redis.NewScript(`
local v = redis.call('HGET', KEYS[1], ARGV[1])
if not v then return 0 end
if cjson.decode(v)['token'] ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[1])
return 1
`)

// leaseRecord is the value of a lease in the leases hash.
type leaseRecord struct {
	Token   string `json:"token"`
	Owner   string `json:"owner"`
	Expires int64  `json:"expires"` // unix ms
	Due     int64  `json:"due"`     // unix ms the key was due when claimed
}

// Ack ends the claim: the key was processed. It fails with ErrLeaseLost when the
// claim no longer holds the lease (another worker claimed the key after the
// lease expired, or the claim was already released); nothing changes then. A
// lease past its expiry that no Claim has taken over yet is still honoured.
// If the key was marked dirty while leased it stays pending, due now, and will be
// processed again once (however many marks arrived).
func (s *Store) Ack(ctx context.Context, c Claim) error {
	return s.release(ctx, c, "", "ack")
}

// Retry ends the claim and schedules the key again at due (e.g. after a
// retryable downstream error). A mark that arrived during the lease, or arrives
// before due, keeps the earlier time (ZADD LT): a new change is processed
// promptly. ErrLeaseLost as for Ack; nothing is scheduled then, because the
// current holder processes the key.
func (s *Store) Retry(ctx context.Context, c Claim, due time.Time) error {
	return s.release(ctx, c, fmt.Sprint(queueScore(due)), "retry")
}

func (s *Store) release(ctx context.Context, c Claim, due, op string) error {
	if err := checkWorkKey(c.Key.Tenant, c.Key); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	t := c.Key.Tenant
	ok, err := releaseScript.Run(ctx, s.rdb,
		[]string{queueKey(t), leasesKey(t), leaseExpiriesKey(t)},
		c.Key.Subject(), c.Token, queueScore(s.now()), due).Int()
	if err != nil {
		return fmt.Errorf("%s %s in tenant %q: %w", op, c.Key.Subject(), t, err)
	}
	if ok != 1 {
		return fmt.Errorf("%s %s in tenant %q: %w", op, c.Key.Subject(), t, ErrLeaseLost)
	}
	return nil
}

// Extend renews the claim's lease to lease from now, for work that takes longer
// than the lease Claim granted. c itself is not changed: its new expiry is the
// Store clock's now plus lease. ErrLeaseLost when the claim no longer holds the
// lease (as for Ack).
func (s *Store) Extend(ctx context.Context, c Claim, lease time.Duration) error {
	if err := checkWorkKey(c.Key.Tenant, c.Key); err != nil {
		return fmt.Errorf("extend: %w", err)
	}
	if lease < time.Millisecond {
		return fmt.Errorf("extend: lease %v shorter than 1ms", lease)
	}
	t := c.Key.Tenant
	exp := queueScore(s.now()) + lease.Milliseconds()
	rec, err := json.Marshal(leaseRecord{Token: c.Token, Owner: c.Owner, Expires: exp, Due: queueScore(c.Due)})
	if err != nil {
		return fmt.Errorf("extend: encode lease: %w", err)
	}
	ok, err := extendScript.Run(ctx, s.rdb,
		[]string{leasesKey(t), leaseExpiriesKey(t)},
		c.Key.Subject(), c.Token, string(rec), exp).Int()
	if err != nil {
		return fmt.Errorf("extend %s in tenant %q: %w", c.Key.Subject(), t, err)
	}
	if ok != 1 {
		return fmt.Errorf("extend %s in tenant %q: %w", c.Key.Subject(), t, ErrLeaseLost)
	}
	return nil
}
