package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestProbe(t *testing.T) {
	status := http.StatusOK
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/readyz" {
			http.NotFound(w, r)
			return
		}
		w.WriteHeader(status)
	}))
	defer srv.Close()
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()

	for _, c := range []struct {
		name   string
		status int
		args   []string
		want   int
	}{
		{"ready", http.StatusOK, []string{srv.URL + "/readyz"}, 0},
		{"not ready", http.StatusServiceUnavailable, []string{srv.URL + "/readyz"}, 1},
		{"not found", http.StatusOK, []string{srv.URL + "/nope"}, 1},
		{"nobody listening", http.StatusOK, []string{closed.URL + "/readyz"}, 1},
		{"bad URL", http.StatusOK, []string{"://"}, 1},
		{"too many arguments", http.StatusOK, []string{"a", "b"}, 2},
	} {
		t.Run(c.name, func(t *testing.T) {
			status = c.status
			var stderr bytes.Buffer
			if got := run(c.args, &stderr); got != c.want {
				t.Errorf("exit %d, want %d (stderr %q)", got, c.want, stderr.String())
			}
			if c.want != 0 && stderr.Len() == 0 {
				t.Error("a failed probe says nothing")
			}
		})
	}
}

func TestProbeTimesOut(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	err := probe(ctx, srv.Client(), srv.URL)
	if err == nil || !strings.Contains(err.Error(), "deadline") {
		t.Errorf("probe of a server that never answers = %v, want a deadline error", err)
	}
}
