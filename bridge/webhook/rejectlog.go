package webhook

import (
	"sync"
	"time"
)

// rejectLogInterval is how often a connector's rejected deliveries are logged.
const rejectLogInterval = time.Minute

// rejectLog bounds the log lines of rejected deliveries (bad signatures,
// which anyone can send): the first of a tenant's connector in each interval
// is logged, with how many went unlogged since the previous line, so a flood
// costs a line a minute while a misconfigured secret still shows at once.
// Keys are configured tenant and connector names: its memory is bounded.
type rejectLog struct {
	mu   sync.Mutex
	last map[[2]string]*rejectCount
}

type rejectCount struct {
	at       time.Time // of the last line logged
	unlogged int       // rejects since, not logged
}

// note counts one reject of tenant's connector at now and reports whether
// to log it, with the number of rejects not logged since the previous line.
func (l *rejectLog) note(tenant, connector string, now time.Time) (unlogged int, log bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	key := [2]string{tenant, connector}
	c := l.last[key]
	if c != nil && now.Sub(c.at) < rejectLogInterval && !now.Before(c.at) {
		c.unlogged++
		return 0, false
	}
	if l.last == nil {
		l.last = map[[2]string]*rejectCount{}
	}
	if c != nil {
		unlogged = c.unlogged
	}
	l.last[key] = &rejectCount{at: now}
	return unlogged, true
}
