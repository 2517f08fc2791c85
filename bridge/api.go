package bridge

import (
	"context"
	"time"

	"github.com/scim-bridge/scim-bridge/bridge/admin"
	"github.com/scim-bridge/scim-bridge/bridge/reconcile"
	"github.com/scim-bridge/scim-bridge/bridge/scimapi"
	"github.com/scim-bridge/scim-bridge/bridge/webhook"
)

// The bridge's operator-facing types, defined by the packages that produce them.
type (
	// ReconcileOptions tune one reconciliation run (see reconcile.RunOptions).
	ReconcileOptions = reconcile.RunOptions
	// Plan is the outcome of a reconciliation run (see reconcile.Plan).
	Plan = reconcile.Plan
	// PlanItem is one change a run found necessary.
	PlanItem = reconcile.PlanItem
	// TenantStatus is the sync health of one tenant (see admin.TenantStatus).
	TenantStatus = admin.TenantStatus
	// ConnectorStatus is the sync health of one connector of a tenant.
	ConnectorStatus = admin.ConnectorStatus
	// SubjectError is a failing subject, for status output.
	SubjectError = admin.SubjectError
	// CredentialStatus is one configured credential of a tenant (name and
	// validity, never the secret).
	CredentialStatus = admin.CredentialStatus
)

// ErrTooManyDeletions is returned (with the plan) when a run would delete or
// deactivate more downstream objects than the tenant's deletion threshold and
// Force is not set.
var ErrTooManyDeletions = reconcile.ErrTooManyDeletions

// Schema URNs of the SCIM endpoint (RFC 7643 §8.7.1, RFC 7644 §3).
const (
	UserSchema       = scimapi.UserSchema
	GroupSchema      = scimapi.GroupSchema
	EnterpriseSchema = scimapi.EnterpriseSchema
	ListSchema       = scimapi.ListSchema
	PatchOpSchema    = scimapi.PatchOpSchema
	SearchSchema     = scimapi.SearchSchema
	SPConfigSchema   = scimapi.SPConfigSchema
	ErrorSchema      = scimapi.ErrorSchema
)

// SignatureHeader is the header a webhook's signature travels in.
const SignatureHeader = webhook.SignatureHeader

// Sign returns the SignatureHeader value for a webhook body at time t (for
// senders and tests).
func Sign(secret string, body []byte, t time.Time) string { return webhook.Sign(secret, body, t) }

// Reconcile runs one reconciliation of a tenant (see reconcile.Reconciler.Reconcile).
func (b *Bridge) Reconcile(ctx context.Context, tenantID string, opts ReconcileOptions) (*Plan, error) {
	return b.reconciler.Reconcile(ctx, tenantID, opts)
}

// ReconcileLocked is Reconcile under the tenant's reconcile lock (store.ErrLocked
// when another replica is running one).
func (b *Bridge) ReconcileLocked(ctx context.Context, tenantID string, opts ReconcileOptions) (*Plan, error) {
	return b.reconciler.ReconcileLocked(ctx, tenantID, opts)
}

// WaitRepaired waits until every subject p marked is synced or dead (true when
// all are synced) or ctx ends; see reconcile.Reconciler.WaitRepaired.
func (b *Bridge) WaitRepaired(ctx context.Context, p *Plan) bool {
	return b.reconciler.WaitRepaired(ctx, p)
}

// WaitReleased waits briefly until the tenants of plans hold no leased work.
func (b *Bridge) WaitReleased(ctx context.Context, plans []*Plan) {
	b.reconciler.WaitReleased(ctx, plans)
}

// Status reports the sync health of one tenant, or of all when tenantID is "".
func (b *Bridge) Status(ctx context.Context, tenantID string) ([]TenantStatus, error) {
	return b.admin.Status(ctx, tenantID)
}

// Replay re-queues dead subjects of a tenant's connector (all when subject is
// empty) and returns how many.
func (b *Bridge) Replay(ctx context.Context, tenantID, connector, subject string) (int, error) {
	return b.admin.Replay(ctx, tenantID, connector, subject)
}
