package store

// Idempotency and de-duplication keys: webhook event ids, downstream
// idempotency keys.

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

func checkOnceID(tenant, namespace, id string) error {
	switch {
	case tenant == "":
		return errors.New("empty tenant")
	case namespace == "" || strings.Contains(namespace, "|"):
		return fmt.Errorf("namespace %q: must be non-empty and contain no \"|\"", namespace)
	case id == "":
		return errors.New("empty id")
	}
	return nil
}

// Once records id in tenant's namespace (e.g. "webhook:bimdata") for ttl and
// reports whether this call was the first to do so (SET NX PX, atomic across
// replicas): the caller acts only when first is true. After ttl, or Forget, the
// id counts as new again. The TTL runs on the Redis server's clock (on the
// embedded store it advances with the store's ticker). The namespace must not
// contain "|"; the id may be anything and is never logged by the store.
func (s *Store) Once(ctx context.Context, tenant, namespace, id string, ttl time.Duration) (first bool, err error) {
	if err := checkOnceID(tenant, namespace, id); err != nil {
		return false, fmt.Errorf("once: %w", err)
	}
	if ttl < time.Millisecond {
		return false, fmt.Errorf("once in %s: ttl %v shorter than 1ms", namespace, ttl)
	}
	first, err = s.rdb.SetNX(ctx, onceKey(tenant, namespace, id), queueScore(s.now()), ttl).Result()
	if err != nil {
		return false, fmt.Errorf("once in %s of tenant %q: %w", namespace, tenant, err)
	}
	return first, nil
}

// Forget removes id from tenant's namespace, so the next Once for it is first
// again (e.g. when acting on a first delivery failed and a redelivery must be
// processed). Forgetting an unknown id is not an error.
func (s *Store) Forget(ctx context.Context, tenant, namespace, id string) error {
	if err := checkOnceID(tenant, namespace, id); err != nil {
		return fmt.Errorf("forget: %w", err)
	}
	if err := s.rdb.Del(ctx, onceKey(tenant, namespace, id)).Err(); err != nil {
		return fmt.Errorf("forget in %s of tenant %q: %w", namespace, tenant, err)
	}
	return nil
}

// markOnceScript records an id and marks work keys dirty in one step.
//
//	KEYS: once key, queue key
//	ARGV: ttl ms, score (now ms), members...
var markOnceScript = redis.NewScript(`
if not redis.call('SET', KEYS[1], ARGV[2], 'NX', 'PX', ARGV[1]) then return 0 end
for i = 3, #ARGV do redis.call('ZADD', KEYS[2], 'LT', ARGV[2], ARGV[i]) end
return 1
`)

// MarkDirtyOnce is Once and MarkDirty in one atomic step: when id is new in
// tenant's namespace it is recorded for ttl and keys are marked dirty (first is
// true); when it was seen before nothing happens. A crash can therefore never
// record an event without its marks, nor mark twice for one event.
func (s *Store) MarkDirtyOnce(ctx context.Context, tenant, namespace, id string, ttl time.Duration, keys ...WorkKey) (first bool, err error) {
	if err := checkOnceID(tenant, namespace, id); err != nil {
		return false, fmt.Errorf("mark dirty once: %w", err)
	}
	if ttl < time.Millisecond {
		return false, fmt.Errorf("mark dirty once in %s: ttl %v shorter than 1ms", namespace, ttl)
	}
	for _, k := range keys {
		if err := checkWorkKey(tenant, k); err != nil {
			return false, fmt.Errorf("mark dirty once: %w", err)
		}
	}
	args := make([]any, 0, 2+len(keys))
	args = append(args, ttl.Milliseconds(), queueScore(s.now()))
	for _, k := range keys {
		args = append(args, k.Subject())
	}
	n, err := markOnceScript.Run(ctx, s.rdb, []string{onceKey(tenant, namespace, id), queueKey(tenant)}, args...).Int()
	if err != nil {
		return false, fmt.Errorf("mark dirty once in %s of tenant %q: %w", namespace, tenant, err)
	}
	return n == 1, nil
}

// Seen reports whether id is currently recorded in tenant's namespace (by Once
// or MarkDirtyOnce). It is a read: callers that must act once still decide with
// Once or MarkDirtyOnce.
func (s *Store) Seen(ctx context.Context, tenant, namespace, id string) (bool, error) {
	if err := checkOnceID(tenant, namespace, id); err != nil {
		return false, fmt.Errorf("seen: %w", err)
	}
	n, err := s.rdb.Exists(ctx, onceKey(tenant, namespace, id)).Result()
	if err != nil {
		return false, fmt.Errorf("seen in %s of tenant %q: %w", namespace, tenant, err)
	}
	return n == 1, nil
}
