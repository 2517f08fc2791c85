// Package reconcile is the bridge's repair of drift: a run compares every
// subject's desired state with the downstream (a dry-run convergence per
// subject, so the plan names each change and its reason), looks for downstream
// objects no SCIM resource owns, and — unless a dry run — marks the drifted
// subjects for the fan-out worker and prunes managed orphans. Runs are scheduled
// per tenant under a Redis lock (schedule.go); a one-shot run waits for its
// repairs with WaitRepaired (wait.go); every full run is counted by outcome and
// recorded in the store, where every replica reads the last success (record.go).
//
// A new reconcile check belongs in Reconciler.Reconcile (per subject kind) or in
// inventory (per downstream object); a check never writes, it only plans.
package reconcile

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/scim-bridge/scim-bridge/bridge/internal/subject"
	"github.com/scim-bridge/scim-bridge/bridge/internal/tenant"
	"github.com/scim-bridge/scim-bridge/connectors"
	"github.com/scim-bridge/scim-bridge/filter"
	"github.com/scim-bridge/scim-bridge/store"
)

// OrphanSubject is the Subject of a plan item that prunes a downstream object no
// SCIM resource owns.
const OrphanSubject = "orphan"

// Reconciliation defaults.
const (
	// LockName is the name of the per-tenant lock a run holds (store.AcquireLock).
	LockName         = "reconcile"
	reconcileLockTTL = 30 * time.Second
	reconcileBatch   = 500
	// reconcileParallel bounds the subjects checked at once within a batch.
	reconcileParallel = 16
)

// ErrTooManyDeletions is returned (with the plan) when a run would delete or
// deactivate more downstream objects than the tenant's deletion threshold and
// Force is not set — like Entra's accidental-deletion prevention.
var ErrTooManyDeletions = errors.New("plan exceeds the deletion threshold")

// Store is what a run reads and writes: users and their groups, sync states, the
// work queue (to mark drifted subjects), and the tenant's reconcile lock.
type Store interface {
	ForEach(ctx context.Context, tenant string, kind store.Kind, batch int, fn func([]*store.Resource) error) error
	GroupsOf(ctx context.Context, tenant string, userIDs []string) (map[string][]store.GroupRef, error)
	Get(ctx context.Context, tenant string, kind store.Kind, id string) (*store.Resource, error)
	FindUserIDsByEmail(ctx context.Context, tenant, email string) ([]string, error)
	Query(ctx context.Context, tenant string, kind store.Kind, q store.Query) (store.Page, error)
	GetSync(ctx context.Context, tenant, connector, subject string) (*store.SyncState, error)
	PutSync(ctx context.Context, tenant string, st *store.SyncState) error
	MarkDirty(ctx context.Context, tenant string, keys ...store.WorkKey) error
	QueueStats(ctx context.Context, tenant string) (store.QueueStats, error)
	AcquireLock(ctx context.Context, tenant, name, owner string, ttl time.Duration) (*store.Lock, error)
	RenewLock(ctx context.Context, l *store.Lock, ttl time.Duration) error
	ReleaseLock(ctx context.Context, l *store.Lock) error
	RecordReconcile(ctx context.Context, tenant string, run store.ReconcileRun) error
}

// Metrics counts reconciliation runs by outcome (bridge/metrics implements it).
type Metrics interface {
	ReconcileRun(tenant, outcome string)
}

// Options configure a Reconciler. Store, Tenants, Now and UserSchema are required.
type Options struct {
	Store   Store
	Tenants *tenant.Set
	Logger  zerolog.Logger
	Now     func() time.Time
	// Owner names this replica in the reconcile lock.
	Owner string
	// UserSchema is the SCIM User schema, to look owners of orphans up by
	// userName and externalId.
	UserSchema *filter.ResourceSchema
	// OnMark, when set, is called after an applied plan marked subjects dirty.
	OnMark func()
	// Metrics, when set, counts the runs (see record.go).
	Metrics Metrics
	// OnRun, when set, is told about every run under the lock (for the audit trail).
	OnRun func(tenantID string, opts RunOptions, plan *Plan, d time.Duration, err error)
}

// Reconciler runs reconciliations.
type Reconciler struct {
	opts    Options
	store   Store
	tenants *tenant.Set
	log     zerolog.Logger
	now     func() time.Time
	// lockRenewEvery is how often a run renews its lock (reconcileLockTTL/3);
	// tests shorten it to see a renewal within a run.
	lockRenewEvery time.Duration
}

// New builds a Reconciler.
func New(opts Options) *Reconciler {
	return &Reconciler{opts: opts, store: opts.Store, tenants: opts.Tenants, log: opts.Logger, now: opts.Now,
		lockRenewEvery: reconcileLockTTL / 3}
}

// RunOptions tune one run.
type RunOptions struct {
	// Connector restricts the run to one connector; empty means all.
	Connector string
	// DryRun computes the plan and changes nothing, downstream or in the store.
	DryRun bool
	// Force lets a plan above the deletion threshold through.
	Force bool
	// Progress, when set, is told how far each connector got.
	Progress func(connector string, done int)
	// Trigger says who asked for the run ("schedule", "admin", "console", "cli"),
	// for the audit trail.
	Trigger string
}

// PlanItem is one change a run found necessary.
type PlanItem struct {
	Connector string        `json:"connector"`
	Subject   string        `json:"subject"`
	Op        connectors.Op `json:"op"`
	Object    string        `json:"object"`
	Reason    string        `json:"reason"`
}

// Plan is the outcome of a reconciliation run.
type Plan struct {
	Tenant    string     `json:"tenant"`
	DryRun    bool       `json:"dryRun"`
	Checked   int        `json:"checked"`
	Items     []PlanItem `json:"items"`
	Deletions int        `json:"deletions"`
	Refused   bool       `json:"refused,omitempty"`
	Errors    []string   `json:"errors,omitempty"`
	// marks are the subjects to converge (per connector) once the plan is accepted.
	marks []planMark
	// prunes are orphans to remove once the plan is accepted.
	prunes []planPrune
}

type planMark struct {
	connector string
	subject   string
	key       store.WorkKey
}

type planPrune struct {
	conn connectors.Connector
	obs  connectors.Observed
}

// Reconcile compares every subject's desired state with the downstream (a dry-run
// convergence per subject, so the plan names each change and its reason), looks
// for downstream objects no SCIM resource owns, and — unless DryRun — marks the
// drifted subjects for the sync worker and prunes managed orphans. Users are
// streamed from the store in batches: memory stays bounded however large the
// tenant. A full run that is not a dry run is recorded (see record.go).
func (rc *Reconciler) Reconcile(ctx context.Context, tenantID string, opts RunOptions) (*Plan, error) {
	plan, err := rc.reconcile(ctx, tenantID, opts)
	rc.record(ctx, tenantID, opts, plan, err)
	return plan, err
}

// reconcile is Reconcile without the record of the run.
func (rc *Reconciler) reconcile(ctx context.Context, tenantID string, opts RunOptions) (*Plan, error) {
	t := rc.tenants.Get(tenantID)
	if t == nil {
		return nil, fmt.Errorf("reconcile: unknown tenant %q", tenantID)
	}
	var conns []connectors.Connector
	for _, c := range t.Connectors {
		if opts.Connector == "" || c.Name() == opts.Connector {
			conns = append(conns, c)
		}
	}
	if len(conns) == 0 {
		return nil, fmt.Errorf("reconcile: tenant %q has no connector %q", tenantID, opts.Connector)
	}
	plan := &Plan{Tenant: tenantID, DryRun: opts.DryRun}
	dry := connectors.Options{DryRun: true, ReadAfter: rc.now()}
	// planned names each change once: two subjects can reach one downstream
	// object (a user and its pending invitation); converging both would make the
	// same write twice.
	planned := map[string]bool{}
	var mu sync.Mutex // guards plan and planned: users are checked concurrently
	check := func(c connectors.Connector, key store.WorkKey, s connectors.Subject) error {
		subj := key.Subject()
		var prev connectors.Record
		if st, err := rc.store.GetSync(ctx, tenantID, c.Name(), subj); err == nil {
			if prev, err = subject.Record(st); err != nil {
				// The record is a hint: check against the downstream's truth instead.
				rc.log.Warn().Err(err).Str("tenant", tenantID).Str("connector", c.Name()).Str("subject", subj).Msg("reconcile: ignoring an unreadable record")
			}
		} else if !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("read sync state: %w", err)
		}
		_, actions, err := c.Converge(ctx, s, prev, dry)
		mu.Lock()
		defer mu.Unlock()
		plan.Checked++
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			plan.Errors = append(plan.Errors, fmt.Sprintf("%s %s: %v", c.Name(), subj, err))
			return nil
		}
		fresh := 0
		for _, a := range actions {
			k := c.Name() + "\x00" + string(a.Op) + "\x00" + a.Object
			if planned[k] {
				continue
			}
			planned[k] = true
			fresh++
			plan.Items = append(plan.Items, PlanItem{Connector: c.Name(), Subject: subj, Op: a.Op, Object: a.Object, Reason: a.Reason})
			if a.Op.Deletes() {
				plan.Deletions++
			}
		}
		if fresh > 0 {
			plan.marks = append(plan.marks, planMark{connector: c.Name(), subject: subj, key: key})
		}
		return nil
	}

	for _, c := range conns {
		var done atomic.Int64
		progress := func() {
			if n := done.Add(1); opts.Progress != nil && n%100 == 0 {
				opts.Progress(c.Name(), int(n))
			}
		}
		if c.Handles(connectors.SubjectUser) {
			err := rc.store.ForEach(ctx, tenantID, store.KindUser, reconcileBatch, func(rs []*store.Resource) error {
				ids := make([]string, len(rs))
				for i, r := range rs {
					ids[i] = r.ID
				}
				groups, err := rc.store.GroupsOf(ctx, tenantID, ids)
				if err != nil {
					return fmt.Errorf("groups of users: %w", err)
				}
				// Each check is a round trip to Redis and one or two to the
				// downstream: run a bounded number at once.
				var (
					wg       sync.WaitGroup
					sem      = make(chan struct{}, reconcileParallel)
					errOnce  sync.Once
					firstErr error
				)
				for _, r := range rs {
					sem <- struct{}{}
					wg.Add(1)
					go func() {
						defer wg.Done()
						defer func() { <-sem }()
						u := subject.User(r, groups[r.ID])
						key := store.WorkKey{Tenant: tenantID, Kind: store.WorkUser, ID: r.ID}
						if err := check(c, key, connectors.Subject{Kind: connectors.SubjectUser, ID: r.ID, User: u}); err != nil {
							errOnce.Do(func() { firstErr = err })
						}
						progress()
					}()
				}
				wg.Wait()
				return firstErr
			})
			if err != nil {
				return nil, fmt.Errorf("reconcile %s: %w", c.Name(), err)
			}
		}
		if c.Handles(connectors.SubjectTenant) {
			key := store.WorkKey{Tenant: tenantID, Kind: store.WorkTenant, ID: tenantID}
			if err := check(c, key, connectors.Subject{Kind: connectors.SubjectTenant, ID: tenantID}); err != nil {
				return nil, fmt.Errorf("reconcile %s: %w", c.Name(), err)
			}
			progress()
		}
		if inv, ok := c.(connectors.Inventory); ok {
			if err := rc.inventory(ctx, t, c, inv, plan, check, progress); err != nil {
				return nil, fmt.Errorf("reconcile %s: %w", c.Name(), err)
			}
		}
		if opts.Progress != nil {
			opts.Progress(c.Name(), int(done.Load()))
		}
	}
	sort.SliceStable(plan.Items, func(i, j int) bool {
		a, b := plan.Items[i], plan.Items[j]
		if a.Connector != b.Connector {
			return a.Connector < b.Connector
		}
		if a.Subject != b.Subject {
			return a.Subject < b.Subject
		}
		return string(a.Op)+a.Object < string(b.Op)+b.Object
	})
	if plan.Deletions > t.DeletionThreshold && !opts.Force {
		plan.Refused = true
		return plan, fmt.Errorf("%w: %d deletions planned, threshold %d (use --force)", ErrTooManyDeletions, plan.Deletions, t.DeletionThreshold)
	}
	if opts.DryRun {
		return plan, nil
	}
	return plan, rc.apply(ctx, t, plan)
}

// inventory walks the downstream objects of one connector: objects that
// belong to a known subject are checked like any subject (an invitation left
// pending, for instance); objects nobody owns are planned for pruning when the
// connector can prune and the bridge created them.
func (rc *Reconciler) inventory(ctx context.Context, t *tenant.Tenant, c connectors.Connector, inv connectors.Inventory,
	plan *Plan, check func(connectors.Connector, store.WorkKey, connectors.Subject) error, progress func()) error {
	pruner, canPrune := c.(connectors.Pruner)
	return inv.Inventory(ctx, func(o connectors.Observed) error {
		defer progress()
		if o.Subject != nil {
			switch o.Subject.Kind {
			case connectors.SubjectObject:
				key := subject.WorkKey(t.ID, c.Name(), *o.Subject)
				return check(c, key, connectors.Subject{Kind: connectors.SubjectObject, ID: o.Subject.ID})
			case connectors.SubjectTenant:
				// A configured tenant's object is checked above, unless it was
				// made for a connector the tenant no longer has.
				if owner := rc.tenants.Get(o.Subject.ID); owner != nil && (o.Connector == "" || owner.Connector(o.Connector) != nil) {
					return nil
				}
			case connectors.SubjectUser:
				if _, err := rc.store.Get(ctx, t.ID, store.KindUser, o.Subject.ID); err == nil {
					return nil // the user pass covers it
				} else if !errors.Is(err, store.ErrNotFound) {
					return err
				}
			}
		} else if owned, err := rc.ownerExists(ctx, t.ID, o); err != nil || owned {
			return err
		}
		// Nobody owns it. Whether that means a deletion is the adapter's call (its
		// prune settings, its ownership marker): its dry run names what it would do.
		if !canPrune {
			return nil
		}
		acts, err := pruner.Prune(ctx, o, connectors.Options{DryRun: true})
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			plan.Errors = append(plan.Errors, fmt.Sprintf("%s prune %s: %v", c.Name(), o.ObjectID, err))
			return nil
		}
		for _, a := range acts {
			plan.Items = append(plan.Items, PlanItem{Connector: c.Name(), Subject: OrphanSubject, Op: a.Op, Object: a.Object, Reason: a.Reason})
			if a.Op.Deletes() {
				plan.Deletions++
			}
		}
		if len(acts) > 0 {
			plan.prunes = append(plan.prunes, planPrune{conn: c, obs: o})
		}
		return nil
	})
}

// ownerExists reports whether a SCIM user matches the object's hints.
func (rc *Reconciler) ownerExists(ctx context.Context, tenantID string, o connectors.Observed) (bool, error) {
	if o.Email != "" {
		ids, err := rc.store.FindUserIDsByEmail(ctx, tenantID, o.Email)
		if err != nil || len(ids) > 0 {
			return len(ids) > 0, err
		}
	}
	for _, q := range []struct{ attr, v string }{{"userName", o.UserName}, {"externalId", o.ExternalID}} {
		if q.v == "" {
			continue
		}
		f, err := compileEq(rc.opts.UserSchema, q.attr, q.v)
		if err != nil {
			return false, err
		}
		page, err := rc.store.Query(ctx, tenantID, store.KindUser, store.Query{Filter: f, StartIndex: 1, Count: 1})
		if err != nil || page.Total > 0 {
			return page.Total > 0, err
		}
	}
	return o.Email == "" && o.UserName == "" && o.ExternalID == "", nil
}

// apply forces the drifted subjects to converge again (their recorded hash is
// cleared, then their keys are marked dirty) and prunes managed orphans.
func (rc *Reconciler) apply(ctx context.Context, t *tenant.Tenant, plan *Plan) error {
	var keys []store.WorkKey
	for _, m := range plan.marks {
		st, err := rc.store.GetSync(ctx, t.ID, m.connector, m.subject)
		if errors.Is(err, store.ErrNotFound) {
			st = &store.SyncState{Connector: m.connector, Subject: m.subject}
		} else if err != nil {
			return fmt.Errorf("read sync state: %w", err)
		}
		st.AppliedHash, st.InFlightHash, st.Status, st.Attempts = "", "", store.SyncPending, 0
		st.UpdatedAt = rc.now()
		if err := rc.store.PutSync(ctx, t.ID, st); err != nil {
			return fmt.Errorf("reset sync state: %w", err)
		}
		keys = append(keys, m.key)
	}
	for i := 0; i < len(keys); i += reconcileBatch {
		end := min(i+reconcileBatch, len(keys))
		if err := rc.store.MarkDirty(ctx, t.ID, keys[i:end]...); err != nil {
			return fmt.Errorf("mark drifted subjects: %w", err)
		}
	}
	for _, p := range plan.prunes {
		pr := p.conn.(connectors.Pruner)
		if _, err := pr.Prune(ctx, p.obs, connectors.Options{}); err != nil {
			plan.Errors = append(plan.Errors, fmt.Sprintf("%s prune %s: %v", p.conn.Name(), p.obs.ObjectID, err))
		}
	}
	if rc.opts.OnMark != nil {
		rc.opts.OnMark()
	}
	return nil
}

// compileEq builds the filter `attr eq "value"` with the value safely quoted.
func compileEq(rs *filter.ResourceSchema, attr, value string) (*filter.Filter, error) {
	q, err := json.Marshal(strings.ToValidUTF8(value, ""))
	if err != nil {
		return nil, err
	}
	return filter.Compile(rs, attr+" eq "+string(q))
}
