package fakeserver

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestStatusWriter(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		write func(w http.ResponseWriter)
		want  int
	}{
		{"nothing written", func(http.ResponseWriter) {}, http.StatusOK},
		{"body only", func(w http.ResponseWriter) { _, _ = w.Write([]byte("x")) }, http.StatusOK},
		{"status", func(w http.ResponseWriter) { w.WriteHeader(http.StatusNoContent) }, http.StatusNoContent},
		{"first status wins", func(w http.ResponseWriter) {
			w.WriteHeader(http.StatusBadGateway)
			w.WriteHeader(http.StatusOK)
		}, http.StatusBadGateway},
		{"body then status", func(w http.ResponseWriter) {
			_, _ = w.Write([]byte("x"))
			w.WriteHeader(http.StatusTeapot)
		}, http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rr := httptest.NewRecorder()
			w := NewStatusWriter(rr)
			tc.write(w)
			if w.Status() != tc.want || rr.Code != tc.want {
				t.Fatalf("Status %d, recorded %d, want %d", w.Status(), rr.Code, tc.want)
			}
			if w.Unwrap() != http.ResponseWriter(rr) {
				t.Fatal("Unwrap does not return the wrapped writer")
			}
		})
	}
}

func TestDiscard(t *testing.T) {
	t.Parallel()
	d := Discard()
	d.Header().Set("X", "y")
	d.WriteHeader(http.StatusCreated)
	if n, err := d.Write([]byte("abc")); n != 3 || err != nil {
		t.Fatalf("Write %d %v", n, err)
	}
	if d.Header().Get("X") != "y" {
		t.Fatal("Header is not kept")
	}
	if Discard().Header().Get("X") != "" {
		t.Fatal("Discard writers share a header")
	}
}
