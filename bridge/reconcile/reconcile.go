package bridge

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/scim-bridge/scim-bridge/connectors"
	"github.com/scim-bridge/scim-bridge/store"
)

// Reconciliation defaults.
const (
	reconcileLockName = "reconcile"
	reconcileLockTTL  = 30 * time.Second
	reconcileBatch    = 500
	// reconcileParallel bounds the subjects checked at once within a batch.
	reconcileParallel = 16
)

// ErrTooManyDeletions is returned (with the plan) when a run would delete or
// deactivate more downstream objects than the tenant's deletion threshold and
// Force is not set — like Entra's accidental-deletion prevention.
var ErrTooManyDeletions = errors.New("plan exceeds the deletion threshold")

// ReconcileOptions tune one run.
type ReconcileOptions struct {
	// Connector restricts the run to one connector; empty means all.
	Connector string
	// DryRun computes the plan and changes nothing, downstream or in the store.
	DryRun bool
	// Force lets a plan above the deletion threshold through.
	Force bool
	// Progress, when set, is told how far each connector got.
	Progress func(connector string, done int)
}

// PlanItem is one change a run found necessary.
type PlanItem struct {
	Connector string `json:"connector"`
	Subject   string `json:"subject"`
	Op        string `json:"op"`
	Object    string `json:"object"`
	Reason    string `json:"reason"`
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

func isDeletion(op string) bool {
	switch op {
	case "delete", "deactivate", "remove", "prune":
		return true
	}
	return false
}

// Reconcile compares every subject's desired state with the downstream (a dry-run
// convergence per subject, so the plan names each change and its reason), looks
// for downstream objects no SCIM resource owns, and — unless DryRun — marks the
// drifted subjects for the sync worker and prunes managed orphans. Users are
// streamed from the store in batches: memory stays bounded however large the
// tenant.
func (b *Bridge) Reconcile(ctx context.Context, tenantID string, opts ReconcileOptions) (*Plan, error) {
	t := b.tenants[tenantID]
	if t == nil {
		return nil, fmt.Errorf("reconcile: unknown tenant %q", tenantID)
	}
	var conns []connectors.Connector
	for _, c := range t.connectors {
		if opts.Connector == "" || c.Name() == opts.Connector {
			conns = append(conns, c)
		}
	}
	if len(conns) == 0 {
		return nil, fmt.Errorf("reconcile: tenant %q has no connector %q", tenantID, opts.Connector)
	}
	plan := &Plan{Tenant: tenantID, DryRun: opts.DryRun}
	dry := connectors.Options{DryRun: true}
	// planned names each change once: two subjects can reach one downstream
	// object (a user and its pending invitation); converging both would make the
	// same write twice.
	planned := map[string]bool{}
	var mu sync.Mutex // guards plan and planned: users are checked concurrently
	check := func(c connectors.Connector, key store.WorkKey, s connectors.Subject) error {
		subject := key.Kind + "|" + key.ID
		var prev connectors.Record
		if st, err := b.store.GetSync(ctx, tenantID, c.Name(), subject); err == nil {
			_ = decodeRecord(st.Record, &prev)
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
			plan.Errors = append(plan.Errors, fmt.Sprintf("%s %s: %v", c.Name(), subject, err))
			return nil
		}
		fresh := 0
		for _, a := range actions {
			k := c.Name() + "\x00" + a.Op + "\x00" + a.Object
			if planned[k] {
				continue
			}
			planned[k] = true
			fresh++
			plan.Items = append(plan.Items, PlanItem{Connector: c.Name(), Subject: subject, Op: a.Op, Object: a.Object, Reason: a.Reason})
			if isDeletion(a.Op) {
				plan.Deletions++
			}
		}
		if fresh > 0 {
			plan.marks = append(plan.marks, planMark{connector: c.Name(), subject: subject, key: key})
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
			err := b.store.ForEach(ctx, tenantID, store.KindUser, reconcileBatch, func(rs []*store.Resource) error {
				ids := make([]string, len(rs))
				for i, r := range rs {
					ids[i] = r.ID
				}
				groups, err := b.store.GroupsOf(ctx, tenantID, ids)
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
						u := connectorUser(r, groups[r.ID])
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
			if err := b.reconcileInventory(ctx, t, c, inv, plan, check, progress); err != nil {
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
		return a.Op+a.Object < b.Op+b.Object
	})
	if plan.Deletions > t.deletionThreshold && !opts.Force {
		plan.Refused = true
		return plan, fmt.Errorf("%w: %d deletions planned, threshold %d (use --force)", ErrTooManyDeletions, plan.Deletions, t.deletionThreshold)
	}
	if opts.DryRun {
		return plan, nil
	}
	return plan, b.applyPlan(ctx, t, plan)
}

// reconcileInventory walks the downstream objects of one connector: objects that
// belong to a known subject are checked like any subject (an invitation left
// pending, for instance); objects nobody owns are planned for pruning when the
// connector can prune and the bridge created them.
func (b *Bridge) reconcileInventory(ctx context.Context, t *tenant, c connectors.Connector, inv connectors.Inventory,
	plan *Plan, check func(connectors.Connector, store.WorkKey, connectors.Subject) error, progress func()) error {
	pruner, canPrune := c.(connectors.Pruner)
	return inv.Inventory(ctx, func(o connectors.Observed) error {
		defer progress()
		if o.Subject != nil {
			switch o.Subject.Kind {
			case connectors.SubjectObject:
				key := workKeyOf(t.id, c.Name(), *o.Subject)
				return check(c, key, connectors.Subject{Kind: connectors.SubjectObject, ID: o.Subject.ID})
			case connectors.SubjectTenant:
				if b.tenants[o.Subject.ID] != nil {
					return nil // a configured tenant's object: checked above
				}
			case connectors.SubjectUser:
				if _, err := b.store.Get(ctx, t.id, store.KindUser, o.Subject.ID); err == nil {
					return nil // the user pass covers it
				} else if !errors.Is(err, store.ErrNotFound) {
					return err
				}
			}
		} else if owned, err := b.ownerExists(ctx, t.id, o); err != nil || owned {
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
			plan.Items = append(plan.Items, PlanItem{Connector: c.Name(), Subject: "orphan", Op: a.Op, Object: a.Object, Reason: a.Reason})
			if isDeletion(a.Op) {
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
func (b *Bridge) ownerExists(ctx context.Context, tenantID string, o connectors.Observed) (bool, error) {
	if o.Email != "" {
		ids, err := b.store.FindUserIDsByEmail(ctx, tenantID, o.Email)
		if err != nil || len(ids) > 0 {
			return len(ids) > 0, err
		}
	}
	for _, q := range []struct{ attr, v string }{{"userName", o.UserName}, {"externalId", o.ExternalID}} {
		if q.v == "" {
			continue
		}
		f, err := compileEq(b.types.user, q.attr, q.v)
		if err != nil {
			return false, err
		}
		page, err := b.store.Query(ctx, tenantID, store.KindUser, store.Query{Filter: f, StartIndex: 1, Count: 1})
		if err != nil || page.Total > 0 {
			return page.Total > 0, err
		}
	}
	return o.Email == "" && o.UserName == "" && o.ExternalID == "", nil
}

// applyPlan forces the drifted subjects to converge again (their recorded hash is
// cleared, then their keys are marked dirty) and prunes managed orphans.
func (b *Bridge) applyPlan(ctx context.Context, t *tenant, plan *Plan) error {
	var keys []store.WorkKey
	for _, m := range plan.marks {
		st, err := b.store.GetSync(ctx, t.id, m.connector, m.subject)
		if errors.Is(err, store.ErrNotFound) {
			st = &store.SyncState{Connector: m.connector, Subject: m.subject}
		} else if err != nil {
			return fmt.Errorf("read sync state: %w", err)
		}
		st.AppliedHash, st.InFlightHash, st.Status, st.Attempts = "", "", store.SyncPending, 0
		st.UpdatedAt = b.now()
		if err := b.store.PutSync(ctx, t.id, st); err != nil {
			return fmt.Errorf("reset sync state: %w", err)
		}
		keys = append(keys, m.key)
	}
	for i := 0; i < len(keys); i += reconcileBatch {
		end := min(i+reconcileBatch, len(keys))
		if err := b.store.MarkDirty(ctx, t.id, keys[i:end]...); err != nil {
			return fmt.Errorf("mark drifted subjects: %w", err)
		}
	}
	for _, p := range plan.prunes {
		pr := p.conn.(connectors.Pruner)
		if _, err := pr.Prune(ctx, p.obs, connectors.Options{}); err != nil {
			plan.Errors = append(plan.Errors, fmt.Sprintf("%s prune %s: %v", p.conn.Name(), p.obs.ObjectID, err))
		}
	}
	b.written()
	return nil
}
