package bimdata

import (
	"sync"
	"time"
)

// answeredMemory is how long a successful answer is remembered: far longer than
// one convergence, which may still hold an invitation listing read before it.
const answeredMemory = 10 * time.Minute

// answered remembers the invitations this connector is answering or has just
// answered, so two convergences of one process — a user's (which works from the
// cached listing) and the invitation's own (a webhook) — never both accept or
// deny the same invitation.
type answered struct {
	mu  sync.Mutex
	ids map[flexID]time.Time // zero time: being answered
}

// claim reports whether the caller may answer id; false means another
// convergence of this connector did it recently or is doing it now.
func (a *answered) claim(id flexID, now time.Time) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.ids == nil {
		a.ids = map[flexID]time.Time{}
	}
	if at, taken := a.ids[id]; taken && (at.IsZero() || now.Sub(at) < answeredMemory) {
		return false
	}
	if len(a.ids) >= 4096 {
		for k, at := range a.ids {
			if !at.IsZero() && now.Sub(at) >= answeredMemory {
				delete(a.ids, k)
			}
		}
	}
	a.ids[id] = time.Time{}
	return true
}

// done records a successful answer at now.
func (a *answered) done(id flexID, now time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.ids[id] = now
}

// release forgets id after a failed answer, so a retry may answer it.
func (a *answered) release(id flexID) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.ids, id)
}
