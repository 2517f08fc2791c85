package main

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"
)

// countingWriter records what it got and in how many calls.
type countingWriter struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	calls int
}

func (c *countingWriter) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls++
	return c.buf.Write(p)
}

func TestLogWriterKeepsEveryLineInOrder(t *testing.T) {
	t.Parallel()
	cw := &countingWriter{}
	lw := newLogWriter(cw)
	const writers, lines = 4, 5000
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := []byte{}
			for i := range lines {
				buf = fmt.Appendf(buf[:0], "w%d line %d\n", w, i)
				if _, err := lw.Write(buf); err != nil {
					t.Error(err)
				}
				buf[0] = 'X' // the caller reuses its buffer
			}
		}()
	}
	wg.Wait()
	lw.Close()
	lw.Close()                                                    // idempotent
	if _, err := lw.Write([]byte("w0 line 5000\n")); err != nil { // after Close: written directly
		t.Fatal(err)
	}
	got := strings.Split(strings.TrimSuffix(cw.buf.String(), "\n"), "\n")
	if len(got) != writers*lines+1 {
		t.Fatalf("%d lines written, want %d", len(got), writers*lines+1)
	}
	next := make([]int, writers)
	for _, l := range got {
		var w, i int
		if _, err := fmt.Sscanf(l, "w%d line %d", &w, &i); err != nil || i != next[w] {
			t.Fatalf("line %q out of order or garbled (want line %d of writer %d)", l, next[w], w)
		}
		next[w]++
	}
	if cw.calls >= writers*lines {
		t.Errorf("%d writes for %d lines: no batching", cw.calls, writers*lines)
	}
}
