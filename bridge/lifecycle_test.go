package bridge

import (
	"context"
	"testing"
	"time"
)

// TestCloseStopsRun: Close makes Run return (without its context being
// cancelled) and may be called again.
func TestCloseStopsRun(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, "")
	done := make(chan error, 1)
	go func() { done <- ts.b.Run(context.Background()) }()
	time.Sleep(50 * time.Millisecond) // let Run start its workers
	if err := ts.b.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after Close")
	}
	if err := ts.b.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}
