package main

import (
	"io"
	"sync"
)

// logWriter hands log lines to a goroutine that writes whatever has queued up
// in one system call: a busy bridge logs a line per SCIM write, and a write
// to stderr each would cost more than the line. Lines are never dropped: when
// the queue is full, Write waits. After Close (a goroutine may still log while
// the process ends) lines are written directly.
type logWriter struct {
	w    io.Writer
	ch   chan []byte
	done chan struct{}

	mu     sync.RWMutex // held for reading while queueing, for writing by Close
	closed bool
	direct sync.Mutex // serializes direct writes after Close
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
	lw.mu.RLock()
	if !lw.closed {
		lw.ch <- append([]byte(nil), p...)
		lw.mu.RUnlock()
		return len(p), nil
	}
	lw.mu.RUnlock()
	lw.direct.Lock()
	defer lw.direct.Unlock()
	return lw.w.Write(p)
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
		_, _ = lw.w.Write(buf) // a log that cannot be written has nowhere to report it
	}
}

// Close writes every queued line and stops queueing; later lines are written
// directly.
func (lw *logWriter) Close() {
	lw.mu.Lock()
	if lw.closed {
		lw.mu.Unlock()
		return
	}
	lw.closed = true
	close(lw.ch)
	lw.mu.Unlock()
	<-lw.done
}
