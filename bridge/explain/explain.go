// Package explain answers the question every admin of a provisioning bridge
// asks about one person: did the IdP send them, what did the bridge store,
// what did each downstream system get, and if not, why and when is the next
// try. Explain finds a subject by id, userName, e-mail or group displayName
// and puts together the stored resource, its groups, each connector's desired
// and applied state, the queue and the subject's last audit entries.
package explain

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/elimity-com/scim/schema"

	"github.com/scim-bridge/scim-bridge/bridge/internal/clip"
	"github.com/scim-bridge/scim-bridge/bridge/internal/subject"
	"github.com/scim-bridge/scim-bridge/bridge/internal/tenant"
	"github.com/scim-bridge/scim-bridge/connectors"
	"github.com/scim-bridge/scim-bridge/filter"
	"github.com/scim-bridge/scim-bridge/store"
)

// Store is what an explanation reads.
type Store interface {
	Get(ctx context.Context, tenant string, kind store.Kind, id string) (*store.Resource, error)
	GetUserWithGroups(ctx context.Context, tenant, id string) (*store.Resource, []store.GroupRef, error)
	FindUserIDsByEmail(ctx context.Context, tenant, email string) ([]string, error)
	Query(ctx context.Context, tenant string, kind store.Kind, q store.Query) (store.Page, error)
	MemberCount(ctx context.Context, tenant, groupID string) (int, error)
	GetSyncs(ctx context.Context, tenant, subject string, connectors []string) (map[string]*store.SyncState, error)
	DueAt(ctx context.Context, k store.WorkKey) (due time.Time, ok, leased bool, err error)
	ThrottleStates(ctx context.Context, tenant string, connectors []string) (map[string]store.ThrottleState, error)
	ListAudit(ctx context.Context, tenant string, q store.AuditQuery) ([]store.AuditEntry, string, error)
}

// ErrNotFound is returned when no subject matches the query.
var ErrNotFound = errors.New("no user or group matches")

// ErrEmptyQuery is returned for a query of nothing but spaces: a client
// error, not a subject that was looked for and not found.
var ErrEmptyQuery = errors.New(`empty query: want a userName, an e-mail, an id ("User|<id>", "Group|<id>") or a group displayName`)

// Options configure an Explainer. Store, Tenants and Now are required.
type Options struct {
	Store   Store
	Tenants *tenant.Set
	Now     func() time.Time
	// UserSchema is the User resource schema (with extensions) for the userName
	// look-up; nil means the core schema.
	UserSchema *filter.ResourceSchema
	// AuditEntries is how many audit entries a report ends with; 0 means 20.
	AuditEntries int
}

// Explainer builds Reports.
type Explainer struct {
	opts   Options
	users  *filter.ResourceSchema
	groups *filter.ResourceSchema
}

// New builds an Explainer.
func New(opts Options) *Explainer {
	if opts.UserSchema == nil {
		opts.UserSchema = filter.NewResourceSchema(schema.CoreUserSchema())
	}
	if opts.AuditEntries <= 0 {
		opts.AuditEntries = 20
	}
	return &Explainer{opts: opts, users: opts.UserSchema, groups: filter.NewResourceSchema(schema.CoreGroupSchema())}
}

// Report is the explanation of one subject.
type Report struct {
	Tenant  string `json:"tenant"`
	Query   string `json:"query"`
	Subject string `json:"subject"` // "User|<id>" or "Group|<id>"
	Kind    string `json:"kind"`
	ID      string `json:"id"`
	// Name is the userName or the group displayName (of a deleted subject:
	// the last one its audit entries recorded, if any).
	Name string `json:"name"`
	// Deleted is set when no resource of this id is stored but its sync
	// state, queue or audit trail still tell its story (Resource is then null).
	Deleted  bool             `json:"deleted,omitempty"`
	Resource map[string]any   `json:"resource"`
	Groups   []store.GroupRef `json:"groups,omitempty"`
	Members  int              `json:"members,omitempty"`
	Queue    QueueState       `json:"queue"`
	// Connectors is one line per connector of the tenant (empty for a group:
	// groups are converged through their members).
	Connectors []ConnectorReport `json:"connectors"`
	// Note says something about the subject as a whole (e.g. for groups).
	Note string `json:"note,omitempty"`
	// Audit holds the subject's last audit entries, oldest first.
	Audit []store.AuditEntry `json:"audit"`
	// Also lists the other subjects the query matched (e.g. two users sharing an e-mail).
	Also []string `json:"also,omitempty"`
}

// QueueState is where the subject stands in the work queue.
type QueueState struct {
	Queued bool      `json:"queued"`
	Due    time.Time `json:"due,omitzero"`
	Leased bool      `json:"leased,omitempty"`
}

// ConnectorReport is one connector's view of the subject.
type ConnectorReport struct {
	Connector string `json:"connector"`
	// Verdict is the one-word state: synced, pending, retrying, dead, throttled,
	// not-applicable, not-handled.
	Verdict string `json:"verdict"`
	// Why explains the verdict in a sentence.
	Why         string `json:"why"`
	DesiredHash string `json:"desiredHash,omitempty"`
	AppliedHash string `json:"appliedHash,omitempty"`
	Status      string `json:"status,omitempty"`
	Attempts    int    `json:"attempts,omitempty"`
	LastError   string `json:"lastError,omitempty"`
	ErrorClass  string `json:"errorClass,omitempty"`
	// NextRetry is when the next attempt may happen: the later of the
	// subject's own retry time and the end of its connector's hold.
	NextRetry   time.Time `json:"nextRetry,omitzero"`
	RetryReason string    `json:"retryReason,omitempty"`
	// HeldUntil is the end of the connector's hold by its downstream (a 429
	// or 503 with Retry-After, shared by every replica); zero when not held now.
	HeldUntil  time.Time         `json:"heldUntil,omitzero"`
	UpdatedAt  time.Time         `json:"updatedAt,omitzero"`
	Downstream map[string]string `json:"downstreamIds,omitempty"`
	Record     json.RawMessage   `json:"record,omitempty"`
}

// Explain finds the subject q names in tenantID (a SCIM id or its subject
// form "User|<id>" / "Group|<id>", a userName, an e-mail address, or a group
// displayName, tried in that order) and explains it. An id no stored
// resource has is explained as deleted when its sync state, the queue or its
// audit entries still know it (a userName or e-mail of a deleted user is not
// kept anywhere it can be looked up by: ErrNotFound says so).
func (x *Explainer) Explain(ctx context.Context, tenantID, q string) (*Report, error) {
	t := x.opts.Tenants.Get(tenantID)
	if t == nil {
		return nil, fmt.Errorf("explain: unknown tenant %q", clip.String(tenantID))
	}
	q = strings.TrimSpace(q)
	if q == "" {
		return nil, fmt.Errorf("explain: %w", ErrEmptyQuery)
	}
	kind, ids, err := x.find(ctx, tenantID, q)
	if err != nil {
		return nil, err
	}
	deleted := false
	if len(ids) == 0 {
		k, id, ok, err := x.findDeleted(ctx, t, q)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, fmt.Errorf("explain %q: %w (a deleted user or group is explained by its id, or \"User|<id>\", while its sync state or audit entries last)", clip.String(q), ErrNotFound)
		}
		kind, ids, deleted = k, []string{id}, true
	}
	rep := &Report{Tenant: tenantID, Query: q, Kind: string(kind), ID: ids[0], Connectors: []ConnectorReport{}}
	for _, id := range ids[1:] {
		rep.Also = append(rep.Also, store.WorkKey{Kind: string(kind), ID: id}.Subject())
	}
	rep.Subject = store.WorkKey{Kind: string(kind), ID: rep.ID}.Subject()
	switch {
	case deleted:
		err = x.deleted(ctx, t, rep)
	case kind == store.KindGroup:
		err = x.group(ctx, t, rep)
	default:
		err = x.user(ctx, t, rep)
	}
	if err != nil {
		return nil, err
	}
	due, queued, leased, err := x.opts.Store.DueAt(ctx, store.WorkKey{Tenant: tenantID, Kind: string(kind), ID: rep.ID})
	if err != nil {
		return nil, fmt.Errorf("explain: %w", err)
	}
	rep.Queue = QueueState{Queued: queued, Due: due, Leased: leased}
	entries, _, err := x.opts.Store.ListAudit(ctx, tenantID, store.AuditQuery{Subject: rep.Subject, Limit: x.opts.AuditEntries})
	if err != nil {
		return nil, fmt.Errorf("explain: %w", err)
	}
	// Time order: an entry is stored a little after its time (a SCIM write is
	// recorded once answered, its convergence may be recorded first).
	slices.Reverse(entries)
	slices.SortStableFunc(entries, func(a, b store.AuditEntry) int { return a.Time.Compare(b.Time) })
	rep.Audit = entries
	if rep.Audit == nil {
		rep.Audit = []store.AuditEntry{}
	}
	if rep.Deleted {
		// The name it had, as its last write that carried one recorded it.
		for i := len(rep.Audit) - 1; i >= 0 && rep.Name == ""; i-- {
			rep.Name = rep.Audit[i].Name
		}
	}
	if err := x.connectorReasons(ctx, rep); err != nil {
		return nil, err
	}
	return rep, nil
}

// subjectForm reads q as a subject, "User|<id>" or "Group|<id>" (what the
// audit trail, dead letters and logs show).
func subjectForm(q string) (store.Kind, string, bool) {
	kind, id, ok := strings.Cut(q, "|")
	if !ok || id == "" {
		return "", "", false
	}
	switch kind {
	case store.WorkUser:
		return store.KindUser, id, true
	case store.WorkGroup:
		return store.KindGroup, id, true
	}
	return "", "", false
}

// find resolves q to a kind and the ids of stored resources.
func (x *Explainer) find(ctx context.Context, tenantID, q string) (store.Kind, []string, error) {
	st := x.opts.Store
	if k, id, ok := subjectForm(q); ok {
		if _, err := st.Get(ctx, tenantID, k, id); err == nil {
			return k, []string{id}, nil
		} else if !errors.Is(err, store.ErrNotFound) {
			return "", nil, fmt.Errorf("explain: %w", err)
		}
	}
	for _, k := range []store.Kind{store.KindUser, store.KindGroup} {
		if _, err := st.Get(ctx, tenantID, k, q); err == nil {
			return k, []string{q}, nil
		} else if !errors.Is(err, store.ErrNotFound) {
			return "", nil, fmt.Errorf("explain: %w", err)
		}
	}
	if ids, err := x.queryIDs(ctx, tenantID, store.KindUser, x.users, "userName", q); err != nil || len(ids) > 0 {
		return store.KindUser, ids, err
	}
	if strings.Contains(q, "@") {
		ids, err := st.FindUserIDsByEmail(ctx, tenantID, q)
		if err != nil || len(ids) > 0 {
			if err != nil {
				err = fmt.Errorf("explain: %w", err)
			}
			return store.KindUser, ids, err
		}
	}
	ids, err := x.queryIDs(ctx, tenantID, store.KindGroup, x.groups, "displayName", q)
	return store.KindGroup, ids, err
}

// findDeleted resolves q, which names no stored resource, to the id of a
// deleted one: q as an id (or in its subject form) of which the store still
// keeps a trace — a sync state of a connector, a queued key, audit entries.
// Each candidate costs three reads of single keys, never a scan.
func (x *Explainer) findDeleted(ctx context.Context, t *tenant.Tenant, q string) (store.Kind, string, bool, error) {
	type candidate struct {
		kind store.Kind
		id   string
	}
	cands := []candidate{{store.KindUser, q}, {store.KindGroup, q}}
	if k, id, ok := subjectForm(q); ok {
		cands = []candidate{{k, id}}
	}
	names := make([]string, 0, len(t.Connectors))
	for _, c := range t.Connectors {
		names = append(names, c.Name())
	}
	st := x.opts.Store
	for _, c := range cands {
		k := store.WorkKey{Tenant: t.ID, Kind: string(c.kind), ID: c.id}
		es, _, err := st.ListAudit(ctx, t.ID, store.AuditQuery{Subject: k.Subject(), Limit: 1})
		if err != nil {
			return "", "", false, fmt.Errorf("explain: %w", err)
		}
		if len(es) > 0 {
			return c.kind, c.id, true, nil
		}
		if c.kind == store.KindUser && len(names) > 0 {
			states, err := st.GetSyncs(ctx, t.ID, k.Subject(), names)
			if err != nil {
				return "", "", false, fmt.Errorf("explain: %w", err)
			}
			for _, s := range states {
				if s != nil {
					return c.kind, c.id, true, nil
				}
			}
		}
		if _, queued, leased, err := st.DueAt(ctx, k); err != nil {
			return "", "", false, fmt.Errorf("explain: %w", err)
		} else if queued || leased {
			return c.kind, c.id, true, nil
		}
	}
	return "", "", false, nil
}

// deleted fills the report of a subject no stored resource has: no
// resource, and for a user each connector's state as the fan-out sees it,
// converging a user that no longer exists (its removal downstream).
func (x *Explainer) deleted(ctx context.Context, t *tenant.Tenant, rep *Report) error {
	rep.Deleted = true
	if rep.Kind == string(store.KindGroup) {
		rep.Note = "deleted: no group of this id is stored; its members were marked when it went, and each connector converges them (explain a member to see its state)"
		return nil
	}
	rep.Note = "deleted: no user of this id is stored; each connector below says whether its removal downstream is done, pending or failing, and the audit trail says what happened"
	return x.connectorReports(ctx, t, rep, connectors.Subject{Kind: connectors.SubjectUser, ID: rep.ID})
}

func (x *Explainer) queryIDs(ctx context.Context, tenantID string, kind store.Kind, rs *filter.ResourceSchema, attr, value string) ([]string, error) {
	quoted, _ := json.Marshal(strings.ToValidUTF8(value, ""))
	f, err := filter.Compile(rs, attr+" eq "+string(quoted))
	if err != nil {
		return nil, nil // a query no filter can express matches nothing
	}
	page, err := x.opts.Store.Query(ctx, tenantID, kind, store.Query{Filter: f, StartIndex: 1, Count: 10, ExcludeMembers: true})
	if err != nil {
		return nil, fmt.Errorf("explain: find %s: %w", attr, err)
	}
	ids := make([]string, 0, len(page.Resources))
	for _, r := range page.Resources {
		ids = append(ids, r.ID)
	}
	return ids, nil
}

func (x *Explainer) group(ctx context.Context, t *tenant.Tenant, rep *Report) error {
	res, err := x.opts.Store.Get(ctx, t.ID, store.KindGroup, rep.ID)
	if err != nil {
		return fmt.Errorf("explain: %w", err)
	}
	rep.Resource = view(res)
	rep.Name, _ = res.Attrs["displayName"].(string)
	if rep.Members, err = x.opts.Store.MemberCount(ctx, t.ID, rep.ID); err != nil {
		return fmt.Errorf("explain: %w", err)
	}
	rep.Note = "a group is not converged as such: a change to it marks its members, and each connector converges them (explain a member to see its state)"
	return nil
}

func (x *Explainer) user(ctx context.Context, t *tenant.Tenant, rep *Report) error {
	res, groups, err := x.opts.Store.GetUserWithGroups(ctx, t.ID, rep.ID)
	if err != nil {
		return fmt.Errorf("explain: %w", err)
	}
	rep.Resource, rep.Groups = view(res), groups
	rep.Name, _ = res.Attrs["userName"].(string)
	return x.connectorReports(ctx, t, rep, connectors.Subject{Kind: connectors.SubjectUser, ID: rep.ID, User: subject.User(res, groups)})
}

// connectorReports adds each connector's report of the user subject s
// (s.User nil: deleted) from its sync state.
func (x *Explainer) connectorReports(ctx context.Context, t *tenant.Tenant, rep *Report, s connectors.Subject) error {
	names := make([]string, 0, len(t.Connectors))
	for _, c := range t.Connectors {
		names = append(names, c.Name())
	}
	states, err := x.opts.Store.GetSyncs(ctx, t.ID, rep.Subject, names)
	if err != nil {
		return fmt.Errorf("explain: %w", err)
	}
	for _, c := range t.Connectors {
		rep.Connectors = append(rep.Connectors, x.connector(c, s, states[c.Name()]))
	}
	return nil
}

// connector builds one connector's report from its sync state; Why is
// completed by connectorReasons once the audit entries are known.
func (x *Explainer) connector(c connectors.Connector, s connectors.Subject, st *store.SyncState) ConnectorReport {
	cr := ConnectorReport{Connector: c.Name()}
	if !c.Handles(connectors.SubjectUser) {
		cr.Verdict, cr.Why = "not-handled", "this connector does not converge users"
		return cr
	}
	cr.DesiredHash = subject.DesiredHash(c, s)
	if st != nil {
		cr.AppliedHash, cr.Status, cr.Attempts, cr.LastError = st.AppliedHash, st.Status, st.Attempts, st.LastError
		cr.NextRetry, cr.UpdatedAt, cr.Record = st.NextRetry, st.UpdatedAt, st.Record
		if rec, err := subject.Record(st); err == nil && len(rec.IDs) > 0 {
			cr.Downstream = rec.IDs
		}
	}
	if rel, ok := c.(connectors.Relevance); ok {
		if relevant, why := rel.Relevant(s); !relevant && len(cr.Downstream) == 0 {
			cr.Verdict, cr.Why = "not-applicable", "nothing to do: "+why
			return cr
		}
	}
	switch {
	case st == nil:
		cr.Verdict = store.SyncPending
	case st.Status == store.SyncSynced && st.AppliedHash != cr.DesiredHash:
		cr.Verdict = store.SyncPending
	default:
		cr.Verdict = st.Status
	}
	return cr
}

// connectorReasons fills each connector's Why (and error class and retry
// reason) from its state, the queue, the connector's current hold (the
// throttle every replica shares) and the last downstream audit entry.
func (x *Explainer) connectorReasons(ctx context.Context, rep *Report) error {
	if len(rep.Connectors) == 0 {
		return nil
	}
	now := x.opts.Now()
	names := make([]string, len(rep.Connectors))
	for i, cr := range rep.Connectors {
		names[i] = cr.Connector
	}
	holds, err := x.opts.Store.ThrottleStates(ctx, rep.Tenant, names)
	if err != nil {
		return fmt.Errorf("explain: %w", err)
	}
	for i := range rep.Connectors {
		cr := &rep.Connectors[i]
		if cr.Why != "" {
			continue
		}
		if h := holds[cr.Connector]; h.Held(now) {
			cr.HeldUntil = h.HeldUntil
		}
		for j := len(rep.Audit) - 1; j >= 0; j-- {
			e := rep.Audit[j]
			if e.Kind == store.AuditDownstream && e.Connector == cr.Connector {
				if e.ErrorClass != "" && cr.LastError != "" {
					cr.ErrorClass = e.ErrorClass
				}
				break
			}
		}
		if cr.ErrorClass == "" && cr.LastError != "" {
			cr.ErrorClass = classFromMessage(cr.LastError)
		}
		held := !cr.HeldUntil.IsZero()
		switch cr.Verdict {
		case store.SyncSynced:
			cr.Why = "downstream matches the desired state (applied hash " + short(cr.AppliedHash) + ")"
			if rep.Deleted {
				cr.Why = "the user's removal downstream is done (applied hash " + short(cr.AppliedHash) + ")"
			}
		case store.SyncDead:
			cr.Why = "dead letter after " + strconv.Itoa(cr.Attempts) + " attempt(s): " + cr.LastError + "; it stays parked until retried or until the user changes"
			cr.RetryReason = "not retried: parked in the dead letters"
		case store.SyncRetrying:
			switch {
			case held:
				cr.Verdict, cr.RetryReason = "throttled", holdReason(cr.HeldUntil)
				if cr.NextRetry.After(cr.HeldUntil) {
					cr.RetryReason += "; this subject's own retry comes after it, spread so the held work does not all leave at once"
				} else {
					cr.NextRetry = cr.HeldUntil
				}
			case cr.ErrorClass == connectors.RateLimited.String():
				cr.RetryReason = "backoff: rate limited, retried after the downstream's Retry-After or exponential backoff; the connector is not held now"
			default:
				cr.RetryReason = "backoff: exponential backoff with jitter after attempt " + strconv.Itoa(cr.Attempts)
			}
			cr.Why = "attempt " + strconv.Itoa(cr.Attempts) + " failed (" + cr.ErrorClass + "): " + cr.LastError +
				"; next try " + when(cr.NextRetry, now) + " — " + cr.RetryReason
		case store.SyncPending:
			switch {
			case rep.Queue.Leased:
				cr.Why = "being converged right now"
			case held && rep.Queue.Queued:
				cr.Verdict, cr.NextRetry = "throttled", cr.HeldUntil
				if rep.Queue.Queued && rep.Queue.Due.After(cr.HeldUntil) {
					cr.NextRetry = rep.Queue.Due
				}
				cr.RetryReason = holdReason(cr.HeldUntil)
				cr.Why = "waiting without an attempt: next try " + when(cr.NextRetry, now) + " — " + cr.RetryReason
			case rep.Queue.Queued && rep.Queue.Due.After(now):
				cr.NextRetry = rep.Queue.Due
				cr.Why = "settle: changed recently, converged " + when(rep.Queue.Due, now) + " once the changes are quiet"
				cr.RetryReason = "settle"
			case rep.Queue.Queued:
				cr.Why = "queued, due now: waiting for a free worker"
			case rep.Deleted && cr.Status == "":
				cr.Verdict, cr.Why = "not-applicable", "nothing to do: the user is deleted and this connector keeps no state of it"
			case rep.Deleted:
				cr.Why = "the user was deleted since the last success (applied " + short(cr.AppliedHash) + ") and is not queued: the next reconcile run will repair it"
			case cr.AppliedHash == "":
				cr.Why = "never applied and not queued: the next reconcile run will pick it up"
			default:
				cr.Why = "desired state changed since the last success (applied " + short(cr.AppliedHash) + ", desired " + short(cr.DesiredHash) + ") and not queued: the next reconcile run will repair it"
			}
		}
	}
	return nil
}

// holdReason says why a connector's next call waits until a hold ends.
func holdReason(until time.Time) string {
	return "throttle: the downstream rate-limited this connector (429 or 503 with Retry-After); no call of it leaves before " +
		until.UTC().Format(time.RFC3339) + ", on any replica"
}

func classFromMessage(msg string) string {
	for _, c := range []connectors.Class{connectors.RateLimited, connectors.Permanent, connectors.Retryable, connectors.NotFound} {
		if strings.Contains(msg, c.String()) {
			return c.String()
		}
	}
	return ""
}

func when(t, now time.Time) string {
	if t.IsZero() {
		return "not scheduled"
	}
	d := t.Sub(now).Round(time.Second)
	if d <= 0 {
		return "now (" + t.UTC().Format(time.RFC3339) + ")"
	}
	return "in " + d.String() + " (" + t.UTC().Format(time.RFC3339) + ")"
}

func short(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

// view is the stored resource as an admin reads it (id plus attributes; a
// password is never stored, and never shown).
func view(r *store.Resource) map[string]any {
	out := make(map[string]any, len(r.Attrs)+2)
	for k, v := range r.Attrs {
		if strings.EqualFold(k, "password") {
			continue
		}
		out[k] = v
	}
	out["id"] = r.ID
	out["meta"] = map[string]any{"version": r.Version, "created": r.Created, "lastModified": r.LastModified}
	return out
}
