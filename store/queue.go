package store

// The work queue: per tenant, level-triggered, de-duplicated.
//
// The queue holds keys ("<Kind>|<id>"), never change payloads; a worker reads the
// current desired state when it processes a key. Each key is present at most once
// (a sorted-set member), scored by the unix-millisecond time it is due, so marking a
// key dirty many times before a worker reaches it costs one unit of work.
//
// A worker Claims due keys under a lease (owner, random token, expiry). While a
// key is leased it is never handed to another worker: a mark that arrives during
// the lease stays in the queue and becomes due again when the lease is released
// (Ack / Retry) or expires. A worker that dies loses its leases at expiry and the
// keys return to the queue. All times come from the Store's clock.

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// ErrLeaseLost: the claim's lease is no longer held by that claim (it expired and
// another worker claimed the key, or it was already released). The caller must
// stop acting on the claim; the current holder, if any, processes the key.
var ErrLeaseLost = errors.New("lease lost")

// Claim is one leased work item, returned by Store.Claim.
type Claim struct {
	Key     WorkKey
	Token   string    // random, unique per claim; proves ownership to Ack, Retry and Extend
	Owner   string    // the owner passed to Claim
	Expires time.Time // lease expiry (millisecond precision)
	Due     time.Time // the due time (queue score) the key had when it was claimed
}

// QueueStats describes a tenant's work queue at one instant.
type QueueStats struct {
	Pending   int       // keys waiting in the queue, due or not (a key re-marked while leased counts here too)
	Due       int       // pending keys whose due time is not after now
	Leased    int       // keys currently held by a worker (including expired leases not yet reclaimed)
	OldestDue time.Time // earliest due time among pending keys; zero when none is pending
}

// markBatch bounds the members sent in one ZADD.
const markBatch = 1000

// reclaimBatch bounds the expired leases one Claim returns to the queue.
const reclaimBatch = 1000

// Subject is the key in queue-member form, "<Kind>|<id>", also used as the
// subject of sync state and dead letters.
func (k WorkKey) Subject() string { return queueMember(k.Kind, k.ID) }

// ParseSubject decodes a queue member / sync subject "<Kind>|<id>" of tenant back
// into its WorkKey. The kind is everything before the first "|".
func ParseSubject(tenant, subject string) (WorkKey, error) {
	kind, id, ok := strings.Cut(subject, "|")
	if !ok || kind == "" || id == "" {
		return WorkKey{}, fmt.Errorf("parse subject %q: want \"<kind>|<id>\"", subject)
	}
	return WorkKey{Tenant: tenant, Kind: kind, ID: id}, nil
}

// checkWorkKey reports whether k can be queued in tenant.
func checkWorkKey(tenant string, k WorkKey) error {
	switch {
	case tenant == "":
		return errors.New("empty tenant")
	case k.Tenant != tenant:
		return fmt.Errorf("work key %s of tenant %q queued in tenant %q", k.Subject(), k.Tenant, tenant)
	case k.Kind == "" || strings.Contains(k.Kind, "|"):
		return fmt.Errorf("work key kind %q: must be non-empty and contain no \"|\"", k.Kind)
	case k.ID == "":
		return fmt.Errorf("work key %s: empty id", k.Kind)
	}
	return nil
}

// queueScore is the sorted-set score of t: unix milliseconds.
func queueScore(t time.Time) int64 { return t.UnixMilli() }

// scoreTime is the inverse of queueScore.
func scoreTime(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

// parseScore reads a score as Redis (or a Lua script) prints it.
func parseScore(s string) (int64, error) {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, fmt.Errorf("parse score %q: %w", s, err)
	}
	return int64(math.Round(f)), nil
}

// MarkDirty makes each key due now in tenant's queue. It is idempotent and
// de-duplicating: a key already pending stays once, and keeps its due time when
// that is earlier (ZADD LT); a key scheduled for a later retry is pulled forward
// to now, because a new change should be processed promptly. Marking a key that
// a worker holds leaves it pending: it is processed again after the lease ends,
// never concurrently. Every key must belong to tenant.
func (s *Store) MarkDirty(ctx context.Context, tenant string, keys ...WorkKey) error {
	if len(keys) == 0 {
		return nil
	}
	for _, k := range keys {
		if err := checkWorkKey(tenant, k); err != nil {
			return fmt.Errorf("mark dirty: %w", err)
		}
	}
	now := float64(queueScore(s.now()))
	qk := queueKey(tenant)
	if len(keys) <= markBatch {
		if err := s.rdb.ZAddLT(ctx, qk, dirtyScores(keys, now)...).Err(); err != nil {
			return fmt.Errorf("mark dirty in tenant %q: %w", tenant, err)
		}
		return nil
	}
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i := 0; i < len(keys); i += markBatch {
			p.ZAddLT(ctx, qk, dirtyScores(keys[i:min(i+markBatch, len(keys))], now)...)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("mark dirty in tenant %q: %w", tenant, err)
	}
	return nil
}

func dirtyScores(keys []WorkKey, score float64) []redis.Z {
	zs := make([]redis.Z, len(keys))
	for i, k := range keys {
		zs[i] = redis.Z{Score: score, Member: k.Subject()}
	}
	return zs
}

// claimScript returns expired leases to the queue, then leases up to max due keys.
//
//	KEYS: queue, leases, leasez
//	ARGV: now ms, lease expiry ms, max, owner as a JSON string, token prefix, reclaim limit
//
// A due key that is still leased (it was re-marked during its lease) is not
// handed out: its score is pushed to its lease expiry, so it is due again when
// that lease ends (release pulls it back to the release time). Returns a flat
// array member, score, token for each claimed key.
var claimScript = redis.NewScript(`
local now = tonumber(ARGV[1])
local expired = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[6]))
for _, m in ipairs(expired) do
  redis.call('ZREM', KEYS[3], m)
  redis.call('HDEL', KEYS[2], m)
  redis.call('ZADD', KEYS[1], 'LT', ARGV[1], m)
end
local max = tonumber(ARGV[3])
local out = {}
local n = 0
while n < max do
  local batch = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'WITHSCORES', 'LIMIT', 0, max - n)
  if #batch == 0 then break end
  for i = 1, #batch, 2 do
    local m, score = batch[i], batch[i + 1]
    local lexp = redis.call('ZSCORE', KEYS[3], m)
    if lexp and tonumber(lexp) > now then
      redis.call('ZADD', KEYS[1], lexp, m)
    else
      n = n + 1
      local tok = ARGV[5] .. '-' .. n
      redis.call('ZREM', KEYS[1], m)
      redis.call('HSET', KEYS[2], m, '{"token":"' .. tok .. '","owner":' .. ARGV[4] .. ',"expires":' .. ARGV[2] .. ',"due":' .. score .. '}')
      redis.call('ZADD', KEYS[3], ARGV[2], m)
      out[#out + 1] = m
      out[#out + 1] = score
      out[#out + 1] = tok
    end
  end
end
return out
`)

// Claim leases up to max keys of tenant that are due now, oldest due first, to
// owner for the lease duration, in one atomic step. Expired leases are first
// returned to the queue (due now, keeping an earlier due time), so the keys of a
// dead worker are taken over. A key is never held by two claims at once: a key
// re-marked while leased is skipped until its lease ends. Claimed keys leave the
// queue; the worker must end each claim with Ack or Retry (or let it expire).
// Returns no claims (and no error) when nothing is due; max <= 0 claims nothing.
func (s *Store) Claim(ctx context.Context, tenant, owner string, lease time.Duration, max int) ([]Claim, error) {
	if tenant == "" {
		return nil, errors.New("claim: empty tenant")
	}
	if lease < time.Millisecond {
		return nil, fmt.Errorf("claim: lease %v shorter than 1ms", lease)
	}
	if max <= 0 {
		return nil, nil
	}
	ownerJSON, err := json.Marshal(owner)
	if err != nil {
		return nil, fmt.Errorf("claim: encode owner: %w", err)
	}
	now := queueScore(s.now())
	exp := now + lease.Milliseconds()
	prefix := rand.Text()
	res, err := claimScript.Run(ctx, s.rdb,
		[]string{queueKey(tenant), leasesKey(tenant), leaseExpiriesKey(tenant)},
		now, exp, max, string(ownerJSON), prefix, reclaimBatch).StringSlice()
	if err != nil {
		return nil, fmt.Errorf("claim in tenant %q: %w", tenant, err)
	}
	if len(res)%3 != 0 {
		return nil, fmt.Errorf("claim in tenant %q: malformed reply of %d items", tenant, len(res))
	}
	claims := make([]Claim, 0, len(res)/3)
	for i := 0; i < len(res); i += 3 {
		k, err := ParseSubject(tenant, res[i])
		if err != nil {
			return nil, fmt.Errorf("claim in tenant %q: %w", tenant, err)
		}
		due, err := parseScore(res[i+1])
		if err != nil {
			return nil, fmt.Errorf("claim in tenant %q: %w", tenant, err)
		}
		claims = append(claims, Claim{
			Key: k, Token: res[i+2], Owner: owner,
			Expires: scoreTime(exp), Due: scoreTime(due),
		})
	}
	return claims, nil
}

// QueueStats reports the size of tenant's queue and leases (see QueueStats).
func (s *Store) QueueStats(ctx context.Context, tenant string) (QueueStats, error) {
	now := strconv.FormatInt(queueScore(s.now()), 10)
	qk := queueKey(tenant)
	var (
		card   *redis.IntCmd
		due    *redis.IntCmd
		leased *redis.IntCmd
		first  *redis.ZSliceCmd
	)
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		card = p.ZCard(ctx, qk)
		due = p.ZCount(ctx, qk, "-inf", now)
		leased = p.HLen(ctx, leasesKey(tenant))
		first = p.ZRangeWithScores(ctx, qk, 0, 0)
		return nil
	})
	if err != nil {
		return QueueStats{}, fmt.Errorf("queue stats of tenant %q: %w", tenant, err)
	}
	st := QueueStats{Pending: int(card.Val()), Due: int(due.Val()), Leased: int(leased.Val())}
	if z := first.Val(); len(z) > 0 {
		st.OldestDue = scoreTime(int64(math.Round(z[0].Score)))
	}
	return st, nil
}

// NextDue reports when tenant's queue next needs a worker: the earliest due time
// of a pending key or, if earlier, the earliest lease expiry (an expired lease
// returns its key to the queue). ok is false when the queue and the leases are
// both empty. The time may be in the past: work is due now.
func (s *Store) NextDue(ctx context.Context, tenant string) (next time.Time, ok bool, err error) {
	var q, l *redis.ZSliceCmd
	_, err = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		q = p.ZRangeWithScores(ctx, queueKey(tenant), 0, 0)
		l = p.ZRangeWithScores(ctx, leaseExpiriesKey(tenant), 0, 0)
		return nil
	})
	if err != nil {
		return time.Time{}, false, fmt.Errorf("next due of tenant %q: %w", tenant, err)
	}
	best := int64(math.MaxInt64)
	for _, z := range [][]redis.Z{q.Val(), l.Val()} {
		if len(z) > 0 {
			ok = true
			best = min(best, int64(math.Round(z[0].Score)))
		}
	}
	if !ok {
		return time.Time{}, false, nil
	}
	return scoreTime(best), true, nil
}
