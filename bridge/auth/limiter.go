package auth

import (
	"container/list"
	"net/netip"
	"sync"
	"time"
)

// Limiter defaults.
const (
	DefaultMaxFailures  = 10
	DefaultFailWindow   = time.Minute
	DefaultMaxAddresses = 10000
)

// LimiterOptions configure a Limiter; zero values take the defaults.
type LimiterOptions struct {
	// MaxFailures is the number of failed attempts an address may make per
	// window; the next request is refused with 429. Default DefaultMaxFailures.
	MaxFailures int
	// Window is the length of a counting window. Default DefaultFailWindow.
	Window time.Duration
	// MaxAddresses bounds memory: past it, the least recently seen address
	// is forgotten. Default DefaultMaxAddresses.
	MaxAddresses int
	// Exempt are prefixes never limited (e.g. an IdP's published egress
	// ranges shared with other customers of that IdP).
	Exempt []netip.Prefix
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Limiter counts failed authentication attempts per source address and
// refuses an address that made too many in the current window. Only the
// failing address is refused: the requests of any other address, valid or
// not, are never affected. IPv6 addresses are counted per /64 (one host
// usually owns the whole prefix), IPv4 per address. Memory is bounded by
// MaxAddresses (least recently seen forgotten first). Safe for concurrent use.
type Limiter struct {
	max    int
	window time.Duration
	cap    int
	exempt []netip.Prefix
	now    func() time.Time

	mu      sync.RWMutex // Check, on every request, only reads
	entries map[netip.Prefix]*list.Element
	lru     list.List // of *limitEntry, most recent at the front
}

type limitEntry struct {
	key   netip.Prefix
	start time.Time
	count int
}

// NewLimiter returns a Limiter.
func NewLimiter(o LimiterOptions) *Limiter {
	l := &Limiter{
		max:     o.MaxFailures,
		window:  o.Window,
		cap:     o.MaxAddresses,
		exempt:  o.Exempt,
		now:     o.Now,
		entries: map[netip.Prefix]*list.Element{},
	}
	if l.max <= 0 {
		l.max = DefaultMaxFailures
	}
	if l.window <= 0 {
		l.window = DefaultFailWindow
	}
	if l.cap <= 0 {
		l.cap = DefaultMaxAddresses
	}
	if l.now == nil {
		l.now = time.Now
	}
	return l
}

// limitKey is the unit an address is counted in.
func limitKey(a netip.Addr) netip.Prefix {
	a = a.Unmap()
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p
	}
	return netip.PrefixFrom(a, a.BitLen())
}

func (l *Limiter) exempted(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range l.exempt {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// Check reports whether addr may attempt to authenticate now; when it may
// not, it returns how long until it may.
func (l *Limiter) Check(addr netip.Addr) (retryAfter time.Duration, ok bool) {
	if l.exempted(addr) {
		return 0, true
	}
	now := l.now()
	l.mu.RLock()
	defer l.mu.RUnlock()
	el, found := l.entries[limitKey(addr)]
	if !found {
		return 0, true
	}
	e := el.Value.(*limitEntry)
	end := e.start.Add(l.window)
	if !now.Before(end) || e.count < l.max {
		return 0, true
	}
	return end.Sub(now), false
}

// Fail records a failed attempt of addr and reports whether this failure
// made the address reach the limit (to log the block once).
func (l *Limiter) Fail(addr netip.Addr) (blocked bool) {
	if l.exempted(addr) {
		return false
	}
	now := l.now()
	key := limitKey(addr)
	l.mu.Lock()
	defer l.mu.Unlock()
	el, found := l.entries[key]
	if !found {
		if l.lru.Len() >= l.cap {
			oldest := l.lru.Back()
			delete(l.entries, oldest.Value.(*limitEntry).key)
			l.lru.Remove(oldest)
		}
		el = l.lru.PushFront(&limitEntry{key: key, start: now})
		l.entries[key] = el
	} else {
		l.lru.MoveToFront(el)
	}
	e := el.Value.(*limitEntry)
	if !now.Before(e.start.Add(l.window)) {
		e.start, e.count = now, 0
	}
	e.count++
	return e.count == l.max
}

// Len returns the number of addresses remembered.
func (l *Limiter) Len() int {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.lru.Len()
}
