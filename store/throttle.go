package store

// Throttle state shared by every replica: per (tenant, connector), the time
// before which no request of the connector may leave (a downstream's 429 or
// 503 Retry-After, or an exhausted rate-limit header) and the number of
// rate-limited answers seen.
//
//	sb:{t}:throttle:<connector>  HASH  until → unix ms; limited → count

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// throttleKey holds one connector's throttle state.
func throttleKey(tenant, connector string) string { return key(tenant, "throttle", connector) }

// holdScript raises the hold and counts a rate-limited answer.
//
//	KEYS: throttle hash
//	ARGV: until ms (0: no hold), limited ("1" or "0")
var holdScript = redis.NewScript(`
local u = tonumber(ARGV[1])
if u > 0 and u > tonumber(redis.call('HGET', KEYS[1], 'until') or '0') then
  redis.call('HSET', KEYS[1], 'until', ARGV[1])
end
if ARGV[2] == '1' then
  redis.call('HINCRBY', KEYS[1], 'limited', 1)
end
return 1
`)

// ThrottleState is the shared throttle state of one connector.
type ThrottleState struct {
	// HeldUntil: no request before this time; zero when never held (it may be past).
	HeldUntil time.Time
	// RateLimited counts the 429 answers seen by every replica.
	RateLimited int64
}

// Held reports whether the connector is held at now.
func (t ThrottleState) Held(now time.Time) bool { return t.HeldUntil.After(now) }

// ConnectorThrottle is the shared throttle state of one (tenant, connector),
// the store of the adaptive throttle of its connector (it satisfies
// connectors.ThrottleStore). It is safe for concurrent use.
type ConnectorThrottle struct {
	s                 *Store
	tenant, connector string
}

// Throttle returns the shared throttle state of tenant's connector.
func (s *Store) Throttle(tenant, connector string) *ConnectorThrottle {
	return &ConnectorThrottle{s: s, tenant: tenant, connector: connector}
}

// Hold records that no request of the connector may leave before until (a
// later hold already recorded stays; a zero until records none) and, when
// limited, counts one rate-limited answer. One atomic step.
func (t *ConnectorThrottle) Hold(ctx context.Context, until time.Time, limited bool) error {
	if t.tenant == "" || t.connector == "" {
		return errors.New("throttle hold: empty tenant or connector")
	}
	var ms int64
	if !until.IsZero() {
		ms = queueScore(until)
	}
	lim := "0"
	if limited {
		lim = "1"
	}
	if err := holdScript.Run(ctx, t.s.rdb, []string{throttleKey(t.tenant, t.connector)}, ms, lim).Err(); err != nil {
		return fmt.Errorf("throttle hold of %s in tenant %q: %w", t.connector, t.tenant, err)
	}
	return nil
}

// HeldUntil returns the connector's hold: zero when it was never held; the
// time may be past.
func (t *ConnectorThrottle) HeldUntil(ctx context.Context) (time.Time, error) {
	v, err := t.s.rdb.HGet(ctx, throttleKey(t.tenant, t.connector), "until").Result()
	if errors.Is(err, redis.Nil) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("throttle of %s in tenant %q: %w", t.connector, t.tenant, err)
	}
	ms, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("throttle of %s in tenant %q: bad hold %q", t.connector, t.tenant, v)
	}
	return scoreTime(ms), nil
}

// ThrottleStates returns the shared throttle state of each named connector of
// tenant, by name (connectors never held have a zero state).
func (s *Store) ThrottleStates(ctx context.Context, tenant string, connectors []string) (map[string]ThrottleState, error) {
	cmds := make([]*redis.SliceCmd, len(connectors))
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, c := range connectors {
			cmds[i] = p.HMGet(ctx, throttleKey(tenant, c), "until", "limited")
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("throttle states of tenant %q: %w", tenant, err)
	}
	out := make(map[string]ThrottleState, len(connectors))
	for i, c := range connectors {
		var st ThrottleState
		vals := cmds[i].Val()
		if u, ok := vals[0].(string); ok {
			if ms, err := strconv.ParseInt(u, 10, 64); err == nil {
				st.HeldUntil = scoreTime(ms)
			}
		}
		if l, ok := vals[1].(string); ok {
			st.RateLimited, _ = strconv.ParseInt(l, 10, 64)
		}
		out[c] = st
	}
	return out, nil
}
