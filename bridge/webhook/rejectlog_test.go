package webhook

import (
	"testing"
	"time"
)

// TestRejectLog: a connector's first reject of each interval is logged, with
// the count of those not logged since the previous line; connectors count
// apart.
func TestRejectLog(t *testing.T) {
	t.Parallel()
	var l rejectLog
	t0 := time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)
	steps := []struct {
		tenant, connector string
		at                time.Duration
		log               bool
		unlogged          int
	}{
		{"acme", "app", 0, true, 0},
		{"acme", "app", time.Second, false, 0},
		{"acme", "app", 2 * time.Second, false, 0},
		{"acme", "other", 2 * time.Second, true, 0},
		{"globex", "app", 2 * time.Second, true, 0},
		{"acme", "app", 59 * time.Second, false, 0},
		{"acme", "app", 60 * time.Second, true, 3},
		{"acme", "app", 61 * time.Second, false, 0},
		{"acme", "app", 10 * time.Minute, true, 1},
	}
	for i, s := range steps {
		unlogged, log := l.note(s.tenant, s.connector, t0.Add(s.at))
		if log != s.log || unlogged != s.unlogged {
			t.Errorf("step %d (%s/%s at +%v): log %v unlogged %d, want %v %d", i, s.tenant, s.connector, s.at, log, unlogged, s.log, s.unlogged)
		}
	}
}
