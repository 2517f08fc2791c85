package bimplus

import (
	"context"
	"fmt"
	"sync"
)

// memberLocks serialises the convergences of one member (by key) within a
// connector: each reads the cached project listings, decides and writes while
// holding its member's lock, so a second convergence of the same member
// decides only after the first one's writes are in the cache, and never adds
// the member twice. Convergences of different members run in parallel. An
// entry lives only while someone holds or waits for its key: memory is bounded
// by the convergences under way. The zero value is ready.
type memberLocks struct {
	mu   sync.Mutex
	keys map[string]*memberLock
}

// memberLock is one key's lock: a one-slot semaphore (so that a waiter can
// give up when its context ends) and the count of its holders and waiters.
type memberLock struct {
	sem  chan struct{}
	refs int
}

// lock waits for key and returns the function that releases it.
func (ls *memberLocks) lock(ctx context.Context, key string) (func(), error) {
	ls.mu.Lock()
	if ls.keys == nil {
		ls.keys = map[string]*memberLock{}
	}
	l := ls.keys[key]
	if l == nil {
		l = &memberLock{sem: make(chan struct{}, 1)}
		ls.keys[key] = l
	}
	l.refs++
	ls.mu.Unlock()

	select {
	case l.sem <- struct{}{}:
		return func() {
			<-l.sem
			ls.release(key, l)
		}, nil
	case <-ctx.Done():
		ls.release(key, l)
		return nil, fmt.Errorf("wait for another convergence of the member: %w", ctx.Err())
	}
}

// release drops one reference to l, and the entry with the last.
func (ls *memberLocks) release(key string, l *memberLock) {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	l.refs--
	if l.refs == 0 {
		delete(ls.keys, key)
	}
}
