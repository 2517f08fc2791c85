package store

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// Forced convergences. A worker skips a subject whose sync record says synced
// with the current desired state (or parked with it). Some news makes that
// record untrustworthy although the desired state did not change: a webhook
// says the downstream object changed, a replica lost its lease after a late
// write. Rewriting the record would race with a convergence in flight (its
// final write would put "synced" back); a flag does not: the worker takes the
// flags of a subject before it converges it (TakeForced), so a flag raised
// while a convergence runs is still there for the next one.

// forcedKey is the set of "<connector>\0<subject>" whose next convergence must
// run whatever the record says.
func forcedKey(tenant string) string { return key(tenant, "forced") }

func forcedMember(connector, subject string) string { return connector + "\x00" + subject }

// ForceConverge makes the next convergence of k by each connector run even
// when its record says it is synced with (or parked at) the current desired
// state, and marks k dirty (due now), in one atomic step; with no connector
// it only marks k dirty.
func (s *Store) ForceConverge(ctx context.Context, tenant string, k WorkKey, connectors ...string) error {
	if err := checkWorkKey(tenant, k); err != nil {
		return fmt.Errorf("force converge: %w", err)
	}
	members := make([]any, len(connectors))
	for i, c := range connectors {
		members[i] = forcedMember(c, k.Subject())
	}
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		if len(members) > 0 {
			p.SAdd(ctx, forcedKey(tenant), members...)
		}
		p.ZAddLT(ctx, queueKey(tenant), redis.Z{Score: float64(queueScore(s.now())), Member: k.Subject()})
		return nil
	})
	if err != nil {
		return fmt.Errorf("force converge %s in tenant %q: %w", k.Subject(), tenant, err)
	}
	return nil
}

// KeepForced raises the forced-convergence flags of subject for connectors
// again, without marking it (a worker that took them and could not act on
// them now; it schedules the key's retry itself).
func (s *Store) KeepForced(ctx context.Context, tenant, subject string, connectors ...string) error {
	if len(connectors) == 0 {
		return nil
	}
	members := make([]any, len(connectors))
	for i, c := range connectors {
		members[i] = forcedMember(c, subject)
	}
	if err := s.rdb.SAdd(ctx, forcedKey(tenant), members...).Err(); err != nil {
		return fmt.Errorf("keep forced convergences of %s in tenant %q: %w", subject, tenant, err)
	}
	return nil
}

// TakeForced reports which of connectors have a forced convergence of subject
// pending (ForceConverge) and clears those flags: the caller converges them
// now, whatever their records say.
func (s *Store) TakeForced(ctx context.Context, tenant, subject string, connectors []string) (map[string]bool, error) {
	if len(connectors) == 0 {
		return nil, nil
	}
	var cmds []*redis.IntCmd
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		cmds = queueTakeForced(ctx, p, tenant, subject, connectors)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("take forced convergences of %s in tenant %q: %w", subject, tenant, err)
	}
	return takenForced(connectors, cmds), nil
}

// queueTakeForced adds to p the removal of subject's flag for each connector.
func queueTakeForced(ctx context.Context, p redis.Pipeliner, tenant, subject string, connectors []string) []*redis.IntCmd {
	cmds := make([]*redis.IntCmd, len(connectors))
	for i, c := range connectors {
		cmds[i] = p.SRem(ctx, forcedKey(tenant), forcedMember(c, subject))
	}
	return cmds
}

// takenForced reads the replies of queueTakeForced: the connectors whose flag
// was set.
func takenForced(connectors []string, cmds []*redis.IntCmd) map[string]bool {
	var out map[string]bool
	for i, cmd := range cmds {
		if cmd.Val() == 1 {
			if out == nil {
				out = make(map[string]bool)
			}
			out[connectors[i]] = true
		}
	}
	return out
}
