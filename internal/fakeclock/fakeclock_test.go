package fakeclock

import (
	"sync"
	"testing"
	"time"
)

func TestClock(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	c := New(t0)
	if !c.Now().Equal(t0) {
		t.Fatalf("Now = %v, want %v", c.Now(), t0)
	}
	time.Sleep(time.Millisecond)
	if !c.Now().Equal(t0) {
		t.Fatalf("the clock moved by itself: %v", c.Now())
	}
	var wg sync.WaitGroup
	for range 10 {
		wg.Add(1)
		go func() { defer wg.Done(); c.Advance(time.Second) }()
	}
	wg.Wait()
	if want := t0.Add(10 * time.Second); !c.Now().Equal(want) {
		t.Fatalf("after 10 concurrent Advance(1s): %v, want %v", c.Now(), want)
	}
	c.Set(t0)
	if !c.Now().Equal(t0) {
		t.Fatalf("after Set: %v, want %v", c.Now(), t0)
	}
}
