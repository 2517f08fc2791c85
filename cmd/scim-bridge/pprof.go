//go:build pprof

package main

// Built with -tags pprof, the binary serves net/http/pprof on the address in
// SCIM_BRIDGE_PPROF (e.g. 127.0.0.1:6060), for profiling under load (see
// cmd/scim-bridge-load). Release builds leave it out.

import (
	"net"
	"net/http"
	"net/http/pprof"
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
	go func() { _ = http.Serve(ln, mux) }()
}
