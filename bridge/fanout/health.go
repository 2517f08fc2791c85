package fanout

// Health of a downstream as the worker sees it: a sliding window of the recent
// outcomes of the convergences of each (tenant, connector), in time buckets of
// the worker's clock. The retry policy (retry.go) reads its success ratio to
// tell a sporadic error of an API that mostly succeeds (retried within
// seconds) from an API failing broadly (exponential backoff up to the cap).

import (
	"sync"
	"time"
)

const (
	// healthBucket and healthBuckets make the window: outcomes older than
	// healthBucket·healthBuckets no longer count.
	healthBucket  = 5 * time.Second
	healthBuckets = 12
	// healthMinSamples: with fewer outcomes in the window the ratio says
	// nothing and the connector counts as healthy (a down API fills the
	// window with failures within seconds).
	healthMinSamples = 10
	// healthyRatio is the success ratio of convergences from which an error
	// is sporadic. A convergence makes several calls (a lookup, a write, group
	// changes): at 10% failed requests one of six calls succeeds all through
	// only 53% of the time, while a down API brings the ratio near zero.
	healthyRatio = 0.5
)

// healthWindow is the window of one (tenant, connector).
type healthWindow struct {
	start [healthBuckets]int64 // bucket start, in healthBucket units since the epoch
	ok    [healthBuckets]int
	fail  [healthBuckets]int
}

// health holds the windows of every (tenant, connector) this worker converged.
type health struct {
	mu      sync.Mutex
	windows map[string]*healthWindow // tenant/connector →
}

func slot(now time.Time) (int64, int) {
	n := now.UnixNano() / int64(healthBucket)
	i := int(n % healthBuckets)
	if i < 0 {
		i += healthBuckets
	}
	return n, i
}

// record counts one outcome at now.
func (h *health) record(tenantID, connector string, now time.Time, success bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.windows == nil {
		h.windows = map[string]*healthWindow{}
	}
	k := tenantID + "/" + connector
	win := h.windows[k]
	if win == nil {
		win = &healthWindow{}
		h.windows[k] = win
	}
	n, i := slot(now)
	if win.start[i] != n {
		win.start[i], win.ok[i], win.fail[i] = n, 0, 0
	}
	if success {
		win.ok[i]++
	} else {
		win.fail[i]++
	}
}

// ratio returns the success ratio of the window ending at now and the number
// of outcomes it holds.
func (h *health) ratio(tenantID, connector string, now time.Time) (float64, int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	win := h.windows[tenantID+"/"+connector]
	if win == nil {
		return 1, 0
	}
	n, _ := slot(now)
	ok, total := 0, 0
	for i := range win.start {
		if age := n - win.start[i]; age >= 0 && age < healthBuckets {
			ok += win.ok[i]
			total += win.ok[i] + win.fail[i]
		}
	}
	if total == 0 {
		return 1, 0
	}
	return float64(ok) / float64(total), total
}

// healthy reports whether the connector of the tenant mostly succeeds: too few
// recent outcomes to say, or a success ratio of at least healthyRatio.
func (h *health) healthy(tenantID, connector string, now time.Time) bool {
	r, n := h.ratio(tenantID, connector, now)
	return n < healthMinSamples || r >= healthyRatio
}
