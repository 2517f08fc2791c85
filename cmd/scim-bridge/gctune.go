package main

import (
	"context"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// The bridge's live heap is small (tens of MB) while it allocates a few
// hundred MB a second under load, so with Go's default GOGC=100 the collector
// runs tens of times a second and takes 8–10% of its CPU. tuneGC gives the
// heap at least gcHeadroom of growth between collections: a small heap gets
// a higher GOGC (at most gcMaxPercent), a heap of gcHeadroom or more keeps
// the default, so the memory this costs is bounded by gcHeadroom.
const (
	gcHeadroom   = 64 << 20
	gcMaxPercent = 800
	gcLiveMetric = "/gc/heap/live:bytes"
)

// gcPercentFor is the GOGC that gives a live heap of live bytes gcHeadroom of
// growth: between 100 and gcMaxPercent, in steps of 25 (no churn from small
// changes of the live heap).
func gcPercentFor(live uint64) int {
	if live == 0 {
		return gcMaxPercent
	}
	p := min(uint64(gcHeadroom)*100/live, gcMaxPercent)
	p = p / 25 * 25
	return int(max(p, 100))
}

// tuneGC keeps GOGC at gcPercentFor(live heap), checked every second, until
// ctx is done; it then restores the setting it found. When the operator set
// GOGC it does nothing.
func tuneGC(ctx context.Context, getenv func(string) string) {
	if getenv("GOGC") != "" {
		return
	}
	sample := []metrics.Sample{{Name: gcLiveMetric}}
	set := func() int {
		metrics.Read(sample)
		if sample[0].Value.Kind() != metrics.KindUint64 {
			return -1
		}
		return gcPercentFor(sample[0].Value.Uint64())
	}
	p := set()
	if p < 0 {
		return // not measured by this runtime
	}
	orig := debug.SetGCPercent(p)
	defer debug.SetGCPercent(orig)
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if q := set(); q > 0 && q != p {
				debug.SetGCPercent(q)
				p = q
			}
		}
	}
}
