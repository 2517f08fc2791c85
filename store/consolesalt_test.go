package store

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/scim-bridge/scim-bridge/store/redistest"
)

// TestConsoleSalt: the salt is created once and then read back the same;
// deleting it makes a new one.
func TestConsoleSalt(t *testing.T) {
	backends(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		a, err := s.ConsoleSalt(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(a) < 32 {
			t.Fatalf("salt %q: too short", a)
		}
		if b, err := s.ConsoleSalt(ctx); err != nil || !bytes.Equal(a, b) {
			t.Fatalf("second read: %q, %v; want %q", b, err, a)
		}
		if err := s.rdb.Del(ctx, consoleSaltKey()).Err(); err != nil {
			t.Fatal(err)
		}
		if c, err := s.ConsoleSalt(ctx); err != nil || bytes.Equal(a, c) {
			t.Fatalf("after deletion: %q, %v; want a new salt", c, err)
		}
	})
}

// TestConsoleSaltShared: two replicas on one Redis read the same salt.
func TestConsoleSaltShared(t *testing.T) {
	url := redistest.Start(t)
	ctx := context.Background()
	a, err := openTestStore(t, url).ConsoleSalt(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if b, err := openTestStore(t, url).ConsoleSalt(ctx); err != nil || !bytes.Equal(a, b) {
		t.Fatalf("second replica: %q, %v; want %q", b, err, a)
	}
}

// TestConsoleSessionRevoked: a revoked session stays revoked until its end;
// another one is not.
func TestConsoleSessionRevoked(t *testing.T) {
	backends(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		if err := s.RevokeConsoleSession(ctx, "n1", time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		for nonce, want := range map[string]bool{"n1": true, "n2": false} {
			if got, err := s.ConsoleSessionRevoked(ctx, nonce); err != nil || got != want {
				t.Errorf("%s: revoked %v, %v; want %v", nonce, got, err, want)
			}
		}
		if ttl := s.rdb.PTTL(ctx, consoleRevokedKey("n1")).Val(); ttl <= time.Hour || ttl > time.Hour+revokeMargin {
			t.Errorf("mark TTL %v, want the session's end plus the margin", ttl)
		}
	})
}
