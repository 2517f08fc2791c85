package store

// Locks: leader election per tenant (e.g. one reconcile leader among replicas),
// with fencing tokens. A lock is a Redis key with a TTL; every check-and-set is a
// Lua script, so a lock is only ever renewed or released by its holder.

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// ErrLocked: the lock is held by another owner.
var ErrLocked = errors.New("locked by another owner")

// ErrLockLost: the lock expired or was taken by another owner; the holder must
// stop acting as leader at once.
var ErrLockLost = errors.New("lock lost")

// Lock is a held lock.
type Lock struct {
	Tenant string
	Name   string
	Owner  string
	// Token is the fencing token: it increases with every acquisition of the
	// lock by a new holder, so a downstream that remembers the highest token it
	// saw can refuse a stale leader.
	Token int64
	// Expires is when the lock frees itself unless renewed, by the store's
	// clock (the TTL itself runs on the Redis server).
	Expires time.Time
}

func checkLockName(tenant, name, owner string) error {
	switch {
	case tenant == "":
		return errors.New("empty tenant")
	case name == "" || strings.HasSuffix(name, ":fence"):
		return fmt.Errorf("lock name %q: must be non-empty and not end in \":fence\"", name)
	case owner == "":
		return errors.New("empty lock owner")
	}
	return nil
}

// acquireLockScript takes a free lock with a new fencing token.
//
//	KEYS: lock, fence
//	ARGV: owner, ttl ms
//
// Returns {1, token} when acquired (or already held by owner: then its TTL is
// renewed and its token kept), {0, token} when held by another owner.
var acquireLockScript = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
if v then
  local sep = string.find(v, '|', 1, true)
  local tok = string.sub(v, 1, sep - 1)
  if string.sub(v, sep + 1) == ARGV[1] then
    redis.call('PEXPIRE', KEYS[1], ARGV[2])
    return {1, tok}
  end
  return {0, tok}
end
local tok = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], tok .. '|' .. ARGV[1], 'PX', ARGV[2])
return {1, tok}
`)

// renewLockScript renews, or with ARGV[2] == "" releases, a lock still holding ARGV[1].
var renewLockScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[2] == '' then
  redis.call('DEL', KEYS[1])
else
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 1
`)

func lockValue(token int64, owner string) string {
	return strconv.FormatInt(token, 10) + "|" + owner
}

// AcquireLock takes tenant's lock name for owner, for ttl. It fails with
// ErrLocked when another owner holds it. A new holder gets a fencing token one
// higher than any before (INCR, never reset); an owner acquiring a lock it
// already holds renews it and keeps its token. The lock of a holder that stops
// renewing frees itself after ttl. owner must identify one holder (e.g.
// host+pid+random); name must not end in ":fence".
func (s *Store) AcquireLock(ctx context.Context, tenant, name, owner string, ttl time.Duration) (*Lock, error) {
	if err := checkLockName(tenant, name, owner); err != nil {
		return nil, fmt.Errorf("acquire lock: %w", err)
	}
	if ttl < time.Millisecond {
		return nil, fmt.Errorf("acquire lock %s: ttl %v shorter than 1ms", name, ttl)
	}
	now := s.now()
	res, err := acquireLockScript.Run(ctx, s.rdb,
		[]string{lockKey(tenant, name), lockFenceKey(tenant, name)},
		owner, ttl.Milliseconds()).Slice()
	if err != nil {
		return nil, fmt.Errorf("acquire lock %s in tenant %q: %w", name, tenant, err)
	}
	if len(res) != 2 {
		return nil, fmt.Errorf("acquire lock %s in tenant %q: malformed reply", name, tenant)
	}
	tok, err := strconv.ParseInt(fmt.Sprint(res[1]), 10, 64)
	if err != nil {
		return nil, fmt.Errorf("acquire lock %s in tenant %q: token: %w", name, tenant, err)
	}
	if ok, _ := res[0].(int64); ok != 1 {
		return nil, fmt.Errorf("acquire lock %s in tenant %q: %w", name, tenant, ErrLocked)
	}
	return &Lock{Tenant: tenant, Name: name, Owner: owner, Token: tok, Expires: now.Add(ttl)}, nil
}

// RenewLock extends l to ttl from now and updates l.Expires. ErrLockLost when l
// is no longer held (it expired, possibly taken by another owner since).
func (s *Store) RenewLock(ctx context.Context, l *Lock, ttl time.Duration) error {
	if l == nil {
		return errors.New("renew lock: nil lock")
	}
	if ttl < time.Millisecond {
		return fmt.Errorf("renew lock %s: ttl %v shorter than 1ms", l.Name, ttl)
	}
	now := s.now()
	if err := s.casLock(ctx, l, strconv.FormatInt(ttl.Milliseconds(), 10), "renew"); err != nil {
		return err
	}
	l.Expires = now.Add(ttl)
	return nil
}

// ReleaseLock frees l if it is still held by l (same owner and token), so
// another owner can acquire it at once. ErrLockLost when it is not: nothing is
// changed then, and a lock now held by someone else stays theirs.
func (s *Store) ReleaseLock(ctx context.Context, l *Lock) error {
	if l == nil {
		return errors.New("release lock: nil lock")
	}
	return s.casLock(ctx, l, "", "release")
}

func (s *Store) casLock(ctx context.Context, l *Lock, ttlMS, op string) error {
	if err := checkLockName(l.Tenant, l.Name, l.Owner); err != nil {
		return fmt.Errorf("%s lock: %w", op, err)
	}
	ok, err := renewLockScript.Run(ctx, s.rdb, []string{lockKey(l.Tenant, l.Name)},
		lockValue(l.Token, l.Owner), ttlMS).Int()
	if err != nil {
		return fmt.Errorf("%s lock %s in tenant %q: %w", op, l.Name, l.Tenant, err)
	}
	if ok != 1 {
		return fmt.Errorf("%s lock %s in tenant %q: %w", op, l.Name, l.Tenant, ErrLockLost)
	}
	return nil
}

// LockHolder reports who holds tenant's lock name and with which fencing token,
// for status pages. owner is "" (and token 0) when the lock is free.
func (s *Store) LockHolder(ctx context.Context, tenant, name string) (owner string, token int64, err error) {
	v, err := s.rdb.Get(ctx, lockKey(tenant, name)).Result()
	if errors.Is(err, redis.Nil) {
		return "", 0, nil
	}
	if err != nil {
		return "", 0, fmt.Errorf("lock holder of %s in tenant %q: %w", name, tenant, err)
	}
	tok, own, ok := strings.Cut(v, "|")
	if !ok {
		return "", 0, fmt.Errorf("lock holder of %s in tenant %q: malformed value", name, tenant)
	}
	token, err = strconv.ParseInt(tok, 10, 64)
	if err != nil {
		return "", 0, fmt.Errorf("lock holder of %s in tenant %q: token: %w", name, tenant, err)
	}
	return own, token, nil
}
