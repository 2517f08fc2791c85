package fanout

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/scim-bridge/scim-bridge/bridge/internal/clip"
	"github.com/scim-bridge/scim-bridge/bridge/internal/subject"
	"github.com/scim-bridge/scim-bridge/bridge/internal/tenant"
	"github.com/scim-bridge/scim-bridge/connectors"
	"github.com/scim-bridge/scim-bridge/store"
)

// target is one connector's share of a claimed key.
type target struct {
	conn    connectors.Connector
	subject connectors.Subject
}

// targets derives, for a claimed key, the connectors concerned and their subject.
func (w *Worker) targets(ctx context.Context, t *tenant.Tenant, k store.WorkKey) ([]target, error) {
	var out []target
	switch k.Kind {
	case store.WorkUser:
		u, err := subject.LoadUser(ctx, w.store, t.ID, k.ID)
		if err != nil {
			return nil, err
		}
		s := connectors.Subject{Kind: connectors.SubjectUser, ID: k.ID, User: u}
		for _, c := range t.Connectors {
			if c.Handles(connectors.SubjectUser) {
				out = append(out, target{c, s})
			}
		}
	case store.WorkTenant:
		s := connectors.Subject{Kind: connectors.SubjectTenant, ID: t.ID}
		for _, c := range t.Connectors {
			if c.Handles(connectors.SubjectTenant) {
				out = append(out, target{c, s})
			}
		}
	case store.WorkObject:
		name, obj, ok := strings.Cut(k.ID, "/")
		c := t.Connector(name)
		if ok && c != nil && c.Handles(connectors.SubjectObject) {
			out = append(out, target{c, connectors.Subject{Kind: connectors.SubjectObject, ID: obj}})
		}
	case store.WorkGroup:
		// Group writes mark the affected members themselves; no connector
		// converges a group as such.
	}
	return out, nil
}

// converge runs every target of the claimed key c concurrently (one failing or
// slow connector never delays another) and returns the earliest retry time
// needed, zero if none. c.Due, when the change being converged was noted, is
// handed on to the connectors (see readAfter).
func (w *Worker) converge(ctx context.Context, t *tenant.Tenant, c store.Claim) (time.Time, error) {
	k := c.Key
	targets, err := w.targets(ctx, t, k)
	if err != nil || len(targets) == 0 {
		return time.Time{}, err
	}
	// The owner's lease lost mid-convergence (this replica stalled past it)
	// ends the convergence, as the loss of the object's own lease does: the
	// owner may be converging elsewhere.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	release, busy, err := w.lockOwner(ctx, t, targets, cancel)
	defer release()
	switch {
	case heldBack(err):
		return spread(w.now(), w.now().Add(connectors.RetryAfterOf(err))), nil // the downstream holds us off
	case err != nil:
		return time.Time{}, err
	case busy:
		return w.now().Add(ownerBusyRetry), nil // the owner's convergence runs elsewhere
	}
	subj := k.Subject()
	names := make([]string, len(targets))
	for i, tg := range targets {
		names[i] = tg.conn.Name()
	}
	// Forced convergences (store.ForceConverge) are taken with the states;
	// one that then does not run to its end (held off by the downstream,
	// interrupted) is kept for the next convergence by convergeOne.
	states, forced, err := w.store.GetSyncsTakingForced(ctx, t.ID, subj, names)
	if err != nil {
		return time.Time{}, fmt.Errorf("read sync state: %w", err)
	}
	held := w.holds(ctx, t.ID, names)
	var (
		mu      sync.Mutex
		retryAt time.Time
		wg      sync.WaitGroup
	)
	for _, tg := range targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			at := w.convergeOne(ctx, t, subj, tg, states[tg.conn.Name()], held[tg.conn.Name()], forced[tg.conn.Name()], c.Due)
			if !at.IsZero() {
				mu.Lock()
				if retryAt.IsZero() || at.Before(retryAt) {
					retryAt = at
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return retryAt, nil
}

// convergeOne converges one connector for one subject and records the outcome.
// heldUntil is the end of the connector's hold by its downstream (zero: none);
// due is the claim's due time (see readAfter).
// It returns when the subject must be retried for this connector (zero: done).
func (w *Worker) convergeOne(ctx context.Context, t *tenant.Tenant, subj string, tg target, st *store.SyncState, heldUntil time.Time, forced bool, due time.Time) time.Time {
	name := tg.conn.Name()
	hash := subject.DesiredHash(tg.conn, tg.subject)
	now := w.now()
	if st == nil {
		st = &store.SyncState{Connector: name, Subject: subj}
	}
	switch {
	case forced: // the record is not to be trusted (store.ForceConverge)
		st.Attempts = 0 // a parked subject gets a full series of attempts again
	case st.Status == store.SyncSynced && st.AppliedHash == hash:
		return time.Time{} // nothing changed since the last success
	case st.Status == store.SyncDead && st.InFlightHash == hash:
		return time.Time{} // parked until replayed or until the desired state changes
	case st.Status == store.SyncRetrying && st.InFlightHash == hash && st.NextRetry.After(now):
		return st.NextRetry // an early mark: the retry is not due yet
	}
	if heldUntil.After(now) {
		// The downstream asked every replica to hold off (429/503 Retry-After):
		// wait without calling it and without spending an attempt.
		w.reforce(ctx, t.ID, subj, name, forced)
		return spread(now, heldUntil)
	}
	if st.InFlightHash != hash {
		st.Attempts = 0 // a new desired state starts a new series of attempts
	}
	if h := w.opts.Hooks.BeforeConverge; h != nil {
		if err := h(t.ID, name, subj); err != nil {
			w.reforce(ctx, t.ID, subj, name, forced)
			return now
		}
	}
	prev, derr := subject.Record(st)
	if derr != nil {
		// The record is a hint: converge from the downstream's truth instead.
		w.log.Warn().Str("error", clip.Error(derr)).Str("tenant", t.ID).Str("connector", name).Str("subject", clip.String(subj)).Msg("sync: ignoring an unreadable record")
	}
	start := time.Now()
	rec, actions, err := tg.conn.Converge(ctx, tg.subject, prev, connectors.Options{
		ReadAfter: readAfter(due, st, forced, w.now()),
		Applied: func(ctx context.Context, rec connectors.Record, _ connectors.Action) error {
			return w.recordApplied(ctx, t.ID, st, hash, rec)
		},
	})
	elapsed := time.Since(start)
	if h := w.opts.Hooks.AfterConverge; h != nil {
		if herr := h(t.ID, name, subj); herr != nil {
			return now
		}
	}
	if ctx.Err() != nil && err != nil {
		// Interrupted (a shutdown, a lost lease): due again at once, state
		// unchanged, a forced convergence still forced.
		w.reforce(ctx, t.ID, subj, name, forced)
		return now
	}
	if raw, merr := json.Marshal(rec); merr == nil && (err == nil || len(rec.IDs) > 0 || len(rec.State) > 0) {
		st.Record = raw
	}
	prevStatus, prevError := st.Status, st.LastError
	if !heldBack(err) {
		st.Attempts++ // a request the throttle held back never left: no attempt spent
	}
	st.InFlightHash = hash
	st.UpdatedAt = w.now()
	var retryAt time.Time
	ev := w.log.Info()
	w.observe(t.ID, name, err)
	if err == nil {
		st.Status, st.AppliedHash, st.LastError, st.NextRetry, st.Attempts = store.SyncSynced, hash, "", time.Time{}, 0
	} else {
		retryAt = w.retryRule(t.ID, name, st, err)
		ev = w.failureEvent(prevStatus, prevError, st).Str("class", connectors.ClassOf(err).String()).Str("error", st.LastError)
	}
	if w.opts.Metrics != nil {
		w.opts.Metrics.Converged(t.ID, name, st.Status, elapsed)
	}
	w.audit(t.ID, subj, st, actions, err, elapsed)
	ev.Str("tenant", t.ID).Str("connector", name).Str("subject", clip.String(subj)).
		Str("outcome", st.Status).Int("attempt", st.Attempts).Int("writes", len(actions)).
		Dur("duration", elapsed).Msg("converge")
	// Record even when shutting down: the downstream already changed. While
	// the store is unavailable the write is retried; the claim is released
	// only after it.
	if perr := w.storeWrite(ctx, func(ctx context.Context) error { return w.store.PutSync(ctx, t.ID, st) }); perr != nil {
		w.log.Error().Str("error", clip.Error(perr)).Str("tenant", t.ID).Str("connector", name).Str("subject", clip.String(subj)).Msg("record sync state")
		if retryAt.IsZero() {
			retryAt = w.now().Add(backoff(w.opts.BackoffBase, 1))
		}
	}
	return retryAt
}

// readAfter is connectors.Options.ReadAfter for a write convergence of a
// claimed key: when the change it converges was noted, so that the adapter
// does not act on, or report success from, a cached read of the downstream
// older than that change (an invitation a webhook announced, a team member
// added just before the user's change), while a burst of keys marked together
// still shares one read taken after their marks.
//
// It is the claim's due time (the earliest mark since the key's last release,
// or the time its retry came due); for a replay or a reconciliation's reset
// (a pending record, store.Replay) the later of that and the record's
// UpdatedAt, the time of the reset, which an earlier mark still queued would
// hide (a mark only ever moves a key's due time earlier); for a forced
// convergence (store.ForceConverge: a webhook says the downstream changed, or
// a lease was lost after a write) now, for the same reason and because the
// flag keeps no time. A zero due time counts as now. It is never after now.
func readAfter(due time.Time, st *store.SyncState, forced bool, now time.Time) time.Time {
	noted := due
	switch {
	case forced || noted.IsZero():
		noted = now
	case st.Status == store.SyncPending && st.UpdatedAt.After(noted):
		noted = st.UpdatedAt
	}
	if noted.After(now) {
		noted = now // a store's clock ahead of ours asks for no read from the future
	}
	return noted
}

// recordApplied stores the record of a convergence still running, right after
// one of its downstream writes answered (connectors.Options.Applied): the
// subject is pending with hash in flight, so a crash before the end of the
// convergence resumes from this record instead of re-doing the write.
func (w *Worker) recordApplied(ctx context.Context, tenantID string, st *store.SyncState, hash string, rec connectors.Record) error {
	raw, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("encode record: %w", err)
	}
	partial := *st
	partial.Record, partial.InFlightHash, partial.Status, partial.NextRetry = raw, hash, store.SyncPending, time.Time{}
	partial.UpdatedAt = w.now()
	if err := w.storeWrite(ctx, func(ctx context.Context) error { return w.store.PutSync(ctx, tenantID, &partial) }); err != nil {
		return fmt.Errorf("record sync state: %w", err)
	}
	return nil
}

// reforce raises again, when forced is set, the flag of a forced convergence
// taken for a convergence that did not run to its end (the key's retry is
// scheduled by the caller).
func (w *Worker) reforce(ctx context.Context, tenantID, subj, connector string, forced bool) {
	if !forced {
		return
	}
	err := w.storeWrite(ctx, func(ctx context.Context) error { return w.store.KeepForced(ctx, tenantID, subj, connector) })
	if err != nil {
		w.log.Error().Str("error", clip.Error(err)).Str("tenant", tenantID).Str("connector", connector).Str("subject", clip.String(subj)).Msg("sync: keep a forced convergence")
	}
}
