package connectors

import (
	"context"
	"fmt"

	"golang.org/x/sync/singleflight"
)

// SharedReads makes identical concurrent reads of one connector once: while a
// read of a key is under way, callers asking for the same key wait for it and
// share its result (single flight), so a listing several convergences need at
// the same moment costs one request.
//
// It never serves a result older than a write the caller depends on: a write
// that changes what a key reads calls Invalidate before it starts and after it
// ends, so a caller that asks after the write ended never joins a read that
// started before. Results are not kept after the read: this is not a cache.
// The zero value is ready; it is safe for concurrent use.
type SharedReads[V any] struct {
	g singleflight.Group
}

// Do returns the result of read for key, made by this call or shared with a
// call already under way. The read runs without the caller's cancellation
// (others may wait for it; the Client timeout bounds it), and each caller stops
// waiting when its own ctx ends. clone copies the value for each caller that
// shares it (nil: shared as is).
func (r *SharedReads[V]) Do(ctx context.Context, key string, read func(context.Context) (V, error), clone func(V) V) (V, error) {
	ch := r.g.DoChan(key, func() (any, error) {
		return read(context.WithoutCancel(ctx))
	})
	select {
	case res := <-ch:
		v, _ := res.Val.(V)
		if res.Shared && clone != nil && res.Err == nil {
			v = clone(v)
		}
		return v, res.Err
	case <-ctx.Done():
		var zero V
		return zero, fmt.Errorf("shared read: %w", ctx.Err())
	}
}

// Invalidate makes later calls for key read again instead of joining a read
// under way. Call it before and after every write that changes what key reads.
func (r *SharedReads[V]) Invalidate(key string) { r.g.Forget(key) }
