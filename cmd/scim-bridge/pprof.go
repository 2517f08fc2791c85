//go:build pprof

package main

// Built with -tags pprof, the binary serves net/http/pprof on the address in
// SCIM_BRIDGE_PPROF (e.g. 127.0.0.1:6060), for profiling under load (see
// cmd/scim-bridge-load). Release builds leave it out.
//
// Besides the standard handlers, POST /debug/pprof/cpu/start?file=F starts a
// CPU profile written to the local file F and POST /debug/pprof/cpu/stop ends
// it, so a load generator can profile exactly one phase of its run.

import (
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	rpprof "runtime/pprof"
	"sync"
)

func startProfiling(getenv func(string) string) {
	addr := getenv("SCIM_BRIDGE_PPROF")
	if addr == "" {
		return
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	var (
		mu  sync.Mutex
		out *os.File
	)
	mux.HandleFunc("POST /debug/pprof/cpu/start", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if out != nil {
			http.Error(w, "a CPU profile is running", http.StatusConflict)
			return
		}
		f, err := os.Create(r.URL.Query().Get("file"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if err := rpprof.StartCPUProfile(f); err != nil {
			_ = f.Close()
			http.Error(w, err.Error(), http.StatusConflict)
			return
		}
		out = f
	})
	mux.HandleFunc("POST /debug/pprof/cpu/stop", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if out == nil {
			http.Error(w, "no CPU profile is running", http.StatusConflict)
			return
		}
		rpprof.StopCPUProfile()
		if err := out.Close(); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
		out = nil
	})
	go func() { _ = http.Serve(ln, mux) }()
}
