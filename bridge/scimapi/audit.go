package scimapi

import (
	"context"

	"github.com/scim-bridge/scim-bridge/bridge/audit"
	"github.com/scim-bridge/scim-bridge/bridge/auth"
)

// noteIdentity tells the audit trail which tenant and which of its credentials
// (by name, never the credential itself) made the request.
func noteIdentity(ctx context.Context, tenant string) {
	name := ""
	if id, ok := auth.FromContext(ctx); ok {
		name = id.Name
	}
	audit.NoteIdentity(ctx, tenant, name)
}
