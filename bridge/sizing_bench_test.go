//go:build linux

package bridge

// BenchmarkSizing measures the figures of the README's sizing table on a real
// redis-server, at each size of SIZING_USERS (comma-separated, default
// "10000,100000"):
//
//   - provision: the groups variant of BenchmarkProvision10kUsers at n users
//     (SCIM POSTs, 100 mapped groups filled by PATCHes, four connectors synced).
//     It reports the process CPU per wall second while provisioning (cpu-cores),
//     peak RSS and peak Go heap, the Go heap after a GC once converged
//     (steady-heap-MB), and the Redis used_memory of the converged tenant
//     (documents, indexes, memberships, sync state of the four connectors;
//     redis-MB and redis-B/user).
//   - reconcile: one full reconciliation of a converged tenant of n users (one
//     group of n/100 members), as BenchmarkReconcile100kNoDrift seeds it. It
//     reports cpu-cores, peak RSS and peak heap during the run, and the Redis
//     used_memory of that tenant without its transient dirty marks.
//
// The four downstream fakes and the SCIM clients run in this process: RSS,
// heap and CPU include theirs and so bound the bridge's own from above (the
// Redis server's CPU is not included). Run with -benchtime 1x:
//
//	SIZING_USERS=10000,100000 go test ./bridge/ -run '^$' -bench Sizing -benchtime 1x -count 3 -timeout 2h

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/scim-bridge/scim-bridge/store"
	"github.com/scim-bridge/scim-bridge/store/redistest"
)

func BenchmarkSizing(b *testing.B) {
	sizes := []int{10_000, 100_000}
	if v := os.Getenv("SIZING_USERS"); v != "" {
		sizes = nil
		for _, f := range strings.Split(v, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || n < benchGroups {
				b.Fatalf("SIZING_USERS=%q: want sizes like 10000,100000", v)
			}
			sizes = append(sizes, n)
		}
	}
	for _, n := range sizes {
		b.Run(fmt.Sprintf("provision/users=%d", n), func(b *testing.B) { sizingProvision(b, n) })
		b.Run(fmt.Sprintf("reconcile/users=%d", n), func(b *testing.B) { sizingReconcile(b, n) })
	}
}

func sizingProvision(b *testing.B, n int) {
	url := redistest.Start(b)
	var (
		m      *sizingMeter
		steady float64
		redis  int64
	)
	hooks := provisionHooks{
		start: func() { m = startSizingMeter(b) },
		converged: func(f *fanEnv) {
			m.stop()
			runtime.GC()
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			steady = float64(ms.HeapInuse) / (1 << 20)
			redis = sizingDatasetBytes(b, f)
		},
	}
	benchProvisionGroupsN(b, url, n, hooks)
	m.report(b)
	b.ReportMetric(steady, "steady-heap-MB")
	b.ReportMetric(float64(redis)/(1<<20), "redis-MB")
	b.ReportMetric(float64(redis)/float64(n), "redis-B/user")
}

func sizingReconcile(b *testing.B, n int) {
	f := rcBenchTenant(b, n)
	ctx := context.Background()
	// The populated users' dirty marks would be drained by the workers.
	if err := f.st.Client().Del(ctx, store.Prefix+":{acme}:queue").Err(); err != nil {
		b.Fatalf("drop the dirty marks: %v", err)
	}
	if qs, err := f.st.QueueStats(ctx, "acme"); err != nil || qs.Pending != 0 {
		b.Fatalf("queue after dropping the dirty marks: %+v, %v", qs, err)
	}
	redis := sizingDatasetBytes(b, f)
	var m *sizingMeter
	for b.Loop() {
		runtime.GC()
		m = startSizingMeter(b)
		plan, err := f.b.Reconcile(ctx, "acme", ReconcileOptions{})
		m.stop()
		if err != nil {
			b.Fatalf("reconcile: %v", err)
		}
		if len(plan.Items) != 0 || len(plan.Errors) != 0 {
			b.Fatalf("a converged tenant has drift: %d items, errors %v", len(plan.Items), rcFirst(plan.Errors))
		}
	}
	m.report(b)
	b.ReportMetric(float64(redis)/(1<<20), "redis-MB")
	b.ReportMetric(float64(redis)/float64(n), "redis-B/user")
}

// sizingDatasetBytes returns the used_memory of f's Redis server minus its
// used_memory_startup (the empty server's).
func sizingDatasetBytes(tb testing.TB, f *fanEnv) int64 {
	tb.Helper()
	info, err := f.st.Client().Info(context.Background(), "memory").Result()
	if err != nil {
		tb.Fatalf("INFO memory: %v", err)
	}
	var used, startup int64 = -1, -1
	for _, line := range strings.Split(info, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok {
			continue
		}
		switch k {
		case "used_memory":
			used, err = strconv.ParseInt(v, 10, 64)
		case "used_memory_startup":
			startup, err = strconv.ParseInt(v, 10, 64)
		}
		if err != nil {
			tb.Fatalf("INFO memory %s: %v", k, err)
		}
	}
	if used < 0 || startup < 0 {
		tb.Fatalf("INFO memory without used_memory or used_memory_startup")
	}
	return used - startup
}

// sizingMeter samples the process's peak Go heap while it runs and measures
// its CPU time and peak RSS from start to stop.
type sizingMeter struct {
	done      chan struct{}
	wg        sync.WaitGroup
	peakHeap  atomic.Uint64
	began     time.Time
	cpuBefore time.Duration
	wall, cpu time.Duration
	peakRSS   int64
}

func startSizingMeter(tb testing.TB) *sizingMeter {
	tb.Helper()
	// Reset the kernel's peak RSS (VmHWM) of this process.
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		tb.Fatalf("reset peak RSS: %v", err)
	}
	m := &sizingMeter{done: make(chan struct{}), began: time.Now(), cpuBefore: processCPU(tb)}
	m.wg.Go(func() {
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > m.peakHeap.Load() {
				m.peakHeap.Store(ms.HeapInuse)
			}
			select {
			case <-m.done:
				return
			case <-tick.C:
			}
		}
	})
	return m
}

func (m *sizingMeter) stop() {
	m.wall = time.Since(m.began)
	close(m.done)
	m.wg.Wait()
	m.cpu = processCPU(nil) - m.cpuBefore
	m.peakRSS = peakRSS()
}

func (m *sizingMeter) report(b *testing.B) {
	b.ReportMetric(m.cpu.Seconds()/m.wall.Seconds(), "cpu-cores")
	b.ReportMetric(m.wall.Seconds(), "wall-s")
	b.ReportMetric(float64(m.peakHeap.Load())/(1<<20), "peak-heap-MB")
	b.ReportMetric(float64(m.peakRSS)/(1<<20), "peak-rss-MB")
}

// processCPU is the user plus system CPU time of this process so far.
func processCPU(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil && tb != nil {
		tb.Fatalf("getrusage: %v", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// peakRSS is VmHWM of /proc/self/status in bytes, or -1.
func peakRSS() int64 {
	fh, err := os.Open("/proc/self/status")
	if err != nil {
		return -1
	}
	defer fh.Close()
	sc := bufio.NewScanner(fh)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				return -1
			}
			return kb << 10
		}
	}
	return -1
}
