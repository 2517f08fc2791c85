package fakeserver

import "net/http"

// StatusWriter wraps a ResponseWriter and remembers the status of the answer,
// for the request log.
type StatusWriter struct {
	http.ResponseWriter
	code int
	// OnStatus, when set, is called once with the status, before any of the
	// answer reaches the client: a client that has its answer can rely on the
	// request log and the counters already showing the request.
	OnStatus func(code int)
}

func (w *StatusWriter) set(code int) {
	if w.code == 0 {
		w.code = code
		if w.OnStatus != nil {
			w.OnStatus(code)
		}
	}
}

// Finish is called when the handler returns: an answer nothing was written to
// is a 200 (net/http sends it only after the handler returned).
func (w *StatusWriter) Finish() { w.set(http.StatusOK) }

// NewStatusWriter wraps w.
func NewStatusWriter(w http.ResponseWriter) *StatusWriter {
	return &StatusWriter{ResponseWriter: w}
}

// WriteHeader records the first status written and passes it on.
func (w *StatusWriter) WriteHeader(code int) {
	w.set(code)
	w.ResponseWriter.WriteHeader(code)
}

// Write records an implicit 200 when no status was written and passes b on.
func (w *StatusWriter) Write(b []byte) (int, error) {
	w.set(http.StatusOK)
	return w.ResponseWriter.Write(b)
}

// Status is the status of the answer: the first one written, 200 when the
// handler wrote nothing (net/http then answers 200 too).
func (w *StatusWriter) Status() int {
	if w.code == 0 {
		return http.StatusOK
	}
	return w.code
}

// Unwrap returns the wrapped ResponseWriter, for http.ResponseController.
func (w *StatusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Discard returns a ResponseWriter that swallows an answer, for a fault that
// lets a request take effect and then answers something else.
func Discard() http.ResponseWriter { return discard{h: http.Header{}} }

type discard struct{ h http.Header }

func (d discard) Header() http.Header         { return d.h }
func (d discard) Write(b []byte) (int, error) { return len(b), nil }
func (d discard) WriteHeader(int)             {}
