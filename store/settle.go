package store

// Settling: a change is converged only after a quiet period of its subject, so
// a burst of changes (an IdP writing one user as several PATCHes, a group push
// touching every member) costs one downstream round.
//
//	sb:{t}:settle  HASH  queue member → "<first change ms>,<armed due ms>"
//
// The dirty marks themselves are unchanged (ZADD LT at the time of the change):
// a claimed key tells its earliest mark since the last release (Claim.Due). The
// worker asks Settle before converging; a key that must settle is released with
// Retry at the returned time. A mark arriving meanwhile pulls the key forward
// (ZADD LT), so the next claim sees a Due before the armed time: a change, which
// re-arms the quiet period — never beyond the maximum delay from the first
// unconverged change. A claim at or after the armed time with no mark since is
// settled: the entry goes and the worker converges.

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// settleKey holds the settling state of tenant's queue members.
func settleKey(tenant string) string { return key(tenant, "settle") }

// settleScript decides whether a claimed key converges now.
//
//	KEYS: settle hash
//	ARGV: member, claim due ms, now ms, quiet ms, max ms
//
// Returns 0 to converge now, else the due time (ms) to release the key to.
var settleScript = redis.NewScript(`
local m, cdue, now = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local quiet, maxd = tonumber(ARGV[4]), tonumber(ARGV[5])
local first = cdue
local v = redis.call('HGET', KEYS[1], m)
if v then
  local sep = string.find(v, ',', 1, true)
  local f, armed = tonumber(string.sub(v, 1, sep - 1)), tonumber(string.sub(v, sep + 1))
  if cdue >= armed then
    redis.call('HDEL', KEYS[1], m)
    return 0
  end
  first = f
end
local due = math.min(now + quiet, first + maxd)
if due <= now then
  redis.call('HDEL', KEYS[1], m)
  return 0
end
redis.call('HSET', KEYS[1], m, first .. ',' .. due)
return due
`)

// Settle decides whether the claimed key c converges now (zero time) or must
// first settle: then the caller releases it with Retry at the returned time,
// without converging. A key settles until quiet has passed since the last
// change seen, and never beyond maxDelay after the first change not yet
// converged. quiet <= 0 turns settling off.
func (s *Store) Settle(ctx context.Context, c Claim, quiet, maxDelay time.Duration) (time.Time, error) {
	if quiet <= 0 {
		return time.Time{}, nil
	}
	maxDelay = max(maxDelay, quiet)
	t := c.Key.Tenant
	due, err := settleScript.Run(ctx, s.rdb, []string{settleKey(t)},
		c.Key.Subject(), queueScore(c.Due), queueScore(s.now()), quiet.Milliseconds(), maxDelay.Milliseconds()).Int64()
	if err != nil {
		return time.Time{}, fmt.Errorf("settle %s in tenant %q: %w", c.Key.Subject(), t, err)
	}
	if due == 0 {
		return time.Time{}, nil
	}
	return scoreTime(due), nil
}

// Defer releases the claim c to due without converging it and without a new
// settling period at due: the claim at due converges at once unless a change
// arrives first (which settles as usual, counting from now). It is Retry for
// work put aside (a connector held by its downstream) rather than failed.
func (s *Store) Defer(ctx context.Context, c Claim, due time.Time) error {
	now := queueScore(s.now())
	if err := s.rdb.HSet(ctx, settleKey(c.Key.Tenant), c.Key.Subject(), fmt.Sprintf("%d,%d", now, queueScore(due))).Err(); err != nil {
		return fmt.Errorf("defer %s in tenant %q: %w", c.Key.Subject(), c.Key.Tenant, err)
	}
	return s.Retry(ctx, c, due)
}
