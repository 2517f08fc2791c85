// Package httpstatus records the status code a handler answered with.
package httpstatus

import "net/http"

// Recorder wraps a ResponseWriter and keeps the first status written (200
// when the handler writes a body without one); 0 until then.
type Recorder struct {
	http.ResponseWriter
	Code int
}

// WriteHeader records code unless a status was written already.
func (r *Recorder) WriteHeader(code int) {
	if r.Code == 0 {
		r.Code = code
	}
	r.ResponseWriter.WriteHeader(code)
}

// Write records 200 when no status was written.
func (r *Recorder) Write(p []byte) (int, error) {
	if r.Code == 0 {
		r.Code = http.StatusOK
	}
	return r.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (r *Recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
