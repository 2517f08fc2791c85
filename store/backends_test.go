package store

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
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

// TestScriptsPreloaded: Open compiles every script of the store in Redis, so
// no request pays a first compilation; the list covers every script the
// package defines.
func TestScriptsPreloaded(t *testing.T) {
	t.Parallel()
	defined := 0
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		defined += strings.Count(string(src), "= redis.NewScript(")
	}
	if got := len(scripts()); got != defined || defined == 0 {
		t.Fatalf("scripts() lists %d scripts, the package defines %d", got, defined)
	}
	check := func(t *testing.T, c redis.Cmdable) {
		t.Helper()
		var hashes []string
		for _, sc := range scripts() {
			hashes = append(hashes, sc.Hash())
		}
		ok, err := c.ScriptExists(context.Background(), hashes...).Result()
		if err != nil {
			t.Fatal(err)
		}
		for i, loaded := range ok {
			if !loaded {
				t.Errorf("script %s not loaded", hashes[i])
			}
		}
	}
	backends(t, func(t *testing.T, s *Store) { check(t, s.rdb) })
	t.Run("cluster", func(t *testing.T) {
		s := openTestStore(t, redistest.StartCluster(t))
		cc, ok := s.rdb.(*redis.ClusterClient)
		if !ok {
			t.Fatalf("client %T, want a cluster client", s.rdb)
		}
		if err := cc.ForEachMaster(context.Background(), func(_ context.Context, c *redis.Client) error {
			check(t, c)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	})
}
