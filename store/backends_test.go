package store

import (
	"context"
	"errors"
	"os"
	"strconv"
	"testing"

	"github.com/rs/zerolog"

	"github.com/scim-bridge/scim-bridge/store/redistest"
)

// backends runs fn against every backend: the embedded store and a real
// redis-server (started on a random loopback port). This is the conformance
// harness: every contract test of the package goes through it.
func backends(t *testing.T, fn func(t *testing.T, s *Store)) {
	t.Helper()
	t.Run("embedded", func(t *testing.T) {
		fn(t, openTestStore(t, ""))
	})
	t.Run("redis", func(t *testing.T) {
		fn(t, openTestStore(t, redistest.Start(t)))
	})
}

func openTestStore(tb testing.TB, url string) *Store {
	tb.Helper()
	s, err := Open(context.Background(), Options{URL: url, Logger: zerolog.Nop()})
	if err != nil {
		tb.Fatalf("open store %q: %v", url, err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

func TestPingBothBackends(t *testing.T) {
	backends(t, func(t *testing.T, s *Store) {
		if err := s.Ping(context.Background()); err != nil {
			t.Fatal(err)
		}
	})
}

// envInt reads a size from the environment (tests and benchmarks that can run
// at production scale by hand), def when unset.
func envInt(tb testing.TB, name string, def int) int {
	tb.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		tb.Fatalf("%s=%q: want a positive integer", name, v)
	}
	return n
}

// redistestStart starts a real redis-server (the slowlog and memory figures
// need one).
func redistestStart(tb testing.TB) string { return redistest.Start(tb) }

func envString(name string) string { return os.Getenv(name) }

func isPrecondition(err error) bool { return errors.Is(err, ErrPrecondition) }
