package main

import (
	"io"
	"sync"
)

// logWriter hands log lines to a goroutine that writes whatever has queued up
// in one system call: a busy bridge logs a line per SCIM write, and a write
// to stderr each would cost more than the line. Lines are never dropped: when
// the queue is full, Write waits.
type logWriter struct {
	w    io.Writer
	ch   chan []byte
	done chan struct{}
	once sync.Once
}

// logQueue is how many lines may wait; logBatch bounds one write.
const (
	logQueue = 4096
	logBatch = 64 << 10
)

func newLogWriter(w io.Writer) *logWriter {
	lw := &logWriter{w: w, ch: make(chan []byte, logQueue), done: make(chan struct{})}
	go lw.run()
	return lw
}

// Write queues a copy of p (the logger reuses its buffer).
func (lw *logWriter) Write(p []byte) (int, error) {
	lw.ch <- append([]byte(nil), p...)
	return len(p), nil
}

func (lw *logWriter) run() {
	defer close(lw.done)
	buf := make([]byte, 0, logBatch)
	for line := range lw.ch {
		buf = append(buf[:0], line...)
	more:
		for len(buf) < logBatch {
			select {
			case l, ok := <-lw.ch:
				if !ok {
					break more
				}
				buf = append(buf, l...)
			default:
				break more
			}
		}
		_, _ = lw.w.Write(buf)
	}
}

// Close writes every queued line and stops; Write must not be called after.
func (lw *logWriter) Close() {
	lw.once.Do(func() {
		close(lw.ch)
		<-lw.done
	})
}
