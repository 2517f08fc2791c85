package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// DueAt reports when key is due in tenant's work queue (ok false when it is not
// queued) and whether a worker holds it right now.
func (s *Store) DueAt(ctx context.Context, k WorkKey) (due time.Time, ok, leased bool, err error) {
	if err := checkWorkKey(k.Tenant, k); err != nil {
		return time.Time{}, false, false, err
	}
	pipe := s.rdb.Pipeline()
	score := pipe.ZScore(ctx, queueKey(k.Tenant), k.Subject())
	lease := pipe.HExists(ctx, leasesKey(k.Tenant), k.Subject())
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return time.Time{}, false, false, fmt.Errorf("due time of %s: %w", k.Subject(), err)
	}
	leased = lease.Val()
	if score.Err() != nil {
		return time.Time{}, false, leased, nil
	}
	return scoreTime(int64(score.Val())), true, leased, nil
}
