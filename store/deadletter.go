package store

// Dead letters: sync states with status SyncDead (a permanent downstream error),
// listed newest first and re-playable. The dead set is maintained by PutSync and
// DeleteSync in the same atomic step as the state itself.

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// replayTries bounds the compare-and-set retries of one Replay under contention.
const replayTries = 16

// replayBatch is the number of dead letters ReplayAll reads and rewrites per round trip.
const replayBatch = 100

// ListDead returns up to limit dead sync states of tenant, across connectors,
// newest first (by the time they were last written as dead). limit <= 0 returns all.
func (s *Store) ListDead(ctx context.Context, tenant string, limit int) ([]*SyncState, error) {
	stop := int64(-1)
	if limit > 0 {
		stop = int64(limit) - 1
	}
	members, err := s.rdb.ZRevRange(ctx, deadKey(tenant), 0, stop).Result()
	if err != nil {
		return nil, fmt.Errorf("list dead letters of tenant %q: %w", tenant, err)
	}
	refs := make([]deadRef, 0, len(members))
	for _, m := range members {
		connector, subject, ok := strings.Cut(m, "|")
		if !ok {
			continue
		}
		refs = append(refs, deadRef{connector, subject})
	}
	raws, err := s.syncRaws(ctx, tenant, refs)
	if err != nil {
		return nil, fmt.Errorf("list dead letters of tenant %q: %w", tenant, err)
	}
	out := make([]*SyncState, 0, len(refs))
	for i, r := range refs {
		if raws[i] == nil {
			continue // deleted between the two reads
		}
		st, err := decodeSync(r.connector, r.subject, *raws[i])
		if err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	return out, nil
}

// deadRef names one sync state.
type deadRef struct{ connector, subject string }

// syncRaws reads the stored values of refs in one round trip; nil for absent ones.
func (s *Store) syncRaws(ctx context.Context, tenant string, refs []deadRef) ([]*string, error) {
	out := make([]*string, len(refs))
	if len(refs) == 0 {
		return out, nil
	}
	cmds := make([]*redis.StringCmd, len(refs))
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, r := range refs {
			cmds[i] = p.HGet(ctx, syncKey(tenant, r.connector), r.subject)
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, err
	}
	for i, c := range cmds {
		v, err := c.Result()
		if errors.Is(err, redis.Nil) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out[i] = &v
	}
	return out, nil
}

// replayed returns the state raw rewritten for a replay.
func replayed(connector, subject, raw string, now time.Time) (*SyncState, error) {
	st, err := decodeSync(connector, subject, raw)
	if err != nil {
		return nil, err
	}
	st.Status = SyncPending
	st.Attempts = 0
	st.NextRetry = time.Time{}
	st.UpdatedAt = now.UTC()
	return st, nil
}

// Replay re-queues one sync state, dead or not, atomically: its status becomes
// SyncPending with Attempts 0 and no NextRetry (LastError is kept until the next
// attempt overwrites it), it leaves the dead-letter set, and the subject's work
// key is marked dirty (due now). ErrNotFound when there is no such state; the
// subject must be in queue-member form "<Kind>|<id>".
func (s *Store) Replay(ctx context.Context, tenant, connector, subject string) error {
	if err := checkSyncID(tenant, connector, subject); err != nil {
		return fmt.Errorf("replay: %w", err)
	}
	wk, err := ParseSubject(tenant, subject)
	if err != nil {
		return fmt.Errorf("replay: %w", err)
	}
	for range replayTries {
		raw, err := s.rdb.HGet(ctx, syncKey(tenant, connector), subject).Result()
		if errors.Is(err, redis.Nil) {
			return fmt.Errorf("replay %s/%s in tenant %q: %w", connector, subject, tenant, ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("replay %s/%s in tenant %q: %w", connector, subject, tenant, err)
		}
		st, err := replayed(connector, subject, raw, s.now())
		if err != nil {
			return fmt.Errorf("replay: %w", err)
		}
		cmd, err := s.runPutSync(ctx, s.rdb, putSyncArgs{tenant: tenant, st: st, compare: true, expect: raw, dirty: wk.Subject()})
		if err != nil {
			return fmt.Errorf("replay %s/%s in tenant %q: %w", connector, subject, tenant, err)
		}
		n, err := cmd.Int()
		if err != nil {
			return fmt.Errorf("replay %s/%s in tenant %q: %w", connector, subject, tenant, err)
		}
		if n == 1 {
			return nil
		}
	}
	return fmt.Errorf("replay %s/%s in tenant %q: %w", connector, subject, tenant, errSyncChanged)
}

// ReplayAll replays (as Replay) every dead letter of one connector of tenant and
// returns how many it replayed. Dead letters written while it runs may be left
// for a next call.
func (s *Store) ReplayAll(ctx context.Context, tenant, connector string) (int, error) {
	if err := checkSyncID(tenant, connector, "-"); err != nil {
		return 0, fmt.Errorf("replay all: %w", err)
	}
	subjects, err := s.deadSubjects(ctx, tenant, connector)
	if err != nil {
		return 0, fmt.Errorf("replay all of %s in tenant %q: %w", connector, tenant, err)
	}
	total := 0
	for i := 0; i < len(subjects); i += replayBatch {
		n, err := s.replayBatch(ctx, tenant, connector, subjects[i:min(i+replayBatch, len(subjects))])
		total += n
		if err != nil {
			return total, fmt.Errorf("replay all of %s in tenant %q: %w", connector, tenant, err)
		}
	}
	return total, nil
}

// deadSubjects lists the subjects of connector in the dead set.
func (s *Store) deadSubjects(ctx context.Context, tenant, connector string) ([]string, error) {
	prefix := connector + "|"
	match := globEscape(prefix) + "*"
	var (
		out    []string
		cursor uint64
	)
	for {
		kv, next, err := s.rdb.ZScan(ctx, deadKey(tenant), cursor, match, 256).Result()
		if err != nil {
			return nil, err
		}
		for i := 0; i < len(kv); i += 2 {
			if subject, ok := strings.CutPrefix(kv[i], prefix); ok && subject != "" {
				out = append(out, subject)
			}
		}
		if next == 0 {
			break
		}
		cursor = next
	}
	// ZSCAN may return a member twice.
	seen := make(map[string]struct{}, len(out))
	uniq := out[:0]
	for _, sub := range out {
		if _, dup := seen[sub]; !dup {
			seen[sub] = struct{}{}
			uniq = append(uniq, sub)
		}
	}
	return uniq, nil
}

// replayBatch replays subjects in two round trips; a subject whose state changed
// in between is replayed on its own.
func (s *Store) replayBatch(ctx context.Context, tenant, connector string, subjects []string) (int, error) {
	refs := make([]deadRef, len(subjects))
	for i, sub := range subjects {
		refs[i] = deadRef{connector, sub}
	}
	raws, err := s.syncRaws(ctx, tenant, refs)
	if err != nil {
		return 0, err
	}
	now := s.now()
	cmds := make([]*redis.Cmd, len(subjects))
	_, err = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, sub := range subjects {
			wk, err := ParseSubject(tenant, sub)
			if raws[i] == nil || err != nil {
				continue // deleted meanwhile, or not a work subject: nothing to requeue
			}
			st, err := replayed(connector, sub, *raws[i], now)
			if err != nil {
				return err
			}
			cmds[i], err = s.runPutSync(ctx, p, putSyncArgs{tenant: tenant, st: st, compare: true, expect: *raws[i], dirty: wk.Subject()})
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	done := 0
	for i, c := range cmds {
		if c == nil {
			continue
		}
		n, err := c.Int()
		if err != nil {
			return done, err
		}
		if n == 1 {
			done++
			continue
		}
		// Lost a race with a concurrent write: replay it alone, from a fresh read.
		switch err := s.Replay(ctx, tenant, connector, subjects[i]); {
		case err == nil:
			done++
		case errors.Is(err, ErrNotFound):
		default:
			return done, err
		}
	}
	return done, nil
}

// globEscape quotes the glob metacharacters of a SCAN MATCH pattern.
func globEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '*', '?', '[', ']', '\\':
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}
