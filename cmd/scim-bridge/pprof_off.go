//go:build !pprof

package main

// startProfiling does nothing in release builds (see pprof.go).
func startProfiling(func(string) string) {}
