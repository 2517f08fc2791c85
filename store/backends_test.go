package store

import (
	"context"
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
