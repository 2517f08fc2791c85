package store

// Sync state per (tenant, connector, subject): what the bridge last applied
// downstream and how the last attempt went. Counters per status are kept in the
// same atomic step as every write, so status pages read them in O(1).

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Sync statuses.
const (
	SyncSynced   = "synced"   // downstream matches AppliedHash
	SyncPending  = "pending"  // a change is waiting to be applied
	SyncRetrying = "retrying" // the last attempt failed with a retryable error; see NextRetry
	SyncDead     = "dead"     // a permanent error; listed by ListDead until replayed or rewritten
)

// SyncState is the sync state of one subject for one connector of a tenant.
type SyncState struct {
	Connector string `json:"connector"`
	// Subject is the work key in queue-member form, "<Kind>|<id>" (WorkKey.Subject).
	Subject string `json:"subject"`
	// Record is connector-owned data (downstream ids...), opaque to the store.
	Record json.RawMessage `json:"record,omitempty"`
	// AppliedHash is the hash of the desired state last applied downstream.
	AppliedHash string    `json:"appliedHash,omitempty"`
	Status      string    `json:"status"`
	Attempts    int       `json:"attempts,omitempty"`
	LastError   string    `json:"lastError,omitempty"`
	NextRetry   time.Time `json:"nextRetry,omitzero"`
	// UpdatedAt is stamped by the store on every write.
	UpdatedAt time.Time `json:"updatedAt,omitzero"`
	// InFlightHash is set before a downstream call and cleared after it: the
	// intent record that tells, after a crash, which desired state may have been
	// applied without being recorded.
	InFlightHash string `json:"inFlightHash,omitempty"`
}

func validSyncStatus(s string) bool {
	switch s {
	case SyncSynced, SyncPending, SyncRetrying, SyncDead:
		return true
	}
	return false
}

func checkSyncID(tenant, connector, subject string) error {
	switch {
	case tenant == "":
		return errors.New("empty tenant")
	case connector == "" || strings.Contains(connector, "|"):
		return fmt.Errorf("connector %q: must be non-empty and contain no \"|\"", connector)
	case subject == "":
		return errors.New("empty subject")
	}
	return nil
}

// putSyncScript writes one sync state and keeps the per-status counters and
// the dead-letter set in step, optionally as a compare-and-set and with a dirty
// mark of the subject.
//
//	KEYS: sync hash, count hash, connectors set, dead zset, queue zset
//	ARGV: subject, state JSON, status, dead member, dead score ms, connector,
//	      compare ("1": the current value must equal ARGV[8]), expected value,
//	      queue member to mark dirty ("" none), now ms
//
// Returns 1, or -1 when the compare failed.
var putSyncScript = redis.NewScript(`
local old = redis.call('HGET', KEYS[1], ARGV[1])
if ARGV[7] == '1' and old ~= ARGV[8] then return -1 end
local was = nil
if old then was = cjson.decode(old)['status'] end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
if was ~= ARGV[3] then
  if type(was) == 'string' then
    if redis.call('HINCRBY', KEYS[2], was, -1) <= 0 then redis.call('HDEL', KEYS[2], was) end
  end
  redis.call('HINCRBY', KEYS[2], ARGV[3], 1)
end
redis.call('SADD', KEYS[3], ARGV[6])
if ARGV[3] == 'dead' then
  redis.call('ZADD', KEYS[4], ARGV[5], ARGV[4])
else
  redis.call('ZREM', KEYS[4], ARGV[4])
end
if ARGV[9] ~= '' then
  redis.call('ZADD', KEYS[5], 'LT', ARGV[10], ARGV[9])
end
return 1
`)

// deleteSyncScript removes one sync state with its counter and dead letter.
//
//	KEYS: sync hash, count hash, dead zset
//	ARGV: subject, dead member
var deleteSyncScript = redis.NewScript(`
local old = redis.call('HGET', KEYS[1], ARGV[1])
if not old then return 0 end
local was = cjson.decode(old)['status']
redis.call('HDEL', KEYS[1], ARGV[1])
if type(was) == 'string' then
  if redis.call('HINCRBY', KEYS[2], was, -1) <= 0 then redis.call('HDEL', KEYS[2], was) end
end
redis.call('ZREM', KEYS[3], ARGV[2])
return 1
`)

// errSyncChanged: a compare-and-set write lost a race; the caller re-reads.
var errSyncChanged = errors.New("sync state changed concurrently")

// putSyncArgs are the inputs of one putSyncScript run.
type putSyncArgs struct {
	tenant  string
	st      *SyncState
	compare bool   // write only if the stored value is still expect
	expect  string // the raw stored value read before
	dirty   string // queue member to mark dirty, "" none
}

func (s *Store) runPutSync(ctx context.Context, p redis.Scripter, a putSyncArgs) (*redis.Cmd, error) {
	val, err := json.Marshal(a.st)
	if err != nil {
		return nil, fmt.Errorf("encode sync state: %w", err)
	}
	t, st := a.tenant, a.st
	cmp := "0"
	if a.compare {
		cmp = "1"
	}
	keys := []string{syncKey(t, st.Connector), syncCountKey(t, st.Connector), syncConnsKey(t), deadKey(t), queueKey(t)}
	args := []any{st.Subject, string(val), st.Status, deadMember(st.Connector, st.Subject), queueScore(st.UpdatedAt),
		st.Connector, cmp, a.expect, a.dirty, queueScore(s.now())}
	if _, queued := p.(redis.Pipeliner); queued {
		// Run's EVALSHA → EVAL fallback cannot see a NOSCRIPT reply inside a pipeline.
		return putSyncScript.Eval(ctx, p, keys, args...), nil
	}
	return putSyncScript.Run(ctx, p, keys, args...), nil
}

// PutSync stores st as the sync state of (tenant, st.Connector, st.Subject),
// replacing any previous one, and stamps st.UpdatedAt with the store's clock. In
// the same atomic step it adjusts the per-status counters read by SyncCounts and
// the dead-letter set: status SyncDead adds the subject to it (scored by
// UpdatedAt), any other status removes it. The status must be one of the Sync*
// constants; the connector name must not contain "|".
func (s *Store) PutSync(ctx context.Context, tenant string, st *SyncState) error {
	if st == nil {
		return errors.New("put sync state: nil state")
	}
	if err := checkSyncID(tenant, st.Connector, st.Subject); err != nil {
		return fmt.Errorf("put sync state: %w", err)
	}
	if !validSyncStatus(st.Status) {
		return fmt.Errorf("put sync state %s/%s: unknown status %q", st.Connector, st.Subject, st.Status)
	}
	st.UpdatedAt = s.now().UTC()
	cmd, err := s.runPutSync(ctx, s.rdb, putSyncArgs{tenant: tenant, st: st})
	if err == nil {
		err = cmd.Err()
	}
	if err != nil {
		return fmt.Errorf("put sync state %s/%s in tenant %q: %w", st.Connector, st.Subject, tenant, err)
	}
	return nil
}

// decodeSync decodes a stored state; connector and subject come from where it
// was stored.
func decodeSync(connector, subject, raw string) (*SyncState, error) {
	st := new(SyncState)
	if err := json.Unmarshal([]byte(raw), st); err != nil {
		return nil, fmt.Errorf("decode sync state %s/%s: %w", connector, subject, err)
	}
	st.Connector, st.Subject = connector, subject
	return st, nil
}

// GetSync returns the sync state of (tenant, connector, subject), or ErrNotFound.
func (s *Store) GetSync(ctx context.Context, tenant, connector, subject string) (*SyncState, error) {
	raw, err := s.rdb.HGet(ctx, syncKey(tenant, connector), subject).Result()
	if errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("sync state %s/%s in tenant %q: %w", connector, subject, tenant, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get sync state %s/%s in tenant %q: %w", connector, subject, tenant, err)
	}
	return decodeSync(connector, subject, raw)
}

// GetSyncs returns the sync state of subject for each of connectors, in one
// round trip, keyed by connector. Connectors without state are absent from the map.
func (s *Store) GetSyncs(ctx context.Context, tenant, subject string, connectors []string) (map[string]*SyncState, error) {
	states, _, err := s.getSyncs(ctx, tenant, subject, connectors, false)
	return states, err
}

// GetSyncsTakingForced is GetSyncs and TakeForced in one round trip: what a
// worker reads before it converges subject.
func (s *Store) GetSyncsTakingForced(ctx context.Context, tenant, subject string, connectors []string) (map[string]*SyncState, map[string]bool, error) {
	return s.getSyncs(ctx, tenant, subject, connectors, true)
}

func (s *Store) getSyncs(ctx context.Context, tenant, subject string, connectors []string, take bool) (map[string]*SyncState, map[string]bool, error) {
	out := make(map[string]*SyncState, len(connectors))
	if len(connectors) == 0 {
		return out, nil, nil
	}
	cmds := make([]*redis.StringCmd, len(connectors))
	var taken []*redis.IntCmd
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, c := range connectors {
			cmds[i] = p.HGet(ctx, syncKey(tenant, c), subject)
		}
		if take {
			taken = queueTakeForced(ctx, p, tenant, subject, connectors)
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, nil, fmt.Errorf("get sync states of %s in tenant %q: %w", subject, tenant, err)
	}
	for i, c := range connectors {
		raw, err := cmds[i].Result()
		if errors.Is(err, redis.Nil) {
			continue
		}
		if err != nil {
			return nil, nil, fmt.Errorf("get sync state %s/%s in tenant %q: %w", c, subject, tenant, err)
		}
		st, err := decodeSync(c, subject, raw)
		if err != nil {
			return nil, nil, err
		}
		out[c] = st
	}
	return out, takenForced(connectors, taken), nil
}

// DeleteSync removes the sync state of (tenant, connector, subject) with its
// counter and dead letter, atomically. Deleting an absent state is not an error.
func (s *Store) DeleteSync(ctx context.Context, tenant, connector, subject string) error {
	if err := checkSyncID(tenant, connector, subject); err != nil {
		return fmt.Errorf("delete sync state: %w", err)
	}
	err := deleteSyncScript.Run(ctx, s.rdb,
		[]string{syncKey(tenant, connector), syncCountKey(tenant, connector), deadKey(tenant)},
		subject, deadMember(connector, subject)).Err()
	if err != nil {
		return fmt.Errorf("delete sync state %s/%s in tenant %q: %w", connector, subject, tenant, err)
	}
	return nil
}

// scanSyncCount is the HSCAN batch size hint.
const scanSyncCount = 256

// ScanSync streams every sync state of one connector of tenant to fn, a batch
// of HSCAN at a time (memory stays bounded), in no particular order. It stops at
// the first error of fn and returns it unwrapped. As with any Redis SCAN, a state
// present for the whole scan is visited at least once; one written or deleted
// meanwhile may or may not be, and a state may be visited twice if the hash is
// resized during the scan.
func (s *Store) ScanSync(ctx context.Context, tenant, connector string, fn func(*SyncState) error) error {
	k := syncKey(tenant, connector)
	var cursor uint64
	for {
		kv, next, err := s.rdb.HScan(ctx, k, cursor, "", scanSyncCount).Result()
		if err != nil {
			return fmt.Errorf("scan sync states of %s in tenant %q: %w", connector, tenant, err)
		}
		for i := 0; i+1 < len(kv); i += 2 {
			st, err := decodeSync(connector, kv[i], kv[i+1])
			if err != nil {
				return err
			}
			if err := fn(st); err != nil {
				return err
			}
		}
		if next == 0 {
			return nil
		}
		cursor = next
	}
}

// SyncCounts returns, per connector, the number of subjects in each sync status
// (only non-zero counts; connectors with no state are absent). The counters are
// maintained by every write, so this costs two round trips whatever the size.
func (s *Store) SyncCounts(ctx context.Context, tenant string) (map[string]map[string]int, error) {
	conns, err := s.rdb.SMembers(ctx, syncConnsKey(tenant)).Result()
	if err != nil {
		return nil, fmt.Errorf("sync counts of tenant %q: %w", tenant, err)
	}
	out := make(map[string]map[string]int, len(conns))
	if len(conns) == 0 {
		return out, nil
	}
	cmds := make([]*redis.MapStringStringCmd, len(conns))
	_, err = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, c := range conns {
			cmds[i] = p.HGetAll(ctx, syncCountKey(tenant, c))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("sync counts of tenant %q: %w", tenant, err)
	}
	for i, c := range conns {
		m := make(map[string]int)
		for status, v := range cmds[i].Val() {
			n, err := strconv.Atoi(v)
			if err != nil {
				return nil, fmt.Errorf("sync counts of %s in tenant %q: status %q: %w", c, tenant, status, err)
			}
			if n > 0 {
				m[status] = n
			}
		}
		if len(m) > 0 {
			out[c] = m
		}
	}
	return out, nil
}
