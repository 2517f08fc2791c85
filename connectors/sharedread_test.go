package connectors_test

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scim-bridge/scim-bridge/connectors"
)

// blockingRead is a read that waits for release and counts its calls.
type blockingRead struct {
	calls   atomic.Int32
	started chan struct{}
	release chan struct{}
}

func newBlockingRead() *blockingRead {
	return &blockingRead{started: make(chan struct{}, 16), release: make(chan struct{})}
}

func (b *blockingRead) read(context.Context) ([]string, error) {
	n := b.calls.Add(1)
	b.started <- struct{}{}
	<-b.release
	return []string{"read", string(rune('0' + n))}, nil
}

func TestSharedReadsOneReadForConcurrentCallers(t *testing.T) {
	t.Parallel()
	var r connectors.SharedReads[[]string]
	b := newBlockingRead()
	const callers = 8
	var wg sync.WaitGroup
	results := make([][]string, callers)
	wg.Go(func() {
		results[0], _ = r.Do(context.Background(), "p1", b.read, slices.Clone)
	})
	<-b.started
	for i := 1; i < callers; i++ {
		wg.Go(func() {
			results[i], _ = r.Do(context.Background(), "p1", b.read, slices.Clone)
		})
	}
	time.Sleep(20 * time.Millisecond) // let them join
	close(b.release)
	wg.Wait()
	if n := b.calls.Load(); n != 1 {
		t.Fatalf("%d reads for %d concurrent callers, want 1", n, callers)
	}
	for i, res := range results {
		if !slices.Equal(res, []string{"read", "1"}) {
			t.Fatalf("caller %d got %v", i, res)
		}
	}
	results[0][0] = "changed"
	if results[1][0] != "read" {
		t.Fatal("callers share one slice: a caller's change leaks to another")
	}
}

func TestSharedReadsNothingStaleAfterWrite(t *testing.T) {
	t.Parallel()
	var r connectors.SharedReads[[]string]
	b := newBlockingRead()
	var wg sync.WaitGroup
	var before, after []string
	wg.Go(func() { before, _ = r.Do(context.Background(), "p1", b.read, nil) })
	<-b.started
	// A write of p1 happens while that read is under way: a caller asking
	// after the write does not join the older read.
	r.Invalidate("p1")
	r.Invalidate("p1")
	wg.Go(func() { after, _ = r.Do(context.Background(), "p1", b.read, nil) })
	<-b.started
	close(b.release)
	wg.Wait()
	if n := b.calls.Load(); n != 2 {
		t.Fatalf("%d reads, want 2 (the read after the write is its own)", n)
	}
	if before[1] == after[1] {
		t.Fatalf("the caller after the write got the older read %v", after)
	}
}

func TestSharedReadsCallerGivesUp(t *testing.T) {
	t.Parallel()
	var r connectors.SharedReads[[]string]
	b := newBlockingRead()
	go func() { _, _ = r.Do(context.Background(), "p1", b.read, nil) }()
	<-b.started
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if _, err := r.Do(ctx, "p1", b.read, nil); err == nil {
		t.Fatal("a waiter whose context ended got no error")
	}
	close(b.release)
}
