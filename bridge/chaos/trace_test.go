//go:build chaos

package chaos

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"time"
)

// trace is the timeline of a run, printed with CHAOS_TRACE=1: per second and
// per downstream, the requests that arrived and the 500s and 429s injected,
// and after the load the bridge's status once a second (queue, per-connector
// pending and retrying counts, holds). It shows where the time after the last
// fault goes.
type trace struct {
	start time.Time

	mu      sync.Mutex
	buckets map[string]map[int]*traceCount // downstream → second → counts
	status  []string
	sampled time.Time
}

type traceCount struct{ requests, failed, limited int }

func newTrace() *trace {
	if os.Getenv("CHAOS_TRACE") != "1" {
		return nil
	}
	return &trace{start: time.Now(), buckets: map[string]map[int]*traceCount{}}
}

// request counts one request to downstream name answered status (0: passed
// to the fake).
func (tr *trace) request(name string, status int) {
	if tr == nil {
		return
	}
	sec := int(time.Since(tr.start) / time.Second)
	tr.mu.Lock()
	defer tr.mu.Unlock()
	m := tr.buckets[name]
	if m == nil {
		m = map[int]*traceCount{}
		tr.buckets[name] = m
	}
	c := m[sec]
	if c == nil {
		c = &traceCount{}
		m[sec] = c
	}
	c.requests++
	switch status {
	case http.StatusInternalServerError:
		c.failed++
	case http.StatusTooManyRequests:
		c.limited++
	}
}

// sample records the bridge's status, at most once a second: the queue, and
// per connector the subjects pending and retrying, the concurrency limit and
// how long the connector is still held.
func (tr *trace) sample(ctx context.Context, cl *client) {
	if tr == nil || time.Since(tr.sampled) < time.Second {
		return
	}
	tr.sampled = time.Now()
	code, body, err := cl.do(ctx, http.MethodGet, "/admin/status?tenant=acme", nil, adminToken)
	var out []struct {
		Pending    int `json:"pending"`
		Leased     int `json:"leased"`
		Connectors []struct {
			Name     string         `json:"name"`
			Counts   map[string]int `json:"counts"`
			Throttle struct {
				HeldUntil   time.Time `json:"heldUntil"`
				RateLimited int64     `json:"rateLimited"`
				Limit       int       `json:"concurrencyLimit"`
			} `json:"throttle"`
		} `json:"connectors"`
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%6.1fs ", time.Since(tr.start).Seconds())
	if err != nil || code != http.StatusOK || json.Unmarshal(body, &out) != nil || len(out) != 1 {
		fmt.Fprintf(&b, "status %d %v", code, err)
	} else {
		fmt.Fprintf(&b, "queue %4d leased %3d", out[0].Pending, out[0].Leased)
		for _, c := range out[0].Connectors {
			held := "-"
			if d := time.Until(c.Throttle.HeldUntil); d > 0 {
				held = d.Round(10 * time.Millisecond).String()
			}
			fmt.Fprintf(&b, " | %s pend %d retry %d 429s %d limit %d held %s", c.Name, c.Counts["pending"], c.Counts["retrying"],
				c.Throttle.RateLimited, c.Throttle.Limit, held)
		}
	}
	tr.mu.Lock()
	tr.status = append(tr.status, b.String())
	tr.mu.Unlock()
}

// String is the timeline.
func (tr *trace) String() string {
	if tr == nil {
		return ""
	}
	tr.mu.Lock()
	defer tr.mu.Unlock()
	var names []string
	last := 0
	for name, m := range tr.buckets {
		names = append(names, name)
		for s := range m {
			last = max(last, s)
		}
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteString("second  " + strings.Join(names, " req/500/429  ") + " req/500/429\n")
	for s := 0; s <= last; s++ {
		fmt.Fprintf(&b, "%6d", s)
		for _, name := range names {
			c := tr.buckets[name][s]
			if c == nil {
				c = &traceCount{}
			}
			fmt.Fprintf(&b, "  %-8s %4d/%3d/%2d", name, c.requests, c.failed, c.limited)
		}
		b.WriteByte('\n')
	}
	for _, l := range tr.status {
		b.WriteString(l)
		b.WriteByte('\n')
	}
	return b.String()
}
