// Package connectors defines the contract between the bridge and the adapters that
// converge downstream systems, the error classes the bridge acts on, and the HTTP
// discipline every adapter shares. One sub-package per downstream system
// (bimdata, bimplus, authress, scim) implements it, each with a fake server.
//
// The contract is level-triggered: an adapter is handed the desired state of one
// subject and what the bridge recorded after the last convergence, reads the
// downstream, makes the writes needed to reach the desired state (and no others),
// and returns the new record. Converging twice in a row makes no write the second
// time. A connector knows nothing about Redis or the SCIM endpoint.
package connectors

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/rs/zerolog"
)

// User is the desired state of one SCIM user, as every connector sees it.
type User struct {
	ID          string   `json:"id"` // SCIM id in the bridge
	UserName    string   `json:"userName"`
	ExternalID  string   `json:"externalId,omitempty"`
	DisplayName string   `json:"displayName,omitempty"`
	GivenName   string   `json:"givenName,omitempty"`
	FamilyName  string   `json:"familyName,omitempty"`
	Email       string   `json:"email,omitempty"`  // primary email, else the first one, else empty
	Emails      []string `json:"emails,omitempty"` // all emails, primary first
	Active      bool     `json:"active"`
	Groups      []string `json:"groups,omitempty"` // displayNames of the user's groups, sorted
}

// SubjectKind says what a Subject is.
type SubjectKind string

// Subject kinds.
const (
	// SubjectUser is one SCIM user; ID is its SCIM id.
	SubjectUser SubjectKind = "user"
	// SubjectTenant is the tenant as a whole (e.g. its SSO connection); ID is the tenant id.
	SubjectTenant SubjectKind = "tenant"
	// SubjectObject is a downstream object no SCIM resource owns directly (e.g. a
	// BIMData invitation); ID is connector-defined, e.g. "invitation:42".
	SubjectObject SubjectKind = "object"
)

// Subject is the unit of convergence.
type Subject struct {
	Kind SubjectKind
	ID   string
	// User is the desired user for SubjectUser; nil when the user no longer exists.
	// A user that exists but is inactive has User.Active == false.
	User *User
}

// Record is what the bridge stores after a successful convergence and hands back
// on the next one. Adapters treat it as a hint (ids to try first): the downstream
// is always the truth, so an empty or stale record still converges correctly.
type Record struct {
	// IDs names the downstream objects this subject owns, e.g. {"user": "17"} or
	// {"member:<project>": "<member id>"}.
	IDs map[string]string `json:"ids,omitempty"`
	// State is adapter-private JSON (e.g. the roles last applied, or whether the
	// bridge created the object and may therefore prune it).
	State json.RawMessage `json:"state,omitempty"`
}

// Op is the kind of a downstream write.
type Op string

// The writes adapters make. A reconciliation counts the ones that Delete against
// the tenant's deletion threshold.
const (
	OpCreate Op = "create"
	OpUpdate Op = "update"
	// OpDelete removes or deactivates a downstream object.
	OpDelete Op = "delete"
	// OpAccept and OpDeny answer a pending invitation.
	OpAccept Op = "accept"
	OpDeny   Op = "deny"
)

// Deletes reports whether the write removes or deactivates a downstream
// object, or refuses one for good (a denied invitation cannot be answered
// again): what a reconciliation counts against the deletion threshold, so a
// run against an empty or lost store is stopped before it denies every
// pending invitation.
func (o Op) Deletes() bool { return o == OpDelete || o == OpDeny }

// Action is one downstream write a convergence made, or would make in a dry run.
type Action struct {
	Op     Op     `json:"op"`     // what kind of write
	Object string `json:"object"` // what it acts on, e.g. "invitation 42", "member of project P"
	Reason string `json:"reason"` // why, for the reconcile plan and the logs
}

// Options tune one convergence.
type Options struct {
	// DryRun: read the downstream and report the Actions, write nothing.
	DryRun bool
	// ReadAfter says how fresh the adapter's reads of the downstream must be.
	// A read "taken at" a time is one whose request was sent at that time.
	//
	// In a dry run it is when the reconciliation pass began: what an adapter
	// read of the downstream since then is fresh enough (one listing serves
	// every subject of the pass); zero means read afresh.
	//
	// In a write convergence it is when the change being converged was noted
	// (the bridge passes the due time of the claimed work: when the subject was
	// marked dirty, or when its retry came due; never a time in the future). A
	// cached read taken before it may predate the very downstream change that
	// caused the convergence (an invitation a webhook announced, a role changed
	// by hand): the adapter must read afresh before it acts on that read or
	// reports success without acting. A read taken at or after it may be
	// reused, so a burst of subjects marked together (a large group) still
	// shares one listing. Zero means no requirement: the adapter's cache
	// policy (its TTLs) alone decides, as it did for callers older than this
	// rule.
	ReadAfter time.Time
	// Applied, when set, is told after each downstream write that succeeded
	// (never in a dry run), with the record as it stands right after that
	// write: the bridge stores it at once, so a crash later in the same
	// convergence re-does at most the one call in flight. Save also calls it,
	// with a zero Action, before a write whose answer may be lost. Adapters call it
	// sequentially, from the goroutine of Converge. When it fails the adapter
	// stops and returns the error (the write is done; its record is not).
	Applied func(ctx context.Context, rec Record, a Action) error
}

// Save stores rec now, before a write whose answer may be lost (a create
// carrying keys the subject may not have by the next attempt): it calls
// o.Applied with a zero Action (see Options.Applied); a failure is a retryable
// *Error and the write must not be sent.
func (o Options) Save(ctx context.Context, rec Record) error {
	if o.Applied == nil || o.DryRun {
		return nil
	}
	if err := o.Applied(ctx, rec, Action{}); err != nil {
		return &Error{Class: Retryable, Op: "record intent", Err: err}
	}
	return nil
}

// Report calls o.Applied when set (see Options.Applied); a failure is a
// retryable *Error, so the convergence is retried from the downstream's truth.
func (o Options) Report(ctx context.Context, rec Record, a Action) error {
	if o.Applied == nil || o.DryRun {
		return nil
	}
	if err := o.Applied(ctx, rec, a); err != nil {
		return &Error{Class: Retryable, Op: "record " + string(a.Op), Err: err}
	}
	return nil
}

// Connector converges one downstream system for one tenant.
type Connector interface {
	// Name is the connector's configured name (unique within its tenant).
	Name() string
	// Handles reports whether the connector converges subjects of this kind.
	Handles(kind SubjectKind) bool
	// Converge makes the downstream match s and returns the new record and the
	// actions taken (in a dry run: the actions it would take). An error is
	// classified (see Class); on error the returned record is the best knowledge
	// so far and may be stored.
	Converge(ctx context.Context, s Subject, prev Record, opts Options) (Record, []Action, error)
}

// Projector is an optional capability: Project returns the part of a subject the
// connector depends on. The bridge hashes it to skip convergences whose input did
// not change since the last successful one. Without it the whole Subject is hashed.
type Projector interface {
	Project(s Subject) any
}

// Observed is one downstream object found while listing for reconciliation.
type Observed struct {
	// Subject, when the adapter knows it, is the subject that owns the object
	// (Kind and ID only; User is nil).
	Subject *Subject
	// Connector, when the adapter knows it, names the connector of the owning
	// subject's tenant the object was made for (e.g. from an ownership marker):
	// an object of a tenant that still exists but no longer has that connector
	// is an orphan. Empty means this connector, or unknown.
	Connector string
	// Email, UserName and ExternalID are hints the bridge uses to find the owning
	// SCIM user when Subject is nil.
	Email      string
	UserName   string
	ExternalID string
	// ObjectID identifies the downstream object, for plans and logs.
	ObjectID string
	// Managed is true when the bridge itself created the object (prunable by default).
	Managed bool
}

// Inventory is an optional capability for reconciliation: it streams every
// downstream object the connector is responsible for, following pagination to the end.
type Inventory interface {
	Inventory(ctx context.Context, fn func(Observed) error) error
}

// Pruner is an optional capability: Prune removes a downstream object that no SCIM
// resource owns (reconciliation with prune enabled).
type Pruner interface {
	Prune(ctx context.Context, o Observed, opts Options) ([]Action, error)
}

// EventHandler is an optional capability for the webhook receiver: it maps a
// downstream event to the subjects to mark dirty. Unknown types return (nil, nil).
type EventHandler interface {
	HandleEvent(ctx context.Context, eventType string, data json.RawMessage) ([]Subject, error)
}

// Owned is an optional capability: Owner returns the subject whose convergence
// may make the same downstream write as the convergence of s (the user a
// BIMData invitation is for), or nil. The bridge converges s only while it
// holds that subject's claim, so the two never run at once on any replica and
// the write is made once.
type Owned interface {
	Owner(ctx context.Context, s Subject) (*Subject, error)
}

// Directory lets an adapter look up SCIM users by email without knowing the store.
type Directory interface {
	// UserByEmail returns the user with that email (case-insensitive), or nil.
	UserByEmail(ctx context.Context, email string) (*User, error)
}

// UserNameDirectory is a Directory that also finds a user by userName
// (case-insensitive), or nil: the bridge's directory is one. An adapter uses
// it to tell whether a downstream account belongs to another SCIM user.
type UserNameDirectory interface {
	UserByUserName(ctx context.Context, userName string) (*User, error)
}

// UsersByEmailDirectory is a Directory that also lists every user having an
// email (case-insensitive, among any of the user's emails, or as the userName
// of a user without emails: what User.Email falls back to), active or not,
// oldest first; none is an empty result, not an error. The bridge's directory
// is one. An adapter whose downstream account is keyed by email (a Bimplus
// team member) uses it to find every SCIM user that shares that account.
type UsersByEmailDirectory interface {
	UsersByEmail(ctx context.Context, email string) ([]User, error)
}

// Deps is what the bridge hands every adapter when it opens it.
type Deps struct {
	Tenant    string
	Directory Directory
	// Client is the HTTP client to use; nil means a new client with the defaults
	// of NewHTTPClient.
	Client *http.Client
	// Logger already carries the tenant and connector fields: adapters must not
	// add them again (a JSON line would carry each key twice).
	Logger zerolog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Throttle paces the connector's requests; nil means a throttle of this
	// process alone made from the Base keys (the bridge hands one whose holds
	// every replica shares).
	Throttle Throttle
	// ObserveHTTP, when set, is told the outcome of every downstream HTTP request
	// (adapters hand it to their Client as Observe).
	ObserveHTTP HTTPObserver
}

// HTTPObserver is told, after each downstream HTTP request, the status of the
// answer (0 when none arrived: connection error, timeout) and how long it took
// until the response headers arrived.
type HTTPObserver func(status int, d time.Duration)

// Config is one adapter's configuration, decoded from the connector's YAML entry.
type Config interface {
	// Validate checks the configuration and returns every problem at once, each a
	// *FieldError naming the YAML key (errors.Join of them).
	Validate() error
	// Open validates and returns the adapter.
	Open(ctx context.Context, deps Deps) (Connector, error)
}

// Base holds the keys every connector entry has (DESIGN.md configuration contract).
// Adapters embed it with `yaml:",inline"`.
type Base struct {
	Name          string `yaml:"name"`
	Type          string `yaml:"type"`
	URL           string `yaml:"url"`
	Token         string `yaml:"token"`
	WebhookSecret string `yaml:"webhook_secret"`
	// MaxConcurrency is the ceiling of the adaptive concurrency limit (requests
	// under way at once per replica); 0 means DefaultMaxConcurrency.
	MaxConcurrency int `yaml:"max_concurrency"`
	// Rate is a fixed pace in requests per second, for an API with a published
	// limit; 0 means none: the pace is learned from the API's 429 answers.
	Rate float64 `yaml:"rate"`
	// RateLimit is the older name of Rate; set one of them.
	RateLimit float64 `yaml:"rate_limit"`
	// Burst is the burst of a fixed Rate; 0 means 1.
	Burst   int    `yaml:"burst"`
	Timeout string `yaml:"timeout"` // per request, Go duration; "" means DefaultTimeout
}

// FieldError is a configuration error tied to one YAML key.
type FieldError struct {
	Key string
	Msg string
}

func (e *FieldError) Error() string { return e.Key + ": " + e.Msg }

// CommonConfig is implemented by every Config that embeds Base.
type CommonConfig interface {
	Common() Base
}
