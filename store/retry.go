package store

// Retries of commands that certainly did not run, and the classifier the HTTP
// layer uses to answer 503 while Redis is down or loading.
//
// go-redis's own retries are off (noRetries): a write script whose reply was
// lost may have run, and running it again would answer a successful create
// with a conflict. What is safe to run again:
//   - any command Redis refused without running it: LOADING (a restart is
//     loading the data set), TRYAGAIN and CLUSTERDOWN (a cluster resharding or
//     failing over), MASTERDOWN, READONLY (a failover left us on a replica),
//     BUSY (a script is running);
//   - any command that was never sent: the connection could not be made
//     (refused, unreachable) or no pooled connection became free;
//   - a read, whatever happened (running it twice changes nothing).
// A write whose connection broke after sending is never re-sent: its error
// goes to the caller (the IdP retries on 503, the sync worker with backoff).

import (
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
)

// retryPolicy bounds the retries of one call: attempts in all, first pause,
// longest pause, and the time after the first attempt past which no new
// attempt starts. Every pause is bound to the caller's ctx.
type retryPolicy struct {
	attempts  int
	base, max time.Duration
	budget    time.Duration
}

// defaultRetry rides out a Redis restart's short LOADING phase or a failover
// (about 3 s of pauses in all) without holding a request for long.
var defaultRetry = retryPolicy{attempts: 8, base: 25 * time.Millisecond, max: time.Second, budget: 5 * time.Second}

// again reports whether attempt (1-based, just failed) may be followed by
// another one, started at first.
func (p retryPolicy) again(attempt int, first time.Time) bool {
	return attempt < p.attempts && time.Since(first) < p.budget
}

// pause returns the jittered pause before attempt (1-based), in [d/2, d).
func (p retryPolicy) pause(attempt int) time.Duration {
	d := min(p.max, p.base<<min(attempt-1, 16))
	return d/2 + rand.N(d/2+1)
}

// retryHook is the redis.Hook that retries commands and pipelines that
// certainly did not run (or only read).
type retryHook struct{ policy retryPolicy }

var _ redis.Hook = retryHook{}

func (retryHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h retryHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		first := time.Now()
		var prev error
		for attempt := 1; ; attempt++ {
			err := next(ctx, cmd)
			if err != nil && prev != nil && ctx.Err() != nil {
				// The caller's time ran out during a retry: what it needs to know
				// is why the command kept failing (e.g. LOADING), not the deadline.
				cmd.SetErr(prev)
				return prev
			}
			if err == nil || !h.policy.again(attempt, first) || !safeToRetry(cmd.Name(), err) {
				return err
			}
			prev = err
			if !sleep(ctx, h.policy.pause(attempt)) {
				return err
			}
			cmd.SetErr(nil)
		}
	}
}

func (h retryHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		first := time.Now()
		var prev error
		for attempt := 1; ; attempt++ {
			err := next(ctx, cmds)
			if err != nil && prev != nil && ctx.Err() != nil {
				for _, c := range cmds {
					c.SetErr(prev)
				}
				return prev
			}
			if err == nil || !h.policy.again(attempt, first) || !pipelineSafeToRetry(cmds, err) {
				return err
			}
			prev = err
			if !sleep(ctx, h.policy.pause(attempt)) {
				return err
			}
			for _, c := range cmds {
				c.SetErr(nil)
			}
		}
	}
}

// pipelineSafeToRetry: every command only reads, or every command failed
// without running.
func pipelineSafeToRetry(cmds []redis.Cmder, err error) bool {
	allRead, allNotRun := true, true
	for _, c := range cmds {
		if !readOnly(c.Name()) {
			allRead = false
		}
		cerr := c.Err()
		if cerr == nil || errors.Is(cerr, redis.Nil) {
			allNotRun = false
		} else if !notRun(cerr) {
			allNotRun = false
		}
	}
	if allRead {
		return notRun(err) || networkError(err)
	}
	return allNotRun
}

// safeToRetry reports whether the command name may run again after err.
func safeToRetry(name string, err error) bool {
	if notRun(err) {
		return true
	}
	return readOnly(name) && networkError(err)
}

// notRunReplies are the error replies of a server that refused a command
// without running it.
var notRunReplies = []string{"LOADING", "TRYAGAIN", "CLUSTERDOWN", "MASTERDOWN", "READONLY", "BUSY"}

// notRun reports whether err proves the command did not run.
func notRun(err error) bool {
	if err == nil || errors.Is(err, redis.Nil) {
		return false
	}
	if redis.IsLoadingError(err) || redis.IsTryAgainError(err) || redis.IsClusterDownError(err) ||
		redis.IsMasterDownError(err) || redis.IsReadOnlyError(err) {
		return true
	}
	for _, p := range notRunReplies {
		if redis.HasErrorPrefix(err, p) {
			return true
		}
	}
	if errors.Is(err, redis.ErrPoolTimeout) || errors.Is(err, syscall.ECONNREFUSED) {
		return true
	}
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// networkError reports a broken or unreachable connection.
func networkError(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// readOnly lists the read commands the store sends.
func readOnly(name string) bool {
	switch strings.ToLower(name) {
	case "get", "mget", "exists", "type", "ttl", "pttl", "ping", "info",
		"hget", "hmget", "hgetall", "hlen", "hscan",
		"smembers", "sismember", "scard", "sscan",
		"zcard", "zcount", "zscore", "zmscore", "zrange", "zrangebyscore", "zrangebylex", "zrevrange", "zscan":
		return true
	}
	return false
}

// sleep waits d or until ctx ends; false when ctx ended.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// UnavailableRetryAfter is the Retry-After to send with a 503 when Redis is
// unavailable: long enough for a restart to load a modest data set, short
// enough that IdPs come back promptly.
const UnavailableRetryAfter = 5 * time.Second

// Unavailable classifies a store error for the HTTP layer (RFC 7231 §6.6.4):
// ok is true when Redis is down, unreachable, loading its data set after a
// restart, or a cluster is failing over — the request may succeed later and
// deserves 503 Service Unavailable with Retry-After: retryAfter. Errors of
// the request itself (not found, conflict, precondition) and cancelled
// contexts are not.
func Unavailable(err error) (retryAfter time.Duration, ok bool) {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return 0, false
	}
	if errors.Is(err, ErrNotFound) || errors.Is(err, ErrConflict) || errors.Is(err, ErrPrecondition) ||
		errors.Is(err, ErrUnknownMember) {
		return 0, false
	}
	if notRun(err) || networkError(err) || errors.Is(err, redis.ErrClosed) {
		return UnavailableRetryAfter, true
	}
	if redis.HasErrorPrefix(err, "OOM") {
		// Redis at maxmemory (noeviction): the store cannot take writes until
		// an operator frees or adds memory; the client should come back later
		// (not retried here: a script refused part-way may have written).
		return UnavailableRetryAfter, true
	}
	return 0, false
}
