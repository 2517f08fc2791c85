//go:build !unix

package filter

import (
	"testing"
	"time"
)

// processCPU is not measured on this platform.
func processCPU(testing.TB) time.Duration { return 0 }
