package main

import (
	"context"
	"runtime/debug"
	"runtime/metrics"
	"testing"
	"time"
)

func TestGCPercentFor(t *testing.T) {
	for _, c := range []struct {
		live uint64
		want int
	}{
		{0, gcMaxPercent},
		{1 << 20, gcMaxPercent},
		{8 << 20, 800},
		{16 << 20, 400},
		{20 << 20, 300}, // 320 rounded down to a step of 25
		{32 << 20, 200},
		{64 << 20, 100},
		{1 << 30, 100},
	} {
		if got := gcPercentFor(c.live); got != c.want {
			t.Errorf("gcPercentFor(%d MiB) = %d, want %d", c.live>>20, got, c.want)
		}
	}
}

func currentGOGC(t *testing.T) uint64 {
	t.Helper()
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		t.Fatal("/gc/gogc:percent not measured")
	}
	return s[0].Value.Uint64()
}

// tuneGC sets GOGC from the live heap while it runs and restores the former
// setting; an operator's GOGC is left alone.
func TestTuneGCSetsAndRestores(t *testing.T) {
	orig := debug.SetGCPercent(100)
	defer debug.SetGCPercent(orig)

	tuneGC(context.Background(), func(k string) string {
		if k == "GOGC" {
			return "150"
		}
		return ""
	})
	if got := currentGOGC(t); got != 100 {
		t.Fatalf("with GOGC set: GOGC %d, want 100 untouched", got)
	}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		tuneGC(ctx, func(string) string { return "" })
	}()
	deadline := time.Now().Add(5 * time.Second)
	for currentGOGC(t) == 100 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	live := []metrics.Sample{{Name: gcLiveMetric}}
	metrics.Read(live)
	// A test process's live heap is far below gcHeadroom: GOGC goes up.
	if got := currentGOGC(t); live[0].Value.Uint64() < gcHeadroom/2 && (got <= 100 || got > gcMaxPercent) {
		t.Fatalf("while tuning: GOGC %d for a live heap of %d bytes, want 100 < GOGC <= %d", got, live[0].Value.Uint64(), gcMaxPercent)
	}
	cancel()
	<-done
	if got := currentGOGC(t); got != 100 {
		t.Fatalf("after tuning: GOGC %d, want 100 restored", got)
	}
}
