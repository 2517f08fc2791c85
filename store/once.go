package store

// Idempotency and de-duplication keys: webhook event ids, downstream
// idempotency keys.

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
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
