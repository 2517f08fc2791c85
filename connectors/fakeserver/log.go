package fakeserver

import (
	"slices"
	"sync"
)

// Log is the request log and the write counters of one fake server; R is the
// fake's own request entry type. The zero value is empty and ready. It is safe
// for concurrent use; a fake may call it while holding its own lock, so that a
// write and its count happen together.
type Log[R any] struct {
	mu         sync.Mutex
	requests   []R
	writes     int
	duplicates int
}

// Add appends one request to the log.
func (l *Log[R]) Add(r R) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.requests = append(l.requests, r)
}

// CountWrite counts one write that took effect.
func (l *Log[R]) CountWrite() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.writes++
}

// CountDuplicate counts one write that a client knowing the downstream state
// would never have sent (what counts is the fake's to say).
func (l *Log[R]) CountDuplicate() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.duplicates++
}

// Requests returns a copy of the log, oldest first.
func (l *Log[R]) Requests() []R {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.requests)
}

// Writes returns the number of CountWrite calls since the last Reset.
func (l *Log[R]) Writes() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.writes
}

// DuplicateWrites returns the number of CountDuplicate calls since the last Reset.
func (l *Log[R]) DuplicateWrites() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.duplicates
}

// Reset empties the log and zeroes both counters at once.
func (l *Log[R]) Reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.requests, l.writes, l.duplicates = nil, 0, 0
}
