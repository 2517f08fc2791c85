package store

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

func consoleSaltKey() string { return Prefix + ":console-salt" }

// ConsoleSalt returns the deployment's console salt: 52 random base32
// characters (260 bits) created by the first replica that asks and shared by
// all of them. The admin console mixes it into its session signing key, so
// that whoever reads the configuration (whose admin tokens may be digests)
// still cannot sign a session: it lives only in Redis. Deleting the key ends
// every session (each replica reads it again within a minute).
func (s *Store) ConsoleSalt(ctx context.Context) ([]byte, error) {
	return s.sharedSecret(ctx, consoleSaltKey(), "console salt")
}

func cursorKeyKey() string { return Prefix + ":cursor-key" }

// CursorKey returns the deployment's key for signing pagination cursors (RFC
// 9865) when the configuration sets none: 52 random base32 characters created
// by the first replica that asks and shared by all of them, so a cursor one
// replica issued is valid on every other (each replica's own random key made
// about half the next pages of a load-balanced client fail with
// invalidCursor). Deleting the key invalidates the cursors issued so far once
// the replicas read it again (scimapi does every minute).
func (s *Store) CursorKey(ctx context.Context) ([]byte, error) {
	return s.sharedSecret(ctx, cursorKeyKey(), "cursor key")
}

// sharedSecret returns the random secret stored under key, creating it when
// absent (the first writer wins; every caller gets the same value).
func (s *Store) sharedSecret(ctx context.Context, key, what string) ([]byte, error) {
	if err := s.rdb.SetNX(ctx, key, rand.Text()+rand.Text(), 0).Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	v, err := s.rdb.Get(ctx, key).Result()
	if errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("%s: deleted while being read", what)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return []byte(v), nil
}

// revokeMargin: see RevokeConsoleSession.
const revokeMargin = 5 * time.Minute

func consoleRevokedKey(nonce string) string { return Prefix + ":console-revoked:" + nonce }

// RevokeConsoleSession ends the console session with that nonce on every
// replica (a logout); the mark expires with the session, at until.
func (s *Store) RevokeConsoleSession(ctx context.Context, nonce string, until time.Time) error {
	// Kept past the session's end by a margin for replicas whose clocks are
	// behind this one's (they accept the cookie until their own now reaches it).
	ttl := time.Until(until) + revokeMargin
	if ttl < time.Second {
		ttl = time.Second
	}
	if err := s.rdb.Set(ctx, consoleRevokedKey(nonce), "1", ttl).Err(); err != nil {
		return fmt.Errorf("revoke console session: %w", err)
	}
	return nil
}

// ConsoleSessionRevoked reports whether the session with that nonce was
// ended by RevokeConsoleSession.
func (s *Store) ConsoleSessionRevoked(ctx context.Context, nonce string) (bool, error) {
	n, err := s.rdb.Exists(ctx, consoleRevokedKey(nonce)).Result()
	if err != nil {
		return false, fmt.Errorf("console session revoked: %w", err)
	}
	return n > 0, nil
}
