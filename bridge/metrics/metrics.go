package bridge

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/scim-bridge/scim-bridge/store"
)

// metrics are the bridge's counters, exposed at /metrics in the Prometheus text
// format (version 0.0.4). Gauges of the queue and of sync states are read from
// the store at scrape time, so every replica reports the shared truth.
type metrics struct {
	mu       sync.RWMutex
	counters map[series]*atomic.Int64
}

// series names one counter: a metric and up to three label pairs. Formatting
// and escaping happen at scrape time, never on the request path.
type series struct {
	name string
	l    [6]string // key, value, key, value, key, value
}

func newMetrics() *metrics { return &metrics{counters: map[series]*atomic.Int64{}} }

// inc adds one to the counter name with the given label pairs (key, value, ...).
func (m *metrics) inc(name string, labels ...string) {
	k := series{name: name}
	copy(k.l[:], labels)
	m.mu.RLock()
	c := m.counters[k]
	m.mu.RUnlock()
	if c == nil {
		m.mu.Lock()
		if c = m.counters[k]; c == nil {
			c = new(atomic.Int64)
			m.counters[k] = c
		}
		m.mu.Unlock()
	}
	c.Add(1)
}

// String formats the series as in the exposition format.
func (k series) String() string {
	var b strings.Builder
	b.WriteString(k.name)
	if k.l[0] != "" {
		b.WriteByte('{')
		for i := 0; i+1 < len(k.l) && k.l[i] != ""; i += 2 {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(k.l[i])
			b.WriteString(`="`)
			b.WriteString(labelEscaper.Replace(k.l[i+1]))
			b.WriteByte('"')
		}
		b.WriteByte('}')
	}
	return b.String()
}

// labelEscaper escapes a label value (exposition format 0.0.4).
var labelEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)

func escapeLabel(v string) string { return labelEscaper.Replace(v) }

// metricHelp documents every family the endpoint writes.
var metricHelp = []struct{ name, typ, help string }{
	{"scim_bridge_scim_requests_total", "counter", "SCIM requests by method and status code."},
	{"scim_bridge_convergences_total", "counter", "Connector convergences by tenant, connector and outcome."},
	{"scim_bridge_webhooks_total", "counter", "Webhook deliveries by tenant, connector and result."},
	{"scim_bridge_queue_pending", "gauge", "Keys waiting in a tenant's work queue."},
	{"scim_bridge_queue_leased", "gauge", "Keys being converged right now in a tenant."},
	{"scim_bridge_sync_subjects", "gauge", "Subjects by tenant, connector and sync status."},
}

// serveMetrics writes the counters and the store-derived gauges.
func (b *Bridge) serveMetrics(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	lines := map[string][]string{}
	b.metrics.mu.RLock()
	for k, v := range b.metrics.counters {
		lines[k.name] = append(lines[k.name], k.String()+" "+strconv.FormatInt(v.Load(), 10))
	}
	b.metrics.mu.RUnlock()
	for _, t := range b.order {
		qs, err := b.store.QueueStats(ctx, t.id)
		if err != nil {
			http.Error(w, "store unavailable", http.StatusServiceUnavailable)
			return
		}
		lines["scim_bridge_queue_pending"] = append(lines["scim_bridge_queue_pending"],
			fmt.Sprintf(`scim_bridge_queue_pending{tenant="%s"} %d`, escapeLabel(t.id), qs.Pending))
		lines["scim_bridge_queue_leased"] = append(lines["scim_bridge_queue_leased"],
			fmt.Sprintf(`scim_bridge_queue_leased{tenant="%s"} %d`, escapeLabel(t.id), qs.Leased))
		counts, err := b.store.SyncCounts(ctx, t.id)
		if err != nil {
			http.Error(w, "store unavailable", http.StatusServiceUnavailable)
			return
		}
		for _, c := range t.connectors {
			for _, s := range []string{store.SyncSynced, store.SyncPending, store.SyncRetrying, store.SyncDead} {
				lines["scim_bridge_sync_subjects"] = append(lines["scim_bridge_sync_subjects"],
					fmt.Sprintf(`scim_bridge_sync_subjects{tenant="%s",connector="%s",status="%s"} %d`,
						escapeLabel(t.id), escapeLabel(c.Name()), s, counts[c.Name()][s]))
			}
		}
	}
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	var out strings.Builder
	for _, f := range metricHelp {
		ls := lines[f.name]
		if len(ls) == 0 {
			continue
		}
		sort.Strings(ls)
		fmt.Fprintf(&out, "# HELP %s %s\n# TYPE %s %s\n", f.name, f.help, f.name, f.typ)
		for _, l := range ls {
			out.WriteString(l)
			out.WriteByte('\n')
		}
	}
	_, _ = w.Write([]byte(out.String()))
}

// statusRecorder remembers the status a handler answered, for the request counter.
type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.code == 0 {
		s.code = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(p []byte) (int, error) {
	if s.code == 0 {
		s.code = http.StatusOK
	}
	return s.ResponseWriter.Write(p)
}

func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }
