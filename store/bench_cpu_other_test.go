//go:build !unix

package store

import "time"

// resProcessCPU is not measured on this platform.
func resProcessCPU() (time.Duration, bool) { return 0, false }
