package store

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"
)

// Prefix starts every key the bridge writes.
const Prefix = "sb"

// noRetries turns off go-redis's own retries: a write script whose reply was lost
// may have run, and running it again would answer a successful create with a
// conflict. retryHook (retry.go) retries what certainly did not run; callers
// retry the rest at a level that knows what happened (the IdP on a 503, the
// sync worker with backoff).
const noRetries = -1

// Store is the Redis-backed persistence of the bridge. It is safe for concurrent use.
type Store struct {
	rdb      redis.UniversalClient
	embedded *miniredis.Miniredis
	log      zerolog.Logger
	now      func() time.Time

	// auditTTLs spares a TTL refresh per audit entry (audit.go).
	auditTTLs ttlRefresh
	// users spares a PATCH its read (usercache.go).
	users *userCache

	stop     chan struct{}
	stopOnce sync.Once
	wg       sync.WaitGroup
}

// Options configure Open.
type Options struct {
	// URL is a redis:// or rediss:// URL; empty means the embedded in-memory store.
	URL    string
	Logger zerolog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Open connects to Redis (or starts the embedded store) and checks that it answers.
func Open(ctx context.Context, opts Options) (*Store, error) {
	s := &Store{log: opts.Logger, now: opts.Now, stop: make(chan struct{}), users: newUserCache(userCacheSize, userCacheBytes)}
	if s.now == nil {
		s.now = time.Now
	}
	if opts.URL == "" {
		mr := miniredis.NewMiniRedis()
		if err := mr.Start(); err != nil {
			return nil, fmt.Errorf("start embedded store: %w", err)
		}
		s.embedded = mr
		s.rdb = redis.NewClient(&redis.Options{Addr: mr.Addr(), PoolSize: 64, MaxRetries: noRetries})
		s.rdb.AddHook(retryHook{policy: defaultRetry})
		// miniredis TTLs do not count down by themselves: advance them on a ticker.
		s.wg.Add(1)
		go s.fastForward()
	} else {
		rdb, err := newClient(opts.URL)
		if err != nil {
			return nil, err
		}
		rdb.AddHook(retryHook{policy: defaultRetry})
		s.rdb = rdb
	}
	if err := s.rdb.Ping(ctx).Err(); err != nil {
		s.Close()
		return nil, fmt.Errorf("ping redis: %w", err)
	}
	if err := s.loadScripts(ctx); err != nil {
		// Not fatal: each script is loaded by its first use (EVALSHA, then
		// EVAL on NOSCRIPT), as after a Redis restart.
		s.log.Warn().Err(err).Msg("could not preload the store's scripts; each is loaded on first use")
	}
	return s, nil
}

// scripts returns every Lua script of the store.
func scripts() []*redis.Script {
	return []*redis.Script{
		groupPatchScript, putScript, deleteScript, trashScript, membersScript, resolveScript,
		upgradeGroupScript, upgradeExternalIDScript, lookupScript, claimScript, markOnceScript,
		releaseScript, extendScript, leaseKeyScript, acquireLockScript, renewLockScript,
		settleScript, putSyncScript, deleteSyncScript, holdScript, beginReplaceScript, endReplaceScript,
	}
}

// loadScripts compiles the store's scripts in Redis (SCRIPT LOAD; on a
// cluster, on every primary) at start-up, so that no request pays a script's
// first compilation (about 0.3 ms of Redis time each, during which Redis
// serves nobody) and the extra round trip of its NOSCRIPT reply. One round
// trip per script: Script.Load must not be pipelined (it would take the
// not-yet-read reply as the script's hash).
func (s *Store) loadScripts(ctx context.Context) error {
	load := func(ctx context.Context, c redis.Scripter) error {
		for _, sc := range scripts() {
			if err := sc.Load(ctx, c).Err(); err != nil {
				return fmt.Errorf("load scripts: %w", err)
			}
		}
		return nil
	}
	if cc, ok := s.rdb.(*redis.ClusterClient); ok {
		return cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error { return load(ctx, c) })
	}
	return load(ctx, s.rdb)
}

// newClient connects by URL (go-redis URL syntax):
//
//	redis://[user:pass@]host:port/db                       one server
//	redis://[user:pass@]host:port?addr=host2:port2&...     Redis Cluster, seeds host, host2, ...
//	redis://[user:pass@]host:port?master_name=M&addr=...   Sentinel: the sentinels, master M
//
// rediss:// turns TLS on. Every key of a tenant carries its hash tag, so a
// tenant's scripts and transactions stay on one cluster slot.
func newClient(rawURL string) (redis.UniversalClient, error) {
	connect, err := parseURL(rawURL)
	if err != nil {
		return nil, err
	}
	return connect(), nil
}

// CheckURL reports whether rawURL is a Redis URL Open accepts, without
// connecting. Its error never quotes the URL (it may carry a password).
func CheckURL(rawURL string) error {
	_, err := parseURL(rawURL)
	return err
}

// parseURL parses rawURL and returns how to connect.
func parseURL(rawURL string) (func() redis.UniversalClient, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("parse redis url: %w", redactURLError(err))
	}
	q := u.Query()
	switch {
	case q.Has("master_name"):
		o, err := redis.ParseFailoverURL(rawURL)
		if err != nil {
			return nil, fmt.Errorf("parse redis sentinel url: %w", redactURLError(err))
		}
		o.PoolSize = max(o.PoolSize, 64)
		o.MaxRetries = noRetries
		return func() redis.UniversalClient { return redis.NewFailoverClient(o) }, nil
	case q.Has("addr"):
		o, err := redis.ParseClusterURL(rawURL)
		if err != nil {
			return nil, fmt.Errorf("parse redis cluster url: %w", redactURLError(err))
		}
		o.PoolSize = max(o.PoolSize, 64)
		o.MaxRetries = noRetries
		return func() redis.UniversalClient { return redis.NewClusterClient(o) }, nil
	}
	o, err := redis.ParseURL(rawURL)
	if err != nil {
		return nil, fmt.Errorf("parse redis url: %w", redactURLError(err))
	}
	o.PoolSize = max(o.PoolSize, 64)
	o.MaxRetries = noRetries
	return func() redis.UniversalClient { return redis.NewClient(o) }, nil
}

// redactURLError keeps a URL parse error from echoing the URL, which may carry
// a password.
func redactURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// Embedded reports whether the store is the in-memory one (state lost on exit).
func (s *Store) Embedded() bool { return s.embedded != nil }

// Client exposes the Redis client, for health checks.
func (s *Store) Client() redis.UniversalClient { return s.rdb }

// Ping checks that Redis answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.rdb.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("ping redis: %w", err)
	}
	return nil
}

// Close releases the connection pool and stops the embedded server.
func (s *Store) Close() error {
	s.stopOnce.Do(func() { close(s.stop) })
	s.wg.Wait()
	err := s.rdb.Close()
	if s.embedded != nil {
		s.embedded.Close()
	}
	return err
}

// fastForward counts the embedded store's TTLs down by the wall time elapsed.
// miniredis visits (and sorts) every key on each FastForward while holding its
// global lock, so the pause between calls grows with the time a call takes:
// the lock is held at most ~2% of the time, and TTLs expire late by at most
// the pause (250ms, or seconds with hundreds of thousands of keys).
func (s *Store) fastForward() {
	defer s.wg.Done()
	const minPause = 250 * time.Millisecond
	last := time.Now()
	pause := minPause
	for {
		t := time.NewTimer(pause)
		select {
		case <-s.stop:
			t.Stop()
			return
		case <-t.C:
		}
		now := time.Now()
		s.embedded.FastForward(now.Sub(last))
		last = now
		pause = max(minPause, 50*time.Since(now))
	}
}

// key builds a tenant key: sb:{tenant}:part1:part2...
func key(tenant string, parts ...string) string {
	var b strings.Builder
	b.Grow(len(Prefix) + len(tenant) + 4 + 16*len(parts))
	b.WriteString(Prefix)
	b.WriteString(":{")
	b.WriteString(tenant)
	b.WriteString("}")
	for _, p := range parts {
		b.WriteByte(':')
		b.WriteString(p)
	}
	return b.String()
}
