package httpstatus

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestRecorderKeepsTheFirstStatus(t *testing.T) {
	w := httptest.NewRecorder()
	r := &Recorder{ResponseWriter: w}
	if r.Code != 0 {
		t.Fatalf("code %d before any write, want 0", r.Code)
	}
	r.WriteHeader(http.StatusCreated)
	r.WriteHeader(http.StatusInternalServerError)
	if r.Code != http.StatusCreated || w.Code != http.StatusCreated {
		t.Fatalf("recorded %d, sent %d; want 201 both", r.Code, w.Code)
	}

	w = httptest.NewRecorder()
	r = &Recorder{ResponseWriter: w}
	if _, err := r.Write([]byte("x")); err != nil || r.Code != http.StatusOK {
		t.Fatalf("body without status: code %d, %v; want 200", r.Code, err)
	}
	if r.Unwrap() != w {
		t.Fatal("Unwrap does not reach the underlying writer")
	}
}
