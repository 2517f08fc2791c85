package store

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/redis/go-redis/v9"
)

// QueueHead is what an overview shows of a tenant's queue, read without
// counting by score: on Redis every part is O(1) or O(log N), so a status
// page costs the same on a queue of ten keys or of a million.
type QueueHead struct {
	Pending   int       // keys waiting in the queue, due or not
	Leased    int       // keys currently held by a worker (including expired leases not yet reclaimed)
	OldestDue time.Time // earliest due time among pending keys; zero when none is pending
}

// QueueHead reports the size of tenant's queue, its leases and its earliest
// due time in one round trip (QueueStats without the count of due keys, the
// one part that grows with the queue).
func (s *Store) QueueHead(ctx context.Context, tenant string) (QueueHead, error) {
	qk := queueKey(tenant)
	var (
		card, leased *redis.IntCmd
		first        *redis.ZSliceCmd
	)
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		card = p.ZCard(ctx, qk)
		leased = p.HLen(ctx, leasesKey(tenant))
		first = p.ZRangeWithScores(ctx, qk, 0, 0)
		return nil
	})
	if err != nil {
		return QueueHead{}, fmt.Errorf("queue head of tenant %q: %w", tenant, err)
	}
	h := QueueHead{Pending: int(card.Val()), Leased: int(leased.Val())}
	if z := first.Val(); len(z) > 0 {
		h.OldestDue = scoreTime(int64(math.Round(z[0].Score)))
	}
	return h, nil
}
