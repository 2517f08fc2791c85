package scimapi

import (
	"context"

	"github.com/scim-bridge/scim-bridge/bridge/audit"
	"github.com/scim-bridge/scim-bridge/bridge/auth"
	"github.com/scim-bridge/scim-bridge/filter"
	"github.com/scim-bridge/scim-bridge/store"
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

// noteWrite tells the audit trail which resource a write changed (its name
// when res is at hand) and, for a PATCH, the operations applied, so the trail
// never parses the request or the response again.
func noteWrite(ctx context.Context, kind store.Kind, id string, res *store.Resource, ops []filter.Operation) {
	name := ""
	if res != nil {
		name, _ = res.Attrs["userName"].(string)
		if kind == store.KindGroup {
			name, _ = res.Attrs["displayName"].(string)
		}
	}
	audit.NoteResource(ctx, string(kind), id, name)
	if ops != nil {
		audit.NotePatch(ctx, ops)
	}
}
