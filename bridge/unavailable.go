package bridge

import (
	"context"
	"errors"
	"net"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
)

// unavailableRetryAfter is the Retry-After of a 503 while the store is down.
const unavailableRetryAfter = 5 * time.Second

// storeUnavailable classifies a store error as "Redis is down, loading or
// failing over": the SCIM and admin endpoints answer 503 with Retry-After,
// the sync workers pause and retry their writes.
func storeUnavailable(err error) (time.Duration, bool) {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return 0, false
	}
	var ne net.Error
	switch {
	case redis.IsLoadingError(err), redis.IsTryAgainError(err), redis.IsClusterDownError(err),
		redis.IsMasterDownError(err), redis.IsReadOnlyError(err),
		errors.Is(err, redis.ErrClosed), errors.Is(err, redis.ErrPoolTimeout),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.As(err, &ne):
		return unavailableRetryAfter, true
	}
	return 0, false
}
