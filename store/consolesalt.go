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
	if err := s.rdb.SetNX(ctx, consoleSaltKey(), rand.Text()+rand.Text(), 0).Err(); err != nil {
		return nil, fmt.Errorf("console salt: %w", err)
	}
	v, err := s.rdb.Get(ctx, consoleSaltKey()).Result()
	if errors.Is(err, redis.Nil) {
		return nil, errors.New("console salt: deleted while being read")
	}
	if err != nil {
		return nil, fmt.Errorf("console salt: %w", err)
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
